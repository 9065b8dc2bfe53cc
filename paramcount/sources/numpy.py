"""NumPy arrays: ``.npy`` (one array) and ``.npz`` (a zip of ``.npy`` arrays), headers only.

An ``.npy`` file is ``\\x93NUMPY``, a version, a header length and a Python dict literal
(``{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }``) read with
:func:`ast.literal_eval` (literals only, no code), then the data, which is never read. An
array of Python objects is pickled data and is refused. numpy need not be installed.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import IO, Any

from paramcount.errors import SpecError
from paramcount.layers.base import KERAS, PYTORCH
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.sources.archives import open_zip
from paramcount.sources.regular import open_regular
from paramcount.sources.tensors import Tensor, check_shape, summarize_tensors

MAGIC = b"\x93NUMPY"
MAX_HEADER = 2**20
#: array-protocol kind and item size -> PyTorch's dtype name
_KINDS = {"f": "float", "i": "int", "u": "uint", "c": "complex"}


def load(path: Path, **options: Any) -> Summary:
    """The source protocol: a ``.npy`` or ``.npz`` file."""
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            zipped = f.read(4) == b"PK\x03\x04"
            if not zipped and path.suffix.lower() != ".npz":
                f.seek(0)
                tensors, kind = [_read_array(f, path.stem, size, str(path))], "NumPy .npy"
        if zipped or path.suffix.lower() == ".npz":
            tensors, kind = _read_npz(path), "NumPy .npz"
    except OSError as err:
        raise SpecError(f"{path}: cannot read ({err.strerror})") from None
    keras_style = any("/" in t.name or ":" in t.name for t in tensors)
    tensors = [_dotted(t) for t in tensors]
    return summarize_tensors(tensors, path.stem, str(path), framework=KERAS if keras_style
                             else PYTORCH, meta={"format": kind, "file_bytes": size})


def _dotted(t: Tensor) -> Tensor:
    # Keras-style keys ("dense/kernel:0") nest like PyTorch's dotted names.
    if "/" not in t.name:
        return t
    return Tensor(t.name.replace("/", "."), t.shape, t.dtype, t.nbytes, t.key)


def _read_npz(path: Path) -> list[Tensor]:
    try:
        with open_zip(path, "a readable .npz archive") as z:
            tensors = []
            for info in z.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                name = info.filename[:-len(".npy")]
                with z.open(info) as f:
                    tensors.append(_read_array(f, name, info.file_size,
                                               f"{path}: array {quote(name)}"))
            return tensors
    except SpecError:
        raise
    except Exception as err:  # zipfile raises many types on a damaged archive
        raise SpecError(f"{path}: not a readable .npz archive ({type(err).__name__}: "
                        f"{str(err)[:100]})") from None


def _read_array(f: IO[bytes], name: str, size: int, where: str) -> Tensor:
    """One array's header from ``f``; ``size`` is what the array's file holds in all."""
    head = f.read(len(MAGIC) + 2)
    if not head.startswith(MAGIC) or len(head) < len(MAGIC) + 2:
        raise SpecError(f"{where}: wrong magic number: not a .npy array")
    major = head[len(MAGIC)]
    if major not in (1, 2, 3):
        raise SpecError(f"{where}: .npy format version {major} is not supported")
    width = 2 if major == 1 else 4
    raw = f.read(width)
    n = int.from_bytes(raw, "little")
    if len(raw) < width or n > MAX_HEADER:
        raise SpecError(f"{where}: truncated or oversized header")
    text = f.read(n)
    if len(text) < n:
        raise SpecError(f"{where}: truncated: the header runs past the end of the file")
    header = _parse(text, major, where)
    dtype, itemsize = _dtype(header.get("descr"), where)
    shape = check_shape(header.get("shape"), f"{where}: shape")
    if not isinstance(header.get("fortran_order"), bool):
        raise SpecError(f"{where}: fortran_order must be True or False")
    numel = 1
    for d in shape:
        numel *= d
    nbytes = numel * itemsize
    end = len(MAGIC) + 2 + width + n + nbytes
    if end > size:
        raise SpecError(f"{where}: truncated: shape {list(shape)} of {dtype} needs {end} bytes, "
                        f"the file holds {size}")
    return Tensor(name, shape, dtype, nbytes)


def _parse(text: bytes, major: int, where: str) -> dict[str, Any]:
    try:
        literal = text.decode("utf-8" if major == 3 else "latin1")
        header = ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise SpecError(f"{where}: the header is not a Python dict literal") from None
    if not isinstance(header, dict):
        raise SpecError(f"{where}: the header is not a Python dict literal")
    return header


def _dtype(descr: Any, where: str) -> tuple[str, int]:
    """An array-protocol type string (``'<f4'``) -> (PyTorch's dtype name, bytes per item)."""
    if not isinstance(descr, str) or not 3 <= len(descr) <= 8 or not (
            descr[2:].isascii() and descr[2:].isdigit()):
        if descr == "|O" or (isinstance(descr, str) and descr[1:2] == "O"):
            raise SpecError(f"{where}: an array of Python objects is pickled data; not read")
        raise SpecError(f"{where}: the dtype {quote(descr)} is not a plain numeric type")
    kind, size = descr[1], int(descr[2:])
    if kind == "b" and size == 1:
        return "bool", 1
    if kind in _KINDS and size in (1, 2, 4, 8, 16):
        return f"{_KINDS[kind]}{size * 8}", size
    if kind == "V" and size > 0:  # bfloat16 and float8 arrays from ml_dtypes
        return f"V{size}", size
    raise SpecError(f"{where}: the dtype {quote(descr)} is not a plain numeric type")
