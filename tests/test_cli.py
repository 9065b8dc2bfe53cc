"""The command line: the hand calculations, the formats, golden summaries and bad input.

Golden files of every format are in tests/test_golden.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paramcount.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- the three hand calculations of every course, with the work shown ------------------------

def test_dense_hand_calculation(capsys):
    code, out, _ = run(capsys, "layer", "Dense", "units=2", "--input-shape", "4", "--explain")
    assert code == 0
    assert "kernel  4 × 2  = 8" in out and "bias    2      = 2" in out
    assert "(4 + 1) × 2 = 10" in out


def test_conv2d_hand_calculation(capsys):
    code, out, _ = run(capsys, "layer", "Conv2D", "filters=2", "kernel_size=3",
                       "--input-shape", "28,28,1", "--explain")
    assert code == 0
    assert "3 × 3 × 1 × 2" in out and "= 18" in out
    assert "params = (k_h·k_w·in/groups + 1)·filters = (3·3·1 + 1)·2 = 20" in out
    assert "= 26·26 × 3·3·1 × 2 = 12,168" in out  # an input shape given: MACs too


def test_lstm_hand_calculation(capsys):
    code, out, _ = run(capsys, "layer", "LSTM", "units=4", "--input-shape", "10,2", "--explain")
    assert code == 0
    assert "2 × 16" in out and "4 × 16" in out and "= 112" in out


def test_lstm_pytorch_convention_has_two_biases(capsys):
    code, out, _ = run(capsys, "layer", "LSTM", "units=4", "--input-shape", "10,2",
                       "--framework", "pytorch", "--explain")
    assert code == 0
    assert "= 128" in out and "note:" in out and "bias" in out
    code, out, _ = run(capsys, "layer", "LSTM", "input_size=2", "hidden_size=4", "-i", "10,2",
                       "--format", "json")
    assert json.loads(out)["total_params"] == 128


def test_pytorch_names_and_arguments(capsys):
    code, out, _ = run(capsys, "layer", "Linear", "in_features=4", "out_features=2",
                       "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["total_params"] == 10 and doc["framework"] == "pytorch"
    assert doc["layers"][0]["weights"][0] == {"name": "weight", "shape": [2, 4], "params": 8,
                                              "trainable": True, "buffer": False}


# -- formats -----------------------------------------------------------------------------------

def test_json_schema(capsys):
    code, out, _ = run(capsys, str(EXAMPLES / "mnist_cnn.yaml"), "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["schema"] == "paramcount/1"
    for key in ("source", "total_params", "trainable_params", "non_trainable_params", "layers"):
        assert key in doc
    layer = doc["layers"][0]
    for key in ("name", "type", "output_shape", "params", "trainable_params", "children"):
        assert key in layer
    assert layer["output_shape"] == [None, 26, 26, 32]
    assert layer["params"] == (3 * 3 * 1 + 1) * 32  # hand count
    assert sum(x["params"] for x in doc["layers"]) == doc["total_params"]


def test_csv_rows_sum_to_total(capsys):
    code, out, _ = run(capsys, str(EXAMPLES / "mnist_cnn.yaml"), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    total = rows.pop()
    assert code == 0 and total["type"] == "Total"
    assert sum(int(r["params"]) for r in rows) == int(total["params"])


# -- bad input: one line, exit 2, no traceback --------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["layer", "Dens", "units=2", "-i", "4"], "unknown layer type 'Dens' (did you mean 'Dense'?)"),
    (["layer", "Dense", "units=0", "-i", "4"], "units=0 is invalid"),
    (["layer", "Conv2D", "filters=2", "kernel_size=-1", "-i", "28,28,1"], "kernel_size"),
    (["layer", "Conv2D", "filters=2", "kernel_size=5", "-i", "3,3,1"], "kernel"),
    (["layer", "Dense", "units=2", "-i", "None"], "known number of features"),
    (["layer", "Dense", "units=2"], "needs an input shape"),
    (["layer", "Dense", "units=2", "-i", "4,y"], "'y' is not a positive integer"),
    (["layer", "Dense", "units=2", "-i", "4,-1"], "'-1' is not a positive integer"),
    (["layer", "Dense", "2", "3", "-i", "4"], "positional value"),
    (["nowhere.yaml"], "nowhere.yaml: no such file"),
    (["zoo", "resnet5"], "no zoo entry 'resnet5' (did you mean 'resnet50'?)"),
    (["zoo", "gpt3-175b", "--set", "depth=2"], "unknown parameter 'depth'"),
    ([str(EXAMPLES / "mnist_cnn.yaml"), "--dtype", "float13"], "unknown dtype 'float13'"),
    ([str(EXAMPLES / "mnist_cnn.yaml"), "--format", "xml"], "invalid choice: 'xml'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("paramcount: error: ") and err.count("\n") == 1
    assert message in err


def test_console_script_and_module_entry_points(tmp_path):
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.run([sys.executable, "-m", "paramcount", "layer", "Dense", "units=2",
                           "-i", "4", "-f", "json"], capture_output=True, text=True, env=env,
                          check=False)
    assert proc.returncode == 0 and json.loads(proc.stdout)["total_params"] == 10
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: [\n")
    proc = subprocess.run([sys.executable, "-m", "paramcount", str(bad)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "bad.yaml: invalid YAML" in proc.stderr


def test_layers_listing(capsys):
    code, out, _ = run(capsys, "layers")
    assert code == 0 and "Conv2D" in out and "Conv2d" in out and "Linear" in out


def test_dtype_changes_bytes(capsys):
    _, out, _ = run(capsys, "layer", "Dense", "units=2", "-i", "4", "-f", "json", "--dtype", "bf16")
    doc = json.loads(out)
    assert doc["dtype"] == "bfloat16" and doc["total_bytes"] == 20


def test_a_closed_pipe_is_not_an_error():
    # `paramcount ... | head -c 100`: no traceback when the reader stops early (the JSON is
    # far larger than a pipe's buffer, so the write does break)
    proc = subprocess.run(
        f"{sys.executable} -m paramcount zoo gpt3-175b --format json | head -c 100",
        shell=True, capture_output=True, text=True, check=False)
    assert len(proc.stdout) == 100 and proc.stderr == ""
