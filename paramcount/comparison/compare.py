"""Compare two models path by path: what was added, removed or changed, and how the totals moved.

Each side is anything :func:`paramcount.summarize` reads (a file or folder of any format, a
parsed dict, a model object in memory), a zoo entry as ``zoo:NAME``, or a
:class:`~paramcount.model.Summary`. Nodes are matched by their
path below the root (``model.layers.0.self_attn.q_proj``: the root's own name, a config's
``LlamaForCausalLM`` or a checkpoint's file name, is not part of it). Each path is

- ``added`` or ``removed``: only in B, or only in A (with everything below it);
- ``changed``: in both, with other weights (names, shapes, trainable or buffer) or another type;
- ``unchanged`` otherwise.

Counts are the summaries' own: parameters a node owns, a tied weight counted once where it is
owned. Types are compared only when both sides describe the model the same way: a checkpoint's
types are guessed from tensor names (``Module``, ``Norm``), so a config is not "changed" against
the checkpoint that implements it, and its parameter-free layers, which no checkpoint stores,
are not reported as removed. When most tensors fail to match, a leading path component that one
side has and the other lacks (``model.`` of ``LlamaForCausalLM`` against a checkpoint of
``LlamaModel``) is stripped, and a note says so. PEFT's ``base_layer`` holds the weights of the
module it wraps: it is matched with that module's own weights. A PEFT adapter folder against
a model (:func:`diff`) is that model with the adapter applied
(:func:`paramcount.sources.adapter.applied`): its tensors are rows added under the modules
they target.

>>> import paramcount
>>> a = {"input_shape": [4], "layers": [{"Dense": {"units": 2, "name": "fc"}}]}
>>> b = {"input_shape": [4], "layers": [{"Dense": {"units": 3, "name": "fc"}}]}
>>> d = diff(a, b)
>>> [(r.path, r.status, r.delta) for r in d.rows()]
[('fc', 'changed', 5)]
>>> d.delta[0], d.rows()[0].details
(5, ('kernel (4, 2) → (4, 3)', 'bias (2,) → (3,)'))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from paramcount.comparison.changes import STATUSES, Change, changes, reported
from paramcount.comparison.matching import (
    Entry,
    Parts,
    best_prefix,
    flatten,
    prefix_note,
    strip_all,
    unwrap_base_layers,
)
from paramcount.comparison.rows import DiffRow, diff_rows
from paramcount.model import Summary
from paramcount.tree import Counts, subtree_counts


@dataclass(frozen=True)
class Side:
    """What a diff keeps of one summary."""

    name: str
    source: str
    totals: Counts
    stored: bool  # read from stored tensors: types are guesses


@dataclass
class Diff:
    """The comparison of A and B: every path's :class:`Change`, the totals and notes."""

    a: Side
    b: Side
    changes: list[Change]
    notes: list[str] = field(default_factory=list)
    #: the leading components stripped from A's and B's paths (empty: none)
    prefix: tuple[Parts, Parts] = ((), ())
    types_compared: bool = True
    #: the two summaries compared (what ``plot()`` and the inline treemaps draw)
    summaries: tuple[Summary, Summary] | None = field(default=None, repr=False, compare=False)

    @property
    def delta(self) -> Counts:
        """B minus A: total, trainable, non-trainable parameters and buffers."""
        a, b = self.a.totals, self.b.totals
        return (b[0] - a[0], b[1] - a[1], b[2] - a[2], b[3] - a[3])

    @property
    def ratio(self) -> float | None:
        """B's total parameters over A's (None when A has none)."""
        return self.b.totals[0] / self.a.totals[0] if self.a.totals[0] else None

    @property
    def changed(self) -> bool:
        """Whether anything differs: a path, a weight, a type or a total."""
        differ = any(c.status != "unchanged" for c in self.changes)
        return differ or self.a.totals != self.b.totals

    def grown_more_than(self, percent: float) -> bool:
        """Whether B's total exceeds A's by more than ``percent`` percent (exactly).

        >>> d = diff({"input_shape": [4], "layers": [{"Dense": 2}]},   # (4 + 1) × 2 = 10
        ...          {"input_shape": [4], "layers": [{"Dense": 3}]})   # (4 + 1) × 3 = 15
        >>> d.grown_more_than(50), d.grown_more_than(49.9)
        (False, True)
        """
        a, b = self.a.totals[0], self.b.totals[0]
        return (b - a) * 100 > Fraction(str(percent)) * a

    def counts(self) -> dict[str, int]:
        """How many leaf-level rows are added, removed, changed and unchanged (unfolded)."""
        tally = dict.fromkeys(STATUSES, 0)
        for c in reported(self.changes, everything=True):
            tally[c.status] += 1
        return tally

    def rows(self, depth: int | None = None, all: bool = False, fold: bool = True
             ) -> list[DiffRow]:
        """The rows to show: each differing path at the most specific level, or its ancestor at
        ``depth``; unchanged ones too with ``all``. With ``fold``, added (or removed) siblings
        make one row under their parent and numbered blocks with identical changes one row
        (:mod:`paramcount.comparison.rows`)."""
        return diff_rows(self.changes, depth, all, fold)

    def __repr__(self) -> str:
        """One line: the sides, the change of the total and the rows that differ.

        >>> d = diff({"name": "x", "input_shape": [4], "layers": [{"Dense": 2}]},
        ...          {"name": "y", "input_shape": [4], "layers": [{"Dense": 3}]})
        >>> d
        <Diff A 'x' → B 'y': +5 params, 1 changed>
        """
        said = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n and s != "unchanged")
        said = said or ("only the totals differ" if self.changed else "no differences")
        return (f"<Diff A {self.a.name!r} → B {self.b.name!r}: {self.delta[0]:+,} params, "
                f"{said}>")

    def __str__(self) -> str:
        """The table ``paramcount diff A B`` prints."""
        from paramcount.report.diff import render_diff

        return render_diff(self)

    def _repr_html_(self) -> str:
        """Both models' treemaps side by side (static SVG, coloured by change) above the
        table, which Jupyter shows for a diff in a cell."""
        from paramcount.report.diff import render_html
        from paramcount.report.svg import diff_svg

        return "\n".join(filter(None, (diff_svg(self), render_html(self))))

    def plot(self) -> Any:
        """The page of ``paramcount report A --compare B``: both models' zoomable treemaps,
        coloured by change, above the diff's table, which a notebook shows in a cell."""
        from paramcount.errors import SpecError
        from paramcount.report.page import Plot, diff_page

        if self.summaries is None:
            raise SpecError("this diff does not hold the summaries it compared: "
                            "make it with paramcount.diff(a, b)")
        return Plot(diff_page(*self.summaries, self))

    def __rich__(self) -> Any:
        """The table as a rich renderable (``rich.print(diff)``); rich calls this, so it is
        imported only when present."""
        from paramcount.report.diff import rich_diff

        return rich_diff(self)


