"""Normalization layers: BatchNorm, LayerNorm, GroupNorm, RMSNorm, UnitNorm, InstanceNorm.

Keras names an axis with the batch included (``axis=-1``, ``axis=1`` is the first non-batch
axis) and keeps channels last; PyTorch keeps channels first (axis 0 of the batch-less shape) and
names the normalized trailing dimensions (``normalized_shape``). Keras calls the affine weights
``gamma``/``beta`` and counts BatchNorm's moving statistics as non-trainable parameters; PyTorch
calls them ``weight``/``bias`` and keeps the running statistics as buffers.

Every normalization costs 0 MACs: means, variances and the affine scale and shift are
element-wise and reductions, no matrix product (torch.utils.flop_counter counts none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from paramcount.errors import ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.layers.base import Formula, Layer, Weight, register
from paramcount.shapes import Shape, fmt_shape

_TORCH_NORM_ARGS = frozenset({"num_features", "eps", "affine", "track_running_stats", "bias"})


def _axes_arg(a: Args, layer: str, *names: str, default: Any = -1) -> tuple[int, ...]:
    """A Keras axis argument: one int or a list of ints."""
    value = a.get(*names, default=default)
    axes = [value] if isinstance(value, int) else value
    if not isinstance(axes, list | tuple) or not axes or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in axes):
        raise SpecError(f"{layer}: axis={value!r} is invalid; expected an integer or a list")
    return tuple(axes)


def _shape_arg(a: Args, layer: str, name: str) -> tuple[int, ...] | None:
    """PyTorch's ``normalized_shape``: one int or a list of ints >= 1."""
    value = a.get(name, default=None)
    if value is None:
        return None
    dims = [value] if isinstance(value, int) else value
    if isinstance(value, bool) or not isinstance(dims, list | tuple) or not dims or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims):
        raise SpecError(f"{layer}: {name}={value!r} is invalid; expected an integer >= 1 or a "
                        "list of them")
    return tuple(dims)


