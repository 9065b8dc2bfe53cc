"""NomicBERT (paramcount/architectures/nomic_bert.py) against transformers building the same
model on the meta device, module by module."""

from __future__ import annotations

import pytest
from test_sources_hf import check_against_transformers

import paramcount

SMALL = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
         "num_attention_heads": 4, "vocab_size": 100, "max_position_embeddings": 64}

CASES = {
    # transformers' defaults: nomic-embed-text-v1 / v1.5's shape (12 layers of 768, rotary
    # positions, a 30,528-token vocabulary)
    "nomic-embed-text-v1.5": ("NomicBertModel", {}),
    "nomic-embed-mlm": ("NomicBertForMaskedLM", {}),
    "small-mlm-untied": ("NomicBertForMaskedLM", {**SMALL, "tie_word_embeddings": False}),
    "small-classifier": ("NomicBertForSequenceClassification", {**SMALL, "num_labels": 3}),
    "small-tokens-head-dim": ("NomicBertForTokenClassification", {**SMALL, "head_dim": 16}),
}


def _doc(name: str) -> dict:
    architecture, fields = CASES[name]
    return {"model_type": "nomic_bert", "architectures": [architecture], **fields}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    check_against_transformers(_doc(name))


def test_by_hand():
    s = paramcount.summarize(_doc("nomic-embed-text-v1.5"))
    h, inner = 768, 3072
    layer = 4 * h * h + 3 * h * inner + 2 * 2 * h   # attention, gated MLP, two LayerNorms
    assert s.total_params == (30528 + 2) * h + 2 * h + 12 * layer    # nomic-embed: 136.7M
