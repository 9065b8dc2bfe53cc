"""Hub repos not in the local cache, read from a Hub-shaped server on 127.0.0.1
(tests/hub_server.py) through the real huggingface_hub client: the file list, configs whole,
safetensors and GGUF headers by range, never the weights; the bytes read are said, and the
server's own log says the same."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest
from hub_server import (
    TOKEN,
    Repo,
    Sparse,
    gguf_with_long_header,
    header_bytes,
    read_cost,
    safetensors_file,
)

import paramcount
from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.sources import summarize
from paramcount.sources.safetensors import FIRST_READ

pytest_plugins = ["hub_server"]
pytest.importorskip("huggingface_hub")

ZOO = Path(__file__).resolve().parent.parent / "paramcount" / "zoo"
GPT2 = 124_439_808  # the zoo's gpt2 config as transformers counts it (test_architectures_gpt)
KERNEL = {"dense.kernel": np.zeros((1000, 1000), np.float32),  # 4 MB of weights
          "dense.bias": np.zeros(1000, np.float32)}




def test_a_config_only_repo(hub_at):
    config = (ZOO / "gpt2.json").read_bytes()
    hub_at.repos["org/gpt2"] = Repo.with_files({"config.json": config, "README.md": "hi"})
    s = summarize("org/gpt2")
    assert s.total_params == GPT2 and s.source == "hf://org/gpt2"
    assert s.meta["hub"]["bytes_read"] == len(config) == hub_at.bytes_sent("/org/gpt2/resolve/")
    assert s.meta["hub"]["from"] == "hub" and len(s.meta["hub"]["commit"]) == 40
    assert any(f"{len(config):,} bytes of configs and headers" in n for n in s.notes)


def test_weights_are_never_read(hub_at):
    data = safetensors_file(KERNEL)
    hub_at.repos["org/dense"] = Repo.with_files({"model.safetensors": data})
    s = summarize("org/dense")
    assert s.total_params == 1000 * 1000 + 1000
    sent = hub_at.bytes_sent("/cdn/")  # LFS files come from the CDN port, after a redirect
    assert s.meta["hub"]["bytes_read"] == sent == read_cost(data) < len(data) // 100


def test_a_sharded_repo_with_its_index_and_tied_head(hub_at):
    embed = {"model.embed_tokens.weight": np.zeros((100, 16), np.float32)}
    layer = {"model.layers.0.mlp.weight": np.zeros((16, 16), np.float32)}
    shards = {"model-00001-of-00002.safetensors": safetensors_file(embed),
              "model-00002-of-00002.safetensors": safetensors_file(layer)}
    index = {"metadata": {}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002"
                                            ".safetensors", "model.layers.0.mlp.weight":
                                            "model-00002-of-00002.safetensors"}}
    config = {"architectures": ["LlamaForCausalLM"], "tie_word_embeddings": True}
    hub_at.repos["org/sharded"] = Repo.with_files(
        {**shards, "model.safetensors.index.json": index, "config.json": config})
    s = summarize("org/sharded")
    assert s.total_params == 100 * 16 + 16 * 16  # the tied head is counted once
    # the config beside the shards (read remotely) ties the head transformers would add
    tied = [(n.name, t.owner) for _, n in s.root.walk() for t in n.tied]
    assert tied == [("lm_head", "model.embed_tokens.weight")] and s.meta["shards"] == 2
    # each shard's length and header in one request, foreseen from the index's tensor names
    cdn = [r for r in hub_at.requests if r.path.startswith("/cdn/")]
    assert len(cdn) == 2 and all(r.range.startswith("bytes=0-") for r in cdn)
    assert sum(header_bytes(d) for d in shards.values()) <= hub_at.bytes_sent("/cdn/") < sum(
        len(d) for d in shards.values())


def test_an_lfs_file_is_resolved_once_and_its_ranges_go_where_it_redirected(hub_at,
                                                                            monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    # 600 tensors: a header of about 50 kB, longer than the first read
    data = safetensors_file({f"model.layers.{i}.a_rather_long_module_name.weight":
                             np.zeros((2, 2), np.float32) for i in range(600)})
    first = FIRST_READ
    assert header_bytes(data) > first
    hub_at.repos["org/gated"] = Repo.with_files({"model.safetensors": data}, gated=True)
    assert summarize("org/gated").total_params == 600 * 4
    reads = [r for r in hub_at.requests if r.path.endswith("model.safetensors")
             or r.path.startswith("/cdn/")]
    # the first bytes: one resolve (a redirect) then the CDN; the rest of the header: the CDN
    assert [(r.path.startswith("/cdn/"), r.range) for r in reads] == [
        (False, f"bytes=0-{first - 1}"), (True, f"bytes=0-{first - 1}"),
        (True, f"bytes={first}-{header_bytes(data) - 1}")]
    assert reads[0].token == TOKEN and reads[1].token is None and reads[2].token is None


def test_an_index_that_names_a_missing_shard(hub_at):
    index = {"weight_map": {"w": "model-00001-of-00002.safetensors"}}
    hub_at.repos["org/broken"] = Repo.with_files({"model.safetensors.index.json": index})
    with pytest.raises(SpecError, match=r"hf://org/broken/model\.safetensors\.index\.json: the "
                                        r"shard model-00001-of-00002\.safetensors is missing"):
        summarize("org/broken")


def test_a_gguf_repo_reads_the_header_in_pieces(hub_at, tmp_path):
    path = tmp_path / "m.gguf"
    data = gguf_with_long_header(path)
    hub_at.repos["org/gguf"] = Repo.with_files({"model.gguf": data})
    s = summarize("org/gguf")
    assert s.total_params == summarize(path).total_params == 512 * 1024
    start = gguf.GGUFReader(str(path)).data_offset  # where the tensors' bytes begin
    assert start < hub_at.bytes_sent("/cdn/") <= 2 * start < len(data)


@pytest.mark.parametrize("source", [
    "hf://org/dense/model.safetensors", "hf://org/dense@v1/config.json", "org/dense@v1",
    "{endpoint}/org/dense", "{endpoint}/org/dense/blob/v1/config.json",
])
def test_paths_revisions_and_urls(hub_at, source):
    tiny = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 64,
            "n_layer": 2, "n_head": 4, "vocab_size": 100, "n_positions": 32}
    hub_at.repos["org/dense"] = Repo.with_revisions({
        "main": {"model.safetensors": safetensors_file(KERNEL)},
        "v1": {"config.json": tiny}})
    expected = summarize(tiny).total_params if "v1" in source else 1000 * 1000 + 1000
    assert summarize(source.format(endpoint=hub_at.endpoint)).total_params == expected


def test_every_command_reads_a_remote_repo(hub_at, capsys):
    hub_at.repos["org/gpt2"] = Repo.with_files({"config.json": (ZOO / "gpt2.json").read_bytes()})
    assert main(["org/gpt2", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_params"] == GPT2
    assert main(["memory", "org/gpt2", "--context", "16", "-f", "json"]) == 0
    kv = next(c for c in json.loads(capsys.readouterr().out)["components"]
              if c["name"] == "KV cache")
    assert kv["per_gpu_bytes"] == 12 * 2 * 768 * 16 * 4  # layers × K, V × width × tokens × fp32
    assert paramcount.diff("org/gpt2", "zoo:gpt2").changed is False


def test_a_gated_repo_needs_its_token(hub_at, monkeypatch):
    hub_at.repos["org/gated"] = Repo.with_files({"config.json": (ZOO / "gpt2.json").read_bytes()},
                                                gated=True)
    with pytest.raises(SpecError, match=r"hf://org/gated/config\.json: access refused: a "
                                        r"gated repo; accept its terms on the Hub"):
        summarize("org/gated")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert summarize("org/gated").total_params == GPT2


@pytest.mark.parametrize(("source", "message"), [
    ("org/missing", "hf://org/missing: no such repo on the Hub"),
    ("org/gpt2@v9", "hf://org/gpt2@v9: no such revision in the repo"),
    ("hf://org/gpt2/nothing", r"hf://org/gpt2/nothing: no such file or folder in the repo"),
    ("hf://org/gpt2/other.json", r"hf://org/gpt2/other.json: no such file in the repo"),
])
def test_what_the_hub_does_not_have(hub_at, source, message):
    hub_at.repos["org/gpt2"] = Repo.with_files({"config.json": (ZOO / "gpt2.json").read_bytes()})
    with pytest.raises(SpecError, match=message):
        summarize(source)


def test_offline_asks_nothing(hub_at, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SpecError, match=r"is not in the local Hugging Face cache .*, and "
                                        r"HF_HUB_OFFLINE forbids the network"):
        summarize("org/anything")
    assert hub_at.requests == []


def test_without_huggingface_hub_the_extra_is_named(hub_at, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    with pytest.raises(SpecError, match=r"needs huggingface_hub: pip install 'paramcount\[hub\]'"):
        summarize("org/anything")


def test_unreachable_hub(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: refused
    with pytest.raises(SpecError, match="hf://org/x: cannot reach the Hub"):
        summarize("org/x")


# -- a 70B sharded repo: headers only ----------------------------------------------------------

def llama_70b_shards(count: int = 30) -> dict[str, Sparse]:
    """Llama-3-70B's tensors (names, bf16 shapes from its config: 80 layers, width 8192, 64
    query and 8 key/value heads of 128, MLP 28672, vocabulary 128256) in ``count`` shards,
    each a sparse file: its real header, then zeros where the weights would be."""
    h, kv, ffn, vocab = 8192, 8 * 128, 28672, 128256
    tensors = [("model.embed_tokens.weight", (vocab, h))]
    for i in range(80):
        p = f"model.layers.{i}."
        tensors += [(p + "self_attn.q_proj.weight", (h, h)), (p + "self_attn.k_proj.weight",
                    (kv, h)), (p + "self_attn.v_proj.weight", (kv, h)),
                    (p + "self_attn.o_proj.weight", (h, h)), (p + "mlp.gate_proj.weight",
                    (ffn, h)), (p + "mlp.up_proj.weight", (ffn, h)),
                    (p + "mlp.down_proj.weight", (h, ffn)),
                    (p + "input_layernorm.weight", (h,)),
                    (p + "post_attention_layernorm.weight", (h,))]
    tensors += [("model.norm.weight", (h,)), ("lm_head.weight", (vocab, h))]
    n = len(tensors)
    files = {}
    for k in range(count):
        header, offset = {}, 0
        for name, shape in tensors[k * n // count:(k + 1) * n // count]:
            size = 2 * int(np.prod(shape))
            header[name] = {"dtype": "BF16", "shape": list(shape),
                            "data_offsets": [offset, offset + size]}
            offset += size
        head = json.dumps(header).encode()
        head += b" " * (-len(head) % 8)
        name = f"model-{k + 1:05d}-of-{count:05d}.safetensors"
        files[name] = Sparse(len(head).to_bytes(8, "little") + head, 8 + len(head) + offset)
    return files


def test_a_70b_repo_costs_headers_only(hub_at):
    shards = llama_70b_shards()
    config = json.loads((ZOO / "llama-3-70b.json").read_text())
    index = {"metadata": {}, "weight_map": {
        name: shard for shard, data in shards.items()
        for name in json.loads(data[8:header_bytes(data)])}}
    hub_at.repos["meta/llama-70b"] = Repo.with_files(
        {**shards, "config.json": config, "model.safetensors.index.json": index})
    s = summarize("meta/llama-70b")
    # the zoo's llama-3-70b, which tests/test_sources_hf.py holds equal to transformers' count
    assert s.total_params == summarize("zoo:llama-3-70b").total_params == 70_553_706_496
    # the tree is the remote config's, and the headers hold exactly its weights
    assert s.figures["Checkpoint params"] == s.total_params and s.name == "LlamaForCausalLM"
    assert any("the checkpoint holds exactly its weights" in n for n in s.notes)
    read = s.meta["hub"]["bytes_read"]
    jsons = len(json.dumps(config, indent=2)) + len(json.dumps(index, indent=2))
    assert read == hub_at.bytes_sent("/cdn/") + jsons
    assert read < 2 * 2**20 and sum(len(f) for f in shards.values()) > 140 * 10**9
    # the index foretells each header's length: one request a shard, a little over its header
    cdn = [r for r in hub_at.requests if r.path.startswith("/cdn/")]
    headers = sum(header_bytes(d[:8] + d[8:header_bytes(d)]) for d in shards.values())
    assert len(cdn) == 30 and headers <= read - jsons < 1.5 * headers
