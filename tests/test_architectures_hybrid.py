"""Qwen3-Next (paramcount/architectures/hybrid.py) against transformers building the same model
on the meta device, module by module; its parameters active per token by hand."""

from __future__ import annotations

import pytest
from test_architectures_llamalike import idle_by_transformers
from test_sources_hf import build_with_transformers, check_against_transformers

import paramcount

SMALL = {"hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4,
         "num_key_value_heads": 2, "head_dim": 16, "num_hidden_layers": 4, "vocab_size": 128,
         "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
         "shared_expert_intermediate_size": 48, "linear_num_key_heads": 2,
         "linear_num_value_heads": 4, "linear_key_head_dim": 8, "linear_value_head_dim": 16,
         "pad_token_id": 0}

CASES = {
    "qwen3-next": ("Qwen3NextForCausalLM", {}),              # Qwen3-Next-80B-A3B's shape
    "qwen3-next-small": ("Qwen3NextForCausalLM", SMALL),
    "qwen3-next-interval-dense": ("Qwen3NextModel", {
        **SMALL, "num_hidden_layers": 6, "full_attention_interval": 3, "mlp_only_layers": [1],
        "attention_bias": True, "linear_conv_kernel_dim": 3}),
    "qwen3-next-layer-types-classifier": ("Qwen3NextForSequenceClassification", {
        **SMALL, "layer_types": ["full_attention", "linear_attention", "linear_attention",
                                 "full_attention"], "num_labels": 5}),
}


def _doc(name: str) -> dict:
    architecture, fields = CASES[name]
    return {"model_type": "qwen3_next", "architectures": [architecture], **fields}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    check_against_transformers(_doc(name))


def test_active_params():
    s = paramcount.summarize(_doc("qwen3-next"))
    # Qwen3-Next-80B-A3B: 48 sparse layers; each token skips 502 of 512 experts of
    # 3 × 2048 × 512 (the shared expert, its gate and the router count)
    assert s.figures["Active params per token"] == s.total_params - 48 * 502 * 3 * 2048 * 512
    model = build_with_transformers(_doc("qwen3-next-small"))
    small = paramcount.summarize(_doc("qwen3-next-small"))
    assert small.figures["Active params per token"] == small.total_params - \
        idle_by_transformers(model, 8, 2)


def test_linear_attention_layers_hold_no_kv_cache():
    s = paramcount.summarize(_doc("qwen3-next-small"))
    kinds = [(n.name, n.attention is not None) for _, n in s.root.walk()
             if n.name in ("self_attn", "linear_attn")]
    assert kinds == [("linear_attn", False)] * 3 + [("self_attn", True)]   # layer 3 is full


def test_bad_layer_types_name_the_field():
    from paramcount.errors import SpecError
    with pytest.raises(SpecError, match=r"layer_types=.* is invalid"):
        paramcount.summarize({**_doc("qwen3-next-small"), "layer_types": ["mamba"] * 4})


# -- Qwen3.5 (the text models; the released checkpoints nest these under text_config) ----------


QWEN3_5 = {
    # transformers' defaults: the shape of Qwen3.5-35B-A3B's language model (the checkpoint
    # its config class names)
    "qwen3.5-35b-a3b": ("qwen3_5_moe_text", "Qwen3_5MoeForCausalLM", {}),
    "qwen3.5-moe-small": ("qwen3_5_moe_text", "Qwen3_5MoeForCausalLM", SMALL),
    "qwen3.5-moe-small-base": ("qwen3_5_moe_text", "Qwen3_5MoeTextModel", {
        **SMALL, "layer_types": ["linear_attention", "full_attention"] * 2,
        "attention_bias": True, "linear_conv_kernel_dim": 3}),
    # Qwen3.5-27B's language model (dense): 64 layers of 5120, 24 query heads
    "qwen3.5-27b": ("qwen3_5_text", "Qwen3_5ForCausalLM", {
        "hidden_size": 5120, "intermediate_size": 17408, "num_hidden_layers": 64,
        "num_attention_heads": 24, "num_key_value_heads": 4, "head_dim": 256,
        "linear_num_key_heads": 16, "linear_num_value_heads": 48, "tie_word_embeddings": False}),
    "qwen3.5-small": ("qwen3_5_text", "Qwen3_5ForCausalLM", {
        k: v for k, v in SMALL.items() if "expert" not in k and "moe" not in k}),
    "qwen3.5-small-tied": ("qwen3_5_text", "Qwen3_5TextModel", {
        k: v for k, v in SMALL.items() if "expert" not in k and "moe" not in k}
        | {"tie_word_embeddings": True}),
}


def _doc3_5(name: str) -> dict:
    model_type, architecture, fields = QWEN3_5[name]
    return {"model_type": model_type, "architectures": [architecture], **fields}


@pytest.mark.parametrize("name", list(QWEN3_5))
def test_qwen3_5_equals_transformers(name):
    check_against_transformers(_doc3_5(name))


def test_qwen3_5_moe_active_params():
    s = paramcount.summarize(_doc3_5("qwen3.5-35b-a3b"))
    # 40 sparse layers; each token skips 248 of 256 experts of 3 × 2048 × 512
    assert s.figures["Active params per token"] == s.total_params - 40 * 248 * 3 * 2048 * 512
    model = build_with_transformers(_doc3_5("qwen3.5-moe-small"))
    small = paramcount.summarize(_doc3_5("qwen3.5-moe-small"))
    assert small.figures["Active params per token"] == small.total_params - \
        idle_by_transformers(model, 8, 2)


def test_qwen3_5_split_projections_and_kv_layers():
    s = paramcount.summarize(_doc3_5("qwen3.5-small"))
    names = {n.name for _, n in s.root.walk()}
    assert {"in_proj_qkv", "in_proj_z", "in_proj_b", "in_proj_a"} <= names
    assert not {"in_proj_qkvz", "in_proj_ba"} & names
    kinds = [(n.name, n.attention is not None) for _, n in s.root.walk()
             if n.name in ("self_attn", "linear_attn")]
    assert kinds == [("linear_attn", False)] * 3 + [("self_attn", True)]
