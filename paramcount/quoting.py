"""User input quoted in messages: a bounded slice of it, on one line.

An error that quotes what it was given (a file name, a key, a value from a pickle) must not
become the attack: a value nested a thousand deep, a list of 10^9 references, a 20,000-digit
integer or a name with a newline in it. :func:`quote` gives at most :data:`LIMIT` characters of
a ``repr`` that never walks more than a few levels; :func:`one_line` is what the CLI prints,
escaped and cut to a bounded length whatever a message quoted.
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

LIMIT = 200
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, LIMIT, LIMIT, 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


def quote(value: Any, limit: int = LIMIT) -> str:
    """A bounded ``repr`` of ``value``, at most ``limit`` characters.

    >>> quote("a\\nb"), quote(list(range(100)))
    ("'a\\\\nb'", '[0, 1, 2, 3, 4, 5, 6, 7, ...]')
    >>> quote(10**5000)
    '<an integer of 16610 bits>'
    """
    try:
        text = _REPR.repr(value)
    except ValueError:  # an integer beyond str()'s digit limit
        return f"<an integer of {value.bit_length()} bits>" if isinstance(value, int) \
            else f"<a {type(value).__name__}>"
    except Exception:  # a stand-in whose repr fails: name its type only
        return f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def one_line(text: str, limit: int = 10 * LIMIT) -> str:
    """``text`` with every line break and control character escaped, one line of at most
    ``limit`` characters (the middle cut: a message that quoted its input in full stays short).

    >>> one_line("bad\\nname: error")
    'bad\\\\nname: error'
    >>> len(one_line("x" * 10**6))
    2000
    """
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-(limit - 5 - half):]}"


def decimal(text: str) -> int | None:
    """The integer ``text`` spells in ASCII digits, or None (``'²'.isdigit()`` is True, and
    int() refuses more than 4,300 digits: both are None here, never an exception).

    >>> decimal("12"), decimal("²"), decimal("1" * 5000)
    (12, None, None)
    """
    if not (text.isascii() and text.isdigit()) or len(text) > 4000:
        return None
    return int(text)
