"""A Hugging Face Hub repo read over HTTP, never its weights: the file list (one API call), then
byte ranges of the files paramcount reads, config.json and shard indexes whole, safetensors and
GGUF headers by range, through ``huggingface_hub`` (the Hub's own client: endpoints, tokens,
redirects). Every byte received is counted, and the summary says how many.

A range the server answers with the whole file is cut off at the bytes asked for: a server
that ignores ``Range`` costs no more than one that honours it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from paramcount.errors import SpecError
from paramcount.sources.blobs import Blob

#: seconds to wait for the Hub to answer a request (connect, or between received bytes)
TIMEOUT = 30.0
#: folders below the repo's top searched for models, as in a local folder
MAX_DEPTH = 3


def client() -> Any:
    """``huggingface_hub``, or one line saying which extra installs it."""
    try:
        import huggingface_hub
    except ImportError:
        raise SpecError("reading a repo from the Hugging Face Hub needs huggingface_hub: "
                        "pip install 'paramcount[hub]'") from None
    return huggingface_hub


@dataclass
class Transfer:
    """Bytes of files received from the Hub and the requests that read them, over every
    thread (the file list's one request is apart)."""

    bytes: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, n: int) -> None:
        with self.lock:
            self.bytes += n
            self.requests += 1


@dataclass(frozen=True)
class RangedFile:
    """A file of a remote tree, read by range: the tree gives its size (``sizes``), keeps
    each file's first bytes once read (``prefixes``: a config read whole once, however many
    readers ask; a header's length and the header after it in one request) and counts the
    bytes (``transfer``); a subclass's ``_get`` makes the request."""

    tree: Any
    path: str
    #: bytes the first read from the file's start fetches at least: enough, foreseen, for a
    #: header's length and the header (one request instead of two)
    ahead: int = 0

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]

    @property
    def label(self) -> str:
        return f"{self.tree.label}/{self.path}"

    def size(self) -> int:
        size: int = self.tree.sizes[self.path]
        return size

    def read(self, start: int, length: int) -> bytes:
        """``length`` bytes from ``start``: one request, cut off at ``length`` whatever the
        server sends; none when the file's first bytes, already read, hold them."""
        length = max(0, min(length, self.size() - start))
        if length == 0:
            return b""
        prefix: bytes = self.tree.prefixes.get(self.path, b"")
        end = start + length
        if end <= len(prefix):
            return prefix[start:end]
        if start > len(prefix):
            return self._get(start, length)
        # what the file starts with, extended to cover this read (at least ``ahead`` bytes)
        want = min(self.size(), max(end, self.ahead))
        prefix += self._get(len(prefix), want - len(prefix))
        self.tree.prefixes[self.path] = prefix
        return prefix[start:end]

    def _get(self, start: int, length: int) -> bytes:
        raise NotImplementedError


@dataclass(frozen=True)
class RemoteFile(RangedFile):
    """A file of a Hub repo, read by HTTP range requests at the repo's commit."""

    def _get(self, start: int, length: int) -> bytes:
        hub = client()
        resolve = hub.hf_hub_url(self.tree.repo_id, self.path, revision=self.tree.commit,
                                 endpoint=self.tree.endpoint)
        url = self.tree.located.get(self.path, resolve)
        # the token goes to the Hub only; a signed location needs none
        auth = hub.utils.build_hf_headers() if url == resolve else {}
        headers = {**auth, "Range": f"bytes={start}-{start + length - 1}"}
        chunks, got = [], 0
        with hub_errors(self.label), hub.utils.get_session().stream(
                "GET", url, headers=headers, timeout=TIMEOUT) as response:
            hub.utils.hf_raise_for_status(response)
            if url == resolve and str(response.url) != resolve:
                self.tree.located[self.path] = str(response.url)
            skip = start if response.status_code == 200 else 0  # Range ignored: whole file
            for chunk in response.iter_bytes():
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                chunks.append(chunk[:length - got])
                got += len(chunks[-1])
                if got >= length:
                    break
        self.tree.transfer.add(got)
        return b"".join(chunks)


class SizedTree:
    """What the remote trees share (a Hub repo's revision, a folder at a URL): files known by
    their sizes (``sizes``), read as ``file`` (a :class:`RangedFile`), each file's first bytes
    kept (``prefixes``) and every byte counted (``transfer``). A subclass sets ``sizes`` and
    ``label``."""

    file: ClassVar[type[RangedFile]] = RangedFile
    #: how a missing file's message ends
    within: ClassVar[str] = ""
    sizes: dict[str, int]

    def __init__(self) -> None:
        self.transfer = Transfer()
        self.prefixes: dict[str, bytes] = {}  # each file's first bytes read, by path

    @property
    def label(self) -> str:
        raise NotImplementedError

    @cached_property
    def _files(self) -> tuple[str, ...]:
        return tuple(sorted(n for n in self.sizes if n.count("/") <= MAX_DEPTH
                            and not any(p.startswith(".") for p in n.split("/"))))

    def files(self) -> list[str]:
        return list(self._files)

    def open(self, name: str, ahead: int = 0) -> Blob:
        if name not in self.sizes:
            raise SpecError(f"{self.label}/{name}: no such file{self.within}")
        return self.file(self, name, ahead)

    def local(self, name: str) -> None:
        return None


