"""How a memory result prints itself: the table ``paramcount memory`` prints, an HTML table in
Jupyter, a rich table for ``rich.print``. The renderers (:mod:`paramcount.report.memory`) are
imported when asked: the one arrow that points up, from a fact to its views."""

from __future__ import annotations

from typing import Any


class PrintsAsTable:
    """Print hooks shared by :class:`~paramcount.memory.MemoryEstimate` and
    :class:`~paramcount.memory.EstimatorTable`."""

    def __str__(self) -> str:
        """The table ``paramcount memory`` prints."""
        from paramcount.report.memory import render_table

        return render_table(self)  # type: ignore[arg-type]

    def _repr_html_(self) -> str:
        """The table as HTML, which Jupyter shows for the result in a cell."""
        from paramcount.report.memory import render_html

        return render_html(self)  # type: ignore[arg-type]

    def __rich__(self) -> Any:
        """The table as a rich renderable (``rich.print(result)``)."""
        from paramcount.report.memory import rich_memory

        return rich_memory(self)  # type: ignore[arg-type]
