"""Wrappers against Keras 3: Bidirectional and TimeDistributed around another layer."""

from __future__ import annotations

from typing import Any

import pytest
from oracle import keras_counts, ours

import paramcount
from paramcount.errors import ShapeError, SpecError

# The argument ``layer`` is a nested {name: config} (a bare value fills ``units``).
KERAS_CASES = [
    ("Bidirectional", {"layer": {"LSTM": {"units": 4}}}, (10, 2)),
    ("Bidirectional", {"layer": {"LSTM": {"units": 4}}, "merge_mode": "sum"}, (10, 2)),
    ("Bidirectional", {"layer": {"LSTM": {"units": 3, "return_sequences": True}},
                       "merge_mode": "mul"}, (6, 5)),
    ("Bidirectional", {"layer": {"GRU": {"units": 5, "reset_after": False}},
                       "merge_mode": "ave"}, (6, 5)),
    ("Bidirectional", {"layer": {"GRU": {"units": 2, "return_sequences": True}},
                       "merge_mode": None}, (None, 3)),
    ("Bidirectional", {"layer": {"SimpleRNN": {"units": 6, "use_bias": False}}}, (8, 4)),
    ("Bidirectional", {"layer": {"LSTM": 7}}, (None, 2)),
    ("Bidirectional", {"layer": {"LSTM": {"units": 4, "trainable": False}}}, (10, 2)),
    ("Bidirectional", {"layer": {"LSTM": {"units": 4}}, "trainable": False}, (10, 2)),
    ("TimeDistributed", {"layer": {"Dense": {"units": 3}}}, (10, 5)),
    ("TimeDistributed", {"layer": {"Dense": {"units": 2, "use_bias": False}}}, (4, 6, 5)),
    ("TimeDistributed", {"layer": {"LSTM": {"units": 3, "return_sequences": True}}}, (3, 10, 2)),
    ("TimeDistributed", {"layer": {"Bidirectional": {"layer": {"GRU": 4}}}}, (2, 7, 3)),
]

# The TensorFlow worker builds a layer from (name, config) alone; a wrapper needs a layer object.
TF_CASES: list[tuple[str, dict, tuple]] = []


def keras_layer(spec: Any) -> Any:
    """Turn a nested ``{"LSTM": {"units": 4}}`` into the real Keras layer object."""
    import keras

    ((name, config),) = spec.items()
    config = {"units": config} if isinstance(config, int) else dict(config)
    if "layer" in config:
        config["layer"] = keras_layer(config["layer"])
    return getattr(keras.layers, name)(**config)


@pytest.mark.parametrize(("name", "config", "shape"), KERAS_CASES)
def test_keras(name: str, config: dict, shape: tuple) -> None:
    want = keras_counts(name, {**config, "layer": keras_layer(config["layer"])}, shape)
    got = ours(name, config, shape, "keras")
    assert got == want, f"keras.layers.{name}({config}) on {shape}"


# -- hand checks -----------------------------------------------------------------------------

def _total(name: str, shape: tuple, **config: Any) -> int:
    return paramcount.layer(name, **config).count(shape).total_params


def test_bidirectional_doubles_by_hand() -> None:
    # two LSTM(4) on 2 features: 2·112
    assert _total("Bidirectional", (10, 2), layer={"LSTM": {"units": 4}}) == 224


def test_bidirectional_serialized_keras_config() -> None:
    import keras

    config = keras.layers.Bidirectional(keras.layers.LSTM(4)).get_config()["layer"]
    assert _total("Bidirectional", (10, 2), layer=config) == 224


def test_time_distributed_shares_one_set_of_weights() -> None:
    # Dense(3) on 5 features: 5·3 + 3, whatever the number of steps
    assert _total("TimeDistributed", (100, 5), layer={"Dense": 3}) == 18


# -- bad input -------------------------------------------------------------------------------

SPEC_ERRORS = [
    ("Bidirectional", {"layer": {"LSTM": {"units": 4}}, "merge_mode": "max"}, "merge_mode"),
    ("Bidirectional", {"layer": 5}, "layer=5"),
    ("Bidirectional", {"layer": {"LSTM": {}}}, r"\(wrapped layer\).*units"),
    ("Bidirectional", {"layer": {"LSTM": 4}, "backward_layer": {"LSTM": 4}}, "backward_layer"),
    ("TimeDistributed", {"layer": {"Dense": [3, 4, 5]}}, "bare values"),
]


@pytest.mark.parametrize(("name", "config", "match"), SPEC_ERRORS)
def test_spec_errors(name: str, config: dict, match: str) -> None:
    with pytest.raises(SpecError, match=match) as info:
        paramcount.layer(name, **config)
    assert name in str(info.value)


SHAPE_ERRORS = [
    ("TimeDistributed", {"layer": {"Dense": 3}}, (5,), "time axis"),
    ("Bidirectional", {"layer": {"LSTM": 4}}, (5,), "wrapped LSTM"),
    # the wrapped layer is named as the user wrote it: RNN, not SimpleRNN
    ("Bidirectional", {"layer": {"RNN": {"hidden_size": 4}}}, (5,), r"wrapped RNN\): RNN expects"),
]


@pytest.mark.parametrize(("name", "config", "shape", "match"), SHAPE_ERRORS)
def test_shape_errors(name: str, config: dict, shape: tuple, match: str) -> None:
    with pytest.raises(ShapeError, match=match) as info:
        paramcount.layer(name, **config).count(shape)
    assert name in str(info.value)
