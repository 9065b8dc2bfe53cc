"""DeepSeek-V2 and V3: multi-head latent attention (MLA) and mixtures of experts with shared
experts, in a Llama-like layout.

MLA compresses keys and values (and in the large models queries) through low-rank projections:
``kv_a_proj_with_mqa`` maps the hidden state to ``kv_lora_rank`` plus one shared rotary key of
``qk_rope_head_dim``; ``kv_b_proj`` expands the normed latent to every head's key (no rotary
part) and value. The first ``first_k_dense_replace`` layers have a dense MLP, the rest routed
experts beside ``n_shared_experts`` always-active ones.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.decoders import HEADS, Decoder, Moe, _common, with_head
from paramcount.architectures.parts import Roles, attends, linear, module, norm, settles
from paramcount.tree import Node


def _mla(c: Config, d: Decoder) -> Node:
    """The attention block of DeepSeek-V2/V3 (``DeepseekV3Attention``): every head scores
    ``qk_nope_head_dim + qk_rope_head_dim`` dimensions and mixes values of ``v_head_dim``."""
    h, heads = d.hidden, d.heads
    q_rank = c.int("q_lora_rank", default=1536 if "q_lora_rank" not in c.doc else None)
    kv_rank = c.int("kv_lora_rank", default=512)
    nope = c.int("qk_nope_head_dim", default=128)
    rope = c.int("qk_rope_head_dim", default=64)
    v = c.int("v_head_dim", default=128)
    bias = c.bool("attention_bias", default=False)
    qk = heads * (nope + rope)
    if q_rank is None:
        parts = [linear("q_proj", h, qk, bias=False)]
    else:
        parts = [linear("q_a_proj", h, q_rank, bias), norm("q_a_layernorm", q_rank, "rmsnorm"),
                 linear("q_b_proj", q_rank, qk, bias=False)]
    parts += [linear("kv_a_proj_with_mqa", h, kv_rank + rope, bias),
              norm("kv_a_layernorm", kv_rank, "rmsnorm"),
              linear("kv_b_proj", kv_rank, heads * (nope + v), bias=False),
              linear("o_proj", heads * v, h, bias)]
    node = module("self_attn", f"{d.prefix}Attention", parts, h)
    latent = f"query rank {q_rank}, " if q_rank is not None else ""
    node.remark = f"latent attention: {heads} heads, {latent}key/value rank {kv_rank}"
    # transformers (>= 5) caches the compressed latent, before kv_b_proj expands it: one
    # normed kv_lora_rank vector and the one shared rotary key per token
    # (past_key_values.update(kv_nope, k_rot) in DeepseekV3Attention.forward), not the
    # decompressed keys and values of every head that transformers 4 cached
    return attends(node, heads, nope + rope, h, v_head_dim=v, cache_dims=kv_rank + rope)


def _deepseek(c: Config, head: str, roles: Roles, prefix: str, v3: bool) -> Node:
    if v3:
        d = _common(c, prefix, vocab=129280, hidden=7168, intermediate=18432, layers=61,
                    heads=128, kv=128)
    else:
        d = _common(c, prefix, vocab=102400, hidden=4096, intermediate=11008, layers=32,
                    heads=32, kv=32)
    d.mlp_bias = c.bool("mlp_bias", default=False) if not v3 else False
    experts = c.int("n_routed_experts", "num_local_experts" if v3 else "num_experts",
                    default=256 if v3 else 64, min=1)
    m = Moe(experts, c.int("num_experts_per_tok", default=8 if v3 else None),
            c.int("moe_intermediate_size", default=2048 if v3 else 1407),
            shared=c.int("moe_intermediate_size", default=2048 if v3 else 1407)
            * c.int("n_shared_experts", default=1 if v3 else 2, min=0),
            shared_name="shared_experts", score_bias=v3, router_first=False)
    first_dense = c.int("first_k_dense_replace", default=3 if v3 else 0, min=0)
    d.moe = settles(first_dense, lambda i: m if i >= first_dense else None)
    d.attention = lambda dec, i: _mla(c, dec)
    return with_head(d, c, head, roles)


@register("deepseek_v2", "DeepseekV2", HEADS)
def deepseek_v2(c: Config, head: str, roles: Roles) -> Node:
    return _deepseek(c, head, roles, "DeepseekV2", v3=False)


@register("deepseek_v3", "DeepseekV3", HEADS)
def deepseek_v3(c: Config, head: str, roles: Roles) -> Node:
    return _deepseek(c, head, roles, "DeepseekV3", v3=True)
