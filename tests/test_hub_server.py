"""tests/hub_server.py is Hub-shaped: the real huggingface_hub client (2.5.0), pointed at it with
``endpoint=``, lists, downloads, range-reads and fails on it as it does on huggingface.co, and
what it returns is what the server was given."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hub_server import TOKEN, HubServer, Repo, as_bytes, loopback_only, safetensors_file
from huggingface_hub import HfApi, constants, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder
from huggingface_hub.utils import get_session

pytest_plugins = ["hub_server"]  # the `hub` fixture

CONFIG = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 64}
ARRAYS = {"dense.kernel": np.arange(8, dtype=np.float32).reshape(4, 2),
          "dense.bias": np.ones(2, np.float16)}
FILES = {"config.json": as_bytes(CONFIG), "model.safetensors": safetensors_file(ARRAYS),
         "README.md": b"# tiny\n", "tokenizer/vocab.txt": b"a\nb\nc\n",
         "onnx/fp16/model.onnx": bytes(range(256)) * 4}
V1 = {"config.json": as_bytes({**CONFIG, "n_embd": 32})}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_blob(data: bytes) -> str:
    """What `git hash-object` says of these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture
def tiny(hub: HubServer) -> Repo:
    """org/tiny: FILES on main, a smaller config alone on the tag v1."""
    repo = hub.repos["org/tiny"] = Repo.with_revisions({"main": FILES, "v1": V1})
    return repo


@pytest.fixture
def api(hub: HubServer) -> HfApi:
    return HfApi(endpoint=hub.endpoint)


def test_model_info_names_the_commit_and_its_files(api, tiny):
    info = api.model_info("org/tiny")
    assert info.id == "org/tiny" and info.sha == tiny.refs["main"] and len(info.sha) == 40
    assert [s.rfilename for s in info.siblings] == sorted(FILES)
    assert {s.size for s in info.siblings} == {None}  # sizes only when asked
    assert info.safetensors.total == 10 and info.safetensors.parameters == {"F32": 8, "F16": 2}
    assert info.config == {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}
    assert info.gated is False and info.private is False

    v1 = api.model_info("org/tiny", revision="v1")
    assert v1.sha == tiny.refs["v1"] != info.sha
    assert [s.rfilename for s in v1.siblings] == ["config.json"]
    assert api.model_info("org/tiny", revision=tiny.refs["v1"]).sha == tiny.refs["v1"]


def test_model_info_with_files_metadata(api, tiny, hub):
    info = api.model_info("org/tiny", files_metadata=True)
    assert {s.rfilename: s.size for s in info.siblings} == {p: len(b) for p, b in FILES.items()}
    by_name = {s.rfilename: s for s in info.siblings}
    weights = FILES["model.safetensors"]
    assert by_name["model.safetensors"].lfs.sha256 == sha256(weights)
    assert by_name["model.safetensors"].lfs.size == len(weights)
    assert by_name["config.json"].lfs is None
    assert by_name["config.json"].blob_id == git_blob(FILES["config.json"])
    assert hub.requests[-1].query == {"blobs": ["true"]}


def test_list_repo_tree_recursive_gives_every_path_and_size(api, tiny):
    tree = list(api.list_repo_tree("org/tiny", recursive=True))
    assert {e.path: e.size for e in tree if isinstance(e, RepoFile)} == {
        p: len(b) for p, b in FILES.items()}
    assert {e.path for e in tree if isinstance(e, RepoFolder)} == {"tokenizer", "onnx", "onnx/fp16"}
    files = {e.path: e for e in tree if isinstance(e, RepoFile)}
    assert files["model.safetensors"].lfs.sha256 == sha256(FILES["model.safetensors"])
    assert files["onnx/fp16/model.onnx"].lfs.size == 1024
    assert files["README.md"].lfs is None and files["README.md"].blob_id == git_blob(b"# tiny\n")


def test_list_repo_tree_one_level_and_under_a_folder(api, tiny):
    top = {e.path: type(e) for e in api.list_repo_tree("org/tiny")}
    assert top == {"README.md": RepoFile, "config.json": RepoFile, "model.safetensors": RepoFile,
                   "onnx": RepoFolder, "tokenizer": RepoFolder}
    assert [e.path for e in api.list_repo_tree("org/tiny", "onnx")] == ["onnx/fp16"]
    assert [e.path for e in api.list_repo_tree("org/tiny", "onnx", recursive=True)] == [
        "onnx/fp16", "onnx/fp16/model.onnx"]
    assert [e.path for e in api.list_repo_tree("org/tiny", revision="v1")] == ["config.json"]


