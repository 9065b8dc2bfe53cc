"""Llama-like decoders and DeepSeek against transformers building the same model on the meta
device: the total, the trainable count and every module's count (see ``hf_oracle``).

Each family's defaults, then configs shaped like released models: grouped- and multi-query
attention, tied and untied embeddings, biases, explicit head_dim, mixtures of experts with
shared experts and dense layers among sparse ones, and the other heads.
"""

from __future__ import annotations

import pytest
from test_sources_hf import check_against_transformers

LLAMA_3_8B = {"hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
              "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 128256}

CASES = {
    # name: (model_type, architecture, fields)
    "llama": ("llama", "LlamaForCausalLM", {}),
    "llama-3-8b": ("llama", "LlamaForCausalLM", LLAMA_3_8B),
    "llama-3-70b": ("llama", "LlamaForCausalLM", {
        **LLAMA_3_8B, "hidden_size": 8192, "intermediate_size": 28672,
        "num_attention_heads": 64, "num_hidden_layers": 80}),
    "llama-3.2-1b-tied": ("llama", "LlamaForCausalLM", {
        "hidden_size": 2048, "intermediate_size": 8192, "num_attention_heads": 32,
        "num_key_value_heads": 8, "num_hidden_layers": 16, "vocab_size": 128256,
        "head_dim": 64, "tie_word_embeddings": True}),
    "tinyllama-1.1b": ("llama", "LlamaForCausalLM", {
        "hidden_size": 2048, "intermediate_size": 5632, "num_attention_heads": 32,
        "num_key_value_heads": 4, "num_hidden_layers": 22}),
    "llama-biases": ("llama", "LlamaForCausalLM", {
        "hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4,
        "num_hidden_layers": 2, "attention_bias": True, "mlp_bias": True}),
    "llama-classifier": ("llama", "LlamaForSequenceClassification", {
        "hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4,
        "num_hidden_layers": 2, "num_labels": 3}),
    "llama-base": ("llama", "LlamaModel", {"num_hidden_layers": 4}),
    "mistral": ("mistral", "MistralForCausalLM", {}),
    "mistral-nemo-12b": ("mistral", "MistralForCausalLM", {
        "hidden_size": 5120, "head_dim": 128, "intermediate_size": 14336,
        "num_attention_heads": 32, "num_key_value_heads": 8, "num_hidden_layers": 40,
        "vocab_size": 131072}),
    "mixtral": ("mixtral", "MixtralForCausalLM", {}),
    "mixtral-8x22b": ("mixtral", "MixtralForCausalLM", {
        "hidden_size": 6144, "intermediate_size": 16384, "num_attention_heads": 48,
        "num_key_value_heads": 8, "num_hidden_layers": 56, "vocab_size": 32768}),
    "qwen2": ("qwen2", "Qwen2ForCausalLM", {}),
    "qwen2.5-0.5b": ("qwen2", "Qwen2ForCausalLM", {
        "hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14,
        "num_key_value_heads": 2, "num_hidden_layers": 24, "tie_word_embeddings": True}),
    "qwen2.5-7b": ("qwen2", "Qwen2ForCausalLM", {
        "hidden_size": 3584, "intermediate_size": 18944, "num_attention_heads": 28,
        "num_key_value_heads": 4, "num_hidden_layers": 28, "vocab_size": 152064}),
    "qwen2-moe": ("qwen2_moe", "Qwen2MoeForCausalLM", {}),
    "qwen2-moe-sparse-step": ("qwen2_moe", "Qwen2MoeForCausalLM", {
        "num_hidden_layers": 6, "decoder_sparse_step": 2, "mlp_only_layers": [3],
        "num_experts": 8, "num_experts_per_tok": 2, "hidden_size": 256,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
        "moe_intermediate_size": 128, "shared_expert_intermediate_size": 256}),
    "qwen3": ("qwen3", "Qwen3ForCausalLM", {}),
    "qwen3-0.6b": ("qwen3", "Qwen3ForCausalLM", {
        "hidden_size": 1024, "intermediate_size": 3072, "num_attention_heads": 16,
        "num_key_value_heads": 8, "head_dim": 128, "num_hidden_layers": 28,
        "tie_word_embeddings": True}),
    "qwen3-moe": ("qwen3_moe", "Qwen3MoeForCausalLM", {}),
    "qwen3-30b-a3b": ("qwen3_moe", "Qwen3MoeForCausalLM", {
        "hidden_size": 2048, "intermediate_size": 6144, "moe_intermediate_size": 768,
        "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128,
        "num_hidden_layers": 48, "num_experts": 128, "num_experts_per_tok": 8}),
    "gemma": ("gemma", "GemmaForCausalLM", {}),
    "gemma-2b-mqa": ("gemma", "GemmaForCausalLM", {
        "hidden_size": 2048, "intermediate_size": 16384, "num_attention_heads": 8,
        "num_key_value_heads": 1, "num_hidden_layers": 18}),
    "gemma2": ("gemma2", "Gemma2ForCausalLM", {}),
    "gemma-2-9b": ("gemma2", "Gemma2ForCausalLM", {
        "hidden_size": 3584, "intermediate_size": 14336, "num_attention_heads": 16,
        "num_key_value_heads": 8, "num_hidden_layers": 42}),
    "gemma3-text": ("gemma3_text", "Gemma3ForCausalLM", {}),
    "gemma-3-1b": ("gemma3_text", "Gemma3ForCausalLM", {
        "hidden_size": 1152, "intermediate_size": 6912, "num_attention_heads": 4,
        "num_key_value_heads": 1, "num_hidden_layers": 26, "vocab_size": 262144}),
    "olmo": ("olmo", "OlmoForCausalLM", {}),
    "olmo-1b-tied": ("olmo", "OlmoForCausalLM", {
        "hidden_size": 2048, "intermediate_size": 8192, "num_attention_heads": 16,
        "num_hidden_layers": 16, "tie_word_embeddings": True}),
    "starcoder2": ("starcoder2", "Starcoder2ForCausalLM", {}),
    "starcoder2-7b": ("starcoder2", "Starcoder2ForCausalLM", {
        "hidden_size": 4608, "intermediate_size": 18432, "num_attention_heads": 36,
        "num_key_value_heads": 4, "num_hidden_layers": 32}),
    "phi3": ("phi3", "Phi3ForCausalLM", {}),
    "phi-3-medium": ("phi3", "Phi3ForCausalLM", {
        "hidden_size": 5120, "intermediate_size": 17920, "num_attention_heads": 40,
        "num_key_value_heads": 10, "num_hidden_layers": 40}),
    "deepseek-v2": ("deepseek_v2", "DeepseekV2ForCausalLM", {"num_experts_per_tok": 6}),
    "deepseek-v2-lite": ("deepseek_v2", "DeepseekV2ForCausalLM", {
        "hidden_size": 2048, "intermediate_size": 10944, "moe_intermediate_size": 1408,
        "num_attention_heads": 16, "num_key_value_heads": 16, "num_hidden_layers": 27,
        "q_lora_rank": None, "kv_lora_rank": 512, "n_routed_experts": 64,
        "n_shared_experts": 2, "num_experts_per_tok": 6, "first_k_dense_replace": 1}),
    "deepseek-v3": ("deepseek_v3", "DeepseekV3ForCausalLM", {}),
    "deepseek-v3-small-base": ("deepseek_v3", "DeepseekV3Model", {
        "hidden_size": 512, "intermediate_size": 1024, "moe_intermediate_size": 128,
        "num_attention_heads": 8, "num_key_value_heads": 8, "num_hidden_layers": 5,
        "n_routed_experts": 16, "n_group": 4, "topk_group": 2, "first_k_dense_replace": 2,
        "attention_bias": True}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    model_type, architecture, fields = CASES[name]
    check_against_transformers({"model_type": model_type, "architectures": [architecture],
                                **fields})
