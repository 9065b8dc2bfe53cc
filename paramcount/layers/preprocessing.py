"""Preprocessing and application layers that Keras model files hold: Rescaling, Normalization,
Resizing and cropping, the image augmentation layers, ConvNeXt's LayerScale and StochasticDepth,
Inception-ResNet's CustomScaleLayer, and tf.keras's TFOpLambda and SlicingOpLambda (a TensorFlow
function or a slice applied to Keras tensors).

Only ``Normalization`` and ``LayerScale`` own weights: Normalization keeps the statistics it
learns with ``adapt()`` (``mean``, ``variance`` and a scalar ``count``) as non-trainable weights,
unless ``mean`` and ``variance`` are given as constants; LayerScale learns one scale per channel.
The random augmentation layers keep a seed generator's state, which Keras does not count as a
weight, and neither do we.

MACs: only tf.keras's ``tf.linalg.matmul`` (a TFOpLambda) is a matrix product. Every other layer
here costs 0: rescaling, normalizing, scaling and residual sums are element-wise, and resizing,
cropping and augmenting images move or blend pixels (torch.utils.flop_counter counts none of it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paramcount.errors import ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.layers.base import Built, Formula, Layer, Weight, register
from paramcount.layers.merging import Merge
from paramcount.layers.spatial import DATA_FORMATS, elements
from paramcount.shapes import Dim, Shape, broadcast, fmt_shape

# -- value transforms --------------------------------------------------------------------------

@register("Rescaling")
class Rescaling(Layer):
    """``x * scale + offset``: no weights."""

    positional = ("scale", "offset")

    def configure(self, a: Args) -> None:
        a.get("scale")
        a.get("offset", default=0.0)

    def macs(self, x: Shape) -> int:
        return 0  # element-wise


@register("Normalization")
class Normalization(Layer):
    """``(x - mean) / sqrt(variance)`` per position of the kept ``axis`` (batch-inclusive
    indices, default the last). Without constant ``mean``/``variance`` the statistics are
    weights: ``mean`` and ``variance`` of the kept axes' shape and a scalar ``count``, all
    non-trainable (keras/src/layers/preprocessing/normalization.py)."""

    def configure(self, a: Args) -> None:
        axis = a.get("axis", default=-1)
        axes = () if axis is None else (axis,) if isinstance(axis, int) else axis
        if isinstance(axis, bool) or not isinstance(axes, list | tuple) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in axes):
            raise a.invalid(("axis",), axis, "an integer, a list of integers or null")
        self.axes: tuple[int, ...] = tuple(axes)
        mean, variance = a.get("mean", default=None), a.get("variance", default=None)
        if (mean is None) != (variance is None):
            raise SpecError(f"{self.label}: give both mean and variance, or neither")
        self.adapted = mean is None  # statistics learnt by adapt(): stored as weights
        a.bool("invert", default=False)

    def kept(self, x: Shape) -> tuple[int, ...]:
        """The kept axes' sizes, in the order of the sorted (batch-inclusive) axes."""
        ndim = len(x) + 1
        if any(not -ndim <= i < ndim for i in self.axes):
            raise ShapeError(f"{self.label}: axis {list(self.axes)} is out of range for an "
                             f"input of shape {fmt_shape(x)}")
        full = (None, *x)
        keep = sorted(i % ndim for i in self.axes)
        dims = [full[i] for i in keep]
        if any(d is None for d in dims):
            raise ShapeError(f"{self.label}: the kept axes {list(self.axes)} need known sizes; "
                             f"got shape {fmt_shape(x)}")
        return tuple(int(d) for d in dims if d is not None)

    def weights(self, x: Shape) -> list[Weight]:
        shape = self.kept(x)
        if not self.adapted:
            return []
        return [Weight("mean", shape, trainable=False), Weight("variance", shape, trainable=False),
                Weight("count", (), trainable=False)]

    def formula(self, x: Shape) -> Formula | None:
        if not self.adapted:
            return None
        dims = "·".join(map(str, self.kept(x))) or "1"
        return Formula("2 × kept-axes elements + 1 (count)", f"2 × {dims} + 1")

    def macs(self, x: Shape) -> int:
        return 0  # element-wise


def _data_format(a: Args) -> bool:
    """True for channels_first."""
    return a.str("data_format", default=None, choices=DATA_FORMATS) == "channels_first"


class _Sized(Layer):
    """An image layer whose output has a fixed ``height`` and ``width``."""

    positional = ("height", "width")

    def configure(self, a: Args) -> None:
        self.height: int = a.int("height", min=1)
        self.width: int = a.int("width", min=1)
        self.channels_first = _data_format(a)
        self.read_options(a)

    def read_options(self, a: Args) -> None:
        """Arguments that change values, not shapes."""

    def output_shape(self, x: Shape) -> Shape:
        self.rank(x, 3)
        if self.channels_first:
            return (x[0], self.height, self.width)
        return (self.height, self.width, x[2])

    def macs(self, x: Shape) -> int:
        return 0  # resizes, crops or transforms images: no product


