"""The serving-plan options of ``paramcount memory``: a GPU from the catalog, an inverse
question, and tokens per second.

    paramcount memory llama-3-8b --gpu H100 --context 8192 --batch 4
    paramcount memory llama-3-8b --gpu H100 --max-context --batch 4
    paramcount memory llama-3-70b --gpu A100-80GB --max-batch --context 4096
    paramcount memory llama-3-70b --gpu L40S --min-gpus --context 8192
    paramcount memory model.gguf --dtype stored --gpu m2-ultra --context 4096
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from paramcount.errors import SpecError

#: the options this module adds, each asking for a serving plan when given
FLAGS = ("gpu", "bandwidth", "efficiency", "question")


def arguments(p: argparse.ArgumentParser) -> None:
    """The serving-plan option group."""
    g = p.add_argument_group("serving plan: GPU, inverse questions, tokens per second")
    g.add_argument("--gpu", metavar="NAME",
                   help="a GPU from the catalog (H100, H200, B200, A100-40GB, A100-80GB, "
                        "L40S, L4, A10, RTX4090, MI300X, M2-Ultra, ...; `list` lists them): "
                        "its memory is the budget, its bandwidth and FLOPS give tokens/s")
    g.add_argument("--bandwidth", metavar="RATE",
                   help="memory bandwidth per GPU (3.35TB/s, 900GB/s; a plain number is "
                        "GB/s): overrides the GPU's")
    g.add_argument("--efficiency", metavar="E[,F]",
                   help="share of peak bandwidth (E) and FLOPS (F, default E) kernels "
                        "reach (default 0.8,0.5)")
    ask = g.add_mutually_exclusive_group()
    ask.add_argument("--max-context", dest="question", action="store_const",
                     const="max_context", help="the longest context that fits for --batch")
    ask.add_argument("--max-batch", dest="question", action="store_const", const="max_batch",
                     help="the most sequences of --context tokens that fit")
    ask.add_argument("--min-gpus", dest="question", action="store_const", const="min_gpus",
                     help="the smallest tensor/pipeline layout that fits")


def asked(ns: argparse.Namespace) -> bool:
    """Whether any serving-plan option was given."""
    return any(getattr(ns, f, None) is not None for f in FLAGS)


def parse_bandwidth(text: str) -> float:
    """``3.35TB/s`` -> 3.35·10¹² bytes per second; a plain number is GB/s.

    >>> parse_bandwidth("3.35TB/s"), parse_bandwidth("900")
    (3350000000000, 900000000000)
    """
    from paramcount.units import parse_size

    return parse_size(re.sub(r"\s*/\s*s\s*$", "", text, flags=re.I), "--bandwidth")


def parse_efficiency(text: str) -> tuple[float, float]:
    """``0.7`` -> (0.7, 0.7); ``0.8,0.5`` -> (0.8, 0.5); each a share in (0, 1].

    >>> parse_efficiency("0.8,0.5")
    (0.8, 0.5)
    """
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or not all(0 < x <= 1 for x in parts):
        raise SpecError(f"--efficiency {text!r}: expected one or two shares in (0, 1], "
                        "such as 0.8 or 0.8,0.5")
    return parts[0], parts[-1]


def run(summary: Any, ns: argparse.Namespace, options: dict[str, Any]) -> str:
    """The serving plan the options ask for, rendered."""
    from paramcount.memory.planning import plan
    from paramcount.memory.speed import EFFICIENCY
    from paramcount.report.serving import render

    if ns.estimator != "paramcount":
        raise SpecError(f"--estimator {ns.estimator} reproduces another tool's table; "
                        "--gpu, --bandwidth and the inverse questions are paramcount's")
    efficiency = EFFICIENCY if ns.efficiency is None else parse_efficiency(ns.efficiency)
    bandwidth = None if ns.bandwidth is None else parse_bandwidth(ns.bandwidth)
    result = plan(summary, gpu=ns.gpu, bandwidth=bandwidth, question=ns.question,
                  efficiency=efficiency, **options)
    return render(result, ns.format)
