"""The bytes of a model's weights at a dtype, or as its checkpoint stores them.

A dtype's size may be a fraction of a byte (int4 is half a byte, GGUF's Q4_K 144 bytes per 256
elements); a count times it is rounded up to whole bytes, as a packed tensor is.
"""

from __future__ import annotations

import math
from fractions import Fraction

from paramcount.dtypes import DTYPE_BYTES, dtype_name
from paramcount.errors import SpecError
from paramcount.memory.facts import ModelFacts

#: dtypes that hold activations and KV caches (a quantized weight dtype does not)
FLOAT_DTYPES = frozenset({"float64", "float32", "float16", "bfloat16", "float8",
                          "float8_e4m3fn", "float8_e5m2"})
#: the block types llama.cpp's ``--cache-type-k/-v`` accept (common/arg.cpp's kv_cache_types)
CACHE_BLOCK_TYPES = frozenset({"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL"})
STORED = "stored"


def dtype_bytes(dtype: str) -> Fraction:
    """Bytes per element of ``dtype``, exactly.

    >>> dtype_bytes("int4"), dtype_bytes("bf16"), dtype_bytes("Q4_K")
    (Fraction(1, 2), Fraction(2, 1), Fraction(9, 16))
    """
    return Fraction(DTYPE_BYTES[dtype_name(dtype)])


def nbytes(count: int, dtype: str) -> int:
    """Bytes taken by ``count`` elements of ``dtype``, rounded up to a whole byte.

    >>> nbytes(7, "int4"), nbytes(10, "fp16")
    (4, 20)
    """
    return math.ceil(count * dtype_bytes(dtype))


def weight_dtype(facts: ModelFacts, dtype: str | None) -> str:
    """The dtype the weights are served in: the one asked for, else ``stored`` when the source
    knows each weight's bytes (a checkpoint), else the model's own dtype (a config's
    ``torch_dtype``)."""
    if dtype is None:
        return STORED if facts.stored_bytes is not None else facts.dtype
    if dtype.lower() == STORED:
        if facts.stored_bytes is None:
            raise SpecError(f"--dtype stored: {facts.source} does not store its weights' "
                            "dtypes (a config or spec); choose a dtype such as bf16")
        return STORED
    return dtype_name(dtype)


def weight_bytes(facts: ModelFacts, dtype: str) -> int:
    """Bytes of the parameters and buffers at ``dtype`` (``stored``: the checkpoint's own)."""
    if dtype == STORED:
        assert facts.stored_bytes is not None
        return facts.stored_bytes
    return nbytes(facts.params + facts.buffers, dtype)


def describe(facts: ModelFacts, dtype: str) -> str:
    """How the weight bytes were found, for the table's detail column."""
    if dtype == STORED:
        kinds = ", ".join(sorted(facts.stored_dtypes)) or "?"
        return f"as stored ({kinds})"
    n = facts.params + facts.buffers
    return f"{n:,} × {per_element(dtype)} ({dtype})"


def cache_dtype(facts: ModelFacts, weights: str, kv_dtype: str | None) -> str:
    """The KV cache's dtype: the one asked for, else the weights' dtype when it is a float
    dtype, else float16 (a quantized model computes in 16 bits)."""
    if kv_dtype is not None:
        name = dtype_name(kv_dtype)
        if name not in FLOAT_DTYPES | CACHE_BLOCK_TYPES and name not in ("int8", "int4"):
            raise SpecError(f"--kv-dtype {kv_dtype!r}: a KV cache is kept in a float dtype, "
                            "int8/int4 or one of llama.cpp's cache types (q8_0, q4_0, q4_1, "
                            "q5_0, q5_1, iq4_nl)")
        return name
    if weights == STORED:
        weights = _main_stored(facts) or "float16"
    return weights if weights in FLOAT_DTYPES else "float16"


def _main_stored(facts: ModelFacts) -> str | None:
    if not facts.stored_dtypes:
        return None
    return max(facts.stored_dtypes.items(), key=lambda kv: kv[1])[0]


def per_element(dtype: str) -> str:
    """``"2 B"``, ``"0.5 B"``: bytes per element in words.

    >>> per_element("int4")
    '0.5 B'
    """
    b = dtype_bytes(dtype)
    return f"{b.numerator} B" if b.denominator == 1 else f"{float(b):.4g} B"
