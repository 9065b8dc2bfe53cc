"""Model files and folders named by URL (``https://``, ``s3://``, ``gs://`` and the other
filesystems fsspec knows), read as a Hub repo is: JSON files whole, safetensors and GGUF headers
by byte range, never the weights.

A URL names a file or a folder. An object store (``s3://``, ``gs://``, ``az://``) lists a
folder, so a folder URL is read as a local folder is (every model in it, a config.json beside
the weights giving the tree). A web server lists nothing: an ``https://`` URL names a file,
and the files a reader needs beside it (the ``config.json`` of a safetensors file, the shards an
index names, the other parts of a split set) are asked for by name.

Reading needs fsspec and the package of the URL's filesystem (:data:`SCHEMES`), an optional
extra: ``pip install 'paramcount[remote]'`` installs fsspec and aiohttp (for ``https://``).
Credentials and endpoints are the filesystem's own: ``AWS_PROFILE``, ``AWS_ENDPOINT_URL``,
``GOOGLE_APPLICATION_CREDENTIALS``, ...; paramcount passes none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.sources.blobs import Blob
from paramcount.sources.remote import MAX_DEPTH, RangedFile, SizedTree, one_line, part

#: the URL schemes read through fsspec, and the package each needs beside fsspec
SCHEMES: dict[str, str | None] = {
    "https": "aiohttp", "http": "aiohttp",
    "s3": "s3fs", "s3a": "s3fs",
    "gs": "gcsfs", "gcs": "gcsfs",
    "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs",
    "memory": None,  # fsspec's own, in this process: for Python callers and tests
}
#: schemes of servers that list no folders: a URL names a file
UNLISTED = ("http", "https")
_SCHEME = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://", re.IGNORECASE)
_SHARD = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})(?P<ext>\.[A-Za-z0-9]+)$")
#: the most parts of a split set asked for by name on a server that lists nothing
MAX_PARTS = 512


def scheme(name: str) -> str | None:
    """The URL scheme of ``name`` when it is one paramcount reads through fsspec.

    >>> scheme("s3://bucket/llama/"), scheme("HTTPS://host/m.gguf"), scheme("hf://a/b")
    ('s3', 'https', None)
    """
    match = _SCHEME.match(name)
    if match is None:
        return None
    found = match["scheme"].lower()
    return found if found in SCHEMES else None


# -- the front door's protocol (paramcount.sources.NameLoader) -----------------------------------

def claims(name: str) -> bool:
    """Whether ``name`` is a URL of a scheme in :data:`SCHEMES` (asked after the Hub, which
    claims its own ``https://`` URLs)."""
    return scheme(name) is not None


def close_to(name: str) -> list[str]:
    return []


def load_name(name: str, **options: Any) -> Summary:
    """The summary of the model file or folder at a URL, from its configs and headers."""
    from paramcount.sources import folder

    url = name.rstrip("/") if scheme(name) not in UNLISTED else name
    tree = _open_tree(url)
    progress = options.pop("progress", None)
    if tree.path.lower().endswith(".json") and not tree.path.lower().endswith(".index.json"):
        summary = _document(tree.open(tree.base), options)  # a config, read whole
    else:
        summary = folder.load_tree(part(tree, tree.base, url), progress, **options)
    summary.source = name
    t = tree.transfer
    summary.meta["url"] = {"url": name, "bytes_read": t.bytes, "requests": t.requests}
    summary.notes.append(f"Read {t.bytes:,} bytes of configs and headers from {url} in "
                         f"{t.requests} range requests (no weights)")
    return summary


def _document(file: Blob, options: dict[str, Any]) -> Summary:
    from paramcount.sources.formats import document_kind
    from paramcount.sources.spec import read_blob_document

    doc = read_blob_document(file)
    return document_kind(doc, file.label).document_loader().from_dict(doc, source=file.label,
                                                                      **options)


# -- the filesystem ---------------------------------------------------------------------------

def filesystem(url: str) -> tuple[Any, str]:
    """fsspec's filesystem for ``url`` and the path in it, or one line naming what to
    install."""
    kind = scheme(url) or "?"
    try:
        import fsspec
    except ImportError:
        raise SpecError(f"{url}: reading {kind}:// URLs needs fsspec: pip install "
                        "'paramcount[remote]'") from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError:
        package = SCHEMES.get(kind) or kind
        raise SpecError(f"{url}: reading {kind}:// URLs needs {package}: pip install "
                        f"{package}") from None
    except (ValueError, OSError) as err:
        raise SpecError(f"{url}: {_reason(err)}") from None
    return fs, path


def fs_errors(where: str) -> one_line:
    """A filesystem's errors (a missing object, refused access, an unreachable host) as one
    line naming the URL."""
    return one_line(where, _message)


def _message(where: str, err: BaseException) -> str | None:
    status = _status(err)
    if isinstance(err, FileNotFoundError) and status not in (401, 403):
        return f"{where}: no such file or folder"
    if isinstance(err, PermissionError) or status in (401, 403):
        why = f"HTTP {status}" if status else _reason(err)
        return f"{where}: access refused ({why}); set the filesystem's credentials"
    if isinstance(err, OSError | ValueError | TimeoutError) or _client_error(err):
        return f"{where}: cannot read ({_reason(err)})"
    return None


def _status(err: BaseException) -> int | None:
    """The HTTP status behind an error (fsspec's http filesystem says "not found" for a 401,
    with the response's error as its cause)."""
    for e in (err, err.__cause__):
        status = getattr(e, "status", None)
        if isinstance(status, int):
            return status
    return None


def _client_error(err: BaseException) -> bool:
    """An error of a filesystem's client library (aiohttp, botocore, google's)."""
    return type(err).__module__.split(".")[0] in ("aiohttp", "botocore", "aiobotocore",
                                                  "google", "gcsfs", "s3fs", "adlfs", "azure")


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split())[:200]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _open_tree(url: str) -> UrlTree:
    fs, path = filesystem(url)
    with fs_errors(url):
        if scheme(url) in UNLISTED:
            return UrlTree.probed(fs, path, url)
        info = fs.info(path)
        if info.get("type") == "directory":
            return UrlTree.listed(fs, path, "", url)
        folder, _, base = path.rpartition("/")
        return UrlTree.listed(fs, folder, base, url)


