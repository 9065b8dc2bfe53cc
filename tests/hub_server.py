"""A Hugging Face Hub on 127.0.0.1 for the tests: huggingface.co as huggingface_hub 2.5.0 reads it.

The real ``huggingface_hub`` client, given ``endpoint=server.endpoint``, works against it:

    GET  /api/models/{repo}[/revision/{rev}]     model_info, repo_info, repo_exists, revision_exists
    GET  /api/models/{repo}/tree/{rev}[/{path}]  list_repo_tree, list_repo_files (Link-header pages)
    POST /api/models/{repo}/paths-info/{rev}     get_paths_info
    HEAD /{repo}/resolve/{rev}/{path}            get_hf_file_metadata, file_exists, hf_hub_download
    GET  /{repo}/resolve/{rev}/{path}            hf_hub_download, parse_safetensors_file_metadata
    GET  /cdn/{repo}/{sha256}  (cdn_endpoint)    where large (LFS) files redirect to

Files are bytes with ``Range: bytes=a-b``, ``a-`` and ``-n`` honoured (206 and Content-Range).
A large file's resolve URL answers 302 to a second port, as huggingface.co redirects to its CDN:
the client's HEAD stops at a redirect that leaves the origin and reads X-Linked-Size and
X-Linked-Etag there; its GET follows the redirect (without the Authorization header).
Errors are the Hub's: an X-Error-Code header (RepoNotFound, RevisionNotFound, EntryNotFound,
GatedRepo) that huggingface_hub turns into its exception, and a JSON ``{"error": ...}`` body.
A missing or private repo is 401 to an anonymous request and 404 to one with a token; a gated
repo lists its files to anyone but gives their bytes only to its token (401 anonymous, 403 wrong).

Every request is logged (``server.requests``) with the range asked and the body bytes sent, so
a test can say how much of a file the client read: ``server.bytes_sent("/cdn/")``.

Not imitated: datasets and spaces, uploads, Xet storage (no X-Xet-Hash, so the client downloads
over plain HTTP), short commit shas, and the Hub-only /api/models/{repo}/safetensors-metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from math import prod
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest

TOKEN = "hf_paramcount_test_token"  # the token that opens gated and private repos by default
# Files the Hub's default .gitattributes sends to LFS, the weight formats among them.
LFS = ("*.safetensors", "*.bin", "*.gguf", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.keras",
       "*.onnx", "*.msgpack", "*.npy", "*.npz", "*.tflite")
DATE = "2024-01-01T00:00:00.000Z"  # every commit's date: the server has no clock

class Sparse:
    """A large file of which only the head is stored (a 100 GB checkpoint's header); the rest
    reads as zeros. Hashed by its head and size, and never sent whole: a test that serves one
    proves the client read ranges of it only.

    >>> f = Sparse(b"head", 10)
    >>> len(f), f[2:6], f[8:]
    (10, b'ad\\x00\\x00', b'\\x00\\x00')
    """

    def __init__(self, head: bytes, size: int) -> None:
        self.head, self.size = head, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, part: slice) -> bytes:
        start, stop, _ = part.indices(self.size)
        got = self.head[start:stop]
        return got + bytes(max(0, stop - start - len(got)))

    def identity(self) -> bytes:
        return b"sparse %d " % self.size + self.head


Data = bytes | Sparse
Content = bytes | str | Mapping[str, Any] | Sparse


def _sha256(data: Data) -> str:
    return hashlib.sha256(data.identity() if isinstance(data, Sparse) else data).hexdigest()


def as_bytes(content: Content) -> Data:
    """A file's bytes: bytes as given, text as UTF-8, a dict as JSON (as config.json is written).

    >>> as_bytes({"n_layer": 2})
    b'{\\n  "n_layer": 2\\n}'
    """
    if isinstance(content, bytes | Sparse):
        return content
    if isinstance(content, str):
        return content.encode()
    return json.dumps(content, indent=2).encode()


def safetensors_file(arrays: Mapping[str, Any], metadata: dict[str, str] | None = None) -> bytes:
    """A safetensors file of numpy arrays, written by the safetensors package itself."""
    from safetensors.numpy import save

    return save(dict(arrays), metadata=metadata)


def git_oid(data: Data) -> str:
    """The git blob id of a file, as the Hub gives it in trees and ETags."""
    body = data.identity() if isinstance(data, Sparse) else data
    return hashlib.sha1(b"blob %d\0" % len(data) + body).hexdigest()


def lfs_pointer(data: Data) -> bytes:
    """The pointer git stores in place of a file kept in LFS."""
    sha = _sha256(data)
    return (f"version https://git-lfs.github.com/spec/v1\n"
            f"oid sha256:{sha}\nsize {len(data)}\n").encode()


@dataclass
class Repo:
    """A model repo: refs (branches and tags) to commits, each commit a {path: bytes} tree.

    >>> repo = Repo.with_revisions({"main": {"config.json": {"n_layer": 2}},
    ...                             "v1": {"config.json": b'{"n_layer": 1}'}})
    >>> repo.commit("v1") == repo.refs["v1"] == repo.commit(repo.refs["v1"]) != repo.commit("main")
    True
    >>> repo.commit("v2") is None
    True
    """

    refs: dict[str, str]
    commits: dict[str, dict[str, Data]]
    gated: bool = False  # anyone sees the files; only `token` reads them
    private: bool = False  # without `token` the repo does not exist
    token: str = TOKEN
    lfs: tuple[str, ...] = LFS  # file name patterns stored in LFS (served by redirect)

    @classmethod
    def with_files(cls, files: Mapping[str, Content], **flags: Any) -> Repo:
        """One commit on main."""
        return cls.with_revisions({"main": files}, **flags)

    @classmethod
    def with_revisions(cls, revisions: Mapping[str, Mapping[str, Content]], **flags: Any) -> Repo:
        """One commit per ref, its sha derived from the files (the same files, the same sha)."""
        refs: dict[str, str] = {}
        commits: dict[str, dict[str, Data]] = {}
        for ref, files in revisions.items():
            tree = {path: as_bytes(content) for path, content in files.items()}
            sha = hashlib.sha1(json.dumps({p: git_oid(b) for p, b in sorted(tree.items())})
                               .encode()).hexdigest()
            refs[ref], commits[sha] = sha, tree
        return cls(refs, commits, **flags)

    def commit(self, revision: str) -> str | None:
        """The commit a branch, tag or commit sha names; None if it names none."""
        return self.refs.get(revision) or (revision if revision in self.commits else None)

    def is_lfs(self, path: str) -> bool:
        return any(fnmatch(path.rsplit("/", 1)[-1], pattern) for pattern in self.lfs)


def byte_range(spec: str | None, size: int) -> slice | None:
    """The part of a file of `size` bytes a Range header asks for; None for the whole file (no
    header, or one the server may ignore), an empty slice when no byte can be given (416).

    >>> byte_range("bytes=0-7", 100), byte_range("bytes=90-", 100), byte_range("bytes=-8", 100)
    (slice(0, 8, None), slice(90, 100, None), slice(92, 100, None))
    >>> byte_range("bytes=0-100000", 100), byte_range("bytes=100-", 100), byte_range("x", 100)
    (slice(0, 100, None), slice(100, 100, None), None)
    """
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", (spec or "").strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # a suffix: the last n bytes
        return slice(size - min(int(last), size), size)
    if last and int(last) < int(first):
        return None  # not a valid range: ignored, as RFC 9110 says
    start = int(first)
    return slice(min(start, size), size if last == "" else max(min(int(last) + 1, size), start))


@dataclass
class Request:
    """One request as the server saw and answered it."""

    method: str
    path: str  # unquoted, without the query
    query: dict[str, list[str]]
    range: str | None  # the Range header, as sent
    token: str | None  # the bearer token, if any
    status: int = 0
    sent: int = 0  # body bytes sent


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, code: str | None, message: str, **headers: str) -> Reply:
    """An error as the Hub words it: X-Error-Code for the client, the message twice."""
    codes = {"X-Error-Code": code} if code else {}
    return Reply(status, json.dumps({"error": message}).encode(),
                 {"Content-Type": "application/json", "X-Error-Message": message, **codes,
                  **headers})


def as_json(data: Any, **headers: str) -> Reply:
    return Reply(200, json.dumps(data).encode(), {"Content-Type": "application/json", **headers})


REPO = r"(?P<repo>[^/]+(?:/[^/]+)?)"  # "org/name", or a legacy "name"


class HubServer:
    """The Hub and its CDN on two ports of 127.0.0.1, serving `repos` (which tests may change
    while it runs). A context manager: ``with HubServer({"org/name": repo}) as hub: ...``."""

    def __init__(self, repos: dict[str, Repo] | None = None, page_size: int = 1000) -> None:
        self.repos = repos if repos is not None else {}
        self.page_size = page_size  # tree entries per page: the Hub's 1000, 50 with expand
        self.requests: list[Request] = []
        self.errors: list[str] = []  # tracebacks of requests the server failed to answer
        self._routes: list[tuple[str, str, re.Pattern[str], Callable[..., Reply]]] = [
            ("hub", "GET", re.compile(rf"/api/models/{REPO}(?:/revision/(?P<rev>[^/]+))?"),
             self.model_info),
            ("hub", "GET", re.compile(rf"/api/models/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?"),
             self.tree),
            ("hub", "POST", re.compile(rf"/api/models/{REPO}/paths-info/(?P<rev>[^/]+)"),
             self.paths_info),
            ("hub", "GET", re.compile(rf"/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)"),
             self.resolve),
            ("cdn", "GET", re.compile(rf"/cdn/{REPO}/(?P<sha>[0-9a-f]{{64}})"), self.cdn),
        ]
        self._listeners = {role: _Listener(self, role) for role in ("hub", "cdn")}
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """What to give huggingface_hub as `endpoint=`."""
        return self._listeners["hub"].url

    @property
    def cdn_endpoint(self) -> str:
        return self._listeners["cdn"].url

    def bytes_sent(self, path_prefix: str = "") -> int:
        """Body bytes sent, over the requests whose path starts with `path_prefix`."""
        return sum(r.sent for r in self.requests if r.path.startswith(path_prefix))

    def start(self) -> HubServer:
        for listener in self._listeners.values():
            # A short poll: stop() waits for it, on every test's teardown.
            threading.Thread(target=listener.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        for listener in self._listeners.values():
            listener.shutdown()
            listener.server_close()
        with self._lock:  # close kept-alive connections, so that their threads end
            for connection in self._connections:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Routing ----------------------------------------------------------------------------------

    def route(self, role: str, request: Request, url: str, body: bytes) -> Reply:
        """The reply to a request that reached the `role` port at `url` (quoted, no query)."""
        method = "GET" if request.method == "HEAD" else request.method
        path = urlsplit(url).path
        for where, verb, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if where == role and verb == method and match:
                args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                try:
                    return handler(request=request, body=body, url=url, **args)
                except Exception as failure:  # a bug here: in the reply, and the fixture fails
                    self.errors.append(traceback.format_exc())
                    return error(500, None, f"hub_server failed: {failure!r}")
        return error(404, None, f"Not found: {request.method} {path}")

    def _checkout(self, repo_id: str, rev: str, token: str | None, *, content: bool = False
                  ) -> tuple[Repo, str, dict[str, Data]] | Reply:
        """The repo, the commit and the files at `rev`, or the error the Hub gives this token
        (`content`: asking for a file's bytes, which a gated repo keeps to its token)."""
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and token != repo.token):
            return error(401 if token is None else 404, "RepoNotFound", "Repository not found")
        if content and repo.gated and token != repo.token:
            why = ("You must have access to it and be authenticated to access it" if token is None
                   else "You are not in the authorized list")
            return error(401 if token is None else 403, "GatedRepo",
                         f"Access to model {repo_id} is restricted. {why}.")
        commit = repo.commit(rev)
        if commit is None:
            return error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return repo, commit, repo.commits[commit]

    # Endpoints --------------------------------------------------------------------------------

    def model_info(self, request: Request, repo: str, rev: str = "main", **_: Any) -> Reply:
        found = self._checkout(repo, rev, request.token)
        if isinstance(found, Reply):
            return found
        model, commit, files = found
        blobs = _flag(request.query, "blobs")
        info = {"_id": commit[:24], "id": repo, "modelId": repo, "author": repo.split("/")[0],
                "sha": commit, "lastModified": DATE, "createdAt": DATE,
                "private": model.private, "gated": "manual" if model.gated else False,
                "disabled": False, "tags": [],
                "siblings": [_sibling(model, p, data, blobs) for p, data in sorted(files.items())],
                "usedStorage": sum(len(data) for data in files.values())}
        info.update(_derived_fields(files))
        expand = request.query.get("expand")
        if expand:
            info = {k: v for k, v in info.items() if k in {"_id", "id", *expand}}
        return as_json(info)

    def tree(self, request: Request, repo: str, rev: str, url: str, path: str = "",
             **_: Any) -> Reply:
        found = self._checkout(repo, rev, request.token)
        if isinstance(found, Reply):
            return found
        model, commit, files = found
        path = path.strip("/")
        if path and path not in _folders(files):
            return error(404, "EntryNotFound", f"{path} does not exist on {rev}",
                         **{"X-Repo-Commit": commit})
        prefix, expand = f"{path}/" if path else "", _flag(request.query, "expand")
        under = [p for p in _paths(files) if p.startswith(prefix)]
        if not _flag(request.query, "recursive"):
            under = [p for p in under if "/" not in p[len(prefix):]]
        entries = [_entry(model, commit, files, p, expand) for p in under]
        size = self.page_size // 20 if expand else self.page_size
        start = int(request.query.get("cursor", ["0"])[0])
        headers = {}
        if start + size < len(entries):  # the next page, as the Hub links it
            query = {k: v[0] for k, v in request.query.items()} | {"cursor": str(start + size)}
            headers["Link"] = f'<{url}?{urlencode(query)}>; rel="next"'
        return as_json(entries[start:start + size], **headers)

    def paths_info(self, request: Request, repo: str, rev: str, body: bytes, **_: Any) -> Reply:
        found = self._checkout(repo, rev, request.token)
        if isinstance(found, Reply):
            return found
        model, commit, files = found
        form = parse_qs(body.decode())
        expand = _flag(form, "expand")
        known = set(_paths(files))
        asked = [p.strip("/") for p in form.get("paths", [])]
        return as_json([_entry(model, commit, files, p, expand) for p in asked if p in known])

    def resolve(self, request: Request, repo: str, rev: str, path: str, **_: Any) -> Reply:
        found = self._checkout(repo, rev, request.token, content=True)
        if isinstance(found, Reply):
            return found
        model, commit, files = found
        if path not in files:
            return error(404, "EntryNotFound", f"{path} does not exist on {rev}",
                         **{"X-Repo-Commit": commit})
        data = files[path]
        if not model.is_lfs(path):
            return _content(data, request.range, {"ETag": f'"{git_oid(data)}"',
                                                  "X-Repo-Commit": commit})
        sha = _sha256(data)
        return Reply(302, b"", {"Location": f"{self.cdn_endpoint}/cdn/{repo}/{sha}",
                                "X-Repo-Commit": commit, "X-Linked-Etag": f'"{sha}"',
                                "X-Linked-Size": str(len(data)),
                                "ETag": f'"{git_oid(lfs_pointer(data))}"'})

    def cdn(self, request: Request, repo: str, sha: str, **_: Any) -> Reply:
        """The bytes of an LFS file: no token needed, as with the Hub's signed CDN URLs."""
        model = self.repos.get(repo)
        for files in model.commits.values() if model else ():
            for data in files.values():
                if _sha256(data) == sha:
                    return _content(data, request.range, {"ETag": f'"{sha}"'})
        return error(404, None, "NoSuchKey")

    # Bookkeeping ------------------------------------------------------------------------------

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _connected(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._connections.add if open_ else self._connections.discard)(connection)


def _flag(query: Mapping[str, list[str]], name: str) -> bool:
    return query.get(name, ["false"])[0].lower() in ("1", "true")


def _paths(files: Mapping[str, Data]) -> list[str]:
    """Every file and folder of a commit, sorted."""
    return sorted({*files, *_folders(files)})


def _folders(files: Mapping[str, Data]) -> set[str]:
    return {path.rsplit("/", n)[0] for path in files for n in range(1, path.count("/") + 1)}


def _entry(repo: Repo, commit: str, files: Mapping[str, Data], path: str,
           expand: bool) -> dict[str, Any]:
    """A tree entry, as /tree and /paths-info list it."""
    if path not in files:  # a folder; its oid stands in for a git tree id
        entry: dict[str, Any] = {"type": "directory", "path": path, "size": 0,
                                 "oid": hashlib.sha1(f"{commit}:{path}".encode()).hexdigest()}
    else:
        data = files[path]
        entry = {"type": "file", "path": path, "size": len(data), "oid": git_oid(data)}
        if repo.is_lfs(path):
            pointer = lfs_pointer(data)
            entry["oid"] = git_oid(pointer)
            entry["lfs"] = {"oid": _sha256(data), "size": len(data),
                            "pointerSize": len(pointer)}
        if expand:
            entry["securityFileStatus"] = {"status": "safe", "avScan": {"virusFound": False},
                                           "pickleImportScan": None}
    if expand:
        entry["lastCommit"] = {"id": commit, "title": "Upload", "date": DATE}
    return entry


def _sibling(repo: Repo, path: str, data: Data, blobs: bool) -> dict[str, Any]:
    """A file as model_info lists it; its size and ids only when asked (?blobs=true)."""
    if not blobs:
        return {"rfilename": path}
    sibling: dict[str, Any] = {"rfilename": path, "size": len(data), "blobId": git_oid(data)}
    if repo.is_lfs(path):
        pointer = lfs_pointer(data)
        sibling["blobId"] = git_oid(pointer)
        sibling["lfs"] = {"sha256": _sha256(data), "size": len(data),
                          "pointerSize": len(pointer)}
    return sibling


def _derived_fields(files: Mapping[str, Data]) -> dict[str, Any]:
    """What model_info derives from the files: `config` (architectures, model_type) and
    `safetensors` (parameters per dtype, read from the headers of every .safetensors file)."""
    fields: dict[str, Any] = {}
    if "config.json" in files:
        config = json.loads(files["config.json"][:])
        fields["config"] = {k: config[k] for k in ("architectures", "model_type") if k in config}
    counts: dict[str, int] = {}
    for path, data in files.items():
        if path.endswith(".safetensors"):
            header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
            for name, tensor in header.items():
                if name != "__metadata__":
                    counts[tensor["dtype"]] = counts.get(tensor["dtype"], 0) + prod(tensor["shape"])
    if counts:
        fields["safetensors"] = {"parameters": counts, "total": sum(counts.values())}
    return fields


def _content(data: Data, range_: str | None, headers: dict[str, str]) -> Reply:
    """A file's bytes, or the part a Range header asks for."""
    headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream", **headers}
    part = byte_range(range_, len(data))
    if part is None:
        if isinstance(data, Sparse):
            return error(500, None, "a sparse test file is never sent whole: ask for a range")
        return Reply(200, data, headers)
    if part.start == part.stop:
        return Reply(416, b"", {**headers, "Content-Range": f"bytes */{len(data)}"})
    span = f"bytes {part.start}-{part.stop - 1}/{len(data)}"
    return Reply(206, data[part], {**headers, "Content-Range": span})


class _Listener(ThreadingHTTPServer):
    """One port of the server: the Hub's or the CDN's."""

    daemon_threads = True

    def __init__(self, hub: HubServer, role: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hub, self.role = hub, role
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client pools its connections
    server: _Listener

    def setup(self) -> None:
        super().setup()
        self.server.hub._connected(self.connection, True)

    def finish(self) -> None:
        self.server.hub._connected(self.connection, False)
        super().finish()

    def do_GET(self) -> None:
        self._answer()

    do_HEAD = do_POST = do_GET

    def _answer(self) -> None:
        url = urlsplit(self.path)
        auth = self.headers.get("Authorization", "")
        request = Request(self.command, unquote(url.path), parse_qs(url.query),
                          self.headers.get("Range"),
                          auth[len("Bearer "):] if auth.startswith("Bearer ") else None)
        form = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # a POST's body
        reply = self.server.hub.route(self.server.role, request,
                                      f"http://{self.headers['Host']}{url.path}", form)
        body = b"" if self.command == "HEAD" else reply.body
        request.status, request.sent = reply.status, len(body)
        self.server.hub._record(request)  # before the client can see the reply
        self.send_response(reply.status)
        for name, value in {**reply.headers, "Content-Length": str(len(reply.body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is server.requests


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """A running HubServer with no repos yet (a test puts them in ``hub.repos``), and
    huggingface_hub kept to it: its cache under tmp_path, no token of the user's, telemetry off
    (it would fetch a registry from huggingface.co), and any host but 127.0.0.1 refused."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    # huggingface_hub reads its environment once, at import: set what it read.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    refused = loopback_only(monkeypatch)
    with HubServer() as server:
        yield server
    assert not server.errors, "the server failed:\n" + "\n".join(server.errors)
    assert not refused, f"the client tried to leave 127.0.0.1 for {refused}"


@pytest.fixture
def hub_at(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> HubServer:
    """The test Hub, where paramcount looks for the Hub (``HF_ENDPOINT``)."""
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    return hub


def header_bytes(data: bytes) -> int:
    """8 bytes of length and the header they give: what a safetensors header takes."""
    return 8 + int.from_bytes(data[:8], "little")


def read_cost(data: bytes, ahead: int | None = None) -> int:
    """What reading a remote safetensors file's header costs when its first request asks for
    ``ahead`` bytes (paramcount's documented FIRST_READ for a file no index names): that
    request, cut at the file's end, and the rest of the header when it is longer."""
    from paramcount.sources.safetensors import FIRST_READ

    return max(header_bytes(data), min(len(data), FIRST_READ if ahead is None else ahead))


def gguf_with_long_header(path: Path) -> bytes:
    """A GGUF file of one 512 × 1024 tensor whose header (50,000 tokens) is about 700 kB: read
    in pieces. Written by the gguf package."""
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(2)
    w.add_token_list([f"token{i}" for i in range(50_000)])
    w.add_tensor("token_embd.weight", np.zeros((512, 1024), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse to resolve any host but the loopback; the hosts refused, for the fixture to
    report (the client swallows some of these errors)."""
    refused: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK:
            refused.append(f"{host}:{port}")
            raise socket.gaierror(f"{host}: tests stay on 127.0.0.1 (tests/hub_server.py)")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return refused
