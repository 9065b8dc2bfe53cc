"""The ``paramcount/1`` JSON document, a stable schema that every source and command reuses.

Top level: ``schema``, ``source``, ``name``, ``framework``, ``dtype``, ``bytes_per_param``,
``total_params``, ``trainable_params``, ``non_trainable_params``, ``buffers``, ``total_bytes``,
``layers``. A layer: ``name``, ``type``, ``output_shape`` (with ``null`` for the batch),
``params``, ``trainable_params``, ``non_trainable_params``, ``buffers``, ``calls``,
``weights`` (``name``, ``shape``, ``params``, ``trainable``, ``buffer``), ``tied``,
``formula`` (``symbolic``, ``numeric``) and ``children``. Counts are JSON integers.
"""

from __future__ import annotations

import json
from typing import Any

from paramcount.model import Node, Summary

SCHEMA = "paramcount/1"


def to_dict(summary: Summary, depth: int | None = None) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "source": summary.source,
        "name": summary.name,
        "framework": summary.framework,
        "dtype": summary.dtype,
        "bytes_per_param": summary.bytes_per_param,
        "total_params": summary.total_params,
        "trainable_params": summary.trainable_params,
        "non_trainable_params": summary.non_trainable_params,
        "buffers": summary.buffers,
        "total_bytes": summary.bytes(),
        **({"meta": summary.meta} if summary.meta else {}),
        "layers": [_node(c, 1, depth) for c in summary.root.children],
    }


def _node(node: Node, level: int, depth: int | None) -> dict[str, Any]:
    expand = depth is None or level < depth
    return {
        "name": node.name,
        "type": node.type,
        "output_shape": None if node.output_shape is None else [None, *node.output_shape],
        "params": node.params,
        "trainable_params": node.trainable_params,
        "non_trainable_params": node.non_trainable_params,
        "buffers": node.buffers,
        "calls": node.calls,
        "weights": [
            {"name": w.name, "shape": list(w.shape), "params": w.size,
             "trainable": w.trainable, "buffer": w.buffer}
            for w in node.weights
        ],
        "tied": [{"name": t.weight.name, "shape": list(t.weight.shape), "owner": t.owner}
                 for t in node.tied],
        "formula": None if node.formula is None else {
            "symbolic": node.formula.symbolic, "numeric": node.formula.numeric},
        "children": [_node(c, level + 1, depth) for c in node.children] if expand else [],
    }


def render_json(summary: Summary, depth: int | None = None) -> str:
    return json.dumps(to_dict(summary, depth), indent=2)
