"""The report page and ``paramcount serve``, opened in a real browser (Playwright driving
headless Chromium): the treemap's rectangles add up to totals read from the DOM, a click zooms
and the breadcrumb returns, the keyboard does the same, the table's every column is in view at
1280×800, rectangles with room are labelled, the page and the notebook's SVG draw the same
rectangles, no console error, no request leaves the file, and light and dark screenshots land in
``tests/artifacts/``.

The totals come from hand calculations, from the gguf package's reader of the file written, or
from the figure transformers gives for GPT-2 (124,439,808), never from the code under test.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paramcount.cli import main

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"

#: Conv2D(8, 3×3) on 28×28×1, then Dense(10) on the flattened 26×26×8
CNN = {"name": "cnn", "input_shape": [28, 28, 1],
       "layers": [{"Conv2D": {"filters": 8, "kernel_size": 3, "name": "conv"}},
                  {"Flatten": {"name": "flat"}}, {"Dense": {"units": 10, "name": "head"}}]}
CNN_CONV = (3 * 3 * 1 + 1) * 8  # 80
CNN_HEAD = (26 * 26 * 8 + 1) * 10  # 54,090
GPT2 = 124_439_808  # transformers' GPT2LMHeadModel(GPT2Config()).num_parameters()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Opened:
    """A page with its console errors and the requests it tried beyond ``allowed``."""

    def __init__(self, browser: Any, allowed: tuple[str, ...] = ("file:", "data:"),
                 **context: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, **context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r: Any) -> None:
            if r.request.url.startswith(allowed):
                r.continue_()
            else:
                self.requests.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)

    def values(self, selector: str = ".pc-pane:first-child .pc-level1") -> list[int]:
        return [int(v) for v in self.page.eval_on_selector_all(
            selector, "els => els.map(e => e.dataset.value)")]

    def shoot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        for theme in ("light", "dark"):
            self.page.emulate_media(color_scheme=theme)
            self.page.screenshot(path=str(ARTIFACTS / f"{name}-{theme}.png"))
        self.page.emulate_media(color_scheme="light")

    def close(self) -> None:
        assert self.errors == [] and self.requests == []
        self.context.close()


def report(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "report.html"
    assert main(["report", *args, "-o", str(out)]) == 0
    return out


def test_cnn_treemap_adds_up_zooms_and_returns(browser, tmp_path):
    import json

    spec = tmp_path / "cnn.json"
    spec.write_text(json.dumps(CNN))
    opened = Opened(browser)
    page = opened.page
    page.goto(report(tmp_path, str(spec)).as_uri())
    assert sorted(opened.values()) == [CNN_CONV, CNN_HEAD]
    assert int(page.get_attribute(".pc-map", "data-value")) == CNN_CONV + CNN_HEAD
    opened.shoot("cnn")
    page.select_option("#pc-metric", "1")  # float32: 4 bytes a parameter
    assert sorted(opened.values()) == [4 * CNN_CONV, 4 * CNN_HEAD]
    page.select_option("#pc-metric", "2")  # MACs: every output × its inputs; FLOPs twice that
    macs = {"conv": 26 * 26 * 8 * 3 * 3 * 1, "head": 26 * 26 * 8 * 10}
    assert sorted(opened.values()) == sorted(2 * m for m in macs.values())
    opened.close()


def test_transformer_config_zooms_into_a_block_and_the_breadcrumb_returns(browser, tmp_path):
    opened = Opened(browser)
    page = opened.page
    page.goto(report(tmp_path, "gpt2").as_uri())
    crumbs = ".pc-pane:first-child .pc-crumb"
    top = page.get_attribute(".pc-map", "data-path")
    # the root holds one module (the transformer), so the map opens on it
    assert top == "GPT2LMHeadModel/transformer" and page.locator(crumbs).count() == 2
    assert sum(opened.values()) == GPT2
    blocks = page.locator('.pc-level1[data-name="h"]')
    h = int(blocks.get_attribute("data-value"))
    blocks.click()
    assert page.get_attribute(".pc-map", "data-path").startswith(top + "/h")
    assert sum(opened.values()) == int(page.get_attribute(".pc-map", "data-value"))
    assert int(page.get_attribute(".pc-map", "data-value")) == h
    # h holds twelve identical blocks, drawn once: the map opens on that one block
    assert page.locator(crumbs).last.inner_text() == "0 ×12"
    page.locator(crumbs).nth(1).click()
    assert page.get_attribute(".pc-map", "data-path") == top
    # the keyboard: focus a block, Enter zooms
    page.focus('.pc-level1[data-name="h"]')
    page.keyboard.press("Enter")
    assert page.get_attribute(".pc-map", "data-path").startswith(top + "/h")
    opened.shoot("gpt2")
    opened.close()


def test_tied_weight_is_drawn_once_and_marked(browser, tmp_path):
    opened = Opened(browser)
    page = opened.page
    page.goto(report(tmp_path, "gpt2").as_uri())
    wte = page.locator('.pc-level1[data-name="wte"]')
    assert "reused: weight is tied to lm_head" in wte.get_attribute("title")
    assert "pc-marked" in wte.get_attribute("class")
    assert page.locator('.pc-cell[data-name="lm_head"]').count() == 0  # counted where owned
    opened.close()


def test_quantized_checkpoint_sizes_by_stored_bytes(browser, tmp_path):
    gguf = pytest.importorskip("gguf")
    import numpy as np

    path = tmp_path / "q.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(2)
    w.add_tensor("token_embd.weight", np.zeros((300, 64), np.float16))
    q4 = gguf.GGMLQuantizationType.Q4_0
    block, size = gguf.constants.GGML_QUANT_SIZES[q4]
    for i in range(2):
        w.add_tensor(f"blk.{i}.ffn_up.weight", np.zeros((64, 256 // block * size), np.uint8),
                     raw_dtype=q4)
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.zeros(64, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    reader = gguf.GGUFReader(str(path))
    opened = Opened(browser)
    page = opened.page
    page.goto(report(tmp_path, str(path)).as_uri())
    assert sum(opened.values()) == sum(int(t.n_elements) for t in reader.tensors)
    page.select_option("#pc-metric", "1")
    assert sum(opened.values()) == sum(int(t.n_bytes) for t in reader.tensors)
    page.select_option("#pc-colour", "d")
    legend = page.inner_text(".pc-pane .pc-legend")
    assert "Q4_0" in legend and "float16" in legend
    opened.shoot("gguf")
    opened.close()


def test_diff_shows_both_models_with_changes_marked(browser, tmp_path):
    import json

    a = {"name": "a", "input_shape": [4], "layers": [{"Dense": {"units": 2, "name": "fc"}},
                                                     {"Dense": {"units": 3, "name": "out"}}]}
    b = {"name": "b", "input_shape": [4], "layers": [{"Dense": {"units": 5, "name": "fc"}},
                                                     {"Dense": {"units": 3, "name": "new"}}]}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    opened = Opened(browser)
    page = opened.page
    page.goto(report(tmp_path, str(tmp_path / "a.json"), "--compare",
                     str(tmp_path / "b.json")).as_uri())
    assert sorted(opened.values()) == sorted([(4 + 1) * 2, (2 + 1) * 3])
    second = ".pc-pane:nth-child(2) .pc-level1"
    assert sorted(opened.values(second)) == sorted([(4 + 1) * 5, (5 + 1) * 3])
    classes = {n: page.get_attribute(f'.pc-pane:nth-child({i}) [data-name="{n}"]', "class")
               for i, n in ((1, "out"), (2, "new"), (1, "fc"))}
    assert "pc-removed" in classes["out"] and "pc-added" in classes["new"]
    assert "pc-changed" in classes["fc"]
    opened.shoot("diff")
    opened.close()


def test_memory_plan_bars_add_up_to_the_total(browser, tmp_path):
    opened = Opened(browser)
    page = opened.page
    page.goto(report(tmp_path, "gpt2", "--memory", "--gpus", "2", "--context", "1024",
                     "--gpu-memory", "1GB", "--dtype", "bf16").as_uri())
    bars = page.locator(".pc-gpu")
    assert bars.count() == 2
    parts = [int(v) for v in bars.first.locator(".pc-seg").evaluate_all(
        "els => els.map(e => e.dataset.bytes)")]
    weights = GPT2 * 2  # bf16; tied: the LM head adds nothing
    kv = 12 * 2 * 768 * 1024 * 2  # layers × (K, V) × width × tokens × 2 bytes
    assert parts == [weights, kv]
    assert int(bars.first.get_attribute("data-total")) == sum(parts)
    assert page.get_attribute(".pc-fit", "data-bytes") == str(10**9)
    assert "does not fit" not in page.inner_text(".pc-bar")
    opened.shoot("memory")
    opened.close()


def test_without_javascript_the_table_still_shows(browser, tmp_path):
    opened = Opened(browser, java_script_enabled=False)
    page = opened.page
    page.goto(report(tmp_path, "gpt2").as_uri())
    assert page.locator(".pc-cell").count() == 0
    assert page.locator(".pc-table tbody tr").first.is_visible()
    assert "Total params: 124,439,808" in page.inner_text(".pc-table")
    opened.close()


def test_phone_width_and_the_table_tools(browser, tmp_path):
    opened = Opened(browser)
    page = opened.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(report(tmp_path, "gpt2").as_uri())
    assert page.evaluate("document.querySelector('.pc-map').scrollWidth") <= 390
    assert sum(opened.values()) == GPT2
    page.fill("#pc-search", "c_fc")
    shown = page.locator(".pc-table tbody tr:visible")
    assert shown.count() == 1 and "c_fc (Conv1D)" in shown.inner_text()
    page.fill("#pc-search", "")
    page.select_option("#pc-depth", "1")
    assert page.locator(".pc-table tbody tr:visible").count() == 2  # transformer, lm_head
    opened.shoot("phone")
    opened.close()


@pytest.fixture()
def served() -> Iterator[str]:
    from paramcount.cli.serve import make_server

    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_serve_form_reports_compares_and_words_errors_as_the_cli(browser, served, capsys):
    opened = Opened(browser, allowed=(served + "/",))
    page = opened.page
    page.goto(served + "/")
    page.fill("#pc-source", "gpt2")
    page.click("#pc-go")
    page.wait_for_selector(".pc-level1")
    assert sum(opened.values()) == GPT2
    opened.shoot("serve")
    page.goto(served + "/")
    page.fill("#pc-source", "no-such-model-xyz")
    page.click("#pc-go")
    shown = page.inner_text(".pc-error")
    assert main(["report", "no-such-model-xyz"]) == 2
    assert shown == capsys.readouterr().err.strip()
    # the one console line the browser writes for a page answered with status 400
    assert [e for e in opened.errors if "status of 400" in e] == [opened.errors[0]]
    opened.errors = []
    page.goto(served + "/")
    page.fill("#pc-source", "gpt2")
    page.check("#pc-memory")
    page.fill("#pc-gpu_memory", "80GB")
    page.click("#pc-go")
    assert page.locator(".pc-gpu").count() == 1 and page.locator(".pc-level1").count() > 0
    opened.close()


def test_every_column_of_the_table_is_in_view_at_1280x800(browser, tmp_path):
    opened = Opened(browser)
    page = opened.page
    page.goto(report(tmp_path, "llama-3-8b").as_uri())
    heads = page.locator(".pc-table thead th").all_inner_texts()
    column = heads.index("Param #") + 1
    cells = page.locator(f".pc-table thead th:nth-child({column}), "
                         f".pc-table tbody td:nth-child({column})")
    assert cells.count() == 1 + 17  # the header and every row
    for box in (cells.nth(i).bounding_box() for i in range(cells.count())):
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280, box
    first = page.locator(f".pc-table tbody tr:first-child td:nth-child({column})")
    assert first.bounding_box()["y"] + first.bounding_box()["height"] <= 800
    assert first.inner_text() == "7,504,924,672"  # the table's figure is readable
    opened.close()


def test_rectangles_with_room_carry_their_name_and_size(browser, tmp_path):
    opened = Opened(browser)
    page = opened.page
    page.goto(report(tmp_path, "llama-3-8b").as_uri())
    # one level below: the 32 layers inside model, 32 × 218,112,000 by hand (q, o 4096²;
    # k, v 4096×1024; an MLP of 3 × 4096 × 14336; two norms of 4096)
    layer = 2 * 4096**2 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096
    layers = page.locator('.pc-level2[data-name="layers"] .pc-label')
    assert 32 * layer == 6_979_584_000 and layers.inner_text() == "layers 6.98B"
    page.click('.pc-level1[data-name="model"]')
    tiles = page.locator('.pc-level1[data-name="layers"] .pc-level2 .pc-label')
    assert tiles.all_inner_texts() == [f"{i} 218.1M" for i in range(32)]
    opened.close()


def _page_cells(page: Any) -> list[tuple[int, float, float, float, float]]:
    """The page's rectangles (level, x, y, w, h), those inside a rectangle placed in the map."""
    return [tuple(c) for c in page.eval_on_selector_all(".pc-pane:first-child .pc-cell", """
        els => els.map(e => {
          const s = e.style, p = e.parentElement.classList.contains("pc-cell")
            ? e.parentElement.style : {left: "0", top: "0"};
          return [e.classList.contains("pc-level1") ? 1 : 2,
                  parseFloat(p.left) + parseFloat(s.left), parseFloat(p.top) + parseFloat(s.top),
                  parseFloat(s.width), parseFloat(s.height)];
        })""")]


