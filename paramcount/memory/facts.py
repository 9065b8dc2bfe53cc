"""What a memory estimate needs from a model tree, gathered in one walk.

Every source gives the same :class:`~paramcount.model.Summary`; memory needs only a few numbers
from it: parameter and buffer counts, the attention modules (for the KV cache and transformer
activations), the largest layer (ZeRO-3 gathers one at a time), and the output shapes of the
layers with parameters (activations of models without attention).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from paramcount.layers.base import Attention, Recurrent
from paramcount.model import Summary
from paramcount.shapes import Shape
from paramcount.tree import Node


@dataclass(frozen=True)
class TensorFact:
    """One weight as a quantization scheme sees it: the module path it lives in, the module's
    type, the weight's name and shape."""

    module: str
    type: str
    name: str
    shape: tuple[int, ...]
    buffer: bool = False


@dataclass(frozen=True)
class ModelFacts:
    """The numbers of a model that its memory depends on.

    >>> import paramcount
    >>> facts = ModelFacts.of(paramcount.layer("Dense", units=2).count((4,)))
    >>> facts.params, facts.trainable, facts.largest_layer
    (10, 10, 10)
    """

    source: str
    name: str
    dtype: str
    params: int
    trainable: int
    buffers: int
    #: bytes as the checkpoint stores them, when every weight's size is known
    stored_bytes: int | None = None
    #: stored dtype -> elements
    stored_dtypes: dict[str, int] = field(default_factory=dict)
    #: each distinct attention and how many modules compute it (calls included)
    attentions: tuple[tuple[Attention, int], ...] = ()
    #: the attention modules a generation cache holds: a decoder's (an encoder's attention
    #: runs once over its whole input, and caches nothing)
    cached: tuple[tuple[Attention, int], ...] = ()
    #: parameters of the module with the most parameters of its own (tied ones included), as
    #: DeepSpeed's ``model_to_params`` finds it
    largest_layer: int = 0
    #: elements (params + buffers) of the largest unit accelerate keeps whole: a leaf module or
    #: one block of a repeated stack
    largest_unit: int = 0
    #: (output shape, calls) of every leaf layer that has parameters
    param_outputs: tuple[tuple[Shape, int], ...] = ()
    #: True when some layers were not understood: the counts are then lower bounds
    lower_bound: bool = False
    #: notes of the cached attention modules (where a framework version caches otherwise)
    cache_notes: tuple[str, ...] = ()
    #: every owned weight (buffers too): what a quantization scheme sizes one by one
    tensors: tuple[TensorFact, ...] = ()
    #: the config's ``quantization_config``, when the source carries one
    quantization: dict[str, Any] | None = None
    #: each distinct recurrent state (Mamba, linear attention) and how many modules keep it
    states: tuple[tuple[Recurrent, int], ...] = ()
    #: the vocabulary the output head scores (its logits buffer), when the model has one
    vocab: int | None = None

    @classmethod
    def of(cls, summary: Summary) -> ModelFacts:
        walk = _Walk()
        walk.visit_root(summary.root)
        stored = {k: n for k, (n, _) in summary.by_dtype().items()}
        cached = Counter({a: n for a, n in walk.attentions.items() if a.cached})
        return cls(summary.source, summary.name, summary.dtype, summary.total_params,
                   summary.trainable_params, summary.buffers, summary.stored_bytes(), stored,
                   tuple(walk.attentions.items()), tuple(cached.items()), walk.largest_layer,
                   walk.largest_unit, tuple(walk.outputs), summary.lower_bound,
                   tuple(walk.cache_notes), tuple(_tensors(summary.root)),
                   _quantization(summary), tuple(walk.states.items()), _vocab(summary, walk.vocab))

    @property
    def frozen(self) -> int:
        return self.params - self.trainable

    @property
    def has_attention(self) -> bool:
        return bool(self.attentions)

    @property
    def heads(self) -> set[int]:
        """The head counts of every attention module (tensor parallelism must divide them)."""
        return {a.heads for a, _ in self.attentions}


class _Walk:
    def __init__(self) -> None:
        self.attentions: Counter[Attention] = Counter()
        self.states: Counter[Recurrent] = Counter()
        self.vocab = 0  # rows of the largest embedding table: the tokens a head scores
        self.largest_layer = 0
        self.largest_unit = 0
        self.outputs: list[tuple[Shape, int]] = []
        self.cache_notes: dict[str, None] = {}  # ordered, each once

    def visit_root(self, root: Node) -> None:
        for w in root.weights:  # accelerate treats the model's own tensors one by one
            self.largest_unit = max(self.largest_unit, w.size)
        self._own(root)
        for child in root.children:
            self.visit(child, unit=False, times=root.each)

    def visit(self, node: Node, unit: bool, times: int = 1) -> None:
        """``times``: how many copies ``node`` stands for (inside folded groups)."""
        self._own(node)
        attention = node.attention_info()
        if attention is not None:
            self.attentions[attention] += node.calls * times
            if attention.cached:
                self.cache_notes.update(dict.fromkeys(node.notes))
        if node.state is not None:
            self.states[node.state] += node.calls * times
        if node.type == "Embedding" and node.weights and len(node.weights[0].shape) == 2:
            self.vocab = max(self.vocab, node.weights[0].shape[0])
        if not node.children:
            self.largest_unit = max(self.largest_unit, _elements(node))
            if node.params and node.output_shape is not None:
                self.outputs.append((node.output_shape, node.calls * times))
        elif unit:
            self.largest_unit = max(self.largest_unit, _elements(node))
        for child in node.children:
            # the blocks of a repeated stack are the units transformers' _no_split_modules name
            self.visit(child, node.repeat > 1 and not child.repeat > 1, times * node.each)

    def _own(self, node: Node) -> None:
        own = sum(w.size for w in node.weights if not w.buffer)
        own += sum(t.weight.size for t in node.tied if not t.weight.buffer)
        self.largest_layer = max(self.largest_layer, own)


def _elements(node: Node) -> int:
    return node.params + node.buffers


def _tensors(node: Node, prefix: str = "") -> Iterator[TensorFact]:
    for w in node.weights:
        yield TensorFact(prefix.rstrip("."), node.type, w.name, w.shape, w.buffer)
    for child in node.children:
        # a group of layers ("layers.3-60") names its blocks by their own index
        group = child.repeat > 1 and "-" in child.name
        yield from _tensors(child, prefix if group else f"{prefix}{child.name}.")


def _quantization(summary: Summary) -> dict[str, Any] | None:
    """The ``quantization_config`` a Hugging Face config carries (put in the summary's meta by
    :func:`paramcount.sources.hf.quantization`), for a file, a folder or a Hub id alike."""
    config = summary.meta.get("quantization_config")
    return dict(config) if isinstance(config, dict) else None


def _vocab(summary: Summary, embedding_rows: int) -> int | None:
    """The vocabulary a head scores (its logits buffer): the source's ``vocab_size`` where it
    read one (a GGUF's token list), else the rows of the largest embedding table."""
    value = summary.meta.get("vocab_size")
    if isinstance(value, int) and value > 0:
        return value
    return embedding_rows or None
