"""Tokens per second on a GPU, as a roofline: the time of a step is the longer of the time to
read its bytes and the time to do its FLOPs, at a stated share of the GPU's peaks.

A decode step produces one token for each of ``batch`` sequences. It reads

- the weights a token touches, at the bytes they are stored in (the estimate's ``weights``
  line): a mixture's active experts only (the summary's "active params per token"), and not
  an untied embedding table, of which a token reads one row; every sequence of a batch is
  taken to touch the same experts, so for a mixture at ``batch`` > 1 this is a lower bound;
- every sequence's whole cache (the estimate's KV and state lines) at the full ``context``:
  the last token's step, the slowest.

Its FLOPs are ``batch × (F1 + 2 × heads × (head_dim + v_head_dim) × (cached tokens - 1)
per attention module)``, F1 the FLOPs of one token alone: the FLOP counter's
(:mod:`paramcount.flops`) at one position when it knows every layer, else 2 × the active
parameters. Prefill is ``context × batch`` such tokens at once, each attending to the full
context (the FLOP counter's convention, no causal discount: an upper bound); time to first
token (TTFT) is the longer of its FLOPs and one read of the weights and caches.

With ``tp`` tensor-parallel GPUs each reads and computes its share at once; ``pp`` pipeline
stages work one after another on a token, so they add memory and not speed. Communication,
kernel launches, sampling and scheduling are not counted. ``efficiency`` is the share of the
datasheet's bandwidth and FLOPS that kernels reach: round planning figures (80% of bandwidth
for decode's matrix-vector products, 50% of peak FLOPS for prefill), not measurements;
override them with what your engine measures.
"""

from __future__ import annotations

from dataclasses import dataclass

from paramcount.errors import SpecError
from paramcount.memory.breakdown import MemoryEstimate
from paramcount.memory.gpus import Gpu
from paramcount.model import Summary

#: the share of peak bandwidth and of peak FLOPS assumed reached, unless overridden
EFFICIENCY = (0.8, 0.5)
#: component names (lowercase) that a decode step reads whole for every sequence
CACHE_WORDS = ("kv", "cache", "state")


@dataclass(frozen=True)
class Roofline:
    """Decode and prefill times of one model replica (``tp × pp`` GPUs) on a GPU.

    >>> r = Roofline(1, 4096, 1e12, None, (0.8, 0.5), 16e9, 0.0, 1, 1, 2e10, 8e13)
    >>> round(r.decode_tokens_per_s, 2), r.decode_bound, r.ttft_s
    (50.0, 'memory bandwidth', None)
    """

    batch: int
    context: int | None
    #: bytes per second and FLOPS of one GPU, peaks
    bandwidth: float
    peak_flops: float | None
    efficiency: tuple[float, float]
    #: bytes one GPU reads in a decode step: the weights a token touches, the caches
    weight_bytes: float
    cache_bytes: float
    tp: int
    pp: int
    #: FLOPs of one decode step (every sequence of the batch) and of the prefill
    decode_flops: float
    prefill_flops: float | None

    @property
    def _read_s(self) -> float:
        # pipeline stages read their shares one after another
        return self.pp * (self.weight_bytes + self.cache_bytes) / (
            self.bandwidth * self.efficiency[0])

    def _compute_s(self, flops: float | None) -> float | None:
        if flops is None or self.peak_flops is None:
            return None
        # each stage does its share on its tp GPUs, one stage after another
        return flops / (self.tp * self.peak_flops * self.efficiency[1])

    @property
    def step_s(self) -> float:
        """Seconds of one decode step: the longer of its reads and its FLOPs."""
        return max(self._read_s, self._compute_s(self.decode_flops) or 0.0)

    @property
    def decode_bound(self) -> str:
        compute = self._compute_s(self.decode_flops)
        return "compute" if compute is not None and compute > self._read_s else \
            "memory bandwidth"

    @property
    def decode_tokens_per_s(self) -> float:
        """Tokens each sequence receives per second."""
        return 1 / self.step_s

    @property
    def aggregate_tokens_per_s(self) -> float:
        """Tokens per second over the whole batch."""
        return self.batch / self.step_s

    @property
    def ttft_s(self) -> float | None:
        """Seconds to the first token: the prefill's FLOPs, or its one read, whichever is
        longer; None without a context or the GPU's FLOPS."""
        compute = self._compute_s(self.prefill_flops)
        return None if compute is None else max(compute, self._read_s)

    @property
    def prefill_bound(self) -> str | None:
        compute = self._compute_s(self.prefill_flops)
        if compute is None:
            return None
        return "compute" if compute >= self._read_s else "memory bandwidth"


