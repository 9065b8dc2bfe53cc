"""Pooling layers: max and average over windows, global, adaptive; shapes only, no weights.

One class per rank and mode serves both frameworks: ``MaxPooling2D(pool_size, strides,
padding="valid"|"same")`` as Keras has it and ``MaxPool2d(kernel_size, stride, padding=int,
dilation, ceil_mode)`` as PyTorch has it. A string padding follows Keras's arithmetic, an integer
padding PyTorch's. With framework "pytorch" the input is channels-first, ``(C, H, W)``.

Every pooling layer costs 0 MACs: a maximum or a mean is no matrix product, and
torch.utils.flop_counter counts none.
"""

from __future__ import annotations

from typing import Any, ClassVar

from paramcount.errors import ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.layers.base import register
from paramcount.layers.spatial import Spatial
from paramcount.shapes import Dim, Shape, conv_output_length, fmt_shape, pool_output_length


class Pooling(Spatial):
    """Max or average pooling over sliding windows (Keras ``MaxPooling2D``, PyTorch
    ``MaxPool2d`` and their 1D, 3D and average cousins)."""

    mode: ClassVar[str] = "max"
    torch_args = frozenset({"kernel_size", "stride", "dilation", "ceil_mode", "return_indices",
                            "count_include_pad", "divisor_override"})
    positional = ("pool_size", "strides")
    torch_positional: ClassVar[tuple[str, ...] | None] = (
        "kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")

    def configure(self, a: Args) -> None:
        n = self.dims
        # Keras 3 gives MaxPooling a default pool size of 2 and AveragePooling none.
        default = {} if self.mode == "average" else {"default": 2}
        self.pool: tuple[int, ...] = a.ints("pool_size", "kernel_size", n=n, **default)
        self.strides: tuple[int, ...] = a.ints("strides", "stride", n=n, default=None) or self.pool
        self.padding = self._read_padding(a)
        self.dilation: tuple[int, ...] = (1,) * n
        self.ceil_mode = a.bool("ceil_mode", default=False)
        if self.mode == "max":
            self.dilation = a.ints("dilation", n=n, default=1)
            a.bool("return_indices", default=False)
        else:
            a.bool("count_include_pad", default=True)
            if n > 1:
                a.int("divisor_override", default=None, min=1)
        self.read_data_format(a)

    def _read_padding(self, a: Args) -> str | tuple[int, ...]:
        value: Any = a.get("padding", default=(0,) * self.dims if self.torch else "valid")
        if isinstance(value, str):
            return str(a.str("padding", default=value, choices=("valid", "same")))
        pads: tuple[int, ...] = a.ints("padding", n=self.dims, default=value, min=0)
        for p, k in zip(pads, self.pool, strict=True):
            if p > k // 2:  # PyTorch refuses a window that could lie wholly in the padding
                raise SpecError(f"{self.label}: padding={value!r} is invalid; expected at "
                                f"most half of kernel_size={self.pool}")
        return pads

    def output_shape(self, x: Shape) -> Shape:
        channels, spatial = self.split(x)
        if self.mode == "average" and self.dims == 3 and not isinstance(self.padding, str):
            self._check_avg3d(spatial)
        return self.join(channels, tuple(self._length(d, i) for i, d in enumerate(spatial)))

    def macs(self, x: Shape) -> int:
        return 0  # no product: see the module docstring

    def _length(self, length: Dim, i: int) -> Dim:
        if isinstance(self.padding, str):
            return conv_output_length(length, self.pool[i], self.strides[i], self.padding)
        return pool_output_length(length, self.pool[i], self.strides[i], self.padding[i],
                                  self.dilation[i], self.ceil_mode)

    def _check_avg3d(self, spatial: Shape) -> None:
        # PyTorch's avg_pool3d alone checks the unpadded input against the kernel.
        if any(d is not None and d < k for d, k in zip(spatial, self.pool, strict=True)):
            raise ShapeError(f"{self.label}: the input {fmt_shape(spatial, batch=False)} is "
                             f"smaller than the kernel {self.pool}")


@register("MaxPooling1D", "MaxPool1D", torch=("MaxPool1d",))
class MaxPooling1D(Pooling):
    dims = 1


@register("MaxPooling2D", "MaxPool2D", torch=("MaxPool2d",))
class MaxPooling2D(Pooling):
    dims = 2


@register("MaxPooling3D", "MaxPool3D", torch=("MaxPool3d",))
class MaxPooling3D(Pooling):
    dims = 3


