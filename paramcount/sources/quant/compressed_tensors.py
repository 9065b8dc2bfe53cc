"""compressed-tensors (llm-compressor's checkpoints, ``quant_method: compressed-tensors``).

This module reads the packed formats; the others (``int-quantized``, ``float-quantized``:
a ``weight`` stored as int8 or float8 beside ``weight_scale``) extend it. ``pack-quantized``
(w4a16, w8a16) stores a Linear ``[out, in]`` as b-bit integers packed 32/b to an int32 along
the input, with its true shape kept as data::

    weight_packed      int32  [out, in·b/32]     weight_scale  [out, ⌈in/group⌉]
    weight_shape       int64  [2]  (= [out, in])  weight_zero_point int32 [out·b/32, groups]
                                                  (asymmetric only), weight_g_idx int32 [in]

``nvfp4-pack-quantized`` stores e2m1 pairs in a uint8 ``weight_packed [out, in/2]`` with an
fp8 ``weight_scale [out, in/16]`` and float32 ``weight_global_scale``/``input_global_scale``;
``mxfp4-pack-quantized`` the same pairs with a uint8 (power of two) ``weight_scale [out, in/32]``.

``int-quantized`` (w8a8) and ``float-quantized`` (fp8) keep the weight's name and shape: a
``weight`` of int8 or float8_e4m3fn beside ``weight_scale`` ``[out, 1]`` (per channel) or
``[1]`` (per tensor), and ``input_scale [1]`` when activations have a static scale. All of these
were written by compressed-tensors 0.20.1 on CPU (``apply_quantization_config``, then
``ModelCompressor.compress_model``) in the tests.

The bits come from ``config_groups`` (``weights.num_bits``); when groups differ (mixed-bit
checkpoints), each tensor's own ``weight_shape`` is read (16 bytes) to know its width.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramcount.errors import SpecError
from paramcount.sources.quant import Packed, Scheme, Settings, Unpacked, nvfp4
from paramcount.sources.tensors import Tensor

WORD = 32
MX_GROUP = 32  # mxfp4-pack-quantized: one scale per 32 inputs
_STORED = ("int8", "uint8", "float8_e4m3fn", "float8_e5m2")


def unpack(p: Packed, s: Settings) -> Unpacked | None:
    """``weight_packed int32 [out, in·b/32]`` -> ``weight [out, in]``.

    >>> w = Tensor("fc.weight_packed", (64, 16), "int32", 4096)
    >>> unpack(Packed(w, {}), Settings(4, 128, {})).shape
    (64, 128)
    """
    t = p.tensor
    if not t.name.endswith("weight_packed"):
        return _as_stored(p, s)
    if t.dtype == "uint8" and s.group_size == MX_GROUP:
        return _mxfp4(p)
    if t.dtype == "uint8":
        return nvfp4.unpack_fp4(p, "weight_scale")
    if t.dtype != "int32" or len(t.shape) != 2:
        raise SpecError(f"{t.name}: pack-quantized weights are int32 [out, in·bits/32], got "
                        f"{t.dtype} {list(t.shape)}")
    out, words = t.shape
    bits = s.bits or _bits_from_shape(p, s, words)
    if words * WORD % bits:
        raise SpecError(f"{t.name}: {words} int32 columns do not hold whole {bits}-bit values")
    inputs = words * WORD // bits
    scale = p.extras.get("weight_scale")
    if scale is not None and s.group_size and (len(scale.shape) != 2 or scale.shape !=
                                               (out, -(-inputs // s.group_size))):
        raise SpecError(f"{t.name}: [{out}, {inputs}] in groups of {s.group_size} needs "
                        f"weight_scale [{out}, {-(-inputs // s.group_size)}], got "
                        f"{list(scale.shape)}")
    how = (f"{words:,} columns × {WORD // bits if WORD % bits == 0 else f'{WORD}/{bits}'} "
           f"{bits}-bit values per int32 = {inputs:,} inputs; weight [{out:,}, {inputs:,}]")
    return Unpacked((out, inputs), f"int{bits}", how, bits, s.group_size)


def _as_stored(p: Packed, s: Settings) -> Unpacked | None:
    """int-quantized and float-quantized: the weight as stored, when a scale is beside it."""
    t = p.tensor
    if "weight_scale" not in p.extras or t.dtype not in _STORED:
        return None
    bits = 8 if t.dtype.startswith("float8") else s.bits or 8
    label = t.dtype if t.dtype.startswith("float8") else f"int{bits}"
    return Unpacked(t.shape, label, f"{t.dtype} {list(t.shape)} as stored", bits, s.group_size)


def _mxfp4(p: Packed) -> Unpacked:
    """Two e2m1 values a byte, one power-of-two uint8 scale per 32 inputs."""
    return nvfp4.unpack_fp4(p, "weight_scale", MX_GROUP, "MXFP4")


def _bits_from_shape(p: Packed, s: Settings, words: int) -> int:
    """The width a tensor's ``weight_shape`` data gives (mixed-bit checkpoints), else 4."""
    shape_t = p.extras.get("weight_shape")
    if shape_t is None or s.read is None or shape_t.nbytes != 16:
        return 4
    raw = s.read(shape_t)
    inputs = int.from_bytes(raw[8:16], "little", signed=True)
    if inputs <= 0 or words * WORD % inputs or words * WORD // inputs not in (2, 3, 4, 8):
        raise SpecError(f"{p.tensor.name}: {words} int32 columns do not pack the {inputs} "
                        f"inputs its weight_shape says")
    return words * WORD // inputs


def _settings(qc: Mapping[str, Any]) -> Settings:
    groups = qc.get("config_groups")
    found = [g.get("weights") for g in groups.values() if isinstance(g, Mapping)] \
        if isinstance(groups, Mapping) else []
    weights: list[Mapping[str, Any]] = [w for w in found if isinstance(w, Mapping)]
    bits = {w.get("num_bits") for w in weights}
    sizes = {w.get("group_size") for w in weights}
    for b in bits:
        if b is not None and (isinstance(b, bool) or b not in (2, 3, 4, 8)):
            raise SpecError(f"quantization_config.config_groups: num_bits={b!r} must be one "
                            "of 2, 3, 4, 8")
    one_bits = bits.pop() if len(bits) == 1 else None
    one_size = sizes.pop() if len(sizes) == 1 else None
    return Settings(one_bits, one_size if isinstance(one_size, int) and one_size > 0 else None,
                    qc)


def _guess(by_name: Mapping[str, Tensor]) -> bool:
    return any(n.endswith(".weight_packed") for n in by_name)


COMPRESSED_TENSORS = Scheme(
    "compressed-tensors", ("compressed-tensors",), ("weight_packed", "weight"),
    ("weight_scale", "weight_zero_point", "weight_shape", "weight_g_idx", "weight_global_scale",
     "input_global_scale", "input_scale", "input_zero_point"), "weight", unpack, guess=_guess,
    settings=_settings, marks=("weight_packed",))
