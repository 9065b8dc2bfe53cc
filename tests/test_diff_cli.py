"""`paramcount diff A B` through `paramcount.cli.main`: formats, the JSON schema, the exit status
(0 ran, 1 a --fail-if-* check failed, 2 bad input) and every error message. Expected counts
are hand calculations written out, or numel sums of the torch tensors written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import save_file

from paramcount.cli import main

DENSE = [{"Dense": {"units": 8, "name": "fc1"}}, {"Dense": {"units": 2, "name": "fc2"}}]
A_TOTAL = (4 + 1) * 8 + (8 + 1) * 2  # 58
EXTRA = (2 + 1) * 3  # a Dense of 3 units on 2 features: 9, B = 67, +15.52%


def run(capsys, *args: Any) -> tuple[int, str, str]:
    code = main(["diff", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def specs(tmp_path) -> tuple[Path, Path, Path]:
    """A (58 parameters), B (A plus a Dense of 3 units) and a model with no parameters."""
    paths = []
    for name, layers in (("a", DENSE), ("b", [*DENSE, {"Dense": {"units": 3, "name": "x"}}]),
                         ("empty", ["Flatten"])):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, "input_shape": [4], "layers": layers}))
        paths.append(path)
    return paths[0], paths[1], paths[2]


def test_table_of_an_added_layer(capsys, specs):
    a, b, _ = specs
    code, out, err = run(capsys, a, b)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f'Diff: A "a" ({a}) → B "b" ({b})'
    assert lines[2].split() == ["Status", "Path", "(type)", "A", "B", "Δ", "Details"]
    assert lines[4].split()[:6] == ["added", "x", "(Dense)", "-", f"{EXTRA}", f"+{EXTRA}"]
    assert f"Total params: {A_TOTAL} → {A_TOTAL + EXTRA} (+{EXTRA}, +15.52%, B/A 1.1552)" in out
    assert "Rows: 1 added, 0 removed, 0 changed, 2 unchanged" in out


def test_unchanged_prints_no_differences(capsys, specs):
    a, _, _ = specs
    code, out, _ = run(capsys, a, a, "--fail-if-changed", "--fail-if-grown", "0")
    assert code == 0
    assert "No differences: 2 rows unchanged" in out


def test_markdown(capsys, specs):
    a, b, _ = specs
    code, out, _ = run(capsys, a, b, "--format", "markdown", "--all")
    assert code == 0
    lines = out.splitlines()
    assert lines[2] == "| Status | Path (type) | A | B | Δ | Details |"
    assert lines[4:7] == ["| unchanged | fc1 (Dense) | 40 | 40 | 0 |  |",
                          "| unchanged | fc2 (Dense) | 18 | 18 | 0 |  |",
                          f"| added | x (Dense) | - | {EXTRA} | +{EXTRA} | "
                          "x.kernel (2, 3); x.bias (3,) |"]


def test_json_schema(capsys, specs):
    a, b, _ = specs
    code, out, _ = run(capsys, a, b, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["schema"] == "paramcount-diff/1"
    assert doc["a"] == {"name": "a", "source": str(a), "total_params": A_TOTAL,
                        "trainable_params": A_TOTAL, "non_trainable_params": 0, "buffers": 0}
    assert doc["b"]["total_params"] == A_TOTAL + EXTRA
    assert doc["delta"] == {"total_params": EXTRA, "trainable_params": EXTRA,
                            "non_trainable_params": 0, "buffers": 0}
    assert doc["ratio"] == (A_TOTAL + EXTRA) / A_TOTAL
    assert doc["percent"] == EXTRA * 100 / A_TOTAL
    assert doc["changed"] is True and doc["types_compared"] is True
    assert doc["counts"] == {"added": 1, "removed": 0, "changed": 0, "unchanged": 2}
    assert doc["prefix"] == {"a": None, "b": None} and doc["notes"] == []
    assert doc["rows"] == [{
        "path": "x", "paths": ["x"], "times": 1, "status": "added", "type_a": None,
        "type_b": "Dense", "a": None,
        "b": {"total_params": EXTRA, "trainable_params": EXTRA, "non_trainable_params": 0,
              "buffers": 0},
        "delta": EXTRA, "details": ["x.kernel (2, 3)", "x.bias (3,)"]}]


def test_json_of_folded_lora_rows(capsys, tmp_path):
    torch.manual_seed(0)
    layers = torch.nn.ModuleList(torch.nn.Linear(6, 6) for _ in range(4))
    base = {k: v.contiguous() for k, v in layers.state_dict().items()}
    adapters = {f"{i}.lora_{x}.weight": torch.zeros(*shape) for i in range(4)
                for x, shape in (("A", (2, 6)), ("B", (6, 2)))}
    save_file(base, str(tmp_path / "base.safetensors"))
    save_file({**base, **adapters}, str(tmp_path / "lora.safetensors"))
    code, out, _ = run(capsys, tmp_path / "base.safetensors", tmp_path / "lora.safetensors",
                       "-f", "json")
    doc = json.loads(out)
    added = sum(t.numel() for t in adapters.values())
    assert code == 0 and doc["delta"]["total_params"] == added == 4 * (2 * 6 + 6 * 2)
    (row,) = doc["rows"]
    assert row["path"] == "{0..3}.{lora_A,lora_B}" and row["times"] == 4
    assert row["delta"] * row["times"] == added
    assert row["paths"] == [f"{i}.lora_{x}" for i in range(4) for x in "AB"]
    code, out, _ = run(capsys, tmp_path / "base.safetensors", tmp_path / "lora.safetensors",
                       "-f", "json", "--no-fold")
    assert len(json.loads(out)["rows"]) == 8


GROWN = [
    # (--fail-if-grown, exit status): B is +15.52% on A
    ("15", 1), ("15.5%", 1), ("15.6", 0), ("100", 0),
]


@pytest.mark.parametrize(("limit", "code"), GROWN)
def test_fail_if_grown(capsys, specs, limit, code):
    a, b, _ = specs
    status, out, err = run(capsys, a, b, "--fail-if-grown", limit)
    assert status == code
    assert "added" in out  # the diff is printed either way
    if code:
        assert err == (f"paramcount: check failed: B has {A_TOTAL + EXTRA} parameters, +15.52% "
                       f"against A's {A_TOTAL}: more than the {limit.rstrip('%')}% that "
                       "--fail-if-grown allows\n")
    status, _, _ = run(capsys, b, a, "--fail-if-grown", limit)
    assert status == 0  # shrinking never fails


def test_fail_if_grown_from_nothing(capsys, specs):
    _, b, empty = specs
    code, _, err = run(capsys, empty, b, "--fail-if-grown", "1000")
    assert code == 1
    assert err == (f"paramcount: check failed: B has {A_TOTAL + EXTRA} parameters where A has "
                   "none: more than the 1000% that --fail-if-grown allows\n")


def test_fail_if_changed(capsys, specs, tmp_path):
    a, b, _ = specs
    code, out, err = run(capsys, a, b, "--fail-if-changed")
    assert code == 1 and "added" in out
    assert err == ("paramcount: check failed: A and B differ (1 added) and --fail-if-changed "
                   "is set\n")
    frozen = tmp_path / "frozen.yaml"  # the same counts, fc2 frozen
    frozen.write_text(yaml.safe_dump({"input_shape": [4], "layers": [
        DENSE[0], {"Dense": {"units": 2, "name": "fc2", "trainable": False}}]}))
    code, out, err = run(capsys, a, frozen, "--fail-if-changed")
    assert code == 1 and "kernel trainable → non-trainable" in out
    assert "(1 changed)" in err


ERRORS = [
    # (arguments after `diff A`, message after "paramcount: error: ")
    ([], "the following arguments are required: B"),
    (["{a}", "--format", "csv"], "argument --format/-f: invalid choice: 'csv'"),
    (["{a}", "--fail-if-grown", "abc"],
     "--fail-if-grown 'abc': expected a percentage of 0 or more, such as 5 or 2.5%"),
    (["{a}", "--fail-if-grown", "-5"],
     "--fail-if-grown '-5': expected a percentage of 0 or more, such as 5 or 2.5%"),
    (["{a}", "--fail-if-grown", "inf"],
     "--fail-if-grown 'inf': expected a percentage of 0 or more, such as 5 or 2.5%"),
    (["{a}", "--depth", "0"], "--depth 0: expected a depth of 1 or more"),
    (["{missing}"], "{missing}: no such file"),
    (["zoo:nope"], "no zoo entry 'nope'"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS)
def test_bad_input_exits_2_with_one_line(capsys, specs, tmp_path, args, message):
    a, _, _ = specs
    missing = tmp_path / "missing.yaml"
    values = [x.format(a=a, missing=missing) for x in args]
    code, out, err = run(capsys, a, *values)
    assert code == 2 and out == ""
    assert err.startswith(f"paramcount: error: {message.format(missing=missing)}")
    assert err.count("\n") == 1


def test_zoo_entries_and_depth(capsys):
    code, out, _ = run(capsys, "zoo:gpt2", "gpt2", "--fail-if-changed")
    assert code == 0 and "No differences" in out
    code, out, _ = run(capsys, "gpt2", "zoo:distilbert-base-uncased", "--depth", "1")
    assert code == 0
    assert [line.split()[1] for line in out.splitlines()[4:7]] == [
        "transformer", "lm_head", "distilbert"]
