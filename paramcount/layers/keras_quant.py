"""Keras 3's own quantization (``model.quantize(mode)``) and LoRA (``enable_lora``) of Dense,
EinsumDense and Embedding: the variables such a layer makes instead of its float kernel.

Keras records the quantization in the layer's ``dtype`` (a quantized dtype policy:
``QuantizedDTypePolicy`` int8, ``Int4DTypePolicy`` ``int4/<block>``,
``QuantizedFloat8DTypePolicy`` float8, ``GPTQDTypePolicy`` ``gptq/<bits>/<group>``,
``AWQDTypePolicy`` ``awq/4/<group>``; a string ``int8_from_float32`` in older files) and, for
Dense and EinsumDense, in ``quantization_config`` (whose ``block_size`` wins over the policy's,
as in keras/src/quantizers/quantization_config.py). The shapes below follow each layer's
``_int8_build``, ``_int4_build``, ``_float8_build``, ``_gptq_build`` and ``_awq_build`` in
keras/src/layers/core/ (Keras 3.15): an int8 or int4 kernel is frozen and packed, scales follow
the source policy's variable dtype, float8's scales and amax histories are trainable. Counts
are Keras's ``count_params()``: every variable counts as one parameter, packed or not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from paramcount.dtypes import DTYPE_BYTES
from paramcount.errors import SpecError
from paramcount.layers.base import Weight
from paramcount.shapes import prod

MODES = ("int8", "int4", "float8", "gptq", "awq")


@dataclass(frozen=True)
class Quant:
    """One layer's quantization: the mode and what shapes its variables.

    >>> read_quant({"class_name": "Int4DTypePolicy",
    ...             "config": {"mode": "int4/128", "source_name": "float32"}}, None)
    Quant(mode='int4', source='float32', block=128, bits=4, amax=1024)
    """

    mode: str
    source: str = "float32"  # the variable dtype of the policy it was quantized from
    block: int | None = None  # int4's block size, GPTQ's and AWQ's group size; None: per channel
    bits: int = 4  # GPTQ's weight bits
    amax: int = 1024  # float8's amax history length

    def weight(self, name: str, shape: Sequence[int], dtype: str | None = None,
               trainable: bool = False) -> Weight:
        """A variable of this layer: ``dtype`` None is the source policy's variable dtype."""
        return variable(name, shape, dtype or self.source, trainable)

    def groups(self, n: int) -> int | None:
        """Groups of ``block`` along an axis of ``n``; None per channel."""
        return None if self.block is None or self.block <= 0 else math.ceil(n / self.block)


def variable(name: str, shape: Sequence[int], dtype: str, trainable: bool) -> Weight:
    """A Keras variable whose dtype is known: its bytes follow."""
    size = prod(tuple(shape))
    return Weight(name, tuple(shape), trainable=trainable, dtype=dtype,
                  nbytes=int(size * DTYPE_BYTES[dtype]))


def read_quant(dtype: Any, quantization_config: Any) -> Quant | None:
    """The quantization a layer config's ``dtype`` and ``quantization_config`` describe; None
    for a float policy (``"float32"``, ``mixed_bfloat16``).

    >>> read_quant("int8_from_mixed_bfloat16", None)
    Quant(mode='int8', source='float32', block=None, bits=4, amax=1024)
    """
    mode, source, amax = _policy(dtype)
    if mode is None:
        return None
    base, *params = mode.split("/")
    if base not in MODES:
        raise SpecError(f"unknown Keras quantization mode {mode!r}; expected one of "
                        f"{', '.join(MODES)}")
    block, bits = None, 4
    try:
        if base == "int4" and params:
            block = int(params[0])
        elif base in ("gptq", "awq"):
            bits, block = int(params[0]), int(params[1])
    except (ValueError, IndexError):
        raise SpecError(f"Keras quantization mode {mode!r} is invalid; expected int4/<block>, "
                        f"gptq/<bits>/<group> or awq/4/<group>") from None
    block, bits = _overrides(base, quantization_config, block, bits)
    variable = "float32" if source.startswith("mixed_") else source
    if variable not in DTYPE_BYTES:
        raise SpecError(f"Keras quantization source policy {source!r} is not a known dtype")
    return Quant(base, variable, None if block == -1 else block, bits, amax)


def _policy(dtype: Any) -> tuple[str | None, str, int]:
    """(mode, source policy, amax history length) of a serialized dtype policy."""
    name: Any
    config: dict[str, Any] = {}
    if isinstance(dtype, str):
        name = dtype
    elif isinstance(dtype, dict) and isinstance(dtype.get("config"), dict):
        config = dtype["config"]
        name = config.get("name")
        if isinstance(config.get("mode"), str):  # Keras >= 3.4: mode and source_name
            amax = config.get("amax_history_length", 1024)
            return config["mode"], str(config.get("source_name") or "float32"), int(amax)
    else:
        return None, "float32", 1024
    if not isinstance(name, str) or "_from_" not in name:
        return None, "float32", 1024
    mode, source = name.split("_from_", 1)
    return mode, source, int(config.get("amax_history_length", 1024))


