"""Recurrent layers against Keras 3 and PyTorch: SimpleRNN/RNN, LSTM, GRU, ConvLSTM."""

from __future__ import annotations

from typing import Any

import pytest
from oracle import check_keras, check_torch, ours, torch_counts

import paramcount
from paramcount.errors import ShapeError, SpecError

KERAS_CASES = [
    ("SimpleRNN", {"units": 4}, (10, 2)),
    ("SimpleRNN", {"units": 3, "use_bias": False}, (7, 5)),
    ("SimpleRNN", {"units": 6, "return_sequences": True}, (10, 2)),
    ("SimpleRNN", {"units": 1}, (None, 1)),
    ("SimpleRNN", {"units": 5, "activation": "relu", "return_state": True}, (None, 3)),
    ("LSTM", {"units": 4}, (10, 2)),
    ("LSTM", {"units": 4, "use_bias": False}, (10, 2)),
    ("LSTM", {"units": 8, "return_sequences": True}, (12, 3)),
    ("LSTM", {"units": 16, "unit_forget_bias": False}, (None, 8)),
    ("LSTM", {"units": 5, "trainable": False}, (6, 7)),
    ("LSTM", {"units": 3, "go_backwards": True, "dropout": 0.2, "recurrent_dropout": 0.1},
     (4, 9)),
    ("GRU", {"units": 4}, (10, 2)),
    ("GRU", {"units": 4, "reset_after": False}, (10, 2)),
    ("GRU", {"units": 6, "use_bias": False}, (10, 3)),
    ("GRU", {"units": 6, "use_bias": False, "reset_after": False}, (10, 3)),
    ("GRU", {"units": 7, "return_sequences": True, "reset_after": False}, (None, 4)),
    ("GRU", {"units": 2, "return_sequences": True}, (5, 11)),
    ("ConvLSTM1D", {"filters": 2, "kernel_size": 3}, (5, 10, 3)),
    ("ConvLSTM1D", {"filters": 4, "kernel_size": 3, "padding": "same", "strides": 2}, (5, 11, 2)),
    ("ConvLSTM1D", {"filters": 3, "kernel_size": 2, "dilation_rate": 3,
                    "return_sequences": True}, (4, 12, 1)),
    ("ConvLSTM1D", {"filters": 2, "kernel_size": 5, "use_bias": False}, (3, 9, 4)),
    ("ConvLSTM2D", {"filters": 3, "kernel_size": 3}, (4, 8, 8, 2)),
    ("ConvLSTM2D", {"filters": 4, "kernel_size": (3, 2), "padding": "same", "strides": 2},
     (3, 9, 7, 1)),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2}, (3, 10, 9, 3)),
    ("ConvLSTM2D", {"filters": 5, "kernel_size": 1, "return_sequences": True,
                    "use_bias": False}, (None, 6, 6, 4)),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "data_format": "channels_first"},
     (3, 2, 8, 7)),
    ("ConvLSTM2D", {"filters": 3, "kernel_size": (2, 3), "strides": (1, 2),
                    "return_sequences": True}, (2, 6, 9, 2)),
    ("ConvLSTM3D", {"filters": 2, "kernel_size": 2, "padding": "same"}, (3, 4, 5, 6, 1)),
    ("ConvLSTM3D", {"filters": 1, "kernel_size": (1, 2, 3), "return_sequences": True},
     (2, 3, 4, 5, 2)),
]

