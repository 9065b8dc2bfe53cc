"""NVIDIA ModelOpt checkpoints (``quant_method: modelopt``): NVFP4 and FP8.

NVFP4 stores a Linear ``[out, in]`` as e2m1 values two a byte, one float8_e4m3fn scale per 16
values, and a float32 second-level scale per tensor::

    weight          uint8          [out, in/2]
    weight_scale    float8_e4m3fn  [out, in/16]
    weight_scale_2  float32        []          input_scale float32 []

FP8 (``quant_algo: FP8``) stores the weight as float8 with a per-tensor ``weight_scale``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramcount.errors import SpecError
from paramcount.sources.quant import Packed, Scheme, Settings, Unpacked
from paramcount.sources.tensors import Tensor

GROUP = 16  # values per fp8 scale


def unpack(p: Packed, s: Settings) -> Unpacked | None:
    """``weight uint8 [out, in/2]`` -> ``[out, in]``; a float8 weight is itself.

    >>> w = Tensor("fc.weight", (64, 64), "uint8", 4096)
    >>> sc = Tensor("fc.weight_scale", (64, 8), "float8_e4m3fn", 512)
    >>> unpack(Packed(w, {"weight_scale": sc}), Settings()).shape
    (64, 128)
    """
    t = p.tensor
    if "weight_scale" not in p.extras:
        return None
    if t.dtype.startswith("float8"):
        return Unpacked(t.shape, t.dtype, f"one {t.dtype} byte a weight, as stored", 8, None)
    return unpack_fp4(p, "weight_scale")


def unpack_fp4(p: Packed, scale_name: str, group: int = GROUP, label: str = "NVFP4"
               ) -> Unpacked:
    """Two e2m1 values a byte, one scale per ``group`` inputs: NVFP4's fp8 scale per 16 (also
    compressed-tensors' nvfp4), MXFP4's power-of-two scale per 32."""
    t = p.tensor
    if t.dtype != "uint8" or len(t.shape) < 2:
        raise SpecError(f"{t.name}: {label} weights are uint8 [out, in/2], got {t.dtype} "
                        f"{list(t.shape)}")
    shape = (*t.shape[:-1], t.shape[-1] * 2)
    scales = p.extras.get(scale_name)
    if scales is not None and (shape[-1] % group or
                               scales.shape != (*shape[:-1], shape[-1] // group)):
        raise SpecError(f"{t.name}: {shape[-1]:,} inputs need one scale per {group}, but its "
                        f"{scale_name} is {list(scales.shape)}")
    how = f"{t.shape[-1]:,} bytes × 2 e2m1 values = {shape[-1]:,} inputs; weight {list(shape)}"
    return Unpacked(shape, label, how, 4, group)


def _settings(qc: Mapping[str, Any]) -> Settings:
    algo = str(qc.get("quant_algo", "")).upper()
    if algo not in ("NVFP4", "FP8", ""):
        raise SpecError(f"quantization_config.quant_algo={qc.get('quant_algo')!r} is not one "
                        "paramcount unpacks (NVFP4, FP8)")
    return Settings(8 if algo == "FP8" else 4, None if algo == "FP8" else GROUP, qc)


def _guess(by_name: Mapping[str, Tensor]) -> bool:
    return any(n.endswith(".weight_scale_2") for n in by_name)


MODELOPT = Scheme("modelopt", ("modelopt",), "weight",
                  ("weight_scale", "weight_scale_2", "input_scale"), "weight", unpack,
                  guess=_guess, settings=_settings, marks=("weight_scale_2",))
