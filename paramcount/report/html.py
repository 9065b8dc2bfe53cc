"""The summary as one self-contained HTML table, which Jupyter shows for a Summary in a cell.

The columns are the text table's (layer (type), output shape, param #), nested rows are indented,
a row standing for a group of identical blocks is marked ×N, and the totals follow the table.
Every name is escaped. The only style is a small inline sheet scoped to the table's class: text
inherits the notebook's colour and lines and stripes are translucent grey, so the table reads in
light and dark themes; nothing is fetched.
"""

from __future__ import annotations

from dataclasses import replace
from html import escape

from paramcount.model import Row, Summary
from paramcount.report.columns import (
    NUMERIC,
    Column,
    all_cells,
    columns,
    layer_cell,
    totals_lines,
    view_rows,
)
from paramcount.view import View

CLASS = "paramcount-summary"
# JupyterLab right-aligns and stripes table cells with selectors of the same weight as
# ".x td": one more element in each selector wins without !important.
_CSS = f"""
div.{CLASS} {{ color: inherit; font-family: var(--jp-code-font-family, monospace);
  font-size: 0.9em; }}
div.{CLASS} table {{ border-collapse: collapse; border: none; margin: 0; }}
div.{CLASS} table caption {{ text-align: left; font-weight: bold; padding: 0 0 0.3em; }}
div.{CLASS} table th, div.{CLASS} table td {{ text-align: left; padding: 0.15em 0.9em;
  border: none; background: transparent; color: inherit; white-space: pre; }}
div.{CLASS} table thead th {{ border-bottom: 1px solid rgba(128, 128, 128, 0.6); }}
div.{CLASS} table tbody tr:nth-child(even) {{ background: rgba(128, 128, 128, 0.08); }}
div.{CLASS} table tbody tr:nth-child(odd) {{ background: transparent; }}
div.{CLASS} table .num {{ text-align: right; font-variant-numeric: tabular-nums; }}
div.{CLASS} table .times {{ font-weight: bold; opacity: 0.75; }}
div.{CLASS} ul.totals {{ list-style: none; margin: 0.3em 0 0; padding: 0.3em 0 0;
  border-top: 1px solid rgba(128, 128, 128, 0.6); }}
div.{CLASS} ul.totals li {{ margin: 0; }}
"""


def render_html(summary: Summary, view: View) -> str:
    """The summary as an HTML table with its totals below (``Summary._repr_html_``).

    >>> import paramcount
    >>> html = render_html(paramcount.layer("Dense", units=2).count((4,)), View())
    >>> "<td class=\\"num\\">10</td>" in html, "Total params: 10" in html
    (True, True)
    """
    shown = columns(view)
    head = "".join(f'<th{_num(c)}>{escape(c.value)}</th>' for c in shown)
    rows = view_rows(summary, view)
    cells = all_cells(summary, view)
    body = "\n".join(_row(r, c, shown) for r, c in zip(rows, cells, strict=True))
    totals = "\n".join(f"<li>{escape(line)}</li>" for line in totals_lines(summary, view))
    return (f'<div class="{CLASS}">\n<style>{_CSS}</style>\n<table>\n'
            f'<caption>Model: &quot;{escape(summary.name)}&quot;</caption>\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n"
            f'<ul class="totals">\n{totals}\n</ul>\n</div>')


def _num(column: Column) -> str:
    return ' class="num"' if column in NUMERIC else ""


def _row(row: Row, cells: dict[Column, str], shown: list[Column]) -> str:
    """One ``<tr>``: the label indented by depth, ``×N`` in its own span on a folded row."""
    label = escape(layer_cell(replace(row, folded=False), indent=""))
    if row.folded:
        label += f' <span class="times">×{row.times}</span>'
    indent = 0.9 + 1.2 * (row.depth - 1)
    kind = ' class="folded"' if row.folded else ""
    rest = "".join(f"<td{_num(c)}>{escape(cells[c])}</td>" for c in shown[1:])
    return (f'<tr{kind} data-depth="{row.depth}"><td style="padding-left: {indent:g}em">'
            f"{label}</td>{rest}</tr>")