TORCH_CASES = [
    ("RNN", {"input_size": 2, "hidden_size": 4}, (10, 2)),
    ("RNN", {"input_size": 3, "hidden_size": 5, "nonlinearity": "relu"}, (7, 3)),
    ("RNN", {"input_size": 3, "hidden_size": 5, "bias": False}, (7, 3)),
    ("RNN", {"input_size": 4, "hidden_size": 6, "num_layers": 2}, (5, 4)),
    ("RNN", {"input_size": 4, "hidden_size": 6, "bidirectional": True}, (5, 4)),
    ("RNN", {"input_size": 2, "hidden_size": 3, "num_layers": 3, "bidirectional": True,
             "bias": False}, (5, 2)),
    ("LSTM", {"input_size": 2, "hidden_size": 4}, (10, 2)),
    ("LSTM", {"input_size": 2, "hidden_size": 4, "bias": False}, (10, 2)),
    ("LSTM", {"input_size": 5, "hidden_size": 8, "num_layers": 2}, (6, 5)),
    ("LSTM", {"input_size": 5, "hidden_size": 8, "bidirectional": True}, (6, 5)),
    ("LSTM", {"input_size": 5, "hidden_size": 8, "proj_size": 3}, (6, 5)),
    ("LSTM", {"input_size": 5, "hidden_size": 8, "proj_size": 3, "bidirectional": True,
              "num_layers": 2}, (6, 5)),
    ("LSTM", {"input_size": 3, "hidden_size": 7, "proj_size": 2, "num_layers": 3,
              "bias": False}, (4, 3)),
    ("LSTM", {"input_size": 3, "hidden_size": 4, "batch_first": True, "num_layers": 2,
              "dropout": 0.1}, (9, 3)),
    ("GRU", {"input_size": 2, "hidden_size": 4}, (10, 2)),
    ("GRU", {"input_size": 2, "hidden_size": 4, "bias": False}, (10, 2)),
    ("GRU", {"input_size": 6, "hidden_size": 3, "num_layers": 2, "bidirectional": True}, (5, 6)),
    ("GRU", {"input_size": 6, "hidden_size": 3, "num_layers": 4}, (5, 6)),
]

# Keras spellings counted with PyTorch conventions, against the nn module they mean.
TORCH_SPELLED_CASES = [
    ("LSTM", {"units": 4}, {"input_size": 2, "hidden_size": 4}, (10, 2)),
    ("LSTM", {"units": 4, "use_bias": False}, {"input_size": 2, "hidden_size": 4, "bias": False},
     (10, 2)),
    ("GRU", {"units": 5}, {"input_size": 3, "hidden_size": 5}, (8, 3)),
    ("SimpleRNN", {"units": 6}, {"input_size": 2, "hidden_size": 6}, (8, 2)),
    ("LSTM", {"units": 6, "return_sequences": False}, {"input_size": 2, "hidden_size": 6},
     (8, 2)),
]

# Run on TensorFlow's tf.keras by another test module: plain (name, config) layers only.
TF_CASES = [
    ("SimpleRNN", {"units": 4}, (10, 2)),
    ("LSTM", {"units": 8, "return_sequences": True}, (12, 3)),
    ("GRU", {"units": 4}, (10, 2)),
    ("GRU", {"units": 6, "reset_after": False, "use_bias": False}, (10, 3)),
    ("ConvLSTM1D", {"filters": 4, "kernel_size": 3, "padding": "same", "strides": 2}, (5, 11, 2)),
    ("ConvLSTM2D", {"filters": 3, "kernel_size": 3, "return_sequences": True}, (4, 8, 8, 2)),
]


@pytest.mark.parametrize(("name", "config", "shape"), KERAS_CASES)
def test_keras(name: str, config: dict, shape: tuple) -> None:
    check_keras(name, config, shape)


@pytest.mark.parametrize(("name", "config", "shape"), TORCH_CASES)
def test_torch(name: str, config: dict, shape: tuple) -> None:
    check_torch(name, config, shape)


@pytest.mark.parametrize(("name", "keras_config", "torch_config", "shape"), TORCH_SPELLED_CASES)
def test_keras_spelling_with_torch_conventions(name: str, keras_config: dict,
                                               torch_config: dict, shape: tuple) -> None:
    torch_name = "RNN" if name == "SimpleRNN" else name
    assert ours(name, keras_config, shape, "pytorch") == torch_counts(torch_name, torch_config,
                                                                      shape)


@pytest.mark.parametrize(("name", "config", "shape"), TORCH_CASES)
def test_torch_weight_names_and_shapes(name: str, config: dict, shape: tuple) -> None:
    import torch

    module = getattr(torch.nn, name)(**config)
    want = {n: tuple(p.shape) for n, p in module.named_parameters()}
    summary = paramcount.layer(name, framework="pytorch", **config).count(shape)
    assert {w.name: w.shape for w in summary.layers[0].weights} == want


# -- hand checks -----------------------------------------------------------------------------

def _total(name: str, shape: tuple, framework: str | None = None, **config: Any) -> int:
    return paramcount.layer(name, framework=framework, **config).count(shape).total_params


