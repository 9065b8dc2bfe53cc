"""A GitHub-flavoured Markdown table, for READMEs and pull requests."""

from __future__ import annotations

from paramcount.model import Summary
from paramcount.report.columns import (
    NUMERIC,
    Column,
    all_cells,
    columns,
    totals_lines,
    view_rows,
)
from paramcount.report.text import escape_markdown, markdown_table
from paramcount.view import View


def render_markdown(summary: Summary, view: View) -> str:
    shown = columns(view)
    rows = []
    for row, c in zip(view_rows(summary, view), all_cells(summary, view), strict=True):
        c[Column.LAYER] = "&nbsp;&nbsp;" * (row.depth - 1) + c[Column.LAYER].lstrip()
        rows.append([c[col] for col in shown])
    right = {i for i, c in enumerate(shown) if c in NUMERIC}
    return "\n".join([f"**{escape_markdown(summary.name)}**", "",
                      *markdown_table([c.value for c in shown], rows, right), "",
                      *(f"- {escape_markdown(line)}" for line in totals_lines(summary, view))])
