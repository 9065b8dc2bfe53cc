"""MXFP4 (OCP microscaling, as gpt-oss ships its experts): 4-bit e2m1 values, two a byte, in
blocks of 32 that share one e8m0 scale byte.

transformers' ``integrations/mxfp4.py`` reads a projection ``P`` as two uint8 tensors::

    P_blocks  uint8 [..., rows, n, 16]   n blocks of 32 values, 16 bytes each
    P_scales  uint8 [..., rows, n]       one exponent per block

so ``P`` holds ``rows × n·32`` values per leading index (gpt-oss-20b's
``mlp.experts.gate_up_proj_blocks`` [32, 5760, 90, 16] is 32 experts × 5,760 × 2,880). The
logical weight keeps the stored orientation ``[..., rows, n·32]`` (transformers transposes the
last two when it dequantizes; the count is the same).
"""

from __future__ import annotations

from collections.abc import Mapping

from paramcount.errors import SpecError
from paramcount.sources.quant import Packed, Scheme, Settings, Unpacked
from paramcount.sources.tensors import Tensor

BLOCK = 32  # values per block
BLOCK_BYTES = BLOCK // 2


def unpack(p: Packed, s: Settings) -> Unpacked:
    """``P_blocks [..., rows, n, 16]`` -> ``P [..., rows, n·32]``.

    >>> b = Tensor("e.down_proj_blocks", (4, 64, 2, 16), "uint8", 8192)
    >>> unpack(Packed(b, {}), Settings()).shape
    (4, 64, 64)
    """
    t = p.tensor
    if t.dtype != "uint8" or len(t.shape) < 3 or t.shape[-1] != BLOCK_BYTES:
        raise SpecError(f"{t.name}: MXFP4 blocks are uint8 [..., rows, blocks, "
                        f"{BLOCK_BYTES}], got {t.dtype} {list(t.shape)}")
    scales = p.extras.get("_scales")
    if scales is not None and scales.shape != t.shape[:-1]:
        raise SpecError(f"{t.name}: {list(t.shape[:-1])} blocks need as many scales, but "
                        f"its _scales are {list(scales.shape)}")
    n = t.shape[-2]
    shape = (*t.shape[:-2], n * BLOCK)
    how = (f"{n:,} blocks × {BLOCK} values ({BLOCK_BYTES} bytes each) = {n * BLOCK:,} "
           f"per row; {t.name.rsplit('.', 1)[-1].removesuffix('_blocks')} {list(shape)}")
    return Unpacked(shape, "MXFP4", how, 4, BLOCK)


def _guess(by_name: Mapping[str, Tensor]) -> bool:
    return any(n.endswith("_blocks") and n[:-len("_blocks")] + "_scales" in by_name
               and t.dtype == "uint8" for n, t in by_name.items())


MXFP4 = Scheme("mxfp4", ("mxfp4",), "_blocks", ("_scales",), "", unpack, guess=_guess,
               settings=lambda qc: Settings(4, BLOCK, qc), marks=("_blocks",))
