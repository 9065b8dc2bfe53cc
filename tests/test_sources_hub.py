"""Hub ids through the front door, from a local Hugging Face cache laid out as huggingface_hub
lays it out (``models--ORG--NAME/refs/REVISION``, ``snapshots/COMMIT/``, files as symlinks into
``blobs/``), generated here: no network."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import paramcount
from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.sources import hub, summarize

ZOO = Path(__file__).resolve().parent.parent / "paramcount" / "zoo"
GPT2 = 124_439_808  # the zoo's gpt2 config as transformers counts it (test_architectures_gpt)
MAIN, V1 = "a" * 40, "b" * 40
TINY = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 64, "n_layer": 2,
        "n_head": 4, "vocab_size": 100, "n_positions": 32}


def put(repo: Path, commit: str, name: str, data: bytes) -> None:
    """A file of a snapshot, stored once in blobs/ and linked by a relative path, as
    huggingface_hub stores it."""
    blob = repo / "blobs" / f"{commit[:8]}-{name.replace('/', '_')}"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    link = repo / "snapshots" / commit / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache with org/gpt2 (main: GPT-2's config; v1: a tiny GPT-2) and org/arrays (a
    safetensors file of 4·2 + 2 = 10 parameters), under HF_HUB_CACHE."""
    from safetensors.numpy import save

    root = tmp_path / "hub"
    repo = root / "models--org--gpt2"
    put(repo, MAIN, "config.json", (ZOO / "gpt2.json").read_bytes())
    put(repo, V1, "config.json", json.dumps(TINY).encode())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(MAIN)
    (repo / "refs" / "v1").write_text(V1)
    arrays = root / "models--org--arrays"
    weights = save({"dense.kernel": np.zeros((4, 2), np.float32),
                    "dense.bias": np.zeros(2, np.float32)})
    put(arrays, MAIN, "model.safetensors", weights)
    (arrays / "refs").mkdir()
    (arrays / "refs" / "main").write_text(MAIN)
    for name in ("HF_HOME", "XDG_CACHE_HOME", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the cache alone: a miss never asks the Hub
    return root


@pytest.mark.parametrize("source", [
    "org/gpt2", "org/gpt2@main", f"org/gpt2@{MAIN}", "hf://org/gpt2", "hf://org/gpt2/config.json",
    "https://huggingface.co/org/gpt2", "https://huggingface.co/org/gpt2/blob/main/config.json",
])
def test_a_cached_repo_reads_as_its_folder(cache, source):
    s = summarize(source)
    assert s.total_params == GPT2 == summarize(ZOO / "gpt2.json").total_params
    assert s.meta["hub"]["commit"] == MAIN and s.meta["hub"]["from"] == "cache"


def test_a_revision_reads_its_own_snapshot(cache):
    tiny = summarize(TINY).total_params  # the same config given as a dict
    assert summarize("org/gpt2@v1").total_params == tiny
    assert summarize(f"hf://org/gpt2@{V1}/config.json").total_params == tiny
    assert summarize("org/gpt2@v1").source == "hf://org/gpt2@v1"


def test_weights_in_the_cache(cache, capsys):
    assert summarize("org/arrays").total_params == 10  # 4·2 + 2
    assert main(["org/arrays", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_params"] == 10


def test_every_command_takes_a_hub_id(cache, capsys):
    assert main(["memory", "org/gpt2", "--context", "16", "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    kv = next(c for c in doc["components"] if c["name"] == "KV cache")
    assert kv["per_gpu_bytes"] == 12 * 2 * 768 * 16 * 4  # layers × K, V × width × tokens × fp32
    d = paramcount.diff("org/gpt2@v1", "org/gpt2")
    assert d.a.totals[0] == summarize(TINY).total_params and d.b.totals[0] == GPT2


@pytest.mark.parametrize(("variable", "sub"), [("HF_HUB_CACHE", ""), ("HF_HOME", "hub"),
                                               ("XDG_CACHE_HOME", "huggingface/hub")])
def test_where_the_cache_is(cache, tmp_path, monkeypatch, variable, sub):
    monkeypatch.delenv("HF_HUB_CACHE")
    home = tmp_path / "home"
    target = home / sub if sub else home
    target.parent.mkdir(parents=True, exist_ok=True)
    cache.rename(target)
    monkeypatch.setenv(variable, str(home))
    assert hub.cache_dir() == target
    assert summarize("org/gpt2").total_params == GPT2


@pytest.mark.parametrize(("source", "message"), [
    ("org/missing", "hf://org/missing is not in the local Hugging Face cache"),
    ("org/missing", "and HF_HUB_OFFLINE forbids the network"),
    ("org/gpt2@v2", "hf://org/gpt2@v2 is not in the local Hugging Face cache"),
    ("hf://org/gpt2/nothing.json", "is not in the local Hugging Face cache"),
    ("hf://org/gpt2@../../models--org--arrays/refs", "is not in the local"),
    ("org/model.yaml", "org/model.yaml: no such file"),  # a missing file, not a repo
])
def test_what_is_not_there(cache, source, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(".", r"\.")):
        summarize(source)


def test_a_path_that_exists_wins(cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("org").mkdir()
    Path("org/gpt2").mkdir()
    Path("org/gpt2/config.json").write_text(json.dumps(TINY))
    assert summarize("org/gpt2").total_params == summarize(TINY).total_params
    assert summarize("hf://org/gpt2").total_params == GPT2
