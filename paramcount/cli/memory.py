"""``paramcount memory SOURCE``: the memory to serve or train a model, per GPU.

    paramcount memory llama-3-8b --context 8192 --batch 4
    paramcount memory config.json --train --seq-len 4096 --gpus 8 --zero 3 --gpu-memory 80GB
    paramcount memory model.gguf --dtype stored --context 4096
    paramcount memory llama-3-8b --dtype int4 --scheme gptq --group-size 128
    paramcount memory config.json --estimator deepspeed --zero 3 --gpus 8
    paramcount memory gemma-2-9b --context 32768 --engine vllm --gpu-memory 80GiB

With ``--gpu-memory``, an estimate that does not fit suggests the most preferred layout that
does: on the ``--gpus`` asked for (default 1), else on the fewest more GPUs (powers of two and
multiples of 8, up to 16,384).

SOURCE is a file or folder (anything ``paramcount FILE`` reads) or a zoo entry (``llama-3-8b``
or ``zoo:llama-3-8b``). Training is implied by ``--train`` or any training option.
"""

from __future__ import annotations

import argparse
from typing import Any

from paramcount.cli import serving
from paramcount.cli.options import (
    Parser,
    format_argument,
    limit_arguments,
    positive_number,
    source_arguments,
    source_options,
)
from paramcount.errors import check_positive
from paramcount.model import Summary
from paramcount.report.memory import FORMATS

_SERVING = ("kv_key_dtype", "kv_value_dtype", "engine", "chunk", "gpu_memory_utilization",
            "block_size", "max_num_batched_tokens", "max_num_seqs", "ubatch", "gpu_layers", "ep")
_TRAINING = ("optimizer", "precision", "recompute", "zero", "offload", "sequence_parallel")


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="paramcount memory",
               description="Memory to serve (default) or train a model, per GPU, with every "
                           "assumption listed. Sizes in GiB (2^30 bytes) and GB (10^9).")
    p.add_argument("source", metavar="SOURCE", help="a model file or folder, or a zoo entry "
                                                  "(llama-3-8b); see `paramcount --help`")
    p.add_argument("--train", action="store_true",
                   help="training: weights, gradients, optimizer states, activations")
    serve = p.add_argument_group("serving")
    serve.add_argument("--dtype", help="weights' dtype: fp32, bf16, fp16, fp8, int8, int4, a "
                                       "GGUF type (Q4_K, ...) or stored (the checkpoint's "
                                       "own bytes); with --scheme, its bits (int2-int8)")
    serve.add_argument("--scheme", help="store the weights as a quantization format does, "
                                        "scales and zero points included: gptq, awq, nf4, "
                                        "fp4, int8, fp8, mxfp4 or nvfp4")
    serve.add_argument("--group-size", type=int, metavar="N",
                       help="the scheme's group of input features (default: 128 for gptq and "
                            "awq, 64 for nf4/fp4; -1: one per row); fp8: N×N blocks")
    serve.add_argument("--kv-dtype", help="KV cache dtype: fp16, bf16, fp8, q8_0 (1.0625 B), "
                                          "q4_0 (0.5625 B), ... (default: the weights' float "
                                          "dtype)")
    serve.add_argument("--kv-key-dtype", help="the keys' cache dtype (llama.cpp's -ctk)")
    serve.add_argument("--kv-value-dtype", help="the values' cache dtype (llama.cpp's -ctv)")
    serve.add_argument("--engine", choices=("vllm", "llamacpp", "transformers"),
                       help="add what this engine adds (default: the model's own minimum)")
    serve.add_argument("--chunk", type=int, metavar="TOKENS",
                       help="a prefill chunk: its activation peak and logits buffer")
    eng = p.add_argument_group("engine settings")
    eng.add_argument("--gpu-memory-utilization", type=positive_number, metavar="U",
                     help="vLLM's share of GPU memory (default 0.9)")
    eng.add_argument("--block-size", type=int, metavar="N", help="vLLM's KV page (default 16)")
    eng.add_argument("--max-num-batched-tokens", type=int, metavar="N",
                     help="vLLM's profiled chunk (default 8192 on GPUs of 70 GiB+, else 2048)")
    eng.add_argument("--max-num-seqs", type=int, metavar="N",
                     help="vLLM's sampler rows (default 1024 on GPUs of 70 GiB+, else 256)")
    eng.add_argument("--ep", type=int, metavar="E",
                     help="vLLM's expert parallelism: the experts split over E GPUs")
    eng.add_argument("--ubatch", type=int, metavar="N", help="llama.cpp's ubatch (default 512)")
    eng.add_argument("--gpu-layers", "-ngl", type=int, metavar="N",
                     help="llama.cpp: layers on the GPU, the rest in RAM (default: all)")
    shape = p.add_argument_group("tokens")
    shape.add_argument("--batch", type=int, default=1, metavar="N",
                       help="sequences per model replica (training: the micro-batch)")
    shape.add_argument("--context", "--seq-len", dest="context", type=int, metavar="TOKENS",
                       help="tokens in the KV cache (serving) or per sequence (training)")
    shape.add_argument("--encoder-length", type=int, metavar="TOKENS",
                       help="encoder tokens a cross-attention caches (default: --context)")
    train = p.add_argument_group("training")
    train.add_argument("--optimizer", help="adamw (default), adam, adam8bit, sgd, sgd-momentum")
    train.add_argument("--precision", help="mixed-bf16 (default), mixed-fp16, bf16 or fp32")
    train.add_argument("--recompute", help="activation recomputation: none (default), "
                                           "selective or full")
    train.add_argument("--sequence-parallel", action="store_true", default=None,
                       help="split the activations tensor parallelism replicates")
    gpus = p.add_argument_group("GPUs")
    gpus.add_argument("--gpus", type=int, metavar="N", help="GPUs in all (default tp × pp)")
    gpus.add_argument("--zero", type=int, metavar="STAGE", help="ZeRO stage 0-3 (training)")
    gpus.add_argument("--offload", action="store_true", default=None,
                      help="ZeRO's partitions in CPU memory (stage 3: the weights too)")
    gpus.add_argument("--tp", type=int, default=1, metavar="T", help="tensor parallel degree")
    gpus.add_argument("--pp", type=int, default=1, metavar="P", help="pipeline stages")
    gpus.add_argument("--gpu-memory", metavar="SIZE",
                      help="one GPU's memory (80GB, 80GiB; a plain number is GB): does it "
                           "fit, and if not, the most preferred layout that does, on --gpus "
                           "or on the fewest more (up to 16,384)")
    other = p.add_argument_group("other tools' conventions")
    other.add_argument("--estimator", choices=("paramcount", "deepspeed", "accelerate"),
                       default="paramcount", help="reproduce DeepSpeed's ZeRO estimator or "
                                                  "accelerate's estimate-memory exactly")
    other.add_argument("--nodes", type=int, default=1, metavar="N",
                       help="nodes the GPUs are spread over (DeepSpeed's estimator)")
    other.add_argument("--buffer-factor", type=positive_number, default=1.5, metavar="F",
                       help="DeepSpeed's additional_buffer_factor (default 1.5)")
    serving.arguments(p)
    source_arguments(p.add_argument_group("source"), "the model file or zoo entry")
    format_argument(p, FORMATS)
    limit_arguments(p)
    return p