class AveragePooling(Pooling):
    """Average pooling: PyTorch's signature differs from max pooling's after ``padding``."""

    mode = "average"
    torch_positional = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")


@register("AveragePooling1D", "AvgPool1D", torch=("AvgPool1d",))
class AveragePooling1D(AveragePooling):
    dims = 1


@register("AveragePooling2D", "AvgPool2D", torch=("AvgPool2d",))
class AveragePooling2D(AveragePooling):
    dims = 2


@register("AveragePooling3D", "AvgPool3D", torch=("AvgPool3d",))
class AveragePooling3D(AveragePooling):
    dims = 3


class GlobalPooling(Spatial):
    """Max or average over all spatial axes: ``(H, W, C)`` -> ``(C,)``, or ``(1, 1, C)`` with
    ``keepdims``."""

    def configure(self, a: Args) -> None:
        self.keepdims = a.bool("keepdims", default=False)
        self.read_data_format(a)

    def output_shape(self, x: Shape) -> Shape:
        channels, _ = self.split(x)
        return self.join(channels, (1,) * self.dims) if self.keepdims else (channels,)

    def macs(self, x: Shape) -> int:
        return 0  # no product: see the module docstring


@register("GlobalMaxPooling1D", "GlobalMaxPool1D")
class GlobalMaxPooling1D(GlobalPooling):
    dims = 1


@register("GlobalMaxPooling2D", "GlobalMaxPool2D")
class GlobalMaxPooling2D(GlobalPooling):
    dims = 2


@register("GlobalMaxPooling3D", "GlobalMaxPool3D")
class GlobalMaxPooling3D(GlobalPooling):
    dims = 3


@register("GlobalAveragePooling1D", "GlobalAvgPool1D")
class GlobalAveragePooling1D(GlobalPooling):
    dims = 1


@register("GlobalAveragePooling2D", "GlobalAvgPool2D")
class GlobalAveragePooling2D(GlobalPooling):
    dims = 2


@register("GlobalAveragePooling3D", "GlobalAvgPool3D")
class GlobalAveragePooling3D(GlobalPooling):
    dims = 3


class AdaptivePooling(Spatial):
    """Pooling to a fixed spatial size whatever the input size (Keras ``AdaptiveMaxPooling2D``,
    PyTorch ``AdaptiveAvgPool2d``). PyTorch lets an entry of ``output_size`` be None: that axis
    keeps its input size."""

    torch_args = frozenset({"return_indices"})
    positional = ("output_size",)

    def configure(self, a: Args) -> None:
        value = a.get("output_size")
        items = value if isinstance(value, list | tuple) else [value] * self.dims
        if self.torch and len(items) == self.dims and None in items:
            size = tuple(v if v is None else self._one(a, v) for v in items)
        else:
            size = a.ints("output_size", n=self.dims, min=1)
        self.output_size: tuple[int | None, ...] = size
        a.bool("return_indices", default=False)
        self.read_data_format(a)

    def _one(self, a: Args, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(f"{self.label}: output_size={a.config['output_size']!r} is "
                            "invalid; expected positive integers or None")
        return value

    def output_shape(self, x: Shape) -> Shape:
        channels, spatial = self.split(x)
        size = tuple(s if o is None else o for o, s in zip(self.output_size, spatial, strict=True))
        return self.join(channels, size)

    def macs(self, x: Shape) -> int:
        return 0  # no product: see the module docstring


@register("AdaptiveMaxPooling1D", torch=("AdaptiveMaxPool1d",))
class AdaptiveMaxPooling1D(AdaptivePooling):
    dims = 1


@register("AdaptiveMaxPooling2D", torch=("AdaptiveMaxPool2d",))
class AdaptiveMaxPooling2D(AdaptivePooling):
    dims = 2


@register("AdaptiveMaxPooling3D", torch=("AdaptiveMaxPool3d",))
class AdaptiveMaxPooling3D(AdaptivePooling):
    dims = 3


@register("AdaptiveAveragePooling1D", torch=("AdaptiveAvgPool1d",))
class AdaptiveAveragePooling1D(AdaptivePooling):
    dims = 1


@register("AdaptiveAveragePooling2D", torch=("AdaptiveAvgPool2d",))
class AdaptiveAveragePooling2D(AdaptivePooling):
    dims = 2


@register("AdaptiveAveragePooling3D", torch=("AdaptiveAvgPool3d",))
class AdaptiveAveragePooling3D(AdaptivePooling):
    dims = 3