@dataclass(frozen=True)
class UrlFile(RangedFile):
    """A file at a URL, read by range requests with no read-ahead (a server that ignores
    ``Range`` is cut off at the bytes asked for)."""

    def _get(self, start: int, length: int) -> bytes:
        with fs_errors(self.label), self.tree.fs.open(
                f"{self.tree.root}/{self.path}", "rb", cache_type="none", size=self.size()) as f:
            f.seek(start)
            data: bytes = f.read(length)
        self.tree.transfer.add(len(data))
        return data[:length]


class UrlTree(SizedTree):
    """A folder at a URL as a :class:`~paramcount.sources.blobs.Tree`: its file names and
    sizes (listed, or asked for by name), its files read by range. ``base`` is the file the URL
    names in it (empty: the whole folder)."""

    file = UrlFile

    def __init__(self, fs: Any, root: str, base: str, sizes: dict[str, int], url: str) -> None:
        super().__init__()
        self.fs, self.root, self.base, self.sizes, self.url = fs, root, base, sizes, url

    @property
    def path(self) -> str:
        return f"{self.root}/{self.base}" if self.base else self.root

    @property
    def label(self) -> str:
        return self.url[:len(self.url) - len(self.base)].rstrip("/") if self.base else self.url

    @classmethod
    def listed(cls, fs: Any, root: str, base: str, url: str) -> UrlTree:
        """A folder an object store lists, down to :data:`MAX_DEPTH` folders below."""
        found = fs.find(root, maxdepth=MAX_DEPTH + 1, detail=True)
        sizes = {name[len(root):].lstrip("/"): int(entry.get("size") or 0)
                 for name, entry in found.items() if entry.get("type") != "directory"}
        return cls(fs, root, base, sizes, url)

    @classmethod
    def probed(cls, fs: Any, path: str, url: str) -> UrlTree:
        """A file on a web server, and the files beside it that its readers need, asked for
        by name: ``config.json``, the shards its index names, the parts of its split set."""
        root, _, base = path.rpartition("/")
        tree = cls(fs, root, base, {base: _size(fs, path) or 0}, url)
        names = ["config.json"]
        if base.lower().endswith(".index.json"):
            names += tree._index_shards()
        match = _SHARD.match(base)
        if match and int(match["count"]) <= MAX_PARTS:
            names += [f"{match['stem']}-{n:05d}-of-{match['count']}{match['ext']}"
                      for n in range(1, int(match["count"]) + 1)]
        for name in dict.fromkeys(n for n in names if n != base):
            size = _size(fs, f"{root}/{name}", missing_ok=True)
            if size is not None:
                tree.sizes[name] = size
        return tree

    def _index_shards(self) -> list[str]:
        from paramcount.sources.shards import index_shards
        from paramcount.sources.spec import read_blob_document

        index = self.open(self.base)
        return list(index_shards(read_blob_document(index), index.label))


def _size(fs: Any, path: str, missing_ok: bool = False) -> int | None:
    try:
        info = fs.info(path)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise
    size = info.get("size")
    if size is None:
        raise SpecError(f"{path}: the server does not say the file's size")
    return int(size)
