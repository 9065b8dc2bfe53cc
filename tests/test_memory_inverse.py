"""The inverse questions, checked on the forward estimate: the answer fits and one more does
not (``memory.estimate``, not the search under test, says so), the fewest GPUs fits and no
layout on fewer does; and each question's errors."""

from __future__ import annotations

import json

import pytest

import paramcount
from paramcount import memory
from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.memory import inverse
from paramcount.memory.facts import ModelFacts

GIB = 2**30


@pytest.fixture(scope="module")
def llama8b():
    return paramcount.summarize("zoo:llama-3-8b")


def per_gpu(model, **options) -> int:
    return memory.estimate(model, **options).per_gpu


@pytest.mark.parametrize("budget, batch, dtype", [(80 * GIB, 1, None), (24 * GIB, 4, "fp8"),
                                                   (17 * GIB, 2, "bf16")])
def test_max_context_fits_and_one_more_does_not(llama8b, budget, batch, dtype):
    a = inverse.max_context(ModelFacts.of(llama8b), budget, batch=batch, dtype=dtype)
    assert per_gpu(llama8b, context=a.value, batch=batch, dtype=dtype) <= budget
    assert per_gpu(llama8b, context=a.value + 1, batch=batch, dtype=dtype) > budget


def test_max_context_by_hand(llama8b):
    # 80 GiB less 8,030,261,248 × 2 B of weights, over 4 sequences × 32 layers × 8 KV heads
    # × 256 (key and value) × 2 B = 131,072 B a token
    expected = (80 * GIB - 8_030_261_248 * 2) // (4 * 131_072)
    assert inverse.max_context(ModelFacts.of(llama8b), 80 * GIB, batch=4).value == expected


@pytest.mark.parametrize("context", [4096, 32768])
def test_max_batch_fits_and_one_more_does_not(llama8b, context):
    a = inverse.max_batch(ModelFacts.of(llama8b), 80 * GIB, context=context)
    assert per_gpu(llama8b, context=context, batch=a.value) <= 80 * GIB
    assert per_gpu(llama8b, context=context, batch=a.value + 1) > 80 * GIB


def test_nothing_fits_and_a_cache_that_stops_growing():
    big = paramcount.summarize("zoo:llama-3-70b")
    assert inverse.max_context(ModelFacts.of(big), 80 * GIB).value is None
    # Mistral-7B's config has a 4,096-token sliding window on every layer: its cache stops
    # growing, so every context fits, up to the limit searched
    mistral = ModelFacts.of(paramcount.summarize("zoo:mistral-7b"))
    a = inverse.max_context(mistral, 80 * GIB, limit=1 << 20)
    assert a.value == 1 << 20 and a.capped


def test_min_gpus_fits_and_no_fewer_do():
    # counts searched are search.py's: 1, 2, 4, then multiples of 8
    big = paramcount.summarize("zoo:llama-3-70b")
    budget, context = 48 * GIB, 8192
    found, at = inverse.min_gpus(ModelFacts.of(big), budget, context=context)
    p = found.parallel
    assert at is not None and at.per_gpu <= budget
    assert per_gpu(big, context=context, tp=p.tp, pp=p.pp) <= budget
    assert p.gpus == 4
    for gpus in (1, 2):  # every tensor × pipeline layout of fewer GPUs searched
        for tp in (t for t in range(1, gpus + 1) if gpus % t == 0):
            try:
                need = per_gpu(big, context=context, tp=tp, pp=gpus // tp)
            except SpecError:  # a degree that does not divide the heads
                continue
            assert need > budget, (tp, gpus // tp)


def test_largest_by_hand():
    assert inverse.largest(lambda n: n <= 1, 100) == 1
    assert inverse.largest(lambda n: n <= 100, 100) == 100
    assert inverse.largest(lambda n: 3 * n <= 1000, 10**9) == 333


def run(capsys, *args):
    code = main(["memory", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_answers(capsys):
    code, out, _ = run(capsys, "llama-3-8b", "--gpu", "H100", "--max-context", "--batch", "4")
    assert code == 0 and "133,206 tokens (133,207 do not fit)" in out
    code, out, _ = run(capsys, "llama-3-8b", "--gpu", "H100", "--max-batch", "--context",
                       "8192", "--format", "json")
    doc = json.loads(out)
    assert doc["max_batch"] == (80 * GIB - 8_030_261_248 * 2) // (8192 * 131_072)
    assert doc["settings"]["batch"] == doc["max_batch"] and doc["fits"] is True
    code, out, _ = run(capsys, "llama-3-70b", "--gpu-memory", "48GiB", "--min-gpus",
                       "--context", "8192", "--format", "json")
    doc = json.loads(out)
    assert doc["min_gpus"] == {"gpus": doc["parallel"]["gpus"], "tp": doc["parallel"]["tp"],
                               "pp": doc["parallel"]["pp"]}
    assert doc["fits"] is True and doc["gpu"] is None


@pytest.mark.parametrize("args, message", [
    (["--max-context"], "--max-context needs a GPU"),
    (["--gpu", "h100", "--max-batch"], "--max-batch needs --context"),
    (["--gpu", "h100", "--max-context", "--train"], "serving question"),
    (["--gpu", "h100", "--efficiency", "2"], "--efficiency '2'"),
    (["--bandwidth", "fast"], "--bandwidth 'fast'"),
    (["--gpu", "h100", "--estimator", "deepspeed"], "--estimator deepspeed reproduces"),
    (["--gpu", "h100", "--max-batch", "--context", "0"], "--context must be"),
])
def test_errors_are_one_line(capsys, args, message):
    code, _, err = run(capsys, "llama-3-8b", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_gguf_files_stored_bytes(tmp_path, capsys):
    from tests.test_sources_gguf_arch import _llama, base_meta, write_gguf

    config, arch, extra, tensors = _llama()
    path = tmp_path / "tiny.gguf"
    write_gguf(path, arch, {**base_meta(config), **extra}, tensors)
    s = paramcount.summarize(str(path))
    budget = 2**20
    a = inverse.max_context(ModelFacts.of(s), budget, dtype="stored")
    assert per_gpu(s, context=a.value, dtype="stored") <= budget
    assert per_gpu(s, context=a.value + 1, dtype="stored") > budget
    code, out, _ = run(capsys, str(path), "--dtype", "stored", "--gpu-memory", "1MiB",
                       "--max-context", "--format", "markdown")
    assert code == 0 and f"{a.value:,} tokens" in out
