"""The treemap a notebook shows inline (``Summary._repr_html_``, ``Diff._repr_html_``): the
Python layout (:mod:`paramcount.report.layout`) and its static SVG. The rectangles add up to
hand counts and to transformers' GPT-2 figure, never to what the code under test computed;
tests/test_report_browser.py holds the page's script to the same rectangles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import paramcount
from paramcount.report.layout import label, layout, opened, short, squarify
from paramcount.report.svg import FAMILY, STATUS, Palette, treemap_svg
from paramcount.report.treemap import tree_data

MLP = {"name": "mlp", "input_shape": [4],
       "layers": [{"Dense": {"units": 3, "name": "fc"}}, {"Dense": {"units": 2, "name": "out"}}]}
GPT2 = 124_439_808  # transformers' GPT2LMHeadModel(GPT2Config()).num_parameters()
#: one GPT-2 block: c_attn 768×2304+2304, c_proj 768×768+768, two LayerNorms 2×(2×768),
#: c_fc 768×3072+3072, the MLP's c_proj 3072×768+768
GPT2_BLOCK = (768 * 2304 + 2304) + (768 * 768 + 768) + 2 * 2 * 768 + (768 * 3072 + 3072) + (
    3072 * 768 + 768)
STATIC = Path(paramcount.__file__).parent / "report" / "static"


def _places(cells, level=1):
    """(value, area of its place) of each rectangle of ``level`` (drawn 1 px smaller)."""
    return [(c.value, (c.w + 1) * (c.h + 1)) for c in cells if c.level == level]


def test_rectangles_add_up_to_hand_counts_and_fill_the_map():
    cells = layout(tree_data(paramcount.summarize(MLP)), 0, 400, 300)
    places = _places(cells)
    assert sorted(v for v, _ in places) == [(3 + 1) * 2, (4 + 1) * 3]
    assert sum(a for _, a in places) == pytest.approx(400 * 300)
    for value, area in places:  # each place's area is its share of the map
        assert area == pytest.approx(400 * 300 * value / ((4 + 1) * 3 + (3 + 1) * 2))


def test_gpt2_opens_on_the_transformer_and_adds_up_to_transformers_count():
    tree = tree_data(paramcount.summarize("zoo:gpt2"))
    assert [n["n"] for n in opened(tree)] == ["GPT2LMHeadModel", "transformer"]
    cells = layout(tree, 0, 800, 520)
    assert sum(c.value for c in cells if c.level == 1) == GPT2
    h = next(c for c in cells if c.level == 1 and c.node["n"] == "h")
    tiles = [c for c in cells if c.level == 2 and c.tile is not None]
    # twelve identical blocks drawn as twelve tiles inside h, each one block's count
    assert [c.tile for c in tiles] == list(range(12))
    assert all(c.value == GPT2_BLOCK for c in tiles)
    assert all(h.x <= c.x and c.x + c.w <= h.x + h.w for c in tiles)


def test_squarify_places_a_row_as_square_as_it_goes():
    # 6 and 2 in 4×2: one column of 3×2 (aspect 1.5) then 1×2, by hand
    assert [r[1:] for r in squarify([("a", 6), ("b", 2)], 0, 0, 4, 2)] == [
        (0, 0.0, 3.0, 2.0), (3.0, 0, 1.0, 2.0)]
    assert squarify([("a", 0)], 0, 0, 4, 2) == []


def test_labels_only_where_they_fit():
    assert label("layers", "6.98B", 200, 40) == "layers 6.98B"
    assert label("layers", "6.98B", 60, 40) == "layers"  # 6 characters × 7 px + 8
    assert label("layers", "6.98B", 20, 40) == "" and label("layers", "6.98B", 200, 10) == ""
    assert short(6_979_584_000, 0) == "6.98B" and short(1024, 1) == "1.02kB"


def test_svg_has_titles_tiles_and_the_tied_mark_and_no_script():
    palette = Palette("f")
    svg = treemap_svg(tree_data(paramcount.summarize("zoo:gpt2")), palette)
    assert "<script" not in svg and svg.startswith("<svg")
    wte = re.search(r'<g class="pc-level1" data-name="wte"[^>]*><title>([^<]*)</title>'
                    r'<rect [^>]*>', svg)
    assert wte and "reused: weight is tied to lm_head" in wte.group(1)
    assert 'stroke-dasharray="4 2"' in wte.group(0)
    assert svg.count(f'data-value="{GPT2_BLOCK}"') == 12  # the tiles of h
    assert ">h 85.1M</text>" in svg and ">11 7.09M</text>" in svg  # 12 × 7,087,872


def test_the_page_and_the_svg_share_their_colours():
    script = (STATIC / "report.js").read_text()
    family = re.search(r"var FAMILY = \[([^\]]*)\]", script).group(1)
    assert re.findall(r'"(#[0-9a-f]{6})"', family) == list(FAMILY)
    status = re.search(r"var STATUS = \{([^}]*)\}", script).group(1)
    assert dict(re.findall(r'(\w+): "(#[0-9a-f]{6})"', status)) == STATUS


def test_summary_shows_the_treemap_above_its_table_in_a_notebook():
    html = paramcount.summarize(MLP)._repr_html_()
    assert html.index("<svg") < html.index("<table") and "<script" not in html
    assert re.findall(r'class="pc-level1" data-name="(\w+)" data-value="(\d+)"', html) == [
        ("fc", "15"), ("out", "8")]
    # a model with no parameters has nothing to draw: the table alone
    empty = paramcount.summarize({"input_shape": [4], "layers": [{"Flatten": {}}]})
    assert "<svg" not in empty._repr_html_()


def test_a_70b_models_inline_treemap_stays_small():
    html = paramcount.summarize("zoo:llama-3-70b")._repr_html_()
    assert len(html.encode()) < 200_000
    # the level below the root is labelled: 80 layers of q, o 8192², k, v 8192×1024, an MLP of
    # 3 × 8192 × 28672 and two norms of 8192
    layer = 2 * 8192**2 + 2 * 8192 * 1024 + 3 * 8192 * 28672 + 2 * 8192
    assert 80 * layer == 68_452_352_000 and ">layers 68.5B</text>" in html


def test_diff_draws_both_models_coloured_by_change_and_plots_the_page():
    a = {"name": "a", "input_shape": [4], "layers": [{"Dense": {"units": 2, "name": "fc"}},
                                                     {"Dense": {"units": 3, "name": "out"}}]}
    b = {"name": "b", "input_shape": [4], "layers": [{"Dense": {"units": 5, "name": "fc"}},
                                                     {"Dense": {"units": 3, "name": "new"}}]}
    d = paramcount.diff(a, b)
    html = d._repr_html_()
    assert html.count("<svg") == 2 and html.index("<svg") < html.index("<table")
    fills = dict(re.findall(r'data-name="(\w+)" data-value="\d+"><title>[^<]*</title>'
                            r'<rect [^>]* fill="(#[0-9a-f]{6})"', html))
    assert fills == {"fc": STATUS["changed"], "out": STATUS["removed"],
                     "new": STATUS["added"]}
    plot = d.plot()
    assert plot._repr_html_().startswith("<iframe srcdoc=")
    assert plot.html.count('class="pc-pane"') == 2 and "pc-data" in plot.html
