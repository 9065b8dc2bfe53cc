"""safetensors checkpoints: one file, a shard set through its index, read from the header only.

A file is an 8-byte little-endian header length N, N bytes of JSON, then the tensor bytes::

    {"model.embed_tokens.weight": {"dtype": "BF16", "shape": [32000, 4096],
                                   "data_offsets": [0, 262144000]},
     "__metadata__": {"format": "pt"}}

Only the header is read; the offsets are checked against the file size, so a header that lies
about the data is refused without reading it. Two names with the same byte range are one tensor
stored once (counted once, the second listed as tied).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from paramcount.budget import current
from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.sources.blobs import Blob, LocalFile
from paramcount.sources.shards import load_sharded, read_shards
from paramcount.sources.tensors import (
    MAX_DIM,
    Progress,
    Tensor,
    check_overlaps,
    check_shape,
    fast_shape,
    folder_config,
    hf_ties,
    is_torch_buffer,
    summarize_tensors,
)

#: the largest header the safetensors library itself accepts
MAX_HEADER = 100 * 2**20
#: safetensors dtype -> (PyTorch's name, bits per element)
DTYPES = {
    "F64": ("float64", 64), "F32": ("float32", 32), "F16": ("float16", 16),
    "BF16": ("bfloat16", 16), "I64": ("int64", 64), "I32": ("int32", 32), "I16": ("int16", 16),
    "I8": ("int8", 8), "U64": ("uint64", 64), "U32": ("uint32", 32), "U16": ("uint16", 16),
    "U8": ("uint8", 8), "BOOL": ("bool", 8), "F8_E4M3": ("float8_e4m3fn", 8),
    "F8_E5M2": ("float8_e5m2", 8), "F8_E4M3FNUZ": ("float8_e4m3fnuz", 8),
    "F8_E5M2FNUZ": ("float8_e5m2fnuz", 8), "F8_E8M0": ("float8_e8m0fnu", 8),
    "F6_E2M3": ("float6_e2m3", 6), "F6_E3M2": ("float6_e3m2", 6), "F4": ("float4_e2m1", 4),
    "C64": ("complex64", 64),
}
_GENERIC_STEMS = ("model", "pytorch_model", "diffusion_pytorch_model", "consolidated", "weights")


def load(path: Path, progress: Progress | None = None, **options: Any) -> Summary:
    """The source protocol: a ``.safetensors`` file or a ``*.safetensors.index.json``.

    A Hugging Face ``config.json`` next to the weights with ``tie_word_embeddings: true`` makes
    the output head tied to the input embedding, as transformers ties them.
    """
    return load_sharded(path, _read_files, progress)


def load_files(files: Sequence[Path], source: str,
               progress: Progress | None = None) -> Summary:
    """One model stored in several safetensors files (or one)."""
    return _read_files(files, source, progress)[0]


def _read_files(files: Sequence[Path], source: str,
                progress: Progress | None) -> tuple[Summary, dict[str, str]]:
    return summarize_blobs([LocalFile(f) for f in files], source, model_name(files[0]),
                           folder_config(files[0].parent), progress)


def summarize_blobs(files: Sequence[Blob], source: str, name: str,
                    config: dict[str, Any] | None, progress: Progress | None = None
                    ) -> tuple[Summary, dict[str, str]]:
    """One model stored in these files (local or remote), named ``name``, tied as the
    ``config`` beside them says; and which file holds each tensor."""
    from paramcount.sources import quant

    shards = read_shards(files, source, _read_blob, progress)
    tensors, info, quant_notes = quant.logical(shards.tensors, config, _reader(files))
    tensors = hf_ties(config, tensors)
    meta = {"format": "safetensors", **shards.meta, **quant.meta(info)}
    notes = [] if config is not None else experts_note(tensors)
    return (summarize_tensors(tensors, name, source, meta=meta, notes=[*notes, *quant_notes]),
            shards.found)


_EXPERT = re.compile(r"(?:^|\.)experts\.([0-9]{1,9})\.")
_FUSED_EXPERTS = re.compile(r"(?:^|\.)experts\.(?:gate_up_proj|down_proj|w1|w2|w3)")


def experts_note(tensors: Sequence[Tensor]) -> list[str]:
    """Routed experts recognised by name (``mlp.experts.7.down_proj``, fused
    ``mlp.experts.gate_up_proj``): how many a token passes through is the config's to say.

    >>> experts_note([Tensor("mlp.experts.0.w1.weight", (2, 2), "F32", 16)])[0][:30]
    'Routed experts (1 per layer) r'
    """
    named = [t.name for t in tensors if "experts." in t.name]  # the patterns' common part
    numbered = {int(m[1]) for n in named if (m := _EXPERT.search(n))}
    if not numbered and not any(_FUSED_EXPERTS.search(n) for n in named):
        return []
    count = f" ({max(numbered) + 1} per layer)" if numbered else ""
    return [f"Routed experts{count} recognised by name: the experts used per token are "
            "unknown without the model's config.json, so no active parameter count"]


def _reader(files: Sequence[Blob]) -> Callable[[Tensor], bytes]:
    """Reads a small tensor's bytes from the file its key names (bounded, for the schemes
    that keep a shape in a tensor's data)."""
    from paramcount.sources.quant import MAX_READ

    by_label = {f.label: f for f in files}

    def read(t: Tensor) -> bytes:
        if not (isinstance(t.key, tuple) and t.key[0] in by_label) or t.nbytes > MAX_READ:
            raise SpecError(f"{t.name}: its {t.nbytes:,} bytes cannot be read here")
        file = by_label[t.key[0]]
        start = 8 + int.from_bytes(file.read(0, 8), "little")
        return file.read(start + t.key[1], t.nbytes)

    return read


