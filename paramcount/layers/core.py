"""Core layers: Dense/Linear, EinsumDense, Embedding, PReLU.

MACs: Dense and EinsumDense are matrix products and count as torch.utils.flop_counter counts
them (the bias add is not counted); Embedding and PositionEmbedding are table lookups and PReLU
is element-wise, so they cost 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from paramcount.errors import ShapeError, SpecError
from paramcount.layers.args import Args
from paramcount.layers.base import Formula, Layer, Weight, register
from paramcount.layers.keras_quant import (
    assemble,
    configured,
    dense_kernel,
    einsum_kernel,
    embedding_table,
)
from paramcount.layers.spatial import elements
from paramcount.shapes import Dim, Shape, fmt_shape


@register("Dense", torch=("Linear", "LazyLinear"))
class Dense(Layer):
    """A fully connected layer: ``y = x·W + b`` over the last axis."""

    torch_args = frozenset({"in_features", "out_features", "bias"})
    positional = ("units",)
    torch_positional = ("in_features", "out_features", "bias")

    def configure(self, a: Args) -> None:
        self.units: int = a.int("units", "out_features", min=1)
        self.use_bias: bool = a.bool("use_bias", "bias", default=True)
        self.in_features: int | None = a.int("in_features", default=None, min=1)
        # Keras LoRA freezes the kernel and trains two low-rank factors beside it
        self.lora_rank: int | None = a.int("lora_rank", default=None, min=1)
        a.get("lora_alpha", default=None)
        self.quant = configured(a, self.torch)  # Keras's model.quantize(): other variables

    def default_input_shape(self) -> Shape | None:
        return None if self.in_features is None else (self.in_features,)

    def weights(self, x: Shape) -> list[Weight]:
        n_in = self.last_dim(x, expect=self.in_features)
        if self.quant is not None:
            r = self.lora_rank
            return assemble(self.quant, dense_kernel(self.quant, n_in, self.units),
                            (self.units,) if self.use_bias else None,
                            None if r is None else ("lora_kernel", (n_in, r), (r, self.units)),
                            "kernel")
        if self.torch:
            kernel = Weight("weight", (self.units, n_in))
        else:
            kernel = Weight("kernel", (n_in, self.units), trainable=self.lora_rank is None)
        bias = [Weight("bias", (self.units,))] if self.use_bias else []
        lora = [] if self.lora_rank is None else [
            Weight("lora_kernel_a", (n_in, self.lora_rank)),
            Weight("lora_kernel_b", (self.lora_rank, self.units))]
        return [kernel, *bias, *lora]

    def output_shape(self, x: Shape) -> Shape:
        return (*x[:-1], self.units)

    def macs(self, x: Shape) -> int:
        """``in × units`` for each position; Keras's LoRA adds its factors' product to the
        kernel once per call (``in × rank × units``, whatever the batch), which is left out.

        >>> Dense({"units": 2}).macs((4,)), Dense({"units": 2}).macs((3, 4))
        (8, 24)
        """
        n_in = self.last_dim(x, expect=self.in_features)
        return elements(self, x[:-1]) * n_in * self.units

    def macs_formula(self, x: Shape) -> Formula:
        """The products of :meth:`macs`, one factor per term.

        >>> Dense({"units": 5}).macs_formula((2, 3, 4)).numeric
        '2·3 × 4 × 5'
        """
        n_in = self.last_dim(x, expect=self.in_features)
        n, units = ("in_features", "out_features") if self.torch else ("inputs", "units")
        sym, num = f"{n} × {units}", f"{n_in} × {self.units}"
        if x[:-1]:  # the kernel is applied at each position of the leading axes
            elements(self, x[:-1])
            sym, num = f"positions × {sym}", f"{_dots(x[:-1])} × {num}"
        return Formula(sym, num)

    def formula(self, x: Shape) -> Formula | None:
        n_in = self.last_dim(x)
        if self.lora_rank is not None or self.quant is not None:
            return None
        n, units = ("in_features", "out_features") if self.torch else ("inputs", "units")
        if self.use_bias:
            return Formula(f"({n} + 1) × {units}", f"({n_in} + 1) × {self.units}")
        return Formula(f"{n} × {units}", f"{n_in} × {self.units}")


# -- EinsumDense -----------------------------------------------------------------------------

_EINSUM_FORMS = (  # (pattern, left_elided), "..." written as "0", in Keras's order of trial
    (r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", False),
    (r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", True),
    (r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", False),
)


@dataclass(frozen=True)
class EinsumSpec:
    """An EinsumDense equation split into its input, kernel and output letters.

    >>> EinsumSpec.parse("...b,bc->...c")
    EinsumSpec(inputs='b', kernel='bc', outputs='c', ellipsis=True, left_elided=True)
    """

    inputs: str
    kernel: str
    outputs: str
    ellipsis: bool
    left_elided: bool

    @classmethod
    def parse(cls, equation: str) -> EinsumSpec:
        dotted = equation.replace("...", "0")
        for pattern, left in _EINSUM_FORMS:
            m = re.match(pattern, dotted)
            if m:
                spec = cls(m.group(1), m.group(2), m.group(3), "0" in dotted, left)
                spec._check_letters(equation)
                return spec
        raise SpecError(f"EinsumDense: equation={equation!r} is invalid; expected the form "
                        "'ab,bc->ac', '...b,bc->...c' or 'ab...,bc->ac...'")

    def _check_letters(self, equation: str) -> None:
        for d in self.outputs:
            if d not in self.inputs and d not in self.kernel:
                raise SpecError(f"EinsumDense: output axis {d!r} of {equation!r} is in neither "
                                "the input nor the kernel")
        for d in self.kernel:
            if d not in self.inputs and d not in self.outputs:
                raise SpecError(f"EinsumDense: kernel axis {d!r} of {equation!r} is in neither "
                                "the input nor the output")


def einsum_shapes(spec: EinsumSpec, bias_axes: str | None, x: Shape, partial: Sequence[Dim]
                  ) -> tuple[tuple[Dim, ...], tuple[Dim, ...] | None, Shape]:
    """Kernel shape, bias shape and output shape of an EinsumDense on ``x`` (batch excluded),
    following keras/src/layers/core/einsum_dense.py step by step (its quirks included: the
    letters map onto the batch-inclusive shape, and left-elided axes are inserted in reverse).

    >>> einsum_shapes(EinsumSpec.parse("abc,cd->abd"), "d", (32, 128), (None, 64))
    ((128, 64), (64,), (None, 64))
    """
    full: Shape = (None, *x)
    elided = len(full) - len(spec.inputs)
    if elided < 0 or (elided and not spec.ellipsis):
        raise ShapeError(f"EinsumDense input {spec.inputs!r} (plus the batch axis"
                         f"{' and ...' if spec.ellipsis else ''}) does not fit the input shape "
                         f"{fmt_shape(x)}")
    out: list[Dim] = [full[0], *partial]
    if elided and spec.left_elided:
        for i in range(1, elided):
            out.insert(1, full[i])  # Keras inserts each at 1, reversing their order
    elif elided:
        out.extend(full[len(full) - elided:])
    if len(out) != len(spec.outputs) + (elided if spec.ellipsis else 0):
        raise ShapeError(f"EinsumDense output_shape {tuple(partial)} does not fit the output "
                         f"{spec.outputs!r} on input {fmt_shape(x)}")
    shift = elided if spec.left_elided else 0
    in_at = {d: i + shift - len(full) if spec.left_elided else i
             for i, d in enumerate(spec.inputs)}
    out_at = {d: i + shift for i, d in enumerate(spec.outputs)}
    for d in spec.inputs:
        if d in out_at and out[out_at[d]] is not None and out[out_at[d]] != full[in_at[d]]:
            raise ShapeError(f"EinsumDense axis {d!r} is {full[in_at[d]]} in the input "
                             f"{fmt_shape(x)} but {out[out_at[d]]} in output_shape")
    kernel = tuple(out[out_at[d]] if d in out_at else full[in_at[d]] for d in spec.kernel)
    return kernel, _einsum_bias(spec, bias_axes, out, shift, elided), tuple(out[1:])


def _einsum_bias(spec: EinsumSpec, bias_axes: str | None, out: list[Dim], shift: int,
                 elided: int) -> tuple[Dim, ...] | None:
    if bias_axes is None:
        return None
    first = min(spec.outputs.find(d) for d in bias_axes)
    size = {d: out[i + shift] for i, d in enumerate(spec.outputs)}
    bias = [size[d] if d in bias_axes else 1 for d in spec.outputs[first:]]
    if not spec.left_elided:
        bias += [1] * elided
    return tuple(bias)


@register("EinsumDense")
class EinsumDense(Layer):
    """Keras's EinsumDense: a kernel contracted with the input by an einsum equation."""

    positional = ("equation", "output_shape", "bias_axes")

    def configure(self, a: Args) -> None:
        self.equation: str = a.str("equation")
        self.spec = EinsumSpec.parse(self.equation)
        shape = a.get("output_shape")
        self.partial: tuple[Dim, ...] = (shape,) if isinstance(shape, int) else shape
        if isinstance(shape, bool) or not isinstance(self.partial, list | tuple) or not all(
                d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 1)
                for d in self.partial):
            raise SpecError(f"EinsumDense: output_shape={shape!r} is invalid; expected an "
                            "integer >= 1 or a list of them (None for unknown)")
        self.partial = tuple(self.partial)
        self.bias_axes: str | None = a.str("bias_axes", default=None)
        if self.bias_axes is not None:
            stray = [d for d in self.bias_axes if d not in self.spec.outputs]
            if stray or not self.bias_axes:
                raise SpecError(f"EinsumDense: bias_axes={self.bias_axes!r} is invalid; expected "
                                f"letters of the output {self.spec.outputs!r}")
        self.lora_rank: int | None = a.int("lora_rank", default=None, min=1)
        a.get("lora_alpha", default=None)
        self.quant = configured(a, self.torch)

    def _shapes(self, x: Shape) -> tuple[tuple[int, ...], tuple[int, ...] | None, Shape]:
        kernel, bias, out = einsum_shapes(self.spec, self.bias_axes, x, self.partial)
        for what, shape in (("kernel", kernel), ("bias", bias or ())):
            if any(d is None for d in shape):
                raise ShapeError(f"EinsumDense {what} shape {fmt_shape(shape, batch=False)} "
                                 f"has an unknown dimension (equation {self.equation!r}, input "
                                 f"{fmt_shape(x)}, output_shape {self.partial})")
        return _ints(kernel), None if bias is None else _ints(bias), out

    def weights(self, x: Shape) -> list[Weight]:
        kernel, bias, _ = self._shapes(x)
        made = [Weight("kernel", kernel)] if self.quant is None else einsum_kernel(
            self.quant, self.equation, self.spec.kernel, self.spec.outputs, kernel)
        r = self.lora_rank
        factors = None if r is None else ("lora_kernel", (*kernel[:-1], r), (r, kernel[-1]))
        return assemble(self.quant, made, bias, factors, "kernel")

    def output_shape(self, x: Shape) -> Shape:
        return self._shapes(x)[2]

    def macs(self, x: Shape) -> int:
        """The product of the sizes of every kernel and output axis, and of the ``...`` axes:
        each output element sums over the kernel axes it lacks. Input axes that neither has are
        summed beforehand, as torch.einsum does, for nothing.

        >>> EinsumDense({"equation": "abc,cde->abde", "output_shape": (None, 4, 8)}).macs((10, 16))
        5120
        """
        kept, summed, elided = self._mac_axes(x)
        return elements(self, [*kept.values(), *summed.values(), *elided])

    def macs_formula(self, x: Shape) -> Formula:
        """Output axes (the batch left out, ``…`` for the elided axes) × summed kernel axes.

        >>> EinsumDense({"equation": "abc,cde->abde", "output_shape": (None, 4, 8)}
        ...             ).macs_formula((10, 16))
        Formula(symbolic='output axes b·d·e × summed axes c', numeric='10·4·8 × 16')
        """
        self.macs(x)  # every size it needs known
        kept, summed, elided = self._mac_axes(x)
        dots = ["…"] if elided else []
        out_s = [*dots, *kept] if self.spec.left_elided else [*kept, *dots]
        out_n = [*elided, *kept.values()] if self.spec.left_elided else [*kept.values(), *elided]
        terms = [(f"output axes {'·'.join(out_s)}", _dots(out_n)) if out_n else None,
                 (f"summed axes {'·'.join(summed)}", _dots(summed.values())) if summed else None]
        shown = [t for t in terms if t is not None] or [("1", "1")]
        return Formula(" × ".join(t[0] for t in shown), " × ".join(t[1] for t in shown))

    def _mac_axes(self, x: Shape) -> tuple[dict[str, Dim], dict[str, Dim], Shape]:
        """Sizes of the output letters (but the batch's), of the kernel letters summed over,
        and of the ``...`` axes, for one sample."""
        kernel, _, _ = self._shapes(x)
        spec, full, n = self.spec, (1, *x), len(self.spec.inputs)  # one sample: batch axis 1
        cut = len(full) - n if spec.left_elided else n
        head, tail = full[:cut], full[cut:]
        lettered, elided = (tail, head[1:]) if spec.left_elided else (head, tail)
        size = dict(zip(spec.inputs, lettered, strict=True)) | dict(
            zip(spec.kernel, kernel, strict=True))
        batch = "" if spec.left_elided else spec.inputs[0]
        kept = {d: size[d] for d in spec.outputs if d != batch}
        summed = {d: size[d] for d in spec.kernel if d not in spec.outputs}
        return kept, summed, elided

    def formula(self, x: Shape) -> Formula | None:
        kernel, bias, _ = self._shapes(x)
        if self.lora_rank is not None or self.quant is not None:
            return None
        sym = "·".join(f"{d}" for d in self.spec.kernel)
        num = "·".join(str(d) for d in kernel)
        if bias is None:
            return Formula(f"kernel {sym}", num)
        return Formula(f"kernel {sym} + bias {self.bias_axes}",
                       f"{num} + {'·'.join(str(d) for d in bias)}")


