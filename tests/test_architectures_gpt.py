"""GPT-style decoders (GPT-2, GPT-NeoX, GPT-J, OPT, Falcon, BLOOM, Phi, MPT) against transformers
building the same model on the meta device (see ``check_against_transformers``)."""

from __future__ import annotations

import pytest
from test_sources_hf import check_against_transformers

import paramcount

SMALL = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
         "vocab_size": 100}

CASES = {
    # name: (model_type, architecture, fields)
    "gpt2": ("gpt2", "GPT2LMHeadModel", {}),
    "gpt2-medium": ("gpt2", "GPT2LMHeadModel", {"n_layer": 24, "n_embd": 1024, "n_head": 16}),
    "gpt2-xl": ("gpt2", "GPT2LMHeadModel", {"n_layer": 48, "n_embd": 1600, "n_head": 25}),
    "gpt2-base": ("gpt2", "GPT2Model", {"n_layer": 2}),
    "gpt2-untied-classifier": ("gpt2", "GPT2ForSequenceClassification", {
        "n_layer": 2, "num_labels": 5, "tie_word_embeddings": False}),
    "gpt2-untied-lm": ("gpt2", "GPT2LMHeadModel", {"n_layer": 2, "tie_word_embeddings": False,
                                                    "n_inner": 1000}),
    "gpt2-cross-attention": ("gpt2", "GPT2LMHeadModel", {"n_layer": 2,
                                                          "add_cross_attention": True}),
    "gpt-neox-20b": ("gpt_neox", "GPTNeoXForCausalLM", {}),
    "pythia-160m": ("gpt_neox", "GPTNeoXForCausalLM", {
        "hidden_size": 768, "num_attention_heads": 12, "num_hidden_layers": 12,
        "intermediate_size": 3072, "vocab_size": 50304}),
    "gpt-neox-tied-nobias": ("gpt_neox", "GPTNeoXForCausalLM", {
        **SMALL, "intermediate_size": 256, "tie_word_embeddings": True,
        "attention_bias": False}),
    "gpt-neox-classifier": ("gpt_neox", "GPTNeoXForSequenceClassification", {
        **SMALL, "intermediate_size": 256}),
    "gpt-j-6b": ("gptj", "GPTJForCausalLM", {}),
    "gpt-j-base": ("gptj", "GPTJModel", {"n_layer": 2, "n_embd": 256, "n_head": 4}),
    "opt-125m": ("opt", "OPTForCausalLM", {}),
    "opt-350m-project-in-out": ("opt", "OPTForCausalLM", {
        "hidden_size": 1024, "word_embed_proj_dim": 512, "ffn_dim": 4096,
        "num_hidden_layers": 24, "num_attention_heads": 16, "do_layer_norm_before": False}),
    "opt-no-bias-no-affine": ("opt", "OPTForCausalLM", {
        **SMALL, "ffn_dim": 256, "enable_bias": False, "layer_norm_elementwise_affine": False,
        "_remove_final_layer_norm": True}),
    "opt-classifier": ("opt", "OPTForSequenceClassification", {**SMALL, "ffn_dim": 256,
                                                                "word_embed_proj_dim": 32}),
    "falcon-7b-multi-query": ("falcon", "FalconForCausalLM", {}),
    "falcon-40b-new-architecture": ("falcon", "FalconForCausalLM", {
        "hidden_size": 8192, "num_attention_heads": 128, "num_kv_heads": 8,
        "new_decoder_architecture": True, "num_hidden_layers": 60}),
    "falcon-new-one-norm": ("falcon", "FalconForCausalLM", {
        **SMALL, "num_kv_heads": 2, "new_decoder_architecture": True,
        "num_ln_in_parallel_attn": 1, "tie_word_embeddings": False}),
    "falcon-rw-1b-sequential": ("falcon", "FalconForCausalLM", {
        "hidden_size": 2048, "num_attention_heads": 32, "num_hidden_layers": 24,
        "vocab_size": 50304, "multi_query": False, "parallel_attn": False, "bias": True,
        "alibi": True}),
    "bloom": ("bloom", "BloomForCausalLM", {}),
    "bloom-560m": ("bloom", "BloomForCausalLM", {"hidden_size": 1024, "n_head": 16,
                                                  "n_layer": 24}),
    "bloom-n-embed": ("bloom", "BloomModel", {"n_embed": 128, "n_head": 4, "n_layer": 2}),
    "phi-1.5": ("phi", "PhiForCausalLM", {}),
    "phi-2": ("phi", "PhiForCausalLM", {
        "hidden_size": 2560, "intermediate_size": 10240, "num_attention_heads": 32,
        "num_hidden_layers": 32}),
    "phi-qk-layernorm-gqa": ("phi", "PhiForCausalLM", {
        **SMALL, "intermediate_size": 256, "qk_layernorm": True, "num_key_value_heads": 2}),
    "mpt": ("mpt", "MptForCausalLM", {}),
    "mpt-7b": ("mpt", "MptForCausalLM", {"d_model": 4096, "n_heads": 32, "n_layers": 32,
                                         "vocab_size": 50432}),
    "mpt-30b-untied": ("mpt", "MptForCausalLM", {"d_model": 7168, "n_heads": 64,
                                                 "n_layers": 48, "vocab_size": 50432,
                                                 "tie_word_embeddings": False}),
    "mpt-classifier": ("mpt", "MptForSequenceClassification", {
        "d_model": 64, "n_heads": 4, "n_layers": 2, "vocab_size": 100, "num_labels": 3}),
    "mpt-base": ("mpt", "MptModel", {"d_model": 64, "n_heads": 4, "n_layers": 2}),
}


def test_mpt_7b_by_hand():
    """MPT-7B (6.7B on its model card): per block Wqkv 4096 × 12288, out_proj 4096², an MLP
    of 2 × 4096 × 16384 and two bias-free norms; the LM head tied to the 50432-token table."""
    s = paramcount.summarize({"model_type": "mpt", "architectures": ["MptForCausalLM"],
                              **CASES["mpt-7b"][2]})
    block = 4096 * 12288 + 4096 * 4096 + 2 * 4096 * 16384 + 2 * 4096
    assert s.total_params == 32 * block + 4096 + 50432 * 4096 == 6_649_286_656


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    model_type, architecture, fields = CASES[name]
    check_against_transformers({"model_type": model_type, "architectures": [architecture],
                                **fields})
