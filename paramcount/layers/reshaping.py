"""Zero-parameter layers that change shapes: Flatten, Reshape, Permute, RepeatVector, Cropping,
ZeroPadding, UpSampling; PyTorch's Unflatten, Upsample and padding modules.

Keras's ``Flatten`` shares its name with PyTorch's: one class serves both, reading either
framework's arguments. PyTorch's resizing and padding modules are registered as PyTorch names and
take channels-first inputs. ``Lambda`` is deliberately not registered: its shape is unknowable.

All of them cost 0 MACs: they move, copy, pad or (Upsample, UpSampling2D) interpolate values,
with no matrix product (torch.utils.flop_counter counts none).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, cast

from paramcount.errors import ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.layers.base import Layer, register
from paramcount.layers.spatial import DATA_FORMATS, Spatial
from paramcount.shapes import Dim, Shape, fmt_shape, known, scaled_length

# -- reshaping ----------------------------------------------------------------------------------

def _batch_axis_index(layer: Layer, value: int, x: Shape, name: str) -> int:
    """A PyTorch dim, counted with the batch as dim 0, as an index into the full shape."""
    rank = len(x) + 1
    if not -rank <= value < rank:
        raise ShapeError(f"{layer.label}: {name}={value} is out of range for an input of "
                         f"rank {rank} (batch included), {fmt_shape(x)}")
    index = value % rank
    if index == 0:
        raise ShapeError(f"{layer.label}: {name}={value} names the batch dimension, which "
                         "input shapes here leave out")
    return index


def _target(a: Args, name: str) -> tuple[int, ...]:
    """A target shape: non-negative ints and at most one -1 (inferred)."""
    value = a.get(name)
    ok = isinstance(value, list | tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= -1 for v in value)
    if not ok or list(value).count(-1) > 1:
        raise a.invalid((name,), value, "a list of sizes with at most one -1")
    return tuple(value)


def _fill(layer: Layer, target: tuple[int, ...], dims: Shape) -> Shape:
    """``target`` with its -1 inferred from the ``dims`` it replaces (None when unknown)."""
    total = known(dims)
    if total is None:
        return tuple(None if t == -1 else t for t in target)
    rest = math.prod(t for t in target if t != -1)
    fits = rest == total if -1 not in target else rest != 0 and total % rest == 0
    if not fits:
        raise ShapeError(f"{layer.label} cannot arrange the {total} values of "
                         f"{fmt_shape(dims, batch=False)} as {fmt_shape(target, batch=False)}")
    return tuple(total // rest if t == -1 else t for t in target)


@register("Flatten")
class Flatten(Layer):
    """Keras ``Flatten()`` (every axis but the batch) and PyTorch ``nn.Flatten(start_dim=1,
    end_dim=-1)``, whose dims count the batch as dim 0."""

    torch_args = frozenset({"start_dim", "end_dim"})

    def configure(self, a: Args) -> None:
        a.str("data_format", default=None, choices=DATA_FORMATS)  # changes the order only
        self.start: int = a.int("start_dim", default=1)
        self.end: int = a.int("end_dim", default=-1)

    def output_shape(self, x: Shape) -> Shape:
        if not x and not self.torch:
            return (1,)  # Keras turns a batch of scalars into one feature each
        start = _batch_axis_index(self, self.start, x, "start_dim")
        end = _batch_axis_index(self, self.end, x, "end_dim")
        if start > end:
            raise ShapeError(f"{self.label}: start_dim={self.start} comes after "
                             f"end_dim={self.end} for the input {fmt_shape(x)}")
        return (*x[:start - 1], known(x[start - 1:end]), *x[end:])

    def macs(self, x: Shape) -> int:
        return 0  # moves or copies values


@register("Reshape")
class Reshape(Layer):
    """Keras ``Reshape(target_shape)``, batch excluded; one entry may be -1 (inferred)."""

    def configure(self, a: Args) -> None:
        self.target = _target(a, "target_shape")

    def output_shape(self, x: Shape) -> Shape:
        return _fill(self, self.target, x)

    def macs(self, x: Shape) -> int:
        return 0  # moves or copies values


@register(torch=("Unflatten",))
class Unflatten(Layer):
    """PyTorch ``nn.Unflatten(dim, unflattened_size)``; ``dim`` counts the batch as dim 0."""

    def configure(self, a: Args) -> None:
        self.dim: int = a.int("dim")
        self.sizes = _target(a, "unflattened_size")

    def output_shape(self, x: Shape) -> Shape:
        axis = _batch_axis_index(self, self.dim, x, "dim") - 1
        return (*x[:axis], *_fill(self, self.sizes, x[axis:axis + 1]), *x[axis + 1:])

    def macs(self, x: Shape) -> int:
        return 0  # moves or copies values


@register("Permute")
class Permute(Layer):
    """Keras ``Permute(dims)``: dims number the axes from 1, the batch being axis 0."""

    def configure(self, a: Args) -> None:
        dims = a.get("dims")
        if not isinstance(dims, list | tuple) or sorted(dims) != list(range(1, len(dims) + 1)):
            raise a.invalid(("dims",), dims, "a permutation of 1..n (the batch is axis 0)")
        self.dims: tuple[int, ...] = tuple(dims)

    def output_shape(self, x: Shape) -> Shape:
        self.rank(x, len(self.dims))
        return tuple(x[d - 1] for d in self.dims)

    def macs(self, x: Shape) -> int:
        return 0  # moves or copies values


@register("RepeatVector")
class RepeatVector(Layer):
    """Keras ``RepeatVector(n)``: ``(features,)`` -> ``(n, features)``."""

    positional = ("n",)

    def configure(self, a: Args) -> None:
        self.n: int = a.int("n", min=1)

    def output_shape(self, x: Shape) -> Shape:
        self.rank(x, 1)
        return (self.n, x[0])

    def macs(self, x: Shape) -> int:
        return 0  # moves or copies values


# -- cropping, padding and upsampling of spatial axes -------------------------------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _margins(a: Args, name: str, n: int, default: Any) -> tuple[tuple[int, int], ...]:
    """Keras's forms of cropping and padding: an int, or per axis an int (both sides) or a
    ``(before, after)`` pair; with one axis, an int or one pair."""
    value = a.get(name, default=default)
    per_axis = [value] * n if _is_int(value) else [value] if n == 1 else value
    pairs = [(v, v) if _is_int(v) else v for v in per_axis] \
        if isinstance(per_axis, list | tuple) and len(per_axis) == n else None
    if pairs is None or not all(isinstance(p, list | tuple) and len(p) == 2 and all(
            _is_int(q) and q >= 0 for q in p) for p in pairs):
        raise a.invalid((name,), value, f"an integer >= 0, or for each of {n} axes an "
                       "integer or a (before, after) pair")
    return tuple((p[0], p[1]) for p in pairs)


class Margins(Spatial):
    """Keras ``Cropping2D(cropping)`` (``sign`` -1) and ``ZeroPadding2D(padding)`` (+1)."""

    sign: ClassVar[int] = 1
    default: ClassVar[Any] = 1

    def configure(self, a: Args) -> None:
        self.margins = _margins(a, self.positional[0], self.dims, self.default)
        self.read_data_format(a)

    def output_shape(self, x: Shape) -> Shape:
        channels, spatial = self.split(x)
        out: list[Dim] = []
        for d, (before, after) in zip(spatial, self.margins, strict=True):
            size = None if d is None else d + self.sign * (before + after)
            if size is not None and size <= 0:
                raise ShapeError(f"{self.label}: cropping ({before}, {after}) leaves nothing "
                                 f"of an axis of length {d} in the input {fmt_shape(x)}")
            out.append(size)
        return self.join(channels, tuple(out))

    def macs(self, x: Shape) -> int:
        return 0  # crops or pads


@register("Cropping1D")
class Cropping1D(Margins):
    dims, sign, positional = 1, -1, ("cropping",)


@register("Cropping2D")
class Cropping2D(Margins):
    dims, sign, default, positional = 2, -1, 0, ("cropping",)


@register("Cropping3D")
class Cropping3D(Margins):
    dims, sign, positional = 3, -1, ("cropping",)


@register("ZeroPadding1D")
class ZeroPadding1D(Margins):
    dims, positional = 1, ("padding",)


@register("ZeroPadding2D")
class ZeroPadding2D(Margins):
    dims, positional = 2, ("padding",)


@register("ZeroPadding3D")
class ZeroPadding3D(Margins):
    dims, positional = 3, ("padding",)


class UpSampling(Spatial):
    """Keras ``UpSampling2D(size)``: each spatial axis repeated ``size`` times."""

    positional = ("size",)

    def configure(self, a: Args) -> None:
        self.size: tuple[int, ...] = a.ints("size", n=self.dims, default=2)
        if self.dims == 2:
            a.str("interpolation", default="nearest")  # changes values, not the shape
        self.read_data_format(a)

    def output_shape(self, x: Shape) -> Shape:
        channels, spatial = self.split(x)
        return self.join(channels, tuple(
            None if d is None else d * s for d, s in zip(spatial, self.size, strict=True)))

    def macs(self, x: Shape) -> int:
        return 0  # copies or interpolates values


@register("UpSampling1D")
class UpSampling1D(UpSampling):
    dims = 1


@register("UpSampling2D")
class UpSampling2D(UpSampling):
    dims = 2


@register("UpSampling3D")
class UpSampling3D(UpSampling):
    dims = 3


# -- PyTorch's resizing and padding modules (channels-first, whatever the framework) ------------

# Interpolation modes of nn.Upsample and the number of spatial axes each needs (0: any).
_MODES = {"nearest": 0, "nearest-exact": 0, "area": 0, "linear": 1, "bilinear": 2,
          "bicubic": 2, "trilinear": 3}


@register(torch=("Upsample",))
class Upsample(Layer):
    """PyTorch ``nn.Upsample(size | scale_factor, mode)`` on ``(C, *spatial)``; a scaled size is
    ``floor(size × scale_factor)``."""

    fixed_mode: ClassVar[str | None] = None  # UpsamplingNearest2d, UpsamplingBilinear2d

    def configure(self, a: Args) -> None:
        self.size = a.get("size", default=None)
        self.scale = a.get("scale_factor", default=None)
        if (self.size is None) == (self.scale is None):
            raise SpecError(f"{self.label} needs exactly one of size and scale_factor")
        self.mode: str = self.fixed_mode or "nearest"
        if self.fixed_mode is None:
            self.mode = a.str("mode", default="nearest", choices=tuple(_MODES))
            corners = a.get("align_corners", default=None)
            if corners is not None and _MODES[self.mode] == 0:
                raise SpecError(f"{self.label}: align_corners is only for the interpolating "
                                f"modes, not mode={self.mode!r}")
            a.get("recompute_scale_factor", default=None)

    def output_shape(self, x: Shape) -> Shape:
        n = len(x) - 1
        need = _MODES[self.mode]
        if n not in (1, 2, 3) or need not in (0, n):
            want = "(C, L), (C, H, W) or (C, D, H, W)" if not need else f"{need} spatial axes"
            raise ShapeError(f"{self.label} (mode {self.mode!r}) expects {want}, got the "
                             f"input {fmt_shape(x)}")
        given = self.size if self.size is not None else self.scale
        items = list(given) if isinstance(given, list | tuple) else [given] * n
        ok = len(items) == n and all(isinstance(v, int | float) and v > 0 for v in items)
        if not ok or (self.size is not None and not all(_is_int(v) for v in items)):
            what = "size" if self.size is not None else "scale_factor"
            raise ShapeError(f"{self.label}: {what}={given!r} does not give a positive "
                             f"value for each of the {n} spatial axes of {fmt_shape(x)}")
        out = tuple(items) if self.size is not None else tuple(
            scaled_length(d, f) for d, f in zip(x[1:], items, strict=True))
        if any(d == 0 for d in out):
            raise ShapeError(f"{self.label}: scale_factor={given!r} leaves an empty axis "
                             f"for the input {fmt_shape(x)}")
        return (x[0], *out)

    def macs(self, x: Shape) -> int:
        return 0  # copies or interpolates values


@register(torch=("UpsamplingNearest2d",))
class UpsamplingNearest2d(Upsample):
    fixed_mode = "nearest"


@register(torch=("UpsamplingBilinear2d",))
class UpsamplingBilinear2d(Upsample):
    fixed_mode = "bilinear"


class TorchPad(Layer):
    """PyTorch ``nn.ZeroPad2d(padding)`` and its cousins: the last ``dims`` axes grow by
    ``(left, right, top, bottom, front, back)``, last axis first; negative amounts crop."""

    dims: ClassVar[int] = 2
    mode: ClassVar[str] = "zeros"
    positional = ("padding",)

    def configure(self, a: Args) -> None:
        self.pads: tuple[int, ...] = a.ints("padding", n=2 * self.dims, min=None)
        if self.mode == "constant":
            a.float("value")

    def output_shape(self, x: Shape) -> Shape:
        ranks = (self.dims, self.dims + 1)
        if len(x) < self.dims or (self.mode not in ("zeros", "constant") and len(x) not in ranks):
            raise ShapeError(f"{self.label} pads the last {self.dims} axes of an input of "
                             f"rank {' or '.join(map(str, ranks))}, got {fmt_shape(x)}")
        out = list(x)
        for i in range(self.dims):
            out[-1 - i] = self._pad(x[-1 - i], self.pads[2 * i], self.pads[2 * i + 1], x)
        return tuple(out)

    def _pad(self, d: Dim, before: int, after: int, x: Shape) -> Dim:
        if d is None:
            return None
        size = d + before + after
        reflect, circular = self.mode == "reflect", self.mode == "circular"
        if size < (0 if self.mode in ("zeros", "constant") else 1) or (
                reflect and max(before, after) >= d) or (circular and max(before, after) > d):
            raise ShapeError(f"{self.label}: padding ({before}, {after}) does not fit an "
                             f"axis of length {d} in the input {fmt_shape(x)}")
        return size

    def macs(self, x: Shape) -> int:
        return 0  # pads


_PAD_MODES = {"ZeroPad": "zeros", "ConstantPad": "constant", "ReflectionPad": "reflect",
              "ReplicationPad": "replicate", "CircularPad": "circular"}
for _prefix, _mode in _PAD_MODES.items():
    for _dims in (1, 2, 3):
        _name = f"{_prefix}{_dims}d"
        register(torch=(_name,))(cast(type[Layer], type(_name, (TorchPad,), {
            "dims": _dims, "mode": _mode, "__module__": __name__,
            "__doc__": f"PyTorch ``nn.{_name}(padding)``: {_mode} padding of the last "
                       f"{_dims} axes."})))
