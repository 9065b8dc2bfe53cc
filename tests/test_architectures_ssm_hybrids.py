"""Jamba, Bamba, Falcon-H1 and Zamba2 (paramcount/architectures/ssm_hybrids.py) against
transformers building the same model on the meta device, module by module, at tiny sizes and at
released models' shapes (configs written here as their repos give them)."""

from __future__ import annotations

import pytest
from test_sources_hf import build_with_transformers, check_against_transformers

import paramcount

TINY_JAMBA = {"hidden_size": 32, "num_hidden_layers": 4, "vocab_size": 100,
              "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64,
              "mamba_d_state": 8, "attn_layer_period": 2, "attn_layer_offset": 1,
              "expert_layer_period": 2, "expert_layer_offset": 0, "num_experts": 4,
              "num_experts_per_tok": 2}
TINY_BAMBA = {"hidden_size": 32, "num_hidden_layers": 3, "vocab_size": 100,
              "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64,
              "mamba_d_state": 8, "mamba_n_heads": 8, "mamba_n_groups": 2,
              "attn_layer_indices": [1]}
TINY_FALCON_H1 = {"hidden_size": 32, "num_hidden_layers": 2, "vocab_size": 100,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
                  "intermediate_size": 64, "mamba_d_ssm": 48, "mamba_d_state": 8,
                  "mamba_n_heads": 6, "mamba_n_groups": 1}

CASES = {
    "jamba-tiny": ("jamba", "JambaForCausalLM", TINY_JAMBA),
    "jamba-tiny-dense-biased": ("jamba", "JambaModel", {
        **TINY_JAMBA, "num_experts": 1, "mamba_proj_bias": True, "mamba_conv_bias": False,
        "mamba_dt_rank": 5, "mamba_expand": 3, "mamba_d_conv": 3}),
    "jamba-tiny-tied": ("jamba", "JambaForCausalLM", {**TINY_JAMBA,
                                                      "tie_word_embeddings": True}),
    # ai21labs/Jamba-v0.1
    "jamba-v0.1": ("jamba", "JambaForCausalLM", {
        "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 65536,
        "num_experts": 16, "num_experts_per_tok": 2, "expert_layer_period": 2,
        "expert_layer_offset": 1, "attn_layer_period": 8, "attn_layer_offset": 4,
        "mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2, "mamba_dt_rank": 256,
        "mamba_conv_bias": True, "mamba_proj_bias": False, "tie_word_embeddings": False}),
    # ai21labs/AI21-Jamba-1.5-Mini
    "jamba-1.5-mini": ("jamba", "JambaForCausalLM", {
        "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 65536,
        "num_experts": 16, "num_experts_per_tok": 2, "expert_layer_period": 2,
        "expert_layer_offset": 1, "attn_layer_period": 8, "attn_layer_offset": 4,
        "mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2, "mamba_dt_rank": 256,
        "mamba_conv_bias": True, "mamba_proj_bias": False, "tie_word_embeddings": False}),
    "bamba-tiny": ("bamba", "BambaForCausalLM", TINY_BAMBA),
    "bamba-tiny-biased-backbone": ("bamba", "BambaModel", {
        **TINY_BAMBA, "attention_bias": True, "mlp_bias": True, "mamba_proj_bias": True,
        "mamba_conv_bias": False, "mamba_n_heads": 16, "mamba_d_head": 4,
        "attn_layer_indices": None}),
    # ibm-ai-platform/Bamba-9B
    "bamba-9b": ("bamba", "BambaForCausalLM", {
        "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
        "attn_layer_indices": [9, 18, 27], "mamba_n_heads": 128, "mamba_d_head": 64,
        "mamba_n_groups": 1, "mamba_d_state": 128, "mamba_d_conv": 4, "mamba_expand": 2,
        "mamba_conv_bias": True, "mamba_proj_bias": False, "tie_word_embeddings": False}),
    "falcon-h1-tiny": ("falcon_h1", "FalconH1ForCausalLM", TINY_FALCON_H1),
    "falcon-h1-tiny-norm-biased-backbone": ("falcon_h1", "FalconH1Model", {
        **TINY_FALCON_H1, "mamba_rms_norm": True, "projectors_bias": True,
        "mamba_proj_bias": True, "mamba_conv_bias": False, "attention_bias": True,
        "mlp_bias": True, "mamba_n_groups": 2}),
    "falcon-h1-tiny-expand-tied": ("falcon_h1", "FalconH1ForCausalLM", {
        **TINY_FALCON_H1, "mamba_d_ssm": None, "mamba_expand": 2, "mamba_n_heads": 8,
        "tie_word_embeddings": True}),
    # the shape of a small Falcon-H1 (0.5B-class: 36 layers of 1024, mixer 1536 wide)
    "falcon-h1-0.5b-shape": ("falcon_h1", "FalconH1ForCausalLM", {
        "hidden_size": 1024, "intermediate_size": 2048, "num_hidden_layers": 36,
        "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 64,
        "vocab_size": 32784, "mamba_d_ssm": 1536, "mamba_n_heads": 24, "mamba_d_head": 64,
        "mamba_d_state": 128, "mamba_n_groups": 1, "mamba_d_conv": 4,
        "mamba_rms_norm": False, "projectors_bias": False, "tie_word_embeddings": False}),
}


def _doc(name: str) -> dict:
    model_type, architecture, fields = CASES[name]
    return {"model_type": model_type, "architectures": [architecture], **fields}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    check_against_transformers(_doc(name))


def test_jamba_active_parameters_by_hand():
    # Jamba-v0.1: experts on the 16 odd layers; each token skips 14 of 16 experts of
    # 3 × 4096 × 14336 (the router counts)
    s = paramcount.summarize(_doc("jamba-v0.1"))
    assert s.figures["Active params per token"] == s.total_params - 16 * 14 * 3 * 4096 * 14336


@pytest.mark.parametrize("name", ["jamba-tiny", "jamba-v0.1"])
def test_jamba_active_parameters_equal_transformers_experts(name):
    s = paramcount.summarize(_doc(name))
    model = build_with_transformers(_doc(name))
    fields = CASES[name][2]
    experts, active = fields["num_experts"], fields["num_experts_per_tok"]
    idle = sum((experts - active) * sum(p.numel() for p in m.parameters()) // experts
               for n, m in model.named_modules() if n.endswith(".experts"))
    assert s.figures["Active params per token"] == sum(
        p.numel() for p in model.parameters()) - idle
