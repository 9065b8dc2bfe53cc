"""A catalog of accelerators: memory, memory bandwidth and dense peak FLOPS per dtype, each
row from its vendor's datasheet (named in the row), for ``paramcount memory --gpu NAME``.

Conventions, the same for every row:

- Memory: the datasheet's "GB" of HBM or GDDR, which are binary gigabytes (an "80GB" H100
  holds 80 GiB; :mod:`paramcount.units`). Bandwidth: decimal, bytes per second (3.35 TB/s =
  3.35·10¹² B/s).
- FLOPS: dense tensor-core peaks. Datasheets print "with sparsity" figures, twice the dense
  ones; this table holds the dense ones (the sparse figure halved). GeForce cards: the rate
  with FP32 accumulation, which is what PyTorch's matrix products use (the whitepapers also
  print a doubled FP16-accumulate rate); their FP8 and FP4 rates are left out, as no
  FP32-accumulate figure for them could be confirmed. ``None``: no figure.
- Apple M-series: one row per chip at its largest unified memory. The GPU may not wire all
  of it: Metal's ``MTLDevice.recommendedMaxWorkingSetSize`` (what llama.cpp's Metal backend
  reads) is about two thirds of the memory up to 36 GiB and three quarters above, by macOS's
  default ``iogpu.wired_limit_mb`` heuristic, so :attr:`Gpu.usable` is that share; Apple
  publishes FP32 TFLOPS for some chips only; FP16 is taken at the FP32 rate (a planning
  assumption: Apple publishes no FP16 figure).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from paramcount.errors import SpecError
from paramcount.units import GIB

T = 10**12  # TFLOPS, TB/s


@dataclass(frozen=True)
class Gpu:
    """One accelerator: its memory (bytes), bandwidth (bytes/s) and dense peak FLOPS by
    compute dtype.

    >>> gpu("h100").usable == 80 * GIB, gpu("H100").peak("bf16") == 989.4 * T
    (True, True)
    """

    name: str
    memory: int
    bandwidth: float
    flops: dict[str, float | None]
    source: str
    aliases: tuple[str, ...] = ()
    #: the share of ``memory`` the GPU may use (Apple's unified memory: macOS keeps the rest)
    share: Fraction = Fraction(1)
    unified: bool = False

    @property
    def usable(self) -> int:
        """Bytes a model may occupy: the memory, or the GPU's share of unified memory."""
        return int(self.memory * self.share)

    def peak(self, dtype: str) -> float | None:
        """Dense peak FLOPS at a compute dtype (bf16, fp16, fp8, fp32, ...); None when the
        vendor publishes none; a dtype the GPU has no rate for falls back to 16-bit."""
        if dtype in self.flops:
            return self.flops[dtype]
        return self.flops.get("bf16", self.flops.get("fp16"))


def _t(value: float | None) -> float | None:
    """Tera (10¹²) of a datasheet's figure, as a whole number."""
    return None if value is None else round(value * T)


def _apple_share(memory: int) -> Fraction:
    """macOS's default GPU wired limit: about 2/3 of unified memory up to 36 GiB, 3/4 above."""
    return Fraction(2, 3) if memory <= 36 * GIB else Fraction(3, 4)


def _nvidia(name: str, gib: int, tbs: float, fp32: float, tf32: float, bf16: float,
            fp8: float | None, source: str, aliases: tuple[str, ...], fp4: float | None = None
            ) -> Gpu:
    flops = {"fp32": _t(fp32), "tf32": _t(tf32), "bf16": _t(bf16), "fp16": _t(bf16),
             "fp8": _t(fp8), "fp4": _t(fp4)}
    return Gpu(name, gib * GIB, _t(tbs) or 0, flops, source, aliases)


def _apple(name: str, gib: int, gbs: float, fp32: float | None, source: str,
           aliases: tuple[str, ...]) -> Gpu:
    peak = _t(fp32)
    return Gpu(name, gib * GIB, round(gbs * 10**9), {"fp32": peak, "fp16": peak, "bf16": peak},
               source, aliases, _apple_share(gib * GIB), unified=True)