def _ints(shape: Sequence[Dim]) -> tuple[int, ...]:
    return tuple(int(d) for d in shape if d is not None)


def _dots(dims: Iterable[Dim]) -> str:
    """``(26, 26)`` as ``26·26``: a product in a formula's numeric part."""
    return "·".join(str(d) for d in dims)


# -- Embedding, PReLU ------------------------------------------------------------------------

@register("Embedding")
class Embedding(Layer):
    """A lookup table: each integer index of the input becomes a vector of ``output_dim``."""

    torch_args = frozenset({"num_embeddings", "embedding_dim", "padding_idx", "max_norm",
                            "norm_type", "scale_grad_by_freq", "sparse", "_freeze"})
    positional = ("input_dim", "output_dim")
    torch_positional = ("num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
                        "scale_grad_by_freq", "sparse")

    def configure(self, a: Args) -> None:
        self.vocab: int = a.int("input_dim", "num_embeddings", min=1)
        self.dim: int = a.int("output_dim", "embedding_dim", min=1)
        padding = a.int("padding_idx", default=None)
        if padding is not None and not -self.vocab <= padding < self.vocab:
            raise SpecError(f"Embedding: padding_idx={padding} is invalid; expected an index "
                            f"within num_embeddings ({self.vocab})")
        for neutral in ("mask_zero", "input_length", "max_norm", "norm_type",
                        "scale_grad_by_freq", "sparse", "_freeze", "lora_alpha"):
            a.get(neutral, default=None)
        self.lora_rank: int | None = a.int("lora_rank", default=None, min=1)
        self.quant = configured(a, self.torch)

    def default_input_shape(self) -> Shape | None:
        return (None,)  # a sequence of indices of any length

    def weights(self, x: Shape) -> list[Weight]:
        shape = (self.vocab, self.dim)
        if self.torch:
            return [Weight("weight", shape)]
        made = [Weight("embeddings", shape)] if self.quant is None else embedding_table(
            self.quant, self.vocab, self.dim)
        r = self.lora_rank
        factors = None if r is None else ("lora_embeddings", (self.vocab, r), (r, self.dim))
        return assemble(self.quant, made, None, factors, "embeddings")

    def output_shape(self, x: Shape) -> Shape:
        return (*x, self.dim)

    def macs(self, x: Shape) -> int:
        return 0  # a lookup, no product

    def formula(self, x: Shape) -> Formula | None:
        if self.lora_rank is not None or self.quant is not None:
            return None
        names = "num_embeddings × embedding_dim" if self.torch else "input_dim × output_dim"
        return Formula(names, f"{self.vocab} × {self.dim}")


