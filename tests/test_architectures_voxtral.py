"""Voxtral (paramcount/architectures/voxtral.py) against transformers building the same model
on the meta device, module by module."""

from __future__ import annotations

import pytest
from test_sources_hf import check_against_transformers

import paramcount

AUDIO_SMALL = {"hidden_size": 32, "intermediate_size": 128, "num_hidden_layers": 2,
               "num_attention_heads": 4, "num_mel_bins": 16, "max_source_positions": 20}
TEXT_SMALL = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "head_dim": 16, "vocab_size": 128}

CASES = {
    # transformers' defaults: Voxtral-Mini-3B-2507's config.json
    "voxtral-mini-3b": ("VoxtralForConditionalGeneration", {}),
    # Voxtral-Small-24B-2507's language model (Mistral Small 3.1's), the same encoder
    "voxtral-small-24b": ("VoxtralForConditionalGeneration", {"text_config": {
        "model_type": "llama", "hidden_size": 5120, "intermediate_size": 32768,
        "num_hidden_layers": 40, "num_attention_heads": 32, "num_key_value_heads": 8,
        "head_dim": 128, "vocab_size": 131072}}),
    "voxtral-small": ("VoxtralForConditionalGeneration", {
        "audio_config": AUDIO_SMALL, "text_config": TEXT_SMALL}),
    # transformers ties nothing in Voxtral, whichever config asks
    "voxtral-small-tie-ignored": ("VoxtralForConditionalGeneration", {
        "audio_config": AUDIO_SMALL, "text_config": TEXT_SMALL, "tie_word_embeddings": True}),
    "voxtral-small-text-tie-ignored": ("VoxtralForConditionalGeneration", {
        "audio_config": AUDIO_SMALL, "text_config": {**TEXT_SMALL, "tie_word_embeddings": True}}),
    "voxtral-small-base": ("VoxtralModel", {
        "audio_config": AUDIO_SMALL, "text_config": TEXT_SMALL}),
}


def _doc(name: str) -> dict:
    architecture, fields = CASES[name]
    return {"model_type": "voxtral", "architectures": [architecture], **fields}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    check_against_transformers(_doc(name))


def test_kv_cache_is_the_language_models():
    from paramcount import memory
    est = memory.estimate(paramcount.summarize(_doc("voxtral-mini-3b")), dtype="bf16",
                          context=4096)
    # 30 layers × keys and values of 8 heads of 128; the encoder's attention caches nothing
    assert est.component("KV cache").per_gpu == 30 * 2 * 8 * 128 * 2 * 4096
