"""How each quantization format stores one Linear weight of ``[out, in]`` values: the tensors it
writes, by name, dtype and shape, as the format's own code declares them.

The bytes of a quantized model are the bytes of these tensors, scales and zero points included:
a 4-bit GPTQ weight is not half a byte per parameter but ``qweight`` (``in·bits/32`` int32 rows
of ``out``), ``qzeros`` and ``scales`` (one row per group of ``in``) and ``g_idx`` (an int32 per
input feature). The shapes follow:

- GPTQ: auto-gptq's and gptqmodel's ``QuantLinear`` buffers (``qweight`` int32
  ``[in/32·bits, out]``, ``qzeros`` int32 ``[⌈in/group⌉, out/32·bits]``, ``scales`` float16
  ``[⌈in/group⌉, out]``, ``g_idx`` int32 ``[in]``, registered whether or not ``desc_act``);
- AWQ: AutoAWQ's GEMM ``WQLinear`` (``qweight`` int32 ``[in, out/8]``, ``qzeros`` int32
  ``[in/group, out/8]``, ``scales`` float16 ``[in/group, out]``);
- bitsandbytes: ``Linear4bit``'s state dict (``weight`` uint8 ``[⌈n/2⌉, 1]``, ``absmax`` float32
  per block of 64, ``quant_map`` 16 float32; double quantization: ``absmax`` uint8 per block,
  ``nested_absmax`` float32 per 256 blocks, ``nested_quant_map`` 256 float32) and
  ``Linear8bitLt``'s (``weight`` int8, ``SCB`` float32 per row, ``weight_format`` one uint8);
  the JSON ``quant_state.bitsandbytes__nf4`` blob a checkpoint adds is metadata, not GPU memory;
- FP8: a float8_e4m3fn weight with one float32 scale per tensor, per row, or per
  ``block`` (DeepSeek-V3's ``weight_scale_inv`` of ``[⌈out/128⌉, ⌈in/128⌉]``);
- MXFP4 (gpt-oss): ``_blocks`` uint8 ``[out, in/32, 16]`` (two values a byte) and ``_scales``
  uint8 ``[out, in/32]`` (one e8m0 exponent per 32 values): 4.25 bits per weight;
- NVFP4 (compressed-tensors, modelopt): ``weight_packed`` uint8 ``[out, in/2]``, ``weight_scale``
  float8_e4m3fn ``[out, in/16]``, ``weight_global_scale`` and ``input_global_scale`` float32;
- compressed-tensors' pack-quantized (w4a16): ``weight_packed`` int32 ``[out, in·bits/32]``,
  ``weight_scale`` ``[out, groups]`` in the model's dtype, ``weight_zero_point`` int32
  ``[out·bits/32, groups]`` when asymmetric, ``weight_shape`` int64 ``[2]``;
- GGUF's block types (Q4_K, ...): one tensor of ``[out, in]`` at the type's bytes per block.

>>> [(t.name, t.dtype, t.shape) for t in tensors(Layout("gptq", 4, 128), 256, 512)]
... # doctest: +NORMALIZE_WHITESPACE
[('qweight', 'int32', (64, 256)), ('qzeros', 'int32', (4, 32)), ('scales', 'float16', (4, 256)),
 ('g_idx', 'int32', (512,))]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from paramcount.dtypes import DTYPE_BYTES
from paramcount.errors import SpecError


@dataclass(frozen=True)
class Stored:
    """One tensor a format writes for a Linear weight."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        from paramcount.memory.weights import nbytes

        return nbytes(math.prod(self.shape), self.dtype)


@dataclass(frozen=True)
class Layout:
    """How a scheme stores a weight: its bits, its group along ``in`` (None: none; -1: the whole
    row), a ``block`` of ``(rows, columns)`` for block scales, per-row scales (``channel``), the
    scales' dtype where the format takes the model's, zero points and a static input scale."""

    scheme: str
    bits: int
    group: int | None = None
    block: tuple[int, int] | None = None
    channel: bool = False
    scale_dtype: str = "float16"
    zero_points: bool = False
    input_scale: bool = False
    double_quant: bool = False
    #: a GGUF block type (Q4_K, ...), for the ``gguf`` scheme
    gguf_type: str = ""


