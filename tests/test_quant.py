"""Quantized checkpoints count as the model they encode: packed tensors unpacked by their
format's rules, bookkeeping set apart as bytes (paramcount.sources.quant).

Oracles: transformers builds the unquantized model on the meta device (``sum(numel)``); the
quantized header is written from that model's Linear shapes by each format's packing rule
(tests/quant_headers.py), so the unpacked count must equal the model's exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

import paramcount
from paramcount.errors import SpecError
from tests import quant_headers as qh

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

LLAMA = {"vocab_size": 256, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "intermediate_size": 128, "max_position_embeddings": 64,
         "tie_word_embeddings": False, "architectures": ["LlamaForCausalLM"],
         "model_type": "llama", "torch_dtype": "float16"}
QWEN2 = {**LLAMA, "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}
CONFIGS = {"llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM, LLAMA),
           "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM, QWEN2)}


def meta_model(family: str):
    """The unquantized model transformers builds, on the meta device, and its count."""
    config_cls, model_cls, doc = CONFIGS[family]
    fields = {k: v for k, v in doc.items() if k not in ("model_type", "torch_dtype")}
    with torch.device("meta"):
        model = model_cls(config_cls(**fields))
    return model, sum(p.numel() for p in model.parameters())


def bookkeeping(entries, suffixes) -> int:
    return sum(qh.nbytes(e) for n, e in entries.items() if n.rsplit(".", 1)[-1] in suffixes)


# -- GPTQ ------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", sorted(CONFIGS))
@pytest.mark.parametrize("bits,group", [(4, 128), (8, 32), (2, 64), (3, -1)])
def test_gptq_counts_the_model_it_encodes(tmp_path, family, bits, group):
    model, expected = meta_model(family)
    entries = qh.from_meta_model(model, lambda s, o, i: qh.gptq(s, o, i, bits, group))
    qc = {"quant_method": "gptq", "bits": bits, "group_size": group, "desc_act": False}
    folder = qh.write_model(tmp_path, entries, {**CONFIGS[family][2], "quantization_config": qc})
    s = paramcount.summarize(folder)
    assert s.total_params == expected
    assert s.stored_bytes() == qh.total_bytes(entries)  # the file's data, every byte
    q = s.to_dict()["quantization"]
    assert (q["scheme"], q["bits"], q["detected_from"]) == ("gptq", bits, "quantization_config")
    assert q["group_size"] == (group if group > 0 else None)
    assert q["bookkeeping_bytes"] == bookkeeping(entries, ("qzeros", "scales", "g_idx"))
    assert q["packed_bytes"] == bookkeeping(entries, ("qweight",))
    assert q["quantized_tensors"] == 7 * 2
    assert set(q["unquantized"]) == {"lm_head", "model.embed_tokens"}
    # the config's architecture and the unpacked checkpoint agree: one tree, no difference
    assert s.figures.get("Checkpoint params", expected) == expected
    assert any("holds exactly its weights" in n for n in s.notes)


def test_gptq_without_a_config_is_guessed_from_tensor_names(tmp_path):
    model, expected = meta_model("llama")
    entries = qh.from_meta_model(model, lambda s, o, i: qh.gptq(s, o, i, 4, 32))
    s = paramcount.summarize(qh.write(tmp_path / "m.safetensors", entries))
    assert s.total_params == expected
    q = s.to_dict()["quantization"]
    assert (q["scheme"], q["detected_from"], q["bits"], q["group_size"]) == \
        ("gptq", "tensor names", 4, 32)
    assert any("guessed from tensor names" in n for n in s.notes)


def test_a_hand_counted_gptq_linear():
    """One Linear 128 -> 64, 4-bit, groups of 32: qweight [128·4/32, 64] = [16, 64] int32
    holds 16 × 8 = 128 inputs for each of 64 outputs: 8,192 parameters; the bookkeeping is
    qzeros 4×8×4 + scales 4×64×2 + g_idx 128×4 = 128 + 512 + 512 = 1,152 bytes."""
    from paramcount.sources.quant import logical
    from paramcount.sources.tensors import Tensor

    tensors = [Tensor("fc.qweight", (16, 64), "int32", 4096),
               Tensor("fc.qzeros", (4, 8), "int32", 128),
               Tensor("fc.scales", (4, 64), "float16", 512),
               Tensor("fc.g_idx", (128,), "int32", 512),
               Tensor("fc.bias", (64,), "float16", 128)]
    out, info, _ = logical(tensors, {"quantization_config": {"quant_method": "gptq",
                                                             "bits": 4, "group_size": 32}})
    assert [(t.name, t.shape) for t in out] == [("fc.weight", (64, 128)), ("fc.bias", (64,))]
    assert info.quantized_params == 8192 and info.bookkeeping_bytes == 1152
    assert info.bits_per_weight == (4096 + 1152) * 8 / 8192


# -- bad input -------------------------------------------------------------------------------

def _gptq_folder(tmp_path: Path, qc, entries=None) -> Path:
    entries = entries or {**qh.gptq("model.layers.0.mlp.down_proj", 64, 128, 4, 32),
                          "model.norm.weight": ("F16", (64,))}
    return qh.write_model(tmp_path, entries, {**LLAMA, "quantization_config": qc})


@pytest.mark.parametrize("qc,message", [
    ({"quant_method": "gptq", "bits": 5}, r"quantization_config\.bits=5 must be one of 2, 3, 4, 8"),
    ({"quant_method": "squish"}, r"quant_method='squish' is not a quantization method"),
    ({"quant_method": "gptq", "bits": 4, "group_size": 0}, r"group_size=0 must be"),
])
def test_bad_quantization_configs(tmp_path, qc, message):
    with pytest.raises(SpecError, match=message):
        paramcount.summarize(_gptq_folder(tmp_path, qc))


def test_a_qweight_that_does_not_fit_its_layer(tmp_path):
    entries = qh.gptq("model.layers.0.mlp.down_proj", 64, 128, 4, 32)
    entries["model.layers.0.mlp.down_proj.qweight"] = ("I32", (12, 64))  # 96 inputs, g_idx 128
    with pytest.raises(SpecError, match=r"down_proj\.qweight: 12 rows unpack to 96 inputs, "
                                        r"but g_idx has \[128\]"):
        paramcount.summarize(_gptq_folder(tmp_path, {"quant_method": "gptq", "bits": 4},
                                          entries))


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    from paramcount.cli import main

    folder = _gptq_folder(tmp_path, {"quant_method": "gptq", "bits": 6})
    assert main([str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bits=6 must be one of 2, 3, 4, 8" in err


def test_a_method_known_but_not_unpacked_is_counted_as_stored_with_a_note(tmp_path):
    folder = qh.write_model(tmp_path, {"w.weight": ("F16", (4, 4))},
                            {"quantization_config": {"quant_method": "hqq"}})
    s = paramcount.summarize(folder)
    assert s.total_params == 16 and any("does not unpack" in n for n in s.notes)


def test_a_scheme_can_read_a_small_tensors_bytes(tmp_path):
    """bitsandbytes keeps a weight's shape as JSON in a uint8 tensor: the reader hands the
    schemes a bounded read of it."""
    from paramcount.sources import quant, safetensors
    from paramcount.sources.blobs import LocalFile

    path = tmp_path / "m.safetensors"
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"a": np.zeros((3,), np.float32), "b": np.frombuffer(b'{"x": 1}', np.uint8)},
              str(path))
    blob = LocalFile(path)
    tensors, _ = safetensors.read_tensors(blob)
    read = safetensors._reader([blob])
    assert read(next(t for t in tensors if t.name == "b")) == b'{"x": 1}'
    assert quant.MAX_READ == 2**20
