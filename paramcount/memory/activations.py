"""Activations kept for the backward pass.

Transformers (a source with attention modules) follow Korthikanti et al. 2022, "Reducing
Activation Recomputation in Large Transformer Models", section 4: one layer of sequence length
``s``, micro-batch ``b``, width ``h`` and ``a`` heads stores ``sbh(34 + 5as/h)`` bytes with
16-bit activations and 1-byte dropout masks. Spelled out per tensor it is ``16·sbh`` activation
elements and ``2·sbh`` mask bytes outside the attention scores, and ``2·as²b`` elements plus
``as²b`` mask bytes inside them, which gives the same formula for any activation size ``e``:
``sbh(16e + 2) + as²b(2e + 1)``. Tensor parallelism of degree ``t`` splits ``12e·sbh`` and the
scores, leaving ``(4e + 2)·sbh`` replicated (the paper's ``sbh(10 + 24/t + 5as/(ht))``);
sequence parallelism splits those too. Selective recomputation drops the scores; full
recomputation keeps only each layer's input, ``e·sbh`` (the paper's ``2sbh``).

Other models follow torchinfo 1.8's "Forward/backward pass size": twice (for its gradient) the
output of every layer that has parameters, for the whole batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from paramcount.errors import SpecError
from paramcount.layers.base import Attention
from paramcount.memory.facts import ModelFacts

RECOMPUTE = ("none", "selective", "full")


@dataclass(frozen=True)
class Shape4:
    """The dimensions of Korthikanti's formula for one module."""

    s: int       # sequence length (queries)
    s_kv: int    # keys attended to (the encoder's length for cross-attention)
    b: int       # micro-batch
    h: int       # model width
    a: int       # heads


def layer_bytes(x: Shape4, e: int, t: int = 1, sp: bool = False, recompute: str = "none",
                cross: bool = False) -> Fraction:
    """Activation bytes one tensor-parallel rank keeps for one layer.

    A self-attention module stands for a whole layer (attention, MLP, two norms); a
    cross-attention module adds its attention block and one norm.

    >>> gpt3 = Shape4(s=2048, s_kv=2048, b=1, h=12288, a=96)
    >>> layer_bytes(gpt3, 2) == 2048 * 12288 * (34 + 5 * 96 * 2048 // 12288)
    True
    """
    sbh = x.s * x.b * x.h
    if recompute == "full":
        return Fraction(0 if cross else e * sbh)
    # replicated: block inputs (QKV, MLP) and dropout masks after attention and MLP, norms
    replicated = (e + 1) + e if cross else 2 * (e + 1) + 2 * e
    split = 4 * e if cross else 12 * e  # Q, K, V, out-proj input (and MLP: 2 × 4h)
    total = Fraction(replicated * sbh, t if sp else 1) + Fraction(split * sbh, t)
    if recompute == "none":
        total += Fraction(x.a * x.s * x.s_kv * x.b * (2 * e + 1), t)
    return total


def width(attention: Attention) -> int:
    """The model width ``h``: the attention's declared input width, else heads × head_dim."""
    return attention.hidden or attention.heads * attention.head_dim


def transformer_bytes(facts: ModelFacts, seq: int, batch: int, e: int, t: int, sp: bool,
                      recompute: str, encoder_length: int | None = None) -> Fraction:
    """Activation bytes of every layer for one micro-batch on one tensor-parallel rank."""
    enc = seq if encoder_length is None else encoder_length
    total = Fraction(0)
    for a, count in facts.attentions:
        x = Shape4(seq, enc if a.cross else seq, batch, width(a), a.heads)
        total += count * layer_bytes(x, e, t, sp, recompute, a.cross)
    return total


def layer_outputs_bytes(facts: ModelFacts, batch: int, e: int, seq: int | None) -> int | None:
    """torchinfo's forward/backward pass size: 2 × output elements × bytes, over every leaf
    layer with parameters, for the whole batch; None when an output has a dimension of
    unknown length and no ``seq`` fills it."""
    total = 0
    for shape, calls in facts.param_outputs:
        dims = [seq if d is None else d for d in shape]
        if any(d is None for d in dims):
            return None
        total += calls * math.prod(int(d) for d in dims if d is not None)
    return 2 * total * batch * e


def pipeline_whole(per_rank_all_layers: Fraction, pp: int) -> Fraction:
    """Activations summed over the ``pp`` stages of one pipeline (one tensor rank), 1F1B:
    stage ``k`` (from 0) holds ``pp - k`` micro-batches of ``L/pp`` layers; the first stage
    therefore holds ``L`` layers' worth, and all together ``L·(pp + 1)/2``."""
    return per_rank_all_layers * Fraction(pp + 1, 2)


def check_recompute(name: str) -> str:
    if name not in RECOMPUTE:
        raise SpecError(f"unknown recompute {name!r}; expected none, selective or full")
    return name


# -- serving: the prefill peak and the logits buffer -----------------------------------------

#: bytes of one logit: engines upcast the head's output to float32 before sampling (vLLM's
#: sampler, transformers' generate, llama.cpp's output buffer)
LOGIT_BYTES = 4


def prefill_peak_bytes(facts: ModelFacts, chunk: int, e: int) -> int:
    """Activation bytes alive at once while one layer runs over a prefill chunk of ``chunk``
    tokens: serving keeps no layer's activations for a backward pass, so the peak is inside
    the widest layer: the residual stream and its normed copy (``2h``) and the two widest
    projections' outputs alive together (an MLP's gate and up), at ``e`` bytes each.
    Attention scores are not counted: the fused kernels engines use (FlashAttention, SDPA)
    never hold them. An estimate from the layer widths, not a profile.

    >>> from paramcount.memory.facts import ModelFacts
    >>> f = ModelFacts("m", "m", "bf16", 0, 0, 0, attentions=((Attention(32, 128, hidden=4096),
    ...                1),), param_outputs=(((None, 14336), 64), ((None, 32000), 1)), vocab=32000)
    >>> prefill_peak_bytes(f, 2048, 2) == 2048 * 2 * (2 * 4096 + 2 * 14336)
    True
    """
    h = max((width(a) for a, _ in facts.attentions), default=0)
    return chunk * e * (2 * h + 2 * widest(facts))


def widest(facts: ModelFacts) -> int:
    """The widest output of a layer with parameters, the head's vocabulary excepted."""
    widths = [int(shape[-1]) for shape, _ in facts.param_outputs
              if shape and shape[-1] is not None and shape[-1] != facts.vocab]
    return max(widths, default=0)


def logits_bytes(facts: ModelFacts, rows: int) -> int:
    """The head's output for ``rows`` tokens, in float32 (0 without a known vocabulary).

    >>> from paramcount.memory.facts import ModelFacts
    >>> logits_bytes(ModelFacts("m", "m", "bf16", 0, 0, 0, vocab=128256), 256)
    131334144
    """
    return rows * (facts.vocab or 0) * LOGIT_BYTES
