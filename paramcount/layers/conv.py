"""Convolutions: Keras Conv1D/2D/3D and Conv1D/2D/3DTranspose, PyTorch Conv1d/2d/3d and
ConvTranspose1d/2d/3d (and their Lazy forms). Keras's depthwise and separable convolutions are in
``conv_depthwise``; :class:`Window`, what every convolution shares, is here.

One class per rank and kind serves both frameworks. Keras keeps the kernel as
``(*kernel_size, in/groups, filters)`` and the channels last; PyTorch keeps ``weight`` as
``(out_channels, in_channels/groups, *kernel_size)`` and the channels first, ``(C, H, W)``. The
counts agree; the weight shapes, the input layout and the padding arithmetic follow the framework
(a padding word is Keras's, integers are PyTorch's).

MACs follow torch.utils.flop_counter's ``conv_flop_count``, the bias not counted: a convolution
costs ``output positions × kernel × in/groups × out``, a transposed one ``input positions ×
kernel × in × out/groups`` (each input position is spread over the kernel); none costs 0.
Strides, padding and dilation enter through the output size only. Keras's LoRA merges its
factors into the kernel once per call, whatever the batch: that is left out, as for Dense.
"""

from __future__ import annotations

from typing import Any, ClassVar

from paramcount.errors import ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.layers.base import Formula, Weight, register
from paramcount.layers.spatial import KERNEL_SYMBOLS, Spatial, elements
from paramcount.shapes import Dim, Shape, conv_output_length, deconv_output_length, fmt_shape

_TORCH_ARGS = frozenset({"in_channels", "out_channels", "stride", "dilation", "bias",
                         "padding_mode"})


