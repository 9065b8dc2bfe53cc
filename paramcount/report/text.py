"""The one writer of aligned plain-text tables and the one of Markdown tables, shared by every
report (summaries, memory estimates, diffs): cells are strings already formatted; the writers
only pad, align, rule and escape.

>>> print("\\n".join(text_table(["name", "n"], [[["a", "1"], ["bb", "22"]], [["total", "23"]]],
...                             right={1})))
name    n
---------
a       1
bb     22
---------
total  23
>>> print("\\n".join(markdown_table(["name", "n"], [["a|b", "1"]], right={1})))
| name | n |
|:---|---:|
| a\\|b | 1 |
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from paramcount.errors import SpecError

Cells = Sequence[str]


def text_table(head: Cells, groups: Sequence[Sequence[Cells]], right: Collection[int] = (),
               rule: str = "-", frame: bool = False, width: int | None = None,
               wrap: int | None = None) -> list[str]:
    """Lines of a table: the header, a rule, then each group of rows, a rule between groups.

    Columns are as wide as their widest cell, two spaces apart; the columns in ``right`` are
    right-aligned, the others left-aligned; trailing spaces are cut. Rules are as long as the
    header line. ``frame`` adds a rule above the header and below the last group (Keras's
    summary). A table wider than ``width`` wraps column ``wrap`` between words, continued
    lines indented under the cell's own indentation; a word longer than the column stays whole.
    """
    rows = [r for group in groups for r in group]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    if width is not None and wrap is not None:
        spare = width - (sum(widths) + 2 * (len(widths) - 1))
        if spare < 0:
            widths[wrap] = max(len(head[wrap]), widths[wrap] + spare)

    def lines(cells: Cells) -> list[str]:
        parts = [_wrapped(c, widths[i]) if i == wrap else [c] for i, c in enumerate(cells)]
        out = []
        for k in range(max(len(p) for p in parts)):
            row = [p[k] if k < len(p) else "" for p in parts]
            out.append("  ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(row, widths, strict=True))
                                 ).rstrip())
        return out

    bar = rule * len(lines(head)[0])
    out = [bar] if frame else []
    out += [*lines(head), bar]
    for i, group in enumerate(groups):
        out += ([bar] if i else []) + [line for r in group for line in lines(r)]
    return [*out, bar] if frame else out


def _wrapped(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken between words only."""
    if len(text) <= width:
        return [text]
    indent = " " * (len(text) - len(text.lstrip(" ")))
    import textwrap

    return textwrap.wrap(text, width, initial_indent="", subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False,
                         drop_whitespace=True) if text.strip() else [text]


def escape_markdown(text: str) -> str:
    """A cell's text, safe inside a Markdown table: ``|`` escaped, line breaks as spaces."""
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(head: Cells, rows: Sequence[Cells], right: Collection[int] = ()
                   ) -> list[str]:
    """Lines of a GitHub-flavoured Markdown table; every cell and header is escaped."""
    def line(cells: Cells) -> str:
        return "| " + " | ".join(escape_markdown(c) for c in cells) + " |"

    align = "|" + "|".join("---:" if i in right else ":---" for i in range(len(head))) + "|"
    return [line(head), align, *(line(r) for r in rows)]


def json_text(obj: Any, indent: int | None = None) -> str:
    """``obj`` as strict JSON: a NaN or an infinity, which JSON has no word for, is one line
    (``json.dumps`` would write ``NaN``, which strict parsers refuse).

    >>> json_text({"a": 1})
    '{"a": 1}'
    """
    import json

    try:
        return json.dumps(obj, indent=indent, allow_nan=False)
    except ValueError:
        raise SpecError("the result holds a value JSON cannot write (NaN or infinity); no "
                        "JSON written") from None
