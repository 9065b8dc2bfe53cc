"""Qwen3-VL, Qwen3-VL-MoE, Qwen3.5 and Qwen3.5-MoE (paramcount/architectures/qwen3_vl.py)
against transformers building the same model on the meta device, module by module."""

from __future__ import annotations

import pytest
from test_architectures_llamalike import idle_by_transformers
from test_sources_hf import build_with_transformers, check_against_transformers

import paramcount

VISION_SMALL = {"depth": 3, "hidden_size": 32, "intermediate_size": 48, "num_heads": 2,
                "out_hidden_size": 64, "patch_size": 4, "num_position_embeddings": 16,
                "deepstack_visual_indexes": [0, 2]}
TEXT_SMALL = {"hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4,
              "num_key_value_heads": 2, "head_dim": 16, "num_hidden_layers": 4,
              "vocab_size": 128}
MOE_SMALL = {"num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32}
DELTA_SMALL = {"linear_num_key_heads": 2, "linear_num_value_heads": 4,
               "linear_key_head_dim": 8, "linear_value_head_dim": 16}
#: the released checkpoints' vision transformer (Qwen3-VL and Qwen3.5 alike)
VISION = {"depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16,
          "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
          "num_position_embeddings": 2304}

CASES = {
    # transformers' defaults
    "qwen3-vl-defaults": ("qwen3_vl", "Qwen3VLForConditionalGeneration", {}),
    # Qwen3-VL-8B-Instruct's config.json
    "qwen3-vl-8b": ("qwen3_vl", "Qwen3VLForConditionalGeneration", {
        "text_config": {"hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
                        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
                        "vocab_size": 151936},
        "vision_config": {**VISION, "out_hidden_size": 4096,
                          "deepstack_visual_indexes": [8, 16, 24]}}),
    "qwen3-vl-small-tied": ("qwen3_vl", "Qwen3VLForConditionalGeneration", {
        "text_config": TEXT_SMALL, "vision_config": VISION_SMALL, "tie_word_embeddings": True}),
    "qwen3-vl-small-base": ("qwen3_vl", "Qwen3VLModel", {
        "text_config": TEXT_SMALL, "vision_config": VISION_SMALL}),
    # Qwen3-VL-30B-A3B-Instruct's config.json
    "qwen3-vl-30b-a3b": ("qwen3_vl_moe", "Qwen3VLMoeForConditionalGeneration", {
        "text_config": {"hidden_size": 2048, "intermediate_size": 6144,
                        "moe_intermediate_size": 768, "num_hidden_layers": 48,
                        "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128,
                        "num_experts": 128, "num_experts_per_tok": 8, "vocab_size": 151936},
        "vision_config": {**VISION, "out_hidden_size": 2048,
                          "deepstack_visual_indexes": [8, 16, 24]}}),
    "qwen3-vl-moe-small": ("qwen3_vl_moe", "Qwen3VLMoeForConditionalGeneration", {
        "text_config": {**TEXT_SMALL, **MOE_SMALL, "mlp_only_layers": [0]},
        "vision_config": VISION_SMALL}),
    # Qwen3.5-35B-A3B: its language model is transformers' default text config
    "qwen3.5-35b-a3b": ("qwen3_5_moe", "Qwen3_5MoeForConditionalGeneration", {
        "text_config": {}, "vision_config": {**VISION, "out_hidden_size": 2048}}),
    "qwen3.5-moe-small": ("qwen3_5_moe", "Qwen3_5MoeForConditionalGeneration", {
        "text_config": {**TEXT_SMALL, **MOE_SMALL, **DELTA_SMALL,
                        "shared_expert_intermediate_size": 48},
        "vision_config": {k: v for k, v in VISION_SMALL.items()
                          if k != "deepstack_visual_indexes"}}),
    # Qwen3.5-27B (dense): 64 layers of 5120
    "qwen3.5-27b": ("qwen3_5", "Qwen3_5ForConditionalGeneration", {
        "text_config": {"hidden_size": 5120, "intermediate_size": 17408,
                        "num_hidden_layers": 64, "num_attention_heads": 24,
                        "num_key_value_heads": 4, "head_dim": 256, "linear_num_key_heads": 16,
                        "linear_num_value_heads": 48},
        "vision_config": {**VISION, "out_hidden_size": 5120}}),
    "qwen3.5-small-base": ("qwen3_5", "Qwen3_5Model", {
        "text_config": {**TEXT_SMALL, **DELTA_SMALL},
        "vision_config": {k: v for k, v in VISION_SMALL.items()
                          if k != "deepstack_visual_indexes"}}),
}


def _doc(name: str) -> dict:
    model_type, architecture, fields = CASES[name]
    return {"model_type": model_type, "architectures": [architecture], **fields}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    check_against_transformers(_doc(name))


@pytest.mark.parametrize("name, experts, active", [
    ("qwen3-vl-moe-small", 8, 2), ("qwen3.5-moe-small", 8, 2)])
def test_active_params(name, experts, active):
    model = build_with_transformers(_doc(name))
    s = paramcount.summarize(_doc(name))
    assert s.figures["Active params per token"] == s.total_params - \
        idle_by_transformers(model, experts, active)


def test_active_params_released():
    s = paramcount.summarize(_doc("qwen3-vl-30b-a3b"))
    # 48 sparse layers; each token skips 120 of 128 experts of 3 × 2048 × 768
    assert s.figures["Active params per token"] == s.total_params - 48 * 120 * 3 * 2048 * 768


@pytest.mark.parametrize("name, per_token", [
    ("qwen3-vl-8b", 36 * 2 * 8 * 128), ("qwen3-vl-30b-a3b", 48 * 2 * 4 * 128),
    ("qwen3.5-35b-a3b", 10 * 2 * 2 * 256),      # one layer in four is full attention
    ("qwen3.5-27b", 16 * 2 * 4 * 256)])
def test_kv_cache_finds_the_language_models_attention(name, per_token):
    from paramcount import memory
    est = memory.estimate(paramcount.summarize(_doc(name)), dtype="bf16", context=4096)
    assert est.component("KV cache").per_gpu == per_token * 2 * 4096
