"""Quantized checkpoints count as the model they encode: packed tensors unpacked by their
format's rules, bookkeeping set apart as bytes (paramcount.sources.quant).

Oracles: transformers builds the unquantized model on the meta device (``sum(numel)``); the
quantized header is written from that model's Linear shapes by each format's packing rule
(tests/quant_headers.py), so the unpacked count must equal the model's exactly."""

from __future__ import annotations

import json
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


# -- AWQ -------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", sorted(CONFIGS))
@pytest.mark.parametrize("with_config", [True, False])
def test_awq_counts_the_model_it_encodes(tmp_path, family, with_config):
    model, expected = meta_model(family)
    entries = qh.from_meta_model(model, lambda s, o, i: qh.awq(s, o, i, 4, 32))
    qc = {"quant_method": "awq", "bits": 4, "group_size": 32, "version": "gemm"}
    config = {**CONFIGS[family][2], "quantization_config": qc} if with_config else None
    s = paramcount.summarize(qh.write_model(tmp_path, entries, config))
    assert s.total_params == expected
    q = s.to_dict()["quantization"]
    assert (q["scheme"], q["bits"], q["group_size"]) == ("awq", 4, 32)
    assert q["detected_from"] == ("quantization_config" if with_config else "tensor names")
    assert q["bookkeeping_bytes"] == bookkeeping(entries, ("qzeros", "scales"))


# -- MXFP4 (gpt-oss) -------------------------------------------------------------------------

GPT_OSS_TINY = {"vocab_size": 128, "hidden_size": 64, "num_hidden_layers": 2,
                "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                "intermediate_size": 64, "num_local_experts": 4, "num_experts_per_tok": 2}


def test_mxfp4_counts_gpt_oss_as_transformers_builds_it(tmp_path):
    with torch.device("meta"):
        model = transformers.GptOssForCausalLM(transformers.GptOssConfig(**GPT_OSS_TINY))
    expected = sum(p.numel() for p in model.parameters())
    entries: dict[str, qh.Entry] = {}
    for name, p in model.named_parameters():
        if name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            entries.update(qh.mxfp4(name, *p.shape))  # [experts, in, out]
        else:
            entries[name] = ("BF16", tuple(p.shape))
    config = {**GPT_OSS_TINY, "model_type": "gpt_oss", "architectures": ["GptOssForCausalLM"],
              "quantization_config": {"quant_method": "mxfp4"}}
    for cfg in (config, None):
        folder = qh.write_model(tmp_path / str(cfg is None), entries, cfg)
        s = paramcount.summarize(folder)
        assert s.total_params == expected
        q = s.to_dict()["quantization"]
        assert (q["scheme"], q["bits"], q["group_size"]) == ("mxfp4", 4, 32)
        assert q["bookkeeping_bytes"] == sum(qh.nbytes(e) for n, e in entries.items()
                                             if n.endswith("_scales"))
        assert q["bits_per_weight"] == 4.25  # 16 bytes + 1 scale byte per 32 values


GPT_OSS = {"vocab_size": 201088, "hidden_size": 2880, "intermediate_size": 2880,
           "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
           "experts_per_token": 4, "model_type": "gpt_oss",
           "architectures": ["GptOssForCausalLM"], "tie_word_embeddings": False,
           "quantization_config": {"quant_method": "mxfp4", "modules_to_not_convert": [
               "model.layers.*.self_attn", "model.layers.*.mlp.router",
               "model.embed_tokens", "lm_head"]}}


@pytest.mark.parametrize("layers,experts,published", [
    (24, 32, 20_914_757_184),   # openai/gpt-oss-20b
    (36, 128, 116_829_156_672),  # openai/gpt-oss-120b
])
def test_gpt_oss_published_counts(tmp_path, layers, experts, published):
    cfg = {**GPT_OSS, "num_hidden_layers": layers, "num_local_experts": experts}
    folder = qh.write_model(tmp_path, qh.gpt_oss_layout(cfg), cfg)
    s = paramcount.summarize(folder)
    assert s.total_params == published
    assert s.to_dict()["quantization"]["quantized_tensors"] == 2 * layers


# -- FP8 with block scales (DeepSeek-V3 style) -----------------------------------------------

def test_fp8_block_scales_are_bookkeeping(tmp_path):
    model, expected = meta_model("llama")
    entries = qh.from_meta_model(model, lambda s, o, i: qh.fp8_block(s, o, i, 32), dtype="BF16")
    qc = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
          "weight_block_size": [32, 32]}
    s = paramcount.summarize(qh.write_model(tmp_path, entries,
                                            {**LLAMA, "quantization_config": qc}))
    assert s.total_params == expected
    q = s.to_dict()["quantization"]
    assert q["scheme"] == "fp8" and q["bookkeeping"] == {
        "weight_scale_inv": bookkeeping(entries, ("weight_scale_inv",))}
    assert s.by_dtype()["float8_e4m3fn"][0] == q["quantized_params"]
    bad = {**entries, "model.layers.0.mlp.down_proj.weight_scale_inv": ("F32", (3, 3))}
    with pytest.raises(SpecError, match=r"down_proj\.weight: \[64, 128\] in blocks of "
                                        r"\[32, 32\] needs weight_scale_inv \[2, 4\]"):
        paramcount.summarize(qh.write_model(tmp_path / "bad", bad,
                                            {**LLAMA, "quantization_config": qc}))


