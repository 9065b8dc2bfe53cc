"""A GitHub-flavoured Markdown table, for READMEs and pull requests."""

from __future__ import annotations

from paramcount.model import Summary
from paramcount.report.columns import Column, cells, totals_lines


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(summary: Summary, depth: int | None = None) -> str:
    columns = [Column.LAYER, Column.OUTPUT, Column.PARAMS]
    out = [f"**{_escape(summary.name)}**", "",
           "| " + " | ".join(c.value for c in columns) + " |",
           "|" + "|".join([":---", ":---", "---:"]) + "|"]
    for row in summary.rows(depth):
        c = cells(row)
        name = c[Column.LAYER].lstrip()
        indent = "&nbsp;&nbsp;" * (row.depth - 1)
        out.append(f"| {indent}{_escape(name)} | {c[Column.OUTPUT]} | {c[Column.PARAMS]} |")
    out.append("")
    out += [f"- {line}" for line in totals_lines(summary)]
    return "\n".join(out)
