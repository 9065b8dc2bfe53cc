"""PyTorch checkpoints (``.pt``, ``.pth``, ``.bin``, ``.ckpt``): names, shapes, dtypes; no code.

Two layouts are read: the zip archive ``torch.save`` writes since PyTorch 1.6 (``*/data.pkl``
and one record per storage under ``*/data/``) and the legacy stream (a magic number, a protocol
version, system information, the object, the list of storage keys, then the raw storages).
Only the pickle and the archive's directory are read, through the restricted unpickler of
:mod:`paramcount.sources.torch_pickle`: storages are checked against the records that hold them,
never loaded. torch need not be installed.

When the checkpoint is a training checkpoint (``{"epoch": 3, "state_dict": {...},
"optimizer": {...}}``), the model's entry (``state_dict``, ``model_state_dict``, ``model``, ...)
is the one counted, so optimizer state is not taken for parameters.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.sources.archives import open_zip, read_member
from paramcount.sources.regular import open_regular
from paramcount.sources.safetensors import model_name
from paramcount.sources.shards import load_sharded, read_shards
from paramcount.sources.tensors import (
    Progress,
    Tensor,
    folder_config,
    hf_ties,
    is_torch_buffer,
    summarize_tensors,
)
from paramcount.sources.torch_pickle import ITEMSIZE, Storage, StoredTensor, load_pickle

MAX_PICKLE = 2**30
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
#: entries of a training checkpoint that hold the model's own weights, in order of preference
STATE_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "params")
_MAX_NESTING = 64


def load(path: Path, progress: Progress | None = None, **options: Any) -> Summary:
    """The source protocol: a PyTorch checkpoint, or a ``pytorch_model.bin.index.json``."""
    return load_sharded(path, _read_files, progress)


def load_files(files: Sequence[Path], source: str, progress: Progress | None = None
               ) -> Summary:
    """One model stored in one or several PyTorch checkpoint files."""
    return _read_files(files, source, progress)[0]


def _read_files(files: Sequence[Path], source: str, progress: Progress | None
                ) -> tuple[Summary, dict[str, str]]:
    from paramcount.sources import quant

    shards = read_shards(files, source, read_tensors, progress)
    config = folder_config(files[0].parent)
    tensors, info, quant_notes = quant.logical(shards.tensors, config)  # older GPTQ repos
    tensors = hf_ties(config, tensors)
    meta = {**shards.meta, **quant.meta(info)}
    notes = [f"Counted the checkpoint's {meta['state_dict_key']!r} entry (the model's "
             "weights; optimizer state and the rest are not parameters)"] \
        if "state_dict_key" in meta else []
    return summarize_tensors(tensors, model_name(files[0]), source, meta=meta,
                             notes=[*notes, *quant_notes]), shards.found


def read_tensors(path: Path) -> tuple[list[Tensor], dict[str, Any]]:
    """The tensors a checkpoint holds, with its format, size and the entry counted."""
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(4)
            if head.startswith(b"PK\x03\x04"):
                obj, kind = _read_zip(path), "PyTorch zip archive"
            elif head[:1] == b"\x80":
                obj, kind = _read_legacy(path, f, size), "PyTorch legacy format"
            else:
                raise SpecError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor "
                                "a pickle)")
    except OSError as err:
        raise SpecError(f"{path}: cannot read ({err.strerror})") from None
    root, key = state_dict(obj)
    tensors = [_record(path, name, t) for name, t in named_tensors(root, str(path))]
    meta: dict[str, Any] = {"format": kind, "file_bytes": size}
    if key:
        meta["state_dict_key"] = key
    return tensors, meta


def _record(path: Path, name: str, t: StoredTensor) -> Tensor:
    key = None
    if t.storage is not None:
        key = (str(path), t.storage.key, t.offset, t.shape, t.stride)
        if t.extent() * ITEMSIZE[t.dtype] > t.storage.nbytes:
            raise SpecError(f"{path}: tensor {quote(name)} of shape {list(t.shape)} reaches "
                            "past the "
                            f"end of its storage ({t.storage.nbytes} bytes)")
    return Tensor(name, t.shape, t.dtype, t.nbytes, key=key, buffer=is_torch_buffer(name),
                  trainable=not t.frozen)


# -- the two layouts ------------------------------------------------------------------------

def _read_zip(path: Path) -> Any:
    try:
        with open_zip(path, "a readable zip archive") as z:
            infos = {i.filename: i for i in z.infolist()}
            pkl = _data_pkl(path, infos)
            data = read_member(z, infos[pkl], MAX_PICKLE, path)
    except SpecError:
        raise
    except Exception as err:  # zipfile raises many types on a damaged archive
        raise SpecError(f"{path}: not a readable zip archive ({type(err).__name__}: "
                        f"{str(err)[:100]})") from None
    prefix = pkl[:-len("data.pkl")]
    storages: dict[str, Storage] = {}
    obj = load_pickle(data, str(path), storages)
    for key, storage in storages.items():
        record = infos.get(f"{prefix}data/{key}")
        if record is None:
            raise SpecError(f"{path}: the storage {quote(key)} has no record {prefix}data/{key}")
        if record.file_size < storage.nbytes:
            raise SpecError(f"{path}: the storage {quote(key)} needs {storage.nbytes} bytes, its "
                            f"record holds {record.file_size}")
    return obj


def _data_pkl(path: Path, infos: dict[str, zipfile.ZipInfo]) -> str:
    candidates = [n for n in infos if n == "data.pkl" or (n.endswith("/data.pkl")
                                                          and n.count("/") == 1)]
    if len(candidates) != 1:
        raise SpecError(f"{path}: a zip archive without one top-level data.pkl: not a "
                        "torch.save checkpoint")
    prefix = candidates[0][:-len("data.pkl")]
    if f"{prefix}code/" in infos or f"{prefix}constants.pkl" in infos:
        raise SpecError(f"{path}: a TorchScript archive (torch.jit.save): its module is code; "
                        "save the model's state_dict() to count it")
    return candidates[0]


def _read_legacy(path: Path, f: BinaryIO, size: int) -> Any:
    f.seek(0)
    where = str(path)
    if load_pickle(f, where) != LEGACY_MAGIC:
        raise SpecError(f"{path}: a pickle, but not a torch.save checkpoint (wrong magic number)")
    version = load_pickle(f, where)
    if version != LEGACY_PROTOCOL:
        raise SpecError(f"{path}: legacy protocol version {quote(version)} is not supported")
    load_pickle(f, where)  # system information: byte order and type sizes
    storages: dict[str, Storage] = {}
    obj = load_pickle(f, where, storages)
    keys = load_pickle(f, where)
    if not isinstance(keys, list) or len(keys) * 8 > size:
        raise SpecError(f"{path}: the list of storage keys is malformed")
    _check_legacy_storages(path, f, size, [str(k) for k in keys], storages)
    return obj


def _check_legacy_storages(path: Path, f: BinaryIO, size: int, keys: list[str],
                           storages: dict[str, Storage]) -> None:
    """Each storage is an 8-byte element count and its bytes: walk the counts, read no data."""
    pos = f.tell()
    for key in keys:
        storage = storages.get(key)
        if storage is None:
            raise SpecError(f"{path}: the data lists storage {quote(key)}, which no tensor uses")
        f.seek(pos)
        head = f.read(8)
        if len(head) < 8:
            raise SpecError(f"{path}: truncated: the data of storage {quote(key)} is missing")
        numel = int.from_bytes(head, "little", signed=True)
        if numel < storage.numel:
            raise SpecError(f"{path}: storage {quote(key)} holds {numel} elements, its tensors "
                            "need "
                            f"{storage.numel}")
        pos += 8 + numel * ITEMSIZE.get(storage.dtype or "", 1)
        if pos > size:
            raise SpecError(f"{path}: truncated: storage {quote(key)} runs past the end of the "
                            "file")


# -- finding the tensors --------------------------------------------------------------------

def state_dict(obj: Any) -> tuple[Any, str | None]:
    """The part of a checkpoint that holds the model: a training checkpoint's model entry."""
    if isinstance(obj, dict):
        for key in STATE_KEYS:
            value = obj.get(key)
            if isinstance(value, dict) and any(True for _ in named_tensors(value, "")):
                return value, key
    return obj, None


def named_tensors(obj: Any, where: str) -> Iterator[tuple[str, StoredTensor]]:
    """Every tensor in nested dicts, lists and tuples, with its dotted path.

    A tensor reached twice (a tied weight) is listed under both names; a container reached
    twice is walked once.
    """
    seen: set[int] = set()

    def walk(value: Any, prefix: str, depth: int) -> Iterator[tuple[str, StoredTensor]]:
        if isinstance(value, StoredTensor):
            yield prefix, value
            return
        if isinstance(value, dict):
            items: Any = value.items()
        elif isinstance(value, list | tuple):
            items = enumerate(value)
        else:
            return
        if id(value) in seen:
            return
        seen.add(id(value))
        if depth > _MAX_NESTING:
            raise SpecError(f"{where}: containers nested deeper than {_MAX_NESTING}")
        for key, item in items:
            yield from walk(item, f"{prefix}.{key}" if prefix else str(key), depth + 1)

    yield from walk(obj, "", 0)
