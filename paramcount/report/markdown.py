"""A GitHub-flavoured Markdown table, for READMEs and pull requests."""

from __future__ import annotations

from paramcount.model import Summary
from paramcount.report.columns import NUMERIC, Column, all_cells, columns, totals_lines


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(summary: Summary, depth: int | None = None) -> str:
    shown = columns(summary)
    out = [f"**{_escape(summary.name)}**", "",
           "| " + " | ".join(c.value for c in shown) + " |",
           "|" + "|".join("---:" if c in NUMERIC else ":---" for c in shown) + "|"]
    for row, c in zip(summary.rows(depth), all_cells(summary, depth), strict=True):
        indent = "&nbsp;&nbsp;" * (row.depth - 1)
        c[Column.LAYER] = indent + c[Column.LAYER].lstrip()
        out.append("| " + " | ".join(_escape(c[col]) for col in shown) + " |")
    out.append("")
    out += [f"- {line}" for line in totals_lines(summary)]
    return "\n".join(out)
