"""Zip archives (``.pt``, ``.npz``, ``.keras``) read as data: the directory is checked before
any member is decompressed, and a member is read with a cap.

paramcount reads few members of an archive (a PyTorch pickle, the headers of ``.npy`` arrays, a
Keras config) and never the weights, so a zip bomb meets these checks first:

- every entry is stored or deflated: zipfile inflates bzip2 and LZMA members without a bound
  on the output of each step, so a few hundred bytes of them can become gigabytes;
- every entry's compressed bytes lie inside the archive, and a stored entry declares the size
  it stores;
- a deflated entry declares at most :data:`MAX_RATIO` times its compressed size (deflate
  cannot do better than about 1032:1: more is a lie); zipfile then stops reading a member at its
  declared size, so what a member inflates to is bounded by the file's own size;
- at most :data:`MAX_MEMBERS` entries.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from paramcount.errors import SpecError
from paramcount.sources.regular import open_regular

MAX_MEMBERS = 2**20
#: declared size / compressed size of a deflated entry, beyond what deflate can reach
MAX_RATIO = 1100
_READ_STEP = 2**20
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


@contextmanager
def open_zip(path: Path, what: str) -> Iterator[zipfile.ZipFile]:
    """The archive at ``path`` (a regular file), its directory checked; ``what`` names the
    kind of archive in errors (``a .npz archive``)."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            archive = zipfile.ZipFile(f)
        except Exception as err:  # zipfile raises many types on a damaged archive
            raise SpecError(f"{path}: not {what} ({type(err).__name__}: {str(err)[:100]})"
                            ) from None
        with archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise SpecError(f"{path}: {len(infos)} members, more than {MAX_MEMBERS}; "
                                "refused")
            for info in infos:
                check_member(info, size, path)
            yield archive


def check_member(info: zipfile.ZipInfo, size: int, path: Path) -> None:
    """One line unless the entry ``info`` of an archive of ``size`` bytes is plausible (see
    the module's docstring)."""
    where = f"{path}: member {info.filename[:100]!r}"
    if info.compress_type not in _METHODS:
        raise SpecError(f"{where} is compressed with method {info.compress_type}; only "
                        "stored and deflated members are read")
    if info.header_offset + info.compress_size > size:
        raise SpecError(f"{where} declares {info.compress_size} compressed bytes at offset "
                        f"{info.header_offset}, past the end of the {size}-byte file")
    stored = info.compress_type == zipfile.ZIP_STORED
    if (stored and info.file_size != info.compress_size) or (
            info.file_size > MAX_RATIO * info.compress_size + 1024):
        raise SpecError(f"{where} declares {info.file_size} bytes from {info.compress_size} "
                        f"{_METHODS[info.compress_type]}: more than its bytes can hold (a zip "
                        "bomb?); refused")


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, path: Path) -> bytes:
    """A member's bytes, refused beyond ``cap`` (its declared size is checked first, then
    what is read)."""
    if info.file_size > cap:
        raise SpecError(f"{path}: member {info.filename[:100]!r} is {info.file_size} bytes, "
                        f"more than the {cap} read from it")
    chunks, total = [], 0
    with archive.open(info) as f:
        while total <= min(info.file_size, cap):
            chunk = f.read(_READ_STEP)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total > cap:
        raise SpecError(f"{path}: member {info.filename[:100]!r} holds more than {cap} bytes")
    return b"".join(chunks)