@register("Resizing")
class Resizing(_Sized):
    """Resizes images to ``height`` × ``width``: no weights."""

    def read_options(self, a: Args) -> None:
        for key in ("interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio", "fill_mode",
                    "fill_value", "antialias"):
            a.get(key, default=None)


@register("CenterCrop")
class CenterCrop(_Sized):
    """Crops the centre ``height`` × ``width`` of images: no weights."""


@register("RandomCrop")
class RandomCrop(_Sized):
    """Crops a random ``height`` × ``width`` window (the centre at inference): no weights."""


class _SameShape(Layer):
    """A layer that changes values only; every argument leaves the shape alone."""

    def configure(self, a: Args) -> None:
        for key in self.config:
            a.get(key)

    def macs(self, x: Shape) -> int:
        return 0  # resizes, crops or transforms images: no product


# Image augmentation layers of keras.layers: zero weights, output shaped as the input.
_AUGMENTATION = (
    "AugMix", "AutoContrast", "CutMix", "Equalization", "MixUp", "RandAugment",
    "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter", "RandomContrast",
    "RandomElasticTransform", "RandomErasing", "RandomFlip", "RandomGaussianBlur",
    "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPerspective", "RandomPosterization",
    "RandomRotation", "RandomSaturation", "RandomSharpness", "RandomShear", "RandomTranslation",
    "RandomZoom", "Solarization",
)
for _name in _AUGMENTATION:
    register(_name)(type(_name, (_SameShape,), {"__doc__": f"Keras {_name}: no weights."}))


# -- application layers ------------------------------------------------------------------------

@register("LayerScale")
class LayerScale(Layer):
    """ConvNeXt's per-channel scale ``x * gamma`` (keras/src/applications/convnext.py):
    ``gamma`` has ``projection_dim`` values whatever the input."""

    positional = ("init_values", "projection_dim")

    def configure(self, a: Args) -> None:
        a.float("init_values", default=1e-6)
        self.dim: int = a.int("projection_dim", min=1)

    def weights(self, x: Shape) -> list[Weight]:
        self.output_shape(x)
        return [Weight("gamma", (self.dim,))]

    def output_shape(self, x: Shape) -> Shape:
        if not x:
            return (self.dim,)
        last = x[-1]
        if last not in (None, 1, self.dim) and self.dim != 1:
            raise ShapeError(f"{self.label}: projection_dim={self.dim} does not broadcast "
                             f"against the input {fmt_shape(x)}")
        return (*x[:-1], self.dim if last in (None, 1) else last)

    def formula(self, x: Shape) -> Formula:
        return Formula("projection_dim", str(self.dim))

    def macs(self, x: Shape) -> int:
        return 0  # element-wise


@register("StochasticDepth")
class StochasticDepth(Layer):
    """Drops a residual branch at random while training (ConvNeXt's ``drop_path_rate``): no
    weights."""

    positional = ("drop_path_rate",)

    def configure(self, a: Args) -> None:
        a.float("drop_path_rate", "rate", default=0.0)

    def macs(self, x: Shape) -> int:
        return 0  # passes the input through, or drops it


@register("CustomScaleLayer")
class CustomScaleLayer(Layer):
    """Inception-ResNet-v2's residual sum ``x[0] + x[1] * scale``: no weights."""

    def configure(self, a: Args) -> None:
        a.float("scale")

    def build(self, inputs: Sequence[Shape]) -> Built:
        if len(inputs) != 2:
            raise ShapeError(f"{self.label} takes two inputs, got {len(inputs)}")
        return Built((), Merge({}, label=self.label).build(inputs).output_shape)

    def macs_of(self, inputs: Sequence[Shape]) -> int:
        return 0  # element-wise


# -- tf.keras's TensorFlow operations ----------------------------------------------------------

_ELEMENTWISE = frozenset({
    "__operators__.add", "math.add", "add", "math.add_n", "math.subtract", "subtract",
    "math.multiply", "multiply", "math.divide", "math.truediv", "truediv", "math.floordiv",
    "math.maximum", "maximum", "math.minimum", "minimum", "math.pow", "pow",
    "math.squared_difference", "math.divide_no_nan",
    "identity", "cast", "nn.relu", "nn.relu6", "nn.elu", "nn.selu", "nn.gelu", "nn.silu",
    "nn.swish", "nn.leaky_relu", "nn.softplus", "nn.sigmoid", "math.sigmoid", "nn.tanh",
    "math.tanh", "math.exp", "math.log", "math.sqrt", "math.rsqrt", "math.square", "math.abs",
    "math.negative", "math.reciprocal", "math.sin", "math.cos", "math.erf", "clip_by_value",
    "nn.softmax", "math.softmax", "nn.log_softmax", "math.l2_normalize", "nn.l2_normalize",
    "stop_gradient", "zeros_like", "ones_like",
})
_REDUCTIONS = frozenset({"math.reduce_mean", "reduce_mean", "math.reduce_sum", "reduce_sum",
                         "math.reduce_max", "reduce_max", "math.reduce_min", "reduce_min",
                         "math.reduce_prod", "math.reduce_std", "math.reduce_variance"})


