"""The KV cache: what generation keeps for every token it has seen, per attention module.

Each attention module caches ``kv_per_token`` elements per token (its key and value heads times
their widths; grouped- and multi-query attention cache fewer heads than they query; a latent
cache such as DeepSeek's its latent width), for as many tokens as it attends to: the context, or
its sliding window when shorter; a cross-attention module caches the encoder's output instead.
"""

from __future__ import annotations

import math

from paramcount.errors import SpecError
from paramcount.layers.base import Attention
from paramcount.memory.facts import ModelFacts
from paramcount.memory.weights import dtype_bytes, per_element


def cached_tokens(attention: Attention, context: int, encoder_length: int) -> int:
    """Tokens one module keeps: the encoder's length for cross-attention, else the context
    or the sliding window, whichever is shorter.

    >>> cached_tokens(Attention(8, 64, window=4096), 32768, 0)
    4096
    """
    if attention.cross:
        return encoder_length
    return context if attention.window is None else min(context, attention.window)


def per_token_on_rank(attention: Attention, tp: int) -> int:
    """Elements one tensor-parallel rank caches per token: its share of the key/value heads
    (a head is never split, so fewer heads than ranks are replicated, as Megatron does); a
    latent cache (``cache_dims``) is not split by heads and stays whole on every rank."""
    if tp == 1 or attention.cache_dims is not None:
        return attention.kv_per_token
    kv = attention.heads if attention.kv_heads is None else attention.kv_heads
    return math.ceil(kv / tp) * (attention.head_dim + attention.value_dim)


def kv_cache_bytes(facts: ModelFacts, context: int, batch: int, dtype: str,
                   encoder_length: int | None = None, tp: int = 1) -> int:
    """Bytes of the KV cache of every attention module on one tensor-parallel rank (all
    layers: pipeline stages divide it afterwards), for ``batch`` sequences.

    >>> from paramcount.memory.facts import ModelFacts
    >>> layers = ((Attention(32, 128, hidden=4096), 32),)
    >>> llama7b = ModelFacts("llama", "llama", "float16", 0, 0, 0, attentions=layers,
    ...                      cached=layers)
    >>> kv_cache_bytes(llama7b, 4096, 1, "fp16") == 2 * 2**30
    True
    """
    if not facts.cached:
        what = ("only an encoder's attention, which runs once and caches nothing"
                if facts.attentions else "no attention layers that paramcount knows")
        raise SpecError(f"{facts.source} has {what}, so it has no KV cache; "
                        "leave out --context")
    per_element = dtype_bytes(dtype)
    enc = context if encoder_length is None else encoder_length
    elements = sum(count * per_token_on_rank(a, tp) * cached_tokens(a, context, enc)
                   for a, count in facts.cached)
    return math.ceil(elements * batch * per_element)


def describe(facts: ModelFacts, context: int, batch: int, dtype: str,
             encoder_length: int | None = None) -> str:
    """The arithmetic in words, for the detail column."""
    modules = sum(count for _, count in facts.cached)
    enc = context if encoder_length is None else encoder_length
    widths = sorted({a.kv_per_token for a, _ in facts.cached})
    tokens = sorted({cached_tokens(a, context, enc) for a, _ in facts.cached})
    return (f"{modules} modules × {_span(widths)} per token × {_span(tokens)} tokens × batch "
            f"{batch} × {per_element(dtype)} ({dtype})")


def _span(values: list[int]) -> str:
    return f"{values[0]:,}" if len(values) == 1 else f"{values[0]:,}..{values[-1]:,}"
