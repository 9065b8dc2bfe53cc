"""Keras's Attention (dot-product, Luong) and AdditiveAttention (Bahdanau): attention over
``[query, value]`` or ``[query, value, key]`` with no projections, at most a learned scale.
Multi-head attention is in ``attention``.

MACs: the scores ``query·keyᵀ`` (dot scores only) and the weighted sum of the values, for every
(query, key) pair, as FlopCounterMode counts the two batched products. Additive scores
(AdditiveAttention, and Attention with ``score_mode='concat'``) are a sum of ``tanh(query +
key)``, element-wise, so only the weighted sum counts. Neither layer costs 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from paramcount.errors import ShapeError
from paramcount.layers.args import Args
from paramcount.layers.base import Attention, Built, Formula, Weight, register
from paramcount.layers.qkv import AttentionLayer, dots
from paramcount.shapes import Shape, fmt_shape, prod


@register("Attention")
class DotAttention(AttentionLayer):
    """Keras's dot-product (Luong) attention over ``[query, value, key]``: no projections; a
    learned scalar ``scale`` with ``use_scale``, and one more with ``score_mode='concat'``
    (scores as a sum of tanh(query + key), which has no matrix product)."""

    additive: ClassVar[bool] = False

    def configure(self, a: Args) -> None:
        self.use_scale: bool = a.bool("use_scale", default=self.additive)
        self.mode: str = "concat" if self.additive else a.str(
            "score_mode", default="dot", choices=("dot", "concat"))
        a.given("causal")  # Keras 2's mask flag; no weight depends on it

    def checked(self, inputs: Sequence[Shape]) -> tuple[Shape, Shape, Shape]:
        if len(inputs) < 2:
            raise ShapeError(f"{self.label} takes [query, value] or [query, value, key], "
                             f"got {len(inputs)} input")
        q, k, v = self.keras_qkv(inputs)
        self.width(v, "value")
        self.width(k, "key", expect=self.width(q, "query"))
        self.same_positions(k, v)
        if tuple(q[:-2]) != tuple(k[:-2]):
            raise ShapeError(f"{self.label}: query {fmt_shape(q)} and key {fmt_shape(k)} must "
                             "agree on every axis before the last two")
        return q, k, v

    def build(self, inputs: Sequence[Shape]) -> Built:
        q, _, v = self.checked(inputs)
        weights = []
        if self.use_scale:
            weights.append(Weight("scale", (int(q[-1] or 0),) if self.additive else ()))
        if self.mode == "concat" and not self.additive:
            weights.append(Weight("concat_score_weight", ()))
        return Built(tuple(weights), (*q[:-1], v[-1]))

    def macs_of(self, inputs: Sequence[Shape]) -> int:
        """``query·keyᵀ`` (dot scores only) and ``weights·value`` for every (query, key)
        pair."""
        q, k, v = (self.known(x) for x in self.checked(inputs))
        scores = q[-1] if self.mode == "dot" else 0
        return prod(q[:-1]) * k[-2] * (scores + v[-1])

    def macs_formula_of(self, inputs: Sequence[Shape]) -> Formula:
        self.macs_of(inputs)
        q, k, v = (self.known(x) for x in self.checked(inputs))
        pairs = f"{dots(q[:-1])} × {k[-2]}"
        if self.mode == "dot":
            return Formula("queries × keys × (dim + value_dim)",
                           f"{pairs} × ({q[-1]} + {v[-1]})")
        return Formula("queries × keys × value_dim", f"{pairs} × {v[-1]}")

    def attention(self, inputs: Sequence[Shape]) -> Attention:
        q, k, v = self.checked(inputs)
        return Attention(1, int(k[-1] or 0), 1, int(v[-1] or 0), hidden=q[-1])


@register("AdditiveAttention")
class AdditiveAttention(DotAttention):
    """Keras's additive (Bahdanau) attention: scores are a sum of ``scale · tanh(query +
    key)``, with ``scale`` a learned vector of the query's width (``use_scale``, the default)."""

    additive = True
