"""The inverse questions: the longest context, the most sequences, the fewest GPUs that fit.

Each answer is found on the forward estimate itself (:func:`paramcount.memory.estimate`), never
on a formula of its own, so that it moves with every term the estimate gains: memory per GPU
never falls as the context or the batch grows, so a doubling search brackets the answer and a
bisection finds it; the answer fits and one more does not. The fewest GPUs is the layout
search of :mod:`paramcount.memory.search`, started from one GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paramcount.errors import SpecError
from paramcount.memory.breakdown import MemoryEstimate
from paramcount.memory.facts import ModelFacts
from paramcount.memory.search import MAX_GPUS, Suggestion

#: the longest context searched, in tokens (beyond any model's trained window today); a model
#: whose cache stops growing (every layer sliding, or none cached) answers "at least" this
MAX_CONTEXT = 10_000_000
#: the most concurrent sequences searched
MAX_BATCH = 1_000_000


@dataclass(frozen=True)
class Answer:
    """An inverse question's answer: ``value`` (None when even 1 does not fit), the limit
    searched (``value == limit``: it fits at the limit, and larger values were not tried),
    and the forward estimate at the answer.

    >>> Answer("max_context", 8192, 10_000_000, None).capped
    False
    """

    question: str
    value: int | None
    limit: int
    estimate: MemoryEstimate | None

    @property
    def capped(self) -> bool:
        return self.value is not None and self.value >= self.limit


def _estimate(facts: ModelFacts, options: dict[str, Any]) -> MemoryEstimate:
    from paramcount.memory import estimate

    # the budget is compared here: given to the estimate, a miss would start a layout search
    return estimate(facts, **{**options, "gpu_memory": None})


def largest(fits: Callable[[int], bool], limit: int) -> int | None:
    """The largest ``n`` in ``1..limit`` for which ``fits(n)``, ``fits`` being true up to some
    point and false after it; None when ``fits(1)`` is false.

    >>> largest(lambda n: n * n <= 1000, 10**6), largest(lambda n: False, 10)
    (31, None)
    """
    if not fits(1):
        return None
    lo = 1
    while lo < limit:  # double until the answer is bracketed: fits(lo), not fits(hi)
        hi = min(2 * lo, limit)
        if not fits(hi):
            break
        lo = hi
    else:
        return limit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def _search(question: str, key: str, facts: ModelFacts, options: dict[str, Any],
            budget: int, limit: int) -> Answer:
    def fits(n: int) -> bool:
        return _estimate(facts, {**options, key: n}).per_gpu <= budget

    value = largest(fits, limit)
    at = None if value is None else _estimate(facts, {**options, key: value})
    return Answer(question, value, limit, at)


def max_context(facts: ModelFacts, budget: int, limit: int = MAX_CONTEXT,
                **options: Any) -> Answer:
    """The longest context (tokens in the KV cache) for ``options['batch']`` sequences that
    fits in ``budget`` bytes per GPU.

    >>> from paramcount.memory.facts import ModelFacts
    >>> from paramcount.layers.base import Attention
    >>> layers = ((Attention(32, 128), 32),)  # Llama-2-7B's cache: 512 KiB a token in fp16
    >>> f = ModelFacts("llama", "llama", "float16", 0, 0, 0, attentions=layers, cached=layers)
    >>> max_context(f, 2**30, dtype="fp16").value
    2048
    """
    _serving(options, "--max-context")
    return _search("max_context", "context", facts, options, budget, limit)


def max_batch(facts: ModelFacts, budget: int, limit: int = MAX_BATCH,
              **options: Any) -> Answer:
    """The most sequences of ``options['context']`` tokens served at once in ``budget``
    bytes per GPU."""
    _serving(options, "--max-batch")
    if options.get("context") is None:
        raise SpecError("--max-batch needs --context TOKENS: the length of each sequence")
    return _search("max_batch", "batch", facts, options, budget, limit)


def min_gpus(facts: ModelFacts, budget: int, **options: Any
             ) -> tuple[Suggestion, MemoryEstimate | None]:
    """The smallest layout (fewest GPUs, then least tensor × pipeline parallelism) on which
    the estimate fits ``budget`` bytes per GPU, from one GPU up to :data:`MAX_GPUS`, and the
    estimate on it (None when nothing fits): the forward estimate's own layout search
    (:mod:`paramcount.memory.search`), asked from one GPU."""
    from paramcount.memory import estimate

    base = {**options, "gpus": None, "tp": 1, "pp": 1}
    one = estimate(facts, **{**base, "gpu_memory": budget})
    if one.fits:
        return Suggestion(one.parallel, one.per_gpu, 1, MAX_GPUS), one
    found = one.suggestion
    assert found is not None  # an estimate that does not fit its budget carries one
    if found.parallel is None:
        return found, None
    p = found.parallel
    layout = {"gpus": p.gpus, "tp": p.tp, "pp": p.pp}
    if options.get("train"):
        layout.update(zero=p.zero, offload=p.offload, sequence_parallel=p.sp)
    return found, estimate(facts, **{**base, **layout, "gpu_memory": budget})


def _serving(options: dict[str, Any], flag: str) -> None:
    if options.get("train"):
        raise SpecError(f"{flag} asks a serving question; leave out --train and the "
                        "training options")
