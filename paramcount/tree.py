"""The model tree: nodes, shared and tied weights, counts and rows (trees are built in
:mod:`paramcount.build` or by the importers in :mod:`paramcount.sources`).

A model is a tree of named nodes; a leaf node is one layer with the weight tensors it owns, an
inner node is a block (a nested model, a residual block, a repeated group). Every weight is owned
by exactly one node, so totals are plain sums: a shared layer is one node called several times,
and a tied weight (an LM head reusing the embedding matrix) is listed where it is used but owned,
and counted, where it was made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from paramcount.layers import Formula, Layer, Weight
from paramcount.layers.base import Attention, Recurrent
from paramcount.shapes import Shape


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


#: nodes of a repeated block's copies built one by one (each its own row with ``--depth``);
#: beyond this many, one block stands for all its copies, folded (``Node.folded``), and costs
#: what one block costs however many copies there are
FOLD_AT = 16_384


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
    #: a folded group: ``children`` holds one block that stands for ``repeat`` identical
    #: copies, built once and counted × ``repeat`` (a repeat too large to build copy by copy)
    folded: bool = False
    #: the layer's type is not known: it is listed, but its parameters are not counted
    unknown: bool = False
    #: a short remark shown with the row ("counted from stored weights", "×8 experts")
    remark: str = ""
    #: the base of an automatic name (``dense`` for ``dense_3``); None for a name given
    name_base: str | None = None
    #: attention this node computes over its projections (scores, mixing) and caches
    attention: Attention | None = None
    #: the fixed per-sequence state this node keeps when it mixes tokens recurrently
    state: Recurrent | None = None
    #: MACs this node computes beyond its layer's and its children's (see :class:`Compute`)
    compute: Compute | None = None

    def attention_info(self) -> Attention | None:
        """The node's attention: declared on the node, or by its layer for its input shapes."""
        if self.attention is not None:
            return self.attention
        if self.layer is not None and self.input_shapes:
            return self.layer.attention(self.input_shapes)
        return None

    @property
    def each(self) -> int:
        """How many times each child counts: ``repeat`` in a folded group, else once."""
        return self.repeat if self.folded else 1

    def counts(self) -> Counts:
        """Parameters, trainable, non-trainable and buffer elements, this node and below:
        looked up while the tree is being rendered (:func:`counted`), else one walk."""
        known = _COUNTED.get()
        found = known.get(id(self)) if known is not None else None
        return found if found is not None else subtree_counts(self)[id(self)]

    @property
    def params(self) -> int:
        """Parameters (trainable and not), buffers excluded, this node and below."""
        return self.counts()[0]

    @property
    def trainable_params(self) -> int:
        return self.counts()[1]

    @property
    def non_trainable_params(self) -> int:
        return self.counts()[2]

    @property
    def buffers(self) -> int:
        """Elements of PyTorch buffers (BatchNorm running statistics), not parameters."""
        return self.counts()[3]

    # The walks below keep their own stack: a recursive generator passes every item up
    # through each level above it (a million steps for 100,000 tensors five deep).

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Node]]:
        """This node's descendants with their depth (children are depth 1), parents first."""
        for d, node, _ in self.walk_times(depth):
            yield d, node

    def walk_times(self, depth: int = 0, times: int = 1) -> Iterator[tuple[int, Node, int]]:
        """:meth:`walk` with how many times each node counts (a folded group's block counts
        ``repeat`` times, and so does everything in it)."""
        stack = [(depth + 1, c, times * self.each) for c in reversed(self.children)]
        while stack:
            item = stack.pop()
            yield item
            d, node, t = item
            if node.children:
                inner = t * node.each
                stack.extend((d + 1, c, inner) for c in reversed(node.children))

    def all_weights(self, prefix: str = "") -> Iterator[tuple[str, Weight]]:
        """Every owned weight below this node, with its dotted path (a folded group's block
        once: see :meth:`weights_times`)."""
        stack: list[tuple[str, Node]] = [(prefix, self)]
        while stack:
            here, node = stack.pop()
            for w in node.weights:
                yield f"{here}{w.name}", w
            stack.extend((f"{here}{c.name}.", c) for c in reversed(node.children))

    def weights_times(self, times: int = 1) -> Iterator[tuple[Weight, int]]:
        """Every owned weight below this node with how many times it counts."""
        stack: list[tuple[Node, int]] = [(self, times)]
        while stack:
            node, t = stack.pop()
            for w in node.weights:
                yield w, t
            if node.children:
                inner = t * node.each
                stack.extend((c, inner) for c in reversed(node.children))


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


#: the counts of every node of a tree being rendered (see :func:`counted`)
_COUNTED: ContextVar[dict[int, Counts] | None] = ContextVar("counted", default=None)


@contextmanager
def counted(root: Node) -> Iterator[None]:
    """Within this block every node under ``root`` answers ``params`` and the other counts
    from one bottom-up pass, made on entry, instead of walking its subtree each time (a
    table asks every row, its parents and the totals; folding asks every block). The tree
    must not change meanwhile: renderers only read it.

    >>> root = Node("m", "M", children=[Node("fc", "L", weights=(Weight("w", (2, 3)),))])
    >>> with counted(root):
    ...     root.params, root.children[0].buffers
    (6, 0)
    """
    token = _COUNTED.set(subtree_counts(root))
    try:
        yield
    finally:
        _COUNTED.reset(token)


def subtree_counts(root: Node) -> dict[int, Counts]:
    """Every node's counts, its own weights and its descendants', by ``id(node)``, in one
    bottom-up pass (a node's ``params`` walks its subtree each time it is asked)."""
    known = _COUNTED.get()
    if known is not None and id(root) in known:  # made already, for a tree holding root
        return known
    out: dict[int, Counts] = {}

    def visit(node: Node) -> Counts:
        p, t, n, b = weight_counts(node.weights)
        k = node.each
        for child in node.children:
            cp, ct, cn, cb = visit(child)
            p, t, n, b = p + k * cp, t + k * ct, n + k * cn, b + k * cb
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
    params, trainable, _, buffers = node.counts()
    return (node.type, params, trainable, buffers, node.output_shape, node.calls, node.each,
            tuple(signature(c) for c in node.children))


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
    if node.folded:  # one block standing for many: shown once, whatever the view
        out.append(Row(depth, children[0], times * node.repeat, folded=True))
        _rows(children[0], depth + 1, limit, fold, times * node.repeat, out)
        return
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
