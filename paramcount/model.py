"""The model tree: nodes, shared and tied weights, rows, totals (trees are built in
:mod:`paramcount.build` or by the importers in :mod:`paramcount.sources`).

A model is a tree of named nodes; a leaf node is one layer with the weight tensors it owns, an
inner node is a block (a nested model, a residual block, a repeated group). Every weight is owned
by exactly one node, so totals are plain sums: a shared layer is one node called several times,
and a tied weight (an LM head reusing the embedding matrix) is listed where it is used but owned,
and counted, where it was made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from paramcount.dtypes import DTYPE_BYTES
from paramcount.layers import Formula, Layer, Weight
from paramcount.layers.base import KERAS, Attention
from paramcount.shapes import Shape
from paramcount.view import View

if TYPE_CHECKING:
    from paramcount.flops import Flops


@dataclass(frozen=True)
class Tied:
    """A weight a node uses but does not own: it is counted where ``owner`` made it."""

    weight: Weight
    owner: str


@dataclass(frozen=True)
class Compute:
    """Multiply-accumulates of a node that no registered layer computes: ``fixed`` for one
    sample whatever the sequence length (a live model's measured pass), ``per_token`` for each
    position of the sequence (a mixture of experts: the experts one token passes through)."""

    fixed: int = 0
    per_token: int = 0


@dataclass
class Node:
    """One row of the tree: a layer (leaf) or a block of layers (inner node)."""

    name: str
    type: str
    output_shape: Shape | None = None
    weights: tuple[Weight, ...] = ()
    children: list[Node] = field(default_factory=list)
    input_shapes: tuple[Shape, ...] = ()
    formula: Formula | None = None
    notes: tuple[str, ...] = ()
    tied: tuple[Tied, ...] = ()
    calls: int = 1
    layer: Layer | None = None
    repeat: int = 1  # > 1 for a group of identical blocks
    #: the layer's type is not known: it is listed, but its parameters are not counted
    unknown: bool = False
    #: a short remark shown with the row ("counted from stored weights", "×8 experts")
    remark: str = ""
    #: the base of an automatic name (``dense`` for ``dense_3``); None for a name given
    name_base: str | None = None
    #: attention this node computes over its projections (scores, mixing) and caches
    attention: Attention | None = None
    #: MACs this node computes beyond its layer's and its children's (see :class:`Compute`)
    compute: Compute | None = None

    def attention_info(self) -> Attention | None:
        """The node's attention: declared on the node, or by its layer for its input shapes."""
        if self.attention is not None:
            return self.attention
        if self.layer is not None and self.input_shapes:
            return self.layer.attention(self.input_shapes)
        return None

    def _sum(self, pick: str) -> int:
        own = sum(w.size for w in self.weights if _is(w, pick))
        return own + sum(c._sum(pick) for c in self.children)

    @property
    def params(self) -> int:
        """Parameters (trainable and not), buffers excluded, this node and below."""
        return self._sum("param")

    @property
    def trainable_params(self) -> int:
        return self._sum("trainable")

    @property
    def non_trainable_params(self) -> int:
        return self._sum("frozen")

    @property
    def buffers(self) -> int:
        """Elements of PyTorch buffers (BatchNorm running statistics), not parameters."""
        return self._sum("buffer")

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Node]]:
        """This node's descendants with their depth (children are depth 1)."""
        for child in self.children:
            yield depth + 1, child
            yield from child.walk(depth + 1)

    def all_weights(self, prefix: str = "") -> Iterator[tuple[str, Weight]]:
        """Every owned weight below this node, with its dotted path."""
        for w in self.weights:
            yield f"{prefix}{w.name}", w
        for child in self.children:
            yield from child.all_weights(f"{prefix}{child.name}.")


def _is(w: Weight, pick: str) -> bool:
    if pick == "buffer":
        return w.buffer
    if w.buffer:
        return False
    return pick == "param" or (pick == "trainable") == w.trainable


Counts = tuple[int, int, int, int]  # params, trainable, non-trainable, buffers


def weight_counts(weights: Iterable[Weight]) -> Counts:
    """Parameters, trainable, non-trainable and buffer elements of ``weights``.

    >>> weight_counts([Weight("kernel", (4, 2)), Weight("mean", (2,), trainable=False)])
    (10, 8, 2, 0)
    """
    params = trainable = buffers = 0
    for w in weights:
        if w.buffer:
            buffers += w.size
        else:
            params += w.size
            trainable += w.size if w.trainable else 0
    return params, trainable, params - trainable, buffers