# -- comparing two summaries -----------------------------------------------------------------

def diff(a: Any, b: Any, **options: Any) -> Diff:
    """Compare model A with model B, each anything :func:`paramcount.summarize` takes (a path,
    a zoo name, a dict, a model object, a :class:`Summary`); ``options`` go to it (``framework``,
    ``params``, ``head``) for each side.

    >>> a = {"input_shape": [4], "layers": [{"Dense": {"units": 2, "name": "fc"}}]}
    >>> b = {"input_shape": [4], "layers": [{"Dense": {"units": 2, "name": "fc"}},
    ...                                     {"Dense": {"units": 1, "name": "head"}}]}
    >>> d = diff(a, b)
    >>> [(r.path, r.status, r.a, r.b) for r in d.rows()]
    [('head', 'added', None, (3, 3, 0, 0))]
    >>> d.changed, round(d.ratio, 2)
    (True, 1.3)
    """
    from paramcount.sources import summarize
    from paramcount.sources.tensors import every_block

    with every_block():  # paths are matched one by one
        sa, sb = summarize(a, **options), summarize(b, **options)
    return _with_adapter(sa, sb) or compare(sa, sb)


def _with_adapter(a: Summary, b: Summary) -> Diff | None:
    """A model and a PEFT adapter (either way round): the model against itself with the
    adapter applied, so the adapter's modules show as rows added under the modules they
    target (:func:`paramcount.sources.adapter.applied`); None when neither or both are
    adapters. An adapter that does not fit the model is compared as it is, with a note."""
    from paramcount.errors import SpecError
    from paramcount.sources.adapter import applied, is_adapter

    if is_adapter(a) == is_adapter(b):
        return None
    base, peft, label = (a, b, "B") if is_adapter(b) else (b, a, "A")
    try:
        fitted = applied(peft, base)
    except SpecError as err:
        d = compare(a, b)
        d.notes.append(f"{label} is a PEFT adapter, compared as it is: {err}")
        return d
    d = compare(base, fitted) if label == "B" else compare(fitted, base)
    d.notes.insert(0, f"{label} is a PEFT adapter ({peft.total_params:,} params): compared as "
                      f"{'A' if label == 'B' else 'B'} with it applied")
    return d


def compare(a: Summary, b: Summary) -> Diff:
    """The :class:`Diff` of two summaries (see the module's docstring for the rules)."""
    counts_a, counts_b = subtree_counts(a.root), subtree_counts(b.root)  # one walk a side
    side_a, side_b = _side(a, counts_a), _side(b, counts_b)
    ea, eb = flatten(a.root, counts_a), flatten(b.root, counts_b)
    notes: list[str] = []
    prefix = best_prefix(ea, eb)
    if prefix != ((), ()):
        notes.append(prefix_note(ea, eb, prefix))
        ea, eb = strip_all(ea, prefix[0]), strip_all(eb, prefix[1])
    for x, y, label in ((eb, ea, "B"), (ea, eb, "A")):
        moved = unwrap_base_layers(x, y)
        if moved:
            notes.append(f"PEFT base_layer weights of {label} compared with the wrapped "
                         f"module's own ({moved} module{'s' if moved > 1 else ''})")
    if (() in ea) != (() in eb):  # the root is on both sides: its own weights changed
        empty = Entry((), (ea.get(()) or eb[()]).type, (), (0, 0, 0, 0), False)
        ea, eb = {(): empty, **ea}, {(): empty, **eb}  # a side's own root entry wins
    same_kind = side_a.stored == side_b.stored
    types = not (side_a.stored or side_b.stored)  # a checkpoint's types are guesses
    found, skipped = changes(ea, eb, same_kind, types)
    if not same_kind:
        guessed = "A" if side_a.stored else "B"
        notes.append(f"types are not compared: {guessed}'s are guessed from its tensor names")
    if skipped:
        notes.append(f"{skipped} parameter-free row{'s' if skipped > 1 else ''} not compared: "
                     "a checkpoint stores no parameter-free layer")
    notes += [f"{label}'s totals are lower bounds: {sum(s.unknown_layers.values())} layer(s) of "
              "unknown type not counted" for label, s in (("A", a), ("B", b)) if s.lower_bound]
    return Diff(side_a, side_b, found, notes, prefix, types, (a, b))


def _side(s: Summary, counts: dict[int, Counts]) -> Side:
    """One side's totals (params, trainable, non-trainable, buffers), from its counts."""
    return Side(s.name, s.source, counts[id(s.root)], stored="tensors" in s.meta)
