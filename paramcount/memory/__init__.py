"""Memory to serve or train a model, per GPU, from the same summary every source gives.

Analytic and framework-free: weights at a dtype, the KV cache of every attention module,
gradients and optimizer states by precision and optimizer (ZeRO's ``2 + 2 + K`` bytes per
parameter), activations (Korthikanti et al. 2022 for transformers, torchinfo's layer outputs
otherwise), spread over data, tensor and pipeline parallel GPUs with ZeRO stages 0 to 3; each
estimate lists the assumptions it makes. Given one GPU's memory, an estimate that does not fit
suggests the most preferred layout that does, on the GPUs asked for or on the fewest more (up
to :data:`MAX_GPUS`; :mod:`paramcount.memory.search`). DeepSpeed's and accelerate's own
estimators are reproduced too (:func:`deepspeed`, :func:`accelerate`), conventions and all.

>>> import paramcount
>>> from paramcount import memory
>>> dense = paramcount.layer("Dense", units=1000).count((1000,))
>>> memory.estimate(dense, dtype="fp16").per_gpu
2002000
>>> memory.estimate(dense, train=True, precision="fp32", optimizer="adamw").component(
...     "optimizer states").per_gpu
8008000
"""

from __future__ import annotations

from typing import Any

from paramcount.errors import SpecError
from paramcount.memory.breakdown import Component, MemoryEstimate
from paramcount.memory.estimators import (
    EstimatorTable,
    accelerate_table,
    deepspeed_table,
    deepspeed_zero2,
    deepspeed_zero3,
)
from paramcount.memory.facts import ModelFacts
from paramcount.memory.options import Options
from paramcount.memory.parallel import Parallel
from paramcount.memory.search import MAX_GPUS, Suggestion
from paramcount.model import Summary
from paramcount.units import GB, GIB, parse_size

__all__ = ["GB", "GIB", "MAX_GPUS", "Component", "EstimatorTable", "MemoryEstimate",
           "ModelFacts", "Options", "Parallel", "Suggestion", "accelerate", "deepspeed",
           "deepspeed_zero2", "deepspeed_zero3", "estimate", "parse_size"]


def _facts(model: Summary | ModelFacts) -> ModelFacts:
    return model if isinstance(model, ModelFacts) else ModelFacts.of(model)


def estimate(model: Summary | ModelFacts, **options: Any) -> MemoryEstimate:
    """The memory to serve (default) or train (``train=True``) ``model``; ``options`` are the
    fields of :class:`Options` (``dtype``, ``context``, ``batch``, ``precision``,
    ``optimizer``, ``gpus``, ``zero``, ``tp``, ``pp``, ``gpu_memory`` in bytes, ...)."""
    from paramcount.memory import breakdown

    try:
        opts = Options(**options)
    except TypeError:
        known = ", ".join(Options.__dataclass_fields__)
        bad = sorted(set(options) - set(Options.__dataclass_fields__))
        raise SpecError(f"unknown memory option {bad[0]!r}; known: {known}") from None
    return breakdown.estimate(_facts(model), opts)


def deepspeed(model: Summary | ModelFacts, stage: int = 2, gpus: int = 1, nodes: int = 1,
              buffer_factor: float = 1.5) -> EstimatorTable:
    """DeepSpeed's ZeRO-2 or ZeRO-3 model-state estimate, every offload option, exactly as
    ``estimate_zero{2,3}_model_states_mem_needs_all_cold`` prints it."""
    return deepspeed_table(_facts(model), stage, gpus, nodes, buffer_factor)


def accelerate(model: Summary | ModelFacts) -> EstimatorTable:
    """accelerate's ``estimate-memory`` table (float32, float16, int8, int4)."""
    return accelerate_table(_facts(model))
