"""Two sides' nodes compared path by path: each path's :class:`Change`, in an order that keeps
each side's own, and the changes a diff reports.

A path is ``added`` or ``removed`` (only in B, or only in A), ``changed`` (in both, with other
weights: names, shapes, trainable or buffer; or another type, when types are compared) or
``unchanged``.

>>> from paramcount.layers import Weight
>>> a = {("fc",): Entry(("fc",), "Dense", (Weight("kernel", (4, 2)),), (8, 8, 0, 0), True)}
>>> b = {("fc",): Entry(("fc",), "Dense", (Weight("kernel", (4, 3)),), (12, 12, 0, 0), True)}
>>> [(c.path, c.status, c.details) for c in changes(a, b, True, True)[0]]
[('fc', 'changed', ('kernel (4, 2) → (4, 3)',))]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from paramcount.comparison.matching import Entry, Parts
from paramcount.layers import Weight
from paramcount.shapes import fmt_shape

STATUSES = ("added", "removed", "changed", "unchanged")


@dataclass(frozen=True)
class Change:
    """One path of either side: its own status, and whether anything below it differs."""

    parts: Parts
    status: str
    a: Entry | None
    b: Entry | None
    details: tuple[str, ...] = ()
    below: bool = False

    @property
    def path(self) -> str:
        return ".".join(self.parts)

    @property
    def subtree_status(self) -> str:
        """``changed`` when the node or anything below it differs (added/removed stay)."""
        return "changed" if self.status == "unchanged" and self.below else self.status


def reported(changes: list[Change], everything: bool) -> Iterator[Change]:
    """The leaf-level changes: own changes, the top of each added or removed subtree, and
    (``everything``) unchanged leaves and weight holders."""
    status = {c.parts: c.status for c in changes}
    for c in changes:
        if c.status in ("added", "removed"):
            # the root's row () holds only its own weights: it is no parent
            if len(c.parts) < 2 or status.get(c.parts[:-1]) != c.status:
                yield c
        elif c.status == "changed" or (everything and _holds(c)):
            yield c


def _holds(c: Change) -> bool:
    return any(e is not None and (e.leaf or bool(e.weights)) for e in (c.a, c.b))


def changes(ea: dict[Parts, Entry], eb: dict[Parts, Entry], same_kind: bool, types: bool
            ) -> tuple[list[Change], int]:
    """Every path of A and B compared (types only with ``types``), and how many
    parameter-free paths of one side were skipped (not ``same_kind``: a checkpoint against a
    description stores no parameter-free layer)."""
    raw: list[tuple[Parts, str, Entry | None, Entry | None, tuple[str, ...]]] = []
    skipped = 0
    for parts in _union_order(list(ea), list(eb)):
        x, y = ea.get(parts), eb.get(parts)
        one = x if y is None else y if x is None else None
        if one is not None and not same_kind and one.counts == (0, 0, 0, 0):
            skipped += 1
            continue
        status, details = _compare(x, y, types)
        raw.append((parts, status, x, y, details))
    below: set[Parts] = set()
    for parts, status, *_ in raw:
        up = parts[:-1]
        while status != "unchanged" and up and up not in below:
            below.add(up)
            up = up[:-1]
    return [Change(p, s, x, y, dt, p in below) for p, s, x, y, dt in raw], skipped


def _union_order(a: list[Parts], b: list[Parts]) -> list[Parts]:
    """A's paths in order, each run of B-only paths after the B path that precedes it; B's
    leading run before the first path both have (after all of A's when none is shared)."""
    in_a = set(a)
    after: dict[Parts | None, list[Parts]] = {}
    anchor: Parts | None = None
    for p in b:
        if p in in_a:
            anchor = p
        else:
            after.setdefault(anchor, []).append(p)
    lead = after.pop(None, [])
    first = next((p for p in b if p in in_a), None)
    out: list[Parts] = []
    for p in a:
        out += lead if p == first else []
        out.append(p)
        out += after.get(p, [])
    return out if first is not None else out + lead


def _compare(a: Entry | None, b: Entry | None, types: bool) -> tuple[str, tuple[str, ...]]:
    if a is None or b is None:
        return ("added" if a is None else "removed"), ()
    details = [f"type {a.type} → {b.type}"] if types and a.type != b.type else []
    wa, wb = _by_name(a.weights), _by_name(b.weights)
    for name, w in wa.items():
        v = wb.get(name)
        if v is None:
            details.append(f"-{name} {dims(w)}")
            continue
        if v.shape != w.shape:
            details.append(f"{name} {dims(w)} → {dims(v)}")
        if _role(v) != _role(w):
            details.append(f"{name} {_role(w)} → {_role(v)}")
    details += [f"+{name} {dims(w)}" for name, w in wb.items() if name not in wa]
    return ("changed" if details else "unchanged"), tuple(details)


def _by_name(weights: tuple[Weight, ...]) -> dict[str, Weight]:
    out: dict[str, Weight] = {}
    for w in weights:
        name, k = w.name, 1
        while name in out:
            k += 1
            name = f"{w.name}#{k}"
        out[name] = w
    return out


def dims(w: Weight) -> str:
    return fmt_shape(w.shape, batch=False)


def _role(w: Weight) -> str:
    return "buffer" if w.buffer else "trainable" if w.trainable else "non-trainable"
