"""DeepSeek-V3.2 (paramcount/architectures/deepseek.py) against transformers building the same
model on the meta device, module by module; its active parameters and cache by hand."""

from __future__ import annotations

import pytest
from test_architectures_llamalike import idle_by_transformers
from test_sources_hf import build_with_transformers, check_against_transformers

import paramcount

SMALL = {"hidden_size": 256, "intermediate_size": 512, "moe_intermediate_size": 64,
         "num_attention_heads": 4, "num_key_value_heads": 4, "num_hidden_layers": 4,
         "vocab_size": 256, "n_routed_experts": 8, "n_group": 2, "topk_group": 1,
         "num_experts_per_tok": 2, "first_k_dense_replace": 1, "q_lora_rank": 64,
         "kv_lora_rank": 32, "qk_rope_head_dim": 16, "qk_nope_head_dim": 32, "v_head_dim": 32,
         "index_n_heads": 4, "index_head_dim": 32, "index_topk": 8}

CASES = {
    # DeepSeek-V3.2-Exp's config.json: transformers' defaults (61 layers of 7168, 256 experts,
    # 64 indexer heads of 128)
    "deepseek-v3.2-exp": ("DeepseekV32ForCausalLM", {}),
    "deepseek-v3.2-small": ("DeepseekV32ForCausalLM", SMALL),
    "deepseek-v3.2-small-base-bias": ("DeepseekV32Model", {**SMALL, "attention_bias": True}),
    "deepseek-v3.2-mlp-layer-types": ("DeepseekV32ForCausalLM", {
        **SMALL, "mlp_layer_types": ["dense", "sparse", "dense", "sparse"]}),
}


def _doc(name: str) -> dict:
    architecture, fields = CASES[name]
    return {"model_type": "deepseek_v32", "architectures": [architecture], **fields}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    check_against_transformers(_doc(name))


def test_published_total():
    # DeepSeek-V3.2-Exp's model card: 685B parameters, of which the main model 671B plus the
    # 14B multi-token-prediction module transformers does not build; V3's 671,026,419,200
    # (tests/test_architectures_decoders.py's deepseek-v3) plus 61 indexers by hand
    per_indexer = 1536 * 64 * 128 + 7168 * 128 + 2 * 128 + 7168 * 64
    s = paramcount.summarize(_doc("deepseek-v3.2-exp"))
    v3 = paramcount.summarize({"model_type": "deepseek_v3",
                               "architectures": ["DeepseekV3ForCausalLM"]})
    assert s.total_params == v3.total_params + 61 * per_indexer


@pytest.mark.parametrize("name, sparse", [("deepseek-v3.2-small", 3),
                                          ("deepseek-v3.2-mlp-layer-types", 2)])
def test_active_params(name, sparse):
    model = build_with_transformers(_doc(name))
    s = paramcount.summarize(_doc(name))
    assert idle_by_transformers(model, 8, 2) == sparse * 6 * 3 * 256 * 64
    assert s.figures["Active params per token"] == s.total_params - \
        idle_by_transformers(model, 8, 2)


def test_kv_cache_holds_latent_and_indexer_keys():
    from paramcount import memory
    est = memory.estimate(paramcount.summarize(_doc("deepseek-v3.2-exp")), dtype="bf16",
                          context=4096)
    # per layer and token: the 512-wide latent, the 64-wide rotary key, the indexer's 128 key
    assert est.component("KV cache").per_gpu == 61 * (512 + 64 + 128) * 2 * 4096
