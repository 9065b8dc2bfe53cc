"""Sizes in bytes, named as the IEC names them: binary units (KiB = 2¹⁰, MiB = 2²⁰, GiB = 2³⁰
bytes) and decimal ones (kB = 10³, MB = 10⁶, GB = 10⁹ bytes).

GPU makers sell memory in binary units but write "GB" (an "80GB" A100 holds 80 GiB); disk
makers and the ZeRO paper write decimal GB; Keras's summary writes "KB" and "MB" for binary
units. paramcount keeps every size as an integer number of bytes and names every unit it shows:
summaries in binary units (``136.04 KiB``), memory estimates in both (``2.00 GiB (2.15 GB)``).

>>> parse_size("80GB"), parse_size("80GiB") == 80 * GIB, parse_size("40")
(80000000000, True, 40000000000)
>>> fmt_binary(139304), fmt_both(2 * GIB)
('136.04 KiB', '2.00 GiB (2.15 GB)')
"""

from __future__ import annotations

import math
import re

from paramcount.errors import SpecError

GIB = 2**30
GB = 10**9
_UNITS = {"": GB, "b": 1, "kb": 10**3, "mb": 10**6, "gb": GB, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": GIB, "tib": 2**40}
_SIZE = r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$"  # compiled on first use


def parse_size(text: str, what: str = "--gpu-memory") -> int:
    """``80GB`` -> 80·10⁹ bytes, ``80GiB`` -> 80·2³⁰, a plain number is in GB.

    >>> parse_size("0.5GiB"), parse_size("1.5 TB")
    (536870912, 1500000000000)
    """
    from fractions import Fraction

    match = re.match(_SIZE, text.lower())
    if match is None or match.group(2) not in _UNITS:
        raise SpecError(f"{what} {text!r}: expected a size such as 80GB, 80GiB or 80 (GB)")
    size = math.ceil(Fraction(match.group(1)) * _UNITS[match.group(2)])
    if size <= 0:
        raise SpecError(f"{what} {text!r}: the size must be positive")
    return size


def fmt_binary(n: float) -> str:
    """Bytes in the largest binary unit under which they are 1 or more, two decimals.

    >>> fmt_binary(0), fmt_binary(1023), fmt_binary(102546848), fmt_binary(3 * 2**40)
    ('0.00 B', '1,023.00 B', '97.80 MiB', '3.00 TiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:,.2f} {unit}"
        n /= 1024
    return f"{n:,.2f} TiB"


def fmt_gib(n: int) -> str:
    """Bytes in GiB with two decimals (binary units)."""
    return f"{n / GIB:,.2f} GiB"


def fmt_gb(n: int) -> str:
    """Bytes in GB with two decimals (decimal units)."""
    return f"{n / GB:,.2f} GB"


def fmt_both(n: int) -> str:
    """Bytes in GiB, then GB in parentheses; under a GiB, in MiB and MB.

    >>> fmt_both(3 * 2**20), fmt_both(0)
    ('3.00 MiB (3.15 MB)', '0 B')
    """
    if n == 0:
        return "0 B"
    if abs(n) < GIB:
        return f"{n / 2**20:,.2f} MiB ({n / 10**6:,.2f} MB)"
    return f"{fmt_gib(n)} ({fmt_gb(n)})"