def test_a_long_tree_comes_in_pages(api, hub):
    files = {f"shard-{i:02}.txt": b"x" * i for i in range(7)}
    hub.repos["org/many"] = Repo.with_files(files)
    hub.page_size = 3
    tree = list(api.list_repo_tree("org/many", recursive=True))
    assert {e.path: e.size for e in tree} == {p: len(b) for p, b in files.items()}
    pages = [r for r in hub.requests if "/tree/" in r.path]
    assert [r.query.get("cursor") for r in pages] == [None, ["3"], ["6"]]

    hub.page_size = 40  # a twentieth of it with expand, as the Hub gives 50 of 1000
    expanded = list(api.list_repo_tree("org/many", expand=True))
    assert len(expanded) == 7 and len([r for r in hub.requests if "/tree/" in r.path]) == 3 + 4
    assert {e.last_commit.oid for e in expanded} == {hub.repos["org/many"].refs["main"]}


def test_list_repo_files(api, tiny):
    assert api.list_repo_files("org/tiny") == sorted(FILES)
    assert api.list_repo_files("org/tiny", revision="v1") == ["config.json"]


def test_file_exists(api, tiny):
    assert api.file_exists("org/tiny", "config.json")
    assert api.file_exists("org/tiny", "onnx/fp16/model.onnx")  # an LFS file: a redirect
    assert not api.file_exists("org/tiny", "README.md", revision="v1")
    assert not api.file_exists("org/tiny", "config.json", revision="nope")
    assert not api.file_exists("org/absent", "config.json")


def test_get_paths_info(api, tiny, hub):
    info = api.get_paths_info("org/tiny", ["config.json", "tokenizer", "nope.txt"])
    assert [(type(e), e.path) for e in info] == [(RepoFile, "config.json"),
                                                 (RepoFolder, "tokenizer")]
    assert info[0].size == len(FILES["config.json"])
    assert hub.requests[-1].method == "POST"


def test_hf_hub_download_lays_out_the_cache(hub, tiny, tmp_path):
    cache = tmp_path / "hf" / "hub"
    assert str(cache) == constants.HF_HUB_CACHE  # the fixture's, not the user's
    path = hf_hub_download("org/tiny", "tokenizer/vocab.txt", endpoint=hub.endpoint)
    folder = cache / "models--org--tiny"
    commit = tiny.refs["main"]
    assert (folder / "refs" / "main").read_text() == commit
    assert path == str(folder / "snapshots" / commit / "tokenizer" / "vocab.txt")
    assert Path(path).read_bytes() == FILES["tokenizer/vocab.txt"]
    blob = folder / "blobs" / git_blob(FILES["tokenizer/vocab.txt"])  # named by its ETag
    assert (folder / "snapshots" / commit / "tokenizer" / "vocab.txt").resolve() == blob

    v1 = hf_hub_download("org/tiny", "config.json", revision="v1", endpoint=hub.endpoint)
    assert (folder / "refs" / "v1").read_text() == tiny.refs["v1"]
    assert json.loads(Path(v1).read_bytes())["n_embd"] == 32


def test_an_lfs_file_is_fetched_from_where_it_redirects(hub, tiny, tmp_path):
    weights = FILES["model.safetensors"]
    path = hf_hub_download("org/tiny", "model.safetensors", endpoint=hub.endpoint)
    assert Path(path).read_bytes() == weights
    blobs = tmp_path / "hf" / "hub" / "models--org--tiny" / "blobs"
    assert [p.name for p in blobs.iterdir()] == [sha256(weights)]  # X-Linked-Etag named it
    head, get = hub.requests
    assert (head.method, head.path, head.status) == (
        "HEAD", "/org/tiny/resolve/main/model.safetensors", 302)
    assert (get.method, get.path, get.status, get.sent) == (
        "GET", f"/cdn/org/tiny/{sha256(weights)}", 200, len(weights))


@pytest.fixture
def big(hub: HubServer) -> dict[str, Any]:
    """org/big: a 4 MB model.safetensors."""
    arrays = {"embed.weight": np.zeros((1024, 1024), np.float32),
              "head.bias": np.zeros(7, np.float16)}
    hub.repos["org/big"] = Repo.with_files({"model.safetensors": safetensors_file(arrays)})
    return arrays