class RemoteRepo(SizedTree):
    """One revision of a Hub repo as a :class:`~paramcount.sources.blobs.Tree`: its file
    names and sizes from the API, its files read by range."""

    file = RemoteFile
    within = " in the repo"

    def __init__(self, repo_id: str, revision: str | None, endpoint: str) -> None:
        super().__init__()
        self.repo_id, self.revision, self.endpoint = repo_id, revision, endpoint
        #: where a file's bytes are, once a redirect said so (an LFS file's signed CDN URL):
        #: its next ranges go there, one request each instead of two
        self.located: dict[str, str] = {}
        hub = client()
        with hub_errors(self.label):
            info = hub.HfApi(endpoint=endpoint).model_info(
                repo_id, revision=revision, files_metadata=True, timeout=TIMEOUT)
        self.commit: str = info.sha or revision or "main"
        self.sizes: dict[str, int] = {s.rfilename: s.size or 0 for s in info.siblings or []}

    @property
    def label(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"hf://{self.repo_id}{rev}"



class one_line:
    """Turns a client's errors into one line naming ``where``: ``message(where, err)`` says
    it, or None lets the error through (a bug stays a traceback)."""

    def __init__(self, where: str, message: Callable[[str, BaseException], str | None]
                 ) -> None:
        self.where, self.message = where, message

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, err: BaseException | None, _tb: Any) -> None:
        if err is None or isinstance(err, SpecError):
            return
        line = self.message(self.where, err)
        if line is not None:
            raise SpecError(line) from None


def hub_errors(where: str) -> one_line:
    """The Hub client's errors as one line naming the repo or file."""
    return one_line(where, _message)


def _message(where: str, err: BaseException) -> str | None:
    from huggingface_hub import errors

    if isinstance(err, errors.GatedRepoError):
        return (f"{where}: access refused: a gated repo; accept its terms on the Hub, then "
                "set HF_TOKEN or run `hf auth login`")
    if isinstance(err, errors.RepositoryNotFoundError):
        return (f"{where}: no such repo on the Hub (or a private one: set HF_TOKEN or run "
                "`hf auth login`)")
    if isinstance(err, errors.RevisionNotFoundError):
        return f"{where}: no such revision in the repo"
    if isinstance(err, errors.EntryNotFoundError):
        return f"{where}: no such file in the repo"
    if isinstance(err, errors.HfHubHTTPError):
        status = getattr(getattr(err, "response", None), "status_code", "?")
        if status in (401, 403):
            return f"{where}: access refused (HTTP {status}); set HF_TOKEN or run `hf auth login`"
        return f"{where}: the Hub answered HTTP {status}"
    if isinstance(err, OSError) or type(err).__module__.split(".")[0] in ("httpx", "httpx2"):
        # connection refused, a name not found, a timeout
        return f"{where}: cannot reach the Hub ({type(err).__name__}: {str(err)[:200]})"
    return None


@dataclass(frozen=True)
class Subtree:
    """Part of a tree: the files under ``prefix`` (a folder of a repo), or only ``only``."""

    tree: Any
    prefix: str = ""
    only: frozenset[str] | None = None

    @property
    def label(self) -> str:
        return f"{self.tree.label}/{self.prefix.rstrip('/')}" if self.prefix else self.tree.label

    def files(self) -> list[str]:
        names = [n[len(self.prefix):] for n in self.tree.files() if n.startswith(self.prefix)]
        return [n for n in names if self.only is None or n in self.only]

    def open(self, name: str, ahead: int = 0) -> Blob:
        blob: Blob = self.tree.open(self.prefix + name, ahead)
        return blob

    def local(self, name: str) -> None:
        return None


def part(tree: Any, path: str, where: str, within: str = "") -> Any:
    """The part of a remote tree (one with ``sizes``) that ``path`` names: all of it; a folder;
    or a checkpoint with what it needs beside it (the config that ties its head, an index's
    shards, a split set's parts)."""
    if not path:
        return tree
    if path not in tree.sizes:
        if not any(n.startswith(path + "/") for n in tree.sizes):
            raise SpecError(f"{where}: no such file or folder{within}")
        return Subtree(tree, path + "/")
    folder, _, base = path.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    if base.lower().endswith(".index.json") or "-of-" in base.lower():
        return Subtree(tree, prefix)
    return Subtree(tree, prefix, frozenset({base, "config.json"}))
