"""Every Keras layer case of the layer oracle tests, read back from a real Keras model config.

The layer tests check each formula against Keras with paramcount's own arguments; here Keras
builds the same layer inside a Functional model and serializes it, and paramcount reads that
config (every key Keras writes, Keras 3 names and defaults) and must find the same counts.
"""

from __future__ import annotations

import importlib
import json
import warnings
from typing import Any

import pytest

from paramcount.sources import keras as keras_source

_MODULES = ("activations", "attention", "conv", "core", "merging", "normalization", "pooling",
            "preprocessing", "recurrent", "reshaping", "wrappers")
_POSITIONAL = {"MultiHeadAttention", "GroupQueryAttention", "Attention"}


def _cases() -> list[Any]:
    out = []
    for family in _MODULES:
        try:
            module = importlib.import_module(f"test_layers_{family}")
        except ImportError:
            continue
        for i, case in enumerate(getattr(module, "KERAS_CASES", [])):
            out.append(pytest.param(*case[:3], case[3] if len(case) > 3 else None,
                                    id=f"{family}-{i}-{case[0]}"))
    return out


def _keras_args(config: dict) -> dict:
    """A wrapper's ``layer`` written as the layer tests write it (``{"LSTM": {"units": 4}}``,
    ``{"LSTM": 7}``) made a Keras layer."""
    import keras

    def layer(spec: Any) -> Any:
        (name, args), = spec.items()
        if isinstance(args, dict):
            return getattr(keras.layers, name)(**_keras_args(args))
        return getattr(keras.layers, name)(args)

    return {k: layer(v) if k == "layer" and isinstance(v, dict) else v for k, v in config.items()}


def _model(name: str, config: dict, shape: Any, call: dict | None) -> Any:
    import keras

    layer = getattr(keras.layers, name)(**_keras_args(config))
    shapes = [tuple(s) for s in shape] if shape and isinstance(shape[0], list | tuple) \
        else [tuple(shape)]
    xs = [keras.Input(s) for s in shapes]
    if len(xs) > 1 and name in _POSITIONAL:
        y = layer(*xs, **(call or {}))
    else:
        y = layer(xs if len(xs) > 1 else xs[0], **(call or {}))
    return keras.Model(xs, y[0] if isinstance(y, list | tuple) else y)


@pytest.mark.parametrize("name, config, shape, call", _cases())
def test_layer_config_as_keras_writes_it(name, config, shape, call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = _model(name, config, shape, call)
        except ValueError as err:  # Equalization: Keras's graph check refuses it
            pytest.skip(f"Keras does not make a Functional model of it: {err}")
        s = keras_source.from_dict(json.loads(model.to_json()))
    layer = model.layers[-1]
    row = s.root.children[-1]
    assert not s.lower_bound, row.remark
    assert (row.name, row.params, row.output_shape) == (
        layer.name, layer.count_params(), tuple(model.output.shape)[1:])
    assert s.total_params == model.count_params()
