"""``depth`` for a live object: rows down to a depth, every total unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from paramcount.layers.base import Layer
from paramcount.model import Summary
from paramcount.tree import Compute, Node, Tied


def limit_depth(summary: Summary, depth: int) -> None:
    """Keep rows down to ``depth``: a node at the limit takes its descendants' weights (under
    their dotted names) and MACs, so every total, and every tie's owner path, is unchanged.

    >>> import numpy as np
    >>> from paramcount.sources.live import summarize
    >>> s = summarize({"a": {"b": {"w": np.zeros(3)}}})
    >>> limit_depth(s, 1)
    >>> [(r.node.name, r.node.params) for r in s.rows()], s.root.children[0].weights[0].name
    ([('a', 3)], 'b.w')
    """
    macs = summary.flops().per_node if summary.view.compute is not None else None
    _prune(summary.root, 0, depth, macs)
    summary.view = summary.view.but(fold=False)  # as --depth: every block of a group shown
    summary.__dict__.pop("_flops", None)  # the tree changed: MACs are walked again


def _prune(node: Node, level: int, depth: int, macs: dict[int, int | None] | None) -> None:
    for child in node.children:
        if level + 1 >= depth:
            _collapse(child, macs)
        else:
            _prune(child, level + 1, depth, macs)


def _collapse(node: Node, macs: dict[int, int | None] | None) -> None:
    if not node.children:
        return
    weights, tied = list(node.weights), list(node.tied)
    for prefix, sub in _descendants(node, ""):
        weights += [replace(w, name=f"{prefix}{w.name}") for w in sub.weights]
        tied += [Tied(replace(t.weight, name=f"{prefix}{t.weight.name}"), t.owner)
                 for t in sub.tied]
    node.weights, node.tied, node.children, node.repeat = tuple(weights), tuple(tied), [], 1
    if macs is None:
        return
    total, calls = macs.get(id(node)), max(node.calls, 1)
    node.layer = Layer(label=node.type) if total is None else None  # MACs unknown
    if total is not None:
        # one call's MACs times the calls, or (calls on other shapes; a container never called
        # itself) all of them once
        node.compute = Compute(total // calls) if total % calls == 0 else Compute(total)
        node.calls = calls if total % calls == 0 else 1


def _descendants(node: Node, prefix: str) -> Iterator[tuple[str, Node]]:
    for child in node.children:
        yield f"{prefix}{child.name}.", child
        yield from _descendants(child, f"{prefix}{child.name}.")