def _read_blob(file: Blob) -> tuple[list[Tensor], dict[str, Any]]:
    tensors, size = read_tensors(file)
    return tensors, {"file_bytes": size}


def model_name(path: Path) -> str:
    """A model's name from its file: the stem, or the folder's name for a generic stem.

    >>> model_name(Path("llama-7b/model-00001-of-00002.safetensors"))
    'llama-7b'
    """
    stem = path.name.split(".")[0].split("-0000")[0]
    if stem in _GENERIC_STEMS and path.parent.name:
        return path.parent.resolve().name if path.parent.name == "." else path.parent.name
    return stem or path.name


def read_tensors(file: Blob) -> tuple[list[Tensor], int]:
    """The tensors a safetensors file declares, checked, and the file's size."""
    header, data_size, size = read_header(file)
    label = file.label
    tensors: list[Tensor] = []
    append = tensors.append
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        # the common entry checked inline, anything else by _tensor (which says what is wrong)
        if type(entry) is dict:
            dtype, shape = entry.get("dtype"), entry.get("shape")
            offsets = entry.get("data_offsets")
            if (type(dtype) is str and dtype in DTYPES and type(shape) is list
                    and type(offsets) is list and len(offsets) == 2):
                begin, end = offsets
                canonical, bits = DTYPES[dtype]
                numel = 1
                for d in shape:
                    if type(d) is not int or d < 0 or d > MAX_DIM:
                        break
                    numel *= d
                else:
                    if (type(begin) is int and type(end) is int
                            and 0 <= begin <= end <= data_size
                            and numel * bits == (end - begin) * 8):
                        append(Tensor(name, tuple(shape), canonical, end - begin,
                                      (label, begin, end) if end > begin else None,
                                      is_torch_buffer(name)))
                        continue
        append(_tensor(label, name, entry, data_size))
    check_overlaps(file.label, [(t.key[1], t.key[2], t.name) for t in tensors
                                if isinstance(t.key, tuple)])
    return tensors, size


#: bytes of a header entry beyond its tensor's name, at most about: ``"NAME":{"dtype":"BF16",
#: "shape":[4096,14336],"data_offsets":[…,…]},`` is 78 with 10-digit offsets
ENTRY_BYTES = 96
#: the first read of a remote file whose tensors no index names: the length, and most headers
FIRST_READ = 32 * 1024


def header_guess(names: Sequence[str]) -> int:
    """About how many bytes a file's length and header take, from the tensors an index puts in
    it (a little over, so that one request most often reads both).

    >>> header_guess(["model.embed_tokens.weight", "lm_head.weight"])
    495
    """
    return 8 + sum(len(n) + ENTRY_BYTES for n in names) + 256


