"""torchao: the tensor subclasses a ``TorchAoConfig`` puts in a Linear, flattened into
safetensors by torchao's ``flatten_tensor_state_dict`` (what transformers' ``save_pretrained``
writes; the file's metadata keeps each weight's subclass as JSON under its original name).

A Linear ``[out, in]``'s ``weight`` becomes ``_weight_<attribute>`` tensors beside it; written
by torchao 0.18 on CPU::

    Int8WeightOnlyConfig, Int8DynamicActivationInt8WeightConfig   (Int8Tensor)
        _weight_qdata int8 [out, in]    _weight_scale f32 [out, 1]    _weight_zero_point int8
    IntxWeightOnlyConfig(int4 ... int1), Int8DynamicActivationIntxWeightConfig
        (IntxUnpackedToInt8Tensor: one int8 a value, however few bits)
        _weight_qdata int8 [out, in]    _weight_scale, _weight_zero_point [out, in/group]
    Float8WeightOnlyConfig   (Float8Tensor)
        _weight_qdata float8_e4m3fn [out, in]    _weight_scale f32 [out, 1]

``Int4WeightOnlyConfig`` needs CUDA kernels (mslk) to quantize; by torchao's docstrings its
``Int4Tensor`` packs two values a byte along the last axis (``[out, in/2]``) and
``Int4PlainInt32Tensor`` eight an int32 (``[out, in/8]``), both unpacked here; the
tile-packed 4-d layout is refused by name. ``Float8DynamicActivationFloat8WeightConfig`` does
not quantize on CPU.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from paramcount.errors import SpecError
from paramcount.sources.quant import Packed, Scheme, Settings, Unpacked
from paramcount.sources.tensors import Tensor

QDATA = "._weight_qdata"
OVERHEAD = tuple(f"._weight_{a}" for a in ("scale", "zero_point", "scale_and_zero",
                                           "per_tensor_scale", "act_pre_scale"))
_UNPACKED = ("Intx", "Int8DynamicActivationIntx")  # configs that keep an int8 a value
_FLOAT8 = ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz")


def unpack(p: Packed, s: Settings) -> Unpacked | None:
    """``_weight_qdata`` -> ``weight``: as stored, or two (uint8) or eight (int32) 4-bit
    values an element along the last axis.

    >>> q = Tensor("fc._weight_qdata", (64, 128), "int8", 8192)
    >>> unpack(Packed(q, {}), Settings(bits=8)).shape
    (64, 128)
    """
    t = p.tensor
    if len(t.shape) == 4:
        raise SpecError(f"{t.name}: torchao's tile-packed int4 layout (4-d qdata) is not "
                        "unpacked by paramcount")
    if t.dtype in _FLOAT8:
        return Unpacked(t.shape, t.dtype, f"{t.dtype} {list(t.shape)} as stored", bits=8)
    # Int4Tensor packs; IntxUnpackedToInt8Tensor keeps one int8 a 4-bit value
    per = {"int32": 8, "uint8": 2, "int8": 2}.get(t.dtype) if s.bits == 4 and \
        not _config_type(s.raw).startswith(_UNPACKED) else None
    if t.dtype == "int32" or per == 2:
        if per is None or not t.shape:
            raise SpecError(f"{t.name}: int32 qdata is torchao's int4 layout only under an "
                            "Int4WeightOnlyConfig, which the config does not name")
        shape = (*t.shape[:-1], t.shape[-1] * per)
        return Unpacked(shape, "int4", f"{t.dtype} {list(t.shape)}: last axis × {per} values "
                        "an element", bits=4, group_size=s.group_size)
    if t.dtype not in ("int8", "uint8"):
        raise SpecError(f"{t.name}: torchao qdata of dtype {t.dtype} is not a layout "
                        "paramcount knows")
    bits = s.bits or 8
    return Unpacked(t.shape, f"int{bits}", f"{t.dtype} {list(t.shape)}, one value an element",
                    bits=bits, group_size=s.group_size)


def settings(qc: Mapping[str, Any]) -> Settings:
    """Bits and group size from the config transformers wrote: ``quant_type`` as torchao's
    JSON (``{"default": {"_type": "IntxWeightOnlyConfig", "_data": {...}}}``) or an older
    name (``"int4_weight_only"`` with ``quant_type_kwargs``)."""
    quant = qc.get("quant_type")
    if isinstance(quant, str):
        kwargs = qc.get("quant_type_kwargs") or {}
        digits = re.search(r"int(\d)", quant)
        return Settings(int(digits.group(1)) if digits else None, kwargs.get("group_size"), qc)
    default = quant.get("default") if isinstance(quant, Mapping) else None
    if not isinstance(default, Mapping):
        return Settings(None, None, qc)
    data = default.get("_data") or {}
    weight_dtype = _value(data.get("weight_dtype")) or ""
    return Settings(_bits(_config_type(qc), str(weight_dtype)), _group(data), qc)


def _config_type(qc: Mapping[str, Any]) -> str:
    """The torchao config's class name (``Int8WeightOnlyConfig``), or ``""``."""
    quant = qc.get("quant_type")
    default = quant.get("default") if isinstance(quant, Mapping) else None
    return str(default.get("_type", "")) if isinstance(default, Mapping) else ""


def _value(doc: Any) -> Any:
    return doc.get("_data") if isinstance(doc, Mapping) else doc


def _bits(kind: str, weight_dtype: str) -> int | None:
    digits = re.fullmatch(r"u?int(\d)", weight_dtype)
    if digits:
        return int(digits.group(1))
    if kind.startswith("Int4"):
        return 4
    if kind.startswith(("Int8", "Float8")) or weight_dtype.startswith("float8"):
        return 8
    return None


def _group(data: Mapping[str, Any]) -> int | None:
    for key in ("granularity", "weight_granularity"):
        granularity = data.get(key)
        if isinstance(granularity, Mapping) and granularity.get("_type") == "PerGroup":
            size = (granularity.get("_data") or {}).get("group_size")
            return size if isinstance(size, int) and not isinstance(size, bool) else None
    size = data.get("group_size")
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def guess(by_name: Mapping[str, Tensor]) -> bool:
    return any(n.endswith(QDATA) for n in by_name)


TORCHAO = Scheme("torchao", ("torchao",), QDATA, OVERHEAD, ".weight", unpack, guess, settings,
                   marks=(QDATA[1:],))
