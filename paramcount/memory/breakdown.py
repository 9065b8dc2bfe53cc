"""One memory estimate: its components per GPU and over all GPUs, and every assumption made.

All sizes are integers of bytes. A component shared out among GPUs is rounded up to a whole
byte per GPU; "all GPUs" is the per-GPU figure times the GPU count, except activations under
pipeline parallelism, where later stages hold fewer micro-batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from paramcount.errors import SpecError
from paramcount.memory import activations as act
from paramcount.memory import engines, search, serving, weights
from paramcount.memory.facts import ModelFacts
from paramcount.memory.kv import KvPart
from paramcount.memory.notes import assumptions
from paramcount.memory.options import Options, validate
from paramcount.memory.parallel import Parallel, check, shard
from paramcount.memory.printing import PrintsAsTable
from paramcount.memory.qconfig import plan
from paramcount.memory.quantized import QuantizedWeights, describe, label, size
from paramcount.memory.search import Suggestion
from paramcount.memory.training import StateBytes, optimizer, precision


@dataclass(frozen=True)
class Component:
    """One line of an estimate: bytes on one GPU, on all GPUs, and in CPU memory (offload)."""

    name: str
    per_gpu: int
    whole: int
    cpu: int = 0
    detail: str = ""


@dataclass
class MemoryEstimate(PrintsAsTable):
    """The answer: components, totals, whether it fits, and the assumptions behind it."""

    source: str
    name: str
    mode: str
    parallel: Parallel
    components: list[Component]
    assumptions: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    gpu_memory: int | None = None
    suggestion: Suggestion | None = None
    #: the weights as a quantization scheme stores them (:mod:`paramcount.memory.quantized`)
    quantization: QuantizedWeights | None = None
    #: serving: the cache of one GPU by layer type (full attention, sliding window, latent,
    #: cross-attention, recurrent state)
    kv_parts: list[KvPart] = field(default_factory=list)
    #: serving under vLLM with a GPU's memory: the tokens its KV pool holds on one GPU
    kv_tokens: int | None = None

    @property
    def per_gpu(self) -> int:
        return sum(c.per_gpu for c in self.components)

    @property
    def whole(self) -> int:
        return sum(c.whole for c in self.components)

    @property
    def cpu(self) -> int:
        return sum(c.cpu for c in self.components)

    @property
    def fits(self) -> bool | None:
        return None if self.gpu_memory is None else self.per_gpu <= self.gpu_memory

    @property
    def margin(self) -> int | None:
        """Bytes to spare on each GPU (negative: bytes missing)."""
        return None if self.gpu_memory is None else self.gpu_memory - self.per_gpu

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The ``paramcount-memory/1`` JSON document."""
        from paramcount.report.memory import to_dict

        return to_dict(self)


def estimate(facts: ModelFacts, options: Options) -> MemoryEstimate:
    """The memory to serve or train the model ``facts`` describes.

    >>> import paramcount
    >>> from paramcount.memory.facts import ModelFacts
    >>> facts = ModelFacts.of(paramcount.layer("Dense", units=1000).count((1000,)))
    >>> estimate(facts, Options(dtype="bf16")).per_gpu
    2002000
    """
    validate(options)
    if options.sequence_parallel and not facts.has_attention:
        raise SpecError("--sequence-parallel splits transformer activations; "
                        f"{facts.source} has no attention layers that paramcount knows")
    gpus = options.gpus or options.tp * options.pp
    p = check(Parallel(gpus, options.tp, options.pp, options.zero, options.offload,
                       options.sequence_parallel), facts, options.train)
    comps, notes = components(facts, options, p)
    result = MemoryEstimate(facts.source, facts.name, "training" if options.train else
                            "inference", p, comps, assumptions(facts, options, p) + notes,
                            settings(facts, options), options.gpu_memory)
    if not options.train:
        result.quantization = quantized(facts, options)
        _serving_facts(result, facts, options, p)
    if result.fits is False:
        result.suggestion = suggest(facts, options, p)
    return result


def components(facts: ModelFacts, o: Options, p: Parallel) -> tuple[list[Component], list[str]]:
    """The lines of the estimate for layout ``p``, and notes on what was left out."""
    if o.train:
        return _training(facts, o, p)
    return _inference(facts, o, p)


def _spread(name: str, per_gpu: int, p: Parallel, detail: str, cpu: bool = False
            ) -> Component:
    if cpu:
        return Component(name, 0, 0, per_gpu * p.gpus, detail + ", in CPU memory")
    return Component(name, per_gpu, per_gpu * p.gpus, 0, detail)


def quantized(facts: ModelFacts, o: Options) -> QuantizedWeights | None:
    """The weights under a quantization scheme, when one applies (:func:`qconfig.plan`)."""
    how = plan(facts, o)
    return None if how is None else size(facts, how)


def _inference(facts: ModelFacts, o: Options, p: Parallel) -> tuple[list[Component], list[str]]:
    q = quantized(facts, o)
    if q is not None:
        # a GGUF model computes in 16 bits whatever it keeps in float32
        dtype = "float16" if q.scheme == "gguf" else q.kept_dtype
        w, detail = q.bytes, describe(q)
    else:
        dtype = weights.weight_dtype(facts, o.dtype)
        w, detail = weights.weight_bytes(facts, dtype), weights.describe(facts, dtype)
    cache = serving.cache_for(facts, o, dtype)
    rows, notes = serving.lines(facts, o, p, w, detail, cache)
    return [Component(r.name, r.per_gpu, r.per_gpu * p.gpus, r.cpu,
                      r.detail + (", the rest in RAM" if r.cpu else "")) for r in rows], notes


