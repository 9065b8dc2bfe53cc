"""The transformers fallback (a model_type paramcount does not declare): the parameters
active per token of a mixture of experts, found from the modules transformers built and
checked by hand from the config; and the progress lines the command line shows while
transformers is imported and builds the model."""

from __future__ import annotations

import json

import pytest
from test_sources_hf import build_with_transformers

import paramcount
from paramcount.cli import main

pytest.importorskip("transformers")

TINY = {"hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 4,
        "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100,
        "pad_token_id": 0}
MINIMAX = {"model_type": "minimax", "architectures": ["MiniMaxForCausalLM"], **TINY,
           "head_dim": 8, "num_local_experts": 4, "num_experts_per_tok": 2}
FLEX_OLMO = {"model_type": "flex_olmo", "architectures": ["FlexOlmoForCausalLM"], **TINY,
             "num_experts": 8, "num_experts_per_tok": 3}


@pytest.mark.parametrize("doc, experts, active", [(MINIMAX, 4, 2), (FLEX_OLMO, 8, 3)])
def test_active_params_of_an_undeclared_mixture_of_experts_by_hand(doc, experts, active):
    """Each of the 2 layers' experts is a gated MLP of 3 × 32 × 48 weights; a token skips
    experts - active of them. The routers count."""
    s = paramcount.summarize(doc)
    assert "fallback" in s.meta
    total = sum(p.numel() for p in build_with_transformers(doc).parameters())
    assert s.total_params == total
    assert s.figures["Active params per token"] == total - 2 * (experts - active) * 3 * 32 * 48


def test_a_dense_undeclared_model_has_no_active_figure():
    doc = {"model_type": "gpt_neo", "architectures": ["GPTNeoForCausalLM"], "num_layers": 2,
           "attention_types": [[["global", "local"], 1]], "hidden_size": 64, "num_heads": 4,
           "vocab_size": 100, "max_position_embeddings": 32}
    assert "Active params per token" not in paramcount.summarize(doc).figures


def test_the_cli_says_what_the_fallback_is_doing(capsys, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(MINIMAX))
    assert main([str(path), "-f", "json"]) == 0
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines[0] == ("paramcount: 'minimax' is not declared: importing torch and "
                        "transformers to build it...")
    assert lines[1].startswith("paramcount: building MiniMaxForCausalLM with transformers ")
    assert lines[2].startswith("paramcount: built MiniMaxForCausalLM in ")
    assert json.loads(out)["total_params"] > 0


def test_a_declared_model_says_nothing(capsys, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**MINIMAX, "model_type": "mixtral",
                                "architectures": ["MixtralForCausalLM"]}))
    assert main([str(path), "-f", "json"]) == 0
    assert capsys.readouterr().err == ""
