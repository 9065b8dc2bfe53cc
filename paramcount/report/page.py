"""``paramcount report``: one self-contained HTML page for a model, a diff or a memory plan.

The page is a zoomable treemap of the module tree (:mod:`paramcount.report.treemap`'s data,
drawn by ``static/report.js``) beside the summary's own HTML table, which is written here, so
that the page still says everything with JavaScript off. A memory plan is a stacked bar drawn
here in SVG (no script needed); a diff is both models' treemaps side by side, coloured by what
was added, removed or changed, above the diff's table. The script and style sheet are package
files inlined at write time; the data is JSON in a ``<script type="application/json">``
element with every ``<``, ``>`` and ``&`` escaped, and a Content-Security-Policy forbids every
fetch: the page opens from disk and asks nothing of any network.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from paramcount.report.treemap import METRICS, tree_data
from paramcount.units import fmt_both

if TYPE_CHECKING:
    from paramcount.comparison import Diff
    from paramcount.memory.breakdown import MemoryEstimate
    from paramcount.model import Summary

#: no fetch of any kind: scripts and styles inline, images only as data: URLs
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data:; form-action 'self'")


def static(name: str) -> str:
    """A file of ``paramcount/report/static`` (the page's script and style sheet)."""
    return (files("paramcount.report") / "static" / name).read_text(encoding="utf-8")


def script_json(data: Any) -> str:
    """``data`` as JSON that cannot end the ``<script>`` element holding it.

    >>> script_json({"n": "</script>&"})
    '{"n": "\\\\u003c/script\\\\u003e\\\\u0026"}'
    """
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def pane(summary: Summary, title: str = "", seq_len: int | None = None,
         status: dict[str, str] | None = None, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """One treemap's data: its title, the totals it must add up to, and the tree."""
    tree = tree_data(summary, status, prefix, seq_len)
    return {"title": title or summary.name, "source": summary.source,
            "total": [summary.total_params, *tree["v"][1:]], "tree": tree}


def summary_body(summary: Summary, seq_len: int | None = None) -> tuple[str, list[Any]]:
    """The treemap's place and the table of one model, and its treemap data."""
    from paramcount.report.html import render_html

    data = pane(summary, seq_len=seq_len)
    table = render_html(summary, summary.view.but(depth=None))
    return _panes(1) + _table(table, "Summary"), [data]


def page_html(title: str, body: str, panes: Sequence[dict[str, Any]] = (),
              head: str = "") -> str:
    """The whole page: style, ``body``, the data of ``panes`` and the script that draws them."""
    data = {"panes": list(panes), "metrics": list(METRICS)}
    controls = _controls(any("diff" in p for p in panes)) if panes else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{escape(title)}</title>
<style>{static("report.css")}</style>
</head>
<body>
<header class="pc-header"><h1>{escape(title)}</h1>{head}{controls}</header>
<main>
{body}
</main>
<script type="application/json" id="pc-data">{script_json(data)}</script>
<script>{static("report.js")}</script>
</body>
</html>
"""


def _controls(diff: bool) -> str:
    change = '<option value="s">change</option>' if diff else ""
    return f"""<div class="pc-controls" role="group" aria-label="Treemap">
<label>Size by <select id="pc-metric"><option value="0">parameters</option>
<option value="1">stored bytes</option><option value="2">FLOPs</option></select></label>
<label>Colour by <select id="pc-colour"><option value="f">layer family</option>
<option value="d">dtype</option>{change}</select></label>
<button type="button" id="pc-theme" aria-label="Switch light and dark theme">Theme</button>
</div>"""


def _panes(n: int) -> str:
    one = ('<section class="pc-pane" data-pane="{i}" aria-label="Treemap {k}">'
           '<nav class="pc-crumbs" aria-label="Breadcrumb"></nav>'
           '<div class="pc-map" role="tree"></div><div class="pc-legend"></div>'
           '<noscript><p>The treemap needs JavaScript; the table has every row.</p></noscript>'
           '</section>')
    return ('<div class="pc-panes">' + "".join(one.format(i=i, k=i + 1) for i in range(n))
            + "</div>\n")


def _table(table: str, what: str) -> str:
    return (f'<section class="pc-table" aria-label="{what} table">'
            '<div class="pc-tools"><label>Depth <select id="pc-depth">'
            '<option value="0">all</option><option value="1">1</option>'
            '<option value="2">2</option><option value="3">3</option></select></label> '
            '<label>Search <input id="pc-search" type="search" placeholder="name or type">'
            f"</label></div>\n{table}\n</section>\n")


def summary_page(summary: Summary, seq_len: int | None = None) -> str:
    """The report of one model.

    >>> import paramcount
    >>> s = paramcount.summarize({"input_shape": [4], "layers": [{"Dense": 2}]})
    >>> page = summary_page(s)
    >>> page.startswith("<!DOCTYPE html>"), "http://" in page, "https://" in page
    (True, False, False)
    """
    body, panes = summary_body(summary, seq_len)
    return page_html(f"paramcount: {summary.name}", body, panes, _source_line(summary))


def _source_line(summary: Summary) -> str:
    return (f'<p class="pc-source">{escape(summary.source)} · '
            f"{summary.total_params:,} parameters</p>")


def diff_page(a: Summary, b: Summary, d: Diff) -> str:
    """Both models' treemaps side by side, coloured by change, and the diff's table."""
    from paramcount.report.diff import render_html

    status = {c.path: c.status for c in d.changes}
    panes = [{**pane(s, f"{side}: {s.name}", status=status, prefix=d.prefix[i]), "diff": True}
             for i, (side, s) in enumerate((("A", a), ("B", b)))]
    body = _panes(2).replace("pc-panes", "pc-panes pc-two", 1) + _table(render_html(d), "Diff")
    return page_html(f"paramcount diff: {a.name} → {b.name}", body, panes)


def memory_page(summary: Summary, estimate: MemoryEstimate) -> str:
    """The memory plan's bar and table, then the model's own report."""
    from paramcount.report.memory import render_html

    body, panes = summary_body(summary)
    plan = (f'<section class="pc-memory" aria-label="Memory plan">{render_html(estimate)}'
            "</section>\n")
    return page_html(f"paramcount memory: {summary.name}", plan + body, panes)


#: the most GPUs a memory plan draws a bar for
BARS = 8
#: the colours of a memory plan's components, in the order they stack
BAR_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
               "#ff9da7", "#9c755f", "#bab0ac")


def memory_svg(estimate: MemoryEstimate, width: int = 640) -> str:
    """A stacked bar per GPU (the first :data:`BARS` of them; every GPU holds the same share)
    of its memory by component, with the GPU's size as a line when known; each segment carries
    its bytes (``data-bytes``) and a title with its detail.

    >>> from paramcount.memory.breakdown import Component, MemoryEstimate
    >>> from paramcount.memory.parallel import Parallel
    >>> e = MemoryEstimate("s", "m", "inference", Parallel(), [Component("weights", 8, 8)], [])
    >>> 'data-bytes="8"' in memory_svg(e)
    True
    """
    parts = [c for c in estimate.components if c.per_gpu > 0]
    gpus = estimate.parallel.gpus
    bars = min(gpus, BARS)
    top = max(estimate.per_gpu, estimate.gpu_memory or 0, 1)
    left, scale = 52, (width - 62) / top
    height = 24 + bars * 26 + 18
    out = []
    for row in range(bars):
        y, x = 22 + row * 26, float(left)
        out.append(f'<g class="pc-gpu" data-total="{estimate.per_gpu}"><text x="4" y="{y + 15}">'
                   f"GPU {row}</text>")
        for i, c in enumerate(parts):
            w, colour = c.per_gpu * scale, BAR_COLOURS[i % len(BAR_COLOURS)]
            tip = escape(f"{c.name}: {fmt_both(c.per_gpu)}"
                         + (f" ({c.detail})" if c.detail else ""))
            out.append(f'<rect class="pc-seg" x="{x:.2f}" y="{y}" width="{w:.2f}" height="20" '
                       f'fill="{colour}" data-bytes="{c.per_gpu}" data-name="{escape(c.name)}">'
                       f"<title>{tip}</title></rect>")
            x += w
        out.append("</g>")
    if estimate.gpu_memory is not None:
        gx = left + estimate.gpu_memory * scale
        word = "fits" if estimate.fits else "does not fit"
        anchor = "end" if gx > width / 2 else "start"
        out.append(f'<line class="pc-fit" x1="{gx:.2f}" x2="{gx:.2f}" y1="16" '
                   f'y2="{height - 16}" data-bytes="{estimate.gpu_memory}"/>'
                   f'<text x="{gx:.2f}" y="12" text-anchor="{anchor}">each GPU '
                   f"{escape(fmt_both(estimate.gpu_memory))}: {word}</text>")
    more = f" (GPUs 0-{bars - 1} of {gpus} shown)" if gpus > bars else ""
    label = escape(f"per GPU: {fmt_both(estimate.per_gpu)} on {gpus} "
                   f"GPU{'s' if gpus != 1 else ''}{more}")
    legend = "".join(f'<span><span class="pc-swatch" style="display: inline-block; width: '
                     f'0.9em; height: 0.9em; background: {BAR_COLOURS[i % len(BAR_COLOURS)]}">'
                     f"</span> {escape(c.name)} {escape(fmt_both(c.per_gpu))}</span>"
                     for i, c in enumerate(parts))
    return (f'<figure class="pc-bar"><svg viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{label}" fill="currentColor" font-size="11">{"".join(out)}'
            f'<text x="4" y="{height - 4}">{label}</text></svg><div class="pc-keys" '
            f'style="display: flex; flex-wrap: wrap; gap: 0 1em">{legend}</div></figure>')


class Plot:
    """A report page that a notebook shows in a cell (in an ``<iframe>``: its script and
    style keep to themselves), or that :meth:`save` writes to a file.

    >>> import paramcount
    >>> plot = paramcount.summarize({"input_shape": [4], "layers": [{"Dense": 2}]}).plot()
    >>> plot._repr_html_().startswith("<iframe")
    True
    """

    def __init__(self, html: str, height: int = 640) -> None:
        self.html, self.height = html, height

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{escape(self.html, quote=True)}" style="width: 100%; '
                f'height: {self.height}px; border: none" sandbox="allow-scripts" '
                'title="paramcount treemap"></iframe>')

    def save(self, path: str) -> None:
        """Write the page to ``path``."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.html)
