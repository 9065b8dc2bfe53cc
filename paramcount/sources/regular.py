"""Only regular files, and only inside what was named: how every local reader opens a path.

A path a user names may be anything: a FIFO that blocks the first read forever, a device
(``/dev/zero`` reads without end), a socket, a symlink to any of them under a name that looks
like a model (``x.yaml``). So a reader never calls ``open`` on a user's path itself; it asks
:func:`open_regular`, which

1. stats the path (following a symlink the user named) and refuses anything but a regular file,
   before anything is opened;
2. opens the resolved path with ``O_NOFOLLOW | O_NONBLOCK``: no link swapped in since, and a
   FIFO swapped in cannot block;
3. fstats what it opened and refuses it unless it is the very file of step 1.

:func:`read_regular` reads a whole file with a bound (a description, a config). Folders are
walked by :class:`~paramcount.sources.blobs.LocalTree`, which uses :func:`inside` and
:func:`boundary` to never follow a link out of the named folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from paramcount.errors import SpecError

#: what each non-regular kind of file is called in an error
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
    | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def regular(path: Path | str) -> os.stat_result:
    """The stat of ``path`` (a symlink followed) when it is a regular file; else one line.

    >>> regular("/dev/null")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    paramcount.errors.SpecError: /dev/null: a device, not a regular file; only regular files ...
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except (OSError, ValueError) as err:  # ValueError: a NUL in the name
        raise SpecError(f"{path}: cannot read ({_reason(err)})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = next((k for test, k in _KINDS if test(st.st_mode)), "not a file")
        raise SpecError(f"{path}: {kind}, not a regular file; only regular files are read")
    return st


def open_regular(path: Path | str) -> BinaryIO:
    """``path`` opened for reading in binary, once it is known to be a regular file (the
    module's docstring says how)."""
    st = regular(path)
    try:
        fd = os.open(os.path.realpath(path), _FLAGS)
    except OSError as err:
        raise SpecError(f"{path}: cannot read ({_reason(err)})") from None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise SpecError(f"{path}: changed while it was being opened; not read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path | str, limit: int, what: str = "file") -> bytes:
    """The whole of a regular file of at most ``limit`` bytes (``what`` names it in the error).

    >>> read_regular("/dev/zero", 10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    paramcount.errors.SpecError: /dev/zero: a device, not a regular file; only regular files ...
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise SpecError(f"{path}: {size} bytes is too large for a {what} (at most {limit})")
        data = f.read(size + 1)  # a file that grew since is refused, not read on
    if len(data) > limit:
        raise SpecError(f"{path}: more than {limit} bytes is too large for a {what}")
    return data


def size_of(path: Path | str) -> int:
    """The size of a regular file, in bytes."""
    return regular(path).st_size


def is_regular(path: Path | str) -> bool:
    """Whether ``path`` is a regular file (a symlink followed), without an error."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def inside(path: Path | str, root: str) -> bool:
    """Whether ``path``, every symlink resolved, lies in the folder ``root`` (itself resolved).

    >>> inside("/usr/lib", "/usr"), inside("/usr/../etc", "/usr")
    (True, False)
    """
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def boundary(folder: Path | str) -> str:
    """The folder a walk of ``folder`` stays in, resolved: the folder itself, or, for a
    snapshot of the Hugging Face cache (``models--ORG--NAME/snapshots/COMMIT/...``, whose files
    are links into ``models--ORG--NAME/blobs/``), that cached repo."""
    parts = Path(os.path.abspath(folder)).parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == "snapshots" and parts[i - 1].startswith(("models--", "datasets--",
                                                                 "spaces--")):
            return os.path.realpath(Path(*parts[:i]))
    return os.path.realpath(folder)


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or type(err).__name__
