"""Shard sets: one model stored in several files, read file by file, and the index
(``model.safetensors.index.json``, ``pytorch_model.bin.index.json``) that names the shard of
every tensor, checked against what the shards hold."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.sources.regular import is_regular
from paramcount.sources.tensors import Progress, Tensor

#: files of a shard set read at once
READERS = 8


@dataclass
class ShardSet:
    """The tensors of one model stored in one file or several."""

    tensors: list[Tensor]
    found: dict[str, str]  # tensor name -> the file that holds it
    meta: dict[str, Any]  # the first file's metadata, ``file_bytes`` of all, ``shards``


class HasName(Protocol):
    @property
    def name(self) -> str: ...


F = TypeVar("F", bound=HasName)


def read_shards(files: Sequence[F], source: str,
                read: Callable[[F], tuple[list[Tensor], dict[str, Any]]],
                progress: Progress | None = None) -> ShardSet:
    """Read every file of a set with ``read`` (which returns its tensors and metadata with
    ``file_bytes``); a tensor named in two files is an error (twice in one file is the
    reader's to refuse). Several files are read by a few threads at once: a remote repo's
    headers are round trips, not work."""
    out = ShardSet([], {}, {})
    size = 0
    with ThreadPoolExecutor(max_workers=max(1, min(READERS, len(files)))) as pool:
        results = pool.map(read, files) if len(files) > 1 else map(read, files)
        for i, (file, (part, info)) in enumerate(zip(files, results, strict=True)):
            _add(out, source, file.name, part)
            size += info.pop("file_bytes")
            out.meta = out.meta or info
            if progress is not None:
                progress(i + 1, len(files))
    out.meta["file_bytes"] = size
    if len(files) > 1:
        out.meta["shards"] = len(files)
    return out


def _add(out: ShardSet, source: str, file: str, part: list[Tensor]) -> None:
    for t in part:
        if out.found.get(t.name, file) != file:
            raise SpecError(f"{source}: the tensor {quote(t.name)} is in both {out.found[t.name]} "
                            f"and {file}")
        out.found[t.name] = file
    out.tensors += part


def shard_files(path: Path, shards: Iterable[str]) -> list[Path]:
    """The shard files an index names, each checked to be there."""
    files = []
    for shard in shards:
        file = path.parent / shard
        if not is_regular(file):
            raise SpecError(f"{path}: the shard {shard} is missing")
        files.append(file)
    return files


def read_index(path: Path) -> dict[str, list[str]]:
    """A shard index (``model.safetensors.index.json``): shard file -> tensor names, in order.

    Shard names must be plain file names in the index's folder.
    """
    from paramcount.sources.spec import read_document

    return index_shards(read_document(path), str(path))


def index_shards(doc: Any, where: str) -> dict[str, list[str]]:
    """A parsed shard index's ``weight_map``: shard file -> tensor names, in order."""
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise SpecError(f"{where}: a shard index needs a non-empty `weight_map` object")
    shards: dict[str, list[str]] = {}
    for tensor, shard in weight_map.items():
        names = shards.get(shard) if isinstance(shard, str) else None
        if names is None:  # a shard's name is checked once, not once per tensor
            if not isinstance(shard, str) or not shard or Path(shard).name != shard:
                raise SpecError(f"{where}: weight_map[{quote(tensor)}] must be a file name in the "
                                f"same folder, got {quote(shard)}")
            names = shards[shard] = []
        names.append(tensor)
    return shards


def check_index(path: Path | str, shards: dict[str, list[str]], found: Mapping[str, str]
                ) -> None:
    """Every tensor the index names is in the shard it names (``found``: name -> shard)."""
    for shard, names in shards.items():
        for tensor in names:
            if found.get(tensor) != shard:
                raise SpecError(f"{path}: the index puts {quote(tensor)} in {shard}, which does "
                                "not "
                                "hold it")


#: reads a model stored in these files, named ``source``: its summary, and which file holds
#: each tensor (name -> file name) for an index to be checked against
ReadFiles = Callable[[Sequence[Path], str, "Progress | None"], tuple[Summary, dict[str, str]]]


def load_sharded(path: Path, read: ReadFiles, progress: Progress | None = None) -> Summary:
    """One file, or a shard set through its index (``*.index.json``): every shard the index
    names is read, and each tensor checked to be in the shard it names."""
    if not path.name.lower().endswith(".index.json"):
        return read([path], str(path), progress)[0]
    from paramcount.sources.spec import read_document

    doc = read_document(path)
    shards = index_shards(doc, str(path))
    summary, found = read(shard_files(path, shards), str(path), progress)
    check_index(path, shards, found)
    return declared(summary, doc)


def declared(summary: Summary, doc: Any) -> Summary:
    """The figures an index declares beside its ``weight_map``: ``metadata.total_parameters``
    (a count; ``Declared params``) and ``metadata.total_size`` (bytes), each shown with how
    far the checkpoint's own count or bytes are from it when they differ."""
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        return summary
    params, size = meta.get("total_parameters"), meta.get("total_size")
    if isinstance(params, int) and not isinstance(params, bool):
        summary.figures["Declared params"] = params
        summary.meta["declared_params"] = params
        if params != summary.total_params:
            summary.notes.append(f"The index declares {params:,} parameters: "
                                 f"{summary.total_params - params:+,} against the count of "
                                 "its tensors")
    stored = summary.stored_bytes()
    if isinstance(size, int) and not isinstance(size, bool):
        summary.meta["declared_bytes"] = size
        if stored is not None and size != stored:
            summary.notes.append(f"The index declares {size:,} bytes of tensors; they take "
                                 f"{stored:,}")
    quantized = summary.meta.get("quantized")
    if isinstance(quantized, dict) and "declared_params" in summary.meta:
        quantized["declared_params"] = summary.meta["declared_params"]
    return summary
