"""Models named by their Hugging Face Hub id: ``ORG/NAME``, ``ORG/NAME@REVISION``,
``hf://ORG/NAME[@REVISION][/PATH]`` and the Hub's own URLs.

A repo in the local Hugging Face cache is read from there, as the folder it is: the cache
``huggingface_hub`` keeps (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
``$XDG_CACHE_HOME/huggingface/hub`` or ``~/.cache/huggingface/hub``), laid out as
``models--ORG--NAME/refs/REVISION`` (a commit hash) and ``snapshots/COMMIT/...``. Reading the
cache needs no extra package and no network.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.sources.formats import FORMATS

DEFAULT_ENDPOINT = "https://huggingface.co"
#: a repo id as the Hub allows it: ORG/NAME of letters, digits, ``-``, ``_`` and ``.``
_PART = r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}"
_ID = re.compile(rf"^(?P<repo>{_PART}/{_PART})(?:@(?P<rev>[^/@\s]+))?(?:/(?P<path>.+))?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class HubRef:
    """A repo, a revision (None: the default branch) and a path inside it (None: the repo)."""

    repo_id: str
    revision: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"hf://{self.repo_id}{rev}" + (f"/{self.path}" if self.path else "")


def parse(text: str) -> HubRef | None:
    """The Hub reference ``text`` names, or None when it names none.

    >>> parse("meta-llama/Llama-3.1-8B@main")
    HubRef(repo_id='meta-llama/Llama-3.1-8B', revision='main', path=None)
    >>> parse("hf://Qwen/Qwen2.5-7B/config.json").path
    'config.json'
    >>> parse("https://huggingface.co/gpt2-org/gpt2/blob/abc123/model.safetensors")
    HubRef(repo_id='gpt2-org/gpt2', revision='abc123', path='model.safetensors')
    >>> parse("model.yaml") is None, parse("./models/x") is None
    (True, True)
    """
    if text.startswith("hf://"):
        return _from_id(text.removeprefix("hf://"), paths=True)
    if text.startswith(("https://", "http://")):
        return _from_url(text)
    return _from_id(text, paths=False)


def _from_id(text: str, paths: bool) -> HubRef | None:
    match = _ID.match(text)
    if match is None or (match["path"] and not paths):
        return None
    return HubRef(match["repo"], match["rev"], match["path"])


def _from_url(url: str) -> HubRef | None:
    """``https://huggingface.co/ORG/NAME[/(tree|blob|resolve)/REV[/PATH]]`` (or ``HF_ENDPOINT``'s
    host)."""
    parts = urlparse(url)
    hosts = {urlparse(e).netloc for e in (DEFAULT_ENDPOINT, endpoint())}
    if parts.netloc not in hosts:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        return None
    repo = "/".join(segments[:2])
    if len(segments) >= 4 and segments[2] in ("tree", "blob", "resolve"):
        return HubRef(repo, segments[3], "/".join(segments[4:]) or None)
    return HubRef(repo) if len(segments) == 2 else None


def endpoint() -> str:
    """The Hub's address: ``HF_ENDPOINT`` (a mirror, a test server) or huggingface.co."""
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) forbids the network."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in ("1", "ON", "YES", "TRUE")


def cache_dir() -> Path:
    """The Hub cache, where ``huggingface_hub`` keeps it."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.path.expandvars(os.path.expanduser(os.environ["HF_HUB_CACHE"])))
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "huggingface")
    return Path(os.path.expandvars(os.path.expanduser(home))) / "hub"


def cached(ref: HubRef) -> Path | None:
    """The snapshot folder of ``ref`` in the local cache (or the file in it), or None."""
    repo = cache_dir() / ("models--" + ref.repo_id.replace("/", "--"))
    revision = ref.revision or "main"
    commit = revision if _COMMIT.match(revision) else _read_ref(repo / "refs" / revision)
    if commit is None:
        return None
    snapshot = repo / "snapshots" / commit
    target = snapshot / ref.path if ref.path else snapshot
    if not target.exists() or not _inside(target, repo):
        return None
    return target


def _read_ref(path: Path) -> str | None:
    from paramcount.sources.regular import read_regular

    try:
        commit = read_regular(path, 4096, "ref").decode("ascii").strip()
    except (SpecError, UnicodeDecodeError):
        return None
    return commit if _COMMIT.match(commit) else None


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (its name, before symlinks) stays in ``folder``: a revision or path of
    ``..`` cannot walk out of the cache."""
    return os.path.abspath(path).startswith(os.path.abspath(folder) + os.sep)


# -- the front door's protocol (paramcount.sources.NameLoader) -----------------------------------

def claims(name: str) -> bool:
    """Whether ``name`` is a Hub id or URL (asked after the paths that exist). A bare id whose
    name ends in a file suffix paramcount reads (``models/net.yaml``) is taken for a missing
    file; ``hf://`` names such a repo."""
    if Path(name).suffix.lower() in {s for f in FORMATS for s in f.suffixes}:
        return name.startswith(("https://", "http://")) and parse(name) is not None
    return parse(name) is not None


def close_to(name: str) -> list[str]:
    return []


def load_name(name: str, **options: Any) -> Summary:
    """The summary of a Hub repo (or a file or folder in it): from the local cache when it
    holds the revision, else from the Hub by range requests."""
    from paramcount.sources import summarize

    ref = parse(name if name.startswith(("https://", "http://")) else f"hf://{name}")
    if ref is None:
        raise SpecError(f"{name}: not a Hugging Face Hub id (ORG/NAME[@REVISION][/PATH])")
    local = cached(ref)
    if local is not None:
        summary = summarize(local, **options)
        commit = local.relative_to(cache_dir()).parts[2]
        return _labelled(summary, ref, commit, "cache")
    if offline():
        raise SpecError(f"{ref} is not in the local Hugging Face cache ({cache_dir()}), and "
                        "HF_HUB_OFFLINE forbids the network")
    return _remote(ref, options)


def _labelled(summary: Summary, ref: HubRef, commit: str, origin: str) -> Summary:
    summary.source = str(ref)
    summary.meta["hub"] = {"repo_id": ref.repo_id, "revision": ref.revision, "path": ref.path,
                           "commit": commit, "from": origin}
    return summary


def _remote(ref: HubRef, options: dict[str, Any]) -> Summary:
    """The repo from the Hub: its file list, then only the bytes the readers ask for."""
    from paramcount.sources import folder
    from paramcount.sources.remote import RemoteRepo, part

    repo = RemoteRepo(ref.repo_id, ref.revision, endpoint())
    path = (ref.path or "").strip("/")
    progress = options.pop("progress", None)
    if path.lower().endswith(".json") and not path.lower().endswith(".index.json"):
        summary = _document(repo.open(path), options)  # a config, read whole
    else:
        summary = folder.load_tree(part(repo, path, str(ref), " in the repo"), progress, **options)
    summary = _labelled(summary, ref, repo.commit, "hub")
    t = repo.transfer
    summary.meta["hub"]["bytes_read"] = t.bytes
    summary.notes.append(f"Read from the Hub at commit {repo.commit[:12]}: the file list, then "
                         f"{t.bytes:,} bytes of configs and headers in {t.requests} requests "
                         "(no weights)")
    return summary


def _document(file: Any, options: dict[str, Any]) -> Summary:
    from paramcount.sources.formats import document_kind
    from paramcount.sources.spec import read_blob_document

    doc = read_blob_document(file)
    return document_kind(doc, file.label).document_loader().from_dict(doc, source=file.label,
                                                                      **options)
