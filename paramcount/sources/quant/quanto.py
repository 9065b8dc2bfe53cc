"""optimum-quanto: a quantized Linear's weight saved as the inner tensors of quanto's QTensor,
as ``QuantizedModelForCausalLM.save_pretrained`` writes them (beside ``quanto_qmap.json``;
the config.json carries no quantization_config, so the scheme is recognised by its names).

A Linear ``[out, in]`` saved by optimum-quanto 0.2.7 on CPU::

    qint8, qfloat8   weight._data        int8 / float8_e4m3fn [out, in]   the values
                     weight._scale       f32 [out, 1]                     a scale per row
    qint4, qint2     weight._data._data  uint8 [⌈rows·b/8⌉, cols]         packed along rows
                     weight._scale       f32 [rows, 1]
                     weight._shift       f32 [rows, 1]                    zero points
    every module     input_scale, output_scale   f32 []   activation scales (unused when only
                                                          weights are quantized)

With b = 4 or 2 the weight is grouped first: ``[out, in]`` becomes ``[out·in/128, 128]``
when ``in`` is a multiple of 128 (else it stays ``[out, in]``), so ``rows × cols`` is the
count, and the shape is the grouped one: quanto keeps no record of ``out`` apart.
"""

from __future__ import annotations

from collections.abc import Mapping

from paramcount.errors import SpecError
from paramcount.sources.quant import Packed, Scheme, Settings, Unpacked
from paramcount.sources.tensors import Tensor

PLAIN, PACKED = "weight._data", "weight._data._data"
_DTYPES = {"int8": "int8", "float8_e4m3fn": "float8_e4m3fn", "float8_e5m2": "float8_e5m2"}


def unpack(p: Packed, s: Settings) -> Unpacked | None:
    """``_data`` as stored (8-bit) or unpacked (4- and 2-bit) -> the weight.

    >>> data = Tensor("fc.weight._data._data", (32, 128), "uint8", 4096)
    >>> scale = Tensor("fc.weight._scale", (64, 1), "float32", 256)
    >>> unpack(Packed(data, {"weight._scale": scale}), Settings()).shape
    (64, 128)
    """
    t, scale = p.tensor, p.extras.get("weight._scale")
    if scale is None:
        raise SpecError(f"{t.name}: a quanto weight has a weight._scale beside it")
    rows = scale.shape[0] if len(scale.shape) == 2 and scale.shape[1] == 1 else None
    if t.name.endswith(PACKED):
        return _packed(t, rows)
    if t.dtype not in _DTYPES or len(t.shape) != 2 or rows != t.shape[0]:
        raise SpecError(f"{t.name}: a quanto qint8/qfloat8 weight is [out, in] with a scale "
                        f"[out, 1]; got {t.dtype} {list(t.shape)}, scale {list(scale.shape)}")
    return Unpacked(t.shape, _DTYPES[t.dtype], f"{t.dtype} {list(t.shape)} as stored", bits=8)


def _packed(t: Tensor, rows: int | None) -> Unpacked:
    """uint8 rows hold 8/b values each along the first axis, padded to a whole byte."""
    bits = next((b for b in (4, 2) if rows and len(t.shape) == 2 and t.dtype == "uint8"
                 and -(-rows * b // 8) == t.shape[0]), None)
    if bits is None or rows is None:
        raise SpecError(f"{t.name}: uint8 {list(t.shape)} packs neither 4- nor 2-bit values "
                        f"of the {rows} rows its scale has")
    shape = (rows, t.shape[1])
    how = f"{t.shape[0]:,} rows × {8 // bits} values a byte, {rows:,} rows (its scale's)"
    return Unpacked(shape, f"int{bits}", how, bits=bits)


def guess(by_name: Mapping[str, Tensor]) -> bool:
    return any(n.endswith(("." + PLAIN, "." + PACKED)) for n in by_name)


QUANTO = Scheme("quanto", ("quanto",), (PACKED, PLAIN),
                ("weight._scale", "weight._shift", "input_scale", "output_scale"),
                "weight", unpack, guess, marks=("_data",))
