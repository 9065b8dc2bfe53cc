"""A Keras-style summary table: plain aligned text, or a rich table on a terminal."""

from __future__ import annotations

from paramcount.model import Summary
from paramcount.report.columns import Column, cells, totals_lines


def render_table(summary: Summary, depth: int | None = None, rich: bool = False,
                 width: int = 100) -> str:
    rows = [cells(r) for r in summary.rows(depth)]
    if rich:
        return _rich(summary, rows, width)
    return _plain(summary, rows)


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


def _rich(summary: Summary, rows: list[dict[Column, str]], width: int) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f'Model: "{summary.name}"', title_justify="left")
    table.add_column(Column.LAYER.value, overflow="fold")
    table.add_column(Column.OUTPUT.value)
    table.add_column(Column.PARAMS.value, justify="right")
    for r in rows:
        table.add_row(escape(r[Column.LAYER]), r[Column.OUTPUT], r[Column.PARAMS])
    console = Console(width=width, record=True, force_terminal=True)
    with console.capture() as capture:
        console.print(table)
        for text in totals_lines(summary):
            console.print(f" {escape(text)}", highlight=False)
    return capture.get().rstrip("\n")
