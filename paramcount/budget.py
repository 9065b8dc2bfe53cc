"""The budget every reader and builder draws from: bytes, elements, string lengths, nodes,
expression sizes, nesting depth and wall time, each with a documented default and a flag that
raises it.

A hostile input meets the budget, not a guard written for its particular trick: a GGUF header
declaring 150 million keys is refused from the declared count before any loop, a YAML document
whose aliases expand to a billion nodes is refused before it is echoed, a ``${...}`` expression
is refused from its operands' sizes before it is computed. Exceeding a limit is one line that
names the limit and the flag that raises it (:class:`LimitExceeded`, a
:class:`~paramcount.errors.SpecError`: the CLI exits 2).

Repeats are folded, never expanded: a group of identical blocks is built once and counted
``× N`` (``Node.repeat``), so ``repeat: 1000000000000`` costs what one block costs; only what
must really be built, distinct nodes, draws from the node budget.

The budget in force is the one :func:`active` opened (``summarize(..., limits=...)``, the CLI's
``--max-...`` options); outside one, the defaults apply with no deadline.

>>> with active(Limits(nodes=2)):
...     current().draw("nodes", 3, "m")
Traceback (most recent call last):
...
paramcount.budget.LimitExceeded: m: 3 nodes built, over the limit of 2 (--max-nodes raises it)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from typing import Any

from paramcount.errors import SpecError


@dataclass(frozen=True)
class Limit:
    """One row of the budget: its field in :class:`Limits`, flag, default and what it counts."""

    name: str
    flag: str
    default: int
    #: what the number counts, as the error says it ("bytes read from one file")
    unit: str
    #: what it bounds, for ``--help`` and the README
    what: str


#: every limit, the CLI's ``--max-...`` options and the README's table made from these rows
LIMITS: tuple[Limit, ...] = (
    Limit("read_bytes", "--max-read", 64 * 2**20, "bytes read",
          "bytes of a document, header or metadata read from one file"),
    Limit("elements", "--max-elements", 10_000_000, "elements",
          "entries one header, array or document declares or expands to (keys, tensors, "
          "tokens, YAML nodes after aliases)"),
    Limit("string_bytes", "--max-string", 2**20, "bytes",
          "bytes of one string read from a file (a tensor name, a metadata key)"),
    Limit("nodes", "--max-nodes", 1_000_000, "nodes built",
          "distinct layers and blocks built; identical repeated blocks are built once and "
          "counted by multiplication, so they draw one block"),
    Limit("expression", "--max-expression", 1_000, "characters",
          "characters of one ${...} expression"),
    Limit("value_size", "--max-value-size", 4_300, "digits or items",
          "digits of a number, characters of a string and items of a list that an "
          "expression computes, refused from its operands before computing"),
    Limit("depth", "--max-depth", 64, "levels", "nesting of blocks and nested models"),
    Limit("timeout", "--timeout", 60, "seconds", "wall time for one model, checked as it is "
          "read and built"),
)
_BY_NAME = {limit.name: limit for limit in LIMITS}


@dataclass(frozen=True)
class Limits:
    """The numbers of the budget; each field is a row of :data:`LIMITS`.

    >>> Limits().nodes, Limits(timeout=5).timeout
    (1000000, 5)
    """

    read_bytes: int = _BY_NAME["read_bytes"].default
    elements: int = _BY_NAME["elements"].default
    string_bytes: int = _BY_NAME["string_bytes"].default
    nodes: int = _BY_NAME["nodes"].default
    expression: int = _BY_NAME["expression"].default
    value_size: int = _BY_NAME["value_size"].default
    depth: int = _BY_NAME["depth"].default
    timeout: float = _BY_NAME["timeout"].default

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
                    or value != value or value == float("inf"):
                raise SpecError(f"{_BY_NAME[f.name].flag} must be a positive number, got "
                                f"{value!r}")

    @classmethod
    def of(cls, value: Limits | dict[str, Any] | None) -> Limits:
        """``summarize(limits=...)``: a :class:`Limits`, a dict of its fields, or None."""
        if value is None:
            return cls()
        if isinstance(value, Limits):
            return value
        if isinstance(value, dict):
            from paramcount.errors import refuse_unknown

            refuse_unknown(value, list(_BY_NAME), "limits")
            return replace(cls(), **value)
        raise SpecError(f"limits must be a Limits or a dict, got {type(value).__name__}")


class LimitExceeded(SpecError):
    """An input needs more than the budget allows: the message names the limit's flag."""


def exceeded(name: str, value: int, limit: int, what: str) -> LimitExceeded:
    """The one line: what, how much, the limit and the flag that raises it."""
    row = _BY_NAME[name]
    return LimitExceeded(f"{what}: {value:,} {row.unit}, over the limit of {limit:,} "
                         f"({row.flag} raises it)")


class Budget:
    """The limits in force and what has been drawn from them so far, with the deadline."""

    def __init__(self, limits: Limits, deadline: float | None) -> None:
        self.limits = limits
        self.deadline = deadline
        self.drawn: dict[str, int] = {}

    def check(self, name: str, value: int, what: str) -> None:
        """Refuse ``value`` (a declared count, a size) when it is over the limit ``name``."""
        limit = getattr(self.limits, name)
        if value > limit:
            raise exceeded(name, value, limit, what)

    def draw(self, name: str, n: int, what: str) -> None:
        """Take ``n`` more from a limit that adds up (nodes built), refusing past it."""
        total = self.drawn.get(name, 0) + n
        self.drawn[name] = total
        self.check(name, total, what)
        self.tick()

    def tick(self) -> None:
        """Check the deadline; the loops of readers and builders call this."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.deadline = None  # said once
            raise LimitExceeded(f"reading and building the model ran over the limit of "
                                f"{self.limits.timeout:g} seconds of wall time (--timeout "
                                "raises it)")


_CURRENT: ContextVar[Budget | None] = ContextVar("paramcount_budget", default=None)


def current() -> Budget:
    """The budget in force: the one :func:`active` opened, else the defaults (no deadline)."""
    budget = _CURRENT.get()
    return budget if budget is not None else Budget(Limits(), None)


@contextmanager
def active(limits: Limits | None = None) -> Iterator[Budget]:
    """Open a budget for reading one model. Inside one already open (a folder reading its
    files, a scan of many models reading one), a call without ``limits`` shares the open one."""
    outer = _CURRENT.get()
    if limits is None and outer is not None:
        yield outer
        return
    limits = limits or Limits()
    budget = Budget(limits, time.monotonic() + limits.timeout)
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def limits_markdown() -> str:
    """The README's table of limits, made from :data:`LIMITS`."""
    from paramcount.report.text import markdown_table

    rows = [[f"`{row.flag}`", f"{row.default:,}", row.what] for row in LIMITS]
    return "\n".join(markdown_table(["flag", "default", "what it bounds"], rows))
