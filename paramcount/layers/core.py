"""Core layers: Dense/Linear, EinsumDense, Embedding, PReLU."""

from __future__ import annotations

from paramcount.layers.base import Args, Formula, Layer, Weight, register
from paramcount.shapes import Shape


@register("Dense", torch=("Linear", "LazyLinear"))
class Dense(Layer):
    """A fully connected layer: ``y = x·W + b`` over the last axis."""

    torch_args = frozenset({"in_features", "out_features", "bias"})
    positional = ("units",)

    def configure(self, a: Args) -> None:
        self.units: int = a.int("units", "out_features", min=1)
        self.use_bias: bool = a.bool("use_bias", "bias", default=True)
        self.in_features: int | None = a.int("in_features", default=None, min=1)

    def default_input_shape(self) -> Shape | None:
        return None if self.in_features is None else (self.in_features,)

    def weights(self, x: Shape) -> list[Weight]:
        n_in = self.last_dim(x, expect=self.in_features)
        kernel = Weight("weight", (self.units, n_in)) if self.torch else Weight(
            "kernel", (n_in, self.units))
        return [kernel] + ([Weight("bias", (self.units,))] if self.use_bias else [])

    def output_shape(self, x: Shape) -> Shape:
        return (*x[:-1], self.units)

    def formula(self, x: Shape) -> Formula:
        n_in = self.last_dim(x)
        if self.use_bias:
            return Formula("(inputs + 1) × units", f"({n_in} + 1) × {self.units}")
        return Formula("inputs × units", f"{n_in} × {self.units}")
