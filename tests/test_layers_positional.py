"""Bare values take the order of the name the user wrote: a PyTorch name takes its torch.nn
signature's (``Linear 4 2`` as ``nn.Linear(4, 2)``), a Keras name Keras's (``Dense 2``).
Checked against torch building the same module from the same values."""

from __future__ import annotations

import inspect
import json
import typing

import pytest
import torch

import paramcount
from paramcount.cli import main
from paramcount.cli.options import parse_value
from paramcount.errors import SpecError
from paramcount.layers.base import load_all, lookup, positional_order

# (name, values as typed on the command line, input shape when the values fix none)
TORCH_CASES = [
    ("Linear", "4 2", None),
    ("Linear", "4 2 false", None),
    ("Conv1d", "3 8 5", None),
    ("Conv2d", "1 2 3", None),
    ("Conv2d", "4 8 3,5 2 1 1 2 false", None),
    ("Conv3d", "2 4 3", None),
    ("ConvTranspose1d", "4 2 3", None),
    ("ConvTranspose2d", "4 8 3 2 1 1 2 false", None),
    ("ConvTranspose3d", "2 4 3", None),
    ("LSTM", "2 4", None),
    ("LSTM", "3 6 2 true false 0.0 true 2", None),
    ("GRU", "3 5", None),
    ("GRU", "3 5 2 false", None),
    ("RNN", "3 5 2 relu false", None),
    ("RNNCell", "3 5", None),
    ("LSTMCell", "3 5 false", None),
    ("GRUCell", "3 5", None),
    ("Embedding", "10 3", None),
    ("Embedding", "10 3 0", None),
    ("BatchNorm1d", "8", None),
    ("BatchNorm2d", "8 1e-5 0.1 false", None),
    ("BatchNorm3d", "4", None),
    ("InstanceNorm2d", "4 1e-5 0.1 true", None),
    ("LayerNorm", "16", None),
    ("LayerNorm", "2,16 1e-5 true false", None),
    ("RMSNorm", "16", None),
    ("GroupNorm", "2 8", None),
    ("GroupNorm", "2 8 1e-5 false", None),
    ("MultiheadAttention", "16 4", None),
    ("MultiheadAttention", "16 4 0.0 false true false 8 6", None),
    ("TransformerEncoderLayer", "16 4 32", None),
    ("TransformerDecoderLayer", "16 4 64", None),
    ("PReLU", "3", "3,4,4"),
]


def _values(typed: str) -> list[str]:
    return typed.split()


def _torch_params(name: str, values: list[str]) -> int:
    module = getattr(torch.nn, name)(*[parse_value(v) for v in values])
    return sum(p.numel() for p in module.parameters())


def _cli_params(capsys, name: str, values: list[str], shape: str | None,
                *options: str) -> int:
    shape_args = ["-i", shape] if shape else []
    assert main(["layer", name, *values, *shape_args, *options, "--format", "json"]) == 0
    return int(json.loads(capsys.readouterr().out)["total_params"])


@pytest.mark.parametrize(("name", "typed", "shape"), TORCH_CASES)
def test_a_pytorch_name_takes_torchs_positional_order(capsys, name, typed, shape):
    values = _values(typed)
    want = _torch_params(name, values)
    # a name both frameworks have (LSTM, GRU, Embedding, PReLU) takes PyTorch's order as
    # nn.LSTM or with --framework pytorch; a PyTorch-only name (Linear) takes it as it is
    shared = not lookup(name)[1]
    framework = ["--framework", "pytorch"] if shared else []
    assert _cli_params(capsys, name, values, shape, *framework) == want
    assert _cli_params(capsys, f"nn.{name}", values, shape) == want
    dims = None if shape is None else tuple(int(d) for d in shape.split(","))
    parsed = [parse_value(v) for v in values]
    assert paramcount.layer(f"nn.{name}", *parsed).count(dims).total_params == want
    spec = paramcount.layer(name, *parsed, framework="pytorch" if shared else None)
    assert spec.count(dims).total_params == want


def test_the_cases_cover_fifteen_pytorch_layer_types():
    assert len({name for name, _, _ in TORCH_CASES}) >= 15


def _torch_signature(name: str) -> list[str]:
    init = getattr(torch.nn, name).__init__
    overloads = typing.get_overloads(init)  # nn.LSTM(*args) declares its signature so
    params = inspect.signature(overloads[0] if overloads else init).parameters
    return [p for p in params if p != "self"]


TORCH_NAMES = sorted(name for name in load_all() if hasattr(torch.nn, name))


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_every_pytorch_order_is_a_prefix_of_the_real_signature(name):
    order = positional_order(name, "pytorch")
    assert list(order) == _torch_signature(name)[:len(order)], name


# -- hand calculations, and the Keras order kept for Keras names ------------------------------

def test_linear_hand_calculation(capsys):
    assert _cli_params(capsys, "Linear", ["4", "2"], None) == 4 * 2 + 2


def test_conv2d_hand_calculation(capsys):
    assert _cli_params(capsys, "Conv2d", ["1", "2", "3"], None) == (3 * 3 * 1 + 1) * 2


def test_lstm_in_pytorch_order_by_framework_or_prefix(capsys):
    assert main(["layer", "LSTM", "2", "4", "--framework", "pytorch", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_params"] == 128
    assert _cli_params(capsys, "nn.LSTM", ["2", "4"], None) == 128
    assert _cli_params(capsys, "torch.nn.LSTM", ["2", "4"], None) == 128


def test_a_keras_name_keeps_the_keras_order(capsys):
    assert _cli_params(capsys, "Dense", ["2"], "4") == 10
    assert _cli_params(capsys, "LSTM", ["4"], "10,2") == 112
    assert _cli_params(capsys, "Conv2D", ["2", "3"], "28,28,1") == 20


def test_a_lazy_module_infers_its_first_argument(capsys):
    assert positional_order("LazyConv2d")[:2] == ("out_channels", "kernel_size")
    assert _cli_params(capsys, "LazyLinear", ["2"], "5") == 5 * 2 + 2


@pytest.mark.parametrize(("args", "message"), [
    (["Linear", "4", "2", "true", "1"], "Linear takes 3 positional value(s) "
                                        "(in_features, out_features, bias), got 4"),
    (["LSTM", "2", "4"], "LSTM takes 1 positional value(s) (units), got 2; give the others as "
                         "NAME=VALUE, or write nn.LSTM for PyTorch's order (input_size, "
                         "hidden_size, num_layers, ...)"),
    (["Dense", "2", "3", "-i", "4"], "or write nn.Linear for PyTorch's order (in_features, "
                                     "out_features, bias)"),
    (["Flatten", "1"], "Flatten takes 0 positional value(s) (none), got 1"),
    (["Linear", "4", "2", "in_features=3"], "Linear got 'in_features' twice"),
])
def test_too_many_values_is_one_line_naming_the_order(capsys, args, message):
    assert main(["layer", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err


def test_too_many_values_from_python():
    with pytest.raises(SpecError, match=r"in_features, out_features, bias\), got 4"):
        paramcount.layer("Linear", 4, 2, True, 1)