def _words(values: int, bits: int) -> int:
    """int32 words that hold ``values`` of ``bits`` bits."""
    return math.ceil(values * bits / 32)


def _groups(q: Layout, cols: int) -> int:
    return 1 if q.group in (None, -1) else math.ceil(cols / q.group)


def _gptq(q: Layout, out: int, cols: int) -> list[Stored]:
    g = _groups(q, cols)
    return [Stored("qweight", "int32", (_words(cols, q.bits), out)),
            Stored("qzeros", "int32", (g, _words(out, q.bits))),
            Stored("scales", "float16", (g, out)),
            Stored("g_idx", "int32", (cols,))]


def _awq(q: Layout, out: int, cols: int) -> list[Stored]:
    g = _groups(q, cols)
    return [Stored("qweight", "int32", (cols, _words(out, q.bits))),
            Stored("qzeros", "int32", (g, _words(out, q.bits))),
            Stored("scales", "float16", (g, out))]


def _bnb4(q: Layout, out: int, cols: int) -> list[Stored]:
    n, block = out * cols, q.group or 64
    blocks = math.ceil(n / block)
    packed = [Stored("weight", "uint8", (math.ceil(n / 2), 1))]
    if not q.double_quant:
        return [*packed, Stored("absmax", "float32", (blocks,)),
                Stored("quant_map", "float32", (16,))]
    return [*packed, Stored("absmax", "uint8", (blocks,)), Stored("quant_map", "float32", (16,)),
            Stored("nested_absmax", "float32", (math.ceil(blocks / 256),)),
            Stored("nested_quant_map", "float32", (256,))]


def _bnb8(q: Layout, out: int, cols: int) -> list[Stored]:
    return [Stored("weight", "int8", (out, cols)), Stored("SCB", "float32", (out,)),
            Stored("weight_format", "uint8", ())]


def _scale_shape(q: Layout, out: int, cols: int) -> tuple[int, ...]:
    if q.block is not None:
        return (math.ceil(out / q.block[0]), math.ceil(cols / q.block[1]))
    if q.group not in (None, -1):
        return (out, _groups(q, cols))
    return (out, 1) if q.channel else (1,)


def _fp8(q: Layout, out: int, cols: int) -> list[Stored]:
    scale = "weight_scale_inv" if q.block is not None else "weight_scale"
    out_ = [Stored("weight", "float8_e4m3fn", (out, cols)),
            Stored(scale, q.scale_dtype, _scale_shape(q, out, cols))]
    return out_ + ([Stored("input_scale", q.scale_dtype, (1,))] if q.input_scale else [])


def _mxfp4(q: Layout, out: int, cols: int) -> list[Stored]:
    blocks = math.ceil(cols / 32)
    return [Stored("blocks", "uint8", (out, blocks, 16)), Stored("scales", "uint8", (out, blocks))]


def _nvfp4(q: Layout, out: int, cols: int) -> list[Stored]:
    return [Stored("weight_packed", "uint8", (out, math.ceil(cols / 2))),
            Stored("weight_scale", "float8_e4m3fn", (out, math.ceil(cols / 16))),
            Stored("weight_global_scale", "float32", (1,)),
            Stored("input_global_scale", "float32", (1,))]


def _packed(q: Layout, out: int, cols: int) -> list[Stored]:
    shape = _scale_shape(q, out, cols)
    out_ = [Stored("weight_packed", "int32", (out, _words(cols, q.bits))),
            Stored("weight_scale", q.scale_dtype, shape)]
    if q.zero_points:
        out_.append(Stored("weight_zero_point", "int32", (_words(out, q.bits), shape[-1])))
    return [*out_, Stored("weight_shape", "int64", (2,))]


def _int8(q: Layout, out: int, cols: int) -> list[Stored]:
    shape = _scale_shape(q, out, cols)
    out_ = [Stored("weight", "int8", (out, cols)), Stored("weight_scale", q.scale_dtype, shape)]
    if q.zero_points:
        out_.append(Stored("weight_zero_point", "int8", shape))
    return out_ + ([Stored("input_scale", q.scale_dtype, (1,))] if q.input_scale else [])


def _gguf(q: Layout, out: int, cols: int) -> list[Stored]:
    return [Stored("weight", q.gguf_type, (out, cols))]


