"""The ``paramcount/1`` JSON document, a stable schema that every source and command reuses.

Top level: ``schema``, ``source``, ``name``, ``framework``, ``dtype``, ``bytes_per_param``,
``total_params``, ``trainable_params``, ``non_trainable_params``, ``buffers``, ``total_bytes``,
``figures`` (further counts by label), ``lower_bound`` and ``unknown_layers`` (types not
counted), ``dtypes`` and ``stored_bytes`` (for weights read from files), ``layers``.
A layer: ``name``, ``type``, ``output_shape`` (with ``null`` for the batch), ``params``,
``trainable_params``, ``non_trainable_params``, ``buffers``, ``calls``, ``unknown``,
``remark``, ``weights`` (``name``, ``shape``, ``params``, ``trainable``, ``buffer``, and
``dtype``/``bytes`` when stored), ``tied``, ``formula`` (``symbolic``, ``numeric``) and
``children``. Counts are JSON integers.

A quantized checkpoint (:mod:`paramcount.sources.quant`) adds ``quantization``: ``scheme``,
``detected_from``, ``bits``, ``group_size``, ``quantized_tensors``, ``quantized_params``,
``stored_elements``, ``packed_bytes``, ``bookkeeping_bytes``, ``bookkeeping`` (by kind),
``bits_per_weight``, ``unquantized``, ``modules``, ``unpacking`` and ``declared_params``.

With a forward pass asked for (``--flops``, ``--seq-len``, ``--batch``), the top level has
``compute`` (``seq_len``, ``batch``, ``macs``, ``flops``, ``complete``, ``unknown`` and
``unsized`` layer types, ``flops_per_token``, ``training_flops_per_token``, ``convention``)
and each layer ``macs`` (the whole batch; ``null`` where not known).
"""

from __future__ import annotations

from typing import Any

from paramcount.dtypes import DTYPE_BYTES
from paramcount.flops import CONVENTION, Flops
from paramcount.layers import Weight
from paramcount.model import Summary
from paramcount.report.columns import view_flops
from paramcount.report.text import json_text
from paramcount.tree import Counts, Node, subtree_counts
from paramcount.view import View

SCHEMA = "paramcount/1"


def to_dict(summary: Summary, view: View) -> dict[str, Any]:
    counts = subtree_counts(summary.root)  # every node's counts in one walk
    total, trainable, frozen, buffers = counts[id(summary.root)]
    depth = view.depth
    flops = view_flops(summary, view)
    dtype = view.dtype or summary.dtype  # the sizes' dtype: --dtype's, else the model's
    doc = {
        "schema": SCHEMA,
        "source": summary.source,
        "name": summary.name,
        "framework": summary.framework,
        "dtype": dtype,
        "bytes_per_param": DTYPE_BYTES[dtype],
        "total_params": total,
        "trainable_params": trainable,
        "non_trainable_params": frozen,
        "buffers": buffers,
        "total_bytes": summary.bytes(total, dtype=dtype),
        "figures": dict(summary.figures),
        "notes": list(summary.notes),
        "lower_bound": summary.lower_bound,
        "unknown_layers": summary.unknown_layers,
        "dtypes": {d: {"params": n, "bytes": b} for d, (n, b) in summary.by_dtype().items()},
        "stored_bytes": summary.stored_bytes(),
        **_meta(summary.meta),
        **({"compute": compute(summary, flops)} if flops is not None else {}),
        "layers": [_node(c, 1, depth, counts, flops) for c in summary.root.children],
    }
    return doc


def _meta(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta``, with a quantized checkpoint's unpacking as the top-level ``quantization``."""
    out: dict[str, Any] = {}
    rest = {k: v for k, v in meta.items() if k != "quantized"}
    if rest:
        out["meta"] = rest
    if "quantized" in meta:
        out["quantization"] = meta["quantized"]
    return out


def compute(summary: Summary, f: Flops) -> dict[str, Any]:
    """The forward pass's totals: MACs and FLOPs (None per token when the length is unknown),
    and the scaling-law N they compare with."""
    n, which = summary.scaling_params()
    return {
        "seq_len": f.seq_len, "batch": f.batch, "macs": f.macs, "flops": f.flops,
        "complete": f.complete, "unknown": dict(f.unknown), "unsized": dict(f.unsized),
        "unused_seq_len": f.unused_seq_len,
        "flops_per_token": f.per_token,
        "training_flops_per_token": f.training_per_token,
        "scaling_n": n, "scaling_n_is": which,
        "convention": CONVENTION,
    }


def _node(node: Node, level: int, depth: int | None, counts: dict[int, Counts],
          flops: Flops | None) -> dict[str, Any]:
    expand = depth is None or level < depth
    params, trainable, frozen, buffers = counts[id(node)]
    out = {
        "name": node.name,
        "type": node.type,
        "output_shape": None if node.output_shape is None else [None, *node.output_shape],
        "params": params,
        "trainable_params": trainable,
        "non_trainable_params": frozen,
        "buffers": buffers,
        "calls": node.calls,
        "unknown": node.unknown,
        "remark": node.remark,
        "weights": [_weight(w) for w in node.weights],
        "tied": [{"name": t.weight.name, "shape": list(t.weight.shape), "owner": t.owner}
                 for t in node.tied],
        "formula": None if node.formula is None else {
            "symbolic": node.formula.symbolic, "numeric": node.formula.numeric},
        "children": [_node(c, level + 1, depth, counts, flops) for c in node.children]
        if expand else [],
    }
    if node.folded:  # its one child stands for this many identical copies
        out["folded"] = node.repeat
    if flops is not None:
        out["macs"] = flops.node_macs(node)
    return out


def _weight(w: Weight) -> dict[str, Any]:
    out: dict[str, Any] = {"name": w.name, "shape": list(w.shape), "params": w.size,
                           "trainable": w.trainable, "buffer": w.buffer}
    if w.dtype is not None:
        out["dtype"] = w.dtype
    if w.nbytes is not None:
        out["bytes"] = w.nbytes
    return out


def render_json(summary: Summary, view: View) -> str:
    # One line, as pip and gh print JSON for scripts: the C encoder is several times faster
    # than indenting, which matters for trees of thousands of nodes (`| jq .` pretty-prints).
    return json_text(to_dict(summary, view))
