"""A memory estimate and another tool's table print themselves: ``str`` is what ``paramcount
memory`` prints, ``_repr_html_`` (Jupyter) and ``__rich__`` hold the same rows as the
``paramcount-memory/1`` document; names stay text. Expected sizes are hand calculations written
out for one Dense layer of 1000 × 1000 + 1000 = 1,001,000 parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from html_page import Parsed

from paramcount import memory
from paramcount.cli import main
from paramcount.report.memory import to_dict
from paramcount.sources import summarize
from paramcount.units import fmt_both

P = 1000 * 1000 + 1000  # kernel and bias
DENSE = {"name": "dense", "input_shape": [1000], "layers": [{"Dense": {"units": 1000,
                                                                      "name": "fc"}}]}
# training in mixed bf16 with AdamW on 2 GPUs, ZeRO-2 with offload: the bf16 weights stay on
# each GPU, the gradients (2 B) and optimizer states (12 B) are halved and go to CPU memory
WEIGHTS, GRADIENTS, STATES = 2 * P, 2 * P, 12 * P
ACTIVATIONS = 2 * 1000 * 2  # twice the layer's 1000 outputs, 2 B each, batch 1
TRAINING = {"train": True, "gpus": 2, "zero": 2, "offload": True, "gpu_memory": 16 * 10**9}
FLAGS = ["--train", "--gpus", "2", "--zero", "2", "--offload", "--gpu-memory", "16GB"]


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "dense.json"
    path.write_text(json.dumps(DENSE))
    return path


def cli(capsys, *args: str) -> str:
    assert main(["memory", *args]) == 0
    return capsys.readouterr().out


def test_str_is_what_paramcount_memory_prints(capsys, spec):
    estimate = memory.estimate(summarize(spec), **TRAINING)
    assert cli(capsys, str(spec), *FLAGS) == f"{estimate}\n"
    table = memory.deepspeed(summarize(spec), stage=3, gpus=8, nodes=2)
    args = ["--estimator", "deepspeed", "--zero", "3", "--gpus", "8", "--nodes", "2"]
    assert cli(capsys, str(spec), *args) == f"{table}\n"


def test_html_of_an_estimate_holds_the_json_document():
    e = memory.estimate(summarize(DENSE), **TRAINING)
    doc = e.to_dict()
    sizes = [(c["per_gpu_bytes"], c["all_gpus_bytes"], c["cpu_bytes"]) for c in
             doc["components"]]
    assert sizes == [(WEIGHTS, 2 * WEIGHTS, 0), (0, 0, GRADIENTS), (0, 0, STATES),
                     (ACTIVATIONS, 2 * ACTIVATIONS, 0)]
    assert doc["per_gpu_bytes"] == WEIGHTS + ACTIVATIONS == 2_006_000
    page = Parsed(e._repr_html_())
    assert page.caption.split("\n") == [
        "Memory to train dense (<dict>) on 2 GPUs = 2 data × 1 tensor × 1 pipeline, ZeRO-2, "
        "offload to CPU", "batch 1, precision mixed-bf16, optimizer adamw, recompute none"]
    assert page.head == ["component", "per GPU", "all 2 GPUs", "detail"]
    assert page.groups == [4, 2]  # the components; the total and the CPU memory
    for cells, c in zip(page.rows[:4], doc["components"], strict=True):
        on_gpu = c["per_gpu_bytes"] or not c["cpu_bytes"]
        shown = [fmt_both(c["per_gpu_bytes"]), fmt_both(c["all_gpus_bytes"])] if on_gpu \
            else ["on the CPU", "on the CPU"]
        assert cells == [c["name"], *shown, c["detail"]]
    cpu = GRADIENTS + STATES
    assert page.rows[4:] == [
        ["total", fmt_both(doc["per_gpu_bytes"]), fmt_both(doc["all_gpus_bytes"]), ""],
        ["CPU memory", fmt_both(cpu // 2), fmt_both(doc["cpu_bytes"]), "offloaded states"]]
    assert doc["cpu_bytes"] == cpu == 14_014_000
    assert page.totals[0].startswith("Fits in 16.00 GB (14.90 GiB) per GPU: ")
    assert page.totals[1:] == ["Assumptions:", *(f"- {a}" for a in doc["assumptions"])]


def test_html_of_deepspeeds_table_holds_the_json_document():
    table = memory.deepspeed(summarize(DENSE), stage=2, gpus=4)
    doc = to_dict(table)
    # ZeRO-2 on 4 GPUs: offloaded, 2 B per parameter on the GPU and 4 B × max(4 × 4, 16) × 1.5
    # on the CPU; else 2 B + 18 B / 4 on the GPU and 4 B × 4 × 1.5 on the CPU
    assert [(r["cpu"], r["gpu"]) for r in doc["rows"]] == [(24 * P, 2 * P),
                                                          (24 * P, 2 * P + 18 * P // 4)]
    page = Parsed(table._repr_html_())
    assert page.caption == doc["title"]
    assert page.head == list(doc["columns"].values()) == ["per CPU", "per GPU", "options"]
    assert page.rows == [[fmt_both(r["cpu"]), fmt_both(r["gpu"]), r["options"]]
                         for r in doc["rows"]]
    assert page.totals == ["Assumptions:", *(f"- {a}" for a in doc["assumptions"])]


def test_names_in_html_are_text():
    hostile = "<script>alert('x')</script>"
    e = memory.estimate(summarize({**DENSE, "name": hostile}), dtype="bf16")
    html = e._repr_html_()
    page = Parsed(html)
    assert "script" not in page.tags and "<script>" not in html
    assert page.caption.startswith(f"Memory to serve {hostile} (<dict>) on 1 GPU")
    assert page.rows[0][:2] == ["weights", fmt_both(2 * P)]  # bf16: 2 B a parameter


def rich_rows(text: str) -> list[list[str]]:
    """The body rows of a rich table exported as text (no row here wraps at 120 columns)."""
    body = text.split("┩")[1].split("└")[0]
    return [[c.strip() for c in line.strip().strip("│").split("│")]
            for line in body.splitlines() if line.strip() and "─" not in line]


def test_rich_prints_an_estimate_and_an_estimator_table():
    from rich.console import Console

    e = memory.estimate(summarize({**DENSE, "name": "[bold]dense"}), **TRAINING)
    table = memory.deepspeed(summarize(DENSE), stage=2, gpus=4)
    console = Console(record=True, width=120, color_system=None)
    console.print(e)
    text = console.export_text()
    assert text.startswith("Memory to train [bold]dense (<dict>) on 2 GPUs")
    rows = rich_rows(text)
    assert [r[0] for r in rows] == ["weights", "gradients", "optimizer states", "activations",
                                    "total", "CPU memory"]
    assert rows[0][1:3] == [fmt_both(WEIGHTS), fmt_both(2 * WEIGHTS)]
    assert rows[4][1] == fmt_both(WEIGHTS + ACTIVATIONS)
    assert rows[5][2] == fmt_both(GRADIENTS + STATES)
    assert " Fits in 16.00 GB (14.90 GiB) per GPU: " in text
    console = Console(record=True, width=120, color_system=None)
    console.print(table)
    assert rich_rows(console.export_text()) == [
        [fmt_both(24 * P), fmt_both(2 * P), "offload_optimizer=cpu"],
        [fmt_both(24 * P), fmt_both(2 * P + 18 * P // 4), "offload_optimizer=none"]]