@register("TFOpLambda")
class TFOpLambda(Layer):
    """A TensorFlow function called on Keras tensors in a tf.keras model (``tf.math.add``,
    ``tf.nn.relu``, ``tf.reshape``...): no weights. The output shape is known for element-wise
    functions, reductions, ``concat``, ``reshape``, ``expand_dims`` and ``linalg.matmul``; for
    other functions it cannot be told from the file."""

    def configure(self, a: Args) -> None:
        self.function: str = a.str("function")
        # the call's arguments that are not tensors (axis, shape, keepdims), from the model's
        # graph: the layer's own config holds only the function's name
        self.call_args: dict[str, Any] = dict(a.get("call_arguments", default=None) or {})

    def build(self, inputs: Sequence[Shape]) -> Built:
        if not inputs:
            raise ShapeError(f"{self.label} tf.{self.function} has no tensor input")
        return Built((), self.shape_of(inputs))

    def shape_of(self, inputs: Sequence[Shape]) -> Shape:
        f, args = self.function, self.call_args
        if f in _ELEMENTWISE:
            return broadcast(inputs, f"tf.{f}")
        if f in _REDUCTIONS:
            return _reduce(inputs[0], args.get("axis"), bool(args.get("keepdims", False)))
        if f == "expand_dims":
            return _expand(inputs[0], args.get("axis", 0))
        if f == "concat":
            return _concat(inputs, args.get("axis", -1))
        if f == "reshape" and isinstance(args.get("shape"), list):
            return _reshape(args["shape"])
        if f == "linalg.matmul" and len(inputs) == 2:
            a, b = inputs
            return (*a[:-1], b[-1])
        raise ShapeError(f"the output shape of tf.{f} (TFOpLambda) cannot be told from the "
                         "model file")

    def macs_of(self, inputs: Sequence[Shape]) -> int:
        """A matrix product for ``linalg.matmul``; 0 for every other function whose shape is
        known (element-wise, reductions, reshapes).

        >>> TFOpLambda({"function": "linalg.matmul"}).macs_of([(3, 4), (4, 5)])
        60
        """
        out = self.shape_of(inputs)
        if self.function == "linalg.matmul":
            return elements(self, out) * elements(self, inputs[0][-1:])
        return 0


@register("SlicingOpLambda")
class SlicingOpLambda(TFOpLambda):
    """tf.keras's ``x[...]`` on a Keras tensor: no weights; the slice is not kept in the model
    file in a form worth following, so the output shape is unknown."""

    def shape_of(self, inputs: Sequence[Shape]) -> Shape:
        raise ShapeError(f"the output shape of a slice ({self.function}) cannot be told from "
                         "the model file")

    def macs_of(self, inputs: Sequence[Shape]) -> int:
        return 0  # a slice copies values


def _axis(axis: Any, rank: int) -> int:
    """A batch-inclusive axis of a tensor of ``rank`` (batch included) as a batch-less index."""
    if not isinstance(axis, int) or isinstance(axis, bool) or not -rank <= axis < rank:
        raise ShapeError(f"axis {axis!r} is out of range for rank {rank}")
    index = axis % rank
    if index == 0:
        raise ShapeError("an operation over the batch axis changes the batch")
    return index - 1


def _reduce(x: Shape, axis: Any, keepdims: bool) -> Shape:
    rank = len(x) + 1
    axes = list(range(1, rank)) if axis is None else [axis] if isinstance(axis, int) else axis
    if axis is None and not keepdims:
        raise ShapeError("a reduction over every axis reduces the batch too")
    drop = {_axis(i, rank) for i in axes}
    return tuple(1 if i in drop else d for i, d in enumerate(x) if keepdims or i not in drop)


def _expand(x: Shape, axis: Any) -> Shape:
    index = _axis(axis, len(x) + 2)  # an axis of the output, one rank more
    return (*x[:index], 1, *x[index:])


def _concat(inputs: Sequence[Shape], axis: Any) -> Shape:
    rank = len(inputs[0]) + 1
    i = _axis(axis, rank)
    total: Dim = 0
    for x in inputs:
        if len(x) + 1 != rank:
            raise ShapeError("concat: inputs of different ranks")
        d = x[i]
        total = None if total is None or d is None else total + d
    return (*inputs[0][:i], total, *inputs[0][i + 1:])


def _reshape(shape: list[Any]) -> Shape:
    if not shape or shape[0] not in (-1, None):
        raise ShapeError("reshape: the first dimension must stay the batch (-1)")
    return tuple(None if d in (-1, None) else int(d) for d in shape[1:])
