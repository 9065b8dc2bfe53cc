"""Ways out: every renderer takes a :class:`~paramcount.model.Summary` and a
:class:`~paramcount.view.View`, and returns text.

Statistics live beside the model (counts, rows, FLOPs per token); formatting lives here; nothing
here prints.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from paramcount.errors import SpecError

if TYPE_CHECKING:
    from paramcount.model import Summary
    from paramcount.view import View

#: format -> (module, function) of its renderer
RENDERERS = {
    "table": ("table", "render_table"),
    "json": ("json", "render_json"),
    "csv": ("csv", "render_csv"),
    "markdown": ("markdown", "render_markdown"),
    "html": ("html", "render_html"),
    "explain": ("explain", "render_explain"),
}
#: the formats ``--format`` offers (``--explain`` and notebooks ask for the others)
FORMATS = ("table", "json", "csv", "markdown", "html")


def render(summary: Summary, fmt: str = "table", view: View | None = None) -> str:
    """Render ``summary`` in one of :data:`RENDERERS`' formats, as ``view`` says (default:
    the summary's own view)."""
    if fmt not in RENDERERS:
        raise SpecError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    from paramcount.tree import counted

    module, function = RENDERERS[fmt]
    with counted(summary.root):  # a renderer asks every row and its parents for counts
        text: str = getattr(import_module(f"paramcount.report.{module}"), function)(
            summary, view or summary.view)
    return text
