"""A Keras-style summary table: plain aligned text, or a rich table on a terminal; and the one
builder of rich tables, which diffs and memory estimates share."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from paramcount.model import Summary
from paramcount.report.columns import NUMERIC, Column, all_cells, columns, totals_lines
from paramcount.report.text import Cells, text_table


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
    shown = columns(summary)
    rows = [[r[c] for c in shown] for r in all_cells(summary, depth)]
    return rich_table(f'Model: "{summary.name}"', [c.value for c in shown], [rows],
                      right={i for i, c in enumerate(shown) if c in NUMERIC},
                      footer=totals_lines(summary),
                      fold={i for i, c in enumerate(shown) if c is Column.LAYER})


def rich_table(title: str, head: Cells, groups: Sequence[Sequence[Cells]],
               right: Collection[int] = (), footer: Sequence[str] = (),
               fold: Collection[int] = ()) -> Any:
    """A table as :func:`~paramcount.report.text.text_table` takes it, as a rich renderable:
    the titled table (a line between groups), then the ``footer`` lines. Every text is shown
    as it is, never read as rich markup; the columns in ``fold`` wrap a long cell, the others
    cut it short.

    >>> from rich.console import Console
    >>> console = Console(width=40, color_system=None)
    >>> with console.capture() as out:
    ...     console.print(rich_table("T", ["name", "n"], [[["[b]a", "1"]]], right={1}))
    >>> "[b]a" in out.get()
    True
    """
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table(title=escape(title), title_justify="left")
    for i, name in enumerate(head):
        table.add_column(escape(name), overflow="fold" if i in fold else "ellipsis",
                         justify="right" if i in right else "left")
    for k, group in enumerate(groups):
        if k:
            table.add_section()
        for cells in group:
            table.add_row(*(escape(c) for c in cells))
    return Group(table, *(Text(f" {line}") for line in footer))


def _rich(summary: Summary, depth: int | None, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, force_terminal=True)
    with console.capture() as capture:
        console.print(rich_summary(summary, depth))
    return capture.get().rstrip("\n")
