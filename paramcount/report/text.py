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

Cells = Sequence[str]


def text_table(head: Cells, groups: Sequence[Sequence[Cells]], right: Collection[int] = (),
               rule: str = "-", frame: bool = False) -> list[str]:
    """Lines of a table: the header, a rule, then each group of rows, a rule between groups.

    Columns are as wide as their widest cell, two spaces apart; the columns in ``right`` are
    right-aligned, the others left-aligned; trailing spaces are cut. Rules are as long as the
    header line. ``frame`` adds a rule above the header and below the last group (Keras's
    summary).
    """
    rows = [r for group in groups for r in group]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Cells) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    bar = rule * len(line(head))
    out = [bar] if frame else []
    out += [line(head), bar]
    for i, group in enumerate(groups):
        out += ([bar] if i else []) + [line(r) for r in group]
    return [*out, bar] if frame else out


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
