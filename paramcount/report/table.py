"""A Keras-style summary table: plain aligned text, or a rich table on a terminal."""

from __future__ import annotations

from typing import Any

from paramcount.model import Summary
from paramcount.report.columns import Column, cells, totals_lines


def render_table(summary: Summary, depth: int | None = None, rich: bool = False,
                 width: int = 100) -> str:
    if rich:
        return _rich(summary, depth, width)
    return _plain(summary, [cells(r) for r in summary.rows(depth)])


def _plain(summary: Summary, rows: list[dict[Column, str]]) -> str:
    columns = [Column.LAYER, Column.OUTPUT, Column.PARAMS]
    widths = {c: max([len(c.value)] + [len(r[c]) for r in rows]) for c in columns}

    def line(values: dict[Column, str]) -> str:
        parts = [values[c].rjust(widths[c]) if c is Column.PARAMS else values[c].ljust(widths[c])
                 for c in columns]
        return "  ".join(parts).rstrip()

    rule = "=" * len(line({c: c.value for c in columns}))
    out = [f'Model: "{summary.name}"', rule, line({c: c.value for c in columns}), rule]
    out += [line(r) for r in rows]
    out += [rule, *totals_lines(summary)]
    return "\n".join(out)


def rich_summary(summary: Summary, depth: int | None = None) -> Any:
    """The summary as a rich renderable: the table, then the totals (``Summary.__rich__``)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f'Model: "{summary.name}"', title_justify="left")
    table.add_column(Column.LAYER.value, overflow="fold")
    table.add_column(Column.OUTPUT.value)
    table.add_column(Column.PARAMS.value, justify="right")
    for r in (cells(row) for row in summary.rows(depth)):
        table.add_row(escape(r[Column.LAYER]), r[Column.OUTPUT], r[Column.PARAMS])
    return Group(table, *(Text(f" {line}") for line in totals_lines(summary)))


def _rich(summary: Summary, depth: int | None, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, force_terminal=True)
    with console.capture() as capture:
        console.print(rich_summary(summary, depth))
    return capture.get().rstrip("\n")
