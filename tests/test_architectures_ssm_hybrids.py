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
TINY_ZAMBA2 = {"hidden_size": 32, "num_hidden_layers": 6, "vocab_size": 100,
               "num_attention_heads": 4, "num_key_value_heads": 4, "intermediate_size": 64,
               "mamba_d_state": 8, "n_mamba_heads": 8, "mamba_ngroups": 1, "adapter_rank": 4,
               "num_mem_blocks": 2, "layers_block_type": [
                   "mamba", "hybrid", "hybrid", "mamba", "hybrid", "hybrid"]}

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
    "zamba2-tiny": ("zamba2", "Zamba2ForCausalLM", TINY_ZAMBA2),
    "zamba2-tiny-adapters-untied": ("zamba2", "Zamba2ForCausalLM", {
        **TINY_ZAMBA2, "use_shared_attention_adapter": True, "tie_word_embeddings": False,
        "num_mem_blocks": 1, "add_bias_linear": True, "num_key_value_heads": 2}),
    "zamba2-tiny-backbone-legacy-names": ("zamba2", "Zamba2Model", {
        **TINY_ZAMBA2, "num_mem_blocks": 3, "layers_block_type": [
            "mamba", "hybrid", "linear_attention", "hybrid", "hybrid", "hybrid"]}),
    "zamba2-defaults": ("zamba2", "Zamba2ForCausalLM", {}),
    # a Zamba2-2.7B-class shape: Zamba2Config's 54 default layers with two shared blocks
    "zamba2-2.7b-shape": ("zamba2", "Zamba2ForCausalLM", {
        "hidden_size": 2560, "num_attention_heads": 32, "intermediate_size": 10240,
        "n_mamba_heads": 80, "mamba_d_state": 64, "num_mem_blocks": 2, "adapter_rank": 128,
        "vocab_size": 32000}),
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


def test_zamba2_shared_blocks_by_hand():
    # TINY_ZAMBA2: hidden 32, 4 hybrid layers, 2 shared blocks. One block: q, k, v 64 × 64
    # each (4 heads of 2 × 32 / 4 = 16, over the doubled width 64), o 64 × 32, gate_up
    # 32 × 128, down 64 × 32, its 2 adapter slots of 32 × 4 + 4 × 128, norms 64 + 32
    block = 3 * 64 * 64 + 64 * 32 + 32 * 128 + 64 * 32 + 2 * (32 * 4 + 4 * 128) + 64 + 32
    tied = paramcount.summarize(_doc("zamba2-tiny"))
    blocks = {n.params for _, n in tied.root.walk() if n.name == "shared_transformer"}
    assert blocks == {block, 0}
    # untied embeddings untie the blocks too (transformers' one switch): 2 more blocks, and
    # the LM head's 100 × 32
    untied = paramcount.summarize({**_doc("zamba2-tiny"), "tie_word_embeddings": False})
    assert untied.total_params - tied.total_params == 2 * block + 100 * 32


def test_hybrids_keep_kv_on_attention_and_state_on_mamba():
    s = paramcount.summarize(_doc("bamba-tiny"))
    nodes = [n for _, n in s.root.walk() if n.name in ("self_attn", "mamba")]
    assert {n.name for n in nodes if n.attention is not None} == {"self_attn"}
    # Bamba tiny: inner 64, 2 groups of state 8: conv over 64 + 32 = 96 channels × kernel 4;
    # 8 heads of 64 / 8 = 8 × state 8
    assert {(n.state.channels, n.state.kernel, n.state.ssm) for n in nodes
            if n.name == "mamba"} == {(96, 4, 512)}