# -- NVFP4 (ModelOpt) ------------------------------------------------------------------------

@pytest.mark.parametrize("with_config", [True, False])
def test_modelopt_nvfp4(tmp_path, with_config):
    model, expected = meta_model("qwen2")
    entries = qh.from_meta_model(model, qh.modelopt_nvfp4, dtype="BF16")
    qc = {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16}
    config = {**QWEN2, "quantization_config": qc} if with_config else None
    s = paramcount.summarize(qh.write_model(tmp_path, entries, config))
    assert s.total_params == expected
    q = s.to_dict()["quantization"]
    assert (q["scheme"], q["bits"], q["group_size"]) == ("modelopt", 4, 16)
    assert q["bookkeeping_bytes"] == bookkeeping(
        entries, ("weight_scale", "weight_scale_2", "input_scale"))


# -- compressed-tensors pack-quantized -------------------------------------------------------

W4A16 = {"quant_method": "compressed-tensors", "format": "pack-quantized",
         "quantization_status": "compressed", "ignore": ["lm_head"],
         "config_groups": {"group_0": {"targets": ["Linear"], "input_activations": None,
                                       "weights": {"num_bits": 4, "type": "int",
                                                   "symmetric": True, "strategy": "group",
                                                   "group_size": 128}}}}


def test_pack_quantized_tiny(tmp_path):
    model, expected = meta_model("llama")
    entries = qh.from_meta_model(model, qh.pack_quantized, dtype="BF16")
    s = paramcount.summarize(qh.write_model(tmp_path, entries,
                                            {**LLAMA, "quantization_config": W4A16}))
    assert s.total_params == expected
    q = s.to_dict()["quantization"]
    assert (q["scheme"], q["bits"], q["group_size"]) == ("compressed-tensors", 4, 128)
    assert q["bookkeeping"] == {"weight_scale": bookkeeping(entries, ("weight_scale",)),
                                "weight_shape": bookkeeping(entries, ("weight_shape",))}


def test_mixed_bit_groups_read_each_tensors_shape(tmp_path):
    """Two config groups of 4 and 8 bits: each weight's width comes from its weight_shape."""
    import numpy as np
    from safetensors.numpy import save_file

    arrays = {"a.weight_packed": np.zeros((8, 2), np.int32),  # 16 inputs at 4 bits
              "a.weight_shape": np.array([8, 16], np.int64),
              "b.weight_packed": np.zeros((8, 4), np.int32),  # 16 inputs at 8 bits
              "b.weight_shape": np.array([8, 16], np.int64)}
    save_file(arrays, str(tmp_path / "model.safetensors"))
    groups = {"g4": {"weights": {"num_bits": 4}}, "g8": {"weights": {"num_bits": 8}}}
    (tmp_path / "config.json").write_text(json.dumps({"quantization_config": {
        "quant_method": "compressed-tensors", "config_groups": groups}}))
    s = paramcount.summarize(tmp_path)
    assert s.total_params == 2 * 8 * 16
    assert {w.dtype for _, w in s.weights()} == {"int4", "int8"}


LLAMA_33_70B = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
                "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256,
                "max_position_embeddings": 131072, "rms_norm_eps": 1e-05,
                "tie_word_embeddings": False, "torch_dtype": "bfloat16",
                "attention_bias": False, "mlp_bias": False, "rope_theta": 500000.0}


def test_llama_33_70b_w4a16_equals_the_base_model(tmp_path):
    """RedHatAI/Llama-3.3-70B-Instruct-quantized.w4a16: 70,553,706,496, as the base model."""
    entries = qh.llama_layout(LLAMA_33_70B, qh.pack_quantized)
    folder = qh.write_model(tmp_path, entries, {**LLAMA_33_70B, "quantization_config": W4A16})
    s = paramcount.summarize(folder)
    assert s.total_params == 70_553_706_496
    base = paramcount.summarize(LLAMA_33_70B)  # the config alone: the unquantized model
    assert base.total_params == 70_553_706_496
    assert s.figures["Checkpoint params"] == 70_553_706_496
    assert any("holds exactly its weights" in n for n in s.notes)