def read_header(file: Blob) -> tuple[dict[str, Any], int, int]:
    """The parsed JSON header, the size of the data area after it, and the file's size: two
    reads, the 8-byte length and the header it gives."""
    size = file.size()
    first = file.read(0, 8)
    if len(first) < 8:
        raise SpecError(f"{file.label}: truncated: {len(first)} bytes, not a safetensors file")
    n = int.from_bytes(first, "little")
    if n > size - 8:
        raise SpecError(f"{file.label}: the header length {n} is beyond the file size "
                        f"({size} bytes): not a safetensors file, or truncated")
    if n > MAX_HEADER:
        raise SpecError(f"{file.label}: the header length {n:,} is over the safetensors "
                        f"format's own limit of {MAX_HEADER:,} bytes (100 MiB), which the "
                        "safetensors library refuses too: not a safetensors file")
    current().check("read_bytes", n, f"{file.label}: its JSON header")
    raw = file.read(8, n)
    if len(raw) < n:
        raise SpecError(f"{file.label}: truncated: the header needs {n} bytes, {len(raw)} read")
    return _parse(file.label, raw), size - 8 - n, size


def _parse(path: str, raw: bytes) -> dict[str, Any]:
    try:
        doc = _loads(path, raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(f"{path}: the header is not UTF-8 text: not a safetensors file") from None
    except json.JSONDecodeError as err:
        raise SpecError(f"{path}: the header is not valid JSON ({err.msg} at byte "
                        f"{err.pos})") from None
    except RecursionError:
        raise SpecError(f"{path}: the header's JSON is nested too deeply") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{path}: the header must be a JSON object, got {type(doc).__name__}")
    meta = doc.get("__metadata__")
    if meta is not None and not isinstance(meta, dict):
        raise SpecError(f"{path}: __metadata__ must be an object of strings")
    return doc


#: a key's closing quote apart from its colon (JSON allows spaces between them)
_SPACED_KEY = re.compile(r'"[ \t\n\r]+:')


def _loads(path: str, text: str) -> Any:
    """The header, every object's keys unique (a name given twice is refused: which of the
    two would be the tensor?).

    Plain ``json.loads`` keeps the last of two equal keys. In text with no backslash every
    quote delimits a string, so each key ends in a quote and a colon: as many of those as
    keys kept in the header and its entries means no key was dropped (keys deeper down, in a
    malformed entry, are not tallied: the text is then parsed again, every pair seen, several
    times slower at 100,000 tensors).
    """
    doc = json.loads(text)
    if isinstance(doc, dict) and "\\" not in text and _SPACED_KEY.search(text) is None:
        kept = len(doc) + sum(len(v) for v in doc.values() if type(v) is dict)
        if kept == text.count('":'):
            return doc

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise SpecError(f"{path}: the header names {quote(key)} twice")
            out[key] = value
        return out

    return json.loads(text, object_pairs_hook=unique)


def _tensor(path: str, name: str, entry: Any, data_size: int) -> Tensor:
    # the checks first, the message (a bounded quote of the name) only for a tensor refused
    if not isinstance(entry, dict):
        raise SpecError(f"{_where(path, name)}: expected an object with dtype, shape and "
                        "data_offsets")
    dtype = entry.get("dtype")
    if dtype not in DTYPES:
        raise SpecError(f"{_where(path, name)}: unknown dtype {quote(dtype)} (known: "
                        f"{', '.join(DTYPES)})")
    shape = entry.get("shape")
    shape = fast_shape(shape) or check_shape(shape, _where(path, name))
    offsets = entry.get("data_offsets")
    if not (type(offsets) is list and len(offsets) == 2  # bool is not an offset
            and type(offsets[0]) is int and type(offsets[1]) is int):
        raise SpecError(f"{_where(path, name)}: data_offsets must be two integers "
                        "[begin, end]")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise SpecError(f"{_where(path, name)}: data_offsets [{begin}, {end}] point outside "
                        f"the {data_size} bytes of data in the file")
    canonical, bits = DTYPES[dtype]
    numel = 1
    for d in shape:
        numel *= d
    if numel * bits != (end - begin) * 8:
        raise SpecError(f"{_where(path, name)}: holds {end - begin} bytes, but shape "
                        f"{list(shape)} of {dtype} needs {numel * bits / 8:g}")
    key = (path, begin, end) if end > begin else None
    return Tensor(name, shape, canonical, end - begin, key, is_torch_buffer(name))


def _where(path: str, name: str) -> str:
    return f"{path}: tensor {quote(name)}"
