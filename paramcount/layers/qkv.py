"""What attention layers share: the checks on their query, key and value inputs
(:class:`AttentionLayer`), and PyTorch's nn.MultiheadAttention, its weights and MACs, which
``MultiheadAttention`` (in ``attention``) and the Transformer layers (in ``transformer``) build.
No layer type is registered here, so none has a MAC count of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from paramcount.errors import ShapeError
from paramcount.layers.base import Formula, Layer, Weight
from paramcount.layers.spatial import elements
from paramcount.shapes import Shape, fmt_shape

Dims = tuple[int, ...]  # a shape whose every dimension is known


def dots(dims: Sequence[int]) -> str:
    """``(3, 5)`` as ``3·5``: a product in a formula's numeric part."""
    return "·".join(str(d) for d in dims)


def torch_mha_weights(prefix: str, e: int, kdim: int, vdim: int, bias: bool,
                      bias_kv: bool = False) -> list[Weight]:
    """The parameters of torch.nn.MultiheadAttention, as its constructor registers them."""
    if kdim == e and vdim == e:
        out = [Weight(f"{prefix}in_proj_weight", (3 * e, e))]
    else:
        out = [Weight(f"{prefix}{n}_proj_weight", (e, d))
               for n, d in (("q", e), ("k", kdim), ("v", vdim))]
    out += [Weight(f"{prefix}in_proj_bias", (3 * e,))] if bias else []
    out += [Weight(f"{prefix}bias_{n}", (1, 1, e)) for n in "kv"] if bias_kv else []
    out.append(Weight(f"{prefix}out_proj.weight", (e, e)))
    return out + ([Weight(f"{prefix}out_proj.bias", (e,))] if bias else [])


def torch_mha_macs(e: int, q: Dims, k: Dims, v: Dims, extra_keys: int = 0) -> int:
    """nn.MultiheadAttention on one sample: the four projections, then scores and mixing
    over ``S + extra_keys`` keys (``add_bias_kv`` and ``add_zero_attn`` append one each).

    >>> torch_mha_macs(8, (5, 8), (7, 8), (7, 8))  # 2·5·8·8 + 2·7·8·8 + 2·5·7·8
    2096
    """
    n_q, n_k = q[0], k[0]
    proj = 2 * n_q * e * e + n_k * (k[-1] + v[-1]) * e
    return proj + 2 * n_q * (n_k + extra_keys) * e


def torch_mha_formula(e: int, q: Dims, k: Dims, v: Dims, extra_keys: int = 0) -> Formula:
    """:func:`torch_mha_macs` in words: the q and out projections, the k and v
    projections, then scores and mixing."""
    keys = f"({k[0]} + {extra_keys})" if extra_keys else str(k[0])
    sym_keys = "(S + extra keys)" if extra_keys else "S"
    return Formula(f"2 × L × E × E + S × (kdim + vdim) × E + 2 × L × {sym_keys} × E",
                   f"2 × {q[0]} × {e} × {e} + {k[0]} × ({k[-1]} + {v[-1]}) × {e} + "
                   f"2 × {q[0]} × {keys} × {e}")


class AttentionLayer(Layer):
    """Shared input handling: 1 to 3 shapes, checked for rank and known widths."""

    def split(self, inputs: Sequence[Shape], most: int = 3) -> list[Shape]:
        if not 1 <= len(inputs) <= most:
            raise ShapeError(f"{self.label} takes 1 to {most} inputs, got {len(inputs)}")
        return [tuple(s) for s in inputs]

    def width(self, x: Shape, role: str, expect: int | None = None) -> int:
        if len(x) < 2:
            raise ShapeError(f"{self.label} expects a {role} of rank 2 or more "
                             f"(sequence, features; batch excluded), got {fmt_shape(x)}")
        return self.last_dim(x, f"{role} features", expect)

    def known(self, x: Shape) -> Dims:
        """``x`` with every dimension known, as counting MACs needs."""
        elements(self, x)  # raises the shared error when one is not
        return tuple(d for d in x if d is not None)

    def keras_qkv(self, inputs: Sequence[Shape]) -> tuple[Shape, Shape, Shape]:
        """Keras's ``[query, value, key]``: the key is the value when not given."""
        shapes = self.split(inputs)
        q, v = shapes[0], shapes[min(1, len(shapes) - 1)]
        return q, (shapes[2] if len(shapes) == 3 else v), v

    def same_positions(self, key: Shape, value: Shape) -> None:
        if tuple(key[:-1]) != tuple(value[:-1]):
            raise ShapeError(f"{self.label}: key {fmt_shape(key)} and value "
                             f"{fmt_shape(value)} must agree on every axis but the last")
