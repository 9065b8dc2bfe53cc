"""Engine profiles: what a serving engine adds around the weights and the KV cache, one named
rule at a time, each with the engine version it follows and where it comes from.

Without an engine (the default) an estimate is the model's own minimum: weights, the cache its
layers keep and nothing else. Constants an engine measures at start-up rather than derives
(vLLM's profiled activation peak, its non-torch memory) are estimated from the model's widths or
taken from a published measurement, and said so in the estimate's assumptions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from paramcount.errors import SpecError
from paramcount.units import GIB

#: float32 copies of the max_num_seqs × vocabulary logits vLLM's profiled peak holds: fitted to
#: the published H100 measurements (Llama-3.1-8B 4.76 GiB, Qwen3-0.6B 5.56, gpt-oss-20b 7.38,
#: Llama-3.3-70B at TP=2 4.84; between 8.6 and 9.4 copies each), not derived from vLLM's code
SAMPLER_COPIES = 9

#: GPUs of at least this much memory (and not an A100) get vLLM's larger batch defaults
LARGE_GPU = 70 * GIB


@dataclass(frozen=True)
class Rule:
    """One thing an engine does to memory, the version it was read from and its source."""

    what: str
    source: str


@dataclass(frozen=True)
class Engine:
    """An engine's defaults and the rules an estimate under it follows."""

    name: str
    version: str
    rules: tuple[Rule, ...]
    #: the share of GPU memory the engine may take (vLLM's --gpu-memory-utilization)
    utilization: float | None = None
    #: tokens per KV page (vLLM's --block-size); a context rounds up to whole pages
    block_size: int = 1
    #: bytes outside torch's allocator (CUDA context, NCCL buffers): measured, not derived
    non_torch: int = 0


VLLM = Engine("vllm", "vLLM 0.11 (V1 engine)", (
    Rule("KV pool = gpu_memory_utilization (default 0.9) × GPU memory − weights − profiled "
         "activation peak − non-torch memory",
         "vllm/v1/worker/gpu_worker.py determine_available_memory; reproduced from the "
         "measurements in llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md"),
    Rule("the activation peak is profiled on one forward of max_num_batched_tokens tokens "
         "(vllm serve: 8192 on GPUs of 70 GiB or more other than A100, else 2048) and a dummy "
         "sampler run on max_num_seqs rows (1024, else 256) of float32 logits; paramcount "
         f"estimates it as the forward's widest layer plus {SAMPLER_COPIES} copies of those "
         "logits, a constant fitted to llm-d's four H100 measurements (within 0.25 GiB each), "
         "not derived",
         "vllm/engine/arg_utils.py EngineArgs.get_batch_defaults; "
         "vllm/v1/worker/gpu_model_runner.py profile_run"),
    Rule("non-torch memory 0.13 GiB on one GPU (the published H100 measurement; NCCL adds more "
         "under tensor parallelism, 0.55 GiB measured at TP=2): not derivable from the model",
         "llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md"),
    Rule("CUDA-graph memory is captured after the KV pool is allocated, inside the "
         "1 − gpu_memory_utilization headroom, and does not shrink the pool",
         "vllm/v1/worker/gpu_worker.py compile_or_warm_up_model; measured −0.45 to 1.03 GiB"),
    Rule("KV pages of block_size (16) tokens: each sequence's context rounds up to whole pages; "
         "a sliding-window layer keeps ceil(window / block_size) + 1 pages, a Mamba layer one "
         "state per sequence",
         "vllm/config/cache.py CacheConfig.block_size; "
         "vllm/v1/core/single_type_kv_cache_manager.py SlidingWindowManager"),
    Rule("a Mamba layer keeps, per sequence, its convolution's last kernel − 1 inputs and its "
         "state, both split over tensor-parallel ranks",
         "vllm/model_executor/layers/mamba/mamba_utils.py MambaStateShapeCalculator"),
    Rule("tensor parallelism shards KV heads and replicates a head when there are fewer heads "
         "than ranks; MLA's latent is replicated on every rank",
         "vllm/model_executor/layers/linear.py QKVParallelLinear; "
         "vllm/model_executor/models/deepseek_v2.py"),
), utilization=0.9, block_size=16, non_torch=round(0.13 * GIB))

