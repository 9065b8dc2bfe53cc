"""Files as the header readers see them: a name, a size and byte ranges, wherever the bytes are.

A local file and a file of a remote repo (:mod:`paramcount.sources.remote`) both read only the
ranges a reader asks for, so the same safetensors and GGUF header readers serve both; every
read is bounded by the file's size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

from paramcount.errors import SpecError
from paramcount.sources.regular import boundary, inside, is_regular, open_regular, size_of


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
    #: reads that skip far ahead (an ONNX graph around its tensors' bytes): the kernel is told
    #: not to read ahead, so the bytes skipped are not read from the disk either
    skips: bool = False

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return str(self.path)

    def size(self) -> int:
        return size_of(self.path)

    def read(self, start: int, length: int) -> bytes:
        try:
            with open_regular(self.path) as f:
                if self.skips and hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
                f.seek(start)
                return f.read(length)
        except OSError as err:
            raise SpecError(f"{self.path}: cannot read ({err.strerror})") from None


class Tree(Protocol):
    """The files of a folder or a repo: their names (relative paths with ``/``) and bytes."""

    @property
    def label(self) -> str:
        """How messages name the whole: a folder's path, ``hf://ORG/NAME@REVISION``."""
        ...

    def files(self) -> list[str]:
        """Every file's relative path, sorted; hidden ones left out."""
        ...

    def open(self, name: str, ahead: int = 0) -> Blob:
        """A file of the tree; ``ahead``: bytes its first read from the start should fetch at
        least, when a request costs a round trip (a header's length and the header at once)."""
        ...

    def local(self, name: str) -> Path | None:
        """The file on this machine, for the readers that need a path; None for a remote
        file, which only the header readers (safetensors, GGUF, JSON) read."""
        ...


@dataclass(frozen=True)
class LocalTree:
    """A folder and its subfolders down to ``depth`` levels (hidden and ``__`` ones skipped).

    Only regular files are listed, and only what lies inside the folder: a link (to a file or
    a subfolder) that resolves outside it is not followed, and a subfolder reached twice (a
    link to itself or an ancestor) is walked once. A Hugging Face cache snapshot's links into
    its repo's ``blobs/`` stay inside (:func:`~paramcount.sources.regular.boundary`).
    """

    folder: Path
    depth: int = 3

    @property
    def label(self) -> str:
        return str(self.folder)

    def files(self) -> list[str]:
        return list(self._files)

    @cached_property
    def _files(self) -> tuple[str, ...]:
        out: list[str] = []
        root = boundary(self.folder)
        self._walk(self.folder, "", 0, out, (root, set()))
        return tuple(out)

    def _walk(self, folder: Path, prefix: str, level: int, out: list[str],
              seen: tuple[str, set[tuple[int, int]]]) -> None:
        root, visited = seen
        try:
            st = os.stat(folder)
            entries = sorted(folder.iterdir())
        except OSError as err:
            raise SpecError(f"{folder}: cannot list ({err.strerror})") from None
        if (st.st_dev, st.st_ino) in visited:
            return  # a loop of links: this folder is listed already
        visited.add((st.st_dev, st.st_ino))
        kept = [p for p in entries if not p.name.startswith(".") and inside(p, root)]
        out += [prefix + p.name for p in kept if is_regular(p)]
        if level < self.depth:
            for sub in kept:
                if not sub.name.startswith("__") and sub.is_dir():
                    self._walk(sub, f"{prefix}{sub.name}/", level + 1, out, seen)

    def open(self, name: str, ahead: int = 0) -> Blob:
        return LocalFile(self.folder / name)  # a local read costs no round trip: no ahead

    def local(self, name: str) -> Path | None:
        return self.folder / name
