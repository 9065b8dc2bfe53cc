"""Self-contained HTML tables, which Jupyter shows for a summary, a diff or a memory estimate in
a cell: one writer of the container, its style and its cells, and the summary's rows on it.

The summary's columns are the text table's (layer (type), output shape, param #), nested rows
are indented, a row standing for a group of identical blocks is marked ×N, and the totals follow
the table. Every text is escaped. The only style is a small inline sheet scoped to the
container's class (``paramcount-summary``, ``paramcount-diff``, ...): text inherits the
notebook's colour and lines and stripes are translucent grey, so the table reads in light and
dark themes; nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from html import escape

from paramcount.model import Summary
from paramcount.report.columns import (
    NUMERIC,
    Column,
    all_cells,
    columns,
    layer_cell,
    totals_lines,
    view_rows,
)
from paramcount.report.text import Cells
from paramcount.tree import Row
from paramcount.view import View


def _css(cls: str) -> str:
    # JupyterLab right-aligns and stripes table cells with selectors of the same weight as
    # ".x td": one more element in each selector wins without !important.
    return f"""
div.{cls} {{ color: inherit; font-family: var(--jp-code-font-family, monospace);
  font-size: 0.9em; }}
div.{cls} table {{ border-collapse: collapse; border: none; margin: 0; }}
div.{cls} table caption {{ text-align: left; font-weight: bold; padding: 0 0 0.3em; }}
div.{cls} table th, div.{cls} table td {{ text-align: left; padding: 0.15em 0.9em;
  border: none; background: transparent; color: inherit; white-space: pre; }}
div.{cls} table thead th {{ border-bottom: 1px solid rgba(128, 128, 128, 0.6); }}
div.{cls} table tbody + tbody tr:first-child td {{
  border-top: 1px solid rgba(128, 128, 128, 0.6); }}
div.{cls} table tbody tr:nth-child(even) {{ background: rgba(128, 128, 128, 0.08); }}
div.{cls} table tbody tr:nth-child(odd) {{ background: transparent; }}
div.{cls} table .num {{ text-align: right; font-variant-numeric: tabular-nums; }}
div.{cls} table .times {{ font-weight: bold; opacity: 0.75; }}
div.{cls} ul.totals {{ list-style: none; margin: 0.3em 0 0; padding: 0.3em 0 0;
  border-top: 1px solid rgba(128, 128, 128, 0.6); }}
div.{cls} ul.totals li {{ margin: 0; }}
"""


def html_table(caption: str, head: Cells, groups: Sequence[Sequence[Cells]],
               right: Collection[int] = (), footer: Sequence[str] = (), kind: str = "table"
               ) -> str:
    """A table as :func:`~paramcount.report.text.text_table` takes it, in HTML: the caption
    (each of its lines), the header, each group of rows in its own ``<tbody>`` (a rule between
    groups), then the ``footer`` lines; every text escaped, the style scoped to the class
    ``paramcount-{kind}``.

    >>> page = html_table("T", ["name", "n"], [[["a<b", "1"]]], right={1}, footer=["total 1"])
    >>> page.split("<tbody>")[1].split("</tbody>")[0].strip()
    '<tr><td>a&lt;b</td><td class="num">1</td></tr>'
    """
    body = [[f"<tr>{_cells(row, right, 'td')}</tr>" for row in group] for group in groups]
    return frame(kind, caption, _cells(head, right, "th"), body, footer)


def _cells(cells: Cells, right: Collection[int], tag: str) -> str:
    return "".join(f'<{tag}{_NUM if i in right else ""}>{escape(c)}</{tag}>'
                   for i, c in enumerate(cells))


_NUM = ' class="num"'


def frame(kind: str, caption: str, head: str, body: Sequence[Sequence[str]],
          footer: Sequence[str]) -> str:
    """The container every HTML table shares: ``head`` and ``body`` are ``<th>`` cells and
    ``<tr>`` rows already written (in groups); the caption and footer lines are escaped here."""
    cls = f"paramcount-{kind}"
    title = "<br>".join(escape(line) for line in caption.split("\n"))
    groups = "\n".join("\n".join(["<tbody>", *rows, "</tbody>"]) for rows in body)
    totals = "\n".join(f"<li>{escape(line)}</li>" for line in footer)
    return (f'<div class="{cls}">\n<style>{_css(cls)}</style>\n<table>\n'
            f"<caption>{title}</caption>\n<thead><tr>{head}</tr></thead>\n{groups}\n</table>\n"
            + (f'<ul class="totals">\n{totals}\n</ul>\n' if footer else "") + "</div>")


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
    body = [_row(r, c, shown) for r, c in zip(rows, cells, strict=True)]
    return frame("summary", f'Model: "{summary.name}"', head, [body],
                 totals_lines(summary, view))


def _num(column: Column) -> str:
    return _NUM if column in NUMERIC else ""


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