LLAMA_31_8B = {**LLAMA_33_70B, "hidden_size": 4096, "intermediate_size": 14336,
               "num_hidden_layers": 32, "num_attention_heads": 32}
BNB_NF4 = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
           "bnb_4bit_use_double_quant": True, "bnb_4bit_compute_dtype": "bfloat16"}


def test_llama_31_8b_bnb_4bit_equals_the_base_model(tmp_path):
    """unsloth/Meta-Llama-3.1-8B-bnb-4bit's layout (NF4, double quantization, embeddings and
    head in bf16): 8,030,261,248, the base model's count (the Hub long showed about half)."""
    entries = qh.llama_layout(LLAMA_31_8B, qh.bnb_nf4)
    folder = qh.write_model(tmp_path, entries, {**LLAMA_31_8B, "quantization_config": BNB_NF4})
    shapes = {"q_proj": (4096, 4096), "k_proj": (1024, 4096), "v_proj": (1024, 4096),
              "o_proj": (4096, 4096), "gate_proj": (14336, 4096), "up_proj": (14336, 4096),
              "down_proj": (4096, 14336)}  # Llama-3.1-8B's [out, in]: hidden 4096, kv 1024
    states = {name: qh.bnb_state(*shapes[name.split(".")[4]]) for name in entries
              if name.endswith("quant_state.bitsandbytes__nf4")}
    qh.fill(folder / "model.safetensors", states)
    s = paramcount.summarize(folder)
    assert s.total_params == 8_030_261_248
    assert paramcount.summarize(LLAMA_31_8B).total_params == 8_030_261_248
    assert s.figures["Checkpoint params"] == 8_030_261_248
    assert any("holds exactly its weights" in n for n in s.notes)


