"""The summary as HTML for Jupyter (`Summary._repr_html_`) and as a rich renderable: the rows
and totals parsed back and compared with what PyTorch counts for the same modules, or a hand
calculation; hostile names stay text."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from html_page import Parsed

import paramcount
from paramcount.report.html import render_html
from paramcount.view import View


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(4, 4) for _ in range(3))
        self.bn = torch.nn.BatchNorm1d(4)
        self.head = torch.nn.Linear(4, 2)


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> tuple[Path, Net]:
    model = Net()
    path = tmp_path_factory.mktemp("html") / "net.pt"
    torch.save(model.state_dict(), path)  # in module order (safetensors sorts the names)
    return path, model


def torch_counts(model: torch.nn.Module) -> dict[str, int]:
    return {name: sum(p.numel() for p in m.parameters())
            for name, m in model.named_modules() if name}


def test_rows_and_totals_equal_pytorch(net):
    path, model = net
    summary = paramcount.summarize(path)
    page = Parsed(summary._repr_html_())
    assert page.caption == 'Model: "net"'
    counts = torch_counts(model)
    names = [row[0].split(" (")[0] for row in page.rows]
    # the three identical blocks fold into one row marked ×3, as the text table does
    assert names == ["embed", "blocks", "0", "bn", "head"]
    folded = page.rows[2]
    assert folded[0] == "0 (Linear) ×3" and page.attrs[2]["class"] == "folded"
    paths = ["embed", "blocks", "blocks.0", "bn", "head"]
    assert [int(row[2].replace(",", "")) for row in page.rows] == [counts[p] for p in paths]
    assert [a["data-depth"] for a in page.attrs] == ["1", "1", "2", "1", "1"]
    total = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    assert page.totals[0].startswith(f"Total params: {total:,} (")
    assert page.totals[1].startswith(f"Trainable params: {total:,} (")
    assert page.totals[3].startswith(f"Buffers (not parameters): {buffers:,} (")


def test_depth_and_every_block(net):
    path, _ = net
    summary = paramcount.summarize(path)
    assert len(Parsed(render_html(summary, View(depth=1))).rows) == 4  # embed, blocks, bn, head
    page = Parsed(render_html(summary, View(fold=False)))
    assert [row[0] for row in page.rows[2:5]] == ["0 (Linear)", "1 (Linear)", "2 (Linear)"]


def test_keras_style_hand_count_with_output_shapes():
    spec = {"name": "mlp", "input_shape": [4], "layers": [
        {"Dense": {"units": 8}}, {"Dropout": 0.5}, {"Dense": {"units": 2}}]}
    page = Parsed(paramcount.summarize(spec)._repr_html_())
    assert page.rows == [["dense (Dense)", "(None, 8)", "40"],  # (4 + 1) × 8
                         ["dropout (Dropout)", "(None, 8)", "0"],
                         ["dense_1 (Dense)", "(None, 2)", "18"]]  # (8 + 1) × 2
    assert page.totals[0] == "Total params: 58 (232.00 B)"  # 58 × 4 bytes


def test_hostile_names_are_escaped():
    hostile = "<script>alert('x')</script>"
    spec = {"name": "<b>&model", "input_shape": [4],
            "layers": [{"Dense": {"units": 2, "name": hostile}}]}
    html = paramcount.summarize(spec)._repr_html_()
    page = Parsed(html)
    assert "script" not in page.tags and "b" not in page.tags
    assert page.rows[0][0] == f"{hostile} (Dense)"
    assert page.caption == 'Model: "<b>&model"'
    assert "<script>" not in html


def test_self_contained_with_scoped_style():
    html = paramcount.layer("Dense", units=2).count((4,))._repr_html_()
    page = Parsed(html)
    assert page.tags.count("style") == 1 and "link" not in page.tags and "img" not in page.tags
    assert "http" not in html and "url(" not in html
    assert all(line.startswith(("div.paramcount-summary", " ")) or not line.strip()
               or line.strip().startswith("}") for line in
               html.split("<style>")[1].split("</style>")[0].splitlines())


def test_rich_console_prints_the_summary():
    from rich.console import Console

    spec = {"name": "mlp", "input_shape": [4], "layers": [{"Dense": {"units": 2,
                                                                     "name": "[bold]fc"}}]}
    console = Console(record=True, width=100, color_system=None)
    console.print(paramcount.summarize(spec))
    text = console.export_text()
    assert 'Model: "mlp"' in text
    assert "[bold]fc (Dense)" in text  # markup in a name is shown, not applied
    assert "Total params: 10 (40.00 B)" in text  # (4 + 1) × 2


def test_the_forward_pass_adds_macs_and_flops_columns():
    s = paramcount.layer("Dense", units=2).count((4,))
    s.view = View(compute=(None, 3))
    html = s._repr_html_()
    assert "<th class=\"num\">MACs</th><th class=\"num\">FLOPs</th>" in html
    macs = 3 * 4 * 2  # batch × inputs × units
    assert f'<td class="num">{macs}</td><td class="num">{2 * macs}</td>' in html
