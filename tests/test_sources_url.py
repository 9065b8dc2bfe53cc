"""Model files and folders named by URL, read through fsspec as Hub repos are: configs whole,
safetensors and GGUF headers by range, never the weights. ``https://`` against a server on
127.0.0.1 (tests/hub_server.py, not as the Hub: its resolve URLs as plain file URLs), ``s3://``
against moto's S3 server on 127.0.0.1 through s3fs, and fsspec's in-process ``memory://``."""

from __future__ import annotations

import json
import sys

import gguf
import numpy as np
import pytest
from hub_server import Repo, gguf_with_long_header, read_cost, safetensors_file

from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.sources import summarize

pytest_plugins = ["hub_server"]
fsspec = pytest.importorskip("fsspec")

DENSE = {"dense.kernel": np.zeros((1000, 1000), np.float32),  # 4 MB of weights
         "dense.bias": np.zeros(1000, np.float32)}
DENSE_PARAMS = 1000 * 1000 + 1000



@pytest.fixture
def web(hub, monkeypatch):
    """A web server of files on 127.0.0.1 (the Hub-shaped server, but not where paramcount
    looks for the Hub): ``web.url(repo, path)`` is a file's plain https-style URL."""
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    hub.url = lambda repo, path: f"{hub.endpoint}/{repo}/resolve/main/{path}"
    return hub


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    """A tiny GPT-2 saved by transformers (config.json and model.safetensors), and the number
    of parameters torch counts in it."""
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=300,
                                     n_positions=64)
    model = transformers.GPT2LMHeadModel(config)
    folder = tmp_path_factory.mktemp("gpt2")
    model.save_pretrained(folder)
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".json",
                                                                              ".safetensors")}
    return files, sum(p.numel() for p in model.parameters())


# -- https:// ---------------------------------------------------------------------------------

def test_a_safetensors_url_reads_its_header_and_the_config_beside_it(web, tiny_gpt2):
    files, torch_count = tiny_gpt2
    web.repos["org/gpt2"] = Repo.with_files(files)
    s = summarize(web.url("org/gpt2", "model.safetensors"))
    assert s.total_params == torch_count
    assert s.name == "GPT2LMHeadModel"  # the tree is the config's, found beside the file
    assert s.meta["architecture_from"].endswith("/config.json")
    weights = files["model.safetensors"]
    read = read_cost(weights) + len(files["config.json"])
    assert s.meta["url"]["bytes_read"] == read == web.bytes_sent() < len(weights)


def test_the_weights_are_never_read(web):
    data = safetensors_file(DENSE)
    web.repos["org/dense"] = Repo.with_files({"model.safetensors": data})
    s = summarize(web.url("org/dense", "model.safetensors"))
    assert s.total_params == DENSE_PARAMS
    assert s.meta["url"]["bytes_read"] == web.bytes_sent("/cdn/") == read_cost(data)
    assert read_cost(data) < len(data) // 100
    assert any(f"Read {read_cost(data):,} bytes of configs and headers" in n for n in s.notes)


def test_an_index_url_reads_the_shards_it_names(web):
    embed = {"embed.weight": np.zeros((100, 16), np.float32)}
    layer = {"layer.weight": np.zeros((16, 16), np.float32)}
    shards = {"model-00001-of-00002.safetensors": safetensors_file(embed),
              "model-00002-of-00002.safetensors": safetensors_file(layer)}
    index = {"weight_map": {"embed.weight": "model-00001-of-00002.safetensors",
                            "layer.weight": "model-00002-of-00002.safetensors"}}
    web.repos["org/sharded"] = Repo.with_files({**shards, "model.safetensors.index.json": index})
    for name in ("model.safetensors.index.json", "model-00002-of-00002.safetensors"):
        s = summarize(web.url("org/sharded", name))
        assert s.total_params == 100 * 16 + 16 * 16 and s.meta["shards"] == 2


def test_a_gguf_url_reads_the_header_in_pieces(web, tmp_path):
    path = tmp_path / "m.gguf"
    data = gguf_with_long_header(path)
    web.repos["org/gguf"] = Repo.with_files({"model.gguf": data})
    s = summarize(web.url("org/gguf", "model.gguf"))
    assert s.total_params == 512 * 1024
    start = gguf.GGUFReader(str(path)).data_offset  # where the tensors' bytes begin
    assert start < s.meta["url"]["bytes_read"] == web.bytes_sent("/cdn/") <= 2 * start


def test_a_config_url_is_read_whole(web, tiny_gpt2):
    files, torch_count = tiny_gpt2
    web.repos["org/gpt2"] = Repo.with_files({"config.json": files["config.json"]})
    s = summarize(web.url("org/gpt2", "config.json"))
    assert s.total_params == torch_count == summarize(json.loads(files["config.json"])
                                                      ).total_params


