"""A :class:`~paramcount.comparison.Diff` written out: its rows (which rows, grouped and folded,
is :mod:`paramcount.comparison.rows`'s choice) as a table, the ``paramcount-diff/1`` JSON
document, Markdown, HTML for Jupyter or a rich table; each with the totals below.

The JSON document: ``schema`` ("paramcount-diff/1"), ``a`` and ``b`` (``name``, ``source``,
``total_params``, ``trainable_params``, ``non_trainable_params``, ``buffers``), ``delta`` (the
same four counts, B minus A), ``ratio`` (B's total over A's, null when A has none),
``percent`` (the growth of the total in percent, null when A has none), ``changed``,
``counts`` (leaf-level rows ``added``, ``removed``, ``changed``, ``unchanged``), ``prefix``
(``a``, ``b``: the leading path stripped from each side, or null), ``types_compared``,
``notes`` and ``rows``: ``path``, ``paths`` (every path the row stands for), ``times``,
``status``, ``type_a``, ``type_b``, ``a`` and ``b`` (the four counts of one path, or null on the
side that lacks it), ``delta`` and ``details``. Counts are JSON integers.
"""

from __future__ import annotations

from typing import Any

from paramcount.comparison.compare import Diff
from paramcount.comparison.rows import DiffRow
from paramcount.report.html import html_table
from paramcount.report.table import rich_table
from paramcount.report.text import escape_markdown, json_text, markdown_table, text_table
from paramcount.tree import Counts

SCHEMA = "paramcount-diff/1"


# -- table, JSON, Markdown -------------------------------------------------------------------

FORMATS = ("table", "json", "markdown")


def render_diff(d: Diff, fmt: str = "table", depth: int | None = None, everything: bool = False,
                fold: bool = True) -> str:
    """Render ``d`` in one of :data:`FORMATS`; ``everything`` shows unchanged rows too.

    >>> from paramcount.comparison import diff
    >>> a = {"input_shape": [4], "layers": [{"Dense": {"units": 2, "name": "fc"}}]}
    >>> print(render_diff(diff(a, a)).splitlines()[-1])
    No differences: 1 row unchanged
    """
    rows = d.rows(depth, everything, fold)
    if fmt == "json":
        return json_text(to_dict(d, rows))
    if fmt == "markdown":
        return _markdown(d, rows)
    if fmt == "table":
        return _table(d, rows)
    from paramcount.errors import SpecError

    raise SpecError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def to_dict(d: Diff, rows: list[DiffRow]) -> dict[str, Any]:
    """The ``paramcount-diff/1`` document (see the module's docstring)."""
    a, b = d.a.totals[0], d.b.totals[0]
    return {
        "schema": SCHEMA,
        "a": {"name": d.a.name, "source": d.a.source, **_counts(d.a.totals)},
        "b": {"name": d.b.name, "source": d.b.source, **_counts(d.b.totals)},
        "delta": _counts(d.delta),
        "ratio": d.ratio,
        "percent": (b - a) * 100 / a if a else None,
        "changed": d.changed,
        "counts": d.counts(),
        "prefix": {"a": ".".join(d.prefix[0]) or None, "b": ".".join(d.prefix[1]) or None},
        "types_compared": d.types_compared,
        "notes": list(d.notes),
        "rows": [{"path": r.path, "paths": list(r.paths), "times": r.times, "status": r.status,
                  "type_a": r.type_a, "type_b": r.type_b,
                  "a": None if r.a is None else _counts(r.a),
                  "b": None if r.b is None else _counts(r.b),
                  "delta": r.delta, "details": list(r.details)} for r in rows],
    }


def _counts(c: Counts) -> dict[str, int]:
    return {"total_params": c[0], "trainable_params": c[1], "non_trainable_params": c[2],
        "buffers": c[3]}


HEADER = ("Status", "Path (type)", "A", "B", "Δ", "Details")
_RIGHT = {2, 3, 4}  # the counts


def cells(d: Diff, r: DiffRow) -> tuple[str, ...]:
    """The text of a row's cells, in :data:`HEADER`'s order."""
    label = r.path + (f" ({t})" if (t := _type(d, r)) else "")
    label += f" ×{r.times}" if r.times > 1 else ""
    return (r.status, label, _n(r.a), _n(r.b), f"{r.delta:+,}" if r.delta else "0",
            "; ".join(r.details))


def _type(d: Diff, r: DiffRow) -> str:
    if r.type_a and r.type_b and r.type_a != r.type_b:
        if d.types_compared:
            return f"{r.type_a} → {r.type_b}"
        return r.type_b if d.a.stored else r.type_a  # the described side's type
    return r.type_a or r.type_b or ""


def _n(c: Counts | None) -> str:
    return "-" if c is None else f"{c[0]:,}"


def totals_lines(d: Diff) -> list[str]:
    """The footer: each total from A to B with its change, the row counts and the notes."""
    (a, at, an, ab), (b, bt, bn, bb) = d.a.totals, d.b.totals
    growth = f", {(b - a) * 100 / a:+.2f}%, B/A {b / a:.4f}" if a else ""
    lines = [f"Total params: {a:,} → {b:,} ({b - a:+,}{growth})",
             f"Trainable params: {at:,} → {bt:,} ({bt - at:+,})",
             f"Non-trainable params: {an:,} → {bn:,} ({bn - an:+,})"]
    if ab or bb:
        lines.append(f"Buffers (not parameters): {ab:,} → {bb:,} ({bb - ab:+,})")
    counts = d.counts()
    if not d.changed:
        n = counts["unchanged"]
        lines.append(f"No differences: {n} row{'s' if n != 1 else ''} unchanged")
    else:
        lines.append("Rows: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return lines + [f"Note: {note}" for note in d.notes]


def _title(d: Diff) -> str:
    return f'Diff: A "{d.a.name}" ({d.a.source}) → B "{d.b.name}" ({d.b.source})'


def _table(d: Diff, rows: list[DiffRow]) -> str:
    table = text_table(HEADER, [[cells(d, r) for r in rows]], right=_RIGHT, rule="=",
                       frame=True)
    return "\n".join([_title(d), *table, *totals_lines(d)])


def _markdown(d: Diff, rows: list[DiffRow]) -> str:
    table = markdown_table(HEADER, [cells(d, r) for r in rows], right=_RIGHT)
    return "\n".join([f"**{escape_markdown(_title(d))}**", "", *table, "",
                      *(f"- {escape_markdown(line)}" for line in totals_lines(d))])


# -- in a notebook, on a terminal ------------------------------------------------------------

def render_html(d: Diff, depth: int | None = None, everything: bool = False, fold: bool = True
                ) -> str:
    """The table in HTML, the totals below (``Diff._repr_html_``); every name escaped."""
    rows = [cells(d, r) for r in d.rows(depth, everything, fold)]
    return html_table(_title(d), HEADER, [rows], _RIGHT, totals_lines(d), kind="diff")


def rich_diff(d: Diff, depth: int | None = None, everything: bool = False, fold: bool = True
              ) -> Any:
    """The table as a rich renderable, the totals below (``Diff.__rich__``)."""
    rows = [cells(d, r) for r in d.rows(depth, everything, fold)]
    return rich_table(_title(d), HEADER, [rows], _RIGHT, totals_lines(d), wrap={1, 5})
