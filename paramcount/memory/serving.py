"""The whole serving budget of one GPU: weights, the cache by layer type, and what an engine adds
(:mod:`paramcount.memory.engines`): its activation peak and logits, its non-torch memory and the
headroom it leaves, or llama.cpp's split of layers between GPU and RAM.

A component's ``per_gpu`` is what one GPU holds; ``cpu`` what stays in RAM (llama.cpp's layers
beyond ``-ngl``). Under vLLM the estimate is what the asked batch and context need, divided by
``gpu_memory_utilization`` (the headroom is a component of its own), so that it fits exactly
when vLLM's KV pool holds the asked cache; :func:`kv_tokens` is the pool's capacity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from paramcount.memory import activations as act
from paramcount.memory import engines, kv
from paramcount.memory.engines import Engine
from paramcount.memory.facts import ModelFacts
from paramcount.memory.options import Options
from paramcount.memory.parallel import Parallel, shard
from paramcount.memory.weights import dtype_bytes


@dataclass(frozen=True)
class Line:
    """One component before it is spread over the GPUs."""

    name: str
    per_gpu: int
    detail: str
    cpu: int = 0


@dataclass(frozen=True)
class Cache:
    """The dtypes the cache is kept in."""

    key: str
    value: str
    state: str


def cache_parts(facts: ModelFacts, o: Options, p: Parallel, c: Cache, e: Engine | None
                ) -> list[kv.KvPart]:
    """The cache of one GPU by layer type, as the engine pages and pads it."""
    assert o.context is not None
    block = 1 if e is None else _block(o, e)
    extra = (o.ubatch or 512) if e is engines.LLAMACPP else 0
    return kv.parts(facts, o.context, o.batch, c.key, c.value, o.encoder_length, p.tp,
                    c.state, block, extra, full_kernel=e is None or e is engines.TRANSFORMERS)


def lines(facts: ModelFacts, o: Options, p: Parallel, weights: int, weights_detail: str,
          c: Cache) -> tuple[list[Line], list[str]]:
    """The serving components of one GPU (pipeline stages divide the layers' shares)."""
    e = engines.engine(o.engine)
    gpu_share = _gpu_share(facts, o, e)
    if e is engines.VLLM and (p.pp > 1 or o.ep > 1):
        on_gpu, weights_detail = _vllm_weights(facts, o, p, weights, weights_detail)
    else:
        on_gpu = shard(weights, p.model_parallel)
    out = [Line("weights", math.ceil(on_gpu * gpu_share), weights_detail,
                weights - math.ceil(weights * gpu_share))]
    notes = []
    if o.context is None:
        notes.append("no KV cache: give --context TOKENS to include one")
    else:
        kv.check_cached(facts)
        ps = cache_parts(facts, o, p, c, e)
        attn = sum(x.bytes for x in ps if x.kind != kv.STATE)
        state = sum(x.bytes for x in ps if x.kind == kv.STATE)
        if facts.cached:
            out.append(Line("KV cache", math.ceil(shard(attn, p.pp) * gpu_share),
                            kv.describe(facts, o.context, o.batch, c.key, o.encoder_length,
                                        c.value) + _paged(o, e),
                            attn - math.ceil(attn * gpu_share)))
        if state:
            out.append(Line("recurrent state", math.ceil(shard(state, p.pp) * gpu_share),
                            kv.describe_state(facts, o.batch, c.state,
                                              e is None or e is engines.TRANSFORMERS)))
    out += _engine_lines(facts, o, p, e, c)
    if e is engines.VLLM:
        u = o.gpu_memory_utilization or engines.VLLM.utilization or 1
        need = sum(x.per_gpu for x in out)
        out.append(Line("vLLM headroom", math.ceil(need * (1 - u) / u),
                        f"the 1 − {u:g} share vLLM leaves free of a GPU this total fills to "
                        f"gpu_memory_utilization {u:g} (CUDA graphs live here)"))
    return out, notes


def _engine_lines(facts: ModelFacts, o: Options, p: Parallel, e: Engine | None, c: Cache
                  ) -> list[Line]:
    """The activation peak, the logits and fixed overheads of the engine (or of ``--chunk``):
    activations at the compute dtype (llama.cpp: float32), logits in float32."""
    e_bytes = math.ceil(dtype_bytes(c.state))
    if e is engines.VLLM:
        tokens, seqs = _vllm_batch(o)
        copies = engines.SAMPLER_COPIES
        return [Line("activation peak", shard(act.prefill_peak_bytes(facts, tokens, e_bytes),
                                               p.tp) + copies * act.logits_bytes(facts, seqs),
                     f"profiled by vLLM: {tokens:,} tokens through the widest layer × "
                     f"{e_bytes} B + "
                     f"{copies} × {seqs:,} rows of float32 logits (estimated)"),
                Line("non-torch memory", engines.VLLM.non_torch,
                     "CUDA context and buffers outside torch (measured on H100, 0.13 GiB)")]
    if e is engines.LLAMACPP:
        ub = o.ubatch or 512
        return [Line("compute buffer", act.prefill_peak_bytes(facts, ub, 4) +
                     act.logits_bytes(facts, ub),
                     f"one ubatch of {ub} tokens in float32 + its logits (estimated)")]
    # transformers: the whole prompt is one chunk, and generate() keeps the last token's logits
    whole = o.context * o.batch if e is engines.TRANSFORMERS and o.context else None
    chunk = o.chunk or whole
    if chunk is None:
        return []
    rows = o.batch if e is engines.TRANSFORMERS else chunk
    return [Line("prefill activations", shard(act.prefill_peak_bytes(facts, chunk, e_bytes),
                                              p.tp),
                 f"peak of one layer over {chunk:,} tokens × {e_bytes} B (estimated)"),
            Line("logits", act.logits_bytes(facts, rows),
                 f"{rows:,} rows × {facts.vocab or 0:,} vocabulary × 4 B (float32)")]


def _vllm_weights(facts: ModelFacts, o: Options, p: Parallel, weights: int, detail: str
                  ) -> tuple[int, str]:
    """One GPU's weights as vLLM places them: the embedding on the first pipeline stage, the
    head on the last, the layers split evenly between stages; tensor parallelism splits all
    (vocabulary-parallel embedding and head); expert parallelism splits the experts ``ep``
    ways instead of ``tp``. Bytes follow elements (a quantized model's kinds differ a little)."""
    from paramcount.memory.quantized import kind

    by_kind: dict[str, int] = {}
    for t in facts.tensors:
        k = kind(t)
        by_kind[k] = by_kind.get(k, 0) + math.prod(t.shape)
    total = sum(by_kind.values()) or 1

    def share(*kinds: str) -> Fraction:
        return Fraction(weights * sum(by_kind.get(k, 0) for k in kinds), total)

    embed, head, experts = share("embedding"), share("head"), share("experts")
    layers = Fraction(weights) - embed - head - experts
    stage = layers / (p.tp * p.pp) + experts / (p.pp * (o.ep if o.ep > 1 else p.tp))
    first, last = stage + embed / p.tp, stage + head / p.tp
    if p.pp == 1:
        first = last = first + head / p.tp
    how = (f"; stage 1 of {p.pp} holds the embedding, stage {p.pp} the head" if p.pp > 1
           else "") + (f"; experts over {o.ep} GPUs" if o.ep > 1 else "")
    return math.ceil(max(first, last)), detail + how


def _gpu_share(facts: ModelFacts, o: Options, e: Engine | None) -> Fraction:
    """The share of the layers on the GPU: llama.cpp's ``-ngl`` of the layer count."""
    if e is not engines.LLAMACPP or o.gpu_layers is None:
        return Fraction(1)
    layers = sum(n for a, n in facts.attentions if not a.cross) + sum(
        n for _, n in facts.states) or 1
    return Fraction(min(o.gpu_layers, layers), layers)


def _block(o: Options, e: Engine) -> int:
    return o.block_size or e.block_size


def _paged(o: Options, e: Engine | None) -> str:
    if e is None or _block(o, e) == 1:
        return ""
    return f", in pages of {_block(o, e)} tokens"


def _vllm_batch(o: Options) -> tuple[int, int]:
    tokens, seqs = engines.vllm_batch_defaults(o.gpu_memory)
    return o.max_num_batched_tokens or tokens, o.max_num_seqs or seqs


def kv_tokens(facts: ModelFacts, o: Options, p: Parallel, out: list[Line], c: Cache
              ) -> int | None:
    """Tokens vLLM's KV pool holds on one GPU, in whole pages: the pool left after weights,
    activation peak and non-torch memory, less each sequence's fixed part (windows, recurrent
    state) for ``batch`` sequences, over the bytes a token adds in the layers that grow with
    the context. None without ``--engine vllm`` and ``--gpu-memory``, or when nothing grows."""
    if o.engine is None or engines.engine(o.engine) is not engines.VLLM or o.gpu_memory is None:
        return None
    u = o.gpu_memory_utilization or engines.VLLM.utilization or 1
    used = sum(x.per_gpu for x in out if x.name in ("weights", "activation peak",
                                                    "non-torch memory"))
    pool = engines.vllm_pool(o.gpu_memory, u, used, 0, 0)
    grow = Fraction(0)
    fixed = Fraction(0)
    for x in kv.parts(facts, 1 << 40, 1, c.key, c.value, None, p.tp, c.state,
                      full_kernel=False):
        if x.kind in (kv.FULL, kv.LATENT, kv.CROSS):
            grow += x.per_token / p.pp
        else:
            fixed += x.per_sequence / p.pp
    if not grow:
        return None
    block = _block(o, engines.VLLM)
    tokens = math.floor((pool - fixed * o.batch) / grow) if pool > 0 else 0
    return max(0, tokens // block * block)


def cache_for(facts: ModelFacts, o: Options, dtype: str) -> Cache:
    """The cache's dtypes for weights served in ``dtype``: keys at ``--kv-key-dtype`` (else
    ``--kv-dtype``, else the weights' float dtype; llama.cpp: f16, its default cache type),
    values at ``--kv-value-dtype`` (else as the keys); the recurrent state at the compute dtype
    (as transformers and vLLM keep it), float32 under llama.cpp."""
    from paramcount.memory.weights import cache_dtype

    llamacpp = o.engine is not None and engines.engine(o.engine) is engines.LLAMACPP
    both = o.kv_dtype or ("float16" if llamacpp else None)
    key = cache_dtype(facts, dtype, o.kv_key_dtype or both)
    value = cache_dtype(facts, dtype, o.kv_value_dtype or o.kv_key_dtype or both)
    compute = cache_dtype(facts, dtype, None)
    return Cache(key, value, "float32" if llamacpp else compute)
