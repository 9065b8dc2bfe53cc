"""Errors raised by paramcount.

Every error the library raises on purpose derives from one base class, so a caller (and the CLI)
can catch them all at once::

    ParamcountError
    ├── SpecError    a description is wrong: unknown type, bad argument, bad file
    └── ShapeError   the shapes do not fit: a kernel larger than its input

Inner code says *what* is wrong; the model walker adds *where* (file, layer name and type, input
shape) with :func:`ParamcountError.within`; the CLI prints the message on one line and exits 2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paramcount.quoting import quote


class ParamcountError(Exception):
    """Base class of every error paramcount raises on purpose."""

    def within(self, where: str) -> ParamcountError:
        """Return a copy of this error whose message is prefixed by ``where``."""
        return type(self)(f"{where}: {self}")


class SpecError(ParamcountError, ValueError):
    """A layer, model description or file is invalid."""


class ShapeError(ParamcountError, ValueError):
    """Shapes are inconsistent: the layer cannot be built on this input."""


def check_positive(value: int | None, what: str) -> None:
    """Batches, sequence lengths, depths and GPU counts are positive integers (None: not
    given); anything else is one line naming ``what``.

    >>> check_positive(0, "--batch")
    Traceback (most recent call last):
    ...
    paramcount.errors.SpecError: --batch must be a positive integer, got 0
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise SpecError(f"{what} must be a positive integer, got {quote(value)}")


def refuse_unknown(options: Iterable[str], allowed: Sequence[str], what: str) -> None:
    """One line for the first option ``what`` does not take, with the closest it does.

    >>> try:
    ...     refuse_unknown(["depht"], ["depth", "name"], "summarize() of a pytree")
    ... except SpecError as err:
    ...     print(err)
    summarize() of a pytree has no option 'depht' (did you mean 'depth'?); options: depth, name
    """
    import difflib

    for key in options:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            more = f" (did you mean {quote(hint[0])}?)" if hint else ""
            raise SpecError(f"{what} has no option {quote(key)}{more}; options: "
                            f"{', '.join(allowed)}")


class CheckFailed(Exception):
    """A ``--fail-if-*`` check failed. Not a ParamcountError: the input was fine, and the exit
    status is 1, not 2. ``text`` is the diff to print; ``str(err)`` says which check failed."""

    exit_code = 1
    #: what ``paramcount.cli.main`` prints before the reason on stderr
    heading = "check failed"

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(reason)
        self.text = text
