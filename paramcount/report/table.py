"""A Keras-style summary table: plain aligned text, or a rich table on a terminal; and the one
builder of rich tables, which diffs and memory estimates share.

A table wider than the view's width wraps its layer column between words (a name too long for
the column alone is cut with "…" in rich, kept whole in plain text); a pipe has no width and
gets whole lines.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from paramcount.model import Summary
from paramcount.report.columns import NUMERIC, Column, all_cells, columns, totals_lines
from paramcount.report.text import Cells, text_table
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
    shown = columns(view)
    rows = [[r[c] for c in shown] for r in all_cells(summary, view)]
    return rich_table(f'Model: "{summary.name}"', [c.value for c in shown], [rows],
                      right={i for i, c in enumerate(shown) if c in NUMERIC},
                      footer=totals_lines(summary, view),
                      wrap={i for i, c in enumerate(shown) if c is Column.LAYER},
                      width=view.width)


def rich_table(title: str, head: Cells, groups: Sequence[Sequence[Cells]],
               right: Collection[int] = (), footer: Sequence[str] = (),
               wrap: Collection[int] = (), width: int | None = None) -> Any:
    """A table as :func:`~paramcount.report.text.text_table` takes it, as a rich renderable:
    the titled table (a line between groups), then the ``footer`` lines. Every text is shown
    as it is, never read as rich markup. The columns in ``wrap`` wrap between words, a word
    too long for its column ending in "…"; the first of them keeps room for its longest word
    as far as the other columns, as wide as their cells, leave it in ``width``; the other
    columns never wrap.

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

    rows = [r for group in groups for r in group]
    first = min(wrap, default=None)
    room = None
    if first is not None:
        longest = max((len(w) for r in rows for w in r[first].split()), default=0)
        others = sum(max(len(c) for c in [head[i], *(r[i] for r in rows)])
                     for i in range(len(head)) if i != first)
        # rich's borders and padding: 3 characters a column and one more
        room = max(min(longest, (width or 100) - others - 3 * len(head) - 1), 1)
    table = Table(title=escape(title), title_justify="left")
    for i, name in enumerate(head):
        table.add_column(escape(name), overflow="ellipsis", no_wrap=i not in wrap,
                         justify="right" if i in right else "left",
                         min_width=room if i == first else None)
    for k, group in enumerate(groups):
        if k:
            table.add_section()
        for cells in group:
            table.add_row(*(escape(c) for c in cells))
    return Group(table, *(Text(f" {line}") for line in footer))


def _rich(summary: Summary, view: View) -> str:
    from rich.console import Console

    console = Console(width=view.width or 100, record=True, force_terminal=True)
    with console.capture() as capture:
        console.print(rich_summary(summary, view))
    return capture.get().rstrip("\n")