_H100 = "NVIDIA H100 Tensor Core GPU datasheet (SXM5 and PCIe columns), sparse figures halved"
_GEFORCE = "fp32-accumulate tensor rates, dense"
#: every GPU paramcount knows, in the order ``paramcount gpus`` lists them
CATALOG: tuple[Gpu, ...] = (
    _nvidia("H100 SXM", 80, 3.35, 67, 494.7, 989.4, 1978.9, _H100, ("h100", "h100-sxm")),
    _nvidia("H100 PCIe", 80, 2.0, 51, 378, 756.5, 1513, _H100, ("h100-pcie",)),
    _nvidia("H200 SXM", 141, 4.8, 67, 494.7, 989.4, 1978.9,
            "NVIDIA H200 Tensor Core GPU datasheet (SXM column), sparse figures halved",
            ("h200", "h200-sxm")),
    _nvidia("B200", 180, 8.0, 80, 1100, 2250, 4500,
            "NVIDIA DGX B200 datasheet (1,440 GB and 64 TB/s over 8 GPUs) and HGX B200 "
            "per-GPU tensor figures, sparse figures halved", ("b200",), fp4=9000),
    _nvidia("A100 40GB SXM", 40, 1.555, 19.5, 156, 312, None,
            "NVIDIA A100 Tensor Core GPU datasheet (40GB SXM column)", ("a100-40gb", "a100-40")),
    _nvidia("A100 80GB SXM", 80, 2.039, 19.5, 156, 312, None,
            "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM column)",
            ("a100", "a100-80gb", "a100-80")),
    _nvidia("L40S", 48, 0.864, 91.6, 183, 362.05, 733,
            "NVIDIA L40S datasheet, sparse figures halved", ("l40s",)),
    _nvidia("L4", 24, 0.3, 30.3, 60, 121, 242.5,
            "NVIDIA L4 Tensor Core GPU datasheet, sparse figures halved", ("l4",)),
    _nvidia("A10", 24, 0.6, 31.2, 62.5, 125, None,
            "NVIDIA A10 Tensor Core GPU datasheet, sparse figures halved", ("a10",)),
    _nvidia("RTX 3090", 24, 0.936, 35.6, 35.6, 71, None,
            f"NVIDIA Ampere GA102 GPU architecture whitepaper, appendix A ({_GEFORCE})",
            ("rtx3090", "3090")),
    _nvidia("RTX 4090", 24, 1.008, 82.6, 82.6, 165.2, None,
            f"NVIDIA Ada Lovelace GPU architecture whitepaper, appendix A ({_GEFORCE})",
            ("rtx4090", "4090")),
    _nvidia("RTX 5090", 32, 1.792, 104.8, 104.8, 209.5, None,
            f"NVIDIA RTX Blackwell GPU architecture whitepaper, appendix A ({_GEFORCE})",
            ("rtx5090", "5090")),
    Gpu("MI300X", 192 * GIB, _t(5.3) or 0,
        {"fp32": _t(163.4), "tf32": _t(653.7), "bf16": _t(1307.4), "fp16": _t(1307.4),
         "fp8": _t(2614.9)}, "AMD Instinct MI300X accelerator datasheet (dense figures)",
        ("mi300x", "mi300")),
    _apple("Apple M1 Max", 64, 400, 10.4, "Apple M1 Pro and M1 Max press release (Oct 2021)",
           ("m1-max", "m1max")),
    _apple("Apple M1 Ultra", 128, 800, 21, "Apple M1 Ultra press release (Mar 2022)",
           ("m1-ultra", "m1ultra")),
    _apple("Apple M2 Max", 96, 400, 13.6, "Apple M2 Pro and M2 Max press release (Jan 2023)",
           ("m2-max", "m2max")),
    _apple("Apple M2 Ultra", 192, 800, None, "Apple Mac Studio (M2 Ultra) tech specs",
           ("m2-ultra", "m2ultra")),
    _apple("Apple M3 Max", 128, 400, None, "Apple MacBook Pro (M3 Max) tech specs",
           ("m3-max", "m3max")),
    _apple("Apple M3 Ultra", 512, 819, None, "Apple Mac Studio (M3 Ultra) tech specs",
           ("m3-ultra", "m3ultra")),
    _apple("Apple M4 Pro", 64, 273, None, "Apple Mac mini (M4 Pro) tech specs",
           ("m4-pro", "m4pro")),
    _apple("Apple M4 Max", 128, 546, None, "Apple MacBook Pro (M4 Max) tech specs",
           ("m4-max", "m4max")),
)


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_INDEX = {_key(alias): g for g in CATALOG for alias in (g.name, *g.aliases)}


def gpu(name: str) -> Gpu:
    """The catalog's row for ``name``: case, spaces, dashes and underscores do not matter.

    >>> gpu("a100_40gb").name, gpu("Apple M2 Ultra").usable == 144 * GIB
    ('A100 40GB SXM', True)
    """
    found = _INDEX.get(_key(name))
    if found is None:
        names = ", ".join(g.aliases[0] if g.aliases else g.name for g in CATALOG)
        raise SpecError(f"unknown GPU {name!r}; known: {names} (`paramcount gpus` lists "
                        "them; --gpu-memory and --bandwidth describe any other)")
    return found


def _tflops(value: float | None) -> str:
    return "-" if value is None else f"{value / T:,.1f}"


def listing() -> str:
    """The catalog as a table, what ``paramcount gpus`` prints."""
    from paramcount.report.text import text_table
    from paramcount.units import fmt_gib

    head = ["GPU", "names", "memory", "usable", "bandwidth", "BF16 TFLOPS", "FP8 TFLOPS"]
    rows = [[g.name, ", ".join(g.aliases), fmt_gib(g.memory), fmt_gib(g.usable),
             f"{g.bandwidth / T:,.3g} TB/s", _tflops(g.peak("bf16")),
             _tflops(g.flops.get("fp8"))] for g in CATALOG]
    lines = text_table(head, [rows], set(range(2, len(head))))
    sources = [f"  {g.name}: {g.source}" for g in CATALOG]
    return "\n".join([f"{len(CATALOG)} GPUs (dense peak FLOPS; Apple: the share of unified "
                      "memory macOS lets the GPU wire)", "", *lines, "", "Sources:", *sources])
