"""The fewest GPUs a model fits on, and the most preferred layout on them.

The GPU count asked for is searched first; when nothing fits on it, larger counts are: 1, 2, 4
and every multiple of 8 (every power of two among them) up to :data:`MAX_GPUS`. On one count
the layouts are :func:`~paramcount.memory.parallel.candidates`, in their preference order.

Trying every layout of 2,000 counts would take seconds, so the search uses one fact: with the
tensor and pipeline degrees and the ZeRO stage fixed, the memory per GPU never grows with the
data-parallel degree (ZeRO's partitions shrink, nothing else changes). For each such shape a
binary search over the counts it can take finds the fewest it fits on; the least of those is
the answer's count, and the preference order picks the layout on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from paramcount.memory.facts import ModelFacts
from paramcount.memory.parallel import (
    Parallel,
    candidates,
    preference,
    stages,
    tensor_degrees,
    transformer_layers,
)

#: the largest GPU count searched
MAX_GPUS = 16_384
#: the memory one GPU needs in a layout, in bytes
Need = Callable[[Parallel], int]


@dataclass(frozen=True)
class Suggestion:
    """The most preferred layout that fits on the fewest GPUs (at least ``asked``), or None
    when nothing up to ``limit`` GPUs does.

    >>> Suggestion(Parallel(gpus=32, tp=8, zero=1), 76 * 10**9, asked=8).more_gpus
    True
    """

    parallel: Parallel | None
    per_gpu: int | None
    #: the GPU count asked for, searched first
    asked: int = 1
    limit: int = MAX_GPUS

    @property
    def more_gpus(self) -> bool:
        """True when the layout needs more GPUs than were asked for."""
        return self.parallel is not None and self.parallel.gpus > self.asked

    @property
    def space(self) -> str:
        """The search space and the preference order, in words."""
        counts = _plural(self.asked)
        if self.asked < self.limit:
            counts += (" first, then larger counts that are powers of two or multiples of 8, "
                       f"up to {self.limit:,}")
        return (f"{counts}; on each count, tensor parallel degrees dividing the count and the "
                "heads, pipeline degrees dividing the rest (at most one stage per layer), ZeRO "
                "stages 0-3 for training (offload and sequence parallelism as asked); "
                "preferred: fewest GPUs, then least tp × pp, then lowest ZeRO stage, then "
                "tensor before pipeline")


def _plural(gpus: int) -> str:
    return f"{gpus:,} GPU{'s' if gpus > 1 else ''}"


def suggest(base: Parallel, facts: ModelFacts, train: bool, need: Need, budget: int,
            limit: int = MAX_GPUS) -> Suggestion:
    """The most preferred layout of ``base.gpus`` GPUs that needs at most ``budget`` bytes per
    GPU, else of the fewest larger counts that has one.

    >>> import paramcount
    >>> facts = ModelFacts.of(paramcount.layer("Dense", units=1000).count((1000,)))
    >>> def states(p):  # 16 bytes per parameter, all partitioned by ZeRO-3 only
    ...     return -(-16_016_000 // p.dp) if p.zero == 3 else 16_016_000
    >>> s = suggest(Parallel(), facts, True, states, 3_000_000)
    >>> s.parallel.describe(), s.per_gpu
    ('8 GPUs = 8 data × 1 tensor × 1 pipeline, ZeRO-3', 2002000)
    """
    found = first_fit(base, facts, train, need, budget)
    if found is None and base.gpus < limit:
        count = fewest_gpus(base, facts, train, need, budget, limit)
        if count is not None:
            found = first_fit(replace(base, gpus=count), facts, train, need, budget)
    return Suggestion(found, None if found is None else need(found), base.gpus, limit)


def first_fit(base: Parallel, facts: ModelFacts, train: bool, need: Need, budget: int
              ) -> Parallel | None:
    """The first layout of ``base.gpus`` GPUs, in preference order, that fits ``budget``."""
    return next((p for p in candidates(base, facts, train) if need(p) <= budget), None)


def fewest_gpus(base: Parallel, facts: ModelFacts, train: bool, need: Need, budget: int,
                limit: int = MAX_GPUS) -> int | None:
    """The fewest GPUs, more than ``base.gpus`` and at most ``limit``, that some layout fits
    on; None when none does."""
    best: int | None = None
    for shape in shapes(base, facts, train, limit):
        below = limit if best is None else best - 1
        count = _fewest(shape, base.gpus, below, need, budget)
        if count is not None:
            best = count
    return best


def shapes(base: Parallel, facts: ModelFacts, train: bool, limit: int) -> list[Parallel]:
    """Every (tp, pp, ZeRO stage) worth trying on up to ``limit`` GPUs, one GPU count left
    open; least model parallelism first, so that an early answer prunes the rest."""
    layers = transformer_layers(facts) or 1
    out = [replace(base, tp=tp, pp=pp, zero=zero)
           for tp in tensor_degrees(facts) if tp <= limit
           for pp in range(1, min(layers, limit // tp) + 1)
           for zero in stages(base, train)]
    return sorted(out, key=preference)


def counts(multiple_of: int, above: int, below: int) -> tuple[list[int], range]:
    """The counts of the search space that ``multiple_of`` divides, ``above < n <= below``:
    those under 8, then the multiples of 8 as a range (a binary search indexes it).

    >>> counts(3, 1, 100), counts(2, 1, 20)
    (([], range(24, 101, 24)), ([2, 4], range(8, 21, 8)))
    """
    small = [n for n in (1, 2, 4) if above < n <= below and n % multiple_of == 0]
    step = math.lcm(8, multiple_of)
    return small, range((above // step + 1) * step, below + 1, step)


def _fewest(shape: Parallel, above: int, below: int, need: Need, budget: int) -> int | None:
    """The fewest GPUs in ``(above, below]`` on which ``shape`` fits, by binary search: its
    memory per GPU never grows with the data-parallel degree."""
    def fits(gpus: int) -> bool:
        return need(replace(shape, gpus=gpus)) <= budget

    small, space = counts(shape.model_parallel, above, below)
    for n in small:
        if fits(n):
            return n
    if not space or not fits(space[-1]):
        return None
    lo, hi = 0, len(space) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(space[mid]) else (mid + 1, hi)
    return space[lo]
