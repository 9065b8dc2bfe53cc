"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

They take several inputs and own no weights; only their output shapes need care. Axes count the
batch as axis 0, as Keras does, although shapes here leave the batch out. PyTorch has no merge
modules (``torch.add`` and ``torch.cat`` are functions), so these are Keras names only.

MACs: ``Dot`` is a batched matrix product (each output element a dot product over the contracted
axis), counted as torch.utils.flop_counter counts ``bmm``. The element-wise merges and
``Concatenate`` cost 0: no product.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from paramcount.errors import ShapeError
from paramcount.layers.args import Args
from paramcount.layers.base import Built, Formula, Layer, register
from paramcount.layers.spatial import elements
from paramcount.shapes import Dim, Shape, fmt_shape


def _shapes(inputs: Sequence[Shape]) -> str:
    return ", ".join(fmt_shape(x) for x in inputs)


class Merge(Layer):
    """Element-wise merging of inputs that broadcast against each other, as Keras broadcasts:
    shapes aligned on the right, a 1 stretches, an unknown dimension stays unknown."""

    #: how many inputs the layer takes: at least ``min_inputs``, at most ``max_inputs``
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = None

    def check_inputs(self, inputs: Sequence[Shape]) -> None:
        low, high = self.min_inputs, self.max_inputs
        if len(inputs) < low or (high is not None and len(inputs) > high):
            want = f"exactly {low}" if low == high else f"at least {low}"
            raise ShapeError(f"{self.label} merges {want} inputs, got {len(inputs)}: "
                             f"{_shapes(inputs)}")

    def build(self, inputs: Sequence[Shape]) -> Built:
        self.check_inputs(inputs)
        out = inputs[0]
        for x in inputs[1:]:
            out = self._broadcast(out, x)
        return Built((), out)

    def macs_of(self, inputs: Sequence[Shape]) -> int:
        return 0  # element-wise, or (Concatenate) a copy

    def _broadcast(self, a: Shape, b: Shape) -> Shape:
        long, short = (a, b) if len(a) >= len(b) else (b, a)
        head = long[:len(long) - len(short)]
        return (*head, *(self._pair(i, j, a, b)
                         for i, j in zip(long[len(head):], short, strict=True)))

    def _pair(self, i: Dim, j: Dim, a: Shape, b: Shape) -> Dim:
        if i is None or j is None:
            return None
        if i != j and 1 not in (i, j):
            raise ShapeError(f"{self.label} needs inputs of the same shape (or shapes that "
                             f"broadcast); got {fmt_shape(a)} and {fmt_shape(b)}")
        return j if i == 1 else i


@register("Add")
class Add(Merge):
    """Keras ``Add()``: the element-wise sum."""


@register("Subtract")
class Subtract(Merge):
    """Keras ``Subtract()``: the first input minus the second."""

    min_inputs = max_inputs = 2


@register("Multiply")
class Multiply(Merge):
    """Keras ``Multiply()``: the element-wise product."""


@register("Average")
class Average(Merge):
    """Keras ``Average()``: the element-wise mean."""


@register("Maximum")
class Maximum(Merge):
    """Keras ``Maximum()``: the element-wise maximum."""


@register("Minimum")
class Minimum(Merge):
    """Keras ``Minimum()``: the element-wise minimum."""


def _axis_index(layer: Layer, axis: int, rank: int, inputs: Sequence[Shape]) -> int:
    """A Keras axis (the batch is axis 0) as an index into a shape without the batch."""
    if not -rank <= axis < rank:
        raise ShapeError(f"{layer.label}: axis {axis} is out of range for inputs of rank "
                         f"{rank} (batch included): {_shapes(inputs)}")
    if axis % rank == 0:
        raise ShapeError(f"{layer.label}: axis {axis} is the batch axis; merge along a "
                         f"feature axis (1..{rank - 1}, or -1 for the last)")
    return axis % rank - 1


@register("Concatenate")
class Concatenate(Merge):
    """Keras ``Concatenate(axis=-1)``: inputs joined along ``axis``; other axes must match."""

    positional = ("axis",)

    def configure(self, a: Args) -> None:
        self.axis: int = a.int("axis", default=-1)

    def build(self, inputs: Sequence[Shape]) -> Built:
        self.check_inputs(inputs)
        rank = len(inputs[0]) + 1
        if any(len(x) + 1 != rank for x in inputs):
            raise self._mismatch(inputs)
        axis = _axis_index(self, self.axis, rank, inputs)
        for i in range(rank - 1):
            if i != axis and len({x[i] for x in inputs} - {None}) > 1:
                raise self._mismatch(inputs)
        sizes = [x[axis] for x in inputs]
        out = list(inputs[0])  # Keras keeps the first input's other dims, None included
        out[axis] = None if None in sizes else sum(d for d in sizes if d is not None)
        return Built((), tuple(out))

    def _mismatch(self, inputs: Sequence[Shape]) -> ShapeError:
        return ShapeError(f"{self.label} needs inputs of the same shape except along axis "
                          f"{self.axis}; got {_shapes(inputs)}")


@register("Dot")
class Dot(Merge):
    """Keras ``Dot(axes, normalize=False)``: per-sample dot products of two inputs along
    ``axes`` (one int for both, or one axis each); the batch is axis 0."""

    positional = ("axes",)
    min_inputs = max_inputs = 2

    def configure(self, a: Args) -> None:
        axes = a.get("axes")
        if isinstance(axes, list | tuple):
            self.axes: tuple[int, int] = a.ints("axes", n=2, min=None)
        else:
            self.axes = (a.int("axes"),) * 2
        a.bool("normalize", default=False)  # divides by norms: the shape is the same

    def build(self, inputs: Sequence[Shape]) -> Built:
        self.check_inputs(inputs)
        x, y = inputs
        i, j = self._contracted(inputs)
        if x[i] != y[j]:
            raise ShapeError(f"{self.label} needs equal sizes along axes {self.axes}; got "
                             f"{x[i]} and {y[j]} in {fmt_shape(x)} and {fmt_shape(y)}")
        out = (*x[:i], *x[i + 1:], *y[:j], *y[j + 1:])
        return Built((), out or (1,))

    def _contracted(self, inputs: Sequence[Shape]) -> tuple[int, int]:
        """The batch-less index of the contracted axis in each input."""
        i, j = (_axis_index(self, ax, len(s) + 1, inputs)
                for ax, s in zip(self.axes, inputs, strict=True))
        return i, j

    def macs_of(self, inputs: Sequence[Shape]) -> int:
        """Output elements × the contracted length (Keras computes it with a matmul).

        >>> Dot({"axes": (2, 1)}).macs_of([(3, 4), (4, 5)])
        60
        """
        out = self.build(inputs).output_shape
        i, _ = self._contracted(inputs)
        return elements(self, out) * elements(self, inputs[0][i:i + 1])

    def macs_formula_of(self, inputs: Sequence[Shape]) -> Formula:
        """The closed form of :meth:`macs_of` (two inputs, so ``macs_formula`` cannot say it).

        >>> Dot({"axes": (2, 1)}).macs_formula_of([(3, 4), (4, 5)]).numeric
        '3·5 × 4'
        """
        self.macs_of(inputs)  # every size it needs known
        out = self.build(inputs).output_shape
        i, _ = self._contracted(inputs)
        return Formula("output elements × contracted length",
                       f"{'·'.join(map(str, out))} × {inputs[0][i]}")
