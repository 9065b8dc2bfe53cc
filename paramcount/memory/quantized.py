"""The bytes of a model's weights as a quantization scheme stores them, weight by weight.

Each weight is sorted into a kind: a ``linear`` or ``head`` matrix, the ``experts`` of a mixture
(one matrix per expert), an ``embedding``, a ``router``, a ``vector`` (norms, biases, 1-D) or
``other``. A scheme quantizes the kinds it names (GPTQ, AWQ, bitsandbytes, FP8, MXFP4, NVFP4:
the linear layers and experts; GGUF: every matrix but the router) except the modules a config
leaves out (``modules_to_not_convert``, ``ignore``, ``llm_int8_skip_modules``), at the bytes of
the tensors it writes (:mod:`paramcount.memory.schemes`); the rest keeps the model's dtype
(GGUF: float32).

>>> import paramcount
>>> from paramcount.memory.facts import ModelFacts
>>> facts = ModelFacts.of(paramcount.summarize("zoo:llama-3-8b"))
>>> q = size(facts, Plan(Layout("gptq", 4, 128), "--scheme gptq"))
>>> round(q.bits_per_weight, 3), q.kept_dtype
(5.711, 'bfloat16')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from paramcount.memory.facts import ModelFacts, TensorFact
from paramcount.memory.schemes import SCHEMES, Layout, linear_bytes
from paramcount.memory.weights import FLOAT_DTYPES, nbytes

#: module names of an LM head (a tied head owns no weight, and is its embedding's)
HEADS = frozenset({"lm_head", "embed_out", "output", "output_layer"})
#: module types whose matrix is stored ``[in, out]`` (GPT-2's Conv1D, gpt-oss's experts)
IN_FIRST = frozenset({"Conv1D", "GptOssExperts"})
LINEAR_TYPES = frozenset({"Linear", "Dense", "Conv1D", "Linear8bitLt", "Linear4bit"})
#: the kinds in words, for the detail column
KIND_NAMES = {"linear": "linear layers", "experts": "experts", "head": "LM head",
              "embedding": "embeddings", "router": "routers", "vector": "norms and biases",
              "other": "other weights", "buffer": "buffers"}


def kind(t: TensorFact) -> str:
    """What a weight is to a quantization scheme.

    >>> kind(TensorFact("model.layers.0.mlp.gate_proj", "Linear", "weight", (8, 4)))
    'linear'
    >>> kind(TensorFact("lm_head", "Linear", "weight", (32, 4)))
    'head'
    """
    if t.buffer:
        return "buffer"
    if len(t.shape) < 2 or "bias" in t.name:
        return "vector"
    if "Router" in t.type:
        return "router"
    if "Embedding" in t.type:
        return "embedding"
    if t.type.endswith("Experts") and len(t.shape) == 3:
        return "experts"
    if t.type in LINEAR_TYPES and len(t.shape) == 2:
        return "head" if t.module.rsplit(".", 1)[-1] in HEADS else "linear"
    return "other"


def matrices(t: TensorFact) -> tuple[int, int, int]:
    """(matrices, out, in) of a weight: an expert tensor is one matrix per expert, and a fused
    ``gate_up_proj`` two (a quantized checkpoint stores each expert's gate and up apart)."""
    count, rows, cols = (t.shape[0], *t.shape[1:3]) if len(t.shape) == 3 else (1, *t.shape[:2])
    if t.type in IN_FIRST or t.name == "kernel":
        rows, cols = cols, rows
    if "gate_up" in t.name and rows % 2 == 0:
        count, rows = 2 * count, rows // 2
    return count, rows, cols


def matches(pattern: str, module: str) -> bool:
    """Whether a config's module pattern names ``module``: ``re:REGEX`` (compressed-tensors,
    matched from the start), else whole dotted names, ``*`` standing for any text.

    >>> matches("model.layers.*.self_attn", "model.layers.3.self_attn.q_proj")
    True
    >>> matches("lm_head", "model.lm_head"), matches("gate", "model.layers.0.mlp.gate_proj")
    (True, False)
    """
    if pattern.startswith("re:"):
        return re.match(pattern[3:], module) is not None
    body = re.escape(pattern).replace(r"\*", ".*")
    return re.search(rf"(^|\.){body}(\.|$)", module) is not None


@dataclass(frozen=True)
class Plan:
    """Which scheme sizes which weight: ``layout`` for every weight of a kind the scheme
    quantizes, except the modules ``skip`` names (and the LM head unless ``head``); with
    ``targets``, only the modules their patterns name, each at its own layout."""

    layout: Layout
    source: str
    skip: tuple[str, ...] = ()
    head: bool = False
    #: (patterns, layout): compressed-tensors' config groups; ``Linear`` names every linear
    targets: tuple[tuple[tuple[str, ...], Layout], ...] = ()
    #: the dtype of what is kept; None: the model's own
    kept_dtype: str | None = None

    def layout_for(self, t: TensorFact, k: str) -> Layout | None:
        quantizes = SCHEMES[self.layout.scheme].quantizes | ({"head"} if self.head else set())
        if k not in quantizes or any(matches(p, t.module) for p in self.skip):
            return None
        if not self.targets:
            return self.layout
        for patterns, layout in self.targets:
            if any(p == "Linear" or matches(p, t.module) for p in patterns):
                return layout
        return None


@dataclass
class QuantizedWeights:
    """The weights' bytes under a plan: per kind, the matrices, parameters and bytes quantized
    and kept."""

    plan: Plan
    kept_dtype: str
    quantized: dict[str, list[int]] = field(default_factory=dict)  # kind -> [matrices, n, B]
    kept: dict[str, list[int]] = field(default_factory=dict)  # kind -> [tensors, n, B]

    @property
    def scheme(self) -> str:
        return self.plan.layout.scheme

    def _total(self, part: dict[str, list[int]], i: int) -> int:
        return sum(v[i] for v in part.values())

    @property
    def quantized_params(self) -> int:
        return self._total(self.quantized, 1)

    @property
    def quantized_bytes(self) -> int:
        return self._total(self.quantized, 2)

    @property
    def kept_params(self) -> int:
        return self._total(self.kept, 1)

    @property
    def kept_bytes(self) -> int:
        return self._total(self.kept, 2)

    @property
    def bytes(self) -> int:
        return self.quantized_bytes + self.kept_bytes

    @property
    def bits_per_weight(self) -> float:
        """Bits per element, over every weight (kept ones included)."""
        n = self.quantized_params + self.kept_params
        return 8 * self.bytes / n if n else 0.0

    @property
    def quantized_bits(self) -> float:
        """Bits per quantized weight, its scales and zero points included."""
        n = self.quantized_params
        return 8 * self.quantized_bytes / n if n else 0.0


@lru_cache(maxsize=4096)
def _matrix_bytes(layout: Layout, rows: int, cols: int) -> int:
    return linear_bytes(layout, rows, cols)


def _add(part: dict[str, list[int]], k: str, count: int, n: int, b: int) -> None:
    row = part.setdefault(k, [0, 0, 0])
    row[0], row[1], row[2] = row[0] + count, row[1] + n, row[2] + b


def size(facts: ModelFacts, plan: Plan) -> QuantizedWeights:
    """Every weight of ``facts`` sized by ``plan``."""
    kept_dtype = plan.kept_dtype or SCHEMES[plan.layout.scheme].keeps_in or (
        facts.dtype if facts.dtype in FLOAT_DTYPES else "float16")
    out = QuantizedWeights(plan, kept_dtype)
    for t in facts.tensors:
        k = kind(t)
        layout = plan.layout_for(t, k)
        n = math.prod(t.shape)
        if layout is None:
            _add(out.kept, k, 1, n, nbytes(n, kept_dtype))
            continue
        count, rows, cols = matrices(t)
        _add(out.quantized, k, count, n, count * _matrix_bytes(layout, rows, cols))
    return out


def label(q: QuantizedWeights) -> str:
    """The scheme in a few words: ``gptq 4-bit, group 128``, ``fp8, 128×128 blocks``."""
    layout = q.plan.layout
    if layout.scheme == "gguf":
        return f"GGUF {layout.gguf_type}"
    parts = [layout.scheme if layout.bits in (0, 8) and layout.scheme in ("fp8", "int8")
             else f"{layout.scheme} {layout.bits}-bit"]
    if layout.block is not None:
        parts.append(f"{layout.block[0]}×{layout.block[1]} blocks")
    elif layout.group == -1:
        parts.append("one group per row")
    elif layout.group is not None:
        parts.append(f"group {layout.group}")
    elif layout.channel:
        parts.append("per row")
    elif layout.scheme in ("fp8", "int"):
        parts.append("per tensor")
    if layout.double_quant:
        parts.append("double quantization")
    return ", ".join(parts)


def describe(q: QuantizedWeights) -> str:
    """The weights' line in the table: what is quantized, at how many bits, and what kept."""
    kept = ", ".join(KIND_NAMES[k] for k in q.kept) or "nothing"
    return (f"{label(q)}: {q.quantized_params:,} quantized ({q.quantized_bits:.4g} bits each, "
            f"scales included), {q.kept_params:,} kept in {q.kept_dtype} ({kept}); "
            f"{q.bits_per_weight:.4g} bits per weight")


def to_dict(q: QuantizedWeights) -> dict[str, object]:
    """The ``quantization`` object of the memory JSON document."""
    layout = q.plan.layout

    def part(rows: dict[str, list[int]], what: str) -> dict[str, dict[str, int]]:
        return {k: {what: c, "params": n, "bytes": b} for k, (c, n, b) in rows.items()}

    return {
        "scheme": layout.scheme, "label": label(q), "from": q.plan.source,
        "bits": layout.bits or None, "group_size": layout.group,
        "block": list(layout.block) if layout.block else None,
        "gguf_type": layout.gguf_type or None,
        "quantized_params": q.quantized_params, "quantized_bytes": q.quantized_bytes,
        "kept_params": q.kept_params, "kept_bytes": q.kept_bytes, "kept_dtype": q.kept_dtype,
        "bits_per_weight": q.bits_per_weight, "quantized_bits_per_weight": q.quantized_bits,
        "quantized": part(q.quantized, "matrices"), "kept": part(q.kept, "tensors"),
        "skipped_modules": list(q.plan.skip),
    }