def run(args: list[str]) -> str:
    """Parse ``args`` (what follows ``paramcount memory``) and return the rendered estimate."""
    from paramcount.report.memory import render

    ns = _parser().parse_args(args)
    if ns.gpu is not None and ns.gpu.lower() == "list":
        from paramcount.memory.gpus import listing

        return listing()
    summary = load(ns)
    if serving.asked(ns):
        return serving.run(summary, ns, _options(ns))
    if ns.estimator != "paramcount":
        return render(_other(summary, ns), ns.format)
    from paramcount import memory

    return render(memory.estimate(summary, **_options(ns)), ns.format)


def _other(summary: Summary, ns: argparse.Namespace) -> Any:
    from paramcount import memory

    if ns.estimator == "accelerate":
        return memory.accelerate(summary)
    for value, flag in ((ns.gpus, "--gpus"), (ns.nodes, "--nodes")):
        check_positive(value, flag)
    return memory.deepspeed(summary, 2 if ns.zero is None else ns.zero, ns.gpus or ns.nodes,
                            ns.nodes, ns.buffer_factor)


def _options(ns: argparse.Namespace) -> dict[str, Any]:
    from paramcount.memory import parse_size

    given = {k: getattr(ns, k) for k in _TRAINING if getattr(ns, k) is not None}
    options: dict[str, Any] = {
        "train": ns.train or bool(given), "dtype": ns.dtype, "kv_dtype": ns.kv_dtype,
        "scheme": ns.scheme, "group_size": ns.group_size,
        "batch": ns.batch, "context": ns.context, "encoder_length": ns.encoder_length,
        "gpus": ns.gpus, "tp": ns.tp, "pp": ns.pp, **given,
    }
    for key in _SERVING:
        if getattr(ns, key) is not None:
            options[key] = getattr(ns, key)
    if ns.sequence_parallel is not None:
        options["sequence_parallel"] = ns.sequence_parallel
    if ns.gpu_memory is not None:
        options["gpu_memory"] = parse_size(ns.gpu_memory)
    return options


def load(ns: argparse.Namespace) -> Summary:
    """The model, through the front door: a file or folder, a zoo entry, ..."""
    from paramcount.sources import summarize

    return summarize(ns.source, **source_options(ns))
