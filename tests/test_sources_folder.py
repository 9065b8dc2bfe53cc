"""Folders: Hugging Face model folders, shard sets, one model in several formats, several
models, subfolders; counts equal transformers' and PyTorch's; a config alone still works."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file, save_model

import paramcount
from paramcount.errors import SpecError


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(n_layer=3, n_embd=32, n_head=2, vocab_size=80,
                                      n_positions=32))


def test_hugging_face_folder_equals_transformers_tied_head_listed(tmp_path):
    model = _gpt2()
    model.save_pretrained(tmp_path, max_shard_size="30KB")
    seen = []
    s = paramcount.summarize(tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert s.total_params == parameters(model) == model.num_parameters()
    assert s.meta["tied"] == {"lm_head.weight": "transformer.wte.weight"}
    # the tree is the config's (the class, its blocks' types), checked against the shards
    assert s.name == "GPT2LMHeadModel" and s.figures["Checkpoint params"] == parameters(model)
    assert s.meta["architecture_from"] == str(tmp_path / "config.json")
    assert {n.type for _, n in s.root.walk()} >= {"GPT2Block", "GPT2Attention"}
    shards = len(list(tmp_path.glob("model-*.safetensors")))
    assert shards > 1 and seen == [(i, shards) for i in range(1, shards + 1)]
    lm_head = next(n for n in s.layers if n.name == "lm_head")
    assert lm_head.params == 0 and lm_head.tied[0].owner == "transformer.wte.weight"


def test_shards_without_an_index_are_one_model(tmp_path):
    model = _gpt2()
    model.save_pretrained(tmp_path, max_shard_size="30KB")
    (tmp_path / "model.safetensors.index.json").unlink()
    assert paramcount.summarize(tmp_path).total_params == parameters(model)
    next(tmp_path.glob("model-00002-*.safetensors")).unlink()
    with pytest.raises(SpecError, match=r"of the .* shards of model-\*-of-"):
        paramcount.summarize(tmp_path)


def test_one_model_in_two_formats_is_counted_once(tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                              torch.nn.Linear(8, 2))
    save_model(net, str(tmp_path / "model.safetensors"))
    torch.save(net.state_dict(), tmp_path / "pytorch_model.bin")
    torch.save({}, tmp_path / "optimizer.pt")  # a trainer's file: skipped
    torch.save({"lr": 0.1}, tmp_path / "training_args.bin")
    (tmp_path / "ggml-model-q4_0.bin").write_bytes(b"lmgg" + bytes(64))  # not PyTorch's
    s = paramcount.summarize(tmp_path)
    assert s.total_params == parameters(net)
    assert s.meta["format"] == "safetensors"
    assert s.meta["same_model_in"] == ["pytorch_model.bin"]


def test_several_models_give_one_row_and_one_total_each(tmp_path):
    a = torch.nn.Linear(10, 10)
    b = torch.nn.Conv2d(3, 4, 3)
    save_file(a.state_dict(), str(tmp_path / "text.safetensors"))
    (tmp_path / "vision").mkdir()
    torch.save(b.state_dict(), tmp_path / "vision" / "encoder.pt")
    (tmp_path / ".cache").mkdir()
    torch.save(b.state_dict(), tmp_path / ".cache" / "ignored.pt")
    s = paramcount.summarize(tmp_path)
    assert [n.name for n in s.layers] == ["text.safetensors", "vision/encoder.pt"]
    assert [n.params for n in s.layers] == [parameters(a), parameters(b)]
    assert s.figures == {"text.safetensors params": parameters(a),
                         "vision/encoder.pt params": parameters(b)}
    assert s.total_params == parameters(a) + parameters(b)
    assert s.meta["models"] == 2
    doc = s.to_dict(depth=1)
    assert [layer["params"] for layer in doc["layers"]] == [parameters(a), parameters(b)]


def test_a_config_alone_is_still_summarized_from_the_config(tmp_path):
    from transformers import GPT2Config

    GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=80).save_pretrained(tmp_path)
    from_folder = paramcount.summarize(tmp_path)
    from_file = paramcount.summarize(tmp_path / "config.json")
    assert from_folder.total_params == from_file.total_params > 0


def test_a_model_yaml_alone(tmp_path):
    (tmp_path / "model.yaml").write_text("input_shape: [4]\nlayers:\n  - Dense: {units: 2}\n")
    assert paramcount.summarize(tmp_path).total_params == 10


def test_an_empty_folder_and_a_bad_checkpoint_in_a_folder(tmp_path):
    with pytest.raises(SpecError, match="no model files in this folder"):
        paramcount.summarize(tmp_path)
    (tmp_path / "broken.safetensors").write_bytes(b"\x00")
    with pytest.raises(SpecError, match=r"broken\.safetensors: truncated"):
        paramcount.summarize(tmp_path)


def test_gguf_next_to_safetensors_is_the_same_model(tmp_path):
    import gguf
    import numpy as np

    weights = {"blk.0.w.weight": np.zeros((4, 32), np.float32),
               "blk.1.w.weight": np.zeros((4, 32), np.float32)}
    save_file({k: torch.from_numpy(v) for k, v in weights.items()},
              str(tmp_path / "model.safetensors"))
    w = gguf.GGUFWriter(str(tmp_path / "model-Q8_0.gguf"), "llama")
    for name, array in weights.items():
        w.add_tensor(name, gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0),
                     raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    (tmp_path / "notes.json").write_text(json.dumps({"not": "a model"}))
    s = paramcount.summarize(tmp_path)
    assert s.total_params == 256 and s.meta["same_model_in"] == ["model-Q8_0.gguf"]
