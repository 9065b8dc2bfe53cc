"""MLX (mlx-lm's ``mlx_lm.convert -q``): affine b-bit quantization in groups along the input.

A Linear or Embedding ``[out, in]`` becomes three tensors at the module's path::

    weight  uint32      [out, in·b/32]   b-bit values packed along the input
    scales  fp16/bf16   [out, in/group]
    biases  fp16/bf16   [out, in/group]  (the group's offset: bookkeeping, not the layer bias)

and ``config.json`` says ``"quantization": {"group_size": 64, "bits": 4}``, with per-module
entries (``"model.layers.0.mlp.gate": {"group_size": 64, "bits": 8}``) for mixed recipes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramcount.errors import SpecError
from paramcount.sources.quant import Packed, Scheme, Settings, Unpacked
from paramcount.sources.tensors import Tensor

WORD = 32
BITS = (2, 3, 4, 5, 6, 8)
GROUP = 64  # mlx-lm's default


def unpack(p: Packed, s: Settings) -> Unpacked | None:
    """``weight uint32 [out, in·b/32]`` with ``scales [out, in/group]`` -> ``[out, in]``.

    >>> w = Tensor("fc.weight", (64, 16), "uint32", 4096)
    >>> sc = Tensor("fc.scales", (64, 2), "float16", 256)
    >>> unpack(Packed(w, {"scales": sc}), Settings(4, 64, {})).shape
    (64, 128)
    """
    t = p.tensor
    scales = p.extras.get("scales")
    if t.dtype != "uint32" or scales is None:
        return None
    own = s.raw.get(t.name.rsplit(".", 1)[0])  # a per-module entry
    bits = own.get("bits") if isinstance(own, Mapping) else s.bits
    group = (own.get("group_size") if isinstance(own, Mapping) else s.group_size) or GROUP
    words = t.shape[-1]
    inputs = scales.shape[-1] * group
    if bits is None:
        bits = words * WORD // inputs if inputs and words * WORD % inputs == 0 else 0
    if bits not in BITS or words * WORD != inputs * bits:
        raise SpecError(f"{t.name}: {words} uint32 columns and {scales.shape[-1]} groups of "
                        f"{group} do not make {bits}-bit values ({', '.join(map(str, BITS))})")
    shape = (*t.shape[:-1], inputs)
    how = (f"{words:,} columns × {WORD}/{bits} values per uint32 = {inputs:,} inputs "
           f"({scales.shape[-1]:,} groups of {group}); weight {list(shape)}")
    return Unpacked(shape, f"int{bits}", how, bits, group)


def _settings(qc: Mapping[str, Any]) -> Settings:
    bits, group = qc.get("bits"), qc.get("group_size")
    if bits is not None and bits not in BITS:
        raise SpecError(f"quantization.bits={bits!r} must be one of "
                        f"{', '.join(map(str, BITS))}")
    if group is not None and (not isinstance(group, int) or group <= 0):
        raise SpecError(f"quantization.group_size={group!r} must be a positive integer")
    return Settings(bits, group, qc)


def _guess(by_name: Mapping[str, Tensor]) -> bool:
    return any(n.endswith(".biases") and n[:-len("biases")] + "scales" in by_name
               and by_name.get(n[:-len("biases")] + "weight", t).dtype == "uint32"
               for n, t in by_name.items())


MLX = Scheme("mlx", ("mlx",), "weight", ("scales", "biases"), "weight", unpack, guess=_guess,
             settings=_settings, marks=("biases",))