def _serving_facts(result: MemoryEstimate, facts: ModelFacts, o: Options, p: Parallel) -> None:
    """The cache by layer type, vLLM's KV token capacity and the engine's rules."""
    e = engines.engine(o.engine)
    if e is not None:
        result.assumptions += [f"{e.version}: {r.what} ({r.source})" for r in e.rules]
    if o.context is None:
        return
    cache = serving.cache_for(facts, o, _dtype(facts, o))
    result.kv_parts = serving.cache_parts(facts, o, p, cache, e)
    rows = [serving.Line(c.name, c.per_gpu, c.detail) for c in result.components]
    result.kv_tokens = serving.kv_tokens(facts, o, p, rows, cache)


def _dtype(facts: ModelFacts, o: Options) -> str:
    q = quantized(facts, o)
    if q is not None:
        return "float16" if q.scheme == "gguf" else q.kept_dtype
    return weights.weight_dtype(facts, o.dtype)


def _training(facts: ModelFacts, o: Options, p: Parallel) -> tuple[list[Component], list[str]]:
    sb = StateBytes.of(precision(o.precision), optimizer(o.optimizer))
    mp, dp = p.model_parallel, p.dp
    w = shard((facts.params + facts.buffers) * sb.weights, mp)
    g = shard(facts.trainable * sb.grads, mp)
    k = shard(facts.trainable * sb.k, mp)
    w, g, k = (shard(w, dp) if p.zero >= 3 else w, shard(g, dp) if p.zero >= 2 else g,
               shard(k, dp) if p.zero >= 1 else k)
    out = [
        _spread("weights", w, p, f"{sb.weights} B × {facts.params + facts.buffers:,}",
                p.offload and p.zero == 3),
        _spread("gradients", g, p, f"{sb.grads} B × {facts.trainable:,} trainable",
                p.offload and p.zero >= 2),
        _spread("optimizer states", k, p, f"{sb.k} B × {facts.trainable:,} trainable",
                p.offload),
    ]
    if p.zero == 3:
        gathered = shard(facts.largest_layer * (sb.weights + sb.grads), p.tp)
        out.append(_spread("gathered layer", gathered, p,
                           f"{sb.weights + sb.grads} B × {facts.largest_layer:,} "
                           "(largest layer, ZeRO-3)"))
    activation, notes = _activations(facts, o, p)
    return out + activation, notes


def _activations(facts: ModelFacts, o: Options, p: Parallel
                 ) -> tuple[list[Component], list[str]]:
    e = precision(o.precision).activation
    if facts.has_attention:
        if o.context is None:
            return [], ["no activations: give --seq-len TOKENS to include them"]
        rank = act.transformer_bytes(facts, o.context, o.batch, e, p.tp, p.sp, o.recompute,
                                     o.encoder_length)
        how = {"none": "no", "selective": "selective", "full": "full"}[o.recompute]
        detail = f"{how} recomputation, seq {o.context:,}, micro-batch {o.batch}"
    else:
        total = act.layer_outputs_bytes(facts, o.batch, e, o.context)
        if total is None:
            return [], ["no activations: a layer's output has a dimension of unknown length; "
                        "give --seq-len TOKENS"]
        rank = Fraction(total)
        detail = f"2 × layer outputs × {e} B, batch {o.batch}"
    whole = math.ceil(act.pipeline_whole(rank, p.pp) * p.tp * p.dp)
    return [Component("activations", math.ceil(rank), whole, 0, detail)], []


def suggest(facts: ModelFacts, o: Options, p: Parallel) -> Suggestion:
    """The most preferred layout that fits on ``p.gpus`` GPUs, else on the fewest more
    (:mod:`paramcount.memory.search`)."""
    assert o.gpu_memory is not None

    def need(layout: Parallel) -> int:
        return sum(c.per_gpu for c in components(facts, o, layout)[0])

    return search.suggest(p, facts, o.train, need, o.gpu_memory)


def settings(facts: ModelFacts, o: Options) -> dict[str, Any]:
    """What was assumed of the run, for the JSON document."""
    out: dict[str, Any] = {"batch": o.batch, "context": o.context,
                           "encoder_length": o.encoder_length}
    if o.train:
        out.update(precision=o.precision, optimizer=o.optimizer, recompute=o.recompute)
    else:
        q = quantized(facts, o)
        if q is not None:
            out.update(dtype=o.dtype, scheme=label(q))
            dtype = "float16" if q.scheme == "gguf" else q.kept_dtype
        else:
            dtype = weights.weight_dtype(facts, o.dtype)
            out.update(dtype=dtype)
        if o.context is not None and (facts.cached or facts.states):
            cache = serving.cache_for(facts, o, dtype)
            out.update(kv_dtype=cache.key)
            if cache.value != cache.key:
                out.update(kv_key_dtype=cache.key, kv_value_dtype=cache.value)
            if facts.states:
                out.update(state_dtype=cache.state)
        if o.engine is not None:
            out.update(engine=o.engine)
    return out
