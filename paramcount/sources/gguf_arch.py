"""A GGUF file's metadata read as an architecture: blocks, attention and experts.

llama.cpp names a decoder's tensors the same way in every architecture it runs
(``token_embd``, ``blk.N.attn_q``, ``blk.N.ffn_gate_exps``, ``output``) and writes the
hyperparameters it cannot see in the shapes as ``{arch}.*`` metadata: heads, key/value heads
(one number, or one per layer), key and value widths, experts and experts used per token,
a sliding window, MLA's widths. Together they make the same kind of tree a ``config.json``
builds: attention modules with their key/value heads (the KV cache, attention FLOPs), routed
experts with their top-k (active parameters, expert FLOPs). Every count still comes from the
tensor shapes; the metadata supplies only what shapes cannot say.

The KV cache follows llama.cpp (``llama_kv_cache``): per layer and token
``n_embd_k_gqa + n_embd_v_gqa`` elements, ``key_length × head_count_kv`` each; an MLA model
(``key_length_mla`` set, DeepSeek-V2/V3) caches its compressed latent in K only
(``key_length = kv_lora_rank + rope dims``, one key/value head) and no V.

An architecture not in :data:`ARCHITECTURES`, or a file whose tensors this reading does not
place (a vision projector, a recurrent block), keeps the tensors' own tree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from paramcount.architectures.parts import (
    Roles,
    attends,
    embedding,
    linear,
    module,
    norm,
    stack,
    tie,
)
from paramcount.layers import Weight
from paramcount.layers.base import Recurrent
from paramcount.quoting import quote
from paramcount.sources.tensors import Tensor
from paramcount.tree import Compute, Node

#: architectures read from metadata -> the period of their sliding-window layers, as llama.cpp
#: sets it (``set_swa_pattern``: layer i slides when ``i % n < n - 1``); 0: no window
ARCHITECTURES: dict[str, int] = {
    "llama": 0, "qwen2": 0, "qwen3": 0, "qwen2moe": 0, "qwen3moe": 0, "gemma": 0,
    "gemma2": 2, "gemma3": 6, "deepseek2": 0, "phi3": 0, "gpt2": 0, "falcon": 0,
    "starcoder2": 0, "olmo": 0, "olmo2": 0, "stablelm": 0, "granite": 0, "internlm2": 0,
    "mistral3": 0, "mamba": 0, "mamba2": 0, "jamba": 0, "falcon-h1": 0, "granitehybrid": 0,
}
#: a block's tensor; Mamba's ``ssm_a`` and ``ssm_d`` carry no ``.weight``
_BLOCK = re.compile(
    r"^blk\.(?P<i>[0-9]{1,9})\.(?P<stem>[a-z0-9_]+)(?:\.(?P<part>weight|bias))?$")
_TOP = re.compile(r"^(?P<stem>[a-z0-9_]+)\.(?P<part>weight|bias)$")

#: a block's rows in model order: norms around the attention and feed-forward groups
_BEFORE_ATTN = ("attn_norm", "attn_norm_2")
_AFTER_ATTN = ("attn_post_norm", "post_attention_norm", "ffn_norm")
_AFTER_FFN = ("post_ffw_norm", "ffn_post_norm", "layer_output_norm")
_ATTENTION = ("attn_q", "attn_q_a", "attn_q_a_norm", "attn_q_b", "attn_k", "attn_v",
              "attn_qkv", "attn_kv_a_mqa", "attn_kv_a_norm", "attn_kv_b", "attn_k_b",
              "attn_v_b", "attn_q_norm", "attn_k_norm", "attn_output", "attn_sinks")
_FFN = ("ffn_gate_inp", "exp_probs_b", "ffn_gate", "ffn_up", "ffn_down", "ffn_gate_exps",
        "ffn_up_exps", "ffn_down_exps", "ffn_gate_inp_shexp", "ffn_gate_shexp",
        "ffn_up_shexp", "ffn_down_shexp")
#: tensors added or scaled, never multiplied as a matrix: no MACs
_FREE = ("attn_sinks", "exp_probs_b", "rope_freqs", "token_types")
_TOP_FIRST = ("token_embd", "position_embd", "token_types", "token_embd_norm")
_TOP_LAST = ("output_norm", "output")
_EMBEDDINGS = ("token_embd", "position_embd", "output")

Parts = dict[str, dict[str, Tensor]]  # stem -> "weight"/"bias" -> tensor


class NotPlaced(Exception):
    """The file does not read as its metadata's architecture; the reason is the message."""


