"""A folder with a config.json and weights is an architecture and a checkpoint: the tree is the
config's, checked against the tensors transformers saved, and what differs is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import paramcount
from paramcount import memory
from paramcount.cli import main

transformers = pytest.importorskip("transformers")


def numel(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """A tiny Llama as save_pretrained writes it: config.json and model.safetensors (fp32)."""
    folder = tmp_path_factory.mktemp("llama")
    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
        architectures=["LlamaForCausalLM"])
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    return folder, model


def copy(folder: Path, tmp_path: Path, tensors: dict[str, torch.Tensor] | None = None,
         config: dict | None = None) -> Path:
    out = tmp_path / "model"
    out.mkdir()
    doc = config or json.loads((folder / "config.json").read_text())
    (out / "config.json").write_text(json.dumps(doc))
    save_file(tensors if tensors is not None else load_file(str(folder / "model.safetensors")),
              str(out / "model.safetensors"))
    return out


def test_the_tree_is_the_configs_and_the_counts_the_checkpoints(llama):
    folder, model = llama
    s = paramcount.summarize(folder)
    assert s.total_params == numel(model) == s.figures["Checkpoint params"]
    assert s.name == "LlamaForCausalLM"
    types = {n.type for _, n in s.root.walk()}
    assert {"LlamaDecoderLayer", "LlamaAttention", "LlamaMLP"} <= types
    assert any("the checkpoint holds exactly its weights" in n for n in s.notes)
    # the stored dtype and bytes carry over: every parameter is fp32 in the file
    assert s.by_dtype() == {"float32": (numel(model), 4 * numel(model))}


def test_memory_and_flops_work_on_the_folder(llama, capsys):
    folder, _ = llama
    est = memory.estimate(paramcount.summarize(folder), dtype="fp32", context=8)
    # 2 layers × K and V × 2 key/value heads × head_dim 4 × 8 tokens × 4 bytes
    assert est.component("KV cache").per_gpu == 2 * 2 * 2 * 4 * 8 * 4
    config = json.loads((folder / "config.json").read_text())
    assert paramcount.summarize(folder).flops(seq_len=8).macs == \
        paramcount.summarize(config).flops(seq_len=8).macs > 0
    assert main([str(folder), "--seq-len", "8", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["compute"]["complete"] is True


def test_a_module_the_architecture_does_not_build_is_named(llama, tmp_path):
    """As DeepSeek-V3's repo holds a multi-token-prediction layer after its last block."""
    folder, model = llama
    tensors = load_file(str(folder / "model.safetensors"))
    extra = {k.replace("layers.1.", "layers.2."): v.clone() for k, v in tensors.items()
             if ".layers.1." in k}
    s = paramcount.summarize(copy(folder, tmp_path, {**tensors, **extra}))
    layer = sum(v.numel() for v in extra.values())
    assert s.total_params == numel(model)  # the architecture's
    assert s.figures["Checkpoint params"] == numel(model) + layer
    note = next(n for n in s.notes if "holds" in n)
    assert f"{layer:+,} parameters against it: model.layers.2 ({layer:+,}, only in the " \
           "checkpoint)" in note


def test_a_config_that_does_not_describe_the_weights(llama, tmp_path):
    folder, model = llama
    gpt2 = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 2}
    s = paramcount.summarize(copy(folder, tmp_path, config=gpt2))
    assert s.total_params == numel(model) and "Checkpoint params" not in s.figures
    assert any("does not describe these weights (0 of" in n for n in s.notes)
    types = {n.type for _, n in s.root.walk()}  # the checkpoint's guesses, not a config's
    assert not types & {"GPT2Block", "LlamaDecoderLayer"}


def test_a_family_paramcount_does_not_declare_keeps_the_checkpoint(llama, tmp_path):
    folder, model = llama
    config = {**json.loads((folder / "config.json").read_text()), "model_type": "not_a_family",
              "architectures": ["NotAFamilyForCausalLM"]}
    s = paramcount.summarize(copy(folder, tmp_path, config=config))
    assert s.total_params == numel(model) and "Checkpoint params" not in s.figures
