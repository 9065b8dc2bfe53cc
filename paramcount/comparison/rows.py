"""The rows a :class:`~paramcount.comparison.Diff` shows: which paths, grouped and folded.

Each differing path at the most specific level (the node whose own weights or type differ, the
top of an added or removed subtree), or its ancestor at ``depth``; added (removed) siblings
below the root make one row ``q_proj.{lora_A,lora_B}`` with their counts summed; numbered
blocks with identical changes make one row ``layers.{0..31}.mlp`` ×32, whose counts are those
of one block, as paramcount's summary tables fold repeated blocks. Which rows to show is
decided here, beside the comparison; :mod:`paramcount.report.diff` only writes them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paramcount.comparison.changes import Change, dims, reported
from paramcount.comparison.matching import Parts
from paramcount.tree import Counts

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


def diff_rows(changes: list[Change], depth: int | None = None, everything: bool = False,
              fold: bool = True) -> list[DiffRow]:
    """The rows of :meth:`Diff.rows <paramcount.comparison.Diff.rows>`, from its changes."""
    index = {c.parts: i for i, c in enumerate(changes)}
    report = list(reported(changes, everything))
    if depth is None:
        rows = [_row(changes, c, index[c.parts], c.status, own=True) for c in report]
    else:
        rows = _depth_rows(changes, report, depth, index)
    return _fold(_group(rows)) if fold else rows


def _row(changes: list[Change], c: Change, i: int, status: str, own: bool, below: str = ""
         ) -> DiffRow:
    """A path's row: its own weights' counts (``own``) or its subtree's; an added or removed
    path lists its tensors."""
    a, b = c.a, c.b
    counts: tuple[Counts | None, Counts | None]
    if a is not None and b is not None:
        counts = (a.own, b.own) if own else (a.counts, b.counts)
        details = c.details + ((f"below: {below}",) if below else ())
    else:
        counts = (a.counts if a else None, b.counts if b else None)
        details = _tensors(changes, c, i)
    return DiffRow(c.parts, status, a.type if a else None, b.type if b else None, *counts,
                   details, (c.path,))


def _tensors(changes: list[Change], c: Change, i: int) -> tuple[str, ...]:
    """The tensors of an added or removed subtree, named from its parent; their number when
    there are more than a few."""
    found: list[str] = []
    n = len(c.parts)
    for j in range(i, len(changes)):
        e = changes[j].a or changes[j].b
        if j > i and (not n or changes[j].parts[:n] != c.parts):
            break  # a subtree's paths are consecutive; the root's row is its own weights
        rel = ".".join(changes[j].parts[max(n - 1, 0):])
        found += [f"{rel}.{w.name} {dims(w)}".lstrip(".") for w in (e.weights if e else ())]
    return tuple(found) if len(found) <= _MAX_LISTED else (f"{len(found):,} tensors",)


def _depth_rows(changes: list[Change], report: list[Change], depth: int,
                index: dict[Parts, int]) -> list[DiffRow]:
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
        c = changes[index[top]]
        said = ", ".join(f"{n} {s}" for s, n in tally.items())
        rows.append(_row(changes, c, index[top], c.subtree_status, own=False, below=said))
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
