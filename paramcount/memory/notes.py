"""The assumptions behind an estimate, in words, one sentence per line of the "Assumptions:"
list: bytes per state, what is left out, which units."""

from __future__ import annotations

from paramcount.memory import weights
from paramcount.memory.facts import ModelFacts
from paramcount.memory.options import Options
from paramcount.memory.parallel import Parallel
from paramcount.memory.quantized import KIND_NAMES, QuantizedWeights
from paramcount.memory.training import StateBytes, optimizer, precision

UNITS = "GiB = 2^30 bytes (binary, what GPU memory is sold in), GB = 10^9 bytes (decimal)"
LEFT_OUT = ("not included: the CUDA context and framework workspace (often 0.5-2 GiB per "
            "GPU), allocator fragmentation, and temporary buffers (communication buckets, "
            "all-gathers, matmul and attention workspaces); keep some headroom")


def assumptions(facts: ModelFacts, o: Options, p: Parallel) -> list[str]:
    out = _training(facts, o, p) if o.train else _inference(facts, o, p)
    if facts.lower_bound:
        out.append("some layers were not understood: their parameters are not counted, so "
                   "these sizes are lower bounds")
    return [*out, LEFT_OUT, UNITS]


def _inference(facts: ModelFacts, o: Options, p: Parallel) -> list[str]:
    from paramcount.memory.breakdown import quantized

    q = quantized(facts, o)
    if q is None:
        dtype = weights.weight_dtype(facts, o.dtype)
        out = [_weights_line(facts, dtype)]
    else:
        dtype = "float16" if q.scheme == "gguf" else q.kept_dtype
        out = [_scheme_line(q)]
    if o.context is not None:
        from paramcount.memory.serving import cache_for

        c = cache_for(facts, o, dtype)
        cache = c.key if c.value == c.key else f"{c.key} (keys) and {c.value} (values)"
        given = o.kv_dtype or o.kv_key_dtype or o.kv_value_dtype or o.engine == "llamacpp"
        out += [
            "KV cache: each attention module keeps key/value heads × (head_dim + value "
            "head_dim) elements per token (grouped- and multi-query attention: only the "
            "key/value heads; a latent cache: its latent width) for min(context, sliding "
            "window) tokens (transformers keeps window - 1 between steps, the window during "
            f"one), in {cache}"
            + ("" if given else " (the weights' dtype when a float, else float16)"),
            "cross-attention caches the encoder's output: --encoder-length tokens "
            "(default: the context); an encoder's self-attention, run once, caches nothing",
            f"batch {o.batch}: sequences each model replica serves at once",
            *facts.cache_notes,
        ]
        if facts.states:
            out.append("recurrent layers (Mamba, linear attention) keep a fixed state per "
                       "sequence: their convolution's channels × kernel and their state "
                       f"(transformers' and vLLM's layout), in {c.state}")
    if not (o.engine or o.chunk):
        out.append("activations of the forward pass (one layer's working set at a time) are "
                   "not included")
    if p.gpus > 1:
        out.append("tensor parallelism splits the weights and the key/value heads tp ways (a "
                   "head is never split: fewer key/value heads than ranks are replicated); "
                   "pipeline parallelism puts 1/pp of the layers and their cache on each "
                   "stage; each data-parallel replica holds a full copy")
    return out


def _weights_line(facts: ModelFacts, dtype: str) -> str:
    if dtype == weights.STORED:
        return ("weights as the checkpoint stores them, bytes of every tensor "
                "(quantized blocks included)")
    return (f"weights: {facts.params:,} parameters and {facts.buffers:,} buffer elements at "
            f"{weights.per_element(dtype)} ({dtype})")


def _scheme_line(q: QuantizedWeights) -> str:
    from paramcount.memory.schemes import SCHEMES

    s = SCHEMES[q.scheme]
    skipped = f"; modules left unquantized by the config: {', '.join(q.plan.skip)}" \
        if q.plan.skip else ""
    return (f"weights as {s.text} stores them ({q.plan.source}): every quantized matrix "
            "at the bytes of the tensors the format writes for it (packed values, scales, "
            "zero points, group indices), a mixture's experts one matrix each; "
            f"{', '.join(KIND_NAMES[k] for k in q.kept) or 'nothing'} kept in "
            f"{q.kept_dtype}{skipped}")