def compute_dtype(weights: str | None) -> str:
    """The peak a model's matrix products run at: fp8 weights in fp8, fp32 in fp32, bf16 or
    fp16 at their own; anything stored in fewer bits (int8, int4, GGUF types, nf4) is
    dequantized to 16 bits for the product, as llama.cpp's and bitsandbytes' kernels do.

    >>> compute_dtype("float8_e4m3fn"), compute_dtype("Q4_K"), compute_dtype("float32")
    ('fp8', 'bf16', 'fp32')
    """
    name = (weights or "").lower()
    for words, dtype in ((("float8", "fp8"), "fp8"), (("float32", "fp32"), "fp32"),
                         (("float16", "fp16"), "fp16")):
        if any(name.startswith(w) for w in words):
            return "bf16" if dtype == "fp16" and "bfloat" in name else dtype
    return "bf16"


def read_params(summary: Summary) -> int:
    """Parameters one decoded token reads: the active ones (a mixture's routed experts only)
    less an untied embedding table, of which a token reads one row.

    >>> import paramcount
    >>> s = paramcount.summarize("zoo:gpt2")  # tied: the LM head reads the whole table
    >>> read_params(s) == s.total_params - 1024 * 768  # less the position table
    True
    """
    active = summary.figures.get("Active params per token", summary.total_params)
    embedded = tied = 0
    for _, node, times in summary.root.walk_times():
        if "Embedding" in node.type:
            embedded += sum(w.size for w in node.weights if not w.buffer) * times
        tied += sum(t.weight.size for t in node.tied) * times
    return int(active) - max(0, embedded - tied)


def _matmul_flops(summary: Summary) -> int:
    """FLOPs of one token's matrix products: the FLOP counter's at one position when it knows
    every layer, else 2 × the active parameters."""
    f = summary.flops(seq_len=1, batch=1)
    if f.complete:
        return f.flops
    return 2 * int(summary.figures.get("Active params per token", summary.total_params))


def _attention_flops(estimate: MemoryEstimate, summary: Summary, context: int) -> int:
    """FLOPs of one token attending to the rest of its cache, every cached attention module
    (the FLOP counter's one position has counted the token attending to itself)."""
    from paramcount.memory.facts import ModelFacts

    encoder = estimate.settings.get("encoder_length") or context
    total = 0
    for a, count in ModelFacts.of(summary).cached:
        tokens = encoder if a.cross else (context if a.window is None else
                                          min(context, a.window))
        total += 2 * count * a.pair_macs * max(0, tokens - 1)
    return total


def roofline(summary: Summary, estimate: MemoryEstimate, gpu: Gpu,
             efficiency: tuple[float, float] = EFFICIENCY) -> Roofline:
    """Decode tokens/s and TTFT of ``estimate`` (a serving estimate of ``summary``) on
    ``gpu``."""
    if estimate.mode != "inference":
        raise SpecError("tokens per second are for serving; leave out --train")
    for share in efficiency:
        if not 0 < share <= 1:
            raise SpecError(f"--efficiency {share}: expected a share in (0, 1]")
    weights = estimate.component("weights")
    total = summary.total_params
    w = 0 if weights is None or not total else weights.per_gpu * read_params(summary) / total
    caches = sum(c.per_gpu for c in estimate.components
                 if any(word in c.name.lower() for word in CACHE_WORDS))
    context, batch = estimate.settings.get("context"), estimate.settings.get("batch", 1)
    per_token = _matmul_flops(summary) + (
        0 if context is None else _attention_flops(estimate, summary, context))
    prefill = None if context is None else context * batch * per_token
    p = estimate.parallel
    peak = gpu.peak(compute_dtype(estimate.settings.get("dtype")))
    return Roofline(batch, context, gpu.bandwidth, peak, efficiency, w, caches, p.tp, p.pp,
                    batch * per_token, prefill)
