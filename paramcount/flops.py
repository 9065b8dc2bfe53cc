"""Forward compute: multiply-accumulates per node, from each layer's formula and input shapes.

What is counted follows ``torch.utils.flop_counter.FlopCounterMode``, so the two can be compared
exactly: matrix products (a dense layer, a projection, attention's QKᵀ and its weighted sum of
values, taken over every query-key pair, with no discount for a causal mask or a sliding window)
and convolutions. A bias add, an activation, a normalization, a softmax, a pooling, an
embedding lookup and an elementwise merge cost nothing here. One multiply-accumulate (MAC) is
two floating-point operations (FLOPs).

A layer type without a MAC formula is reported as unknown, by type, and the total is then a
lower bound; so is a layer whose input shape is not known (a sequence of unknown length:
``seq_len`` fills every unknown dimension).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from paramcount.errors import ParamcountError, check_positive
from paramcount.shapes import Shape
from paramcount.tree import Node

CONVENTION = ("1 MAC = 2 FLOPs; matrix products and convolutions only (attention over every "
              "query-key pair; no bias adds, activations, norms, softmax or pooling), as "
              "torch.utils.flop_counter counts")


@dataclass
class Flops:
    """Forward MACs of a model for ``batch`` samples of sequence length ``seq_len``.

    ``per_node`` holds each node's MACs (its own, times its calls, plus its children's) for
    one sample, or None where some part of it is not known.
    """

    seq_len: int | None
    batch: int
    macs: int = 0
    per_node: dict[int, int | None] = field(default_factory=dict)
    #: layer types without a MAC formula, and how often each occurs
    unknown: dict[str, int] = field(default_factory=dict)
    #: layer types whose input shape is not fully known, and how often each occurs
    unsized: dict[str, int] = field(default_factory=dict)
    #: a sequence length asked for that fills nothing: every input shape is fixed
    unused_seq_len: int | None = None

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def complete(self) -> bool:
        """True when every layer's MACs are known: the totals are then exact, not bounds."""
        return not self.unknown and not self.unsized

    @property
    def tokens(self) -> int | None:
        """Positions in one forward pass (batch × sequence length), when the length is known."""
        return None if self.seq_len is None else self.batch * self.seq_len

    @property
    def per_token(self) -> int | None:
        """Forward FLOPs per position, when the length is known and every MAC counted."""
        return self.flops // self.tokens if self.tokens and self.complete else None

    @property
    def training_per_token(self) -> int | None:
        """Forward and backward FLOPs per position: 3 × forward (the backward pass computes
        gradients of inputs and of weights, each as costly as the forward pass)."""
        return None if self.per_token is None else 3 * self.per_token

    def node_macs(self, node: Node) -> int | None:
        """MACs of ``node`` (and below) for the whole batch, or None where not all known."""
        m = self.per_node.get(id(node))
        return None if m is None else m * self.batch


def count_macs(root: Node, seq_len: int | None = None, batch: int = 1) -> Flops:
    """Walk the tree once and add up every node's MACs.

    >>> import paramcount
    >>> paramcount.layer("Dense", units=2).count((4,)).flops(batch=3).macs
    24
    """
    check_positive(seq_len, "the sequence length")
    check_positive(batch, "the batch size")
    if seq_len is not None:
        fixed = count_macs(root, None, batch)
        if not fixed.unsized:  # no length to fill: the model fixes every shape it needs
            fixed.unused_seq_len = seq_len
            return fixed
    result = Flops(seq_len, batch)
    known, _ = _visit(root, result, {})
    result.macs = batch * known  # a lower bound when some MACs are not known
    return result


def _visit(node: Node, out: Flops, seen: dict[int, tuple[int, bool]]) -> tuple[int, bool]:
    """The node's known MACs for one sample (its own times its calls, and its children's),
    and whether they are all known; ``out.per_node`` gets the count, or None."""
    key = id(node)
    if key in seen:  # a block's copies share their submodules: count them once each
        return seen[key]
    own = _own(node, out)
    known, complete = (own or 0) * node.calls, own is not None
    for child in node.children:
        m, ok = _visit(child, out, seen)
        known, complete = known + m * node.each, complete and ok
    seen[key] = known, complete
    out.per_node[key] = known if complete else None
    return known, complete


def _own(node: Node, out: Flops) -> int | None:
    """The node's own MACs; an unknown part is tallied by the node's type."""
    own, why = _own_why(node, out.seq_len)
    if why is not None:
        tally = out.unknown if why == "unknown" else out.unsized
        tally[node.type] = tally.get(node.type, 0) + 1
    return own


def _own_why(node: Node, seq_len: int | None) -> tuple[int | None, str | None]:
    if node.unknown:
        return None, "unknown"
    own = 0
    if node.layer is not None:
        shapes = filled(node.input_shapes, seq_len)
        if shapes is None:
            # a norm or an activation costs nothing whatever the length: no need to know it
            return (0, None) if _free(node) else (None, "unsized")
        m = node.layer.macs_of(shapes)
        if m is None:
            return None, "unknown"
        own = m
    elif node.weights and not node.children and node.compute is None and node.attention is None:
        return None, "unknown"  # weights with no layer behind them: a checkpoint's tensors
    a = node.attention
    per_token = (a is not None and not (a.queries and a.keys)) or (
        node.compute is not None and node.compute.per_token > 0)
    if per_token and seq_len is None:
        return None, "unsized"
    if a is not None:
        own += (a.queries or seq_len or 0) * (a.keys or seq_len or 0) * a.pair_macs
    if node.compute is not None:
        own += node.compute.fixed + node.compute.per_token * (seq_len or 0)
    return own, None


def _free(node: Node) -> bool:
    """Whether the node's layer costs 0 MACs at a length of 1, and so at any length (a layer
    that multiplies costs something for one position)."""
    probe = filled(node.input_shapes, 1)
    if probe is None or node.layer is None:
        return False
    try:
        return node.layer.macs_of(probe) == 0
    except ParamcountError:
        return False


def filled(shapes: Sequence[Shape], seq_len: int | None) -> list[tuple[int, ...]] | None:
    """The input shapes with every unknown dimension set to ``seq_len``; None if that is
    not enough (no shapes recorded, or an unknown dimension and no length)."""
    if not shapes:
        return None
    out = []
    for shape in shapes:
        if any(d is None for d in shape):
            if seq_len is None:
                return None
            shape = tuple(seq_len if d is None else d for d in shape)
        out.append(tuple(int(d) for d in shape if d is not None))
    return out
