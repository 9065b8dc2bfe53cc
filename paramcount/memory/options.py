"""What a memory estimate is asked for: serving or training, on what, with which options; each
option's value checked before anything is computed."""

from __future__ import annotations

from dataclasses import dataclass

from paramcount.errors import SpecError, check_positive
from paramcount.memory import activations as act
from paramcount.memory.training import optimizer, precision


@dataclass(frozen=True)
class Options:
    """What to estimate: serving (the default) or training (``train``), and on what."""

    train: bool = False
    #: inference: the weights' dtype (``stored``: the checkpoint's own bytes)
    dtype: str | None = None
    kv_dtype: str | None = None
    #: inference: a storage scheme (gptq, awq, nf4, fp4, int8, fp8, mxfp4, nvfp4) and its
    #: group size; its bits come from ``dtype`` (int4, int8, ...)
    scheme: str | None = None
    group_size: int | None = None
    batch: int = 1
    #: tokens: the KV cache's length (inference), the sequence length (training)
    context: int | None = None
    encoder_length: int | None = None
    optimizer: str = "adamw"
    precision: str = "mixed-bf16"
    recompute: str = "none"
    sequence_parallel: bool = False
    gpus: int | None = None
    zero: int = 0
    offload: bool = False
    tp: int = 1
    pp: int = 1
    #: bytes of one GPU's memory, to say whether the estimate fits
    gpu_memory: int | None = None
    #: serving: keys' and values' cache dtypes apart (default: ``kv_dtype``)
    kv_key_dtype: str | None = None
    kv_value_dtype: str | None = None
    #: serving: an engine profile (vllm, llamacpp, transformers; None: the model's minimum)
    engine: str | None = None
    #: vLLM: the share of GPU memory it takes, tokens per KV page, the profiled chunk and
    #: sampler rows (None: the engine's defaults)
    gpu_memory_utilization: float | None = None
    block_size: int | None = None
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    #: llama.cpp: tokens per ubatch (512) and repeating layers on the GPU (-ngl; None: all)
    ubatch: int | None = None
    gpu_layers: int | None = None
    #: vLLM: expert parallelism over this many GPUs (experts split over them instead of
    #: tensor parallel ranks; 1: none)
    ep: int = 1
    #: serving without an engine: a prefill chunk of this many tokens (activation peak and
    #: logits buffer)
    chunk: int | None = None


def validate(o: Options) -> None:
    """Each option's value, checked before anything is computed."""
    for value, flag in ((o.batch, "--batch"), (o.context, "--context"),
                        (o.encoder_length, "--encoder-length"), (o.gpus, "--gpus"),
                        (o.tp, "--tp"), (o.pp, "--pp"), (o.block_size, "--block-size"),
                        (o.max_num_batched_tokens, "--max-num-batched-tokens"),
                        (o.max_num_seqs, "--max-num-seqs"), (o.ubatch, "--ubatch"),
                        (o.chunk, "--chunk"), (o.ep, "--ep")):
        check_positive(value, flag)
    if o.gpu_layers is not None and o.gpu_layers < 0:
        raise SpecError(f"--gpu-layers must be 0 or more, got {o.gpu_layers}")
    u = o.gpu_memory_utilization
    if u is not None and not 0 < u <= 1:
        raise SpecError(f"--gpu-memory-utilization must be in (0, 1], got {u}")
    if o.ep > 1 and (o.engine or "").lower() != "vllm":
        raise SpecError("--ep shards experts as vLLM's --enable-expert-parallel does: add "
                        "--engine vllm")
    if o.train and (o.engine or o.chunk):
        raise SpecError("--engine and --chunk describe serving; leave out --train")
    if o.train:
        precision(o.precision)
        optimizer(o.optimizer)
        act.check_recompute(o.recompute)
        if o.scheme is not None or o.group_size is not None:
            raise SpecError("--scheme and --group-size size the weights for serving; "
                            "training takes --precision")
        if o.dtype is not None:
            raise SpecError("--dtype sets the weights' dtype for inference; training takes "
                            "--precision (fp32, mixed-bf16, mixed-fp16 or bf16)")
