"""Pure shape arithmetic shared by the layers.

Shapes exclude the batch dimension. A dimension is an ``int`` or ``None`` (unknown, as Keras
writes it); arithmetic on ``None`` gives ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from paramcount.errors import ShapeError

Dim = int | None
Shape = tuple[Dim, ...]


def prod(dims: Sequence[int]) -> int:
    """Product of known dimensions as an exact Python int.

    >>> prod((3, 3, 1, 2))
    18
    """
    return math.prod(map(int, dims))


def known(dims: Sequence[Dim]) -> int | None:
    """Product of ``dims``, or ``None`` when any of them is unknown."""
    if any(d is None for d in dims):
        return None
    return prod([d for d in dims if d is not None])


def fmt_shape(shape: Sequence[Dim] | None, batch: bool = True) -> str:
    """Format a shape as Keras does, with a leading ``None`` for the batch.

    >>> fmt_shape((26, 26, 32))
    '(None, 26, 26, 32)'
    """
    if shape is None:
        return "?"
    dims = (None, *shape) if batch else tuple(shape)
    inner = ", ".join("None" if d is None else str(d) for d in dims)
    return f"({inner},)" if len(dims) == 1 else f"({inner})"


def conv_output_length(
    length: Dim,
    kernel: int,
    stride: int = 1,
    padding: str | int | tuple[int, int] = "valid",
    dilation: int = 1,
) -> Dim:
    """Output length of a convolution or pooling window along one axis.

    ``padding`` is Keras's ``"valid"``/``"same"``/``"causal"`` or PyTorch's explicit amount
    (one int for both sides, or a ``(before, after)`` pair).

    >>> conv_output_length(28, 3)
    26
    >>> conv_output_length(28, 3, stride=2, padding="same")
    14
    >>> conv_output_length(28, 3, padding=1)
    28
    """
    if length is None:
        return None
    span = dilation * (kernel - 1) + 1
    if padding in ("same", "causal"):
        return -(-length // stride)
    if padding == "valid":
        total = length
    elif isinstance(padding, int):
        total = length + 2 * padding
    elif isinstance(padding, tuple):
        total = length + padding[0] + padding[1]
    else:
        raise ShapeError(f"unknown padding {padding!r}")
    if total < span:
        raise ShapeError(
            f"kernel {kernel} (dilation {dilation}) is larger than the input length {length} "
            f"with padding={padding!r}"
        )
    return (total - span) // stride + 1


def deconv_output_length(
    length: Dim,
    kernel: int,
    stride: int = 1,
    padding: str | int = "valid",
    output_padding: int | None = None,
    dilation: int = 1,
) -> Dim:
    """Output length of a transposed convolution along one axis (Keras and PyTorch rules).

    >>> deconv_output_length(7, 3, stride=2, padding="same")
    14
    >>> deconv_output_length(7, 3, stride=2, padding=1, output_padding=1)
    14
    """
    if length is None:
        return None
    span = dilation * (kernel - 1) + 1
    if isinstance(padding, int):  # PyTorch
        return (length - 1) * stride - 2 * padding + span + (output_padding or 0)
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(span - stride, 0)
        return length * stride  # "same"
    pad = span // 2 if padding == "same" else 0
    return (length - 1) * stride + span - 2 * pad + output_padding


# -- pooling windows and resizing (PyTorch rules) --------------------------------------------

def pool_output_length(
    length: Dim,
    kernel: int,
    stride: int,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> Dim:
    """Output length of a PyTorch pooling window along one axis (``MaxPool2d``, ``AvgPool1d``).

    With ``ceil_mode`` the last window may hang over the end, but it must start inside the input
    or its left padding, as PyTorch's ``pooling_output_shape`` requires.

    >>> pool_output_length(7, 2, 2)
    3
    >>> pool_output_length(7, 2, 2, ceil_mode=True)
    4
    >>> pool_output_length(6, 3, 2, padding=1, ceil_mode=True)
    4
    """
    if length is None:
        return None
    span = dilation * (kernel - 1) + 1
    reach = length + 2 * padding - span + (stride - 1 if ceil_mode else 0)
    out = reach // stride + 1
    if ceil_mode and (out - 1) * stride >= length + padding:
        out -= 1
    if out < 1:
        raise ShapeError(
            f"the pooling window {kernel} (stride {stride}, padding {padding}, dilation "
            f"{dilation}) leaves no output for an input length of {length}"
        )
    return out


def scaled_length(length: Dim, factor: float) -> Dim:
    """``floor(length × factor)``, computed as PyTorch's ``interpolate`` does (in doubles).

    >>> scaled_length(7, 1.5)
    10
    """
    if length is None:
        return None
    return int(length * float(factor))


def broadcast(shapes: Sequence[Shape], what: str) -> Shape:
    """NumPy broadcasting as TensorFlow and ``keras.ops`` apply it to static shapes: an unknown
    dimension against a known one > 1 takes the known one (a layer such as ``Add`` keeps it
    unknown instead).

    >>> broadcast([(None, 4), (3, 1)], "add")
    (3, 4)
    """
    out: list[Dim] = []
    rank = max(len(s) for s in shapes)
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0} - {1}
        known_dims = dims - {None}
        if len(known_dims) > 1:
            raise ShapeError(f"{what}: shapes {', '.join(fmt_shape(s) for s in shapes)} do not "
                             "broadcast")
        out.append(known_dims.pop() if known_dims else None if None in dims else 1)
    return tuple(out)