def _training(facts: ModelFacts, o: Options, p: Parallel) -> list[str]:
    prec, opt = precision(o.precision), optimizer(o.optimizer)
    sb = StateBytes.of(prec, opt)
    out = [
        f"precision {prec.name}: {prec.text}; optimizer {opt.text}",
        f"bytes per trainable parameter: {sb.describe()}; a frozen parameter keeps only its "
        f"{sb.weights} B of weights ({facts.frozen:,} frozen)",
        "buffers (normalization statistics) are counted at the weights' bytes",
    ]
    out += _parallel_lines(p)
    out += _activation_lines(facts, o, p)
    return out


#: what each ZeRO stage partitions over the data-parallel replicas (and offload moves)
_PARTITIONED = {1: "the optimizer states", 2: "the optimizer states and gradients",
                3: "the optimizer states, gradients and weights"}


def _parallel_lines(p: Parallel) -> list[str]:
    out = []
    if p.model_parallel > 1:
        out.append("tensor and pipeline parallelism split every weight, gradient and "
                   "optimizer state evenly over tp × pp ranks (Megatron's replicated "
                   "norms and the embeddings' placement are ignored)")
    parts = _PARTITIONED.get(p.zero, "")
    if p.zero:
        out.append(f"ZeRO-{p.zero} partitions {parts} over the {p.dp} data-parallel "
                   "replicas (Rajbhandari et al. 2020), each part rounded up to a byte")
    if p.zero == 3:
        out.append("ZeRO-3 gathers one layer's full weights and computes its full gradients "
                   "at a time: the largest layer's, counted as 'gathered layer'")
    if p.offload:
        out.append(f"offload keeps {parts} (ZeRO's partitions) in CPU memory, not on the "
                   "GPU; the CPU column adds them up over all GPUs")
    return out


def _activation_lines(facts: ModelFacts, o: Options, p: Parallel) -> list[str]:
    batch = f"micro-batch {o.batch} per data-parallel replica"
    if not facts.has_attention:
        return [f"activations: twice (once for its gradient) the output of every layer with "
                f"parameters, {batch}, as torchinfo's 'Forward/backward pass size' counts "
                "them; layers without parameters (activations, pooling) are not counted"]
    recompute = {
        "none": "s·b·h·(34 + 5·a·s/h) bytes per layer",
        "selective": "s·b·h·34 bytes per layer (selective recomputation: the attention "
                     "scores are recomputed; FlashAttention, which never stores them, "
                     "gives the same)",
        "full": "2·s·b·h bytes per layer (full recomputation: only each layer's input is "
                "kept; the recomputed layer's working set is not counted)",
    }[o.recompute]
    out = [
        f"activations: Korthikanti et al. 2022, {recompute}, with 2-byte activations and "
        "1-byte dropout masks (4-byte activations in fp32); s = --seq-len, b = " + batch,
        "the paper's layer: attention, a 4h GeLU MLP and two norms; a gated or wider MLP, or "
        "a mixture of experts, stores more than this; a cross-attention module adds its "
        "attention block and a norm",
        "not included: the embeddings, the final norm, the output layer and the loss "
        "(4·s·b·v bytes of fp32 logits for a vocabulary of v)",
    ]
    if p.tp > 1:
        split = ("everything split tp ways (sequence parallelism)" if p.sp else
                 "s·b·h·(10 + 24/t + 5·a·s/(h·t)): norms, block inputs and dropout masks "
                 "replicated on every tensor rank")
        out.append(f"tensor parallelism of {p.tp}: {split}")
    if p.pp > 1:
        out.append(f"pipeline of {p.pp} stages, 1F1B with at least {p.pp} micro-batches: the "
                   f"first stage holds {p.pp} micro-batches of 1/{p.pp} of the layers, so "
                   "every layer's activations for one micro-batch (later stages hold fewer)")
    return out