def test_safetensors_metadata_is_read_with_a_range(api, hub, big):
    repo = hub.repos["org/big"]
    size = len(repo.commits[repo.refs["main"]]["model.safetensors"])
    meta = api.get_safetensors_metadata("org/big")
    tensors = meta.files_metadata["model.safetensors"].tensors
    assert {k: tuple(t.shape) for k, t in tensors.items()} == {k: a.shape for k, a in big.items()}
    assert {k: t.dtype for k, t in tensors.items()} == {"embed.weight": "F32", "head.bias": "F16"}
    assert meta.parameter_count == {"F32": big["embed.weight"].size, "F16": 7}
    assert [r.range for r in hub.requests if r.method == "GET"] == ["bytes=0-100000"] * 2
    assert hub.bytes_sent() == 100_001 < size // 40  # the first range only, of 4 MB


def test_a_header_past_100kb_takes_a_second_range(api, hub):
    arrays = {f"layers.{i}.a_rather_long_parameter_name_to_fill_the_header": np.zeros(1, np.int8)
              for i in range(2000)}
    data = safetensors_file(arrays)
    header = int.from_bytes(data[:8], "little")
    assert header > 100_000
    hub.repos["org/wide"] = Repo.with_files({"model.safetensors": data})
    meta = api.parse_safetensors_file_metadata("org/wide", "model.safetensors")
    assert set(meta.tensors) == set(arrays) and meta.parameter_count == {"I8": 2000}
    cdn = [r for r in hub.requests if r.path.startswith("/cdn/")]
    assert [(r.range, r.status) for r in cdn] == [
        ("bytes=0-100000", 206), (f"bytes=8-{header + 7}", 206)]
    assert hub.bytes_sent() == 100_001 + header


def test_a_sharded_safetensors_repo(api, hub):
    first = {"a.weight": np.zeros((3, 5), np.float32)}
    second = {"b.weight": np.zeros((2, 2), np.float32), "b.bias": np.zeros(2, np.float32)}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    index = {"metadata": {"total_size": 84},
             "weight_map": {"a.weight": names[0], "b.weight": names[1], "b.bias": names[1]}}
    hub.repos["org/sharded"] = Repo.with_files({
        names[0]: safetensors_file(first), names[1]: safetensors_file(second),
        "model.safetensors.index.json": index})
    meta = api.get_safetensors_metadata("org/sharded")
    assert meta.sharded and meta.weight_map == index["weight_map"]
    assert meta.metadata == {"total_size": 84} and meta.parameter_count == {"F32": 15 + 4 + 2}
    assert tuple(meta.files_metadata[names[1]].tensors["b.weight"].shape) == (2, 2)


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])  # served, redirected
@pytest.mark.parametrize(("asked", "part", "content_range"), [
    ("bytes=0-7", slice(0, 8), "bytes 0-7/{n}"),
    ("bytes=5-", slice(5, None), "bytes 5-{last}/{n}"),
    ("bytes=-4", slice(-4, None), "bytes {tail}-{last}/{n}"),
    ("bytes=0-100000", slice(None), "bytes 0-{last}/{n}"),
])
def test_range_requests(hub, tiny, name, asked, part, content_range):
    data = FILES[name]
    url = hf_hub_url("org/tiny", name, endpoint=hub.endpoint)
    response = get_session().get(url, headers={"Range": asked})
    assert response.status_code == 206 and response.content == data[part]
    n = len(data)
    assert response.headers["Content-Range"] == content_range.format(n=n, last=n - 1, tail=n - 4)
    redirects = [302] if name.endswith(".safetensors") else []  # LFS: followed to the CDN
    assert [r.status_code for r in response.history] == redirects
    assert hub.requests[-1].sent == len(data[part])


def test_range_past_the_end_is_416_and_no_range_is_200(hub, tiny):
    url = hf_hub_url("org/tiny", "config.json", endpoint=hub.endpoint)
    n = len(FILES["config.json"])
    past = get_session().get(url, headers={"Range": f"bytes={n}-"})
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{n}"
    whole = get_session().get(url)
    assert whole.status_code == 200 and whole.content == FILES["config.json"]
    assert whole.headers["ETag"] == f'"{git_blob(FILES["config.json"])}"'
    assert whole.headers["X-Repo-Commit"] == tiny.refs["main"]


