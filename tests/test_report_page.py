"""The report page without a browser: the treemap's data adds up (hand calculations), the page
holds no address to fetch and no name can end its script, and ``serve`` answers its form and
words errors as the command line does. tests/test_report_browser.py opens the same pages in
Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import paramcount
from paramcount.cli import main
from paramcount.cli.serve import answer, form_page
from paramcount.report.page import script_json, summary_page
from paramcount.report.treemap import tree_data

MLP = {"name": "mlp", "input_shape": [4],
       "layers": [{"Dense": {"units": 3, "name": "fc"}}, {"Dense": {"units": 2, "name": "out"}}]}


def _sums_hold(node: dict) -> None:
    for child in node.get("c", []):
        _sums_hold(child)
    if "c" in node:
        for i in range(3):
            assert sum(c["v"][i] for c in node["c"]) == node["v"][i], (node["n"], i)


def test_tree_sizes_are_hand_counts_and_children_add_up():
    tree = tree_data(paramcount.summarize(MLP))
    assert tree["v"][0] == (4 + 1) * 3 + (3 + 1) * 2
    assert [(c["n"], c["v"][0], c["v"][1]) for c in tree["c"]] == [
        ("fc", 15, 4 * 15), ("out", 8, 4 * 8)]  # float32: 4 bytes a parameter
    assert [c["v"][2] for c in tree["c"]] == [2 * 4 * 3, 2 * 3 * 2]  # FLOPs = 2 × MACs
    _sums_hold(tree)


def test_identical_blocks_are_one_child_standing_for_all():
    tree = tree_data(paramcount.summarize("zoo:gpt2"))
    _sums_hold(tree)
    h = next(c for c in tree["c"][0]["c"] if c["n"] == "h")
    (block,) = h["c"]
    assert block["x"] == 12 and block["v"][0] == h["v"][0]
    wte = next(c for c in tree["c"][0]["c"] if c["n"] == "wte")
    assert wte["m"] == ["reused: weight is tied to lm_head"]


def test_a_names_markup_cannot_end_the_script():
    hostile = "</script><script>alert(1)</script>&"
    page = summary_page(paramcount.summarize({**MLP, "name": hostile}))
    data = page.split('id="pc-data">')[1].split("</script>")[0]
    assert json.loads(data)["panes"][0]["tree"]["n"] == hostile
    assert page.count("<script") == 2  # the data and the drawing script, nothing more
    assert json.loads(script_json({"a": "<>&"})) == {"a": "<>&"}


def test_the_page_fetches_nothing():
    page = summary_page(paramcount.summarize(MLP))
    assert "default-src 'none'" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "http://" not in page and "https://" not in page


def test_report_writes_a_file_and_says_so(tmp_path, capsys):
    out = tmp_path / "m.html"
    spec = tmp_path / "m.json"
    spec.write_text(json.dumps(MLP))
    assert main(["report", str(spec), "-o", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out} (")
    assert out.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("args", "message"), [
    (["report", "gpt2", "--seq-len", "0"], "--seq-len must be a positive integer, got 0"),
    (["report", "gpt2", "-o", "/nonexistent-dir/x.html"], "cannot write /nonexistent-dir/x.html"),
])
def test_report_errors_are_one_line(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("paramcount: error: ")


def test_serve_answers_the_form_and_words_errors_as_the_cli(capsys):
    status, page = answer({"source": "gpt2"})
    assert status == 200 and '<a href="/">' in page and "124,439,808" in page
    status, page = answer({"source": "no-such-model-xyz"})
    assert main(["report", "no-such-model-xyz"]) == 2
    cli = capsys.readouterr().err.strip()
    assert status == 400 and f'role="alert">{cli.replace(chr(39), "&#x27;")}</p>' in page
    status, page = answer({"source": "gpt2", "gpus": "two"})
    assert status == 400 and "--gpus &#x27;two&#x27;: expected a whole number" in page
    status, page = answer({"source": ""})
    assert status == 400 and "no model given" in page


def test_serve_binds_loopback_by_default():
    from paramcount.cli.serve import _parser

    assert _parser().parse_args([]).host == "127.0.0.1"
    assert 'name="source"' in form_page() and 'action="/report"' in form_page()


def test_notebook_views(tmp_path: Path):
    s = paramcount.summarize(MLP)
    plot = s.plot()
    assert plot._repr_html_().startswith("<iframe srcdoc=") and "pc-data" in plot.html
    plot.save(str(tmp_path / "p.html"))
    assert (tmp_path / "p.html").read_text() == plot.html
    from paramcount import memory

    estimate = memory.estimate(s, dtype="bf16", gpu_memory=10**9)
    html = estimate._repr_html_()
    assert html.startswith('<figure class="pc-bar">') and "<script" not in html
    assert f'data-bytes="{2 * 23}"' in html  # the weights: 23 parameters × 2 bytes
