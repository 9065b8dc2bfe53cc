"""Where a treemap's rectangles go: the squarified layout (Bruls, Huizing and van Wijk, 2000)
of :mod:`paramcount.report.treemap`'s tree, two levels deep, as the report page draws it.

These are the page's rules, written once more in Python so that a notebook's inline SVG
(:mod:`paramcount.report.svg`) shows the same picture without a script: ``static/report.js``
follows them step for step (same order of operations, so the same floating-point rectangles;
a browser test reads the page's back and compares). The rules:

- the view opens on the root, or, while the node shown has one child with children, on that
  child (a model wrapped in one module opens on the module);
- its children with a size are laid out largest first (ties in tree order), row by row along
  the shorter side, each row as square as it goes;
- inside each such rectangle, its own children: below an 18 px strip for its label when it is
  taller than 34 px, 2 px in from the sides; a group of N identical blocks (2 to 256) as N
  equal tiles of one block;
- a rectangle is drawn 1 px smaller than its place (the gap between neighbours);
- a rectangle carries its name and size where both fit (:func:`label`), else its name alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: the most identical blocks drawn as tiles (a larger group is one rectangle)
TILES = 256
#: the width of one character of a label, in px (12 px sans-serif, a generous average)
CHAR = 7.0
#: the height a label needs, in px
LINE = 15.0

Node = dict[str, Any]


@dataclass(frozen=True)
class Cell:
    """One rectangle as drawn: ``level`` 1 (a child of the node shown) or 2 (inside one),
    in px from the map's top left corner, ``value`` the size it stands for and ``tile`` its
    index among identical blocks (None: not a tile)."""

    node: Node
    level: int
    x: float
    y: float
    w: float
    h: float
    value: float
    tile: int | None = None


def sized(node: Node, metric: int) -> list[tuple[Node, float]]:
    """The children of ``node`` with a size by ``metric``, largest first."""
    kids = [(c, c["v"][metric]) for c in node.get("c", []) if c["v"][metric] > 0]
    return sorted(kids, key=lambda kv: -kv[1])


def squarify(items: Sequence[tuple[Any, float]], x: float, y: float, w: float, h: float
             ) -> list[tuple[Any, float, float, float, float]]:
    """``items`` (item, value), largest first, laid out in the rectangle: (item, x, y, w, h).

    >>> [r[1:] for r in squarify([("a", 6), ("b", 2)], 0, 0, 4, 2)]
    [(0, 0.0, 3.0, 2.0), (3.0, 0, 1.0, 2.0)]
    """
    total = 0.0
    for _, value in items:
        total = total + value
    if total <= 0 or w <= 0 or h <= 0:
        return []
    scale = w * h / total
    rest = [(item, value * scale) for item, value in items]
    out: list[tuple[Any, float, float, float, float]] = []
    while rest:
        side = min(w, h)
        row = [rest.pop(0)]
        while rest and _worst([*row, rest[0]], side) <= _worst(row, side):
            row.append(rest.pop(0))
        area = 0.0
        for _, a in row:
            area = area + a
        thick, off = area / side, 0.0
        for item, a in row:
            length = a / thick
            out.append((item, x, y + off, thick, length) if w >= h
                       else (item, x + off, y, length, thick))
            off += length
        if w >= h:
            x, w = x + thick, w - thick
        else:
            y, h = y + thick, h - thick
    return out


def _worst(row: Sequence[tuple[Any, float]], side: float) -> float:
    """The worst aspect ratio of a row laid along ``side``."""
    total, most, least = 0.0, 0.0, float("inf")
    for _, a in row:
        total, most, least = total + a, max(most, a), min(least, a)
    s2, sum2 = side * side, total * total
    return max(s2 * most / sum2, sum2 / (s2 * least))


def opened(tree: Node, metric: int = 0) -> list[Node]:
    """The nodes from the root to the one the view opens on."""
    stack = [tree]
    only = sized(tree, metric)
    while len(only) == 1 and only[0][0].get("c"):
        stack.append(only[0][0])
        only = sized(only[0][0], metric)
    return stack


def layout(tree: Node, metric: int, width: float, height: float) -> list[Cell]:
    """The rectangles of the view that opens on ``tree``, sized by ``metric`` (0 parameters,
    1 stored bytes, 2 FLOPs), in a map of ``width`` × ``height`` px; each rectangle of level
    1 is followed by those inside it.

    >>> tree = {"n": "m", "v": [8, 0, 0], "c": [{"n": "a", "v": [6, 0, 0]},
    ...                                         {"n": "b", "v": [2, 0, 0]}]}
    >>> [(c.node["n"], c.x, c.w) for c in layout(tree, 0, 400, 100)]
    [('a', 0, 299.0), ('b', 300.0, 99.0)]
    """
    here = opened(tree, metric)[-1]
    out: list[Cell] = []
    for node, x, y, w, h in squarify(sized(here, metric), 0, 0, width, height):
        value = node["v"][metric]
        out.append(Cell(node, 1, x, y, max(w - 1, 0), max(h - 1, 0), value))
        if node.get("c"):
            out.extend(_inside(node, metric, x, y, w, h))
    return out


def _inside(node: Node, metric: int, x: float, y: float, w: float, h: float) -> list[Cell]:
    inner: list[tuple[Any, float]] = [((c, None, v), v) for c, v in sized(node, metric)]
    if len(inner) == 1 and 1 < inner[0][0][0].get("x", 1) <= TILES:
        one, value = inner[0][0][0], inner[0][1]
        n = one["x"]
        inner = [((one, k, value / n), value / n) for k in range(n)]
    top = 18 if h > 34 else 0
    if w <= 30 or h - top <= 12:
        return []
    return [Cell(c, 2, x + sx, y + sy, max(sw - 1, 0), max(sh - 1, 0), value, k)
            for (c, k, value), sx, sy, sw, sh in squarify(inner, 2, top, w - 5, h - top - 4)]


def short(n: float, metric: int) -> str:
    """A size in a few characters, as the page writes it: ``7.50B`` parameters, ``15.0 GB``.

    >>> short(8_030_261_248, 0), short(999, 1), short(16_060_522_496, 1)
    ('8.03B', '999 B', '16.1GB')
    """
    units = ("B", "kB", "MB", "GB", "TB", "PB") if metric == 1 else ("", "K", "M", "B", "T", "P")
    i = 0
    while abs(n) >= 1000 and i < len(units) - 1:
        n, i = n / 1000, i + 1
    said = f"{n:.{2 if n < 10 else 1}f}" if i else (f"{n:g}" if n % 1 else str(int(n)))
    return said + (" B" if metric == 1 and not i else units[i])


def name(node: Node, tile: int | None = None) -> str:
    """A rectangle's name: ``h ×12`` for a group of identical blocks, and a tile its own
    block's name (``7``, or ``block #8`` when blocks are not numbered)."""
    if tile is None:
        return node["n"] + (f" ×{node['x']}" if node.get("x") else "")
    numbered = node["n"].isascii() and node["n"].isdigit()
    return str(int(node["n"]) + tile) if numbered else f"{node['n']} #{tile + 1}"


def label(text: str, size: str, w: float, h: float) -> str:
    """What a rectangle of ``w`` × ``h`` px can show: its name and size, or its name, or
    nothing (a label is never cut)."""
    if h < LINE:
        return ""
    for said in (f"{text} {size}", text):
        if len(said) * CHAR + 8 <= w:
            return said
    return ""
