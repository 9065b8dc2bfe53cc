"""Gemma 3n's language model (paramcount/architectures/gemma3n.py) against transformers building
the same model on the meta device, module by module."""

from __future__ import annotations

import pytest
from test_sources_hf import check_against_transformers

import paramcount

SMALL = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 4,
         "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 100,
         "vocab_size_per_layer_input": 50, "hidden_size_per_layer_input": 8,
         "num_kv_shared_layers": 2, "laurel_rank": 4,
         "layer_types": ["sliding_attention", "full_attention"] * 2,
         "activation_sparsity_pattern": [0.95, 0.0, 0.0, 0.0]}

CASES = {
    # transformers' defaults: gemma-3n-E4B's text_config (35 layers of 2048, 15 sharing keys
    # and values, per-layer inputs of 256)
    "gemma-3n-e4b-text": ("Gemma3nForCausalLM", {}),
    # gemma-3n-E2B's text_config: 30 layers of 8192-wide MLPs, 10 of them sharing keys/values
    "gemma-3n-e2b-text": ("Gemma3nForCausalLM", {
        "num_hidden_layers": 30, "intermediate_size": [8192] * 30, "num_kv_shared_layers": 10,
        "activation_sparsity_pattern": [0.95] * 10 + [0.0] * 20}),
    "gemma3n-small": ("Gemma3nForCausalLM", SMALL),
    "gemma3n-small-base-untied": ("Gemma3nTextModel", {
        **SMALL, "intermediate_size": [48, 64, 48, 32], "tie_word_embeddings": False,
        "altup_num_inputs": 2, "attention_bias": True}),
    "gemma3n-small-no-sharing": ("Gemma3nForCausalLM", {
        **SMALL, "num_kv_shared_layers": 0, "tie_word_embeddings": False}),
}


def _doc(name: str) -> dict:
    architecture, fields = CASES[name]
    return {"model_type": "gemma3n_text", "architectures": [architecture], **fields}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    check_against_transformers(_doc(name))


def test_shared_layers_hold_no_kv_cache():
    from paramcount import memory
    est = memory.estimate(paramcount.summarize(_doc("gemma-3n-e4b-text")), dtype="bf16",
                          context=4096)
    # 20 layers keep keys and values (2 heads of 256): 16 sliding over 512 tokens, 4 full
    per_layer_token = 2 * 2 * 256 * 2
    assert est.component("KV cache").per_gpu == per_layer_token * (16 * 512 + 4 * 4096)
