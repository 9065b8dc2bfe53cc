"""GGUF files (llama.cpp, versions 2 and 3): tensor shapes and types from the header only.

The header is ``GGUF``, a version, the tensor and key-value counts, the key-value metadata, then
one record per tensor (name, dimensions, ggml type, offset into the data area). A quantized type
stores blocks of elements (Q4_K: 256 elements in 144 bytes), so element counts and stored bytes
are exact. Shapes are shown in PyTorch's order (GGUF lists the fastest-varying dimension first).

Why not the ``gguf`` package's ``GGUFReader``: it turns every metadata array element into numpy
objects, and took 12 s on a header with a Llama-3-sized vocabulary (400,000 strings); this reader
skips what it does not show and reads the same header in well under a second.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from paramcount.budget import Budget, current
from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.sources.blobs import Blob, LocalFile
from paramcount.sources.gguf_arch import NotPlaced, architecture
from paramcount.sources.regular import is_regular, open_regular
from paramcount.sources.shards import read_shards
from paramcount.sources.tensors import (
    Progress,
    Tensor,
    check_overlaps,
    summarize_tensors,
)

#: ggml type id -> (name, elements per block, bytes per block), as ggml's type traits say
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}
#: plain ggml types under PyTorch's names; quantized types keep ggml's (Q4_K)
_FLOAT_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64",
                "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64"}
#: general.file_type -> llama.cpp's name for the mix of types
FILE_TYPES = {
    0: "ALL_F32", 1: "MOSTLY_F16", 2: "MOSTLY_Q4_0", 3: "MOSTLY_Q4_1", 7: "MOSTLY_Q8_0",
    8: "MOSTLY_Q5_0", 9: "MOSTLY_Q5_1", 10: "MOSTLY_Q2_K", 11: "MOSTLY_Q3_K_S",
    12: "MOSTLY_Q3_K_M", 13: "MOSTLY_Q3_K_L", 14: "MOSTLY_Q4_K_S", 15: "MOSTLY_Q4_K_M",
    16: "MOSTLY_Q5_K_S", 17: "MOSTLY_Q5_K_M", 18: "MOSTLY_Q6_K", 19: "MOSTLY_IQ2_XXS",
    20: "MOSTLY_IQ2_XS", 21: "MOSTLY_Q2_K_S", 22: "MOSTLY_IQ3_XS", 23: "MOSTLY_IQ3_XXS",
    24: "MOSTLY_IQ1_S", 25: "MOSTLY_IQ4_NL", 26: "MOSTLY_IQ3_S", 27: "MOSTLY_IQ3_M",
    28: "MOSTLY_IQ2_S", 29: "MOSTLY_IQ2_M", 30: "MOSTLY_IQ4_XS", 31: "MOSTLY_IQ1_M",
    32: "MOSTLY_BF16", 36: "MOSTLY_TQ1_0", 37: "MOSTLY_TQ2_0", 38: "MOSTLY_MXFP4_MOE",
    39: "MOSTLY_NVFP4", 40: "MOSTLY_Q1_0",
}
#: metadata value type -> struct code (8 is a string, 9 an array)
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
            12: "d"}
_STRING, _ARRAY = 8, 9
MAX_DIMS = 4  # GGML_MAX_DIMS
_MAX_NESTING = 8
_MAX_KEPT_STRING = 1024
#: numeric arrays up to this length are kept (per-layer head counts); longer ones, and
#: arrays of strings (a vocabulary), only counted
_MAX_KEPT_ARRAY = 4096
#: metadata shown: general.* keys, then ``{architecture}.*`` keys
_GENERAL = ("name", "size_label", "file_type", "quantization_version")
_MODEL = ("context_length", "block_count", "embedding_length", "feed_forward_length",
          "attention.head_count", "attention.head_count_kv", "expert_count",
          "expert_used_count", "vocab_size")
_SPLIT = re.compile(r"^(?P<stem>.*)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)


class _Array:
    """A metadata array, kept as its element count only."""

    def __init__(self, count: int) -> None:
        self.count = count


class _NeedMore(Exception):
    """The header goes on past the bytes read so far (a remote file is read in growing
    pieces): read up to ``args[0]`` bytes at least and parse again."""


class _Header:
    """A cursor over the file's first bytes (all of a mapped local file; the part read so far
    of a remote one) that refuses to read past the end of the file."""

    def __init__(self, path: str, data: mmap.mmap | bytes, size: int) -> None:
        self.path, self.data, self.size, self.pos = path, data, size, 0
        self.avail = min(len(data), size)
        self.order = "<"

    def fail(self, what: str) -> SpecError:
        return SpecError(f"{self.path}: {what} (at byte {self.pos})")

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise self.truncated(what)
        if self.pos + n > self.avail:
            raise _NeedMore(self.pos + n)

    def truncated(self, what: str) -> SpecError:
        return self.fail(f"truncated: {what} runs past the end of the file ({self.size} bytes)")

    def unpack(self, code: str, what: str) -> Any:
        fmt = self.order + code
        n = struct.calcsize(fmt)
        self.need(n, what)
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += n
        return value

    def u32(self, what: str) -> int:
        return int(self.unpack("I", what))

    def u64(self, what: str) -> int:
        return int(self.unpack("Q", what))

    def string(self, what: str, limit: int | None = _MAX_KEPT_STRING) -> str:
        """A string; one longer than ``limit`` (a chat template, a licence) is skipped."""
        n = self.u64(f"the length of {what}")
        self.need(n, what)
        start, self.pos = self.pos, self.pos + n
        if limit is not None and n > limit:
            return ""
        if limit is None:  # kept whatever its length: the budget's
            current().check("string_bytes", n, f"{self.path}: {what}")
        return bytes(self.data[start:self.pos]).decode("utf-8", errors="replace")

    def value(self, kind: int, what: str, depth: int = 0) -> Any:
        """A scalar, a string, a short numeric array as a list, or a longer array counted."""
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind], what)
        if kind == _STRING:
            return self.string(what)
        if kind == _ARRAY:
            return self.array(what, depth)
        raise self.fail(f"{what} has the unknown value type {kind}")

    def array(self, what: str, depth: int) -> _Array | list[Any]:
        if depth >= _MAX_NESTING:
            raise self.fail(f"{what}: arrays nested deeper than {_MAX_NESTING}")
        kind = self.u32(f"the element type of {what}")
        count = self.u64(f"the length of {what}")
        if kind in (_STRING, _ARRAY):  # walked element by element: refused from the count
            current().check("elements", count, f"{self.path}: the array {what}")
        if kind in _SCALARS:
            fmt = f"{self.order}{count}{_SCALARS[kind]}"
            n = count * struct.calcsize(self.order + _SCALARS[kind])
            self.need(n, what)
            if count <= _MAX_KEPT_ARRAY:  # a per-layer value (head_count_kv): kept
                values = list(struct.unpack_from(fmt, self.data, self.pos))
                self.pos += n
                return values
            self.pos += n
        elif kind == _STRING:
            self.skip_strings(count, what)
        elif kind == _ARRAY:
            self.need(count * 12, what)  # each element is at least a type and a length
            for _ in range(count):
                self.array(what, depth + 1)
        else:
            raise self.fail(f"{what} has the unknown element type {kind}")
        return _Array(count)

    def skip_strings(self, count: int, what: str) -> None:
        # The hot loop of a large vocabulary: plain local arithmetic, no calls but one.
        self.need(count * 8, what)
        data, avail, pos = self.data, self.avail, self.pos
        unpack = struct.Struct(self.order + "Q").unpack_from
        for _ in range(count):
            if pos + 8 > avail:
                pos = max(pos + 8, avail + 1)
                break
            pos += 8 + unpack(data, pos)[0]
        if pos > self.size:
            raise self.truncated(what)
        if pos > avail:
            raise _NeedMore(pos)
        self.pos = pos


def load(path: Path, progress: Progress | None = None, **options: Any) -> Summary:
    """The source protocol: a ``.gguf`` file; the first file of a split set reads them all."""
    files = split_files(path)
    return load_files(files, str(path), progress)


def split_files(path: Path) -> list[Path]:
    """``model-00001-of-00003.gguf`` -> the three files of the set (each must exist)."""
    match = _SPLIT.match(path.name)
    if not match or int(match["count"]) < 2:
        return [path]
    count = int(match["count"])
    files = [path.with_name(f"{match['stem']}-{i:05d}-of-{count:05d}.gguf")
             for i in range(1, count + 1)]
    missing = [f.name for f in files if not is_regular(f)]
    if missing:
        raise SpecError(f"{path}: part of a split set of {count} files; {missing[0]} is missing")
    return files


def load_files(files: list[Path], source: str, progress: Progress | None = None) -> Summary:
    """One model in one GGUF file or a split set."""
    return summarize_blobs([LocalFile(f) for f in files], source, progress)


def summarize_blobs(files: Sequence[Blob], source: str, progress: Progress | None = None
                    ) -> Summary:
    """The same for files read by range (local or remote)."""
    shards = read_shards(files, source, read_blob, progress)
    tensors, meta = shards.tensors, shards.meta
    hparams = meta.pop("hparams", {})
    name = str(meta.get("name") or _SPLIT.sub(r"\g<stem>", files[0].name).removesuffix(".gguf"))
    summary = summarize_tensors(tensors, name, source, meta=meta, notes=_notes(meta))
    return with_architecture(summary, tensors, meta.get("architecture"), hparams)


def with_architecture(summary: Summary, tensors: list[Tensor], arch: str | None,
                      hparams: dict[str, Any]) -> Summary:
    """The summary with the tree the metadata describes (attention, experts: the KV cache,
    FLOPs and active parameters work on it), or the tensors' own tree with a note saying
    why not (:mod:`paramcount.sources.gguf_arch`)."""
    try:
        built = architecture(tensors, arch, hparams, summary.name)
    except NotPlaced as why:
        summary.notes.append(f"The tree is the tensors' ({why}): no KV cache or FLOPs")
        return summary
    summary.root, summary.figures = built.root, built.figures
    summary.notes += built.notes
    return summary


def _notes(meta: dict[str, Any]) -> list[str]:
    """The metadata worth a line: architecture, context length, blocks, vocabulary, mix."""
    labels = (("context_length", "context length"), ("block_count", "blocks"),
              ("embedding_length", "embedding"), ("expert_count", "experts"),
              ("vocab_size", "vocabulary"))
    parts = [f"{label} {meta[key]:,}" for key, label in labels if isinstance(meta.get(key), int)]
    if "file_type" in meta:
        parts.append(f"file type {meta['file_type']}")
    arch = meta.get("architecture", "unknown architecture")
    return [f"GGUF metadata: {arch}" + (f": {', '.join(parts)}" if parts else "")]


def read_file(path: Path) -> tuple[list[Tensor], dict[str, Any]]:
    """The tensors and the metadata shown, from one GGUF file's header."""
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size < 24:
                raise SpecError(f"{path}: truncated: {size} bytes, not a GGUF file")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _read(_Header(str(path), data, size))
    except OSError as err:
        raise SpecError(f"{path}: cannot read ({err.strerror})") from None


