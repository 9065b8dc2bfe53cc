"""Zero-parameter layers that leave the shape alone: activations, dropout and noise, Masking,
Identity and ActivityRegularization.

Keras's ``ReLU``, ``LeakyReLU``, ``ELU``, ``Softmax``, ``Dropout``, ``AlphaDropout`` and
``Identity`` share their names with PyTorch modules: one class serves both, reading either
framework's arguments. PyTorch's other activation modules (``GELU``, ``SiLU``, ``ReLU6`` ...) are
registered as PyTorch names, so naming one selects PyTorch conventions.

All of them cost 0 MACs: element-wise functions (a softmax too), masks and pass-throughs, no
matrix product (torch.utils.flop_counter counts none).
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from paramcount.layers.args import Args
from paramcount.layers.base import Layer, register
from paramcount.layers.spatial import Spatial
from paramcount.shapes import Shape

# -- activations ------------------------------------------------------------------------------

@register("Activation")
class Activation(Layer):
    """Keras ``Activation("relu")``: any activation by name."""

    positional = ("activation",)

    def configure(self, a: Args) -> None:
        name = a.get("activation")
        if name is not None and not isinstance(name, str):
            raise a.invalid(("activation",), name, "the name of an activation")

    def macs(self, x: Shape) -> int:
        return 0  # element-wise


def _at_least_zero(a: Args, *names: str, default: float | None) -> None:
    value = a.get(*names, default=default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                              or value < 0):
        raise a.invalid(names, value, "a number >= 0")


@register("ReLU")
class ReLU(Layer):
    """Keras ``ReLU(max_value, negative_slope, threshold)`` and PyTorch ``nn.ReLU``."""

    torch_args = frozenset({"inplace"})

    def configure(self, a: Args) -> None:
        _at_least_zero(a, "max_value", default=None)
        _at_least_zero(a, "negative_slope", default=0.0)
        _at_least_zero(a, "threshold", default=0.0)
        a.bool("inplace", default=False)

    def macs(self, x: Shape) -> int:
        return 0  # element-wise


@register("LeakyReLU")
class LeakyReLU(Layer):
    """Keras ``LeakyReLU(negative_slope=0.3)`` (``alpha`` in Keras 2) and PyTorch's (0.01)."""

    torch_args = frozenset({"inplace"})

    def configure(self, a: Args) -> None:
        if self.torch:  # PyTorch takes any slope, negative too
            a.float("negative_slope", default=0.01)
        else:
            _at_least_zero(a, "negative_slope", "alpha", default=0.3)
        a.bool("inplace", default=False)

    def macs(self, x: Shape) -> int:
        return 0  # element-wise


@register("ELU")
class ELU(Layer):
    """``ELU(alpha=1.0)`` in both frameworks."""

    torch_args = frozenset({"inplace"})

    def configure(self, a: Args) -> None:
        a.float("alpha", default=1.0)
        a.bool("inplace", default=False)

    def macs(self, x: Shape) -> int:
        return 0  # element-wise


@register("Softmax")
class Softmax(Layer):
    """Keras ``Softmax(axis=-1)`` and PyTorch ``nn.Softmax(dim=None)``."""

    torch_args = frozenset({"dim"})

    def configure(self, a: Args) -> None:
        axis = a.get("axis", "dim", default=None)
        if not isinstance(axis, list | tuple):
            a.int("axis", "dim", default=None)

    def macs(self, x: Shape) -> int:
        return 0  # element-wise


class TorchActivation(Layer):
    """A PyTorch element-wise activation module: no weights, shape unchanged."""

    accepts: ClassVar[tuple[str, ...]] = ()

    def configure(self, a: Args) -> None:
        for name in self.accepts:
            if name == "inplace":
                a.bool(name, default=False)
            elif name == "approximate":
                a.str(name, default="none", choices=("none", "tanh"))
            elif name == "dim":
                a.int(name, default=None)
            else:  # a number whose value does not matter here, checked for its type only
                a.float(name, default=0.0)

    def macs(self, x: Shape) -> int:
        return 0  # element-wise


