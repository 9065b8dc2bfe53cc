"""How a model is spread over GPUs: data parallelism with ZeRO, tensor and pipeline parallelism.

``gpus = data × tensor × pipeline``. Tensor parallelism (Megatron) splits every weight matrix,
its gradient and optimizer state, and most activations, ``tp`` ways; pipeline parallelism puts
``1/pp`` of the layers on each stage; ZeRO (Rajbhandari et al. 2020) partitions model states
over the ``data`` replicas: stage 1 the optimizer states, stage 2 the gradients too, stage 3
the weights too. Per GPU, with Ψ parameters, K bytes of optimizer state per parameter and
``N`` replicas: stage 0 ``(2 + 2 + K)Ψ``, stage 1 ``2Ψ + 2Ψ + KΨ/N``, stage 2
``2Ψ + (2 + K)Ψ/N``, stage 3 ``(2 + 2 + K)Ψ/N``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from paramcount.errors import SpecError
from paramcount.memory.facts import ModelFacts

ZERO_STAGES = (0, 1, 2, 3)


@dataclass(frozen=True)
class Parallel:
    """One layout of GPUs.

    >>> p = Parallel(gpus=64, tp=8, pp=2, zero=1)
    >>> p.dp, p.model_parallel
    (4, 16)
    """

    gpus: int = 1
    tp: int = 1
    pp: int = 1
    zero: int = 0
    offload: bool = False
    #: sequence parallelism (Korthikanti et al.): the activations tensor parallelism leaves
    #: replicated are split too
    sp: bool = False

    @property
    def model_parallel(self) -> int:
        return self.tp * self.pp

    @property
    def dp(self) -> int:
        return self.gpus // self.model_parallel

    def describe(self) -> str:
        parts = [f"{self.gpus} GPU{'s' if self.gpus > 1 else ''}"]
        if self.gpus > 1:
            parts.append(f"= {self.dp} data × {self.tp} tensor × {self.pp} pipeline")
        if self.zero:
            parts.append(f", ZeRO-{self.zero}")
        if self.offload:
            parts.append(", offload to CPU")
        if self.sp:
            parts.append(", sequence parallel")
        return " ".join(parts).replace(" ,", ",")


def shard(n: int, parts: int) -> int:
    """One part of ``n`` bytes split ``parts`` ways (the largest part, rounded up).

    >>> shard(10, 4), shard(12, 4)
    (3, 3)
    """
    return -(-n // parts)


def check(p: Parallel, facts: ModelFacts, train: bool) -> Parallel:
    """``p`` if it is a layout this model can take; otherwise a one-line error."""
    for value, flag in ((p.gpus, "--gpus"), (p.tp, "--tp"), (p.pp, "--pp")):
        positive(value, flag)
    if p.gpus % p.model_parallel:
        raise SpecError(f"--gpus {p.gpus} is not a multiple of --tp × --pp = "
                        f"{p.tp} × {p.pp} = {p.model_parallel}")
    if p.zero not in ZERO_STAGES:
        raise SpecError(f"--zero {p.zero}: ZeRO stages are 0, 1, 2 and 3")
    if not train and (p.zero or p.offload):
        raise SpecError("--zero and --offload apply to training (add --train)")
    if p.offload and p.zero == 0:
        raise SpecError("--offload moves ZeRO's partitions to the CPU: it needs --zero 1, 2 "
                        "or 3")
    _check_tp(p, facts)
    layers = transformer_layers(facts)
    if p.pp > 1 and layers and p.pp > layers:
        raise SpecError(f"--pp {p.pp}: the model has only {layers} layers to split into "
                        "pipeline stages")
    return p


def _check_tp(p: Parallel, facts: ModelFacts) -> None:
    if p.tp == 1:
        return
    if not facts.has_attention:
        raise SpecError(f"--tp {p.tp}: {facts.source} has no attention layers that paramcount "
                        "knows; tensor parallelism here splits attention heads")
    bad = sorted(h for h in facts.heads if h % p.tp)
    if bad:
        raise SpecError(f"--tp {p.tp} does not divide the {bad[0]} attention heads")


def transformer_layers(facts: ModelFacts) -> int:
    """Layers of a transformer: its self-attention modules."""
    return sum(count for a, count in facts.attentions if not a.cross)


def positive(value: int | None, flag: str) -> None:
    """Counts given on the command line are positive integers."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise SpecError(f"{flag} must be a positive integer, got {value!r}")


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def candidates(base: Parallel, facts: ModelFacts, train: bool) -> list[Parallel]:
    """Every layout of ``base.gpus`` GPUs worth trying, most preferred first.

    The search space: tensor degrees that divide the GPU count and every head count (1 when
    the model has no attention), pipeline degrees that divide what is left and are at most
    the number of layers, and (training) ZeRO stages 0 to 3; offload and sequence
    parallelism stay as asked. Preferred: the least model parallelism (tp × pp), then the
    lowest ZeRO stage, then tensor before pipeline parallelism.
    """
    layers = transformer_layers(facts) or 1
    out = []
    for tp in _divisors(base.gpus):
        if tp > 1 and (not facts.has_attention or any(h % tp for h in facts.heads)):
            continue
        for pp in _divisors(base.gpus // tp):
            if pp > layers:
                continue
            for zero in (ZERO_STAGES if train else (0,)):
                if base.offload and zero == 0:
                    continue
                out.append(replace(base, tp=tp, pp=pp, zero=zero))
    return sorted(out, key=lambda p: (p.model_parallel, p.zero, p.pp))


SEARCH_SPACE = ("tensor parallel degrees dividing the GPU count and the heads, pipeline "
                "degrees dividing the rest (at most one stage per layer), ZeRO stages 0-3 "
                "for training; preferred: least tp × pp, then lowest ZeRO stage, then tensor "
                "before pipeline")