def subtree_counts(root: Node) -> dict[int, Counts]:
    """Every node's counts, its own weights and its descendants', by ``id(node)``, in one
    bottom-up pass (a node's ``params`` walks its subtree each time it is asked)."""
    out: dict[int, Counts] = {}

    def visit(node: Node) -> Counts:
        p, t, n, b = weight_counts(node.weights)
        for child in node.children:
            cp, ct, cn, cb = visit(child)
            p, t, n, b = p + cp, t + ct, n + cn, b + cb
        out[id(node)] = (p, t, n, b)
        return out[id(node)]

    visit(root)
    return out


@dataclass(frozen=True)
class Row:
    """One table row: a node at a depth; ``times`` > 1 when it stands for identical siblings."""

    depth: int
    node: Node
    times: int = 1
    folded: bool = False  # True on the row that stands for a whole group of identical blocks


def signature(node: Node) -> tuple[Any, ...]:
    """What makes two blocks identical for folding: types, counts, shapes, recursively."""
    return (node.type, node.params, node.trainable_params, node.buffers, node.output_shape,
            node.calls, tuple(signature(c) for c in node.children))


def _identical(children: list[Node]) -> bool:
    first = children[0]
    # copies that share their children list (cloned blocks) need no signature
    return all(c.children is first.children and c.weights == first.weights
               and c.type == first.type for c in children[1:]) or len(
        {signature(c) for c in children}) == 1


def _rows(node: Node, depth: int, limit: int | None, fold: bool, times: int,
          out: list[Row]) -> None:
    if limit is not None and depth > limit:
        return
    children = node.children
    if fold and node.repeat > 1 and _identical(children):
        out.append(Row(depth, children[0], times * len(children), folded=True))
        _rows(children[0], depth + 1, limit, fold, times * len(children), out)
        return
    if children and (node.weights or node.tied):
        out.append(Row(depth, own_weights(node), times))
    for child in children:
        out.append(Row(depth, child, times))
        _rows(child, depth + 1, limit, fold, times, out)


def tree_rows(root: Node, depth: int | None, fold: bool) -> list[Row]:
    """The rows of ``root``'s table down to ``depth`` (None: all levels), groups of identical
    blocks folded into their first block when ``fold``."""
    out: list[Row] = []
    _rows(root, 1, depth, fold, 1, out)
    return out


#: the type shown on the row of a module's own weights (see :func:`own_weights`)
OWN = "own weights"


def own_weights(node: Node) -> Node:
    """A row for the weights a module holds itself beside its submodules (a root's
    ``nn.Parameter``, a ViT embedding's class token), so that rows add up to the totals.

    >>> parent = Node("m", "M", weights=(Weight("scale", (3,)),), children=[Node("fc", "L")])
    >>> own_weights(parent).params, own_weights(parent).name
    (3, 'scale')
    """
    names = [w.name for w in node.weights] + [t.weight.name for t in node.tied]
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return Node(shown, OWN, weights=node.weights, tied=node.tied)


