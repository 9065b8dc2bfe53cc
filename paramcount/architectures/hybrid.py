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
from paramcount.architectures.parts import Roles, conv, linear, module, norm, parameter, settles
from paramcount.layers.base import Recurrent
from paramcount.tree import Node

LINEAR, FULL = "linear_attention", "full_attention"


def delta_net(c: Config, d: Decoder, split: bool = False) -> Node:
    """One layer's gated delta net, its sizes read from the config (Qwen3NextConfig's defaults);
    ``split``: Qwen3.5's four input projections (queries-keys-values, gate, step, decay) in
    place of Qwen3-Next's two fused ones, the same weights in other matrices."""
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
             *_in_projections(d.hidden, keys, values, v_heads, split),
             norm("norm", v_dim, "rmsnorm"),
             linear("out_proj", values, d.hidden, bias=False)]
    node = module("linear_attn", f"{d.prefix}GatedDeltaNet", parts, d.hidden)
    node.remark = f"linear attention: {k_heads} key heads, {v_heads} value heads"
    # what transformers' cache keeps: the convolution's whole kernel, and per value head a
    # key-width × value-width matrix
    node.state = Recurrent(mixed, kernel, v_heads * c.int("linear_key_head_dim", default=128)
                           * v_dim)
    return node


def _in_projections(hidden: int, keys: int, values: int, v_heads: int, split: bool
                    ) -> list[Node]:
    """The delta net's input projections, fused (Qwen3-Next) or one per output (Qwen3.5)."""
    if split:
        return [linear("in_proj_qkv", hidden, 2 * keys + values, bias=False),
                linear("in_proj_z", hidden, values, bias=False),
                linear("in_proj_b", hidden, v_heads, bias=False),
                linear("in_proj_a", hidden, v_heads, bias=False)]
    return [linear("in_proj_qkvz", hidden, 2 * keys + 2 * values, bias=False),
            linear("in_proj_ba", hidden, 2 * v_heads, bias=False)]


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


# -- Qwen3.5: Qwen3-Next's layers with the delta net's projections split; dense or every layer
# sparse (no mlp_only_layers, no decoder_sparse_step); the language models of the released
# Qwen3.5 checkpoints (their configs nest these under text_config)

#: the class-name suffixes of the text models: "Qwen3_5ForCausalLM", "Qwen3_5TextModel"
TEXT_HEADS = ("ForCausalLM", "TextModel")


def _qwen3_5(c: Config, head: str, roles: Roles, prefix: str, moe: bool) -> Node:
    if moe:
        d = _common(c, prefix, vocab=248320, hidden=2048, intermediate=5632, layers=40,
                    heads=16, kv=2, head_dim=256)
    else:
        d = _common(c, prefix, vocab=248320, hidden=4096, intermediate=12288, layers=32,
                    heads=16, kv=4, head_dim=256)
    d.qkv_bias = d.o_bias = c.bool("attention_bias", default=False)
    d.qk_norm, d.query_gate = "head", True
    if moe:
        m = Moe(c.int("num_experts", default=256, min=1), c.int("num_experts_per_tok", default=8),
                c.int("moe_intermediate_size", default=512),
                shared=c.int("shared_expert_intermediate_size", default=512, min=0),
                shared_gate=True)
        d.moe = settles(0, lambda i: m)
    d.kind = _layer_kinds(c, d.layers)
    d.attention = lambda dec, i: (delta_net(c, dec, split=True) if dec.kind(i) == LINEAR
                                  else attention(dec, i))
    return with_head(d, c, head, roles)


@register("qwen3_5_text", "Qwen3_5", TEXT_HEADS, base="TextModel")
def qwen3_5_text(c: Config, head: str, roles: Roles) -> Node:
    return _qwen3_5(c, head, roles, "Qwen3_5", moe=False)


@register("qwen3_5_moe_text", "Qwen3_5Moe", TEXT_HEADS, base="TextModel")
def qwen3_5_moe_text(c: Config, head: str, roles: Roles) -> Node:
    return _qwen3_5(c, head, roles, "Qwen3_5Moe", moe=True)
