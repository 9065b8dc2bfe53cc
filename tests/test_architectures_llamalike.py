"""The Llama-like families described as data (paramcount/architectures/llamalike.py) against
transformers building the same model on the meta device: the total, the trainable count, the
persistent buffers and every module's count (see ``check_against_transformers``).

For each family: its config class's defaults, configs shaped like released models, its biases
and switches, and the heads it registers. For each mixture of experts, the parameters active
per token, by hand from the config and from the experts transformers built.
"""

from __future__ import annotations

import pytest
from test_sources_hf import build_with_transformers, check_against_transformers

import paramcount

TINY = {"hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4,
        "num_key_value_heads": 2, "num_hidden_layers": 3, "vocab_size": 128,
        "pad_token_id": 0}

CASES = {
    # name: (model_type, architecture, fields)
    "gpt-oss": ("gpt_oss", "GptOssForCausalLM", {}),                 # the 120b's shape
    "gpt-oss-20b": ("gpt_oss", "GptOssForCausalLM", {
        "num_hidden_layers": 24, "num_local_experts": 32, "num_experts_per_tok": 4}),
    "gpt-oss-classifier": ("gpt_oss", "GptOssForSequenceClassification", {
        **TINY, "head_dim": 16, "num_local_experts": 4, "attention_bias": False,
        "num_labels": 3}),
    "gpt-oss-base": ("gpt_oss", "GptOssModel", {**TINY, "head_dim": 16,
                                                "num_local_experts": 4}),
    "granite": ("granite", "GraniteForCausalLM", {}),
    "granite-3.3-8b": ("granite", "GraniteForCausalLM", {
        "hidden_size": 4096, "intermediate_size": 12800, "num_hidden_layers": 40,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 49159,
        "tie_word_embeddings": True}),
    "granite-biases-base": ("granite", "GraniteModel", {
        **TINY, "attention_bias": True, "mlp_bias": True}),
    "granitemoe": ("granitemoe", "GraniteMoeForCausalLM", {}),
    "granite-3.1-3b-a800m": ("granitemoe", "GraniteMoeForCausalLM", {
        "hidden_size": 1536, "intermediate_size": 512, "num_hidden_layers": 32,
        "num_attention_heads": 24, "num_key_value_heads": 8, "num_local_experts": 40,
        "num_experts_per_tok": 8, "vocab_size": 49155, "tie_word_embeddings": True}),
    "granitemoeshared": ("granitemoeshared", "GraniteMoeSharedForCausalLM", {
        **TINY, "num_local_experts": 4, "shared_intermediate_size": 48}),
    "granitemoeshared-none": ("granitemoeshared", "GraniteMoeSharedModel", {
        **TINY, "num_local_experts": 4}),
    "cohere": ("cohere", "CohereForCausalLM", {}),                   # Command R
    "command-r-plus": ("cohere", "CohereForCausalLM", {
        "hidden_size": 12288, "intermediate_size": 33792, "num_hidden_layers": 64,
        "num_attention_heads": 96, "num_key_value_heads": 8, "use_qk_norm": True}),
    "cohere-untied-bias": ("cohere", "CohereModel", {**TINY, "attention_bias": True}),
    "cohere2": ("cohere2", "Cohere2ForCausalLM", {}),
    "command-r7b": ("cohere2", "Cohere2ForCausalLM", {
        "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128}),
    "cohere2-derived-head-dim": ("cohere2", "Cohere2Model", TINY),
    "glm": ("glm", "GlmForCausalLM", {}),                             # GLM-4-9B
    "glm-classifier": ("glm", "GlmForSequenceClassification", {**TINY, "head_dim": 16}),
    "glm4": ("glm4", "Glm4ForCausalLM", {}),
    "glm-4-32b-0414": ("glm4", "Glm4ForCausalLM", {
        "hidden_size": 6144, "intermediate_size": 23040, "num_hidden_layers": 61,
        "num_attention_heads": 48, "num_key_value_heads": 2, "head_dim": 128}),
    "glm4_moe": ("glm4_moe", "Glm4MoeForCausalLM", {}),
    "glm-4.5-air": ("glm4_moe", "Glm4MoeForCausalLM", {
        "head_dim": 128, "attention_bias": True, "first_k_dense_replace": 1}),
    "glm4-moe-qk-norm-base": ("glm4_moe", "Glm4MoeModel", {
        **TINY, "head_dim": 16, "moe_intermediate_size": 32, "n_routed_experts": 8,
        "num_experts_per_tok": 2, "n_shared_experts": 2, "first_k_dense_replace": 2,
        "use_qk_norm": True}),
    "phimoe": ("phimoe", "PhimoeForCausalLM", {}),
    "phi-3.5-moe": ("phimoe", "PhimoeForCausalLM", {
        "attention_bias": True, "lm_head_bias": True, "sliding_window": 131072}),
    "olmo2": ("olmo2", "Olmo2ForCausalLM", {}),
    "olmo-2-13b": ("olmo2", "Olmo2ForCausalLM", {
        "hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40,
        "num_attention_heads": 40, "vocab_size": 100352}),
    "olmo2-gqa-classifier": ("olmo2", "Olmo2ForSequenceClassification", {
        **TINY, "attention_bias": True}),
    "olmo3": ("olmo3", "Olmo3ForCausalLM", {}),
    "olmo-3-32b": ("olmo3", "Olmo3ForCausalLM", {
        "hidden_size": 5120, "intermediate_size": 27648, "num_hidden_layers": 64,
        "num_attention_heads": 40, "num_key_value_heads": 8, "vocab_size": 100278}),
    "olmoe": ("olmoe", "OlmoeForCausalLM", {}),
    "olmoe-1b-7b": ("olmoe", "OlmoeForCausalLM", {"intermediate_size": 1024}),
    "exaone4": ("exaone4", "Exaone4ForCausalLM", {}),
    "exaone-4.0-32b": ("exaone4", "Exaone4ForCausalLM", {
        "hidden_size": 5120, "intermediate_size": 27392, "num_hidden_layers": 64,
        "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
        "sliding_window_pattern": "LLLG",
        "layer_types": (["sliding_attention"] * 3 + ["full_attention"]) * 16}),
    "exaone-4.0-1.2b": ("exaone4", "Exaone4ForCausalLM", {
        "hidden_size": 2048, "intermediate_size": 4096, "num_hidden_layers": 30,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
        "tie_word_embeddings": True}),
    "smollm3": ("smollm3", "SmolLM3ForCausalLM", {}),                 # SmolLM3-3B
    "smollm3-biases-classifier": ("smollm3", "SmolLM3ForSequenceClassification", {
        **TINY, "attention_bias": True, "mlp_bias": True}),
    "ernie4_5": ("ernie4_5", "Ernie4_5ForCausalLM", {}),              # ERNIE-4.5-0.3B
    "ernie4_5-biases-base": ("ernie4_5", "Ernie4_5Model", {**TINY, "use_bias": True}),
    "ernie4_5_moe": ("ernie4_5_moe", "Ernie4_5_MoeForCausalLM", {}),  # ERNIE-4.5-21B-A3B
    "ernie4_5_moe-interval-biases": ("ernie4_5_moe", "Ernie4_5_MoeForCausalLM", {
        **TINY, "num_hidden_layers": 6, "moe_intermediate_size": 32, "moe_num_experts": 8,
        "moe_k": 2, "moe_layer_interval": 2, "moe_layer_end_index": 4, "use_bias": True,
        "tie_word_embeddings": False}),
    "seed_oss": ("seed_oss", "SeedOssForCausalLM", {}),               # Seed-OSS-36B
    "seed-oss-36b": ("seed_oss", "SeedOssForCausalLM", {"hidden_size": 5120}),
    "seed-oss-biases": ("seed_oss", "SeedOssForSequenceClassification", {
        **TINY, "attention_out_bias": True, "mlp_bias": True}),
    "stablelm": ("stablelm", "StableLmForCausalLM", {}),              # StableLM-3B-4E1T
    "stablelm-2-1.6b": ("stablelm", "StableLmForCausalLM", {
        "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 24,
        "num_attention_heads": 32, "vocab_size": 100352, "use_qkv_bias": True}),
    "stablelm-parallel-classifier": ("stablelm", "StableLmForSequenceClassification", {
        **TINY, "use_parallel_residual": True}),
    "stablelm-qk-layernorm": ("stablelm", "StableLmForCausalLM", {
        **TINY, "qk_layernorm": True}),
    "stablelm-2-12b": ("stablelm", "StableLmForCausalLM", {  # stabilityai/stablelm-2-12b
        "hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 100352,
        "qk_layernorm": True, "use_parallel_residual": True}),
    "arcee": ("arcee", "ArceeForCausalLM", {}),
    "afm-4.5b": ("arcee", "ArceeForCausalLM", {
        "hidden_size": 2560, "intermediate_size": 18432, "num_hidden_layers": 36,
        "num_attention_heads": 20, "num_key_value_heads": 4, "head_dim": 128,
        "vocab_size": 128004}),
    "nemotron": ("nemotron", "NemotronForCausalLM", {"num_key_value_heads": 48}),
    "nemotron-mini-4b": ("nemotron", "NemotronForCausalLM", {
        "hidden_size": 3072, "intermediate_size": 9216, "num_hidden_layers": 32,
        "num_attention_heads": 24, "num_key_value_heads": 8, "head_dim": 128}),
    "nemotron-biases-classifier": ("nemotron", "NemotronForSequenceClassification", {
        **TINY, "head_dim": 16, "attention_bias": True, "mlp_bias": True}),
    "dots.llm1": ("dots1", "Dots1ForCausalLM", {
        "hidden_size": 4096, "intermediate_size": 10944, "moe_intermediate_size": 1408,
        "num_hidden_layers": 62, "num_attention_heads": 32, "n_routed_experts": 128,
        "n_shared_experts": 2, "num_experts_per_tok": 6, "first_k_dense_replace": 1}),
    "dots1-small-base": ("dots1", "Dots1Model", {
        **TINY, "moe_intermediate_size": 32, "n_routed_experts": 8, "n_shared_experts": 1,
        "num_experts_per_tok": 2, "first_k_dense_replace": 2, "attention_bias": True}),
    "hunyuan-7b": ("hunyuan_v1_dense", "HunYuanDenseV1ForCausalLM", {
        "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
        "vocab_size": 128167, "tie_word_embeddings": True}),
    "hunyuan-dense-classifier": ("hunyuan_v1_dense", "HunYuanDenseV1ForSequenceClassification",
                                 {**TINY, "head_dim": 16, "attention_bias": True}),
    "hunyuan-a13b": ("hunyuan_v1_moe", "HunYuanMoEV1ForCausalLM", {
        "hidden_size": 4096, "intermediate_size": 3072, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
        "vocab_size": 128167, "num_experts": 64, "moe_topk": [8] * 32}),
    "hunyuan-moe-base": ("hunyuan_v1_moe", "HunYuanMoEV1Model", {
        **TINY, "head_dim": 16, "num_experts": 4, "moe_topk": 2}),
    "apertus": ("apertus", "ApertusForCausalLM", {}),                # Apertus-8B's shape
    "apertus-70b": ("apertus", "ApertusForCausalLM", {
        "hidden_size": 8192, "intermediate_size": 43008, "num_hidden_layers": 80,
        "num_attention_heads": 64, "num_key_value_heads": 8}),
    "apertus-relu2-base": ("apertus", "ApertusModel", {**TINY, "hidden_act": "relu2",
                                                       "attention_bias": True}),
}


def _doc(name: str) -> dict:
    model_type, architecture, fields = CASES[name]
    return {"model_type": model_type, "architectures": [architecture], **fields}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    check_against_transformers(_doc(name))


# -- parameters active per token ----------------------------------------------------------------

def idle_by_transformers(model, experts: int, active: int) -> int:
    """The parameters of the routed experts a token skips, from the modules transformers
    built: in every layer with experts, (experts - top-k) × one expert's parameters."""
    idle = 0
    for name, module in model.named_modules():
        if name.endswith(".experts"):
            per_expert = sum(p.numel() for p in module.parameters()) // experts
            idle += (experts - active) * per_expert
    return idle


@pytest.mark.parametrize("name, experts, active", [
    ("gpt-oss-20b", 32, 4), ("granite-3.1-3b-a800m", 40, 8), ("granitemoeshared", 4, 2),
    ("glm4-moe-qk-norm-base", 8, 2), ("phi-3.5-moe", 16, 2), ("olmoe-1b-7b", 64, 8),
    ("ernie4_5_moe-interval-biases", 8, 2), ("dots1-small-base", 8, 2),
    ("hunyuan-a13b", 64, 8),
])
def test_active_params_equal_transformers_experts(name, experts, active):
    s = paramcount.summarize(_doc(name))
    model = build_with_transformers(_doc(name))
    total = sum(p.numel() for p in model.parameters())
    assert s.figures["Active params per token"] == total - idle_by_transformers(
        model, experts, active)


def test_active_params_by_hand():
    # gpt-oss-20b: 24 layers; each token skips 28 of 32 experts, each a gate/up matrix
    # 2880 × 5760 with its bias and a down matrix 2880 × 2880 with its bias
    s = paramcount.summarize(_doc("gpt-oss-20b"))
    per_expert = 2880 * 5760 + 5760 + 2880 * 2880 + 2880
    assert s.figures["Active params per token"] == s.total_params - 24 * 28 * per_expert
    # GLM-4.5-Air: 45 sparse layers after 1 dense; each token skips 120 of 128 experts of
    # 3 × 4096 × 1408 (the shared expert and the router count)
    s = paramcount.summarize(_doc("glm-4.5-air"))
    assert s.figures["Active params per token"] == s.total_params - 45 * 120 * 3 * 4096 * 1408
    # ERNIE-4.5-21B-A3B: layers 1..27 sparse; each token skips 58 of 64 experts of
    # 3 × 2560 × 1536
    s = paramcount.summarize(_doc("ernie4_5_moe"))
    assert s.figures["Active params per token"] == s.total_params - 27 * 58 * 3 * 2560 * 1536


@pytest.mark.parametrize("name, published", [
    ("gpt-oss", 116_830_000_000), ("gpt-oss-20b", 20_910_000_000)])
def test_published_totals(name, published):
    """OpenAI's model card gives gpt-oss-120b 116.83B parameters and gpt-oss-20b 20.91B."""
    assert round(paramcount.summarize(_doc(name)).total_params, -7) == published


def test_gpt_oss_windows_alternate():
    """Even layers attend within 128 tokens, odd ones to everything (the KV cache's size)."""
    s = paramcount.summarize({"model_type": "gpt_oss", "architectures": ["GptOssForCausalLM"],
                              **TINY, "head_dim": 16, "num_local_experts": 4})
    windows = [n.attention.window for _, n in s.root.walk() if n.attention is not None]
    assert windows[:3] == [128, None, 128]


def test_stablelm_qk_layernorm_by_hand():
    """One bias-free LayerNorm of head_dim (16) per query head (4) and per key head (2), in
    each of the 3 layers."""
    plain = paramcount.summarize(_doc("stablelm-parallel-classifier"))
    doc = {**_doc("stablelm-parallel-classifier"), "qk_layernorm": True}
    assert paramcount.summarize(doc).total_params - plain.total_params == 3 * (4 + 2) * 16