@dataclass(frozen=True)
class Scheme:
    """A storage format: its tensors for a weight, the bits it takes, its default group, and
    which kinds of weight it quantizes (the others keep a float dtype)."""

    name: str
    text: str
    tensors: Callable[[Layout, int, int], list[Stored]]
    bits: tuple[int, ...]
    group: int | None = None
    #: True when ``--group-size`` may change the group
    grouped: bool = False
    quantizes: frozenset[str] = frozenset({"linear", "experts"})
    #: the dtype of what it keeps: None for the model's own
    keeps_in: str | None = None


#: every scheme ``--scheme`` names and a ``quantization_config`` resolves to
SCHEMES: dict[str, Scheme] = {s.name: s for s in (
    Scheme("gptq", "GPTQ (auto-gptq / gptqmodel)", _gptq, (2, 3, 4, 8), 128, True),
    Scheme("awq", "AWQ (AutoAWQ GEMM)", _awq, (4,), 128, True),
    Scheme("nf4", "bitsandbytes 4-bit NormalFloat", _bnb4, (4,), 64, True),
    Scheme("fp4", "bitsandbytes 4-bit float", _bnb4, (4,), 64, True),
    Scheme("int8", "bitsandbytes LLM.int8()", _bnb8, (8,)),
    Scheme("fp8", "FP8 e4m3", _fp8, (8,)),
    Scheme("mxfp4", "MXFP4 (OCP microscaling, gpt-oss)", _mxfp4, (4,), 32),
    Scheme("nvfp4", "NVFP4 (compressed-tensors, modelopt)", _nvfp4, (4,), 16),
    Scheme("packed", "compressed-tensors pack-quantized", _packed, (2, 3, 4, 8), 128, True),
    Scheme("int", "compressed-tensors int-quantized", _int8, (8,)),
    # llama.cpp quantizes every 2-D weight but the MoE router; 1-D ones stay float32
    Scheme("gguf", "GGUF block quantization", _gguf, (0,),
           quantizes=frozenset({"linear", "experts", "embedding", "head"}),
           keeps_in="float32"),
)}

#: the schemes ``--scheme`` offers (the others come from a quantization_config)
CLI_SCHEMES = ("gptq", "awq", "nf4", "fp4", "int8", "fp8", "mxfp4", "nvfp4")

#: ``--dtype`` names that give a scheme its bits
DTYPE_BITS = {"int2": 2, "int3": 3, "int4": 4, "uint4": 4, "int8": 8, "uint8": 8, "float8": 8,
              "fp8": 8, "float8_e4m3fn": 8, "nf4": 4, "fp4": 4, "float4_e2m1": 4,
              "mxfp4": 4, "nvfp4": 4}


def is_gguf(dtype: str) -> bool:
    """Whether ``dtype`` is one of GGUF's block types (Q4_K, IQ2_XS, ...).

    >>> is_gguf("Q4_K"), is_gguf("int4")
    (True, False)
    """
    return dtype in DTYPE_BYTES and dtype[:1] in "QIT" and dtype[1:2] in "0123456789Q"


def scheme(name: str) -> Scheme:
    try:
        return SCHEMES[name.lower()]
    except KeyError:
        raise SpecError(f"unknown --scheme {name!r}; known: {', '.join(CLI_SCHEMES)}") from None


def check_bits(s: Scheme, bits: int, field: str) -> None:
    """Bits the scheme stores, or one line naming the field that asked for others."""
    if bits not in s.bits:
        allowed = ", ".join(map(str, s.bits))
        raise SpecError(f"{field}={bits}: {s.name} stores {allowed}-bit weights, not {bits}")


def tensors(q: Layout, out: int, cols: int) -> list[Stored]:
    """The tensors scheme ``q`` writes for a Linear weight of ``[out, cols]`` values."""
    return SCHEMES[q.scheme].tensors(q, out, cols)


def linear_bytes(q: Layout, out: int, cols: int) -> int:
    """Bytes of those tensors.

    >>> linear_bytes(Layout("mxfp4", 4), 2880, 2880) * 8 / (2880 * 2880)
    4.25
    """
    return sum(t.nbytes for t in tensors(q, out, cols))
