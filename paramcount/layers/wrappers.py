"""Wrappers: a layer around another layer, given by the argument ``layer``.

``Bidirectional`` runs a copy of a recurrent layer forwards and another backwards;
``TimeDistributed`` applies any layer to every step of the first axis with one set of weights.
The wrapped layer is built with the wrapper's framework and checked as strictly; an error in it
names both ("Bidirectional (wrapped LSTM): ...").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from paramcount.errors import ParamcountError, ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.layers.base import (
    KERAS,
    Built,
    Formula,
    Layer,
    Weight,
    lookup,
    make_layer,
    register,
)
from paramcount.layers.spatial import elements
from paramcount.shapes import Shape, fmt_shape


def inner_layer_spec(value: Any, owner: str) -> tuple[str, dict[str, Any]]:
    """Read a wrapped layer: ``"LSTM"``, ``{"LSTM": {"units": 4}}``, ``{"LSTM": 4}`` or Keras's
    serialized ``{"class_name": "LSTM", "config": {...}}``.

    >>> inner_layer_spec({"LSTM": 4}, "Bidirectional")
    ('LSTM', {'units': 4})
    """
    if isinstance(value, str):
        return value, {}
    if isinstance(value, Mapping) and isinstance(value.get("class_name"), str):
        config = value.get("config") or {}
        if isinstance(config, Mapping):
            return value["class_name"], dict(config)
    elif isinstance(value, Mapping) and len(value) == 1:
        ((name, config),) = value.items()
        if isinstance(name, str):
            return name, _positional(name, config, owner)
    raise SpecError(f"{owner}: layer={value!r} is invalid; expected a layer name or a one-key "
                    "mapping such as {'LSTM': {'units': 4}}")


def _positional(name: str, config: Any, owner: str) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    cls, _ = lookup(name)
    values = list(config) if isinstance(config, list | tuple) else [config]
    if len(values) > len(cls.positional):
        raise SpecError(f"{owner}: {name} takes at most {len(cls.positional)} bare values "
                        f"({', '.join(cls.positional) or 'none'}), got {config!r}")
    return dict(zip(cls.positional, values, strict=False))


class _Wrapper(Layer):
    """A layer around another layer, given by the argument ``layer`` and built with the same
    framework."""

    def __init__(self, config: Mapping[str, Any] | None = None, framework: str = KERAS,
                 strict: bool = True, label: str | None = None) -> None:
        self.strict = strict  # the wrapped layer's arguments are checked as strictly
        super().__init__(config, framework, strict, label)

    def configure(self, a: Args) -> None:
        name, config = inner_layer_spec(a.get("layer"), self.label)
        try:
            self.inner = make_layer(name, config, self.framework, self.strict)
        except SpecError as err:
            raise err.within(f"{self.label} (wrapped layer)") from None

    def build_inner(self, inputs: Sequence[Shape], inner_input: Shape | None = None) -> Built:
        if len(inputs) != 1:
            raise ShapeError(f"{self.label} takes one input, got {len(inputs)}")
        x = inputs[0] if inner_input is None else inner_input
        try:
            return self.inner.build_checked([x])
        except ParamcountError as err:
            raise err.within(f"{self.label} (wrapped {self.inner.label})") from None

    def describe(self) -> str:
        return f"{self.label}({self.inner.describe()})"

    def inner_macs(self, x: Shape) -> int | None:
        """The wrapped layer's MACs on ``x``; None when it has no formula."""
        try:
            return self.inner.macs(x)
        except ParamcountError as err:
            raise err.within(f"{self.label} (wrapped {self.inner.label})") from None


@register("Bidirectional")
class Bidirectional(_Wrapper):
    """Runs a copy of ``layer`` forwards and another backwards; ``merge_mode`` joins them."""

    positional = ("layer", "merge_mode")

    def configure(self, a: Args) -> None:
        super().configure(a)
        mode = a.get("merge_mode", default="concat")
        self.merge_mode: str | None = None if mode is None else a.str(
            "merge_mode", default="concat", choices=("concat", "sum", "mul", "ave"))
        if a.get("backward_layer", default=None) is not None:
            raise SpecError(f"{self.label}: backward_layer is not supported; the backward "
                            "layer is built as a copy of `layer`")

    def build(self, inputs: Sequence[Shape]) -> Built:
        inner = self.build_inner(inputs)
        weights = tuple(Weight(f"{side}_layer.{w.name}", w.shape, w.trainable, w.buffer)
                        for side in ("forward", "backward") for w in inner.weights)
        out = inner.output_shape
        if self.merge_mode == "concat" and out and out[-1] is not None:
            out = (*out[:-1], 2 * out[-1])
        formula = None if inner.formula is None else Formula(
            f"2·({inner.formula.symbolic})", f"2·({inner.formula.numeric})")
        notes = tuple(f"Per direction: {note}" for note in inner.notes)
        if self.merge_mode is None:
            notes += ("merge_mode=None returns the two directions as two outputs of this shape",)
        return Built(weights, out, formula, notes)

    def macs(self, x: Shape) -> int | None:
        """Both directions: twice the wrapped layer's (the merge costs nothing)."""
        m = self.inner_macs(x)
        return None if m is None else 2 * m

    def macs_formula(self, x: Shape) -> Formula | None:
        inner = self.inner.macs_formula(x)
        return None if inner is None else Formula(f"2 × ({inner.symbolic})",
                                                  f"2 × ({inner.numeric})")


@register("TimeDistributed")
class TimeDistributed(_Wrapper):
    """Applies ``layer`` to every step of the first (time) axis with one set of weights."""

    positional = ("layer",)

    def timed(self, x: Shape) -> Shape:
        if len(x) < 2:
            raise ShapeError(f"{self.label} expects an input with a time axis and at least "
                             f"one more (rank >= 2, batch excluded), got shape {fmt_shape(x)}")
        return x

    def build(self, inputs: Sequence[Shape]) -> Built:
        x = self.timed(inputs[0] if inputs else ())
        inner = self.build_inner(inputs, x[1:])
        return Built(inner.weights, (x[0], *inner.output_shape), inner.formula, inner.notes)

    def macs(self, x: Shape) -> int | None:
        """The wrapped layer once per step of the first axis."""
        m = self.inner_macs(self.timed(x)[1:])
        return None if m is None else elements(self, x[:1]) * m

    def macs_formula(self, x: Shape) -> Formula | None:
        inner = self.inner.macs_formula(self.timed(x)[1:])
        return None if inner is None else Formula(f"steps × ({inner.symbolic})",
                                                  f"{x[0]} × ({inner.numeric})")
