"""A :class:`~paramcount.comparison.Diff` shown: the rows to show (grouped and folded), then a
table, the ``paramcount-diff/1`` JSON document, or Markdown.

Rows: each differing path at the most specific level (the node whose own weights or type
differ, the top of an added or removed subtree), or its ancestor at ``depth``; added (removed)
siblings below the root make one row ``q_proj.{lora_A,lora_B}`` with their counts summed;
numbered blocks with identical changes make one row ``layers.{0..31}.mlp`` ×32, whose counts
are those of one block, as paramcount's summary tables fold repeated blocks.

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

import json
from dataclasses import dataclass
from typing import Any

from paramcount.comparison import Change, Diff, dims
from paramcount.matching import Parts
from paramcount.model import Counts
from paramcount.report.text import escape_markdown, markdown_table, text_table

SCHEMA = "paramcount-diff/1"
_MAX_LISTED = 4  # tensors named in an added or removed row's details


@dataclass(frozen=True)
class DiffRow:
    """One row shown: a path, or a group of paths with identical changes (``times`` > 1).

    ``a`` and ``b`` are the counts of one of them (None on the side that lacks it); a folded
    row writes its numbered component as ``{0..31}``, grouped siblings as ``{lora_A,lora_B}``.
    """

    parts: Parts
    status: str
    type_a: str | None
    type_b: str | None
    a: Counts | None
    b: Counts | None
    details: tuple[str, ...]
    paths: tuple[str, ...]
    times: int = 1

    @property
    def path(self) -> str:
        return ".".join(self.parts) or "(root)"

    @property
    def delta(self) -> int:
        """B's parameters minus A's, for one of the ``times`` paths."""
        return (self.b[0] if self.b else 0) - (self.a[0] if self.a else 0)


# -- the rows shown --------------------------------------------------------------------------

def diff_rows(d: Diff, depth: int | None = None, everything: bool = False, fold: bool = True
              ) -> list[DiffRow]:
    """The rows of :meth:`Diff.rows <paramcount.comparison.Diff.rows>`."""
    index = {c.parts: i for i, c in enumerate(d.changes)}
    report = list(d._report(everything))
    if depth is None:
        rows = [_row(d, c, index[c.parts], c.status, own=True) for c in report]
    else:
        rows = _depth_rows(d, report, depth, index)
    return _fold(_group(rows)) if fold else rows


def _row(d: Diff, c: Change, i: int, status: str, own: bool, below: str = "") -> DiffRow:
    """A path's row: its own weights' counts (``own``) or its subtree's; an added or removed
    path lists its tensors."""
    a, b = c.a, c.b
    counts: tuple[Counts | None, Counts | None]
    if a is not None and b is not None:
        counts = (a.own, b.own) if own else (a.counts, b.counts)
        details = c.details + ((f"below: {below}",) if below else ())
    else:
        counts = (a.counts if a else None, b.counts if b else None)
        details = _tensors(d, c, i)
    return DiffRow(c.parts, status, a.type if a else None, b.type if b else None, *counts,
                   details, (c.path,))


def _tensors(d: Diff, c: Change, i: int) -> tuple[str, ...]:
    """The tensors of an added or removed subtree, named from its parent; their number when
    there are more than a few."""
    found: list[str] = []
    n = len(c.parts)
    for j in range(i, len(d.changes)):
        e = d.changes[j].a or d.changes[j].b
        if j > i and (not n or d.changes[j].parts[:n] != c.parts):
            break  # a subtree's paths are consecutive; the root's row is its own weights
        rel = ".".join(d.changes[j].parts[max(n - 1, 0):])
        found += [f"{rel}.{w.name} {dims(w)}".lstrip(".") for w in (e.weights if e else ())]
    return tuple(found) if len(found) <= _MAX_LISTED else (f"{len(found):,} tensors",)


def _depth_rows(d: Diff, report: list[Change], depth: int, index: dict[Parts, int]
                ) -> list[DiffRow]:
    """Each reported path's ancestor at ``depth`` (or itself, above it), with its subtree's
    counts and a tally of what differs below it."""
    below: dict[Parts, dict[str, int]] = {}
    for c in report:
        top = c.parts[:depth] if c.parts[:depth] in index else c.parts
        tally = below.setdefault(top, {})
        if top != c.parts and c.status != "unchanged":
            tally[c.status] = tally.get(c.status, 0) + 1
    rows = []
    for top, tally in below.items():
        c = d.changes[index[top]]
        said = ", ".join(f"{n} {s}" for s, n in tally.items())
        rows.append(_row(d, c, index[top], c.subtree_status, own=False, below=said))
    return rows


def _group(rows: list[DiffRow]) -> list[DiffRow]:
    """Consecutive added (or removed) siblings below the root, not numbered, as one row:
    ``q_proj.{lora_A,lora_B}``, with their counts summed."""
    out: list[DiffRow] = []
    run: list[DiffRow] = []
    for r in rows:
        if run and _siblings(run[0], r):
            run.append(r)
            continue
        out += _merge_siblings(run)
        run = [r]
    return out + _merge_siblings(run)


def _siblings(r: DiffRow, s: DiffRow) -> bool:
    # numbered blocks are left to folding: layers.{32..79}, not layers.{32,33,...}
    return (r.status == s.status and r.status in ("added", "removed") and len(r.parts) > 1
            and r.parts[:-1] == s.parts[:-1] and r.times == s.times == 1
            and not r.parts[-1].isdigit() and not s.parts[-1].isdigit())


def _merge_siblings(run: list[DiffRow]) -> list[DiffRow]:
    if len(run) < 2:
        return run
    names = [r.parts[-1] for r in run]
    shown = names if len(names) <= 8 else [*names[:7], f"…+{len(names) - 7}"]
    types = {r.type_a or r.type_b for r in run}
    a = _sum([r.a for r in run if r.a is not None])
    b = _sum([r.b for r in run if r.b is not None])
    details = tuple(t for r in run for t in r.details)
    tensors = sum(_tensor_count(r.details) for r in run)
    return [DiffRow((*run[0].parts[:-1], "{" + ",".join(shown) + "}"), run[0].status,
                   run[0].type_a if len(types) == 1 else None,
                   run[0].type_b if len(types) == 1 else None,
                   a if run[0].a is not None else None, b if run[0].b is not None else None,
                   details if tensors <= _MAX_LISTED else (f"{tensors:,} tensors",),
                   tuple(p for r in run for p in r.paths))]


def _tensor_count(details: tuple[str, ...]) -> int:
    """How many tensors :func:`_tensors` details stand for: one each, or "N tensors"."""
    return sum(int(t.split()[0].replace(",", "")) if t.endswith(" tensors") else 1
               for t in details)


def _sum(counts: list[Counts]) -> Counts:
    p, t, n, b = zip(*counts, strict=True) if counts else ((), (), (), ())
    return (sum(p), sum(t), sum(n), sum(b))


def _fold(rows: list[DiffRow]) -> list[DiffRow]:
    """Rows that differ only in one numbered component, with identical changes, as one:
    ``layers.{0..31}.mlp`` ×32; the rightmost numbered component first."""
    width = max((len(r.parts) for r in rows), default=0)
    for pos in reversed(range(width)):
        groups: dict[Any, list[DiffRow]] = {}
        for r in rows:
            numbered = pos < len(r.parts) and r.parts[pos].isdigit()
            key = (r.parts[:pos], r.parts[pos + 1:], r.status, r.type_a, r.type_b, r.a, r.b,
                   r.details, r.times) if numbered else id(r)
            groups.setdefault(key, []).append(r)
        rows = [_merge_numbered(group, pos) for group in groups.values()]
    return rows


def _merge_numbered(group: list[DiffRow], pos: int) -> DiffRow:
    if len(group) == 1:
        return group[0]
    first = group[0]
    parts = (*first.parts[:pos], "{" + _runs([int(r.parts[pos]) for r in group]) + "}",
             *first.parts[pos + 1:])
    return DiffRow(parts, first.status, first.type_a, first.type_b, first.a, first.b,
                   first.details, tuple(p for r in group for p in r.paths),
                   sum(r.times for r in group))


def _runs(numbers: list[int]) -> str:
    """``0..31`` for a run, commas between runs.

    >>> _runs([0, 1, 2, 3, 5, 7, 8])
    '0..3,5,7,8'
    """
    numbers = sorted(numbers)
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out += [f"{start}..{prev}"] if prev - start >= 2 else [str(i) for i in
                                                                range(start, prev + 1)]
        if n is not None:
            start = prev = n
    return ",".join(out)


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
    rows = diff_rows(d, depth, everything, fold)
    if fmt == "json":
        return json.dumps(to_dict(d, rows))
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
    table = text_table(HEADER, [[cells(d, r) for r in rows]], right={2, 3, 4}, rule="=",
                       frame=True)
    return "\n".join([_title(d), *table, *totals_lines(d)])


def _markdown(d: Diff, rows: list[DiffRow]) -> str:
    table = markdown_table(HEADER, [cells(d, r) for r in rows], right={2, 3, 4})
    return "\n".join([f"**{escape_markdown(_title(d))}**", "", *table, "",
                      *(f"- {escape_markdown(line)}" for line in totals_lines(d))])
