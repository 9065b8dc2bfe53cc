"""Qwen3-Next: a mixture of experts whose layers mix tokens in two ways, three of every four by
gated delta-net linear attention (``linear_attn``: a recurrent state, no key/value cache), the
fourth by full attention whose query projection also makes an output gate.

The gated delta net (``Qwen3NextGatedDeltaNet``) projects the hidden state to queries and keys
(``linear_num_key_heads`` of ``linear_key_head_dim``), values and an output gate
(``linear_num_value_heads`` of ``linear_value_head_dim``) in ``in_proj_qkvz``, and to each value
head's decay and step in ``in_proj_ba``; a depthwise causal convolution runs over queries, keys
and values; ``A_log`` and ``dt_bias`` hold one decay rate and one step bias per value head; a
gated RMSNorm over each value head precedes ``out_proj``.
"""

from __future__ import annotations

from collections.abc import Callable

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.decoders import (
    HEADS,
    Decoder,
    Moe,
    _common,
    _qwen_sparse,
    attention,
    with_head,
)
from paramcount.architectures.parts import Roles, conv, linear, module, norm, parameter
from paramcount.layers.base import Recurrent
from paramcount.tree import Node

LINEAR, FULL = "linear_attention", "full_attention"


def delta_net(c: Config, d: Decoder) -> Node:
    """One layer's gated delta net, its sizes read from the config (Qwen3NextConfig's defaults)."""
    k_heads = c.int("linear_num_key_heads", default=16)
    v_heads = c.int("linear_num_value_heads", default=32)
    keys = k_heads * c.int("linear_key_head_dim", default=128)
    v_dim = c.int("linear_value_head_dim", default=128)
    values = v_heads * v_dim
    kernel = c.int("linear_conv_kernel_dim", default=4)
    mixed = 2 * keys + values  # queries, keys and values pass through the convolution
    parts = [parameter("dt_bias", (v_heads,)), parameter("A_log", (v_heads,)),
             conv("conv1d", mixed, mixed, (kernel,), (mixed, None), padding=kernel - 1,
                  bias=False, groups=mixed),
             linear("in_proj_qkvz", d.hidden, 2 * keys + 2 * values, bias=False),
             linear("in_proj_ba", d.hidden, 2 * v_heads, bias=False),
             norm("norm", v_dim, "rmsnorm"),
             linear("out_proj", values, d.hidden, bias=False)]
    node = module("linear_attn", f"{d.prefix}GatedDeltaNet", parts, d.hidden)
    node.remark = f"linear attention: {k_heads} key heads, {v_heads} value heads"
    # what transformers' cache keeps: the convolution's whole kernel, and per value head a
    # key-width × value-width matrix
    node.state = Recurrent(mixed, kernel, v_heads * c.int("linear_key_head_dim", default=128)
                           * v_dim)
    return node


def _layer_kinds(c: Config, layers: int) -> Callable[[int], str]:
    """``layer_types``, or every ``full_attention_interval``-th layer full, the rest linear."""
    types = c.raw("layer_types")
    if types is not None:
        if not isinstance(types, list) or len(types) != layers or not set(types) <= {
                LINEAR, FULL}:
            raise c.error("layer_types", types, f"is invalid; expected a list of {layers} of "
                          f"'{LINEAR}' and '{FULL}'")
        return lambda i: str(types[i])
    every = c.int("full_attention_interval", default=4)
    return lambda i: LINEAR if (i + 1) % every else FULL


@register("qwen3_next", "Qwen3Next", HEADS)
def qwen3_next(c: Config, head: str, roles: Roles) -> Node:
    d = _common(c, "Qwen3Next", vocab=151936, hidden=2048, intermediate=5632, layers=48,
                heads=16, kv=2, head_dim=256)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    d.qk_norm, d.query_gate = "head", True
    m = Moe(c.int("num_experts", default=512, min=0), c.int("num_experts_per_tok", default=10),
            c.int("moe_intermediate_size", default=512),
            shared=c.int("shared_expert_intermediate_size", default=512, min=0),
            shared_gate=True)
    d.moe = _qwen_sparse(c, m)
    d.kind = _layer_kinds(c, d.layers)
    d.attention = lambda dec, i: delta_net(c, dec) if dec.kind(i) == LINEAR else attention(dec, i)
    return with_head(d, c, head, roles)