@register("PositionEmbedding", "LearnedPositionEmbedding")
class PositionEmbedding(Layer):
    """Learned position embeddings (keras_hub's PositionEmbedding): one vector per position.

    The output has the input's shape (the embeddings of positions 0..length-1); a model adds it
    to the token embeddings.
    """

    positional = ("sequence_length",)

    def configure(self, a: Args) -> None:
        self.sequence_length: int = a.int("sequence_length", min=1)

    def weights(self, x: Shape) -> list[Weight]:
        self.rank(x, 2)
        if x[0] is not None and x[0] > self.sequence_length:
            raise ShapeError(f"PositionEmbedding holds {self.sequence_length} positions, "
                             f"got a sequence of {x[0]}")
        return [Weight("embeddings", (self.sequence_length, self.last_dim(x)))]

    def macs(self, x: Shape) -> int:
        return 0  # a lookup, no product

    def formula(self, x: Shape) -> Formula:
        return Formula("sequence_length × features", f"{self.sequence_length} × {x[-1]}")


@register("PReLU")
class PReLU(Layer):
    """A leaky ReLU whose negative slope is learned.

    Keras learns one slope per input element (``alpha`` of the input's shape, 1 along
    ``shared_axes``); PyTorch learns ``num_parameters`` slopes, one or one per channel.
    """

    torch_args = frozenset({"num_parameters", "init"})
    torch_positional = ("num_parameters", "init")

    def configure(self, a: Args) -> None:
        self.num_parameters: int = a.int("num_parameters", default=1, min=1)
        a.float("init", default=0.25)
        shared = a.get("shared_axes", default=None)
        self.shared: tuple[int, ...] = () if shared is None else (
            (shared,) if isinstance(shared, int) else shared)
        if not isinstance(self.shared, list | tuple) or not all(
                isinstance(i, int) and not isinstance(i, bool) and i >= 1 for i in self.shared):
            raise SpecError(f"PReLU: shared_axes={shared!r} is invalid; expected axes >= 1 "
                            "(axis 0 is the batch)")
        self.shared = tuple(self.shared)

    def weights(self, x: Shape) -> list[Weight]:
        if self.torch:
            if self.num_parameters > 1:
                self._channels(x)
            return [Weight("weight", (self.num_parameters,))]
        return [Weight("alpha", self._alpha_shape(x))]

    def macs(self, x: Shape) -> int:
        return 0  # element-wise

    def _channels(self, x: Shape) -> None:
        if not x or x[0] != self.num_parameters:
            raise ShapeError(f"PReLU with num_parameters={self.num_parameters} expects that many "
                             f"channels on axis 1, got shape {fmt_shape(x)}")

    def _alpha_shape(self, x: Shape) -> tuple[int, ...]:
        alpha = list(x)
        for axis in self.shared:
            if axis > len(x):
                raise ShapeError(f"PReLU shared axis {axis} is out of range for input shape "
                                 f"{fmt_shape(x)}")
            alpha[axis - 1] = 1
        if any(d is None for d in alpha):
            raise ShapeError(f"PReLU needs known dimensions outside shared_axes; got shape "
                             f"{fmt_shape(x)} with shared_axes={list(self.shared)}")
        return _ints(alpha)

    def formula(self, x: Shape) -> Formula:
        if self.torch:
            return Formula("num_parameters", str(self.num_parameters))
        shape = self._alpha_shape(x)
        return Formula("input elements (1 along shared axes)", "·".join(map(str, shape)))

    def notes(self, x: Shape) -> list[str]:
        if self.torch:
            return ["PyTorch learns one slope (or one per channel); Keras learns one per "
                    "input element unless shared_axes is given"]
        return []