@dataclass
class Summary:
    """The answer: a model tree with totals, rows, explanations and a JSON form.

    >>> import paramcount
    >>> s = paramcount.layer("Dense", units=2).count((4,))
    >>> (s.total_params, s.trainable_params, s.non_trainable_params)
    (10, 10, 0)
    """

    root: Node
    source: str
    framework: str = KERAS
    dtype: str = "float32"
    meta: dict[str, Any] = field(default_factory=dict)
    #: further counts a source computes, shown after the totals ("Non-embedding params")
    figures: dict[str, int] = field(default_factory=dict)
    #: sentences shown under the totals ("built by transformers on the meta device in 2.1 s")
    notes: list[str] = field(default_factory=list)
    #: how the summary shows itself when printed (``print``, notebooks, rich); renderers take
    #: any view (:mod:`paramcount.view`)
    view: View = field(default_factory=View)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def total_params(self) -> int:
        return self.root.params

    @property
    def trainable_params(self) -> int:
        return self.root.trainable_params

    @property
    def non_trainable_params(self) -> int:
        return self.root.non_trainable_params

    @property
    def buffers(self) -> int:
        return self.root.buffers

    @property
    def bytes_per_param(self) -> float:
        return DTYPE_BYTES[self.dtype]

    def bytes(self, count: int | None = None, dtype: str | None = None) -> int:
        """Bytes taken by ``count`` parameters (default: all) at ``dtype`` (default: the
        model's)."""
        n = self.total_params if count is None else count
        return int(n * DTYPE_BYTES[dtype or self.dtype])

    @property
    def unknown_layers(self) -> dict[str, int]:
        """Layer types that were not understood (and not counted), with how often each occurs."""
        tally: dict[str, int] = {}
        for _, node in self.root.walk():
            if node.unknown:
                tally[node.type] = tally.get(node.type, 0) + 1
        return tally

    @property
    def lower_bound(self) -> bool:
        """True when some layers were not counted: the totals are then lower bounds."""
        return bool(self.unknown_layers)

    def by_dtype(self) -> dict[str, tuple[int, int | None]]:
        """Stored dtype -> (elements, bytes) over every weight whose dtype is known."""
        out: dict[str, tuple[int, int | None]] = {}
        for _, w in self.root.all_weights():
            if w.dtype is None:
                continue
            n, b = out.get(w.dtype, (0, 0))
            out[w.dtype] = (n + w.size, None if b is None or w.nbytes is None else b + w.nbytes)
        return out

    def stored_bytes(self, buffers: bool | None = None) -> int | None:
        """Bytes of the weights as stored, when every such weight's size in bytes is known:
        all of them (``buffers=None``), the parameters only (False) or the buffers only (True).
        """
        weights = [w for _, w in self.root.all_weights()
                   if buffers is None or w.buffer == buffers]
        if not weights or any(w.nbytes is None for w in weights):
            return None
        return sum(w.nbytes or 0 for w in weights)

    @cached_property
    def layers(self) -> list[Node]:
        """The top-level rows."""
        return self.root.children

    def rows(self, depth: int | None = None, fold: bool | None = None) -> list[Row]:
        """The rows of a table down to ``depth`` (None: the view's depth, or all levels);
        totals never change.

        With ``fold`` (default: the view's), a repeated group of identical blocks shows its
        first block once, marked with how many it stands for.
        """
        return tree_rows(self.root, self.view.depth if depth is None else depth,
                         self.view.fold if fold is None else fold)

    def flops(self, seq_len: int | None = None, batch: int | None = None) -> Flops:
        """Forward MACs and FLOPs for ``batch`` samples with unknown dimensions set to
        ``seq_len``; both default to the forward pass of the summary's view (a live model's
        measured pass), else batch 1; see :mod:`paramcount.flops`.

        >>> import paramcount
        >>> f = paramcount.layer("Conv2D", filters=2, kernel_size=3).count((28, 28, 1)).flops()
        >>> f.macs, f.flops
        (12168, 24336)
        """
        from paramcount.flops import count_macs

        default_seq, default_batch = self.view.compute or (None, 1)
        key = (default_seq if seq_len is None else seq_len,
               default_batch if batch is None else batch)
        cache = self.__dict__.setdefault("_flops", {})
        if key not in cache:
            cache[key] = count_macs(self.root, *key)
        result: Flops = cache[key]
        return result

    def scaling_params(self) -> tuple[int, str]:
        """The N of the scaling-law estimates (2·N forward, 6·N training FLOPs per token), and
        what it is: the non-embedding parameters when a source knows them, and of a mixture
        of experts only those a token passes through; else all parameters.

        >>> import paramcount
        >>> paramcount.summarize("zoo:gpt2").scaling_params()
        (85056000, 'non-embedding params')
        """
        total = self.total_params
        if "Non-embedding params" not in self.figures:
            return total, "params"
        n = self.figures["Non-embedding params"]
        active = self.figures.get("Active params per token")
        if active is None:
            return n, "non-embedding params"
        return active - (total - n), "active non-embedding params"

    def weights(self) -> list[tuple[str, Weight]]:
        """Every owned weight with its dotted path, parameters and buffers."""
        return list(self.root.all_weights())

    def render(self, fmt: str = "table", view: View | None = None, **changes: Any) -> str:
        """The summary as text in a format of :data:`paramcount.report.FORMATS` (or
        ``explain``), shown as ``view`` says (default: the summary's own), with ``changes``
        to it (``depth=2``, ``trainable=True``).

        >>> import paramcount
        >>> s = paramcount.summarize({"input_shape": [4], "layers": [{"Dense": 2}]})
        >>> s.render("csv").splitlines()[1]
        '1,dense,Dense,"(None, 2)",10,10,0,0,1,1'
        """
        from paramcount.report import render

        return render(self, fmt, (view or self.view).but(**changes))

    def explain(self) -> str:
        """The work shown: each layer's weight shapes, products and closed form."""
        return self.render("explain")

    def _repr_html_(self) -> str:
        """The summary as an HTML table, which Jupyter shows for a summary in a cell."""
        return self.render("html")

    def __rich__(self) -> Any:
        """The summary as a rich table (``rich.print(summary)``); rich calls this, so it is
        imported only when present."""
        from paramcount.report.table import rich_summary

        return rich_summary(self, self.view)

    def __str__(self) -> str:
        return self.render("table", color=False)

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        """The ``paramcount/1`` JSON document (see README, "JSON schema")."""
        from paramcount.report.json import to_dict

        return to_dict(self, self.view if depth is None else self.view.but(depth=depth))
