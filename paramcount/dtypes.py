"""Bytes per element of every dtype paramcount meets, under the names frameworks and files use.

>>> dtype_name("bf16"), DTYPE_BYTES["bfloat16"]
('bfloat16', 2)
"""

from __future__ import annotations

from paramcount.errors import SpecError
from paramcount.quoting import quote

DTYPE_BYTES: dict[str, float] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "mixed_float16": 4,
    "mixed_bfloat16": 4, "float8": 1, "int8": 1, "uint8": 1, "int4": 0.5, "int32": 4, "int64": 8,
    # as checkpoints store them (PyTorch's names)
    "complex128": 16, "complex64": 8, "complex32": 4, "int16": 2, "uint16": 2, "uint32": 4,
    "uint64": 8, "bool": 1, "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e4m3fnuz": 1,
    "float8_e5m2fnuz": 1, "float8_e8m0fnu": 1, "float6_e2m3": 0.75, "float6_e3m2": 0.75,
    "float4_e2m1": 0.5, "uint4": 0.5, "qint8": 1, "quint8": 1, "qint32": 4, "quint4x2": 0.5,
    # quantized checkpoints' b-bit weights, unpacked (GPTQ, AWQ, MLX)
    "int2": 0.25, "int3": 0.375, "int5": 0.625, "int6": 0.75,
    # GGUF block quantizations: bytes per block / elements per block (ggml's type traits)
    "Q4_0": 18 / 32, "Q4_1": 20 / 32, "Q5_0": 22 / 32, "Q5_1": 24 / 32, "Q8_0": 34 / 32,
    "Q8_1": 40 / 32, "Q2_K": 84 / 256, "Q3_K": 110 / 256, "Q4_K": 144 / 256, "Q5_K": 176 / 256,
    "Q6_K": 210 / 256, "Q8_K": 292 / 256, "IQ2_XXS": 66 / 256, "IQ2_XS": 74 / 256,
    "IQ3_XXS": 98 / 256, "IQ1_S": 50 / 256, "IQ4_NL": 18 / 32, "IQ3_S": 110 / 256,
    "IQ2_S": 82 / 256, "IQ4_XS": 136 / 256, "IQ1_M": 56 / 256, "TQ1_0": 54 / 256,
    "TQ2_0": 66 / 256, "MXFP4": 17 / 32, "NVFP4": 36 / 64, "Q1_0": 18 / 128,
}
_DTYPE_ALIASES = {"fp64": "float64", "double": "float64", "fp32": "float32", "float": "float32",
                  "fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp8": "float8",
                  # safetensors' and GGUF's names
                  "f64": "float64", "f32": "float32", "f16": "float16", "i8": "int8",
                  "u8": "uint8", "i16": "int16", "u16": "uint16", "i32": "int32", "u32": "uint32",
                  "i64": "int64", "u64": "uint64", "c64": "complex64",
                  "f8_e4m3": "float8_e4m3fn", "f8_e5m2": "float8_e5m2",
                  "f8_e8m0": "float8_e8m0fnu", "f6_e2m3": "float6_e2m3",
                  "f6_e3m2": "float6_e3m2", "f4": "float4_e2m1",
                  **{q.lower(): q for q in ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
                                            "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K",
                                            "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",
                                            "IQ3_S", "IQ2_S", "IQ4_XS", "IQ1_M", "TQ1_0",
                                            "TQ2_0", "MXFP4", "NVFP4", "Q1_0")}}


def dtype_name(name: str) -> str:
    """Normalise a dtype name (``"bf16"`` -> ``"bfloat16"``)."""
    key = _DTYPE_ALIASES.get(name.lower(), name.lower())
    if key not in DTYPE_BYTES:
        common = ", ".join(list(DTYPE_BYTES)[:12])
        raise SpecError(f"unknown dtype {quote(name)}; known: {common}, ... and GGUF's (Q4_K, ...)")
    return key
