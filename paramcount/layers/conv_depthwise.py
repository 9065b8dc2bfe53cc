"""Keras's depthwise and separable convolutions: DepthwiseConv1D/2D and SeparableConv1D/2D.
PyTorch has neither: its ``Conv2d(c, c·m, k, groups=c)`` is the depthwise one. They share
:class:`paramcount.layers.conv.Window` (kernel, strides, dilation, padding, channel axis) with
the other convolutions, which are in ``conv``.

MACs follow torch.utils.flop_counter's ``conv_flop_count`` for the same PyTorch convolutions,
the bias not counted: a depthwise convolution is one with ``groups = in``, ``output positions ×
kernel × in·depth_multiplier``; a separable one is a depthwise then a 1×1 convolution, plus
``output positions × in·depth_multiplier × filters``. Neither costs 0.
"""

from __future__ import annotations

from paramcount.layers.args import Args
from paramcount.layers.base import Formula, Weight, register
from paramcount.layers.conv import Window
from paramcount.layers.spatial import elements
from paramcount.shapes import Shape


class DepthwiseConv(Window):
    """Keras's depthwise convolution: ``depth_multiplier`` filters per input channel."""

    positional = ("kernel_size",)

    def configure(self, a: Args) -> None:
        super().configure(a)
        self.depth_multiplier: int = a.int("depth_multiplier", default=1, min=1)

    def weights(self, x: Shape) -> list[Weight]:
        _, c = self.checked_split(x)
        m = self.depth_multiplier
        return [Weight("kernel", (*self.kernel, c, m)), *self.bias(c * m)]

    def output_shape(self, x: Shape) -> Shape:
        _, c = self.checked_split(x)
        return self.join(c * self.depth_multiplier, self.conv_lengths(x))

    def macs(self, x: Shape) -> int:
        _, c = self.checked_split(x)
        return self.window_macs(self.conv_lengths(x), c * self.depth_multiplier)

    def macs_formula(self, x: Shape) -> Formula:
        """Each of the in·depth_multiplier output channels reads one input channel."""
        _, c = self.checked_split(x)
        return self.macs_terms(self.conv_lengths(x), "output", ("", ""),
                               ("in·depth_multiplier", f"{c}·{self.depth_multiplier}"))

    def formula(self, x: Shape) -> Formula:
        _, c = self.checked_split(x)
        ks, kn = self.kernel_terms()
        m = self.depth_multiplier
        if self.use_bias:
            return Formula(f"({ks} + 1)·in·depth_multiplier", f"({kn} + 1)·{c}·{m}")
        return Formula(f"{ks}·in·depth_multiplier", f"{kn}·{c}·{m}")

    def notes(self, x: Shape) -> list[str]:
        _, c = self.checked_split(x)
        n, m = self.dims, self.depth_multiplier
        return [f"PyTorch has no depthwise layer; Conv{n}d({c}, {c * m}, kernel_size, "
                f"groups={c}) is the same layer with the same count"]


class SeparableConv(Window):
    """Keras's separable convolution: a depthwise kernel, then a pointwise (1×1) kernel."""

    positional = ("filters", "kernel_size")

    def configure(self, a: Args) -> None:
        super().configure(a)
        self.filters: int = a.int("filters", min=1)
        self.depth_multiplier: int = a.int("depth_multiplier", default=1, min=1)

    def weights(self, x: Shape) -> list[Weight]:
        _, c = self.checked_split(x)
        m, f = self.depth_multiplier, self.filters
        return [Weight("depthwise_kernel", (*self.kernel, c, m)),
                Weight("pointwise_kernel", ((1,) * self.dims + (c * m, f))),
                *self.bias(f)]

    def output_shape(self, x: Shape) -> Shape:
        return self.join(self.filters, self.conv_lengths(x))

    def macs(self, x: Shape) -> int:
        """The depthwise kernel, then ``in·depth_multiplier × filters`` at each position."""
        _, c = self.checked_split(x)
        out, cm = self.conv_lengths(x), c * self.depth_multiplier
        return self.window_macs(out, cm) + elements(self, out) * cm * self.filters

    def macs_formula(self, x: Shape) -> Formula:
        _, c = self.checked_split(x)
        cm = ("in·depth_multiplier", f"{c}·{self.depth_multiplier}")
        depthwise = self.macs_terms(self.conv_lengths(x), "output", ("", ""), cm)
        positions = "·".join(map(str, self.conv_lengths(x)))
        return Formula(f"{depthwise.symbolic} + output positions × {cm[0]} × filters",
                       f"{depthwise.numeric} + {positions} × {cm[1]} × {self.filters}")

    def formula(self, x: Shape) -> Formula:
        _, c = self.checked_split(x)
        ks, kn = self.kernel_terms()
        m, f = self.depth_multiplier, self.filters
        depthwise_s, depthwise_n = f"{ks}·in·depth_multiplier", f"{kn}·{c}·{m}"
        if self.use_bias:
            return Formula(f"{depthwise_s} + (in·depth_multiplier + 1)·filters",
                           f"{depthwise_n} + ({c}·{m} + 1)·{f}")
        return Formula(f"{depthwise_s} + in·depth_multiplier·filters",
                       f"{depthwise_n} + {c}·{m}·{f}")

    def notes(self, x: Shape) -> list[str]:
        if not self.use_bias:
            return []
        _, c = self.checked_split(x)
        n, cm = self.dims, c * self.depth_multiplier
        return [f"PyTorch has no separable layer; built as Conv{n}d(groups={c}) then a 1×1 "
                f"Conv{n}d, both with bias, it has {cm} more parameters (the depthwise bias)"]


# -- the registered names, one class per rank ---------------------------------------------------

@register("DepthwiseConv1D")
class DepthwiseConv1D(DepthwiseConv):
    """1D depthwise convolution."""

    dims = 1


@register("DepthwiseConv2D")
class DepthwiseConv2D(DepthwiseConv):
    """2D depthwise convolution."""

    dims = 2


@register("SeparableConv1D", "SeparableConvolution1D")
class SeparableConv1D(SeparableConv):
    """1D separable convolution."""

    dims = 1


@register("SeparableConv2D", "SeparableConvolution2D")
class SeparableConv2D(SeparableConv):
    """2D separable convolution."""

    dims = 2
