"""The report's treemap as static SVG, which a notebook shows inline for a summary or a diff
(``_repr_html_``): no script, so it shows in any notebook, in a saved one and on GitHub.

The rectangles are :func:`paramcount.report.layout.layout`'s, the page's own rules, two levels
deep whatever the size of the model, so the picture stays a few kilobytes; the colours are the
page's (layer family, or a diff's added, removed, changed), a group of identical blocks is drawn
as its tiles, a shared or tied weight has a dashed border, and each rectangle's ``<title>`` is
the page's tooltip. ``summary.plot()`` gives the zoomable page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from paramcount.report.layout import Cell, Node, label, layout, name, opened, short

if TYPE_CHECKING:
    from paramcount.comparison import Diff
    from paramcount.model import Summary

#: the colours of layer families, given in order of first use (the page's, in report.js)
FAMILY = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
          "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d4a6c8")
#: the colours of a diff's statuses (the page's, in report.js)
STATUS = {"added": "#59a14f", "removed": "#e15759", "changed": "#edc948",
          "unchanged": "#bab0ac"}
#: the size of one model's picture, and of each of a diff's two, in px
SIZE = (720, 360)
PAIR = (460, 300)


class Palette:
    """Colour keys to colours, in order of first use (one palette over a diff's two maps)."""

    def __init__(self, by: str) -> None:
        self.by = by
        self.keys: dict[str, str] = {}

    def colour(self, node: Node) -> str:
        if self.by == "s":
            key = node.get("s") or "unchanged"
            self.keys[key] = STATUS[key]
        else:
            key = node.get(self.by) or "other"
            self.keys.setdefault(key, FAMILY[len(self.keys) % len(FAMILY)])
        return self.keys[key]

    def legend(self) -> str:
        return "".join(f'<span><span style="display: inline-block; width: 0.9em; height: 0.9em; '
                       f'margin-right: 0.3em; background: {c}"></span>{escape(k)}</span>'
                       for k, c in self.keys.items())


def tip(node: Node, tile: int | None = None) -> str:
    """The tooltip of a rectangle (the page's): its numbers, formula, change and marks."""
    v = node["v"]
    lines = [f"{name(node, tile)} ({node['t']})", f"parameters: {v[0]:,}",
             f"stored bytes: {v[1]:,}"]
    if node.get("x"):
        lines.append(f"{node['x']} identical blocks of {round(v[0] / node['x']):,} each")
    if v[2]:
        lines.append(f"FLOPs: {v[2]:,}")
    lines += [f"{word}: {node[key]}" for key, word in
              (("d", "dtype"), ("q", "formula"), ("s", "change")) if node.get(key)]
    return "\n".join([*lines, *node.get("m", ())])


def treemap_svg(tree: Node, palette: Palette, size: tuple[int, int] = SIZE,
                metric: int = 0) -> str:
    """The view that opens on ``tree`` as an ``<svg>`` of ``size`` px ("" when nothing in it
    has a size)."""
    width, height = size
    cells = layout(tree, metric, width, height)
    if not cells:
        return ""
    path = " › ".join(n["n"] for n in opened(tree, metric))
    body = "".join(_cell(c, palette, metric) for c in cells)
    return (f'<svg class="pc-treemap" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" style="max-width: 100%; height: auto" role="img" '
            f'aria-label="{escape(path)}" font-size="12" font-family="sans-serif">'
            f"{body}</svg>")


def _cell(cell: Cell, palette: Palette, metric: int) -> str:
    node = cell.node
    fill = palette.colour(node)
    if cell.level == 2:
        fill = _lighter(fill)
    stroke = 'stroke="rgba(0,0,0,0.35)"'
    if node.get("m"):
        stroke = 'stroke="rgba(0,0,0,0.6)" stroke-width="2" stroke-dasharray="4 2"'
    elif node.get("s") in ("added", "removed", "changed"):
        stroke = 'stroke="rgba(0,0,0,0.6)" stroke-width="2"'
    said = label(name(node, cell.tile), short(cell.value, metric), cell.w, cell.h)
    text = (f'<text x="{cell.x + 4:.1f}" y="{cell.y + 13:.1f}" fill="#111">{escape(said)}</text>'
            if said else "")
    return (f'<g class="pc-level{cell.level}" data-name="{escape(node["n"])}" '
            f'data-value="{_number(cell.value)}">'
            f"<title>{escape(tip(node, cell.tile))}</title>"
            f'<rect x="{cell.x:.1f}" y="{cell.y:.1f}" width="{cell.w:.1f}" '
            f'height="{cell.h:.1f}" fill="{fill}" {stroke}/>{text}</g>')


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:.2f}"


def _lighter(colour: str) -> str:
    """``colour`` 12% brighter (the page's inner rectangles)."""
    rgb = [min(255, round(int(colour[i:i + 2], 16) * 1.12)) for i in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def figure(maps: Sequence[tuple[str, str]], palette: Palette, note: str) -> str:
    """Treemaps (caption, svg) side by side, one legend and a note below."""
    shown = "".join(f'<div style="min-width: 0"><div style="font-weight: bold">{escape(t)}'
                    f"</div>{svg}</div>" for t, svg in maps if svg)
    if not shown:
        return ""
    return (f'<figure class="paramcount-treemap" style="margin: 0 0 0.8em">'
            f'<div style="display: flex; flex-wrap: wrap; gap: 1em">{shown}</div>'
            f'<figcaption style="display: flex; flex-wrap: wrap; gap: 0.2em 1em; '
            f'font-size: 0.85em">{palette.legend()}<span style="opacity: 0.75">'
            f"{escape(note)}</span></figcaption></figure>")


def summary_svg(summary: Summary) -> str:
    """A summary's treemap, coloured by layer family, sized by parameters.

    >>> import paramcount
    >>> s = paramcount.summarize({"input_shape": [4], "layers": [{"Dense": 3}, {"Dense": 2}]})
    >>> svg = summary_svg(s)
    >>> svg.count('class="pc-level1"'), "<script" in svg
    (2, False)
    """
    from paramcount.report.treemap import tree_data

    palette = Palette("f")
    svg = treemap_svg(tree_data(summary), palette)
    return figure([(_title(summary), svg)], palette, "sized by parameters; "
                  "summary.plot() zooms")


def diff_svg(d: Diff) -> str:
    """Both models of a diff side by side, coloured by what was added, removed or changed
    ("" when the diff does not hold its summaries)."""
    from paramcount.report.page import pane

    if d.summaries is None:
        return ""
    status = {c.path: c.status for c in d.changes}
    palette = Palette("s")
    maps = []
    for i, (side, s) in enumerate(zip("AB", d.summaries, strict=True)):
        tree = pane(s, status=status, prefix=d.prefix[i])["tree"]
        maps.append((f"{side}: {_title(s)}", treemap_svg(tree, palette, PAIR)))
    return figure(maps, palette, "sized by parameters; diff.plot() zooms")


def _title(summary: Summary) -> str:
    return f"{summary.name}: {summary.total_params:,} parameters"