@dataclass(frozen=True)
class HParams:
    """What the ``{arch}.*`` metadata says that the tensor shapes cannot."""

    arch: str
    blocks: int
    hidden: int
    heads: tuple[int, ...]          # per layer
    kv_heads: tuple[int, ...]       # per layer; 0: the layer has no attention
    key_length: tuple[int, ...]     # per layer: the cached key width per head
    value_length: tuple[int, ...]
    mla: tuple[int, int] | None     # MLA's per-head key and value widths
    experts: int
    experts_used: int | None
    window: int | None
    sliding: tuple[bool, ...]
    #: a Mamba layer's state as llama.cpp keeps it (``ssm.*`` metadata), None without one
    ssm: Recurrent | None = None

    @classmethod
    def read(cls, arch: str, kv: Mapping[str, Any], tensors: int) -> HParams:
        """The metadata of a file of ``tensors`` tensors (which bound its block count)."""
        blocks, hidden = _int(kv, "block_count"), _int(kv, "embedding_length")
        if blocks is None or hidden is None:
            raise NotPlaced("no block_count or embedding_length")
        if not 0 < blocks <= tensors:
            raise NotPlaced(f"block_count {blocks:,} for {tensors:,} tensors")
        ssm = _ssm(kv)
        heads = _per_layer(kv, "attention.head_count", blocks, None if ssm is None else
                           (0,) * blocks)
        if heads is None:
            raise NotPlaced("no attention.head_count")
        kv_heads = _per_layer(kv, "attention.head_count_kv", blocks, heads)
        default = tuple(hidden // h if h else 0 for h in heads)
        keys = _per_layer(kv, "attention.key_length", blocks, default)
        values = _per_layer(kv, "attention.value_length", blocks, keys)
        mla_k, mla_v = _int(kv, "attention.key_length_mla"), _int(kv, "attention.value_length_mla")
        window = _int(kv, "attention.sliding_window") or None
        return cls(arch, blocks, hidden, heads, kv_heads or heads, keys or default,
                   values or keys or default,
                   (mla_k, mla_v) if mla_k and mla_v else None,
                   _int(kv, "expert_count") or 0, _int(kv, "expert_used_count"), window,
                   _sliding(kv, arch, blocks) if window else (False,) * blocks, ssm)

    def window_of(self, i: int) -> int | None:
        return self.window if self.sliding[i] else None


def _int(kv: Mapping[str, Any], key: str) -> int | None:
    value = kv.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def _per_layer(kv: Mapping[str, Any], key: str, blocks: int,
               default: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """One number for every layer, or a list of one per layer (llama.cpp's arrays)."""
    value = kv.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return (value,) * blocks
    if isinstance(value, list):
        if len(value) != blocks or not all(isinstance(v, int) and v >= 0 for v in value):
            raise NotPlaced(f"{key} has {len(value)} values for {blocks} blocks")
        return tuple(value)
    return default


def _ssm(kv: Mapping[str, Any]) -> Recurrent | None:
    """A Mamba layer's state from ``ssm.*`` metadata, as llama.cpp sizes it (``n_embd_r`` and
    ``n_embd_s`` in src/llama-hparams.cpp): a convolution of ``conv_kernel`` over
    ``inner_size + 2 × group_count × state_size`` channels, and ``state_size × inner_size``."""
    kernel, inner, state = (_int(kv, f"ssm.{k}") for k in ("conv_kernel", "inner_size",
                                                           "state_size"))
    if not kernel or not inner or not state:
        return None
    groups = _int(kv, "ssm.group_count") or 0
    return Recurrent(inner + 2 * groups * state, kernel, state * inner)


def _sliding(kv: Mapping[str, Any], arch: str, blocks: int) -> tuple[bool, ...]:
    """Which layers slide: ``attention.sliding_window_pattern`` (a period, or one flag per
    layer), else the architecture's period as llama.cpp sets it, else every layer."""
    pattern = kv.get("attention.sliding_window_pattern")
    if isinstance(pattern, list) and len(pattern) == blocks:
        return tuple(bool(p) for p in pattern)
    period = pattern if isinstance(pattern, int) and pattern > 0 else ARCHITECTURES.get(arch)
    if not period:
        return (True,) * blocks
    return tuple(i % period < period - 1 for i in range(blocks))


# -- the tree ------------------------------------------------------------------------------

@dataclass
class Built:
    """The tree read from the metadata, its figures and what to say about it."""

    root: Node
    figures: dict[str, int]
    notes: list[str]


def architecture(tensors: Sequence[Tensor], arch: str | None, kv: Mapping[str, Any],
                 name: str) -> Built:
    """The model tree of a GGUF file's ``tensors`` as its metadata ``kv`` (``{arch}.*`` keys,
    the prefix taken off) describes it; :class:`NotPlaced` when it does not read as one."""
    if arch not in ARCHITECTURES:
        raise NotPlaced(f"{arch or 'an unnamed architecture'} is not one paramcount reads "
                        "from GGUF metadata")
    hp = HParams.read(arch, kv, len(tensors))
    top, blocks = _group(tensors, hp.blocks)
    _untie(top)
    roles = Roles()
    made = [_block(i, blocks[i], hp, roles) for i in range(hp.blocks)]
    children = [_top(stem, top.pop(stem), roles) for stem in _TOP_FIRST if stem in top]
    children.append(stack("blk", made, hp.hidden))
    tail = [_top(stem, top.pop(stem), roles) for stem in _TOP_LAST if stem in top]
    embed = next((c for c in children if c.name == "token_embd" and c.type == "Embedding"),
                 None)
    if embed is not None and not any(n.name == "output" for n in tail):
        tail.append(_tied_output(embed))
    children += tail + [_top(stem, parts, roles) for stem, parts in top.items()]
    root = module(name, "Model", children, hp.hidden)
    _check_total(root, tensors)
    return Built(root, roles.figures(root), _notes(hp))


def _group(tensors: Sequence[Tensor], count: int) -> tuple[Parts, list[Parts]]:
    """Top-level tensors by stem, and each block's by stem; a name of another form (a
    projector's ``v.blk.0``, a block past ``block_count``) does not place."""
    top: Parts = {}
    blocks: list[Parts] = [{} for _ in range(count)]
    for t in tensors:
        m = _BLOCK.match(t.name)
        if m and int(m["i"]) < count:
            blocks[int(m["i"])].setdefault(m["stem"], {})[m["part"] or m["stem"]] = t
            continue
        m = _TOP.match(t.name)
        if not m:
            raise NotPlaced(f"the tensor {quote(t.name)} is not a block's or the model's")
        top.setdefault(m["stem"], {})[m["part"]] = t
    return top, blocks


def _untie(top: Parts) -> None:
    """An ``output`` stored at ``token_embd``'s bytes is that matrix: left to be tied."""
    out, embed = top.get("output", {}).get("weight"), top.get("token_embd", {}).get("weight")
    if out is not None and embed is not None and out.key is not None and out.key == embed.key:
        del top["output"]


def _block(i: int, parts: Parts, hp: HParams, roles: Roles) -> Node:
    parts = dict(parts)
    rows = [_leaf(s, parts.pop(s), hp, roles) for s in _BEFORE_ATTN if s in parts]
    attn = _group_of(parts, _ATTENTION, hp, roles)
    if attn:
        rows.append(_attention(i, attn, hp))
    rows += [_leaf(s, parts.pop(s), hp, roles) for s in _AFTER_ATTN if s in parts]
    ffn = _group_of(parts, _FFN, hp, roles)
    if ffn:
        moe = any(c.name.endswith("_exps") for c in ffn)
        rows.append(module("ffn", "MoE" if moe else "FeedForward", ffn, hp.hidden))
    rows += [_leaf(s, parts.pop(s), hp, roles) for s in _AFTER_FFN if s in parts]
    mixer = "ssm_conv1d" in parts and hp.ssm is not None
    rows += [_leaf(s, p, hp, roles) for s, p in parts.items()]
    block = module(str(i), "Block", rows, hp.hidden)
    if mixer:  # a Mamba layer keeps its state per sequence
        block.state = hp.ssm
    return block


def _group_of(parts: Parts, stems: Sequence[str], hp: HParams, roles: Roles) -> list[Node]:
    return [_leaf(s, parts.pop(s), hp, roles) for s in stems if s in parts]


def _attention(i: int, children: list[Node], hp: HParams) -> Node:
    """The attention group of layer ``i``, marked with what it computes and caches."""
    node = module("attn", "Attention", children, hp.hidden)
    heads, kv = hp.heads[i], hp.kv_heads[i]
    if not heads or not kv:
        node.remark = "no attention in this layer's metadata"
        return node
    k, v = hp.key_length[i], hp.value_length[i]
    if hp.mla is not None:  # scores over per-head widths; K caches the latent, V nothing
        node.remark = f"latent attention: {heads} heads, cache {kv * k} per token"
        return attends(node, heads, hp.mla[0], hp.hidden, v_head_dim=hp.mla[1],
                       window=hp.window_of(i), cache_dims=kv * k)
    kind = "" if kv == heads else (", multi-query" if kv == 1 else f", {kv} key/value heads")
    node.remark = f"{heads} heads of {k}{kind}"
    return attends(node, heads, k, hp.hidden, kv_heads=kv, v_head_dim=v, window=hp.window_of(i))


# -- leaves --------------------------------------------------------------------------------

def _leaf(stem: str, parts: dict[str, Tensor], hp: HParams, roles: Roles) -> Node:
    """One tensor (and its bias) as the layer it is: a norm, a projection, experts."""
    weight, bias = parts.get("weight"), parts.get("bias")
    if weight is None:
        return _stored(stem, parts, Compute())
    if stem.endswith("_exps") and len(weight.shape) == 3:
        return _experts(stem, parts, hp, roles)
    if stem in _FREE:
        return _stored(stem, parts, Compute())
    if "norm" in stem and len(weight.shape) == 1:
        return _as(norm(stem, weight.shape[0], "layernorm" if bias else "rmsnorm"), parts)
    if len(weight.shape) == 2:
        out, n_in = weight.shape
        if bias is not None and bias.shape != (out,):
            return _stored(stem, parts, None)
        return _as(linear(stem, n_in, out, bias is not None), parts)
    # a per-head projection (MLA's attn_k_b, attn_v_b) or a one-output gate stored flat
    # (ffn_gate_inp_shexp): every element is one multiply-accumulate per token
    return _stored(stem, parts, Compute(per_token=sum(t.size for t in parts.values())))


def _weight(part: str, t: Tensor) -> Weight:
    return Weight(part, t.shape, dtype=t.dtype, nbytes=t.nbytes)


def _as(node: Node, parts: dict[str, Tensor]) -> Node:
    """A built layer holding the stored tensors (their dtype and bytes) of the same shapes."""
    stored = {p: _weight(p, t) for p, t in parts.items()}
    if sorted(stored) != sorted(w.name for w in node.weights) or any(
            stored[w.name].shape != w.shape for w in node.weights):
        return _stored(node.name, parts, None)
    node.weights = tuple(stored[w.name] for w in node.weights)
    return node


def _stored(stem: str, parts: dict[str, Tensor], compute: Compute | None) -> Node:
    """Tensors with no layer behind them; ``compute`` None: their MACs are not known."""
    weights = tuple(_weight(p, t) for p, t in parts.items())
    kind = "Tensors" if compute is None else "Projection" if compute.per_token else "Parameter"
    return Node(stem, kind, None, weights, compute=compute)


def _experts(stem: str, parts: dict[str, Tensor], hp: HParams, roles: Roles) -> Node:
    """One of the routed experts' stacked matrices ``(experts, out, in)``: a token passes
    through ``expert_used_count`` of them."""
    weight = parts["weight"]
    count, out, n_in = weight.shape
    weights = tuple(_weight(p, t) for p, t in parts.items())
    per_expert = sum(w.size for w in weights) // count
    active = hp.experts_used
    node = Node(stem, "Experts", (None, out), weights, input_shapes=((None, n_in),),
                remark=f"{count} experts" + (f", {active} per token" if active else ""),
                compute=None if active is None else Compute(per_token=active * per_expert))
    return roles.routed(node, count, active)


def _top(stem: str, parts: dict[str, Tensor], roles: Roles) -> Node:
    weight = parts.get("weight")
    if stem in ("token_embd", "position_embd") and weight is not None and \
            len(weight.shape) == 2 and "bias" not in parts:
        return roles.embedding(_as(embedding(stem, *weight.shape), parts))
    if stem == "output" and weight is not None and len(weight.shape) == 2:
        return roles.embedding(_leaf(stem, parts, _NO_HP, roles))
    return _leaf(stem, parts, _NO_HP, roles)


def _tied_output(embed: Node) -> Node:
    """No ``output`` tensor: llama.cpp projects to the vocabulary with ``token_embd``."""
    vocab, hidden = embed.weights[0].shape
    node = tie(linear("output", hidden, vocab, bias=False), "token_embd")
    node.remark = "token_embd's matrix (no output tensor)"
    return node


_NO_HP = HParams("", 0, 0, (), (), (), (), None, 0, None, None, ())


def _check_total(root: Node, tensors: Sequence[Tensor]) -> None:
    """The tree holds every tensor once (stored once: tied tensors share a key)."""
    seen: set[Any] = set()
    total = 0
    for t in tensors:
        if t.key is None or t.key not in seen:
            total += t.size
        seen.add(t.key)
    if root.params != total:
        raise NotPlaced(f"its tree holds {root.params:,} of {total:,} parameters")


def _notes(hp: HParams) -> list[str]:
    kv = sorted(set(hp.kv_heads))
    parts = [f"{hp.blocks} blocks", f"{_span(sorted(set(hp.heads)))} heads",
             f"{_span(kv)} key/value heads"]
    if hp.mla is not None:
        parts[-1] = f"latent KV cache of {hp.key_length[0]}"
    if hp.window and any(hp.sliding):
        parts.append(f"a sliding window of {hp.window:,} on {sum(hp.sliding)} layers")
    if hp.experts:
        used = f"{hp.experts_used} per token" if hp.experts_used else \
            "experts per token unknown (no expert_used_count)"
        parts.append(f"{hp.experts} experts, {used}")
    return [f"The tree is the GGUF metadata's {hp.arch} architecture: {', '.join(parts)}"]


def _span(values: list[int]) -> str:
    return str(values[0]) if len(values) == 1 else f"{values[0]}..{values[-1]}"


__all__ = ["ARCHITECTURES", "Built", "HParams", "NotPlaced", "architecture"]
