"""A Keras-style summary table: plain aligned text, or a rich table on a terminal.

A table wider than the view's width wraps its layer column between words (a name too long for
the column alone is cut with "…" in rich, kept whole in plain text); a pipe has no width and
gets whole lines.
"""

from __future__ import annotations

from typing import Any

from paramcount.model import Summary
from paramcount.report.columns import NUMERIC, Column, all_cells, columns, totals_lines
from paramcount.report.text import text_table
from paramcount.view import View


def render_table(summary: Summary, view: View) -> str:
    if view.color:
        return _rich(summary, view)
    shown = columns(view)
    right = {i for i, c in enumerate(shown) if c in NUMERIC}
    rows = [[r[c] for c in shown] for r in all_cells(summary, view)]
    table = text_table([c.value for c in shown], [rows], right, rule="=", frame=True,
                       width=view.width, wrap=0)
    return "\n".join([f'Model: "{summary.name}"', *table, *totals_lines(summary, view)])


def rich_summary(summary: Summary, view: View) -> Any:
    """The summary as a rich renderable: the table, then the totals (``Summary.__rich__``)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f'Model: "{summary.name}"', title_justify="left")
    shown = columns(view)
    cells = all_cells(summary, view)
    # names wrap between words, a name too long for its column ending in "…"; the layer
    # column keeps room for its longest name as far as the other columns leave it; numbers
    # and shapes never wrap
    longest = max((len(w) for r in cells for w in r[Column.LAYER].split()), default=0)
    others = sum(max(len(c.value), *(len(r[c]) for r in cells)) for c in shown[1:])
    room = (view.width or 100) - others - 3 * len(shown) - 1  # rich's borders and padding
    for c in shown:
        table.add_column(c.value, overflow="ellipsis", no_wrap=c is not Column.LAYER,
                         justify="right" if c in NUMERIC else "left",
                         min_width=max(min(longest, room), 1) if c is Column.LAYER else None)
    for r in cells:
        table.add_row(*(escape(r[c]) for c in shown))
    return Group(table, *(Text(f" {line}") for line in totals_lines(summary, view)))


def _rich(summary: Summary, view: View) -> str:
    from rich.console import Console

    console = Console(width=view.width or 100, record=True, force_terminal=True)
    with console.capture() as capture:
        console.print(rich_summary(summary, view))
    return capture.get().rstrip("\n")
