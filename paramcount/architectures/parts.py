"""The modules transformer models are made of, each declared as the weight tensors it creates.

Every function returns a :class:`~paramcount.model.Node` named as the PyTorch module is named
in transformers (``q_proj``, ``input_layernorm``), holding :class:`Weight` shapes as PyTorch
makes them (``nn.Linear``'s weight is ``(out_features, in_features)``) and the closed form that
``--explain`` prints. Counts are never typed in: they are the products of these shapes.

Shapes exclude the batch, and a sequence axis of unknown length is ``None``:
a linear layer's output is ``(None, out_features)``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from paramcount.budget import current
from paramcount.layers.base import PYTORCH, Attention, Formula, Weight, make_layer
from paramcount.shapes import Shape
from paramcount.tree import FOLD_AT, Compute, Node, Tied, signature


def _layer(name: str, type_name: str, config: dict[str, Any], input_shape: Shape) -> Node:
    """A leaf built by the registered PyTorch layer: its weights, output shape and formula."""
    layer = make_layer(type_name, config, PYTORCH)
    built = layer.build_checked([input_shape])
    return Node(name, layer.label, built.output_shape, built.weights,
                input_shapes=(input_shape,), formula=built.formula, layer=layer)


def linear(name: str, n_in: int, n_out: int, bias: bool = True, length: int | None = None
           ) -> Node:
    """``nn.Linear(n_in, n_out, bias)`` on a sequence of ``length`` positions (None: the
    sequence length, whatever it is; a number where the model fixes it, as Whisper's encoder).

    >>> linear("q_proj", 4096, 1024, bias=False).params
    4194304
    """
    return _layer(name, "Linear", {"in_features": n_in, "out_features": n_out, "bias": bias},
                  (length, n_in))


def conv1d(name: str, n_in: int, n_out: int) -> Node:
    """GPT-2's ``Conv1D(nf=n_out, nx=n_in)``: a linear layer whose weight is stored transposed."""
    node = linear(name, n_in, n_out)
    bias = node.weights[1]
    return replace(node, type="Conv1D", weights=(Weight("weight", (n_in, n_out)), bias))


def conv(name: str, channels_in: int, channels_out: int, kernel: Sequence[int],
         input_shape: Shape, stride: int | Sequence[int] = 1, padding: int = 0,
         bias: bool = True, groups: int = 1) -> Node:
    """``nn.Conv1d``/``nn.Conv2d`` on a channels-first ``input_shape``: weight
    ``(out, in, *kernel)``; its MACs follow from the output size.

    >>> patches = conv("projection", 3, 768, (16, 16), (3, 224, 224), stride=16)
    >>> patches.output_shape, patches.params
    ((768, 14, 14), 590592)
    """
    return _layer(name, f"Conv{len(kernel)}d", {
        "in_channels": channels_in, "out_channels": channels_out, "kernel_size": list(kernel),
        "stride": list(stride) if isinstance(stride, Sequence) else stride,
        "padding": padding, "bias": bias, "groups": groups}, input_shape)


def attends(node: Node, heads: int, head_dim: int, hidden: int, *, kv_heads: int | None = None,
            v_head_dim: int | None = None, window: int | None = None, cross: bool = False,
            cache_dims: int | None = None, queries: int | None = None,
            keys: int | None = None, cached: bool = True) -> Node:
    """Mark ``node`` as the module that computes attention scores (for FLOPs and the KV cache);
    ``kv_heads`` defaults to ``heads`` (multi-head attention); ``queries`` and ``keys`` fix the
    positions attended from and to when the model fixes them (None: the sequence's length);
    ``cached`` is False for an encoder's attention, which no generation cache holds.

    >>> attends(module("self_attn", "LlamaAttention", []), 32, 128, 4096, kv_heads=8
    ...         ).attention.kv_per_token
    2048
    """
    node.attention = Attention(heads, head_dim, heads if kv_heads is None else kv_heads,
                               v_head_dim, hidden, window, cross, cache_dims, queries, keys,
                               cached)
    return node


def embedding(name: str, count: int, dim: int, trainable: bool = True) -> Node:
    """``nn.Embedding(count, dim)``: one vector of ``dim`` per token (or position)."""
    return _layer(name, "Embedding", {"num_embeddings": count, "embedding_dim": dim,
                                      "trainable": trainable}, (None,))


def parameter(name: str, shape: tuple[int, ...], trainable: bool = True) -> Node:
    """A bare ``nn.Parameter`` of a module (ViT's ``cls_token``, CLIP's ``logit_scale``)."""
    dims = " × ".join(str(d) for d in shape) or "1"
    # added or concatenated, never multiplied as a matrix: no MACs
    return Node(name, "Parameter", None, (Weight(name, shape, trainable),),
                formula=Formula("elements", dims), compute=Compute())


def buffer(name: str, shape: tuple[int, ...]) -> Node:
    """A persistent buffer of a module: saved with the weights, not a parameter
    (BART's ``final_logits_bias``)."""
    return Node(name, "Buffer", None, (Weight(name, shape, buffer=True),), compute=Compute())


#: normalization kinds: LayerNorm with weight and bias, LayerNorm without bias, RMSNorm,
#: and a LayerNorm with no parameters at all (OLMo's)
NORMS = ("layernorm", "layernorm_nobias", "rmsnorm", "none")


def norm(name: str, dim: int, kind: str = "layernorm") -> Node:
    """A normalization over the last axis of ``dim`` features, of one of :data:`NORMS`.

    >>> norm("ln_f", 768).params, norm("norm", 4096, "rmsnorm").params
    (1536, 4096)
    """
    if kind == "rmsnorm":
        return _layer(name, "RMSNorm", {"normalized_shape": dim}, (None, dim))
    node = _layer(name, "LayerNorm", {"normalized_shape": dim, "bias": kind == "layernorm",
                                      "elementwise_affine": kind != "none"}, (None, dim))
    if kind == "none":
        node.remark = "no parameters"
    return node


def group_norm(name: str, groups: int, channels: int) -> Node:
    """``nn.GroupNorm(groups, channels)`` over a channels-first sequence of unknown length.

    >>> group_norm("layer_norm", 512, 512).params
    1024
    """
    return _layer(name, "GroupNorm", {"num_groups": groups, "num_channels": channels},
                  (channels, None))


def experts(name: str, count: int, hidden: int, intermediate: int, active: int | None,
            bias: bool = False, transposed: bool = False) -> Node:
    """``count`` gated MLP experts stored as two fused tensors, as transformers >= 5 does:
    ``gate_up_proj`` ``(experts, 2·intermediate, hidden)`` and ``down_proj``
    ``(experts, hidden, intermediate)``; gpt-oss stores them ``transposed`` (input axis first)
    and gives each a ``bias``. A token passes through ``active`` of them (its MACs unknown when
    the config does not say how many)."""
    up, down = (2 * intermediate, hidden), (hidden, intermediate)
    if transposed:
        up, down = up[::-1], down[::-1]
    weights = [Weight("gate_up_proj", (count, *up)), Weight("down_proj", (count, *down))]
    if bias:
        weights[1:1] = [Weight("gate_up_proj_bias", (count, 2 * intermediate))]
        weights.append(Weight("down_proj_bias", (count, hidden)))
    terms = "2 × intermediate × hidden + hidden × intermediate"
    values = f"2 × {intermediate} × {hidden} + {hidden} × {intermediate}"
    if bias:
        terms, values = f"{terms} + 2 × intermediate + hidden", \
            f"{values} + 2 × {intermediate} + {hidden}"
    formula = Formula(f"experts × ({terms})", f"{count} × ({values})")
    # each token routed to an expert meets all of one expert's matrices (one multiply-
    # accumulate each), and tokens × active pass in all
    per_expert = (3 * intermediate * hidden)
    compute = None if active is None else Compute(per_token=active * per_expert)
    return Node(name, "Experts", (None, hidden), tuple(weights), input_shapes=((None, hidden),),
                formula=formula, remark=f"{count} experts", compute=compute)


def router(name: str, count: int, hidden: int, score_bias: bool = False, bias: bool = False,
           statics: bool = False, weight: str = "weight") -> Node:
    """The router that scores the experts: ``(experts, hidden)``, with a bias in gpt-oss;
    DeepSeek-V3 keeps a score-correction bias beside it as a buffer, ERNIE 4.5 as a frozen
    parameter of its ``moe_statics``; Hunyuan names its matrix ``wg.weight``."""
    weights = [Weight(weight, (count, hidden))]
    if bias:
        weights.append(Weight("bias", (count,)))
    if score_bias:
        weights.append(Weight("e_score_correction_bias", (count,), buffer=True))
    if statics:
        weights.append(Weight("moe_statics.e_score_correction_bias", (1, count),
                              trainable=False))
    return Node(name, "Router", (None, count), tuple(weights), input_shapes=((None, hidden),),
                formula=Formula("experts × hidden", f"{count} × {hidden}"),
                compute=Compute(per_token=weights[0].size))  # F.linear(hidden, weight)


def module(name: str, type_name: str, children: Sequence[Node],
           output: int | None = None) -> Node:
    """A module made of submodules."""
    shape = (None, output) if output is not None else (
        children[-1].output_shape if children else None)
    return Node(name, type_name, shape, children=list(children))


def tie(node: Node, owner: str) -> Node:
    """The same module with its weight matrix owned, and counted, by ``owner``.

    transformers ties an LM head to the token embedding by sharing one ``nn.Parameter``;
    ``model.parameters()`` yields it once, where it was made.
    """
    matrix = node.weights[0]
    node.weights = node.weights[1:]
    node.tied = (Tied(matrix, f"{owner}.weight"),)
    node.formula = None
    return node


def lm_head(roles: Roles, hidden: int, vocab: int, tied_to: str | None, bias: bool = False,
            name: str = "lm_head") -> Node:
    """The projection to the vocabulary: tied to the token embedding at ``tied_to`` (its
    matrix counted there, a bias still its own), or a vocabulary matrix of its own."""
    node = linear(name, hidden, vocab, bias)
    if tied_to:
        return tie(node, tied_to)
    return roles.embedding(node)


# -- repeated blocks -------------------------------------------------------------------------

Key = Callable[[int], Hashable]


def settles(at: int, key: Callable[[int], Any]) -> Callable[[int], Any]:
    """Tag a per-layer rule (a layer's key, its window, its experts) as constant from layer
    ``at`` on: ``key(i) == key(at)`` for every ``i >= at``. A stack whose key settles is built
    up to there and the rest folded, whatever the number of layers.

    >>> settles(3, lambda i: i >= 3).settles
    3
    """
    key.settles = at  # type: ignore[attr-defined]
    return key


def settled(*rules: Callable[[int], Any]) -> int | None:
    """Where all ``rules`` have settled (see :func:`settles`), or None when one is untagged."""
    points = [getattr(rule, "settles", None) for rule in rules]
    return None if None in points else max(p for p in points if p is not None)


@dataclass(frozen=True)
class Blocks:
    """``count`` blocks named ``0``..``count-1``, not built yet: :func:`stack` builds them."""

    count: int
    key: Key | None  # None: all identical
    make: Callable[[int], Node]

    def settles(self) -> int | None:
        return 0 if self.key is None else settled(self.key)

    def build(self, upto: int) -> list[Node]:
        """Blocks ``0``..``upto-1``; blocks of the same key are built once and share their
        submodules (a copy per index costs one node, so deep models stay cheap)."""
        made: dict[Hashable, Node] = {}
        out = []
        for i in range(upto):
            k = 0 if self.key is None else self.key(i)
            if k not in made:
                made[k] = self.make(i)
            out.append(_copy(made[k], str(i)))
        return out


def _copy(block: Node, name: str) -> Node:
    # a shallow copy by its fields: dataclasses.replace costs 30 times more
    out = object.__new__(Node)
    out.__dict__.update(block.__dict__, name=name)
    return out


def blocks(count: int, key: Key | None, make: Callable[[int], Node]) -> Blocks:
    """``count`` blocks made by ``make(i)``; blocks of the same ``key(i)`` are identical
    (``key`` None: all are). Tag ``key`` with :func:`settles` to let a stack of any depth fold."""
    return Blocks(count, key, make)


def stack(name: str, items: Blocks | list[Node], output: int | None = None) -> Node:
    """A ``ModuleList`` of blocks. Identical blocks fold into one row "×N"; when some differ
    (T5's first block, DeepSeek's dense layers), each run of identical blocks folds apart.

    When the blocks' key settles, only the blocks before it are built: the rest are one block
    counted × the rest (a config with 10^9 layers costs what one layer costs). Otherwise every
    block is a node of the budget (``--max-nodes``). A list holds blocks already built (a
    GGUF file's, one per block of tensors)."""
    built, tail = (items, 0) if isinstance(items, list) else _build(name, items)
    runs: list[list[Node]] = []
    for block in built:
        if runs and _same(runs[-1][-1], block):
            runs[-1].append(block)
        else:
            runs.append([block])
    node = module(name, "ModuleList", [], output)
    if len(runs) == 1:
        return _group(node, runs[0], tail)
    for run in runs:
        more = tail if run is runs[-1] else 0
        if len(run) + more == 1:
            node.children.append(run[0])
        else:
            last = str(int(run[-1].name) + more)
            group = module(f"{run[0].name}-{last}", "ModuleList", [], output)
            node.children.append(_group(group, run, more))
    return node


def _build(name: str, items: Blocks) -> tuple[list[Node], int]:
    """The blocks to build, and how many copies of the last one follow them unbuilt."""
    at = items.settles()
    if at is not None and items.count > at + FOLD_AT:
        return items.build(at + 1), items.count - at - 1
    current().check("nodes", items.count, f"{name}: blocks that differ in a pattern that "
                    "never settles, one node each")
    return items.build(items.count), 0


def _group(node: Node, run: list[Node], more: int = 0) -> Node:
    """``node`` holding a run of identical blocks (and ``more`` copies not built): each a
    child, or past :data:`~paramcount.tree.FOLD_AT` nodes the first standing for all
    (folded)."""
    node.children, node.repeat = run, len(run) + more
    if more or len(run) * (1 + sum(1 for _ in run[0].walk())) > FOLD_AT:
        node.children, node.folded = run[:1], True
    return node


def _same(a: Node, b: Node) -> bool:
    """Whether two blocks are identical; copies of one block (see :func:`blocks`) are known to
    be without comparing their trees."""
    if a.children is b.children and a.weights == b.weights and a.type == b.type:
        return True
    return signature(a) == signature(b)


# -- what the figures need ----------------------------------------------------------------------

@dataclass
class Roles:
    """Which modules are vocabulary or position embeddings (left out of the scaling-law papers'
    "non-embedding" count) and which hold routed experts (for the active count per token).

    Modules are remembered by identity (and kept alive, so that no identity is reused): a
    module shared by the copies of a block is met once per layer when the tree is walked.
    """

    embeddings: dict[int, Node] = field(default_factory=dict)
    experts: dict[int, tuple[Node, int, int | None]] = field(default_factory=dict)
    #: components counted apart (a vision-language model's towers), by label
    components: dict[str, Node] = field(default_factory=dict)

    def embedding(self, node: Node) -> Node:
        self.embeddings[id(node)] = node
        return node

    def routed(self, node: Node, count: int, active: int | None) -> Node:
        self.experts[id(node)] = (node, count, active)
        return node

    def named(self, label: str, node: Node) -> Node:
        """A component whose parameters are a figure of their own (``vision_tower params``)."""
        self.components[label] = node
        return node

    def figures(self, root: Node) -> dict[str, int]:
        """Non-embedding parameters, and for a mixture of experts the parameters one token
        passes through (routed experts not chosen are left out; shared experts and routers
        count)."""
        total = root.params
        embedded = idle = 0
        moe = False
        known = True
        for _, node, times in root.walk_times():
            if id(node) in self.embeddings:
                embedded += node.params * times
            if id(node) in self.experts:
                _, count, active = self.experts[id(node)]
                moe = True
                if active is None:
                    known = False
                else:
                    idle += node.params // count * (count - min(active, count)) * times
        out = {"Non-embedding params": total - embedded}
        out.update({f"{label} params": node.params for label, node in self.components.items()})
        if moe and known:
            out["Active params per token"] = total - idle
        return out