#: the first piece of a remote file read, then each piece doubles what was read
FIRST_PIECE = 256 * 2**10


def read_blob(file: Blob) -> tuple[list[Tensor], dict[str, Any]]:
    """The same from a file read by range (a remote one): the header in pieces that double,
    each asked for only when the parse runs past what was read, so no more than twice the
    header's bytes are read, and never the tensors' data."""
    if isinstance(file, LocalFile):  # mapped: the page cache serves what is touched
        return read_file(file.path)
    size = file.size()
    if size < 24:
        raise SpecError(f"{file.label}: truncated: {size} bytes, not a GGUF file")
    data = file.read(0, min(size, FIRST_PIECE))
    while True:
        try:
            return _read(_Header(file.label, data, size))
        except _NeedMore as more:
            want = min(size, max(2 * len(data), int(more.args[0])))
            current().check("read_bytes", int(more.args[0]), f"{file.label}: its header")
            piece = file.read(len(data), want - len(data))
            if not piece:
                raise SpecError(f"{file.label}: truncated: {len(data)} of {size} bytes "
                                "could be read") from None
            data += piece


def _read(h: _Header) -> tuple[list[Tensor], dict[str, Any]]:
    if h.data[:4] != b"GGUF":
        raise SpecError(f"{h.path}: wrong magic number {bytes(h.data[:4])!r}: not a GGUF file")
    h.pos = 4
    version = h.u32("the version")
    if version & 0xFFFF == 0:  # written big-endian
        h.order, h.pos = ">", 4
        version = h.u32("the version")
    if version not in (2, 3):
        raise h.fail(f"GGUF version {version} is not supported (2 and 3 are)")
    n_tensors = h.u64("the tensor count")
    n_kv = h.u64("the metadata count")
    if n_tensors * 24 > h.size or n_kv * 13 > h.size:
        raise h.fail(f"the header declares {n_tensors} tensors and {n_kv} metadata entries, "
                     "more than the file can hold")
    budget = current()  # counts the file could hold, refused before any loop walks them
    budget.check("elements", n_tensors, f"{h.path}: the header declares tensors")
    budget.check("elements", n_kv, f"{h.path}: the header declares metadata entries")
    kv = _metadata(h, n_kv)
    infos = [_tensor_info(h, i, budget) for i in range(n_tensors)]
    alignment = kv.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise h.fail(f"general.alignment {quote(alignment)} is not a power of two")
    start = -(-h.pos // alignment) * alignment
    tensors = _tensors(h, infos, start, alignment)
    return tensors, _meta(kv, version, h.size)


def _metadata(h: _Header, count: int) -> dict[str, Any]:
    kv: dict[str, Any] = {}
    tick = current().tick
    for i in range(count):
        tick()
        key = h.string(f"metadata key #{i}")
        kind = h.u32(f"the type of {quote(key)}")
        kv[key] = h.value(kind, repr(key))
    return kv


def _tensor_info(h: _Header, i: int, budget: Budget) -> tuple[str, tuple[int, ...], int, int]:
    budget.tick()
    name = h.string(f"the name of tensor #{i}", limit=None)
    fields = _info_fields(h)
    if fields is not None:
        return name, *fields
    # the careful way, each field with its own message: something is wrong or not yet read
    n_dims = h.u32(f"the rank of {quote(name)}")
    if n_dims > MAX_DIMS:
        raise h.fail(f"tensor {quote(name)} has {n_dims} dimensions (GGUF allows {MAX_DIMS})")
    dims = tuple(h.u64(f"the shape of {quote(name)}") for _ in range(n_dims))
    kind = h.u32(f"the type of {quote(name)}")
    offset = h.u64(f"the offset of {quote(name)}")
    return name, dims, kind, offset


_INFO: dict[tuple[str, int], struct.Struct] = {}


def _info_fields(h: _Header) -> tuple[tuple[int, ...], int, int] | None:
    """A tensor's dims, type and offset in one unpack, when all of them are in what was read
    and the rank is allowed; None otherwise (then read field by field, to say what is wrong)."""
    if h.pos + 4 > h.avail:
        return None
    n_dims = struct.unpack_from(h.order + "I", h.data, h.pos)[0]
    if n_dims > MAX_DIMS:
        return None
    layout = _INFO.get((h.order, n_dims))
    if layout is None:
        layout = _INFO[h.order, n_dims] = struct.Struct(f"{h.order}{n_dims}QIQ")
    if h.pos + 4 + layout.size > h.avail:
        return None
    *dims, kind, offset = layout.unpack_from(h.data, h.pos + 4)
    h.pos += 4 + layout.size
    return tuple(dims), kind, offset


def _tensors(h: _Header, infos: list[tuple[str, tuple[int, ...], int, int]], start: int,
             alignment: int) -> list[Tensor]:
    data_size = h.size - start
    tensors, spans = [], []
    for name, dims, kind, offset in infos:
        if kind not in GGML_TYPES:
            raise SpecError(f"{_where(h.path, name)}: unknown ggml type {kind}")
        type_name, block, block_bytes = GGML_TYPES[kind]
        if any(d >= 2**63 for d in dims):
            raise SpecError(f"{_where(h.path, name)}: a dimension is negative or overflows: "
                            f"{list(dims)}")
        numel = 1
        for d in dims:
            numel *= d
        if dims and dims[0] % block:
            raise SpecError(f"{_where(h.path, name)}: {type_name} stores blocks of {block} "
                            f"elements, but rows have {dims[0]}")
        nbytes = numel // block * block_bytes
        if offset % alignment:
            raise SpecError(f"{_where(h.path, name)}: its offset {offset} is not a multiple of "
                            f"the alignment {alignment}")
        if offset + nbytes > data_size:
            raise SpecError(f"{_where(h.path, name)}: its data [{offset}, {offset + nbytes}] "
                            f"points outside the {max(data_size, 0)} bytes of data in the file")
        dtype = _FLOAT_NAMES.get(type_name, type_name)
        key = (h.path, offset, nbytes) if nbytes else None
        tensors.append(Tensor(name, tuple(reversed(dims)), dtype, nbytes, key))
        spans.append((offset, offset + nbytes, name))
    check_overlaps(h.path, spans)
    return tensors


def _where(path: str, name: str) -> str:
    """Where a message points: made only for a tensor refused (a bounded quote per tensor
    is a third of the time of reading 100,000 of them)."""
    return f"{path}: tensor {quote(name)}"


def _meta(kv: dict[str, Any], version: int, size: int) -> dict[str, Any]:
    meta: dict[str, Any] = {"format": f"GGUF v{version}"}
    arch = kv.get("general.architecture")
    if isinstance(arch, str):
        meta["architecture"] = arch
    for key in _GENERAL:
        if f"general.{key}" in kv and not isinstance(kv[f"general.{key}"], _Array | list):
            meta[key] = kv[f"general.{key}"]
    for key in _MODEL:
        value = kv.get(f"{arch}.{key}")
        if value is not None and not isinstance(value, _Array | list):
            meta[key.replace("attention.", "")] = value
    tokens = kv.get("tokenizer.ggml.tokens")
    if "vocab_size" not in meta and isinstance(tokens, _Array):
        meta["vocab_size"] = tokens.count
    if isinstance(meta.get("file_type"), int):
        meta["file_type"] = FILE_TYPES.get(meta["file_type"], meta["file_type"])
    meta["file_bytes"] = size
    # every ``{arch}.*`` value, for the architecture (popped before the summary is made)
    meta["hparams"] = {k[len(f"{arch}."):]: v for k, v in kv.items()
                       if isinstance(arch, str) and k.startswith(f"{arch}.")
                       and not isinstance(v, _Array)}
    return meta
