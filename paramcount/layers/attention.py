"""Multi-head attention: Keras MultiHeadAttention and GroupQueryAttention, PyTorch
MultiheadAttention. Keras's Attention and AdditiveAttention (no projections) are in ``scoring``,
PyTorch's TransformerEncoderLayer and TransformerDecoderLayer in ``transformer``, and what they
all share (input checks, PyTorch's packed projections) in ``qkv``.

The inputs are a list of shapes in the framework's call order: Keras ``[query, value, key]``
(``call(query, value, key)``), PyTorch ``[query, key, value]`` (``forward(query, key, value)``).
One shape means self-attention; with two, the key is the value.

Keras builds its projections as EinsumDense sublayers whose equations depend on the input rank
(keras/src/layers/attention/multi_head_attention.py); they are built here the same way, with
:class:`paramcount.layers.core.EinsumDense`, so kernels keep Keras's shapes (``(d, heads, k)``).
PyTorch packs the query, key and value projections into one ``in_proj_weight`` of ``3E × E``
when the key and value widths equal the embedding width, and keeps three matrices otherwise.

MACs are the projections plus ``heads × (key_dim + value_dim)`` for every (query, key) pair:
the scores and the weighted sum of the values, over the whole square as FlopCounterMode counts
them (a causal mask discounts nothing). None of these layers costs 0.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from paramcount.errors import ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.layers.base import Attention, Built, Formula, Weight, register
from paramcount.layers.core import EinsumDense
from paramcount.layers.qkv import (
    AttentionLayer,
    Dims,
    dots,
    torch_mha_formula,
    torch_mha_macs,
    torch_mha_weights,
)
from paramcount.shapes import Shape, fmt_shape, prod


def _proj_equation(free: int, bound: int, out: int) -> tuple[str, str]:
    """Keras's ``_build_proj_equation``: ``free`` kept axes (batch included), ``bound``
    contracted, ``out`` new ones (the bias axes).

    >>> _proj_equation(2, 1, 2)
    ('abc,cde->abde', 'de')
    """
    letters = string.ascii_lowercase
    kept, bound_s, new = (letters[:free], letters[free:free + bound],
                          letters[free + bound:free + bound + out])
    return f"{kept}{bound_s},{bound_s}{new}->{kept}{new}", new


def _einsum(name: str, equation: str, partial: Sequence[int | None], bias: str | None,
            x: Shape) -> tuple[list[Weight], Shape]:
    """Weights (named ``name/kernel``, ``name/bias``) and output of an EinsumDense sublayer."""
    layer = EinsumDense({"equation": equation, "output_shape": list(partial), "bias_axes": bias})
    weights = [Weight(f"{name}/{w.name}", w.shape) for w in layer.weights(x)]
    return weights, layer.output_shape(x)


def _keras_projection(name: str, x: Shape, heads: int, size: int, use_bias: bool
                      ) -> tuple[list[Weight], Shape]:
    """A query, key, value or gate projection: ``(..., d) -> (..., heads, size)``."""
    equation, axes = _proj_equation(len(x), 1, 2)
    return _einsum(name, equation, [None] * (len(x) - 1) + [heads, size],
                   axes if use_bias else None, x)


# -- MultiHeadAttention (Keras) and MultiheadAttention (PyTorch) ------------------------------

@register("MultiHeadAttention", torch=("MultiheadAttention",))
class MultiHeadAttention(AttentionLayer):
    """Multi-head attention: query, key and value projections, attention, output projection."""

    torch_args = frozenset({"embed_dim", "kdim", "vdim", "add_bias_kv", "add_zero_attn", "bias"})
    positional = ("num_heads", "key_dim")
    torch_positional = ("embed_dim", "num_heads", "dropout", "bias", "add_bias_kv",
                        "add_zero_attn", "kdim", "vdim", "batch_first")

    def configure(self, a: Args) -> None:
        self.heads: int = a.int("num_heads", min=1)
        self.embed_dim: int | None = a.int("embed_dim", default=None, min=1)
        self.key_dim: int | None = a.int("key_dim", default=None, min=1)
        self.value_dim: int | None = a.int("value_dim", default=None, min=1)
        self.use_bias: bool = a.bool("use_bias", "bias", default=True)
        self.use_gate: bool = a.bool("use_gate", default=False)
        self.out_dims = self._output_shape_arg(a.get("output_shape", default=None))
        self.kdim: int | None = a.int("kdim", default=None, min=1)
        self.vdim: int | None = a.int("vdim", default=None, min=1)
        self.bias_kv: bool = a.bool("add_bias_kv", default=False)
        self.zero_attn: bool = a.bool("add_zero_attn", default=False)
        axes = a.get("attention_axes", default=None)
        if axes is not None and not isinstance(axes, int) and not (
                isinstance(axes, list | tuple) and all(isinstance(i, int) for i in axes)):
            raise SpecError(f"MultiHeadAttention: attention_axes={axes!r} is invalid; expected "
                            "an integer or a list of them")
        self.axes: tuple[int, ...] | None = (axes,) if isinstance(axes, int) else \
            None if axes is None else tuple(axes)
        for keras_only in ("sliding_window", "flash_attention"):
            a.get(keras_only, default=None)
        self._check_framework(axes)

    def _output_shape_arg(self, value: Any) -> tuple[int, ...] | None:
        if value is None:
            return None
        dims = (value,) if isinstance(value, int) else value
        if isinstance(value, bool) or not isinstance(dims, list | tuple) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims):
            raise SpecError(f"MultiHeadAttention: output_shape={value!r} is invalid; expected "
                            "an integer >= 1 or a list of them")
        return tuple(dims) or None  # Keras treats an empty output_shape as none given

    def _check_framework(self, axes: Any) -> None:
        if self.torch:
            by_keys = None if self.key_dim is None else self.key_dim * self.heads
            if None not in (self.embed_dim, by_keys) and self.embed_dim != by_keys:
                raise SpecError(f"MultiheadAttention: embed_dim={self.embed_dim} is not "
                                f"num_heads × key_dim ({self.heads} × {self.key_dim})")
            e = self.embed_dim or by_keys
            if e is not None and e % self.heads:
                raise SpecError(f"MultiheadAttention: embed_dim={e} is not divisible by "
                                f"num_heads={self.heads}")
            for name, bad in (("value_dim", self.value_dim not in (None, self.key_dim)),
                              ("output_shape", self.out_dims is not None),
                              ("use_gate", self.use_gate), ("attention_axes", axes is not None)):
                if bad:
                    raise SpecError(f"MultiheadAttention: PyTorch's layer has no {name}; "
                                    "use the Keras conventions (framework 'keras') for it")
            self.embed_dim = e
        else:
            if self.bias_kv:
                raise SpecError("MultiHeadAttention: add_bias_kv is PyTorch's; Keras's layer "
                                "has no learned key and value biases")
            if self.key_dim is None:
                if self.embed_dim is None:
                    raise SpecError("MultiHeadAttention needs the argument 'key_dim'")
                self.key_dim = self.embed_dim // self.heads

    def default_input_shape(self) -> Shape | None:
        return None if self.embed_dim is None else (None, self.embed_dim)

    def build(self, inputs: Sequence[Shape]) -> Built:
        shapes = self.split(inputs)
        return self._torch_build(shapes) if self.torch else self._keras_build(shapes)

    # -- Keras ---------------------------------------------------------------------------------
    def _keras_build(self, shapes: list[Shape]) -> Built:
        q, k, v = self.keras_qkv(shapes)
        dq, dv, dk = (self.width(q, "query", self.embed_dim), self.width(v, "value", self.vdim),
                      self.width(k, "key", self.kdim))
        if not len(q) == len(v) == len(k):
            raise ShapeError(f"MultiHeadAttention: query {fmt_shape(q)}, value {fmt_shape(v)} "
                             f"and key {fmt_shape(k)} must have the same rank")
        self.same_positions(k, v)
        kd = int(self.key_dim or 0)
        vd = self.value_dim or kd
        weights, q_out = _keras_projection("query", q, self.heads, kd, self.use_bias)
        weights += _keras_projection("key", k, self.heads, kd, self.use_bias)[0]
        if self.use_gate:
            weights += _keras_projection("gate", q, self.heads, vd, self.use_bias)[0]
        weights += _keras_projection("value", v, self.heads, vd, self.use_bias)[0]
        out = self.out_dims or (dq,)
        equation, axes = _proj_equation(len(q), 2, len(out))
        weights += _einsum("attention_output", equation, [None] * (len(q) - 1) + list(out),
                           axes if self.use_bias else None, (*q_out[:-1], vd))[0]
        formula = self._keras_formula((dq, dk, dv), kd, vd, out)
        return Built(tuple(weights), (*q[:-1], *out), formula)

    def _keras_formula(self, widths: tuple[int, int, int], kd: int, vd: int,
                       out: tuple[int, ...]) -> Formula:
        dq, dk, dv = widths
        do = "·".join(map(str, out))
        kernels = [f"{dq}·{kd}", f"{dk}·{kd}", f"{dv}·{vd}", f"{vd}·{do}"]
        biases = [f"2·{kd}", f"{vd}"]
        sym_k, sym_b = "d_q·key_dim + d_k·key_dim + d_v·value_dim", "2·key_dim + value_dim"
        if self.use_gate:
            kernels.append(f"{dq}·{vd}")
            biases.append(f"{vd}")
            sym_k, sym_b = sym_k + " + d_q·value_dim", sym_b + " + value_dim"
        symbolic = f"heads·({sym_k} + value_dim·d_out)"
        numeric = f"{self.heads}·({' + '.join(kernels)})"
        if self.use_bias:
            symbolic += f" + heads·({sym_b}) + d_out"
            numeric += f" + {self.heads}·({' + '.join(biases)}) + {do}"
        return Formula(symbolic, numeric)

    def _keras_macs(self, q: Dims, k: Dims, v: Dims) -> int:
        kd = int(self.key_dim or 0)
        vd, h = self.value_dim or kd, self.heads
        n_q, n_k = prod(q[:-1]), prod(k[:-1])
        proj = n_q * q[-1] * h * kd + n_k * (k[-1] * h * kd + v[-1] * h * vd)
        if self.use_gate:
            proj += n_q * q[-1] * h * vd
        out = n_q * h * vd * prod(self.out_dims or (q[-1],))
        return proj + out + self._pairs(q, k) * h * (kd + vd)

    def _pairs(self, q: Dims, k: Dims) -> int:
        """(query, key) pairs: every query position with every key position, or, with
        ``attention_axes``, within each index of the other axes."""
        if self.axes is None:
            return prod(q[:-1]) * prod(k[:-1])
        rank = len(q) + 2  # Keras counts the axes of (batch, *positions, heads, key_dim)
        axes = {a % rank - 1 for a in self.axes}
        if not all(0 <= a < len(q) - 1 for a in axes):
            raise ShapeError(f"MultiHeadAttention: attention_axes={list(self.axes)} does not "
                             f"name axes of the query {fmt_shape(q)} between batch and features")
        other = prod([d for i, d in enumerate(q[:-1]) if i not in axes])
        return other * prod([q[i] for i in axes]) * prod([k[i] for i in axes])

    def macs_of(self, inputs: Sequence[Shape]) -> int:
        if self.torch:
            q, k, v, e = self._torch_shapes(self.split(inputs))
            return torch_mha_macs(e, self.known(q), self.known(k), self.known(v),
                                  int(self.bias_kv) + int(self.zero_attn))
        q, k, v = self.keras_qkv(inputs)
        return self._keras_macs(self.known(q), self.known(k), self.known(v))

    def macs_formula_of(self, inputs: Sequence[Shape]) -> Formula:
        """:meth:`macs_of` in words: projections, then every (query, key) pair."""
        self.macs_of(inputs)  # every size it needs known
        if self.torch:
            q, k, v, e = self._torch_shapes(self.split(inputs))
            return torch_mha_formula(e, self.known(q), self.known(k), self.known(v),
                                     int(self.bias_kv) + int(self.zero_attn))
        q, k, v = (self.known(x) for x in self.keras_qkv(inputs))
        kd = int(self.key_dim or 0)
        vd = self.value_dim or kd
        nq, nk, h = dots(q[:-1]), dots(k[:-1]), self.heads
        out = dots(self.out_dims or (q[-1],))
        sym = ["queries × d_q × heads × key_dim",
               "keys × (d_k × heads × key_dim + d_v × heads × value_dim)"]
        num = [f"{nq} × {q[-1]} × {h} × {kd}", f"{nk} × ({k[-1]} × {h} × {kd} + "
                                                f"{v[-1]} × {h} × {vd})"]
        if self.use_gate:
            sym.append("queries × d_q × heads × value_dim")
            num.append(f"{nq} × {q[-1]} × {h} × {vd}")
        sym += ["queries × heads × value_dim × d_out", "pairs × heads × (key_dim + value_dim)"]
        pairs = f"{nq} × {nk}" if self.axes is None else str(self._pairs(q, k))
        num += [f"{nq} × {h} × {vd} × {out}", f"{pairs} × {h} × ({kd} + {vd})"]
        return Formula(" + ".join(sym), " + ".join(num))

    def attention(self, inputs: Sequence[Shape]) -> Attention:
        if self.torch:
            q, _, _, e = self._torch_shapes(self.split(inputs))
            return Attention(self.heads, e // self.heads, self.heads, hidden=e)
        q = self.keras_qkv(inputs)[0]
        kd = int(self.key_dim or 0)
        return Attention(self.heads, kd, self.heads, self.value_dim or kd, hidden=q[-1])

    # -- PyTorch -------------------------------------------------------------------------------
    def _torch_shapes(self, shapes: list[Shape]) -> tuple[Shape, Shape, Shape, int]:
        """Query, key and value (the missing ones as PyTorch's defaults) and the width E."""
        q = shapes[0]
        e = self.width(q, "query", self.embed_dim)
        if e % self.heads:
            raise ShapeError(f"MultiheadAttention: the query width {e} ({fmt_shape(q)}) is not "
                             f"divisible by num_heads={self.heads}")
        kdim, vdim = self.kdim or e, self.vdim or e
        k = shapes[1] if len(shapes) > 1 else (*q[:-1], kdim)
        v = shapes[2] if len(shapes) > 2 else (k if len(shapes) == 2 else (*q[:-1], vdim))
        for x, role in ((q, "query"), (k, "key"), (v, "value")):
            if len(x) != 2:
                raise ShapeError(f"MultiheadAttention expects a {role} of rank 2 (sequence, "
                                 f"features; batch excluded), got {fmt_shape(x)}")
        self.width(k, "key", kdim)
        self.width(v, "value", vdim)
        self.same_positions(k, v)
        return q, k, v, e

    def _torch_build(self, shapes: list[Shape]) -> Built:
        q, _, _, e = self._torch_shapes(shapes)
        kdim, vdim = self.kdim or e, self.vdim or e
        weights = torch_mha_weights("", e, kdim, vdim, self.use_bias, self.bias_kv)
        symbolic, numeric = "E·(E + kdim + vdim) + E·E", f"{e}·({e} + {kdim} + {vdim}) + {e}·{e}"
        if self.use_bias:
            symbolic, numeric = symbolic + " + 4·E", numeric + f" + 4·{e}"
        if self.bias_kv:
            symbolic, numeric = symbolic + " + 2·E", numeric + f" + 2·{e}"
        return Built(tuple(weights), (*q[:-1], e), Formula(symbolic, numeric))


# -- GroupQueryAttention (Keras) -------------------------------------------------------------

@register("GroupQueryAttention", "GroupedQueryAttention")
class GroupQueryAttention(AttentionLayer):
    """Keras's grouped-query attention: ``num_query_heads`` query heads share
    ``num_key_value_heads`` key and value heads."""

    positional = ("head_dim", "num_query_heads", "num_key_value_heads")

    def configure(self, a: Args) -> None:
        self.head_dim: int = a.int("head_dim", min=1)
        self.q_heads: int = a.int("num_query_heads", min=1)
        self.kv_heads: int = a.int("num_key_value_heads", min=1)
        if self.q_heads % self.kv_heads:
            raise SpecError(f"GroupQueryAttention: num_query_heads={self.q_heads} is not "
                            f"divisible by num_key_value_heads={self.kv_heads}")
        self.use_bias: bool = a.bool("use_bias", default=True)
        self.use_gate: bool = a.bool("use_gate", default=False)
        for keras_only in ("sliding_window", "flash_attention"):
            a.get(keras_only, default=None)

    def checked(self, inputs: Sequence[Shape]) -> tuple[Shape, Shape, Shape]:
        q, k, v = self.keras_qkv(inputs)
        for x, role in ((q, "query"), (v, "value"), (k, "key")):
            if len(x) != 2:
                raise ShapeError(f"GroupQueryAttention expects a {role} of rank 2 (sequence, "
                                 f"features; batch excluded), got {fmt_shape(x)}")
        return q, k, v

    def macs_of(self, inputs: Sequence[Shape]) -> int:
        """Projections (queries and the gate on every query head, keys and values on the
        shared ones), then scores and mixing on every query head."""
        q, k, v = (self.known(x) for x in self.checked(inputs))
        hd, qh, kvh = self.head_dim, self.q_heads, self.kv_heads
        n_q = (3 if self.use_gate else 2) * q[0] * q[1] * qh * hd  # query, output (and gate)
        n_kv = k[0] * (k[1] + v[1]) * kvh * hd
        return n_q + n_kv + 2 * q[0] * k[0] * qh * hd

    def macs_formula_of(self, inputs: Sequence[Shape]) -> Formula:
        self.macs_of(inputs)
        q, k, v = (self.known(x) for x in self.checked(inputs))
        n = 3 if self.use_gate else 2
        hd, qh, kvh = self.head_dim, self.q_heads, self.kv_heads
        return Formula(f"{n} × queries × d_q × query_heads × head_dim + keys × (d_k + d_v) × "
                       "kv_heads × head_dim + 2 × queries × keys × query_heads × head_dim",
                       f"{n} × {q[0]} × {q[1]} × {qh} × {hd} + {k[0]} × ({k[1]} + {v[1]}) × "
                       f"{kvh} × {hd} + 2 × {q[0]} × {k[0]} × {qh} × {hd}")

    def attention(self, inputs: Sequence[Shape]) -> Attention:
        q = self.checked(inputs)[0]
        return Attention(self.q_heads, self.head_dim, self.kv_heads, hidden=q[-1])

    def build(self, inputs: Sequence[Shape]) -> Built:
        q, k, v = self.checked(inputs)
        dq = self.width(q, "query")
        dv = self.width(v, "value", expect=dq)
        dk = self.width(k, "key")
        self.same_positions(k, v)
        hd, qh, kvh = self.head_dim, self.q_heads, self.kv_heads
        weights = self._proj("query", "bqm,muh->bquh", qh, "uh", q)
        weights += self._proj("key", "bkm,mvh->bkvh", kvh, "vh", k)
        if self.use_gate:
            weights += self._proj("gate", "bqm,muh->bquh", qh, "uh", q)
        weights += self._proj("value", "bkm,mvh->bkvh", kvh, "vh", v)
        weights += _einsum("attention_output", "bquh,uhm->bqm", [None, dq],
                           "m" if self.use_bias else None, (None, qh, hd))[0]
        return Built(tuple(weights), q, self._formula(dq, dk, dv))

    def _proj(self, name: str, equation: str, heads: int, axes: str, x: Shape) -> list[Weight]:
        return _einsum(name, equation, [None, heads, self.head_dim],
                       axes if self.use_bias else None, x)[0]

    def _formula(self, dq: int, dk: int, dv: int) -> Formula:
        n_q = 3 if self.use_gate else 2  # query, output (and gate) projections
        symbolic = f"head_dim·({n_q}·query_heads·d_q + kv_heads·(d_k + d_v))"
        numeric = f"{self.head_dim}·({n_q}·{self.q_heads}·{dq} + {self.kv_heads}·({dk} + {dv}))"
        if self.use_bias:
            n_b = n_q - 1
            symbolic += f" + head_dim·({n_b}·query_heads + 2·kv_heads) + d_q"
            numeric += f" + {self.head_dim}·({n_b}·{self.q_heads} + 2·{self.kv_heads}) + {dq}"
        return Formula(symbolic, numeric)
