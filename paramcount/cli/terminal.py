"""What the terminal asks for: rich's table, or plain aligned text."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO


def wants_rich(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to draw a rich table on ``stream``: on a terminal, yes; in a pipe or a file, no.

    ``NO_COLOR`` (https://no-color.org: any non-empty value) and ``TERM=dumb`` ask for plain
    text on a terminal too; ``FORCE_COLOR`` (any non-empty value) asks for rich in a pipe.
    ``NO_COLOR`` wins over ``FORCE_COLOR``.

    >>> import io
    >>> wants_rich(io.StringIO(), {}), wants_rich(io.StringIO(), {"FORCE_COLOR": "1"})
    (False, True)
    """
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())