LLAMACPP = Engine("llamacpp", "llama.cpp b6000 (llama-server)", (
    Rule("-ngl N puts N repeating layers' weights and their KV cache on the GPU, the rest in "
         "RAM; the output head goes on the GPU only with -ngl above the layer count; the token "
         "embedding stays in RAM",
         "src/llama-model.cpp load_tensors (dev_layer, dev_output, tok_embd on the CPU)"),
    Rule("sliding-window layers keep n_swa + n_ubatch tokens (swa_full off)",
         "src/llama-kv-cache-iswa.cpp llama_kv_cache_iswa (size_swa)"),
    Rule("the compute buffer holds one ubatch (default 512 tokens) of float32 activations and "
         "the logits of that ubatch; paramcount estimates it from the layer widths, ggml's "
         "graph allocator measures it",
         "src/llama-context.cpp graph_reserve; common/common.h n_ubatch = 512"),
    Rule("cache types f16 (default), q8_0 (1.0625 B), q4_0 (0.5625 B), ... for keys and values "
         "separately (--cache-type-k/-v); recurrent (Mamba) state in float32",
         "common/arg.cpp kv_cache_types; src/llama-memory-recurrent.cpp"),
), block_size=1)

TRANSFORMERS = Engine("transformers", "transformers 5.25", (
    Rule("DynamicCache grows with the tokens seen; a sliding layer keeps window − 1 tokens "
         "between steps and the window while it attends; Mamba and linear-attention layers keep "
         "a convolution window (channels × kernel) and a recurrent state per sequence",
         "transformers/cache_utils.py DynamicSlidingWindowLayer, LinearAttentionLayer"),
    Rule("generate() computes the logits of the last token only (logits_to_keep=1), upcast to "
         "float32; the whole prompt is one prefill chunk",
         "transformers/generation/utils.py GenerationMixin._sample"),
))

ENGINES = {e.name: e for e in (VLLM, LLAMACPP, TRANSFORMERS)}


def engine(name: str | None) -> Engine | None:
    """The profile named ``name`` (None: no engine, the model's own minimum)."""
    if name is None:
        return None
    try:
        return ENGINES[name.lower().replace(".", "").replace("-", "")]
    except KeyError:
        raise SpecError(f"unknown engine {name!r}; expected vllm, llamacpp or transformers"
                        ) from None


def vllm_batch_defaults(gpu_memory: int | None) -> tuple[int, int]:
    """``(max_num_batched_tokens, max_num_seqs)`` as ``vllm serve`` picks them: 8192 and 1024
    on a GPU of 70 GiB or more (not an A100), else 2048 and 256.

    >>> vllm_batch_defaults(80 * 10**9), vllm_batch_defaults(24 * 2**30)
    ((8192, 1024), (2048, 256))
    """
    if gpu_memory is not None and gpu_memory >= LARGE_GPU:
        return 8192, 1024
    return 2048, 256


def vllm_pool(gpu_memory: int, utilization: float, weights: int, activations: int,
              non_torch: int) -> int:
    """Bytes vLLM gives its KV cache on one GPU (negative: it refuses to start).

    >>> GiB = 2**30  # Llama-3.1-8B on an H100, as vLLM logs it (llm-d's measurement)
    >>> round(vllm_pool(round(79.18 * GiB), 0.9, round(14.99 * GiB), round(4.76 * GiB),
    ...                 round(0.13 * GiB)) / GiB, 2)
    51.38
    """
    return math.floor(gpu_memory * utilization) - weights - activations - non_torch


def pages(tokens: int, block_size: int) -> int:
    """Tokens rounded up to whole pages.

    >>> pages(1000, 16), pages(1024, 16)
    (1008, 1024)
    """
    return -(-tokens // block_size) * block_size
