"""PyTorch's TransformerEncoderLayer and TransformerDecoderLayer: self-attention (and, in
the decoder, attention over the memory), a two-layer feed-forward block and LayerNorms. Their
attention blocks are nn.MultiheadAttention modules, described in ``qkv``.

MACs: each attention block's four projections, then scores and mixing over the whole square
(a causal mask discounts nothing), and the feed-forward block's two matrices; the LayerNorms,
the activation and dropout are not counted. Neither layer costs 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from paramcount.errors import ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.layers.base import PYTORCH, Attention, Built, Formula, Weight, register
from paramcount.layers.qkv import (
    AttentionLayer,
    torch_mha_formula,
    torch_mha_macs,
    torch_mha_weights,
)
from paramcount.shapes import Shape, fmt_shape


@register(torch=("TransformerEncoderLayer",))
class TransformerEncoderLayer(AttentionLayer):
    """torch.nn.TransformerEncoderLayer: self-attention and a two-layer feed-forward block,
    each with a LayerNorm. A PyTorch layer, so PyTorch's conventions apply even in a model
    whose framework is Keras."""

    positional = ("d_model", "nhead", "dim_feedforward", "dropout", "activation",
                  "layer_norm_eps", "batch_first", "norm_first", "bias")
    #: (attention blocks, LayerNorms)
    blocks = (1, 2)

    def configure(self, a: Args) -> None:
        self.framework = PYTORCH
        self.d_model: int = a.int("d_model", min=1)
        self.nhead: int = a.int("nhead", min=1)
        if self.d_model % self.nhead:
            raise SpecError(f"{self.label}: d_model={self.d_model} is not divisible by "
                            f"nhead={self.nhead}")
        self.ff: int = a.int("dim_feedforward", default=2048, min=1)
        self.bias: bool = a.bool("bias", default=True)
        a.get("layer_norm_eps", default=None)
        a.bool("norm_first", default=False)

    def default_input_shape(self) -> Shape | None:
        return (None, self.d_model)

    def sequence(self, x: Shape, role: str) -> Shape:
        if len(x) != 2:
            raise ShapeError(f"{self.label} expects a {role} of rank 2 (sequence, d_model; "
                             f"batch excluded), got {fmt_shape(x)}")
        self.width(x, role, self.d_model)
        return x

    def build(self, inputs: Sequence[Shape]) -> Built:
        shapes = self.split(inputs, most=self.blocks[0])
        src = self.sequence(shapes[0], "source" if self.blocks[0] == 1 else "target")
        if len(shapes) > 1:
            self.sequence(shapes[1], "memory")
        return Built(tuple(self.layer_weights()), src, self.layer_formula())

    def macs_of(self, inputs: Sequence[Shape]) -> int:
        """Self-attention, attention over the memory (a decoder's; the memory as long as the
        target when not given) and the two feed-forward matrices."""
        shapes = self.split(inputs, most=self.blocks[0])
        src = self.known(self.sequence(shapes[0], "source" if self.blocks[0] == 1 else "target"))
        e = self.d_model
        total = torch_mha_macs(e, src, src, src) + 2 * src[0] * e * self.ff
        if self.blocks[0] == 2:
            memory = self.known(self.sequence(shapes[1], "memory")) if len(shapes) > 1 else src
            total += torch_mha_macs(e, src, memory, memory)
        return total

    def macs_formula_of(self, inputs: Sequence[Shape]) -> Formula:
        """The attention blocks' products (:func:`torch_mha_formula`), then the
        feed-forward's."""
        self.macs_of(inputs)
        shapes = self.split(inputs, most=self.blocks[0])
        src = self.known(shapes[0])
        e = self.d_model
        parts = [torch_mha_formula(e, src, src, src)]
        if self.blocks[0] == 2:
            memory = self.known(shapes[1]) if len(shapes) > 1 else src
            parts.append(torch_mha_formula(e, src, memory, memory))
        ffn = Formula("2 × L × E × F", f"2 × {src[0]} × {e} × {self.ff}")
        return Formula(" + ".join(f"({p.symbolic})" for p in parts) + f" + {ffn.symbolic}",
                       " + ".join(f"({p.numeric})" for p in parts) + f" + {ffn.numeric}")

    def attention(self, inputs: Sequence[Shape]) -> Attention:
        """The self-attention (a decoder's attention over the memory is alike)."""
        return Attention(self.nhead, self.d_model // self.nhead, self.nhead, hidden=self.d_model)

    def layer_weights(self) -> list[Weight]:
        e, f, bias = self.d_model, self.ff, self.bias
        attn = ["self_attn", "multihead_attn"][:self.blocks[0]]
        out = [w for name in attn for w in torch_mha_weights(f"{name}.", e, e, e, bias)]
        for name, shape in (("linear1", (f, e)), ("linear2", (e, f))):
            out.append(Weight(f"{name}.weight", shape))
            out += [Weight(f"{name}.bias", shape[:1])] if bias else []
        for i in range(1, self.blocks[1] + 1):
            out.append(Weight(f"norm{i}.weight", (e,)))
            out += [Weight(f"norm{i}.bias", (e,))] if bias else []
        return out

    def layer_formula(self) -> Formula:
        e, f = self.d_model, self.ff
        n_attn, n_norm = 4 * self.blocks[0], self.blocks[1]
        if self.bias:
            return Formula(f"{n_attn}·E·E + {n_attn}·E + 2·E·F + F + E + {2 * n_norm}·E",
                           f"{n_attn}·{e}·{e} + {n_attn}·{e} + 2·{e}·{f} + {f} + {e} + "
                           f"{2 * n_norm}·{e}")
        return Formula(f"{n_attn}·E·E + 2·E·F + {n_norm}·E",
                       f"{n_attn}·{e}·{e} + 2·{e}·{f} + {n_norm}·{e}")


@register(torch=("TransformerDecoderLayer",))
class TransformerDecoderLayer(TransformerEncoderLayer):
    """torch.nn.TransformerDecoderLayer: self-attention over the target, attention over the
    memory (the encoder's output) and a feed-forward block. Inputs ``[tgt, memory]``."""

    blocks = (2, 3)

    def default_input_shape(self) -> Shape | None:
        return (None, self.d_model)