def test_a_gated_repo_lists_its_files_to_anyone_and_gives_them_to_its_token(hub, api):
    files = {"config.json": as_bytes(CONFIG), "model.safetensors": safetensors_file(ARRAYS)}
    hub.repos["org/gated"] = Repo.with_files(files, gated=True)
    info = api.model_info("org/gated")
    assert info.gated == "manual" and [s.rfilename for s in info.siblings] == sorted(files)

    with pytest.raises(GatedRepoError) as anonymous:
        hf_hub_download("org/gated", "config.json", endpoint=hub.endpoint)
    assert anonymous.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as stranger:
        hf_hub_download("org/gated", "config.json", endpoint=hub.endpoint, token="hf_other")
    assert stranger.value.response.status_code == 403
    with pytest.raises(GatedRepoError):
        api.file_exists("org/gated", "config.json")

    path = hf_hub_download("org/gated", "config.json", endpoint=hub.endpoint, token=TOKEN)
    assert Path(path).read_bytes() == files["config.json"]
    meta = HfApi(endpoint=hub.endpoint, token=TOKEN).get_safetensors_metadata("org/gated")
    assert meta.parameter_count == {"F32": 8, "F16": 2}
    cdn = [r for r in hub.requests if r.path.startswith("/cdn/")]
    assert cdn and {r.token for r in cdn} == {None}  # the token stays on the Hub's origin


def test_a_private_repo_is_missing_without_its_token(hub, api):
    hub.repos["org/secret"] = Repo.with_files({"config.json": CONFIG}, private=True)
    with pytest.raises(RepositoryNotFoundError) as anonymous:
        api.model_info("org/secret")
    assert not isinstance(anonymous.value, GatedRepoError)
    assert anonymous.value.response.status_code == 401
    with pytest.raises(RepositoryNotFoundError) as stranger:
        api.model_info("org/secret", token="hf_other")
    assert stranger.value.response.status_code == 404
    assert api.model_info("org/secret", token=TOKEN).private is True
    path = hf_hub_download("org/secret", "config.json", endpoint=hub.endpoint, token=TOKEN)
    assert json.loads(Path(path).read_bytes()) == CONFIG


@pytest.mark.parametrize(("call", "error", "code"), [
    (lambda api: api.model_info("org/absent"), RepositoryNotFoundError, "RepoNotFound"),
    (lambda api: api.list_repo_files("org/absent"), RepositoryNotFoundError, "RepoNotFound"),
    (lambda api: api.hf_hub_download("org/absent", "config.json"), RepositoryNotFoundError,
     "RepoNotFound"),
    (lambda api: api.model_info("org/tiny", revision="nope"), RevisionNotFoundError,
     "RevisionNotFound"),
    (lambda api: api.list_repo_files("org/tiny", revision="nope"), RevisionNotFoundError,
     "RevisionNotFound"),
    (lambda api: api.hf_hub_download("org/tiny", "config.json", revision="nope"),
     RevisionNotFoundError, "RevisionNotFound"),
    (lambda api: api.hf_hub_download("org/tiny", "nope.json"), EntryNotFoundError,
     "EntryNotFound"),
    (lambda api: api.parse_safetensors_file_metadata("org/tiny", "nope.safetensors"),
     EntryNotFoundError, "EntryNotFound"),
    (lambda api: list(api.list_repo_tree("org/tiny", "nope")), EntryNotFoundError,
     "EntryNotFound"),
], ids=["info", "files", "download", "info@rev", "files@rev", "download@rev", "download-entry",
        "safetensors-entry", "tree-entry"])
def test_errors_as_the_hub_gives_them(api, tiny, hub, call, error, code):
    with pytest.raises(error) as raised:
        call(api)
    assert not isinstance(raised.value, GatedRepoError)
    assert raised.value.response.headers["X-Error-Code"] == code
    answer = hub.requests[-1]
    assert answer.status == (401 if code == "RepoNotFound" else 404)
    if answer.method == "GET":
        assert set(raised.value.response.json()) == {"error"}


def test_a_missing_entry_is_remembered_in_the_cache(hub, tiny, tmp_path):
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org/tiny", "nope.json", endpoint=hub.endpoint)
    folder = tmp_path / "hf" / "hub" / "models--org--tiny"
    assert (folder / ".no_exist" / tiny.refs["main"] / "nope.json").exists()  # X-Repo-Commit


def test_no_host_but_the_loopback_resolves(monkeypatch):
    refused = loopback_only(monkeypatch)
    with pytest.raises(OSError, match=r"tests stay on 127\.0\.0\.1"):
        socket.getaddrinfo("huggingface.co", 443)
    assert refused == ["huggingface.co:443"]
    assert socket.getaddrinfo("127.0.0.1", 80)
