"""GPTQ and AWQ: b-bit integers packed 32/b to an int32 word, with a scale and a zero point
per group of ``group_size`` inputs.

A Linear ``[out, in]`` quantized to b bits is stored (gptqmodel, AutoGPTQ, transformers' GPTQ
integration; the exllama and exllama v2 kernels read the same layout)::

    GPTQ  qweight int32 [in·b/32, out]    qzeros int32 [groups, out·b/32]
          scales  fp16  [groups, out]     g_idx  int32 [in]       (groups = ⌈in/group_size⌉)
    AWQ   qweight int32 [in, out·b/32]    qzeros int32 [groups, out·b/32]   (GEMM, the default)
          scales  fp16  [groups, out]
    AWQ   qweight int32 [out, in·b/32]    scales, qzeros one row per output (GEMV)

so GPTQ packs along the input (rows) and AWQ along the output (columns): without a config the
two are told apart by whether ``qweight`` and ``scales`` have the same number of columns.
"""

from __future__ import annotations

from collections.abc import Mapping

from paramcount.errors import SpecError
from paramcount.sources.quant import Packed, Scheme, Settings, Unpacked, default_settings
from paramcount.sources.tensors import Tensor

WORD = 32  # bits of the int32 a packed row is made of
_BITS = (2, 3, 4, 8)


def _check(t: Tensor, scheme: str) -> tuple[int, int]:
    if t.dtype != "int32" or len(t.shape) != 2:
        raise SpecError(f"{t.name}: a {scheme} qweight is a 2-d int32 tensor, got {t.dtype} "
                        f"{list(t.shape)}")
    return t.shape[0], t.shape[1]


def _unfold(t: Tensor, words: int, bits: int, what: str) -> int:
    """``words`` int32 of ``bits``-bit values: how many values (checked to be whole)."""
    if words * WORD % bits:
        raise SpecError(f"{t.name}: {words} int32 {what} do not hold a whole number of "
                        f"{bits}-bit values")
    return words * WORD // bits


def _inferred_bits(p: Packed, out: int, explicit: int | None) -> int:
    """The config's bits, else those the zero points' width gives (out·b/32), else 4."""
    if explicit is not None:
        return explicit
    zeros = p.extras.get("qzeros")
    if zeros is not None and len(zeros.shape) == 2 and out and \
            zeros.shape[1] * WORD % out == 0 and zeros.shape[1] * WORD // out in _BITS:
        return zeros.shape[1] * WORD // out
    return 4


def _groups(p: Packed, inputs: int, out: int, s: Settings, scheme: str) -> int | None:
    """Checks ``scales`` and ``g_idx`` against the logical shape; the group size."""
    q = p.tensor
    g_idx = p.extras.get("g_idx")
    if g_idx is not None and g_idx.shape != (inputs,):
        raise SpecError(f"{q.name}: {q.shape[0]} rows unpack to {inputs} inputs, but g_idx "
                        f"has {list(g_idx.shape)}: not a {scheme} qweight of this layer")
    scales = p.extras.get("scales")
    if scales is None:
        return s.group_size
    if len(scales.shape) != 2 or scales.shape[1] != out:
        raise SpecError(f"{q.name}: unpacks to {out} outputs, but its scales are "
                        f"{list(scales.shape)}")
    groups = scales.shape[0]
    if s.group_size is not None and groups != -(-inputs // s.group_size):
        raise SpecError(f"{q.name}: {inputs} inputs in groups of {s.group_size} make "
                        f"{-(-inputs // s.group_size)} groups, but its scales have {groups}")
    return s.group_size or (inputs // groups if groups > 1 and inputs % groups == 0 else None)


def unpack_gptq(p: Packed, s: Settings) -> Unpacked:
    """``qweight [in·b/32, out]`` -> ``weight [out, in]``.

    >>> q = Tensor("fc.qweight", (16, 64), "int32", 4096)
    >>> unpack_gptq(Packed(q, {}), Settings(bits=4)).shape
    (64, 128)
    """
    rows, out = _check(p.tensor, "GPTQ")
    bits = _inferred_bits(p, out, s.bits)
    inputs = _unfold(p.tensor, rows, bits, "rows")
    group = _groups(p, inputs, out, s, "GPTQ")
    how = (f"{rows:,} rows × {WORD // bits if WORD % bits == 0 else f'{WORD}/{bits}'} "
           f"{bits}-bit values per int32 = {inputs:,} inputs; weight [{out:,}, {inputs:,}]")
    return Unpacked((out, inputs), f"int{bits}", how, bits, group)


def unpack_awq(p: Packed, s: Settings) -> Unpacked:
    """GEMM ``qweight [in, out·b/32]`` (GEMV ``[out, in·b/32]``) -> ``weight [out, in]``.

    >>> q = Tensor("fc.qweight", (128, 8), "int32", 4096)
    >>> unpack_awq(Packed(q, {}), Settings(bits=4)).shape
    (64, 128)
    """
    rows, cols = _check(p.tensor, "AWQ")
    scales = p.extras.get("scales")
    bits = s.bits or (cols * WORD // scales.shape[1]
                      if scales is not None and len(scales.shape) == 2 and scales.shape[1]
                      and cols * WORD % scales.shape[1] == 0 else 4)
    if bits not in _BITS:
        raise SpecError(f"{p.tensor.name}: its scales {list(scales.shape) if scales else '?'} "
                        f"give {bits}-bit values, not 2, 3, 4 or 8")
    if str(s.raw.get("version", "gemm")).lower() == "gemv":
        inputs, out = _unfold(p.tensor, cols, bits, "columns"), rows
        how = f"{cols:,} columns × {WORD // bits} {bits}-bit values per int32 = {inputs:,} inputs"
        return Unpacked((out, inputs), f"int{bits}", how, bits, s.group_size)
    inputs, out = rows, _unfold(p.tensor, cols, bits, "columns")
    group = _groups(p, inputs, out, s, "AWQ")
    how = (f"{cols:,} columns × {WORD // bits} {bits}-bit values per int32 = {out:,} outputs; "
           f"weight [{out:,}, {inputs:,}]")
    return Unpacked((out, inputs), f"int{bits}", how, bits, group)


def _orientation(by_name: Mapping[str, Tensor]) -> str | None:
    """"gptq" or "awq" from the first ``qweight`` and its ``scales`` (same columns: GPTQ)."""
    for name, q in by_name.items():
        if not name.endswith(".qweight") or len(q.shape) != 2:
            continue
        scales = by_name.get(name[:-len("qweight")] + "scales")
        if scales is None or len(scales.shape) != 2:
            return None
        if q.shape[1] == scales.shape[1]:
            return "gptq"
        return "awq" if q.shape[1] < scales.shape[1] else None
    return None


def _settings(qc: Mapping[str, object]) -> Settings:
    s = default_settings(qc)
    fmt = qc.get("checkpoint_format")
    if isinstance(fmt, str) and fmt.lower() == "marlin":
        raise SpecError("quantization_config.checkpoint_format='marlin' (repacked for the "
                        "Marlin kernel) is not a layout paramcount unpacks")
    return s


_OVERHEAD = ("qzeros", "scales", "g_idx")
GPTQ = Scheme("gptq", ("gptq",), "qweight", _OVERHEAD, "weight", unpack_gptq,
              guess=lambda names: _orientation(names) == "gptq", settings=_settings,
              marks=("qweight",))
AWQ = Scheme("awq", ("awq",), "qweight", _OVERHEAD, "weight", unpack_awq,
             guess=lambda names: _orientation(names) == "awq", marks=("qweight",))