def test_the_page_and_the_notebooks_svg_draw_the_same_rectangles(browser, tmp_path):
    import paramcount
    from paramcount.report.svg import Palette, treemap_svg
    from paramcount.report.treemap import tree_data

    tree = tree_data(paramcount.summarize("zoo:gpt2"))
    h = next(c for c in tree["c"][0]["c"] if c["n"] == "h")
    opened = Opened(browser)
    page = opened.page
    page.goto(report(tmp_path, "gpt2").as_uri())
    page.eval_on_selector(".pc-map", "m => { m.style.width = '800px'; "
                                     "m.style.height = '520px'; }")
    page.select_option("#pc-metric", "1")
    page.select_option("#pc-metric", "0")  # drawn again at 800 × 520
    svg = browser.new_page()
    for node, zoom in ((tree, None), (h, '.pc-level1[data-name="h"]')):
        if zoom:
            page.click(zoom)
        drawn = _page_cells(page)
        svg.set_content(treemap_svg(node, Palette("f"), (800, 520)))
        read = svg.eval_on_selector_all("g", """els => els.map(g => {
            const r = g.querySelector("rect"), b = r.getBBox();
            return [g.classList.contains("pc-level1") ? 1 : 2, b.x, b.y, b.width, b.height];
          })""")
        assert len(drawn) == len(read) >= 8
        for one, other in zip(drawn, read, strict=True):
            assert one[0] == other[0] and all(abs(a - b) <= 1 for a, b in zip(
                one[1:], other[1:], strict=True)), (one, other)
    svg.close()
    opened.close()
