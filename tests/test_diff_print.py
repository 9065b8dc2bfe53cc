"""A :class:`~paramcount.comparison.Diff` prints itself: ``str`` is what ``paramcount diff``
prints, ``_repr_html_`` (Jupyter) and ``__rich__`` hold the same rows and totals as the
``paramcount-diff/1`` document; names stay text. Expected counts are numel sums of the torch
tensors written, or hand calculations written out."""

from __future__ import annotations

import json

import pytest
import torch
from html_page import Parsed
from safetensors.torch import save_file

from paramcount.cli import main
from paramcount.comparison import Diff, diff
from paramcount.report.diff import render_diff

BLOCKS, WIDTH, RANK = 4, 6, 2
A_TOTAL = BLOCKS * (WIDTH * WIDTH + WIDTH)  # 4 Linear(6, 6): 168
ADAPTERS = BLOCKS * (RANK * WIDTH + WIDTH * RANK)  # lora_A (2, 6) and lora_B (6, 2) each: 96
WIDER = 2 * WIDTH  # block 3's weight (6, 6) → (8, 6): +12
NO_BIAS = -WIDTH  # block 2 loses its bias: -6
DELTA = ADAPTERS + WIDER + NO_BIAS  # 102


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[str, str]:
    """A: four Linear(6, 6); B: LoRA adapters on each, block 3 wider, block 2 without bias."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("print")
    blocks = torch.nn.ModuleList(torch.nn.Linear(WIDTH, WIDTH) for _ in range(BLOCKS))
    base = {k: v.contiguous() for k, v in blocks.state_dict().items()}
    grown = {**base, **{f"{i}.lora_{x}.weight": torch.zeros(*shape) for i in range(BLOCKS)
                        for x, shape in (("A", (RANK, WIDTH)), ("B", (WIDTH, RANK)))}}
    grown["3.weight"] = torch.zeros(WIDTH + 2, WIDTH)
    del grown["2.bias"]
    assert sum(t.numel() for t in base.values()) == A_TOTAL
    assert sum(t.numel() for t in grown.values()) == A_TOTAL + DELTA
    save_file(base, str(folder / "base.safetensors"))
    save_file(grown, str(folder / "grown.safetensors"))
    return str(folder / "base.safetensors"), str(folder / "grown.safetensors")


def count(cell: str) -> int | None:
    return None if cell == "-" else int(cell.replace(",", ""))


def check_rows(rows: list[list[str]], doc: dict) -> None:
    """Cells of a table shown, against the document's rows: status, path, ×times, both
    counts, the change and the details."""
    assert len(rows) == len(doc["rows"])
    for (status, label, a, b, delta, details), row in zip(rows, doc["rows"], strict=True):
        assert status == row["status"]
        assert label.split(" (")[0] == row["path"]
        assert label.endswith(f" ×{row['times']}") == (row["times"] > 1)
        assert count(a) == (row["a"] and row["a"]["total_params"])
        assert count(b) == (row["b"] and row["b"]["total_params"])
        assert count(delta) == row["delta"]
        assert details == "; ".join(row["details"])


def test_str_is_what_paramcount_diff_prints(capsys, pair):
    assert main(["diff", *pair]) == 0
    assert capsys.readouterr().out == f"{diff(*pair)}\n"


def test_repr_is_one_line():
    a = {"name": "x", "input_shape": [4], "layers": [{"Dense": {"units": 2, "name": "fc"}}]}
    b = {"name": "y", "input_shape": [4], "layers": [{"Dense": {"units": 3, "name": "fc"}}]}
    assert repr(diff(a, b)) == "<Diff A 'x' → B 'y': +5 params, 1 changed>"  # (4 + 1) × 1
    assert repr(diff(a, a)) == "<Diff A 'x' → B 'x': +0 params, no differences>"


def test_html_holds_the_rows_and_totals_of_the_json_document(pair):
    d = diff(*pair)
    doc = json.loads(render_diff(d, "json"))
    page = Parsed(d._repr_html_())
    assert page.caption == f'Diff: A "base" ({pair[0]}) → B "grown" ({pair[1]})'
    assert page.head == ["Status", "Path (type)", "A", "B", "Δ", "Details"]
    check_rows(page.rows, doc)
    assert [r["path"] for r in doc["rows"]] == ["{0..3}.{lora_A,lora_B}", "2", "3"]
    assert sum(r["delta"] * r["times"] for r in doc["rows"]) == DELTA == doc["delta"][
        "total_params"]
    b_total = A_TOTAL + DELTA  # 270: +60.71%, B/A 1.6071
    assert page.totals[0] == f"Total params: {A_TOTAL} → {b_total} (+{DELTA}, +60.71%, " \
                             "B/A 1.6071)"
    tally = doc["counts"]
    assert tally == {"added": 2 * BLOCKS, "removed": 0, "changed": 2, "unchanged": 2}
    assert page.totals[-1] == "Rows: " + ", ".join(f"{n} {s}" for s, n in tally.items())


def test_names_in_html_are_text():
    hostile = "<script>alert('x')</script>"
    fc = {"Dense": {"units": 2, "name": "fc"}}
    a = {"name": f"{hostile}&A", "input_shape": [4],
         "layers": [fc, {"Dense": {"units": 2, "name": hostile}}]}
    b = {"name": "B", "input_shape": [4], "layers": [fc, {"Dense": {"units": 2, "name": "out"}}]}
    d = diff(a, b)
    html = d._repr_html_()
    page = Parsed(html)
    assert "script" not in page.tags and "<script>" not in html
    assert page.caption.startswith(f'Diff: A "{hostile}&A" (<dict>)')
    assert [(r[0], r[1]) for r in page.rows] == [("added", "out (Dense)"),
                                                 ("removed", f"{hostile} (Dense)")]
    assert [count(r[4]) for r in page.rows] == [6, -6]  # (2 + 1) × 2 each
    assert page.rows[1][5] == f"{hostile}.kernel (2, 2); {hostile}.bias (2,)"


def rich_rows(text: str) -> list[list[str]]:
    """The body rows of a rich table exported as text (no row here wraps at 120 columns)."""
    body = text.split("┩")[1].split("└")[0]
    return [[c.strip() for c in line.strip().strip("│").split("│")]
            for line in body.splitlines() if line.strip()]


def test_rich_holds_the_rows_and_totals(pair):
    from rich.console import Console

    d: Diff = diff(*pair)
    doc = json.loads(render_diff(d, "json"))
    console = Console(record=True, width=120, color_system=None)
    console.print(d)
    text = console.export_text()
    title = " ".join(text.split("┏")[0].split())  # the title wraps at the table's width
    assert title == f'Diff: A "base" ({pair[0]}) → B "grown" ({pair[1]})'
    check_rows(rich_rows(text), doc)
    assert f" Total params: {A_TOTAL} → {A_TOTAL + DELTA} (+{DELTA}, " in text
    assert " Rows: 8 added, 0 removed, 2 changed, 2 unchanged" in text


def test_markup_in_a_name_is_shown_in_rich():
    from rich.console import Console

    a = {"name": "[bold]A", "input_shape": [4], "layers": [{"Dense": {"units": 2,
                                                                      "name": "[red]fc"}}]}
    b = {"name": "B", "input_shape": [4], "layers": [{"Dense": {"units": 3,
                                                                "name": "[red]fc"}}]}
    console = Console(record=True, width=120, color_system=None)
    console.print(diff(a, b))
    text = console.export_text()
    assert text.startswith('Diff: A "[bold]A" (<dict>) → B "B" (<dict>)')
    assert rich_rows(text) == [["changed", "[red]fc (Dense)", "10", "15", "+5",
                                "kernel (4, 2) → (4, 3); bias (2,) → (3,)"]]