class _Norm(Layer):
    """Shared axis arithmetic of the normalization layers."""

    def macs(self, x: Shape) -> int:
        return 0  # no product: see the module docstring

    def keras_axis(self, x: Shape, axis: int) -> int:
        """The batch-less index of Keras's batch-inclusive ``axis``."""
        n = len(x)
        if axis in (0, -(n + 1)):
            raise ShapeError(f"{self.label} cannot normalize over the batch axis "
                             f"(axis={axis}) of input {fmt_shape(x)}")
        if not -(n + 1) <= axis <= n:
            raise ShapeError(f"{self.label}: axis {axis} is out of range for input shape "
                             f"{fmt_shape(x)}")
        return axis - 1 if axis > 0 else n + axis

    def channel_axis(self, x: Shape, axis: int | None) -> int:
        """Batch-less index of the channels: ``axis`` if given, else first (PyTorch) or last."""
        if not x:
            raise ShapeError(f"{self.label} needs an input with channels; got shape "
                             f"{fmt_shape(x)}")
        if axis is not None:
            return self.keras_axis(x, axis)
        return 0 if self.torch else len(x) - 1

    def dim(self, x: Shape, i: int, what: str = "channels") -> int:
        d = x[i]
        if d is None:
            raise ShapeError(f"{self.label} needs a known number of {what} on axis "
                             f"{i + 1}; got shape {fmt_shape(x)}")
        return d

    def axes_shape(self, x: Shape, axes: Sequence[int]) -> tuple[int, ...]:
        """Keras's weight shape for several axes: in the order of the sorted axis values."""
        return tuple(self.dim(x, self.keras_axis(x, a), "features") for a in sorted(axes))

    def trailing(self, x: Shape, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Check that PyTorch's ``normalized_shape`` ends the input."""
        if len(x) < len(shape) or tuple(x[len(x) - len(shape):]) != shape:
            raise ShapeError(f"{self.label} normalized_shape {list(shape)} must end the "
                             f"input shape, got {fmt_shape(x)}")
        return shape


def _sum_formula(weights: Sequence[Weight], symbolic: str) -> Formula | None:
    """``k × size`` when the parameters are ``k`` tensors of one shape."""
    params = [w for w in weights if not w.buffer]
    if not params:
        return None
    shape = "·".join(map(str, params[0].shape)) or "1"
    return Formula(f"{len(params)} × {symbolic}", f"{len(params)} × {shape}")


# -- BatchNorm and InstanceNorm --------------------------------------------------------------

@register("BatchNormalization", torch=("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"))
class BatchNormalization(_Norm):
    """Normalizes each channel with batch statistics, kept as moving averages for inference."""

    torch_args = _TORCH_NORM_ARGS
    positional = ("num_features",)
    torch_positional = ("num_features", "eps", "momentum", "affine", "track_running_stats")
    affine_default = True
    stats_default = True

    def configure(self, a: Args) -> None:
        self.num_features: int | None = a.int("num_features", default=None, min=1)
        self.axis: int | None = a.int("axis", default=None)
        a.get("epsilon", "eps", default=None)
        affine = a.bool("affine", default=self.affine_default if self.torch else True)
        scale, center = a.bool("scale", default=True), a.bool("center", "bias", default=True)
        self.scale: bool = affine and scale
        self.center: bool = affine and center
        self.stats: bool = a.bool("track_running_stats", default=self.stats_default)
        self.renorm: bool = a.bool("renorm", default=False)
        for keras_only in ("renorm_clipping", "renorm_momentum", "synchronized"):
            a.get(keras_only, default=None)
        if self.renorm and self.torch:
            raise SpecError(f"{self.label}: renorm=True is Keras's batch renormalization, "
                            "which PyTorch does not have")

    def default_input_shape(self) -> Shape | None:
        return None if self.num_features is None else (self.num_features,)

    def channels(self, x: Shape) -> int:
        i = self.channel_axis(x, self.axis)
        c = self.dim(x, i)
        if self.num_features is not None and c != self.num_features:
            raise ShapeError(f"{self.label} expects {self.num_features} channels on axis "
                             f"{i + 1}, got shape {fmt_shape(x)}")
        return c

    def weights(self, x: Shape) -> list[Weight]:
        if not (self.scale or self.center or self.stats or self.renorm):
            return []  # nothing is sized by the channels, which PyTorch then does not check
        c = (self.channels(x),)
        if self.torch:
            out = [Weight("weight", c)] if self.scale else []
            out += [Weight("bias", c)] if self.center else []
            if self.stats:
                out += [Weight(n, c, trainable=False, buffer=True)
                        for n in ("running_mean", "running_var")]
                out.append(Weight("num_batches_tracked", (), trainable=False, buffer=True))
            return out
        out = [Weight("gamma", c)] if self.scale else []
        out += [Weight("beta", c)] if self.center else []
        stats = ["moving_mean", "moving_variance"] if self.stats else []
        stats += ["moving_stddev", "renorm_mean", "renorm_stddev"] if self.renorm else []
        return out + [Weight(n, c, trainable=False) for n in stats]

    def formula(self, x: Shape) -> Formula | None:
        return _sum_formula(self.weights(x), "channels")

    def notes(self, x: Shape) -> list[str]:
        if not self.stats:
            return []
        c = self.channels(x)
        if self.torch:
            return [f"Keras counts the moving mean and variance as {2 * c} non-trainable "
                    "parameters; PyTorch keeps them as buffers (running_mean, running_var and "
                    "num_batches_tracked), outside the parameter count"]
        return [f"PyTorch keeps the moving mean and variance as buffers, not parameters: it "
                f"would count {2 * c} fewer parameters here"]


@register("InstanceNormalization", torch=("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"))
class InstanceNormalization(BatchNormalization):
    """Normalizes each channel of each sample. PyTorch's has no weights and no running
    statistics by default (``affine=False``, ``track_running_stats=False``); the Keras add-ons'
    InstanceNormalization (TensorFlow Addons, keras-contrib) has ``gamma`` and ``beta``."""

    affine_default = False
    stats_default = False

    def default_input_shape(self) -> Shape | None:
        return None if self.num_features is None else (self.num_features, None)

    def notes(self, x: Shape) -> list[str]:
        return []


# -- LayerNorm, RMSNorm, UnitNorm ------------------------------------------------------------

@register("LayerNormalization", torch=("LayerNorm",))
class LayerNormalization(_Norm):
    """Normalizes each sample over its last axes (Keras ``axis``, PyTorch ``normalized_shape``)."""

    torch_args = frozenset({"normalized_shape", "elementwise_affine", "eps", "bias"})
    positional = ("normalized_shape",)
    torch_positional: ClassVar[tuple[str, ...] | None] = (
        "normalized_shape", "eps", "elementwise_affine", "bias")

    def configure(self, a: Args) -> None:
        self.normalized: tuple[int, ...] | None = _shape_arg(a, self.label, "normalized_shape")
        self.axes = _axes_arg(a, self.label, "axis")
        a.get("epsilon", "eps", default=None)
        affine = a.bool("elementwise_affine", default=True)
        rms = a.bool("rms_scaling", default=False)  # deprecated in Keras: gamma only
        scale, center = a.bool("scale", default=True), a.bool("center", "bias", default=True)
        self.scale: bool = affine and (scale or rms)
        self.center: bool = affine and center and not rms

    def default_input_shape(self) -> Shape | None:
        return self.normalized

    def weight_shape(self, x: Shape) -> tuple[int, ...]:
        if self.normalized is not None:
            return self.trailing(x, self.normalized)
        return self.axes_shape(x, self.axes)

    def weights(self, x: Shape) -> list[Weight]:
        shape = self.weight_shape(x)
        names = ("weight", "bias") if self.torch else ("gamma", "beta")
        return ([Weight(names[0], shape)] if self.scale else []) + (
            [Weight(names[1], shape)] if self.center else [])

    def formula(self, x: Shape) -> Formula | None:
        return _sum_formula(self.weights(x), "normalized elements")


@register("RMSNormalization", torch=("RMSNorm",))
class RMSNormalization(LayerNormalization):
    """Scales each sample by its root mean square over the last axes: one scale, no shift."""

    torch_args = frozenset({"normalized_shape", "elementwise_affine", "eps"})
    torch_positional = ("normalized_shape", "eps", "elementwise_affine")

    def configure(self, a: Args) -> None:
        self.normalized = _shape_arg(a, self.label, "normalized_shape")
        self.axes = _axes_arg(a, self.label, "axis")
        a.get("epsilon", "eps", default=None)
        self.scale = a.bool("elementwise_affine", default=True)
        self.center = False

    def weights(self, x: Shape) -> list[Weight]:
        shape = self.weight_shape(x)
        return [Weight("weight" if self.torch else "scale", shape)] if self.scale else []


@register("UnitNormalization")
class UnitNormalization(_Norm):
    """Scales each sample to unit L2 norm over ``axis``: no weights."""

    def configure(self, a: Args) -> None:
        self.axes = _axes_arg(a, self.label, "axis")

    def output_shape(self, x: Shape) -> Shape:
        for axis in self.axes:
            self.keras_axis(x, axis)
        return x


# -- GroupNorm -------------------------------------------------------------------------------

@register("GroupNormalization", torch=("GroupNorm",))
class GroupNormalization(_Norm):
    """Normalizes groups of channels; ``groups=-1`` (Keras) is one group per channel."""

    torch_args = frozenset({"num_groups", "num_channels", "affine", "eps", "bias"})
    positional = ("groups", "num_channels")
    torch_positional = ("num_groups", "num_channels", "eps", "affine")

    def configure(self, a: Args) -> None:
        self.groups: int = a.int("groups", "num_groups", default=32, min=-1)
        if self.groups == 0:
            raise SpecError(f"{self.label}: groups=0 is invalid; expected an integer >= 1 "
                            "(or -1 for one group per channel)")
        self.num_channels: int | None = a.int("num_channels", default=None, min=1)
        if self.num_channels is not None and self.groups > 0 and self.num_channels % self.groups:
            raise SpecError(f"{self.label}: num_channels={self.num_channels} is not "
                            f"divisible by num_groups={self.groups}")
        self.axis: int | None = a.int("axis", default=None)
        a.get("epsilon", "eps", default=None)
        affine = a.bool("affine", default=True)
        scale, center = a.bool("scale", default=True), a.bool("center", "bias", default=True)
        self.scale: bool = affine and scale
        self.center: bool = affine and center

    def default_input_shape(self) -> Shape | None:
        return None if self.num_channels is None else (self.num_channels,)

    def channels(self, x: Shape) -> int:
        i = self.channel_axis(x, self.axis)
        c = self.dim(x, i)
        if self.num_channels is not None and c != self.num_channels:
            raise ShapeError(f"{self.label} expects {self.num_channels} channels on axis "
                             f"{i + 1}, got shape {fmt_shape(x)}")
        groups = c if self.groups == -1 else self.groups
        if c < groups or c % groups:
            raise ShapeError(f"{self.label}: {c} channels (input {fmt_shape(x)}) cannot be "
                             f"split into {groups} groups of equal size")
        return c

    def weights(self, x: Shape) -> list[Weight]:
        c = (self.channels(x),)
        names = ("weight", "bias") if self.torch else ("gamma", "beta")
        return ([Weight(names[0], c)] if self.scale else []) + (
            [Weight(names[1], c)] if self.center else [])

    def formula(self, x: Shape) -> Formula | None:
        return _sum_formula(self.weights(x), "channels")

