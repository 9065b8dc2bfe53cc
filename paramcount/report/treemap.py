"""The data a treemap draws: the module tree of a summary as nested JSON-ready dicts, each node
with its three sizes (parameters, stored bytes, forward FLOPs), its type, layer family, dtype
and what it shares.

Every node's sizes are its subtree's, and the sizes of a node's children add up to its own: the
weights a block holds beside its submodules (and FLOPs it computes itself, attention's scores)
are one more child, ``(own)``. A group of identical blocks is one child standing for all of them
(``x``: how many), sized as all of them together, as the summary's table folds it. A tree of more
than :data:`NODES` nodes is cut at the depth that keeps it under, so that the report of a
checkpoint of 100,000 tensors stays a file one can mail; its deepest nodes then hold the sizes
of everything below them.

A node: ``n`` name, ``t`` type, ``v`` [params, bytes, flops], ``f`` family, ``d`` dtype,
``x`` copies (when more than one), ``m`` marks (shared, tied), ``q`` formula, ``s`` diff status,
``c`` children. Counts are exact integers; bytes of a weight without a stored size are its
elements times the summary's bytes per parameter.
"""

from __future__ import annotations

from typing import Any

from paramcount.errors import ParamcountError
from paramcount.model import Summary
from paramcount.tree import Node, _identical, counted

#: the most nodes one treemap carries (a deeper tree is cut at a shallower depth)
NODES = 20_000
#: what a treemap can be sized by, in the order of ``v``
METRICS = ("params", "bytes", "flops")
OWN = "(own)"


def tree_data(summary: Summary, status: dict[str, str] | None = None,
              prefix: tuple[str, ...] = (), seq_len: int | None = None) -> dict[str, Any]:
    """The summary's tree for the treemap, FLOPs of one sample of ``seq_len`` tokens (default:
    the summary's view's forward pass); ``status`` marks nodes by dotted path below the root
    (a diff's added, removed, changed), ``prefix`` being the path's stripped leading parts.

    >>> import paramcount
    >>> s = paramcount.summarize({"input_shape": [4], "layers": [{"Dense": 3}, {"Dense": 2}]})
    >>> d = tree_data(s)
    >>> d["v"][0], [c["v"][0] for c in d["c"]]
    (23, [15, 8])
    """
    flops = _flops(summary, seq_len)
    with counted(summary.root):
        limit = _depth_limit(summary.root)
        walker = _Walker(summary, flops, limit, status or {}, prefix)
        return walker.visit(summary.root, 1, 0, "")


def _flops(summary: Summary, seq_len: int | None) -> dict[int, int | None]:
    try:
        return summary.flops(seq_len, 1).per_node
    except ParamcountError:  # no forward pass to speak of (unknown input shapes)
        return {}


def _depth_limit(root: Node) -> int | None:
    """The deepest level that keeps the tree under :data:`NODES` nodes (None: no cut)."""
    per_level: dict[int, int] = {}
    for depth, _ in root.walk():
        per_level[depth] = per_level.get(depth, 0) + 1
    total = 0
    for depth in sorted(per_level):
        total += per_level[depth]
        if total > NODES:
            return max(depth - 1, 1)
    return None


class _Walker:
    def __init__(self, summary: Summary, flops: dict[int, int | None], limit: int | None,
                 status: dict[str, str], prefix: tuple[str, ...]) -> None:
        from paramcount.layers.index import FAMILIES

        self.families = FAMILIES
        self.bpp = summary.bytes_per_param
        self.dtype = summary.dtype
        self.flops, self.limit, self.status, self.prefix = flops, limit, status, prefix
        self.reused = _reused(summary.root)

    def visit(self, node: Node, times: int, depth: int, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {"n": node.name, "t": node.type,
                               "v": [node.params * times, self._bytes(node) * times,
                                     2 * (self.flops.get(id(node)) or 0) * times]}
        self._describe(node, out, path)
        if node.children and (self.limit is None or depth < self.limit):
            children = self._children(node, times, depth, path)
            own = [max(v - sum(c["v"][i] for c in children), 0) for i, v in enumerate(out["v"])]
            if any(own):
                names = ", ".join(w.name for w in node.weights[:3])
                children.append({"n": OWN, "t": names or "own compute", "v": own,
                                 "f": "own", "d": out["d"]})
            out["c"] = children
            out["f"] = _dominant(children) or out["f"]
        return out

    def _children(self, node: Node, times: int, depth: int, path: str) -> list[dict[str, Any]]:
        kids = node.children
        if node.folded or (node.repeat > 1 and _identical(kids)):
            copies = node.repeat if node.folded else len(kids)
            one = self.visit(kids[0], times * copies, depth + 1, _join(path, kids[0].name))
            one["x"] = copies
            return [one]
        return [self.visit(c, times, depth + 1, _join(path, c.name)) for c in kids]

    def _bytes(self, node: Node) -> int:
        return int(sum((w.nbytes if w.nbytes is not None else w.size * self.bpp) * t
                       for w, t in node.weights_times() if not w.buffer))

    def _describe(self, node: Node, out: dict[str, Any], path: str) -> None:
        out["f"] = _family(node, self.families)
        out["d"] = _dtype(node) or self.dtype
        marks = [f"shared: called {node.calls}×"] if node.calls > 1 else []
        marks += [f"tied: its {t.weight.name} is {t.owner}, counted there" for t in node.tied]
        marks += [f"reused: {w.name} is tied to {user}" for w in node.weights
                  for user in self.reused.get(_join(path, w.name), ())]
        if marks:
            out["m"] = marks
        if node.formula is not None:
            out["q"] = f"{node.formula.symbolic} = {node.formula.numeric}"
        if path and self.status:
            parts = tuple(path.split("."))
            if parts[:len(self.prefix)] == self.prefix:
                parts = parts[len(self.prefix):]
            out["s"] = self.status.get(".".join(parts), "unchanged")


def _family(node: Node, families: dict[str, str]) -> str:
    """The colour key of a node: its layer family (the module of paramcount.layers that
    registers its type), embeddings apart from the other core layers."""
    if node.unknown:
        return "unknown"
    if "embed" in node.type.lower():
        return "embedding"
    return families.get(node.type, "block" if node.children else "other")


def _reused(root: Node) -> dict[str, list[str]]:
    """Owner weight path -> the paths of the nodes that use it tied (an LM head)."""
    out: dict[str, list[str]] = {}
    stack = [("", c) for c in root.children]
    while stack:
        here, node = stack.pop()
        path = _join(here, node.name)
        for t in node.tied:
            out.setdefault(t.owner, []).append(path)
        stack.extend((path, c) for c in node.children)
    return out


def _dominant(children: list[dict[str, Any]]) -> str | None:
    """The family holding most parameters among ``children`` (a block's colour)."""
    tally: dict[str, int] = {}
    for c in children:
        if c["f"] != "own":
            tally[c["f"]] = tally.get(c["f"], 0) + c["v"][0]
    return max(tally, key=lambda k: tally[k]) if tally else None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _dtype(node: Node) -> str | None:
    """The dtype holding most of the node's stored bytes ("mixed ..." is not a colour)."""
    tally: dict[str, int] = {}
    for w, t in node.weights_times():
        if w.dtype is not None:
            tally[w.dtype] = tally.get(w.dtype, 0) + (w.nbytes or w.size) * t
    return max(tally, key=lambda k: tally[k]) if tally else None
