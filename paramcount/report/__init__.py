"""Ways out: every renderer takes a :class:`~paramcount.model.Summary` and returns text.

Statistics live in the model (counts, rows); formatting lives here; nothing here prints.
"""

from __future__ import annotations

from paramcount.errors import SpecError
from paramcount.model import Summary

FORMATS = ("table", "json", "csv", "markdown")


def render(summary: Summary, fmt: str = "table", depth: int | None = None,
           rich: bool = False, width: int = 100) -> str:
    """Render ``summary`` in one of :data:`FORMATS`."""
    if fmt == "table":
        from paramcount.report.table import render_table

        return render_table(summary, depth=depth, rich=rich, width=width)
    if fmt == "json":
        from paramcount.report.json import render_json

        return render_json(summary, depth=depth)
    if fmt == "csv":
        from paramcount.report.csv import render_csv

        return render_csv(summary, depth=depth)
    if fmt == "markdown":
        from paramcount.report.markdown import render_markdown

        return render_markdown(summary, depth=depth)
    raise SpecError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
