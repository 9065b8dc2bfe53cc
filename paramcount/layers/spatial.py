"""What layers over spatial axes share: where the channel axis is, and the kernel's symbols.

Keras keeps channels last (``data_format="channels_last"``) unless told otherwise; PyTorch keeps
them first, so with framework "pytorch" channels-first is the default. :func:`elements` is the
product that every MAC formula of a layer over known dimensions starts from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from paramcount.errors import ShapeError
from paramcount.layers.args import Args
from paramcount.layers.base import Layer
from paramcount.shapes import Dim, Shape, fmt_shape, known

#: a kernel's size in symbols, by number of spatial axes
KERNEL_SYMBOLS = {1: "k", 2: "k_h·k_w", 3: "k_d·k_h·k_w"}

DATA_FORMATS = ("channels_last", "channels_first")


def elements(layer: Layer, dims: Sequence[Dim]) -> int:
    """The product of ``dims``, all of which a MAC count needs known (``macs`` is called with
    unknown dimensions already set to the sequence length).

    >>> elements(Layer(), (26, 26))
    676
    """
    n = known(dims)
    if n is None:
        raise ShapeError(f"{layer.label} needs every dimension known to count its MACs; got "
                         f"the dimensions {fmt_shape(dims, batch=False)}")
    return n


class Spatial(Layer):
    """A layer over ``dims`` spatial axes and one channel axis: channels last as Keras has them,
    or first (``data_format="channels_first"``, the default with framework "pytorch")."""

    dims: ClassVar[int] = 2

    def read_data_format(self, a: Args) -> None:
        default = "channels_first" if self.torch else "channels_last"
        fmt = a.str("data_format", default=None, choices=DATA_FORMATS) or default
        self.channels_first = fmt == "channels_first"

    def split(self, x: Shape) -> tuple[Dim, Shape]:
        """Check the rank and return ``(channels, spatial dims)``."""
        self.rank(x, self.dims + 1)
        return (x[0], x[1:]) if self.channels_first else (x[-1], x[:-1])

    def join(self, channels: Dim, spatial: Shape) -> Shape:
        return (channels, *spatial) if self.channels_first else (*spatial, channels)
