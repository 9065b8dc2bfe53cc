"""The KV cache and recurrent state: what generation keeps for every sequence, by layer type.

Each attention module caches ``kv_per_token`` elements per token (its key and value heads times
their widths, ``head_dim`` as the model declares it; grouped- and multi-query attention cache
fewer heads than they query), for as many tokens as it attends to: the context, or its sliding
window when shorter (Gemma-2/3's local layers, Mistral); a latent cache such as DeepSeek's MLA
keeps ``kv_lora_rank + qk_rope_head_dim`` elements per token, however many heads read it; a
cross-attention module caches the encoder's output. A recurrent mixer (Mamba, Mamba-2, a gated
delta net) keeps a fixed state per sequence, whatever its length (:class:`Recurrent`).

Keys and values may be kept in different dtypes (llama.cpp's ``--cache-type-k/-v``: q8_0 is
34 bytes per 32 elements, 1.0625 B; q4_0 18 per 32, 0.5625 B); a latent cache is one tensor and
takes the key dtype, as llama.cpp keeps MLA's latent in its K cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from paramcount.errors import SpecError
from paramcount.layers.base import Attention
from paramcount.memory.facts import ModelFacts
from paramcount.memory.weights import dtype_bytes, per_element

FULL, SLIDING, LATENT, CROSS, STATE = ("full attention", "sliding window", "latent (MLA)",
                                       "cross-attention", "recurrent state")


@dataclass(frozen=True)
class KvPart:
    """One layer type's share of the cache on one GPU, for the whole batch.

    ``per_token``: bytes one sequence adds per cached token (0 for a recurrent state);
    ``tokens``: tokens each module keeps; ``per_sequence``: bytes one sequence keeps."""

    kind: str
    modules: int
    per_token: Fraction
    tokens: int
    per_sequence: Fraction
    bytes: int

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "modules": self.modules, "tokens": self.tokens,
                "bytes_per_token": _number(self.per_token),
                "bytes_per_sequence": _number(self.per_sequence), "bytes": self.bytes}


def _number(x: Fraction) -> int | float:
    """An integer when whole (JSON keeps it exact), else a float (a q4_0 cache's 0.5625 B)."""
    return x.numerator if x.denominator == 1 else float(x)


def kind(attention: Attention) -> str:
    """The layer type of a cached attention module.

    >>> kind(Attention(8, 64, window=4096)), kind(Attention(128, 192, cache_dims=576))
    ('sliding window', 'latent (MLA)')
    """
    if attention.cross:
        return CROSS
    if attention.cache_dims is not None:
        return LATENT
    return FULL if attention.window is None else SLIDING


def cached_tokens(attention: Attention, context: int, encoder_length: int) -> int:
    """Tokens one module keeps: the encoder's length for cross-attention, else the context
    or the sliding window, whichever is shorter.

    >>> cached_tokens(Attention(8, 64, window=4096), 32768, 0)
    4096
    """
    if attention.cross:
        return encoder_length
    return context if attention.window is None else min(context, attention.window)


def engine_tokens(attention: Attention, context: int, encoder_length: int, block: int = 1,
                  swa_extra: int = 0) -> int:
    """Tokens an engine keeps for one module: the context in whole pages of ``block`` tokens,
    a sliding window plus ``swa_extra`` (llama.cpp: one ubatch) or, paged, ``ceil(window /
    block) + 1`` pages (vLLM), whichever is shorter.

    >>> engine_tokens(Attention(8, 64, window=1024), 131072, 0, block=16)
    1040
    >>> engine_tokens(Attention(8, 64, window=1024), 131072, 0, swa_extra=512)
    1536
    """
    whole = -(-cached_tokens(Attention(1, 1, cross=attention.cross), context, encoder_length)
              // block) * block
    if attention.window is None or attention.cross:
        return whole
    if block > 1:
        return min(whole, (-(-attention.window // block) + 1) * block)
    return min(whole, attention.window + swa_extra)


def kv_heads_on_rank(attention: Attention, tp: int) -> int:
    """Key/value heads one tensor-parallel rank holds: its share, and a whole head when there
    are fewer heads than ranks (a head is never split: vLLM and Megatron replicate it)."""
    kv = attention.heads if attention.kv_heads is None else attention.kv_heads
    return math.ceil(kv / tp)


def per_token_on_rank(attention: Attention, tp: int) -> int:
    """Elements one tensor-parallel rank caches per token: its share of the key/value heads;
    a latent cache (``cache_dims``) is not split by heads and stays whole on every rank."""
    if tp == 1 or attention.cache_dims is not None:
        return attention.kv_per_token
    return kv_heads_on_rank(attention, tp) * (attention.head_dim + attention.value_dim)


def token_bytes(attention: Attention, tp: int, key: str, value: str) -> Fraction:
    """Bytes one token takes in one module on one rank, keys and values at their dtypes.

    >>> token_bytes(Attention(32, 128, kv_heads=8), 1, "q8_0", "q4_0")
    Fraction(1664, 1)
    """
    if attention.cache_dims is not None:
        return attention.cache_dims * dtype_bytes(key)
    return kv_heads_on_rank(attention, tp) * (attention.head_dim * dtype_bytes(key) +
                    attention.value_dim * dtype_bytes(value))


def parts(facts: ModelFacts, context: int, batch: int, key: str, value: str | None = None,
          encoder_length: int | None = None, tp: int = 1,
          state_dtype: str | None = None, block: int = 1, swa_extra: int = 0,
          full_kernel: bool = True) -> list[KvPart]:
    """The cache of one tensor-parallel rank by layer type (all layers: pipeline stages divide
    it afterwards), for ``batch`` sequences of ``context`` tokens; recurrent states at
    ``state_dtype`` (default: the key dtype), split over ranks by heads as vLLM shards them;
    ``block`` and ``swa_extra`` as an engine pages and pads (:func:`engine_tokens`);
    ``full_kernel`` False: a convolution keeps ``kernel - 1`` inputs (vLLM, llama.cpp)."""
    value = key if value is None else value
    enc = context if encoder_length is None else encoder_length
    groups: dict[tuple[str, int], tuple[int, Fraction]] = {}
    for a, count in facts.cached:
        tokens = (cached_tokens(a, context, enc) if block == 1 and not swa_extra
                  else engine_tokens(a, context, enc, block, swa_extra))
        at = (kind(a), tokens)
        modules, per_token = groups.get(at, (0, Fraction(0)))
        groups[at] = (modules + count, per_token + count * token_bytes(a, tp, key, value))
    out = [KvPart(k, n, per, tokens, per * tokens, math.ceil(per * tokens * batch))
           for (k, tokens), (n, per) in groups.items()]
    if facts.states:
        each = dtype_bytes(state_dtype or key)
        seq = sum((Fraction(math.ceil(s.elements(full_kernel) / tp) * n) * each
                   for s, n in facts.states),
                  Fraction(0))
        out.append(KvPart(STATE, sum(n for _, n in facts.states), Fraction(0), 0, seq,
                          math.ceil(seq * batch)))
    return out


def kv_cache_bytes(facts: ModelFacts, context: int, batch: int, dtype: str,
                   encoder_length: int | None = None, tp: int = 1, *,
                   value_dtype: str | None = None) -> int:
    """Bytes of the KV cache of every attention module on one tensor-parallel rank (all
    layers: pipeline stages divide it afterwards), for ``batch`` sequences; ``dtype`` is the
    keys' (and, unless ``value_dtype`` is given, the values') dtype.

    >>> from paramcount.memory.facts import ModelFacts
    >>> layers = ((Attention(32, 128, hidden=4096), 32),)
    >>> llama7b = ModelFacts("llama", "llama", "float16", 0, 0, 0, attentions=layers,
    ...                      cached=layers)
    >>> kv_cache_bytes(llama7b, 4096, 1, "fp16") == 2 * 2**30
    True
    """
    check_cached(facts)
    cached = [p for p in parts(facts, context, batch, dtype, value_dtype, encoder_length, tp)
              if p.kind != STATE]
    return math.ceil(sum((p.per_sequence for p in cached), Fraction(0)) * batch)


def check_cached(facts: ModelFacts) -> None:
    """A one-line error when the model keeps nothing per token or per sequence."""
    if facts.cached or facts.states:
        return
    what = ("only an encoder's attention, which runs once and caches nothing"
            if facts.attentions else "no attention layers that paramcount knows")
    raise SpecError(f"{facts.source} has {what}, so it has no KV cache; leave out --context")


def describe(facts: ModelFacts, context: int, batch: int, dtype: str,
             encoder_length: int | None = None, value_dtype: str | None = None) -> str:
    """The arithmetic in words, for the detail column."""
    modules = sum(count for _, count in facts.cached)
    enc = context if encoder_length is None else encoder_length
    widths = sorted({a.kv_per_token for a, _ in facts.cached})
    tokens = sorted({cached_tokens(a, context, enc) for a, _ in facts.cached})
    kinds = (f"K {per_element(dtype)} ({dtype}), V {per_element(value_dtype)} ({value_dtype})"
             if value_dtype not in (None, dtype) else f"{per_element(dtype)} ({dtype})")
    return (f"{modules} modules × {_span(widths)} per token × {_span(tokens)} tokens × batch "
            f"{batch} × {kinds}")


def describe_state(facts: ModelFacts, batch: int, dtype: str, full_kernel: bool = True) -> str:
    """The recurrent state's arithmetic in words."""
    modules = sum(n for _, n in facts.states)
    sizes = sorted({s.elements(full_kernel) for s, _ in facts.states})
    return (f"{modules} modules × {_span(sizes)} per sequence (convolution + state) × batch "
            f"{batch} × {per_element(dtype)} ({dtype}), whatever the context")


def _span(values: list[int]) -> str:
    if not values:
        return "0"
    return f"{values[0]:,}" if len(values) == 1 else f"{values[0]:,}..{values[-1]:,}"