def test_keras_lstm_by_hand() -> None:
    # kernel 2×16 + recurrent kernel 4×16 + bias 16 = 32 + 64 + 16
    assert _total("LSTM", (10, 2), units=4) == 112


def test_torch_lstm_by_hand() -> None:
    # weight_ih 16×2 + weight_hh 16×4 + bias_ih 16 + bias_hh 16 = 32 + 64 + 16 + 16
    assert _total("LSTM", (10, 2), input_size=2, hidden_size=4) == 128
    assert _total("LSTM", (10, 2), framework="pytorch", units=4) == 128


def test_keras_gru_by_hand() -> None:
    # reset_after=True: kernel 2×12 + recurrent kernel 4×12 + bias (2, 12) = 24 + 48 + 24
    assert _total("GRU", (10, 2), units=4) == 96
    # reset_after=False: kernel 2×12 + recurrent kernel 4×12 + bias 12 = 24 + 48 + 12
    assert _total("GRU", (10, 2), units=4, reset_after=False) == 84


def test_keras_convlstm2d_by_hand() -> None:
    # kernel 3·3·2·16 + recurrent kernel 3·3·4·16 + bias 16 = 288 + 576 + 16
    assert _total("ConvLSTM2D", (5, 8, 8, 2), filters=4, kernel_size=3) == 880


def test_torch_formula_and_note() -> None:
    node = paramcount.layer("LSTM", framework="pytorch", units=4).count((10, 2)).layers[0]
    assert node.formula is not None
    assert node.formula.numeric == "4·((2 + 4 + 2)·4)"
    assert any("two bias vectors" in note and "16" in note for note in node.notes)


def test_keras_lstm_formula() -> None:
    node = paramcount.layer("LSTM", units=4).count((10, 2)).layers[0]
    assert node.formula is not None
    assert (node.formula.symbolic, node.formula.numeric) == (
        "4·((inputs + units + 1)·units)", "4·((2 + 4 + 1)·4)")


# -- bad input -------------------------------------------------------------------------------

SPEC_ERRORS = [
    ("LSTM", {"units": 0}, "keras", "units"),
    ("GRU", {"units": 4, "reset_after": False}, "pytorch", "reset_after"),
    ("LSTM", {"input_size": 2, "hidden_size": 4, "proj_size": 4}, None, "proj_size"),
    ("GRU", {"input_size": 2, "hidden_size": 4, "proj_size": 2}, None, "only supported by LSTM"),
    ("RNN", {"input_size": 2, "hidden_size": 4, "nonlinearity": "sigmoid"}, None,
     "nonlinearity"),
    ("LSTM", {"units": 4, "num_layers": 2}, "keras", "PyTorch argument"),
    ("LSTM", {"units": 4, "unit": 3}, "keras", "unit"),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, None,
     "dilation_rate"),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "padding": "full"}, None, "padding"),
    ("ConvLSTM1D", {"filters": 2, "kernel_size": -1}, None, "kernel_size"),
]


@pytest.mark.parametrize(("name", "config", "framework", "match"), SPEC_ERRORS)
def test_spec_errors(name: str, config: dict, framework: str | None, match: str) -> None:
    with pytest.raises(SpecError, match=match) as info:
        paramcount.layer(name, framework=framework, **config)
    assert name in str(info.value)  # the name the user wrote: "RNN", not "SimpleRNN"


SHAPE_ERRORS = [
    ("LSTM", {"units": 4}, (5,), "rank 2"),
    ("GRU", {"units": 4}, (10, None), "known number of features"),
    ("LSTM", {"input_size": 3, "hidden_size": 4}, (10, 2), "expects 3 features"),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 5}, (3, 4, 4, 1), "larger than the input"),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3}, (3, None, 4, 1), "spatial"),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3}, (3, 8, 8, None), "channels"),
    ("ConvLSTM1D", {"filters": 2, "kernel_size": 3}, (3, 8), "rank 3"),
]


@pytest.mark.parametrize(("name", "config", "shape", "match"), SHAPE_ERRORS)
def test_shape_errors(name: str, config: dict, shape: tuple, match: str) -> None:
    with pytest.raises(ShapeError, match=match) as info:
        paramcount.layer(name, **config).count(shape)
    assert name in str(info.value)
