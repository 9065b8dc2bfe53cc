"""FP8 with block scales (DeepSeek-V3's checkpoints, transformers' ``FineGrainedFP8``):
a Linear ``[out, in]`` is stored as it is, one float8_e4m3fn byte a weight, beside a float32
``weight_scale_inv`` of ``[⌈out/128⌉, ⌈in/128⌉]`` (one per ``weight_block_size`` block).

Nothing is packed: the count is the weight's own; the scales are bookkeeping, not parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramcount.errors import SpecError
from paramcount.sources.quant import Packed, Scheme, Settings, Unpacked
from paramcount.sources.tensors import Tensor


def unpack(p: Packed, s: Settings) -> Unpacked | None:
    """A float8 ``weight`` with its scales is itself; any other ``weight`` is not packed.

    >>> w = Tensor("fc.weight", (256, 384), "float8_e4m3fn", 98304)
    >>> sc = Tensor("fc.weight_scale_inv", (2, 3), "float32", 24)
    >>> unpack(Packed(w, {"weight_scale_inv": sc}), Settings(8, None, {})).shape
    (256, 384)
    """
    t = p.tensor
    if not t.dtype.startswith("float8") or not p.extras:
        return None
    scales = p.extras.get("weight_scale_inv")
    block = s.raw.get("weight_block_size")
    if scales is not None and isinstance(block, list) and len(block) == 2 and len(t.shape) == 2:
        want = tuple(-(-d // b) for d, b in zip(t.shape, block, strict=True))
        if scales.shape != want:
            raise SpecError(f"{t.name}: {list(t.shape)} in blocks of {block} needs "
                            f"weight_scale_inv {list(want)}, got {list(scales.shape)}")
    how = f"one {t.dtype} byte a weight, as stored"
    if scales is not None:
        how += f", scales {list(scales.shape)}"
    return Unpacked(t.shape, t.dtype, how, 8, None)


def _settings(qc: Mapping[str, Any]) -> Settings:
    block = qc.get("weight_block_size")
    if block is not None and not (isinstance(block, list) and len(block) == 2
                                  and all(isinstance(b, int) and b > 0 for b in block)):
        raise SpecError(f"quantization_config.weight_block_size={block!r} must be two "
                        "positive integers")
    return Settings(8, None, qc)


def _guess(by_name: Mapping[str, Tensor]) -> bool:
    return any(n.endswith(".weight_scale_inv") and
               by_name.get(n[:-len("_scale_inv")], t).dtype.startswith("float8")
               for n, t in by_name.items())


FP8 = Scheme("fp8", ("fp8",), "weight", ("weight_scale_inv", "input_scale"), "weight", unpack,
             guess=_guess, settings=_settings, marks=("weight_scale_inv",))
