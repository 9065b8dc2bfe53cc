"""Bytes per parameter of training's model states: weights, gradients, optimizer states.

The ZeRO paper (Rajbhandari et al., 2020, section 3.1) counts mixed-precision Adam as
``2 + 2 + K`` bytes per parameter: 16-bit weights and gradients, and ``K = 12`` bytes of
optimizer state (an fp32 master copy of the weights, Adam's momentum and variance in fp32).
Frozen parameters keep only their weights: no gradient, no optimizer state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from paramcount.errors import SpecError


@dataclass(frozen=True)
class Precision:
    """Bytes per parameter (and per activation element) of one training precision."""

    name: str
    weights: int
    grads: int
    #: the fp32 master copy of trainable weights kept by mixed precision
    master: int
    #: one optimizer state (Adam's momentum, say) per trainable parameter
    state: int
    #: an activation element
    activation: int
    text: str


PRECISIONS = {p.name: p for p in (
    Precision("fp32", 4, 4, 0, 4, 4, "fp32 weights, gradients, states and activations"),
    Precision("mixed-bf16", 2, 2, 4, 4, 2, "bf16 weights, gradients and activations, fp32 "
              "master weights and optimizer states"),
    Precision("mixed-fp16", 2, 2, 4, 4, 2, "fp16 weights, gradients and activations, fp32 "
              "master weights and optimizer states"),
    Precision("bf16", 2, 2, 0, 2, 2, "pure bf16: weights, gradients, optimizer states and "
              "activations in bf16, no fp32 master copy"),
)}


@dataclass(frozen=True)
class Optimizer:
    """How many states an optimizer keeps per trainable parameter, and in how many bytes
    (``None``: the precision's state size)."""

    name: str
    states: int
    state_bytes: int | None
    text: str


OPTIMIZERS = {o.name: o for o in (
    Optimizer("adamw", 2, None, "AdamW: momentum and variance"),
    Optimizer("adam", 2, None, "Adam: momentum and variance"),
    Optimizer("adam8bit", 2, 1, "8-bit Adam (bitsandbytes): momentum and variance in 1 byte "
              "each, its per-block scales ignored"),
    Optimizer("sgd", 0, None, "SGD without momentum: no state"),
    Optimizer("sgd-momentum", 1, None, "SGD with momentum: one state"),
)}


def precision(name: str) -> Precision:
    """The precision of this name, or a one-line error listing the known ones.

    >>> precision("mixed-bf16").master
    4
    """
    return _lookup(PRECISIONS, name, "precision")


def optimizer(name: str) -> Optimizer:
    """The optimizer of this name, or a one-line error listing the known ones.

    >>> optimizer("sgd-momentum").states
    1
    """
    return _lookup(OPTIMIZERS, name, "optimizer")


T = TypeVar("T")


def _lookup(table: dict[str, T], name: str, what: str) -> T:
    try:
        return table[name.lower()]
    except KeyError:
        raise SpecError(f"unknown {what} {name!r}; expected {_choices(table)}") from None


@dataclass(frozen=True)
class StateBytes:
    """Bytes per parameter of each model state under one precision and optimizer.

    >>> s = StateBytes.of(precision("mixed-bf16"), optimizer("adamw"))
    >>> s.weights, s.grads, s.k, s.weights + s.grads + s.k
    (2, 2, 12, 16)
    >>> s = StateBytes.of(precision("fp32"), optimizer("adamw"))
    >>> s.weights + s.grads + s.k
    16
    """

    weights: int
    grads: int
    master: int
    states: int

    @classmethod
    def of(cls, p: Precision, o: Optimizer) -> StateBytes:
        per_state = p.state if o.state_bytes is None else o.state_bytes
        return cls(p.weights, p.grads, p.master, o.states * per_state)

    @property
    def k(self) -> int:
        """The ZeRO paper's K: optimizer-state bytes per trainable parameter, master copy
        included."""
        return self.master + self.states

    def describe(self) -> str:
        """``"2 (weights) + 2 (gradients) + 12 (K: 4 fp32 master + 8 optimizer) = 16 B"``."""
        master = f"{self.master} fp32 master + " if self.master else ""
        return (f"{self.weights} (weights) + {self.grads} (gradients) + {self.k} (K: {master}"
                f"{self.states} optimizer) = {self.weights + self.grads + self.k} B")


def _choices(table: Mapping[str, object]) -> str:
    names = list(table)
    return ", ".join(names[:-1]) + f" or {names[-1]}"
