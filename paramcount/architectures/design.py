"""Design to a budget: every shape number of ``paramcount transformer`` but one given, the one
left (layers, model width or MLP width) that lands the model at a parameter count.

A count grows with each of the three, so a doubling search then a bisection finds the two
values around the target: the largest whose count is at most the target and the smallest
whose count is at least it. Every count is the exact one, from the same builder as
``paramcount transformer`` (a config, built as transformers builds it), never a formula of its
own. The width moves in steps of the head count (a head's width is d_model / heads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from paramcount.errors import SpecError

#: what can be solved for: the keyword of :func:`transformer_config`, and its flag
UNKNOWNS = {"layers": "--layers", "d_model": "--d-model", "ffn": "--ffn"}
#: the largest value searched for each
LIMITS = {"layers": 100_000, "d_model": 1_000_000, "ffn": 10_000_000}
_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}


def parse_count(text: str) -> int:
    """``7B`` -> 7·10⁹ parameters; K, M, B and T suffixes, decimals allowed.

    >>> parse_count("7B"), parse_count("1.5t"), parse_count("125M"), parse_count("1000")
    (7000000000, 1500000000000, 125000000, 1000)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmbt]?)\s*", text.lower())
    if match is None:
        raise SpecError(f"--target-params {text!r}: expected a count such as 7B, 125M or "
                        "1500000")
    value = int(Fraction(match.group(1)) * _SUFFIX[match.group(2)])
    if value < 1:
        raise SpecError(f"--target-params {text!r}: the count must be positive")
    return value


@dataclass(frozen=True)
class Neighbour:
    """One value of the unknown and the exact count it gives."""

    value: int
    params: int


@dataclass(frozen=True)
class Solution:
    """The values on either side of ``target``: ``below`` (count at most the target; None
    when even the smallest value overshoots) and ``above`` (at least; None past the limit)."""

    unknown: str
    target: int
    below: Neighbour | None
    above: Neighbour | None

    @property
    def nearest(self) -> Neighbour:
        """The neighbour whose count is closer to the target (below on a tie)."""
        sides = [n for n in (self.below, self.above) if n is not None]
        return min(sides, key=lambda n: abs(n.params - self.target))


def count(shape: dict[str, Any]) -> int:
    """The exact parameter count of ``paramcount transformer`` with these keyword arguments
    (those of :func:`~paramcount.architectures.custom.transformer_config`)."""
    from paramcount.architectures.custom import transformer_config
    from paramcount.sources.hf import from_dict

    return from_dict(transformer_config(**shape), source="paramcount transformer").total_params


def unknown_of(shape: dict[str, Any]) -> str:
    """The one shape number left out: layers or d_model when either is None, else ffn."""
    missing = [k for k in ("layers", "d_model") if shape.get(k) is None]
    if len(missing) == 2:
        raise SpecError("a target solves for one shape number: give --layers or --d-model")
    if missing:
        return missing[0]
    if shape.get("ffn") is None:
        return "ffn"
    raise SpecError("a target solves for the one shape number left out: omit --layers, "
                    "--d-model or --ffn")


def solve(target: int, shape: dict[str, Any], unknown: str | None = None) -> Solution:
    """The values of ``unknown`` (default: the one :func:`unknown_of` finds) whose exact
    counts bracket ``target``, the other keywords of ``shape`` fixed.

    >>> s = solve(124_439_808, {"layers": None, "d_model": 768, "heads": 12, "vocab": 50257})
    >>> s.below, s.above  # GPT-2 small: 12 layers exactly
    (Neighbour(value=12, params=124439808), Neighbour(value=12, params=124439808))
    """
    unknown = unknown or unknown_of(shape)
    step = shape["heads"] if unknown == "d_model" else 1
    limit = LIMITS[unknown] // step

    def params(n: int) -> int:  # n steps of the unknown
        return count({**shape, unknown: n * step})

    from paramcount.memory.inverse import largest

    seen: dict[int, int] = {}

    def at(n: int) -> int:
        if n not in seen:
            seen[n] = params(n)
        return seen[n]

    low = largest(lambda n: at(n) <= target, limit)
    below = None if low is None else Neighbour(low * step, at(low))
    up = 1 if low is None else low if at(low) == target else low + 1
    above = Neighbour(up * step, at(up)) if up <= limit else None
    return Solution(unknown, target, below, above)


def report(solution: Solution, shape: dict[str, Any]) -> list[str]:
    """The solution in words: the target, then each neighbour with its distance."""
    flag = UNKNOWNS[solution.unknown]
    fixed = ", ".join(_setting(k, v) for k, v in shape.items()
                      if v is not None and v is not False and k != solution.unknown)
    lines = [f"Solving {flag} for {solution.target:,} parameters ({fixed}):"]
    for side, n in (("at most", solution.below), ("at least", solution.above)):
        if n is None:
            limit = LIMITS[solution.unknown]
            lines.append(f"  {side} the target: none with {flag} from 1 to {limit:,}")
            continue
        off = (n.params - solution.target) / solution.target
        mark = "  (nearest)" if n == solution.nearest else ""
        lines.append(f"  {flag} {n.value:,}: {n.params:,} parameters ({off:+.2%}){mark}")
    return lines


def _setting(key: str, value: Any) -> str:
    name = key.replace("_", "-")
    if value is True:
        return name
    return f"{name} {value:,}" if isinstance(value, int) else f"{name} {value}"


def as_dict(solution: Solution) -> dict[str, Any]:
    """The solution for ``--format json``."""
    def side(n: Neighbour | None) -> dict[str, int] | None:
        return None if n is None else {"value": n.value, "params": n.params}

    return {"schema": "paramcount-design/1", "solve_for": solution.unknown,
            "target_params": solution.target, "below": side(solution.below),
            "above": side(solution.above), "nearest": side(solution.nearest)}

