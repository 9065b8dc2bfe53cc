"""MACs and FLOPs in every output format, and their command-line options.

The numbers are hand calculations written out here (the per-layer formulas are checked against
torch.utils.flop_counter in test_flops_layers.py and test_flops_models.py).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from safetensors.numpy import save_file

from paramcount.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


DENSE = ("layer", "Dense", "units=2", "--input-shape", "4")


def test_json_has_the_forward_pass(capsys):
    code, out, _ = run(capsys, *DENSE, "--batch", "3", "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["compute"]["macs"] == 3 * 4 * 2  # batch × inputs × units
    assert doc["compute"]["flops"] == 2 * 3 * 4 * 2
    assert doc["compute"]["batch"] == 3 and doc["compute"]["seq_len"] is None
    assert doc["compute"]["complete"] is True
    assert doc["layers"][0]["macs"] == 24
    assert "1 MAC = 2 FLOPs" in doc["compute"]["convention"]


def test_a_model_file_without_the_options_has_no_compute(capsys):
    _, out, _ = run(capsys, str(EXAMPLES / "mnist_cnn.yaml"), "--format", "json")
    doc = json.loads(out)
    assert "compute" not in doc and "macs" not in doc["layers"][0]
    _, out, _ = run(capsys, str(EXAMPLES / "mnist_cnn.yaml"), "--flops", "--format", "json")
    assert json.loads(out)["layers"][0]["macs"] == 26 * 26 * 3 * 3 * 1 * 32  # conv2d, 32 filters


def test_a_layer_with_an_input_shape_has_its_forward_pass(capsys):
    _, out, _ = run(capsys, *DENSE, "--format", "json")
    assert json.loads(out)["compute"]["macs"] == 4 * 2  # inputs × units


def test_table_gains_macs_and_flops_columns(capsys):
    code, out, _ = run(capsys, "layer", "Conv2D", "filters=2", "kernel_size=3",
                       "--input-shape", "28,28,1", "--flops")
    assert code == 0
    header = next(line for line in out.splitlines() if line.startswith("Layer (type)"))
    assert header.split()[-2:] == ["MACs", "FLOPs"]
    macs = 26 * 26 * 3 * 3 * 1 * 2  # output positions × kernel × in channels × filters
    row = next(line for line in out.splitlines() if line.startswith("conv2d (Conv2D)"))
    assert row.split()[-2:] == [f"{macs:,}", f"{2 * macs:,}"]
    assert f"Forward MACs (batch 1): {macs:,} = {2 * macs:,} FLOPs" in out
    assert "FLOPs convention: 1 MAC = 2 FLOPs" in out


def test_csv_and_markdown_columns(capsys):
    _, out, _ = run(capsys, *DENSE, "--batch", "2", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["macs"] == str(2 * 4 * 2) and rows[0]["flops"] == str(2 * 2 * 4 * 2)
    assert rows[-1]["type"] == "Total" and rows[-1]["macs"] == "16"
    _, out, _ = run(capsys, *DENSE, "--flops", "--format", "markdown")
    assert "| Layer (type) | Output Shape | Param # | MACs | FLOPs |" in out
    assert "| dense (Dense) | (None, 2) | 10 | 8 | 16 |" in out


def test_explain_shows_each_layers_macs(capsys):
    _, out, _ = run(capsys, *DENSE, "--flops", "--explain")
    assert "MACs = inputs × units = 4 × 2 = 8 (FLOPs = 2 × MACs = 16)" in out


def test_seq_len_fills_the_unknown_dimension(capsys):
    _, out, _ = run(capsys, "layer", "Dense", "units=2", "-i", "None,4", "--flops")
    assert "MACs not counted (input shape unknown: give --seq-len): Dense ×1" in out
    _, out, _ = run(capsys, "layer", "Dense", "units=2", "-i", "None,4", "--seq-len", "5",
                    "--format", "json")
    assert json.loads(out)["compute"]["macs"] == 5 * 4 * 2  # positions × inputs × units


def test_gpt3_flops_per_token_by_hand(capsys):
    """GPT-3 125M at its 2,048-token context, counted by hand as Kaplan et al. (2020) do,
    with the attention term over every query-key pair (no causal discount)."""
    code, out, _ = run(capsys, "zoo", "gpt3-125m", "--seq-len", "2048", "--format", "json")
    layers, d, ctx, vocab = 12, 768, 2048, 50257
    per_token = (layers * (4 * d * d + 8 * d * d)  # q, k, v, o and the 4·d MLP
                 + vocab * d                        # the LM head (tied, still a matmul)
                 + layers * ctx * 2 * d)            # QKᵀ and AV: 2·d per query-key pair
    doc = json.loads(out)
    assert code == 0 and doc["compute"]["complete"]
    assert doc["compute"]["macs"] == per_token * ctx
    assert doc["compute"]["flops_per_token"] == 2 * per_token
    assert doc["compute"]["training_flops_per_token"] == 6 * per_token


def test_a_checkpoint_has_no_layer_formulas(capsys, tmp_path):
    import numpy as np

    path = tmp_path / "model.safetensors"
    save_file({"fc.weight": np.zeros((2, 4), np.float32)}, str(path))
    code, out, _ = run(capsys, str(path), "--flops")
    assert code == 0
    assert "MACs not counted (no MAC formula)" in out and "Forward MACs (batch 1): at least" in out


@pytest.mark.parametrize("flag,value,message", [
    ("--batch", "0", "--batch must be a positive integer, got 0"),
    ("--batch", "-2", "--batch must be a positive integer, got -2"),
    ("--seq-len", "0", "--seq-len must be a positive integer, got 0"),
])
def test_bad_sizes_are_one_line(capsys, flag, value, message):
    code, out, err = run(capsys, *DENSE, flag, value)
    assert code == 2 and out == ""
    assert err.strip() == f"paramcount: error: {message}"


def test_mixture_of_experts_scales_with_the_active_parameters(capsys):
    """Mixtral-8x7B: 12,879,925,248 parameters active per token (its published figure, checked
    against transformers in test_architectures_decoders.py), less the token embedding and the
    untied LM head, 2 × 32,000 × 4,096."""
    code, out, _ = run(capsys, "zoo", "mixtral-8x7b", "--seq-len", "16")
    n = 12_879_925_248 - 2 * 32_000 * 4_096
    assert code == 0
    assert f"(2·N = {2 * n:,}, N = active non-embedding params)" in out
    assert f"6·N = {6 * n:,})" in out


def test_seq_len_fills_the_shown_output_shapes(capsys):
    _, out, _ = run(capsys, "zoo", "gpt2", "--seq-len", "1024", "--depth", "1")
    assert "(None, 1024, 768)" in out and "(None, 1024, 50257)" in out


def test_a_sequence_length_that_fills_nothing_is_said_and_not_used(capsys):
    """mnist_cnn.yaml fixes its 28×28×1 input: --seq-len cannot change its forward pass."""
    _, out, _ = run(capsys, str(EXAMPLES / "mnist_cnn.yaml"), "--seq-len", "7",
                    "--format", "json")
    compute = json.loads(out)["compute"]
    assert compute["unused_seq_len"] == 7 and compute["seq_len"] is None
    assert compute["flops_per_token"] is None
    assert compute["macs"] == (26 * 26 * 9 * 32           # conv2d: 3×3 over 1 channel
                               + 11 * 11 * 9 * 32 * 64     # conv2d_1: 3×3 over 32 channels
                               + 1600 * 10)                # dense
    _, out, _ = run(capsys, str(EXAMPLES / "mnist_cnn.yaml"), "--seq-len", "7")
    assert "Sequence length 7 not used: this model fixes every input shape" in out
