"""Tokens per second, by hand: the roofline's decode and prefill times for a dense model
(Llama-2-7B in fp16 on an H100), a quantized mixture (Mixtral-8x7B as 4-bit GPTQ on two
A100s), and a GGUF file's stored bytes. The weights' bytes come from the forward estimate
(tested on its own in test_memory*); every other figure is written out here."""

from __future__ import annotations

import json

import pytest

import paramcount
from paramcount import memory
from paramcount.cli import main
from paramcount.memory import speed
from paramcount.memory.gpus import gpu
from paramcount.sources.hf import from_dict
from tests.test_memory_cli import LLAMA2_7B, LLAMA2_7B_PARAMS

GIB, T = 2**30, 10**12
MIXTRAL = {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"],
           "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
           "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000,
           "num_local_experts": 8, "num_experts_per_tok": 2, "torch_dtype": "bfloat16"}


def test_llama2_7b_fp16_on_h100():
    s = from_dict(LLAMA2_7B)
    e = memory.estimate(s, dtype="fp16", context=4096)
    r = speed.roofline(s, e, gpu("H100"))
    read = LLAMA2_7B_PARAMS - 32000 * 4096  # a token reads one row of the untied embedding
    assert r.weight_bytes == pytest.approx(2 * read)
    assert r.cache_bytes == 2 * GIB  # 32 layers × 4,096 × 2 (K and V) × 4,096 tokens × 2 B
    step = (2 * read + 2 * GIB) / (3.35 * T * 0.8)
    assert r.decode_tokens_per_s == pytest.approx(1 / step)
    assert r.aggregate_tokens_per_s == pytest.approx(1 / step)
    assert r.decode_bound == "memory bandwidth"
    # one token: its projections and MLP and the LM head, then attention to 4,096 positions
    linear = 32 * (4 * 4096**2 + 3 * 4096 * 11008) + 32000 * 4096
    attention = 2 * 32 * 32 * (128 + 128) * 4096
    assert r.decode_flops == 2 * linear + attention
    prefill = 4096 * (2 * linear + attention)
    assert r.prefill_flops == prefill
    assert r.ttft_s == pytest.approx(prefill / (989.4 * T * 0.5))
    assert r.prefill_bound == "compute"


def test_mixtral_gptq_on_two_a100s():
    s = from_dict(MIXTRAL)
    e = memory.estimate(s, dtype="int4", scheme="gptq", context=2048, batch=8, tp=2)
    r = speed.roofline(s, e, gpu("A100-80GB"), efficiency=(0.7, 0.4))
    total = s.total_params
    idle = 32 * 6 * 3 * 4096 * 14336  # 6 of 8 experts idle in each of 32 layers
    assert total - idle == 12_879_925_248  # Mistral's "12.9B active parameters"
    read = total - idle - 32000 * 4096
    assert r.weight_bytes == pytest.approx(e.component("weights").per_gpu * read / total)
    # each GPU: 4 of the 8 KV heads × 256 × 2 B × 2,048 tokens × 8 sequences × 32 layers
    assert r.cache_bytes == 32 * 4 * 256 * 2 * 2048 * 8 == GIB
    step = (r.weight_bytes + GIB) / (2.039 * T * 0.7)
    assert r.decode_tokens_per_s == pytest.approx(1 / step)
    assert r.aggregate_tokens_per_s == pytest.approx(8 / step)
    active = 32 * (2 * 4096**2 + 2 * 4096 * 1024 + 4096 * 8 + 2 * 3 * 4096 * 14336) \
        + 32000 * 4096
    per_token = 2 * active + 2 * 32 * 32 * 256 * 2048
    assert r.decode_flops == 8 * per_token
    compute = 8 * per_token / (2 * 312 * T * 0.4)  # two GPUs share each product
    assert compute < step and r.decode_bound == "memory bandwidth"
    assert r.ttft_s == pytest.approx(2048 * 8 * per_token / (2 * 312 * T * 0.4))


def test_gguf_stored_bytes(tmp_path):
    from tests.test_sources_gguf_arch import H, V, _llama, base_meta, write_gguf

    config, arch, extra, tensors = _llama()

    path = tmp_path / "tiny.gguf"
    write_gguf(path, arch, {**base_meta(config), **extra}, tensors)
    s = paramcount.summarize(str(path))
    e = memory.estimate(s, dtype="stored", context=64)
    r = speed.roofline(s, e, gpu("RTX 4090"))
    stored = sum(2 * _elements(shape) for shape in tensors.values())  # float16 zeros
    total = sum(_elements(shape) for shape in tensors.values())
    assert r.weight_bytes == pytest.approx(stored * (total - V * H) / total)
    # 2 layers × 2 KV heads × 16 × 2 (K and V) × 64 tokens × 2 B
    assert r.cache_bytes == 2 * 2 * 16 * 2 * 64 * 2
    step = (r.weight_bytes + r.cache_bytes) / (1.008 * T * 0.8)
    assert r.decode_tokens_per_s == pytest.approx(1 / step)


def _elements(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@pytest.mark.parametrize("weights, expected", [("bfloat16", "bf16"), ("float16", "fp16"),
                                               ("float8_e4m3fn", "fp8"), ("int4", "bf16"),
                                               ("Q4_K", "bf16"), ("float32", "fp32")])
def test_compute_dtype(weights, expected):
    assert speed.compute_dtype(weights) == expected


def test_cli_shows_the_roofline(capsys, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(LLAMA2_7B))
    assert main(["memory", str(path), "--gpu", "h100", "--dtype", "fp16", "--context", "4096",
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    read = LLAMA2_7B_PARAMS - 32000 * 4096
    step = (2 * read + 2 * GIB) / (3.35 * T * 0.8)
    assert doc["decode_tokens_per_s"] == pytest.approx(1 / step)
    assert doc["decode_tokens_per_s_all"] == pytest.approx(1 / step)
    assert doc["ttft_s"] > 0 and doc["gpu"]["name"] == "H100 SXM"
    assert doc["roofline"]["decode_bound"] == "memory bandwidth"
    assert main(["memory", str(path), "--bandwidth", "1TB/s", "--efficiency", "0.5"]) == 0
    out = capsys.readouterr().out
    read_all = 2 * read  # bf16 is the config's float16 here: 2 B a weight; no cache
    assert f"{0.5 * T / read_all:,.1f} tokens/s per sequence" in out
    assert "give --context" in out
