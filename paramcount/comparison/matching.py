"""One side of a diff as nodes by path, and the matching of paths that the two sides spell
differently: a leading component one side lacks (``model.`` of ``LlamaForCausalLM`` against a
checkpoint of ``LlamaModel``), a PEFT ``base_layer`` holding the weights of the module it wraps.
:mod:`paramcount.comparison.changes` compares what this module lines up.
"""

from __future__ import annotations

from dataclasses import dataclass

from paramcount.layers import Weight
from paramcount.tree import Counts, Node, subtree_counts, weight_counts

Parts = tuple[str, ...]
_MAX_PREFIX = 3  # leading components tried when paths fail to match


@dataclass(frozen=True)
class Entry:
    """One node of one side: its own weights and its subtree's counts."""

    parts: Parts
    type: str
    weights: tuple[Weight, ...]
    counts: Counts
    leaf: bool

    @property
    def own(self) -> Counts:
        """The counts of the weights this node owns itself (its children's excluded)."""
        return weight_counts(self.weights)


def flatten(root: Node, totals: dict[int, Counts] | None = None) -> dict[Parts, Entry]:
    """Every node below ``root`` by its path, in tree order; the root itself (path ``()``)
    only when it owns weights. Siblings of the same name get ``#2``, ``#3``. ``totals``: the
    tree's :func:`~paramcount.tree.subtree_counts`, when the caller has them.

    >>> import paramcount
    >>> s = paramcount.summarize({"input_shape": [4], "layers": [{"Dense": 2}]})
    >>> {".".join(p): e.counts[0] for p, e in flatten(s.root).items()}
    {'dense': 10}
    """
    order: list[Parts] = [()] if root.weights else []
    out: dict[Parts, Entry] = {}
    totals = subtree_counts(root) if totals is None else totals

    def visit(node: Node, parts: Parts) -> None:
        seen: dict[str, int] = {}
        for child in node.children:
            k = seen[child.name] = seen.get(child.name, 0) + 1
            path = (*parts, child.name if k == 1 else f"{child.name}#{k}")
            order.append(path)
            visit(child, path)
        # the root's row is its own weights; every other row, its subtree
        counts = totals[id(node)] if parts else weight_counts(node.weights)
        out[parts] = Entry(parts, node.type, node.weights, counts, not node.children)

    visit(root, ())
    return {p: out[p] for p in order}


# -- paths that differ by a leading component ------------------------------------------------

def _weight_keys(entries: dict[Parts, Entry]) -> list[Parts]:
    return [(*parts, w.name) for parts, e in entries.items() for w in e.weights]


def _candidates(keys: list[Parts]) -> list[Parts]:
    """Leading paths (up to three components) that hold at least a quarter of the tensors."""
    tally: dict[Parts, int] = {}
    for k in keys:
        for n in range(1, min(_MAX_PREFIX, len(k) - 1) + 1):
            tally[k[:n]] = tally.get(k[:n], 0) + 1
    return [(), *(p for p, n in tally.items() if 4 * n >= len(keys))]


def _strip(parts: Parts, prefix: Parts) -> Parts:
    return parts[len(prefix):] if prefix and parts[:len(prefix)] == prefix else parts


def best_prefix(ea: dict[Parts, Entry], eb: dict[Parts, Entry]) -> tuple[Parts, Parts]:
    """The leading components to strip from A's and B's paths, when fewer than half of the
    tensors match as they are and stripping makes more match; ``((), ())`` otherwise."""
    ka, kb = _weight_keys(ea), _weight_keys(eb)
    base = len(set(ka) & set(kb))
    if 2 * base >= min(len(ka), len(kb)):
        return (), ()
    sa = {p: {_strip(k, p) for k in ka} for p in _candidates(ka)}
    sb = {q: {_strip(k, q) for k in kb} for q in _candidates(kb)}
    best: tuple[Parts, Parts] = ((), ())
    score = base
    for p, x in sa.items():
        for q, y in sb.items():
            n = len(x & y)
            if n > score:
                best, score = (p, q), n
    return best


def prefix_note(ea: dict[Parts, Entry], eb: dict[Parts, Entry],
                prefix: tuple[Parts, Parts]) -> str:
    """The note saying which leading components were stripped, and how many tensors matched
    without stripping."""
    ka, kb = _weight_keys(ea), _weight_keys(eb)
    before = len(set(ka) & set(kb))
    said = [f"`{'.'.join(p)}.` from {label}'s paths"
            for p, label in zip(prefix, "AB", strict=True) if p]
    return (f"paths matched after stripping {' and '.join(said)} (otherwise {before} of "
            f"{min(len(ka), len(kb))} tensors match)")


def strip_all(entries: dict[Parts, Entry], prefix: Parts) -> dict[Parts, Entry]:
    """Entries with ``prefix`` stripped; the prefix node becomes the root (kept only when it
    owns weights) and the nodes above it, which hold nothing else, go."""
    if not prefix:
        return entries
    out: dict[Parts, Entry] = {}
    for parts, e in entries.items():
        if len(parts) < len(prefix) and prefix[:len(parts)] == parts:
            continue
        new = _strip(parts, prefix)
        if parts == prefix:
            if not e.weights:
                continue
            root = out.get(())
            e = Entry((), e.type, (*(root.weights if root else ()), *e.weights),
                      weight_counts((*(root.weights if root else ()), *e.weights)), False)
        while new in out and parts != prefix:
            new = (*new[:-1], f"{new[-1]}#2")
        out[new] = Entry(new, e.type, e.weights, e.counts, e.leaf)
    return out


def unwrap_base_layers(x: dict[Parts, Entry], y: dict[Parts, Entry]) -> int:
    """PEFT keeps the weights of a module it wraps in the child ``base_layer``; where the other
    side has them on the module itself, compare them there. Returns how many moved."""
    moved = 0
    for parts, e in list(x.items()):
        if parts[-1:] != ("base_layer",) or not e.leaf or parts in y:
            continue
        parent, other = x.get(parts[:-1]), y.get(parts[:-1])
        if parent is None or other is None or not other.weights or parent.weights:
            continue
        x[parent.parts] = Entry(parent.parts, parent.type, e.weights, parent.counts,
                                parent.leaf)
        del x[parts]
        moved += 1
    return moved