class Window(Spatial):
    """What every convolution shares: kernel, strides, dilation, padding and the channel axis."""

    dims: ClassVar[int] = 2
    causal_ok: ClassVar[bool] = False  # Keras allows padding="causal" on Conv1D only
    padding_words: ClassVar[bool] = True  # PyTorch's ConvTranspose takes integers only
    lora_ok: ClassVar[bool] = False  # Keras has LoRA on Conv1D/2D/3D only
    in_channels: int | None = None

    def configure(self, a: Args) -> None:
        n = self.dims
        self.kernel: tuple[int, ...] = a.ints("kernel_size", n=n)
        self.strides: tuple[int, ...] = a.ints("strides", "stride", n=n, default=1)
        self.dilation: tuple[int, ...] = a.ints("dilation_rate", "dilation", n=n, default=1)
        self.use_bias: bool = a.bool("use_bias", "bias", default=True)
        self.read_data_format(a)
        if self.torch and not self.channels_first:
            raise SpecError(f"{self.label}: PyTorch inputs are channels-first; "
                            "data_format='channels_last' is a Keras option")
        if not self.lora_ok and a.get("lora_rank", default=None) is not None:
            raise SpecError(f"{self.label}: Keras has no lora_rank for this layer")
        self.padding: str | tuple[int, ...] = (
            self._torch_padding(a) if self.torch else self._keras_padding(a))

    def _keras_padding(self, a: Args) -> str:
        value: Any = a.get("padding", default="valid")
        words = ("valid", "same", "causal") if self.causal_ok else ("valid", "same")
        if not isinstance(value, str) or value.lower() not in words:
            numbers = isinstance(value, int | list | tuple)
            more = " (integer padding is PyTorch's)" if numbers else ""
            raise SpecError(f"{self.label}: padding={value!r} is invalid; expected "
                            f"{' or '.join(map(repr, words))}{more}")
        return value.lower()

    def _torch_padding(self, a: Args) -> str | tuple[int, ...]:
        value: Any = a.get("padding", default=0)
        if not isinstance(value, str):
            pads: tuple[int, ...] = a.ints("padding", n=self.dims, default=0, min=0)
            return pads
        if not self.padding_words or value.lower() not in ("valid", "same"):
            expected = "'valid', 'same', " if self.padding_words else ""
            raise SpecError(f"{self.label}: padding={value!r} is invalid; expected "
                            f"{expected}an integer >= 0 or {self.dims} of them")
        if value.lower() == "same" and max(self.strides) > 1:
            raise SpecError(f"{self.label}: PyTorch refuses padding='same' with "
                            f"stride={self.strides}; give the padding as integers")
        return value.lower()

    def torch_pads(self) -> list[tuple[int, int]]:
        """PyTorch's (before, after) padding per spatial axis; 'same' puts the odd one after.

        >>> Conv1D({"out_channels": 1, "kernel_size": 4, "padding": "same"}, "pytorch").torch_pads()
        [(1, 2)]
        """
        if self.padding == "valid":
            return [(0, 0)] * self.dims
        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel, strict=True)]
            return [(t // 2, t - t // 2) for t in totals]
        return [(int(p), int(p)) for p in self.padding]

    def keras_checks(self) -> None:
        if max(self.strides) > 1 and max(self.dilation) > 1:
            raise SpecError(f"{self.label}: Keras refuses strides={self.strides} together "
                            f"with dilation_rate={self.dilation}")

    # -- shapes ---------------------------------------------------------------------------
    def checked_split(self, x: Shape) -> tuple[Shape, int]:
        """Check the rank and return ``(spatial dims, channels)``; the channels must be known."""
        c, spatial = self.split(x)
        if c is None:
            raise ShapeError(f"{self.label} needs a known number of input channels; got "
                             f"shape {fmt_shape(x)}")
        if self.in_channels is not None and c != self.in_channels:
            raise ShapeError(f"{self.label} expects in_channels={self.in_channels} input "
                             f"channels, got shape {fmt_shape(x)}")
        return spatial, c

    def default_input_shape(self) -> Shape | None:
        if self.in_channels is None:
            return None
        return self.join(self.in_channels, (None,) * self.dims)

    def conv_lengths(self, x: Shape) -> tuple[Dim, ...]:
        """Output spatial dims of a (non-transposed) sliding window on ``x``."""
        spatial, _ = self.checked_split(x)
        pads: list[Any] = self.torch_pads() if self.torch else [self.padding] * self.dims
        try:
            return tuple(conv_output_length(d, k, s, p, r) for d, k, s, p, r in zip(
                spatial, self.kernel, self.strides, pads, self.dilation, strict=True))
        except ShapeError as err:
            raise ShapeError(f"{self.label}: {err}") from None

    def window_macs(self, positions: Shape, per_tap: int) -> int:
        """MACs of the kernel laid on ``positions`` with ``per_tap`` products at each tap."""
        return elements(self, positions) * elements(self, self.kernel) * per_tap

    def bias(self, n: int) -> list[Weight]:
        return [Weight("bias", (n,))] if self.use_bias else []

    def macs_terms(self, positions: Shape, where: str, tap: tuple[str, str],
                   out: tuple[str, str]) -> Formula:
        """``<where> positions × kernel·<tap> × <out>``, ``tap`` and ``out`` as (words, numbers):
        the closed form of :meth:`window_macs`."""
        ks, kn = self.kernel_terms()
        elements(self, positions)
        ts, tn = (f"·{tap[0]}", f"·{tap[1]}") if tap[0] else ("", "")
        return Formula(f"{where} positions × {ks}{ts} × {out[0]}",
                       f"{'·'.join(map(str, positions))} × {kn}{tn} × {out[1]}")

    def kernel_terms(self) -> tuple[str, str]:
        """The kernel's size in symbols and in numbers: ``("k_h·k_w", "3·3")``."""
        return KERNEL_SYMBOLS[self.dims], "·".join(str(k) for k in self.kernel)


class Grouped(Window):
    """A convolution with ``filters``/``out_channels``, ``groups`` and PyTorch's ``in_channels``."""

    positional = ("filters", "kernel_size")
    torch_args = _TORCH_ARGS

    def configure(self, a: Args) -> None:
        super().configure(a)
        self.filters: int = a.int("filters", "out_channels", min=1)
        self.groups: int = a.int("groups", default=1, min=1)
        self.in_channels = a.int("in_channels", default=None, min=1)
        out = "out_channels" if a.given("out_channels") else "filters"
        for what, n in ((out, self.filters), ("in_channels", self.in_channels)):
            if n is not None and n % self.groups:
                raise SpecError(f"{self.label}: {what}={n} is not divisible by "
                                f"groups={self.groups}")

    def checked_split(self, x: Shape) -> tuple[Shape, int]:
        spatial, c = super().checked_split(x)
        if c % self.groups:
            raise ShapeError(f"{self.label}: the {c} input channels of shape {fmt_shape(x)} "
                             f"are not divisible by groups={self.groups}")
        return spatial, c

    @property
    def out_symbol(self) -> str:
        return "out_channels" if self.torch else "filters"


class Conv(Grouped):
    """A convolution (Keras ``Conv2D``, PyTorch ``Conv2d`` and their 1D and 3D cousins).

    >>> [w.shape for w in Conv2D({"filters": 2, "kernel_size": 3}).weights((28, 28, 1))]
    [(3, 3, 1, 2), (2,)]
    >>> torch = Conv2D({"in_channels": 1, "out_channels": 2, "kernel_size": 3}, "pytorch")
    >>> [w.shape for w in torch.weights((1, 28, 28))]
    [(2, 1, 3, 3), (2,)]
    """

    lora_ok = True
    torch_positional = ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                        "dilation", "groups", "bias", "padding_mode")

    def configure(self, a: Args) -> None:
        super().configure(a)
        self.lora_rank: int | None = None
        if self.torch:
            mode = a.str("padding_mode", default="zeros",
                         choices=("zeros", "reflect", "replicate", "circular"))
            self.padding_mode: str = mode
        else:
            self.padding_mode = "zeros"
            self.lora_rank = a.int("lora_rank", default=None, min=1)
            self.keras_checks()

    def weights(self, x: Shape) -> list[Weight]:
        _, c = self.checked_split(x)
        per_group, f = c // self.groups, self.filters
        if self.torch:
            return [Weight("weight", (f, per_group, *self.kernel)), *self.bias(f)]
        # LoRA freezes the kernel and trains two low-rank factors beside it
        r = self.lora_rank
        kernel = Weight("kernel", (*self.kernel, per_group, f), trainable=r is None)
        lora = [] if r is None else [Weight("lora_kernel_a", (*self.kernel, per_group, r)),
                                     Weight("lora_kernel_b", (r, f))]
        return [kernel, *self.bias(f), *lora]

    def output_shape(self, x: Shape) -> Shape:
        out = self.conv_lengths(x)
        if self.padding_mode in ("reflect", "circular"):
            self._check_wrap(x)
        return self.join(self.filters, out)

    def macs(self, x: Shape) -> int:
        """Output positions × kernel × in/groups × filters (26·26 · 3·3 · 1 · 2 here).

        >>> Conv2D({"filters": 2, "kernel_size": 3}).macs((28, 28, 1))
        12168
        """
        _, c = self.checked_split(x)
        _, out = self.split(self.output_shape(x))
        return self.window_macs(out, c // self.groups * self.filters)

    def macs_formula(self, x: Shape) -> Formula:
        """The closed form of :meth:`macs`.

        >>> Conv2D({"filters": 2, "kernel_size": 3}).macs_formula((28, 28, 1)).numeric
        '26·26 × 3·3·1 × 2'
        """
        _, c = self.checked_split(x)
        _, out = self.split(self.output_shape(x))
        return self.macs_terms(out, "output", ("in/groups", str(c // self.groups)),
                               (self.out_symbol, str(self.filters)))

    def _check_wrap(self, x: Shape) -> None:
        # reflect mirrors without the edge (padding < length); circular wraps at most once
        spatial, _ = self.checked_split(x)
        slack = 1 if self.padding_mode == "reflect" else 0
        for d, pads in zip(spatial, self.torch_pads(), strict=True):
            if d is not None and max(pads) + slack > d:
                raise ShapeError(f"{self.label}: padding_mode={self.padding_mode!r} cannot "
                                 f"pad {max(pads)} on an axis of length {d}")

    def formula(self, x: Shape) -> Formula:
        _, c = self.checked_split(x)
        ks, kn = self.kernel_terms()
        per_group, f, out = c // self.groups, self.filters, self.out_symbol
        if self.use_bias:
            sym, num = f"({ks}·in/groups + 1)·{out}", f"({kn}·{per_group} + 1)·{f}"
        else:
            sym, num = f"{ks}·in/groups·{out}", f"{kn}·{per_group}·{f}"
        if self.lora_rank is not None:
            sym += f" + ({ks}·in/groups + {out})·lora_rank"
            num += f" + ({kn}·{per_group} + {f})·{self.lora_rank}"
        return Formula(sym, num)


class ConvTranspose(Grouped):
    """A transposed convolution (Keras ``Conv2DTranspose``, PyTorch ``ConvTranspose2d``)."""

    padding_words = False
    torch_positional = ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                        "output_padding", "groups", "bias", "dilation", "padding_mode")

    def configure(self, a: Args) -> None:
        super().configure(a)
        n = self.dims
        self.output_padding: tuple[int, ...] | None = a.ints(
            "output_padding", n=n, default=0 if self.torch else None, min=0)
        if self.torch:
            a.str("padding_mode", default="zeros", choices=("zeros",))
            self._check_output_padding(self.strides, self.dilation, "stride or dilation")
            return
        if self.groups != 1:
            raise SpecError(f"{self.label}: Keras has no groups for transposed "
                            f"convolutions (groups={self.groups}); PyTorch's ConvTranspose does")
        self.keras_checks()
        self._check_output_padding(self.strides, self.strides, "strides")

    def _check_output_padding(self, s: tuple[int, ...], d: tuple[int, ...], what: str) -> None:
        ops = self.output_padding or (0,) * self.dims
        if any(o >= a and o >= b for o, a, b in zip(ops, s, d, strict=True)):
            raise SpecError(f"{self.label}: output_padding={ops} is invalid; expected "
                            f"each smaller than its {what} ({s})")

    def weights(self, x: Shape) -> list[Weight]:
        _, c = self.checked_split(x)
        f = self.filters
        if self.torch:
            return [Weight("weight", (c, f // self.groups, *self.kernel)), *self.bias(f)]
        return [Weight("kernel", (*self.kernel, f, c)), *self.bias(f)]

    def output_shape(self, x: Shape) -> Shape:
        spatial, _ = self.checked_split(x)
        ops: list[Any] = list(self.output_padding or [None] * self.dims)
        pads: list[Any] = list(self.padding) if self.torch else [self.padding] * self.dims
        out = tuple(deconv_output_length(d, k, s, p, o, r) for d, k, s, p, o, r in zip(
            spatial, self.kernel, self.strides, pads, ops, self.dilation, strict=True))
        if self.torch and any(d is not None and d < 1 for d in out):
            raise ShapeError(f"{self.label}: the output size {fmt_shape(out, batch=False)} "
                             f"would be empty with padding={self.padding}")
        return self.join(self.filters, out)

    def macs(self, x: Shape) -> int:
        """Input positions × kernel × in × filters/groups (7·7 · 3·3 · 8 · 4 here).

        >>> Conv2DTranspose({"filters": 4, "kernel_size": 3, "strides": 2}).macs((7, 7, 8))
        14112
        """
        spatial, c = self.checked_split(x)
        self.output_shape(x)
        return self.window_macs(spatial, c * (self.filters // self.groups))

    def macs_formula(self, x: Shape) -> Formula:
        spatial, c = self.checked_split(x)
        self.output_shape(x)
        out = f"{self.out_symbol}/groups" if self.torch else "filters"
        return self.macs_terms(spatial, "input", ("in", str(c)),
                               (out, str(self.filters // self.groups)))

    def formula(self, x: Shape) -> Formula:
        _, c = self.checked_split(x)
        ks, kn = self.kernel_terms()
        f, bias = self.filters, self.use_bias
        if self.torch:
            plus_s, plus_n = (" + out_channels", f" + {f}") if bias else ("", "")
            return Formula(f"{ks}·in·out_channels/groups{plus_s}",
                           f"{kn}·{c}·{f // self.groups}{plus_n}")
        if bias:
            return Formula(f"({ks}·in + 1)·filters", f"({kn}·{c} + 1)·{f}")
        return Formula(f"{ks}·in·filters", f"{kn}·{c}·{f}")


# -- the registered names, one class per rank ---------------------------------------------------

@register("Conv1D", "Convolution1D", torch=("Conv1d", "LazyConv1d"))
class Conv1D(Conv):
    """1D convolution over ``(steps, channels)``; Keras also allows ``padding="causal"``."""

    dims = 1
    causal_ok = True


@register("Conv2D", "Convolution2D", torch=("Conv2d", "LazyConv2d"))
class Conv2D(Conv):
    """2D convolution over ``(height, width, channels)``."""

    dims = 2


@register("Conv3D", "Convolution3D", torch=("Conv3d", "LazyConv3d"))
class Conv3D(Conv):
    """3D convolution over ``(depth, height, width, channels)``."""

    dims = 3


@register("Conv1DTranspose", "Convolution1DTranspose",
          torch=("ConvTranspose1d", "LazyConvTranspose1d"))
class Conv1DTranspose(ConvTranspose):
    """1D transposed convolution."""

    dims = 1


@register("Conv2DTranspose", "Convolution2DTranspose",
          torch=("ConvTranspose2d", "LazyConvTranspose2d"))
class Conv2DTranspose(ConvTranspose):
    """2D transposed convolution."""

    dims = 2


@register("Conv3DTranspose", "Convolution3DTranspose",
          torch=("ConvTranspose3d", "LazyConvTranspose3d"))
class Conv3DTranspose(ConvTranspose):
    """3D transposed convolution."""

    dims = 3
