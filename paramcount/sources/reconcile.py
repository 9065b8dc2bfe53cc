"""A folder or repo that holds a config.json and weights is an architecture and a checkpoint.

The tree comes from the config (named rows, real layer types, attention, experts), so FLOPs and
the KV cache work on it; its counts are checked against the tensors, path by path
(:mod:`paramcount.comparison`): both totals are shown, and what differs is named by module (a
multi-token-prediction head the checkpoint holds but the architecture does not build, a head
left out because it is tied). The stored dtypes and bytes of the tensors carry over to the
architecture's weights, so "Stored as" and the memory of the stored bytes stay the checkpoint's.

A config whose paths the weights mostly miss, but whose total they equal exactly, still gives
the tree: the same weights laid out otherwise (Mixtral's experts, saved one by one by
transformers 5, built fused). A config that does not describe the weights (most of their
parameters match no path of the same shape and the totals differ: a quantized checkpoint's
packed tensors, another model's config) leaves the checkpoint's own tree, with a note; so does
a config of a family paramcount does not declare (building it would need transformers).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from paramcount.comparison.compare import compare
from paramcount.errors import ParamcountError
from paramcount.layers import Weight
from paramcount.model import Summary
from paramcount.tree import Node

#: the share of the checkpoint's parameters that must sit at paths of the same shape in the
#: architecture for the config's tree to stand for the checkpoint
MATCHED = 0.5
_LISTED = 5  # differing modules named in the note


def with_architecture(checkpoint: Summary, config: dict[str, Any], where: str) -> Summary:
    """The checkpoint's summary with the tree its ``config`` builds, when the config describes
    its weights; else the checkpoint's own, with a note saying why."""
    from paramcount.sources import hf

    if not hf.declared(config):
        return checkpoint
    try:
        arch = hf.from_dict(config, source=where)
    except ParamcountError as err:
        checkpoint.notes.append(f"{where} was not used for the tree: {err}")
        return checkpoint
    checkpoint = _as_loaded(checkpoint, config)
    d = compare(arch, checkpoint)
    total, stored = d.a.totals[0], d.b.totals[0]  # the architecture's, the checkpoint's
    matched = sum(r.b[0] * r.times for r in d.rows(all=True, fold=False)
                  if r.status == "unchanged" and r.b is not None)
    if matched < MATCHED * stored:
        if total == stored:
            return _relaid(arch, checkpoint, matched, where)
        checkpoint.notes.append(
            f"{where} does not describe these weights ({matched:,} of {stored:,} parameters "
            "match it): the tree is the checkpoint's")
        return checkpoint
    return _joined(arch, checkpoint, d, where)


def _as_loaded(checkpoint: Summary, config: dict[str, Any]) -> Summary:
    """The checkpoint with its tensors where transformers loads them, when the family renames
    a saved layout (LLaVA's ``language_model.model.*`` is ``model.language_model.*``)."""
    from paramcount.architectures import family_of, loaded_path
    from paramcount.sources.tensors import Tensor, build_tree

    family = family_of(config.get("model_type"), None)
    if family is None or not family.saved:
        return checkpoint
    tensors = [Tensor(loaded_path(family, path), w.shape, w.dtype or "float32", w.nbytes or 0,
                      buffer=w.buffer, trainable=w.trainable)
               for path, w in checkpoint.root.all_weights()]
    root = build_tree(tensors, checkpoint.root.name)
    return replace(checkpoint, root=root, notes=list(checkpoint.notes))


def _joined(arch: Summary, checkpoint: Summary, d: Any, where: str) -> Summary:
    stored = {path: w for path, w in checkpoint.root.all_weights()}
    _carry(arch.root, "", stored, d.prefix)
    arch.source, arch.meta = checkpoint.source, {**checkpoint.meta, **arch.meta,
                                                 "architecture_from": where}
    arch.figures.update(checkpoint.figures)
    arch.figures["Checkpoint params"] = d.b.totals[0]
    arch.notes += checkpoint.notes
    if not d.changed:
        arch.notes.append(f"The tree is {where}'s; the checkpoint holds exactly its weights")
        return arch
    arch.notes.append(f"The tree is {where}'s; the checkpoint holds "
                      f"{d.b.totals[0] - d.a.totals[0]:+,} parameters against it: "
                      f"{_differences(d)}")
    return arch


def _relaid(arch: Summary, checkpoint: Summary, matched: int, where: str) -> Summary:
    """The config's tree for a checkpoint that stores exactly its parameters under other
    names: transformers 5 builds a mixture of experts with fused expert tensors
    (``mlp.experts.gate_up_proj``) but saves Mixtral's per expert
    (``block_sparse_moe.experts.0.w1``), so few paths match while every count does."""
    arch.source = checkpoint.source
    arch.meta = {**checkpoint.meta, **arch.meta, "architecture_from": where}
    arch.figures.update(checkpoint.figures)
    arch.figures["Checkpoint params"] = checkpoint.total_params
    arch.notes += checkpoint.notes
    arch.notes.append(
        f"The tree is {where}'s: the checkpoint holds the same {checkpoint.total_params:,} "
        f"parameters in another layout ({matched:,} of them at the config's paths)")
    return arch


def _differences(d: Any) -> str:
    """The differing modules, the largest first: ``model.layers.61 (+14,000,000, only in the
    checkpoint)``."""
    what = {"added": "only in the checkpoint", "removed": "not in the checkpoint",
            "changed": "other shapes"}
    rows = sorted((r for r in d.rows() if r.status in what),
                  key=lambda r: -abs(r.delta * r.times))
    shown = [f"{r.path}{f' ×{r.times}' if r.times > 1 else ''} ({r.delta * r.times:+,}, "
             f"{what[r.status]})" for r in rows[:_LISTED]]
    more = f", and {len(rows) - _LISTED} more" if len(rows) > _LISTED else ""
    return "; ".join(shown) + more


def _carry(node: Node, path: str, stored: dict[str, Weight],
           prefix: tuple[tuple[str, ...], tuple[str, ...]], seen: set[int] | None = None
           ) -> None:
    """Give the architecture's weights the dtype and bytes of the tensors stored at their
    paths (after the prefix the comparison stripped), where the sizes agree. A block the
    tree shares between layers gets its own copy first: each layer's tensors may differ in
    bytes (bitsandbytes' quant_state is JSON of varying length)."""
    seen = set() if seen is None else seen
    node.weights = tuple(_stored_as(w, _path(path + w.name, prefix), stored)
                         for w in node.weights)
    if id(node.children) in seen:  # cloned blocks share their children list
        node.children = list(node.children)
    seen.add(id(node.children))
    for i, child in enumerate(node.children):
        if id(child) in seen:
            child = node.children[i] = replace(child, children=list(child.children))
        seen.add(id(child))
        _carry(child, f"{path}{child.name}.", stored, prefix, seen)


def _path(path: str, prefix: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
    a, b = (".".join(p) for p in prefix)
    if a and path.startswith(a + "."):
        path = path[len(a) + 1:]
    return f"{b}.{path}" if b else path


def _stored_as(w: Weight, path: str, stored: dict[str, Weight]) -> Weight:
    found = stored.get(path)
    if found is None or found.size != w.size:
        return w
    return replace(w, dtype=found.dtype, nbytes=found.nbytes)