# PyTorch's other activation modules and the arguments each takes (none changes a shape).
TORCH_ACTIVATIONS: dict[str, tuple[str, ...]] = {
    "ReLU6": ("inplace",), "GELU": ("approximate",), "SiLU": ("inplace",), "Sigmoid": (),
    "Tanh": (), "Hardswish": ("inplace",), "Hardsigmoid": ("inplace",), "Mish": ("inplace",),
    "SELU": ("inplace",), "CELU": ("alpha", "inplace"), "Softplus": ("beta", "threshold"),
    "Softsign": (), "LogSigmoid": (), "Tanhshrink": (), "Softshrink": ("lambd",),
    "Hardshrink": ("lambd",), "Hardtanh": ("min_val", "max_val", "inplace"),
    "RReLU": ("lower", "upper", "inplace"), "LogSoftmax": ("dim",), "Softmin": ("dim",),
}
for _name, _accepts in TORCH_ACTIVATIONS.items():
    register(torch=(_name,))(cast(type[Layer], type(_name, (TorchActivation,), {
        "accepts": _accepts, "__module__": __name__,
        "__doc__": f"PyTorch ``nn.{_name}``: no weights, shape unchanged."})))


# -- dropout, noise and other pass-through layers -----------------------------------------------

def _probability(a: Args, *names: str, default: Any = None) -> None:
    value = a.float(*names, **({} if default is None else {"default": default}))
    if not 0 <= value <= 1:
        raise a.invalid(names, value, "a number between 0 and 1")


@register("Dropout")
class Dropout(Layer):
    """Keras ``Dropout(rate)`` and PyTorch ``nn.Dropout(p=0.5)``."""

    torch_args = frozenset({"p", "inplace"})
    positional = ("rate",)
    torch_positional: ClassVar[tuple[str, ...] | None] = ("p", "inplace")

    def configure(self, a: Args) -> None:
        _probability(a, "rate", "p", default=0.5 if self.torch else None)

    def macs(self, x: Shape) -> int:
        return 0  # passes the input through, or scales it


@register("AlphaDropout", torch=("FeatureAlphaDropout",))
class AlphaDropout(Dropout):
    """Keras ``AlphaDropout(rate)`` and PyTorch ``nn.AlphaDropout(p=0.5)``."""


@register("GaussianDropout")
class GaussianDropout(Dropout):
    """Keras ``GaussianDropout(rate)``: multiplicative noise."""

    torch_positional = None  # Keras only


@register("GaussianNoise")
class GaussianNoise(Layer):
    """Keras ``GaussianNoise(stddev)``: additive noise."""

    positional = ("stddev",)

    def configure(self, a: Args) -> None:
        _probability(a, "stddev")

    def macs(self, x: Shape) -> int:
        return 0  # passes the input through, or scales it


class SpatialDropout(Spatial):
    """Drops whole channels: Keras ``SpatialDropout2D(rate)``, PyTorch ``nn.Dropout2d(p)``."""

    torch_args = frozenset({"p", "inplace"})
    positional = ("rate",)
    torch_positional = ("p", "inplace")

    def configure(self, a: Args) -> None:
        _probability(a, "rate", "p", default=0.5 if self.torch else None)
        self.read_data_format(a)

    def output_shape(self, x: Shape) -> Shape:
        if not self.torch:  # PyTorch accepts (and warns about) other ranks
            self.split(x)
        return x

    def macs(self, x: Shape) -> int:
        return 0  # passes the input through, or scales it


@register("SpatialDropout1D", torch=("Dropout1d",))
class SpatialDropout1D(SpatialDropout):
    dims = 1


@register("SpatialDropout2D", torch=("Dropout2d",))
class SpatialDropout2D(SpatialDropout):
    dims = 2


@register("SpatialDropout3D", torch=("Dropout3d",))
class SpatialDropout3D(SpatialDropout):
    dims = 3


@register("ActivityRegularization")
class ActivityRegularization(Layer):
    """Keras ``ActivityRegularization(l1, l2)``: a loss term, no weights."""

    def configure(self, a: Args) -> None:
        a.float("l1", default=0.0)
        a.float("l2", default=0.0)

    def macs(self, x: Shape) -> int:
        return 0  # passes the input through, or scales it


@register("Masking")
class Masking(Layer):
    """Keras ``Masking(mask_value=0.0)``."""

    positional = ("mask_value",)

    def configure(self, a: Args) -> None:
        a.float("mask_value", default=0.0)

    def macs(self, x: Shape) -> int:
        return 0  # passes the input through, or scales it


@register("Identity")
class Identity(Layer):
    """Keras ``Identity`` and PyTorch ``nn.Identity``, which accepts and ignores any argument."""

    def configure(self, a: Args) -> None:
        if self.torch:
            a.given(*a.config)

    def macs(self, x: Shape) -> int:
        return 0  # passes the input through, or scales it