def test_memory_scheme_sizes_a_config_as_the_checkpoint_stores_it(tmp_path):
    """`memory --dtype int4 --scheme gptq` on Llama-3.1-8B's config (memory/schemes.py's rules)
    gives the bytes of the GPTQ checkpoint written from the format's definition
    (tests/quant_headers.py), tensor for tensor: two descriptions of one format agree."""
    from paramcount import memory

    qc = {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": True}
    folder = qh.write_model(tmp_path / "gptq", qh.llama_layout(LLAMA_31_8B, qh.gptq),
                            {**LLAMA_31_8B, "quantization_config": qc})
    stored = paramcount.summarize(folder).stored_bytes()
    assert stored == qh.total_bytes(qh.llama_layout(LLAMA_31_8B, qh.gptq))
    plan = memory.estimate(paramcount.summarize(LLAMA_31_8B), dtype="int4", scheme="gptq")
    assert plan.component("weights").per_gpu == stored


# -- MLX -------------------------------------------------------------------------------------

def test_mlx_quantizes_embeddings_too(tmp_path):
    model, expected = meta_model("llama")
    entries = qh.from_meta_model(model, qh.mlx, skip=())
    emb = entries.pop("model.embed_tokens.weight")
    entries.update(qh.mlx("model.embed_tokens", *emb[1]))
    config = {**LLAMA, "quantization": {"group_size": 64, "bits": 4},
              "quantization_config": {"group_size": 64, "bits": 4}}
    for cfg in (config, None):
        s = paramcount.summarize(qh.write_model(tmp_path / str(cfg is None), entries, cfg))
        assert s.total_params == expected
        q = s.to_dict()["quantization"]
        assert (q["scheme"], q["bits"], q["group_size"]) == ("mlx", 4, 64)
        assert q["unquantized"] == []
        assert q["bookkeeping_bytes"] == bookkeeping(entries, ("scales", "biases"))


# -- three figures: the config's, the checkpoint's, the files' -------------------------------

def _sharded(tmp_path: Path, entries, config, metadata) -> Path:
    names = list(entries)
    half = len(names) // 2
    files = {"model-00001-of-00002.safetensors": names[:half],
             "model-00002-of-00002.safetensors": names[half:]}
    for file, part in files.items():
        qh.write(tmp_path / file, {n: entries[n] for n in part})
    index = {"metadata": metadata, "weight_map": {n: f for f, ns in files.items() for n in ns}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_the_declared_figures_of_an_index_are_shown_beside_the_counts(tmp_path):
    model, expected = meta_model("llama")
    entries = qh.from_meta_model(model, lambda s, o, i: qh.gptq(s, o, i, 4, 32))
    config = {**LLAMA, "quantization_config": {"quant_method": "gptq", "bits": 4,
                                               "group_size": 32}}
    packed = sum(qh.numel(e[1]) for e in entries.values())  # what a naive tool declares
    folder = _sharded(tmp_path, entries, config,
                      {"total_size": qh.total_bytes(entries), "total_parameters": packed})
    s = paramcount.summarize(folder)
    assert s.total_params == s.figures["Checkpoint params"] == expected
    assert s.figures["Declared params"] == packed
    assert f"The index declares {packed:,} parameters: {expected - packed:+,}" in "\n".join(
        s.notes)
    doc = s.to_dict()
    assert doc["quantization"]["declared_params"] == packed
    assert doc["meta"]["declared_bytes"] == qh.total_bytes(entries) == s.stored_bytes()
    assert not any("bytes of tensors" in n for n in s.notes)  # total_size agrees


def test_explain_shows_the_unpacking(tmp_path):
    model, _ = meta_model("llama")
    entries = qh.from_meta_model(model, lambda s, o, i: qh.gptq(s, o, i, 4, 32))
    text = paramcount.summarize(qh.write(tmp_path / "m.safetensors", entries)).explain()
    assert "Unpacked (gptq)" in text
    assert ("model.layers.0.self_attn.q_proj.qweight int32 [8, 64]: 8 rows × 8 4-bit values "
            "per int32 = 64 inputs; weight [64, 64] = 4,096 parameters") in text


def test_the_cli_json_has_the_quantization_object(tmp_path, capsys):
    from paramcount.cli import main

    model, expected = meta_model("llama")
    entries = qh.from_meta_model(model, lambda s, o, i: qh.awq(s, o, i, 4, 32))
    folder = qh.write_model(tmp_path, entries, {**LLAMA, "quantization_config": {
        "quant_method": "awq", "bits": 4, "group_size": 32}})
    assert main([str(folder), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total_params"] == expected
    assert doc["quantization"]["scheme"] == "awq"
    assert "quantized" not in doc["meta"] and doc["meta"]["quantization"] == "awq"


def test_a_gptq_pytorch_bin_is_unpacked_too(tmp_path):
    """Older GPTQ repos ship pytorch_model.bin: the same tensors in a pickle."""
    model, expected = meta_model("llama")
    entries = qh.from_meta_model(model, lambda s, o, i: qh.gptq(s, o, i, 4, 32))
    dtypes = {"I32": torch.int32, "F16": torch.float16}
    state = {n: torch.zeros(e[1], dtype=dtypes[e[0]]) for n, e in entries.items()}
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps({**LLAMA, "quantization_config": {
        "quant_method": "gptq", "bits": 4, "group_size": 32}}))
    s = paramcount.summarize(tmp_path)
    assert s.total_params == expected
    assert s.to_dict()["quantization"]["scheme"] == "gptq"


def test_bits_per_weight_by_module():
    """q_proj 64×64 at 4 bits in groups of 32: 2,048 bytes of qweight, qzeros 2×8×4 = 64,
    scales 2×64×2 = 256, g_idx 64×4 = 256: 2,624 bytes for 4,096 weights, 5.125 bits each."""
    from paramcount.sources.quant import logical
    from paramcount.sources.tensors import Tensor

    tensors = [Tensor(f"model.layers.{i}.q_proj.{n}", shape, dtype, nbytes)
               for i in range(2) for n, shape, dtype, nbytes in (
                   ("qweight", (8, 64), "int32", 2048), ("qzeros", (2, 8), "int32", 64),
                   ("scales", (2, 64), "float16", 256), ("g_idx", (64,), "int32", 256))]
    _, info, _ = logical(tensors, None)
    assert info.to_dict()["modules"] == {"model.layers.*.q_proj": {
        "params": 8192, "bytes": 5248, "bits_per_weight": 5.125}}


def test_the_readme_examples_are_what_paramcount_prints(tmp_path):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    model, expected = meta_model("llama")
    assert f"({expected:,} parameters unquantized" in readme
    layouts = {"gptq": (lambda s, o, i: qh.gptq(s, o, i, 4, 32), {"bits": 4, "group_size": 32}),
               "awq": (lambda s, o, i: qh.awq(s, o, i, 4, 32), {"bits": 4, "group_size": 32}),
               "fp8": (lambda s, o, i: qh.fp8_block(s, o, i, 32), {"weight_block_size":
                                                                   [32, 32]}),
               "modelopt": (qh.modelopt_nvfp4, {"quant_algo": "NVFP4"})}
    for method, (layout, qc) in layouts.items():
        entries = qh.from_meta_model(model, layout)
        folder = qh.write_model(tmp_path / method, entries, {**LLAMA, "quantization_config": {
            "quant_method": method, **qc}})
        s = paramcount.summarize(folder)
        lines = [n for n in s.notes if n.startswith(("Quantized:", "Quantization bookkeeping"))]
        assert len(lines) == 2 and all(line in readme for line in lines), lines
