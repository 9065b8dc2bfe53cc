"""bitsandbytes: 4-bit NF4/FP4 (two values a byte, an absmax per block) and 8-bit LLM.int8()
(one int8 a value, a scale per row), as transformers' ``save_pretrained`` writes them.

A Linear ``[out, in]`` saved by bitsandbytes 0.50 (``BitsAndBytesConfig``)::

    4-bit  weight      uint8 [out·in/2, 1]   the values, two a byte, flattened
           weight.absmax            f32 [blocks]   one per block of 64 values (blocksize)
           weight.quant_map         f32 [16]       the code book (NF4 or FP4 levels)
           weight.quant_state.bitsandbytes__nf4  uint8 [~80]   JSON: quant_type, blocksize,
                                    dtype and the true ``shape`` [out, in]
    double quantization (bnb_4bit_use_double_quant): absmax becomes uint8 and
           weight.nested_absmax f32 [blocks/256], weight.nested_quant_map f32 [256] join
    8-bit  weight      int8  [out, in]       the values
           SCB         f32   [out]           a scale per row
           weight_format uint8 []            the layout's tag

``bnb_4bit_quant_storage`` may store the 4-bit bytes as another dtype (bf16 for FSDP): the
count is the same, two values a byte. The true shape is read from the JSON when the reader can
read a small tensor's bytes; otherwise it is ``out·in`` flat, from the byte count.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from paramcount.errors import SpecError
from paramcount.sources.quant import Packed, Scheme, Settings, Unpacked
from paramcount.sources.tensors import Tensor

STATES = {"weight.quant_state.bitsandbytes__nf4": "nf4",
          "weight.quant_state.bitsandbytes__fp4": "fp4"}
FOUR_BIT = ("weight.absmax", "weight.quant_map", "weight.nested_absmax",
            "weight.nested_quant_map", *STATES)
EIGHT_BIT = ("SCB", "weight_format")


def unpack(p: Packed, s: Settings) -> Unpacked | None:
    """The 4-bit bytes or the 8-bit matrix -> the weight; a float weight -> None.

    >>> w = Tensor("fc.weight", (4096, 1), "uint8", 4096)
    >>> absmax = Tensor("fc.weight.absmax", (128,), "float32", 512)
    >>> unpack(Packed(w, {"weight.absmax": absmax}), Settings()).shape
    (8192,)
    """
    state = next((k for k in STATES if k in p.extras), None)
    if state is not None or "weight.absmax" in p.extras:
        return _four_bit(p, s, state)
    if "SCB" in p.extras:
        return _eight_bit(p)
    return None


def _four_bit(p: Packed, s: Settings, state: str | None) -> Unpacked:
    t = p.tensor
    doc = _state(p.extras[state], s) if state is not None else {}
    shape = tuple(doc.get("shape") or (2 * t.nbytes,))
    count = math.prod(shape)
    if -(-count // 2) != t.nbytes:
        raise SpecError(f"{t.name}: {t.nbytes:,} bytes of 4-bit values hold {2 * t.nbytes:,} "
                        f"values, but its quant_state says the shape is {list(shape)}")
    blocksize = doc.get("blocksize") or _blocksize(p, count)
    kind = doc.get("quant_type") or (STATES[state] if state else "4-bit")
    how = (f"{t.nbytes:,} bytes × 2 values a byte ({kind}, an absmax per {blocksize}), "
           f"shape {list(shape)}{' from its quant_state' if doc else ''}")
    return Unpacked(shape, kind, how, bits=4, group_size=blocksize)


def _blocksize(p: Packed, count: int) -> int | None:
    absmax = p.extras.get("weight.absmax")
    if absmax is None or not absmax.size:
        return None
    size = -(-count // absmax.size)
    return size if -(-count // size) == absmax.size else None


def _state(t: Tensor, s: Settings) -> dict[str, Any]:
    """The quant_state JSON, when the reader can read it; else nothing (the shape is then the
    byte count's)."""
    if s.read is None:
        return {}
    try:
        doc = json.loads(s.read(t))
    except (SpecError, ValueError) as e:
        raise SpecError(f"{t.name}: not the JSON bitsandbytes writes ({e})") from None
    shape = doc.get("shape") if isinstance(doc, dict) else None
    if not (isinstance(shape, list) and shape
            and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)):
        raise SpecError(f"{t.name}: its quant_state has no shape of positive integers")
    return doc


def _eight_bit(p: Packed) -> Unpacked:
    t, scb = p.tensor, p.extras["SCB"]
    if t.dtype != "int8" or len(t.shape) != 2 or scb.shape != t.shape[:1]:
        raise SpecError(f"{t.name}: an 8-bit bitsandbytes weight is int8 [out, in] with SCB "
                        f"[out]; got {t.dtype} {list(t.shape)} and SCB {list(scb.shape)}")
    return Unpacked(t.shape, "int8", f"int8 {list(t.shape)} as stored, SCB a scale per row",
                    bits=8)


def settings(qc: Mapping[str, Any]) -> Settings:
    """4 or 8 bits from ``load_in_4bit`` / ``load_in_8bit``; the block size is per tensor."""
    bits = 4 if qc.get("load_in_4bit") else 8 if qc.get("load_in_8bit") else None
    return Settings(bits, None, qc)


def guess(by_name: Mapping[str, Tensor]) -> bool:
    return any(n.endswith((".SCB", *STATES)) for n in by_name)


BITSANDBYTES = Scheme("bitsandbytes", ("bitsandbytes",), "weight", (*FOUR_BIT, *EIGHT_BIT),
                      "weight", unpack, guess, settings,
                      marks=("SCB", "bitsandbytes__nf4", "bitsandbytes__fp4"))
