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

import math
from dataclasses import dataclass, replace

from paramcount.errors import SpecError, check_positive
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
        """``"64 GPUs = 4 data × 8 tensor × 2 pipeline, ZeRO-1"``; one GPU: ``"1 GPU"``."""
        if self.gpus == 1:
            return "1 GPU" + self._extras()
        return f"{self.gpus} GPUs = {self.layout()}"

    def layout(self) -> str:
        """The degrees and options without the GPU count.

        >>> Parallel(gpus=32, tp=8, zero=3).layout()
        '4 data × 8 tensor × 1 pipeline, ZeRO-3'
        """
        return f"{self.dp} data × {self.tp} tensor × {self.pp} pipeline" + self._extras()

    def _extras(self) -> str:
        return "".join((f", ZeRO-{self.zero}" if self.zero else "",
                        ", offload to CPU" if self.offload else "",
                        ", sequence parallel" if self.sp else ""))


def shard(n: int, parts: int) -> int:
    """One part of ``n`` bytes split ``parts`` ways (the largest part, rounded up).

    >>> shard(10, 4), shard(12, 4)
    (3, 3)
    """
    return -(-n // parts)


def check(p: Parallel, facts: ModelFacts, train: bool) -> Parallel:
    """``p`` if it is a layout this model can take; otherwise a one-line error."""
    for value, flag in ((p.gpus, "--gpus"), (p.tp, "--tp"), (p.pp, "--pp")):
        check_positive(value, flag)
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




def divisors(n: int) -> list[int]:
    """The divisors of ``n``, ascending (in about √n steps: counts reach 16,384).

    >>> divisors(12)
    [1, 2, 3, 4, 6, 12]
    """
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


def tensor_degrees(facts: ModelFacts) -> list[int]:
    """Tensor parallel degrees this model takes: those dividing every head count (only 1 for
    a model without attention, as tensor parallelism here splits heads).

    >>> from paramcount.layers.base import Attention
    >>> layers = ((Attention(12, 64), 2),)
    >>> tensor_degrees(ModelFacts("m", "m", "float32", 0, 0, 0, attentions=layers))
    [1, 2, 3, 4, 6, 12]
    """
    if not facts.has_attention:
        return [1]
    return divisors(math.gcd(*facts.heads))


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
    for tp in tensor_degrees(facts):
        if base.gpus % tp:
            continue
        for pp in divisors(base.gpus // tp):
            if pp > layers:
                break
            out += [replace(base, tp=tp, pp=pp, zero=zero) for zero in stages(base, train)]
    return sorted(out, key=preference)


def stages(base: Parallel, train: bool) -> tuple[int, ...]:
    """ZeRO stages to try: none when serving; offload needs a stage of at least 1."""
    if not train:
        return (0,)
    return ZERO_STAGES[1:] if base.offload else ZERO_STAGES


def preference(p: Parallel) -> tuple[int, int, int]:
    """Sort key of layouts on one GPU count: least tp × pp, lowest ZeRO stage, then tensor
    before pipeline parallelism."""
    return (p.model_parallel, p.zero, p.pp)
