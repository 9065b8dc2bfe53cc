"""A serving plan: the forward estimate on a named GPU, an inverse question's answer (the
longest context, the most sequences, the fewest GPUs) and the tokens per second it would
reach, each from its own module (:mod:`~paramcount.memory.gpus`,
:mod:`~paramcount.memory.inverse`, :mod:`~paramcount.memory.speed`).

>>> import paramcount
>>> s = paramcount.summarize("zoo:llama-3-8b")
>>> p = plan(s, gpu="H100", question="max_context", batch=4)
>>> p.answer.value, p.estimate.fits
(133206, True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from paramcount.errors import SpecError
from paramcount.memory.breakdown import MemoryEstimate
from paramcount.memory.facts import ModelFacts
from paramcount.memory.gpus import Gpu
from paramcount.memory.gpus import gpu as catalog_gpu
from paramcount.memory.inverse import Answer, max_batch, max_context, min_gpus
from paramcount.memory.search import Suggestion
from paramcount.memory.speed import EFFICIENCY, Roofline, roofline
from paramcount.model import Summary

#: the inverse questions, by their JSON key, and the flag that asks each
QUESTIONS = {"max_context": "--max-context", "max_batch": "--max-batch",
             "min_gpus": "--min-gpus"}


@dataclass
class ServingPlan:
    """The estimate (at the answer, when a question was asked), the GPU, the answer and the
    roofline; prints as the estimate's table with the answer and the speeds below."""

    estimate: MemoryEstimate
    gpu: Gpu | None
    budget: int | None
    question: str | None = None
    answer: Answer | None = None
    layout: Suggestion | None = None
    roofline: Roofline | None = None

    def to_dict(self) -> dict[str, Any]:
        from paramcount.report.serving import to_dict

        return to_dict(self)

    def __str__(self) -> str:
        from paramcount.report.serving import render

        return render(self)


def resolve_gpu(name: str | None, memory: int | None, bandwidth: float | None) -> Gpu | None:
    """The catalog's GPU, its memory or bandwidth overridden; a GPU of its own ("custom")
    when only a bandwidth is given; None when neither a name nor a bandwidth is."""
    if name is None and bandwidth is None:
        return None
    base = Gpu("custom", memory or 0, 0.0, {}, "--gpu-memory and --bandwidth") \
        if name is None else catalog_gpu(name)
    if memory is not None:
        from fractions import Fraction

        base = replace(base, memory=memory, share=Fraction(1))
    if bandwidth is not None:
        base = replace(base, bandwidth=bandwidth)
    return base


def plan(summary: Summary, gpu: str | None = None, bandwidth: float | None = None,
         question: str | None = None, efficiency: tuple[float, float] = EFFICIENCY,
         **options: Any) -> ServingPlan:
    """The serving plan of ``summary``: ``options`` are the forward estimate's
    (:func:`paramcount.memory.estimate`); ``gpu_memory`` overrides the GPU's usable memory,
    ``bandwidth`` (bytes/s) its bandwidth; ``question`` one of :data:`QUESTIONS`."""
    device = resolve_gpu(gpu, options.get("gpu_memory"), bandwidth)
    budget = options.get("gpu_memory") or (device.usable if device and device.memory else None)
    options = {**options, "gpu_memory": budget}
    facts = ModelFacts.of(summary)
    result = ServingPlan(_estimate(facts, options), device, budget, question)
    if question is not None:
        _answer(result, facts, options)
    if device is not None and device.bandwidth and result.estimate.mode == "inference":
        result.roofline = roofline(summary, result.estimate, device, efficiency)
    return result


def _estimate(facts: ModelFacts, options: dict[str, Any]) -> MemoryEstimate:
    from paramcount.memory import estimate

    return estimate(facts, **options)


def _answer(result: ServingPlan, facts: ModelFacts, options: dict[str, Any]) -> None:
    question = result.question
    if question not in QUESTIONS:
        raise SpecError(f"unknown question {question!r}; known: {', '.join(QUESTIONS)}")
    budget = result.budget
    if budget is None:
        raise SpecError(f"{QUESTIONS[question]} needs a GPU: --gpu NAME or --gpu-memory SIZE")
    if question == "min_gpus":
        result.layout, at = min_gpus(facts, budget, **options)
    else:
        ask = max_context if question == "max_context" else max_batch
        result.answer = ask(facts, budget, **options)
        at = result.answer.estimate
    if at is not None:
        at.gpu_memory = budget  # the answer's estimate, measured against the budget
        result.estimate = at
