"""Mixture-of-experts checkpoints report the parameters active per token: a folder that
transformers saved (config.json beside model.safetensors) carries its config's figure, checked
against the model transformers built; a bare safetensors file says why it cannot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

import paramcount

transformers = pytest.importorskip("transformers")

TINY = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "intermediate_size": 48, "max_position_embeddings": 64,
        "num_experts_per_tok": 2}
CONFIGS = {
    # transformers 5 saves Mixtral's experts one by one (block_sparse_moe.experts.0.w1)
    "mixtral": lambda: transformers.MixtralConfig(**TINY, num_local_experts=4,
                                                  architectures=["MixtralForCausalLM"]),
    # and Qwen2-MoE's beside a shared expert, which every token passes through
    "qwen2_moe": lambda: transformers.Qwen2MoeConfig(
        **TINY, num_experts=4, moe_intermediate_size=16, shared_expert_intermediate_size=40,
        architectures=["Qwen2MoeForCausalLM"]),
}


def idle_by_transformers(model: torch.nn.Module, config) -> int:
    """Parameters of the routed experts a token does not pass through, from the modules
    transformers built: (experts - top-k) × one expert's parameters, in every layer."""
    idle = 0
    for layer in model.model.layers:
        routed = layer.mlp.experts
        count = config.num_local_experts if hasattr(config, "num_local_experts") \
            else config.num_experts
        per_expert = sum(p.numel() for p in routed.parameters()) // count
        idle += (count - config.num_experts_per_tok) * per_expert
    return idle


@pytest.fixture(scope="module", params=list(CONFIGS))
def saved(request, tmp_path_factory) -> tuple[Path, torch.nn.Module, object]:
    folder = tmp_path_factory.mktemp(request.param)
    config = CONFIGS[request.param]()
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(folder)
    return folder, model, config


def test_a_saved_moe_folder_reports_active_params(saved):
    folder, model, config = saved
    s = paramcount.summarize(folder)
    total = sum(p.numel() for p in model.parameters())
    assert s.total_params == total
    assert s.figures["Active params per token"] == total - idle_by_transformers(model, config)
    assert s.flops(seq_len=8).complete  # the config's tree: experts with their top-k


def test_a_bare_moe_safetensors_file_says_experts_per_token_are_unknown(saved, tmp_path):
    folder, model, _ = saved
    bare = tmp_path / "bare.safetensors"
    shutil.copy(folder / "model.safetensors", bare)
    s = paramcount.summarize(bare)
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert "Active params per token" not in s.figures
    assert any("experts used per token are unknown without" in n for n in s.notes)