@pytest.mark.parametrize(("flags", "message"), [
    ({}, r"/org/gone/resolve/main/model\.safetensors: no such file or folder$"),
    ({"private": True}, r"/org/gone/resolve/main/model\.safetensors: access refused \(HTTP 401\)"),
    ({"gated": True}, r"/org/gone/resolve/main/model\.safetensors: access refused \(HTTP 401\)"),
])
def test_a_missing_or_refused_file_is_one_line(web, capsys, flags, message):
    files = {"config.json": {}} if not flags else {"model.safetensors": b"x" * 10}
    web.repos["org/gone"] = Repo.with_files(files, **flags)
    url = web.url("org/gone", "model.safetensors")
    with pytest.raises(SpecError, match=message):
        summarize(url)
    assert main([url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and url in err


def test_the_cli_and_memory_take_a_url(web, tiny_gpt2, capsys):
    files, torch_count = tiny_gpt2
    web.repos["org/gpt2"] = Repo.with_files(files)
    url = web.url("org/gpt2", "model.safetensors")
    assert main([url]) == 0
    assert f"{torch_count:,}" in capsys.readouterr().out
    assert main(["memory", url, "--context", "64"]) == 0
    out = capsys.readouterr().out
    assert "KV cache" in out and "no attention" not in out


# -- s3:// --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def s3_server():
    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch, tiny_gpt2):
    """A bucket on moto's S3 server with a model folder (config and weights), a folder of two
    models and a lone weights file; s3fs pointed at it by the environment, as a user's would
    be (AWS_ENDPOINT_URL, keys)."""
    import boto3

    for key, value in {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "test",
                       "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"
                       }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    fsspec.filesystem("s3").clear_instance_cache()
    client = boto3.client("s3", endpoint_url=s3_server)
    bucket = f"models-{len(client.list_buckets()['Buckets'])}"
    client.create_bucket(Bucket=bucket)
    files, _ = tiny_gpt2
    put = {**{f"gpt2/{n}": d for n, d in files.items()},
           "two/unet/model.safetensors": safetensors_file(DENSE),
           "two/vae/model.safetensors": safetensors_file({"w": np.zeros((8, 4), np.float32)}),
           "dense.safetensors": safetensors_file(DENSE)}
    for key, data in put.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    yield bucket
    fsspec.filesystem("s3").clear_instance_cache()


def test_an_s3_folder_is_read_as_a_local_folder_is(s3, tiny_gpt2):
    files, torch_count = tiny_gpt2
    s = summarize(f"s3://{s3}/gpt2/")
    assert s.total_params == torch_count and s.name == "GPT2LMHeadModel"
    weights = files["model.safetensors"]
    assert s.meta["url"]["bytes_read"] == read_cost(weights) + len(files["config.json"])


def test_an_s3_folder_of_two_models_gives_a_row_each(s3):
    s = summarize(f"s3://{s3}/two")
    assert s.meta["models"] == 2
    assert s.figures == {"unet/model.safetensors params": DENSE_PARAMS,
                         "vae/model.safetensors params": 8 * 4}


def test_an_s3_file_reads_only_its_header(s3):
    s = summarize(f"s3://{s3}/dense.safetensors")
    data = safetensors_file(DENSE)
    assert s.total_params == DENSE_PARAMS and s.meta["url"]["bytes_read"] == read_cost(data)


def test_a_missing_s3_key_is_one_line(s3, capsys):
    url = f"s3://{s3}/nothing/here.safetensors"
    with pytest.raises(SpecError, match=r"here\.safetensors: no such file or folder$"):
        summarize(url)
    assert main([url]) == 2 and capsys.readouterr().err.count("\n") == 1


# -- any filesystem; what to install -----------------------------------------------------------

def test_a_memory_folder_with_subfolders():
    fs = fsspec.filesystem("memory")
    fs.pipe("/zoo/a/model.safetensors", safetensors_file(DENSE))
    fs.pipe("/zoo/a/b/model.safetensors", safetensors_file({"w": np.zeros((3, 5), np.float32)}))
    fs.pipe("/zoo/a/.hidden/model.safetensors", safetensors_file(DENSE))
    try:
        s = summarize("memory://zoo/a")
        assert s.figures == {"model.safetensors params": DENSE_PARAMS,
                             "b/model.safetensors params": 15}
    finally:
        fs.rm("/zoo", recursive=True)


def test_a_scheme_whose_package_is_missing_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as if not installed
    with pytest.raises(SpecError, match=r"^gs://b/m: reading gs:// URLs needs gcsfs: "
                                        r"pip install gcsfs$"):
        summarize("gs://b/m")


def test_without_fsspec_the_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(SpecError, match=r"needs fsspec: pip install 'paramcount\[remote\]'"):
        summarize("s3://b/m")
