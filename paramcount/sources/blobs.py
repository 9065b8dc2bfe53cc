"""Files as the header readers see them: a name, a size and byte ranges, wherever the bytes are.

A local file and a file of a remote repo (:mod:`paramcount.sources.remote`) both read only the
ranges a reader asks for, so the same safetensors and GGUF header readers serve both; every
read is bounded by the file's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from paramcount.errors import SpecError


class Blob(Protocol):
    """A file's bytes, read by range."""

    @property
    def name(self) -> str:
        """The file's name, its last path component."""
        ...

    @property
    def label(self) -> str:
        """How messages name it: a path, or ``hf://ORG/NAME@REVISION/PATH``."""
        ...

    def size(self) -> int: ...

    def read(self, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` (fewer only at the end of the file)."""
        ...


@dataclass(frozen=True)
class LocalFile:
    """A file on this machine.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "x.bin"; _ = p.write_bytes(b"0123456789")
    ...     f = LocalFile(p); (f.name, f.size(), f.read(2, 3))
    ('x.bin', 10, b'234')
    """

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return str(self.path)

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError as err:
            raise SpecError(f"{self.path}: cannot read ({err.strerror})") from None

    def read(self, start: int, length: int) -> bytes:
        try:
            with self.path.open("rb") as f:
                f.seek(start)
                return f.read(length)
        except OSError as err:
            raise SpecError(f"{self.path}: cannot read ({err.strerror})") from None