def _overrides(mode: str, qc: Any, block: int | None, bits: int) -> tuple[int | None, int]:
    """``quantization_config``'s settings, which Keras reads before the policy's."""
    if not (isinstance(qc, dict) and isinstance(qc.get("config"), dict)):
        return block, bits
    cls, c = qc.get("class_name"), qc["config"]
    if mode == "int4" and cls == "Int4QuantizationConfig":
        return c.get("block_size"), bits
    if mode in ("gptq", "awq") and cls in ("GPTQConfig", "AWQConfig"):
        return c.get("group_size", block), int(c.get("weight_bits", bits))
    return block, bits


# -- the variables of each layer ---------------------------------------------------------------

def float8_scales(q: Quant) -> list[Weight]:
    """float8's per-layer scales and amax histories, trainable (Keras overwrites them with
    their gradients), always float32."""
    out = []
    for what in ("inputs", "kernel", "outputs_grad"):
        out += [q.weight(f"{what}_scale", (), "float32", trainable=True),
                q.weight(f"{what}_amax_history", (q.amax,), "float32", trainable=True)]
    return out


def dense_kernel(q: Quant, n_in: int, units: int) -> list[Weight]:
    """What Dense makes for its kernel under ``q`` (its bias is made after, as ever).

    >>> [(w.name, w.shape) for w in dense_kernel(Quant("int8"), 24, 32)]
    [('kernel', (24, 32)), ('kernel_scale', (32,))]
    """
    if q.mode == "int8":
        return [q.weight("kernel", (n_in, units), "int8"), q.weight("kernel_scale", (units,))]
    if q.mode == "int4":
        groups = q.groups(n_in)
        scale = (units,) if groups is None else (groups, units)
        return [q.weight("kernel", (n_in, (units + 1) // 2), "int8"),
                q.weight("kernel_scale", scale), *_zero_and_index(q, scale, n_in, groups)]
    if q.mode == "float8":
        return [*float8_scales(q), q.weight("kernel", (n_in, units), trainable=True)]
    return _gptq_awq(q, n_in, units, "kernel_zero")


def _zero_and_index(q: Quant, scale: tuple[int, ...], rows: int, groups: int | None
                    ) -> list[Weight]:
    """int4 by blocks is asymmetric: a zero point per scale and each row's group index."""
    if groups is None:
        return []
    return [q.weight("kernel_zero", scale, "int8"),
            q.weight("g_idx", (rows,), "float32")]



def _gptq_awq(q: Quant, rows: int, columns: int, zero: str) -> list[Weight]:
    """GPTQ's and AWQ's packed, transposed uint8 kernel with scales and zero points per
    group (one group with ``group_size`` -1)."""
    groups = q.groups(rows) or 1
    packed = (columns + 1) // 2 if q.mode == "awq" or q.bits == 4 else columns
    out = [q.weight("kernel", (packed, rows), "uint8"),
           q.weight("kernel_scale", (columns, groups)),
           q.weight(zero, (columns, groups), "uint8")]
    if q.mode == "awq":
        out.append(q.weight("awq_scales", (rows,)))
    return [*out, q.weight("g_idx", (rows,), "float32")]


def einsum_kernel(q: Quant, equation: str, kernel_letters: str, output_letters: str,
                  kernel: tuple[int, ...]) -> list[Weight]:
    """What EinsumDense makes for its kernel under ``q``. The kernel's reduced axes are its
    letters missing from the output; int4, GPTQ and AWQ flatten the kernel to (reduced, kept).
    """
    if q.mode == "float8":
        return [*float8_scales(q), q.weight("kernel", kernel, trainable=True)]
    if "..." in equation:  # Keras's _analyze_quantization_info takes len() of an int there
        raise SpecError(f"Keras 3.15 cannot build EinsumDense {equation!r} quantized to "
                        f"{q.mode}: its quantization does not handle '...' equations")
    reduced = [i for i, d in enumerate(kernel_letters) if d not in output_letters]
    rows = prod(tuple(kernel[i] for i in reduced))
    columns = prod(kernel) // max(rows, 1)
    if q.mode == "int8":
        scale = _einsum_scale(kernel_letters, output_letters, kernel, reduced)
        return [q.weight("kernel", kernel, "int8"), q.weight("kernel_scale", scale)]
    if q.mode == "int4":
        groups = q.groups(rows)
        shape = (columns,) if groups is None else (groups, columns)
        return [q.weight("kernel", (rows, (columns + 1) // 2), "int8"),
                q.weight("kernel_scale", shape), *_zero_and_index(q, shape, rows, groups)]
    rows, columns = _gptq_split(kernel, equation)
    return _gptq_awq(q, rows, columns, "zero_point")


def _einsum_scale(letters: str, output: str, kernel: tuple[int, ...], reduced: list[int]
                  ) -> tuple[int, ...]:
    """int8's per-channel scale: the kernel with its reduced axes 1, laid out as the output
    (keras/src/layers/core/einsum_dense.py, _analyze_quantization_info and
    _get_kernel_scale_shape, its reuse of the last expand index included)."""
    expand = [i for i, d in enumerate(output) if d not in letters]
    transpose = [letters.index(d) for d in output if d in letters]
    squeeze: list[int] = []
    index = 0
    for axis in reduced:
        if expand:
            index = expand.pop(0)
        else:
            squeeze.append(axis)
        transpose.insert(index, axis)
    shape = [1 if i in reduced else d for i, d in enumerate(kernel)]
    out = [shape[i] for i in transpose]
    for axis in sorted(expand):
        out.insert(axis, 1)
    for axis in sorted(squeeze, reverse=True):
        out.pop(axis)
    return tuple(out)


def _gptq_split(kernel: tuple[int, ...], equation: str) -> tuple[int, int]:
    """GPTQ's and AWQ's (rows, columns) of an EinsumDense kernel: a 3-D kernel is split at
    its largest axis, the model width (a QKV projection or an attention output)."""
    if len(kernel) == 2:
        return kernel[0], kernel[1]
    if len(kernel) != 3:
        raise SpecError(f"Keras quantizes EinsumDense {equation!r} with GPTQ or AWQ only for "
                        f"a 2-D or 3-D kernel, not {kernel}")
    if kernel.index(max(kernel)) == 0:
        return kernel[0], kernel[1] * kernel[2]
    return kernel[0] * kernel[1], kernel[2]


def embedding_table(q: Quant, vocab: int, dim: int) -> list[Weight]:
    """What Embedding makes for its table under ``q`` (int8 and int4 only, as Keras)."""
    if q.mode == "int8":
        return [q.weight("embeddings", (vocab, dim), "int8"),
                q.weight("embeddings_scale", (vocab,))]
    if q.mode != "int4":
        raise SpecError(f"Keras's Embedding has no {q.mode} quantization (int8 or int4 only)")
    groups = q.groups(dim)
    scale = (vocab,) if groups is None else (vocab, groups)
    out = [q.weight("embeddings", (vocab, (dim + 1) // 2), "int8"),
           q.weight("embeddings_scale", scale)]
    if groups is not None:
        out += [q.weight("embeddings_zero", scale, "int8"), q.weight("g_idx", (dim,), "float32")]
    return out


def lora(prefix: str, q: Quant | None, a: tuple[int, ...], b: tuple[int, ...]) -> list[Weight]:
    """LoRA's two trainable float32 factors ``{prefix}_a`` and ``{prefix}_b``; GPTQ refuses
    them, as Keras does."""
    if q is not None and q.mode == "gptq":
        raise SpecError("Keras does not support LoRA on a GPTQ-quantized layer")
    if q is None:  # a float layer's factors carry no dtype, as its other weights
        return [Weight(f"{prefix}_a", a), Weight(f"{prefix}_b", b)]
    return [variable(f"{prefix}_a", a, "float32", True),
            variable(f"{prefix}_b", b, "float32", True)]


def configured(a: Any, torch: bool) -> Quant | None:
    """The quantization a Keras layer's arguments declare (a PyTorch layer has none)."""
    if torch:
        return None
    return read_quant(a.get("dtype", default=None), a.get("quantization_config", default=None))


def assemble(q: Quant | None, made: list[Weight], bias: tuple[int, ...] | None,
             factors: tuple[str, tuple[int, ...], tuple[int, ...]] | None, frozen: str
             ) -> list[Weight]:
    """A Keras layer's variables in the order it builds them: ``made`` (its kernel or table,
    quantized or not), the bias, then LoRA's factors, which freeze the weight ``frozen``.

    >>> [(w.name, w.trainable) for w in assemble(None, [Weight("kernel", (4, 2))], (2,),
    ...                                           ("lora_kernel", (4, 1), (1, 2)), "kernel")]
    [('kernel', False), ('bias', True), ('lora_kernel_a', True), ('lora_kernel_b', True)]
    """
    out = list(made)
    if bias is not None:
        out.append(Weight("bias", bias) if q is None else q.weight("bias", bias, trainable=True))
    if factors is not None:
        out = [replace(w, trainable=False) if w.name == frozen else w for w in out]
        out += lora(factors[0], q, factors[1], factors[2])
    return out


def reverse_table(q: Quant | None, vocab: int, dim: int) -> list[Weight]:
    """ReversibleEmbedding's own output projection (``tie_weights=False``): a float matrix,
    or int8 and int4 as Keras quantizes it (its int4 zero point in the source dtype)."""
    if q is None:
        return [Weight("reverse_embeddings", (dim, vocab))]
    if q.mode == "int8":
        return [q.weight("reverse_embeddings", (dim, vocab), "int8"),
                q.weight("reverse_embeddings_scale", (vocab,))]
    if q.mode != "int4":
        raise SpecError(f"Keras's ReversibleEmbedding has no {q.mode} quantization")
    groups = q.groups(dim)
    scale = (vocab,) if groups is None else (groups, vocab)
    out = [q.weight("reverse_embeddings", ((dim + 1) // 2, vocab), "int8"),
           q.weight("reverse_embeddings_scale", scale)]
    return out if groups is None else [*out, q.weight("reverse_embeddings_zero", scale)]
