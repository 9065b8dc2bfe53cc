"""A scan's rows (:mod:`paramcount.scanning`) as CSV, JSON lines or a table.

CSV and JSON lines are written a row at a time (a header line first for CSV), so a scan of
thousands of sources streams; counts are exact integers, an unknown one is an empty CSV cell
or a JSON ``null``. The table needs every row to size its columns: it is for a terminal.

>>> from paramcount.scanning import ScanRow
>>> row = ScanRow("zoo:x", "ok", 10, 10, None, "float32", "", "Dense", 0, 0.5)
>>> csv_header()
'source,status,total_params,active_params,stored_bytes,dtype,quantization,architecture,bytes_read,seconds,error'
>>> csv_line(row)
'zoo:x,ok,10,10,,float32,,Dense,0,0.5,'
>>> jsonl_line(row)[:40]
'{"source": "zoo:x", "status": "ok", "tot'
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from paramcount.report.text import json_text, text_table
from paramcount.scanning import COLUMNS, ScanRow
from paramcount.units import fmt_binary

FORMATS = ("table", "csv", "jsonl")
#: the table's headings, by column
HEADINGS = {"source": "Source", "status": "Status", "total_params": "Params",
            "active_params": "Active", "stored_bytes": "Stored", "dtype": "Dtype",
            "quantization": "Quant", "architecture": "Architecture", "bytes_read": "Read",
            "seconds": "Seconds", "error": "Error"}
_NUMERIC = ("total_params", "active_params", "stored_bytes", "bytes_read", "seconds")


def csv_header() -> str:
    return _csv([list(COLUMNS)])


def csv_line(row: ScanRow) -> str:
    return _csv([["" if v is None else v for v in row.to_dict().values()]])


def _csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().rstrip("\n")


def jsonl_line(row: ScanRow) -> str:
    return json_text(row.to_dict())


def table_cells(row: ScanRow) -> list[str]:
    """A row's cells as the table shows them: counts with separators, sizes in binary units."""
    def count(n: int | None) -> str:
        return "" if n is None else f"{n:,}"

    def size(n: int | None) -> str:
        return "" if n is None else fmt_binary(n)

    return [row.source, row.status, count(row.total_params), count(row.active_params),
            size(row.stored_bytes), row.dtype, row.quantization, row.architecture,
            size(row.bytes_read) if row.bytes_read else "", f"{row.seconds:.2f}", row.error]


def render_table(rows: Sequence[ScanRow], footer: Sequence[str] = (), color: bool = False,
                 width: int | None = None) -> Any:
    """Every row in one table, then the ``footer`` lines: plain text, or a rich renderable
    (``color``)."""
    head = [HEADINGS[c] for c in COLUMNS]
    cells = [table_cells(r) for r in rows]
    right = {i for i, c in enumerate(COLUMNS) if c in _NUMERIC}
    if color:
        from paramcount.report.table import rich_table

        return rich_table("paramcount scan", head, [cells], right=right, footer=footer,
                          wrap={COLUMNS.index("error")}, width=width)
    lines = text_table(head, [cells], right, width=width, wrap=COLUMNS.index("error"))
    return "\n".join([*lines, *footer])
