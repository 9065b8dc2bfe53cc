"""DeepSeek-V2 and V3: multi-head latent attention (MLA) and mixtures of experts with shared
experts, in a Llama-like layout.

MLA compresses keys and values (and in the large models queries) through low-rank projections:
``kv_a_proj_with_mqa`` maps the hidden state to ``kv_lora_rank`` plus one shared rotary key of
``qk_rope_head_dim``; ``kv_b_proj`` expands the normed latent to every head's key (no rotary
part) and value. The first ``first_k_dense_replace`` layers have a dense MLP, the rest routed
experts beside ``n_shared_experts`` always-active ones.

DeepSeek-V3.2 (``deepseek_v32``) is V3 with DeepSeek sparse attention: each attention block
holds a lightning ``indexer`` (``index_n_heads`` query heads of ``index_head_dim`` read from the
query latent, one shared key from the hidden state, a LayerNorm on it and a per-head weight)
that picks the ``index_topk`` keys each query attends to; its keys are cached beside the latent.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.decoders import HEADS, Decoder, Moe, _common, with_head
from paramcount.architectures.parts import Roles, attends, linear, module, norm, settles
from paramcount.tree import Node


def _indexer(c: Config, h: int, q_rank: int) -> tuple[Node, int]:
    """DeepSeek-V3.2's ``DeepseekV32Indexer`` and the key width it caches per token."""
    heads = c.int("index_n_heads", default=64)
    dim = c.int("index_head_dim", default=128)
    parts = [linear("wq_b", q_rank, heads * dim, bias=False), linear("wk", h, dim, bias=False),
             norm("k_norm", dim), linear("weights_proj", h, heads, bias=False)]
    node = module("indexer", "DeepseekV32Indexer", parts, h)
    top = c.int("index_topk", default=2048)
    node.remark = f"sparse-attention indexer: {heads} heads, top {top}"
    return node, dim


def _mla(c: Config, d: Decoder, indexed: bool = False) -> Node:
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
    cached = kv_rank + rope
    if indexed:
        if q_rank is None:
            raise c.error("q_lora_rank", None, "is required by DeepSeek-V3.2's indexer")
        indexer, key = _indexer(c, h, q_rank)
        parts.append(indexer)
        cached += key
    node = module("self_attn", f"{d.prefix}Attention", parts, h)
    latent = f"query rank {q_rank}, " if q_rank is not None else ""
    node.remark = f"latent attention: {heads} heads, {latent}key/value rank {kv_rank}"
    # transformers (>= 5) caches the compressed latent, before kv_b_proj expands it: one
    # normed kv_lora_rank vector and the one shared rotary key per token
    # (past_key_values.update(kv_nope, k_rot) in DeepseekV3Attention.forward), not the
    # decompressed keys and values of every head that transformers 4 cached
    return attends(node, heads, nope + rope, h, v_head_dim=v, cache_dims=cached)


def _deepseek(c: Config, head: str, roles: Roles, prefix: str, v3: bool,
              indexed: bool = False) -> Node:
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
    kinds = c.raw("mlp_layer_types") if indexed else None
    if kinds is not None:  # V3.2's explicit list of "dense" and "sparse" layers
        if not isinstance(kinds, list) or len(kinds) != d.layers or not set(kinds) <= {
                "dense", "sparse"}:
            raise c.error("mlp_layer_types", kinds, f"is invalid; expected a list of "
                          f"{d.layers} of 'dense' and 'sparse'")
        d.moe = lambda i: m if kinds[i] == "sparse" else None
    else:
        d.moe = settles(first_dense, lambda i: m if i >= first_dense else None)
    d.attention = lambda dec, i: _mla(c, dec, indexed)
    return with_head(d, c, head, roles)


@register("deepseek_v2", "DeepseekV2", HEADS)
def deepseek_v2(c: Config, head: str, roles: Roles) -> Node:
    return _deepseek(c, head, roles, "DeepseekV2", v3=False)


@register("deepseek_v3", "DeepseekV3", HEADS)
def deepseek_v3(c: Config, head: str, roles: Roles) -> Node:
    return _deepseek(c, head, roles, "DeepseekV3", v3=True)


@register("deepseek_v32", "DeepseekV32", HEADS)
def deepseek_v32(c: Config, head: str, roles: Roles) -> Node:
    return _deepseek(c, head, roles, "DeepseekV32", v3=True, indexed=True)
