"""A Keras-style summary table: plain aligned text, or a rich table on a terminal."""

from __future__ import annotations

from typing import Any

from paramcount.model import Summary
from paramcount.report.columns import NUMERIC, Column, all_cells, columns, totals_lines
from paramcount.report.text import text_table


def render_table(summary: Summary, depth: int | None = None, rich: bool = False,
                 width: int = 100) -> str:
    if rich:
        return _rich(summary, depth, width)
    return _plain(summary, all_cells(summary, depth))


def _plain(summary: Summary, rows: list[dict[Column, str]]) -> str:
    shown = columns(summary)
    right = {i for i, c in enumerate(shown) if c in NUMERIC}
    table = text_table([c.value for c in shown], [[[r[c] for c in shown] for r in rows]],
                       right, rule="=", frame=True)
    return "\n".join([f'Model: "{summary.name}"', *table, *totals_lines(summary)])


def rich_summary(summary: Summary, depth: int | None = None) -> Any:
    """The summary as a rich renderable: the table, then the totals (``Summary.__rich__``)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f'Model: "{summary.name}"', title_justify="left")
    shown = columns(summary)
    for c in shown:
        table.add_column(c.value, overflow="fold" if c is Column.LAYER else "ellipsis",
                         justify="right" if c in NUMERIC else "left")
    for r in all_cells(summary, depth):
        table.add_row(*(escape(r[c]) for c in shown))
    return Group(table, *(Text(f" {line}") for line in totals_lines(summary)))


def _rich(summary: Summary, depth: int | None, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, force_terminal=True)
    with console.capture() as capture:
        console.print(rich_summary(summary, depth))
    return capture.get().rstrip("\n")
