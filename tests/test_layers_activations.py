"""Activations, dropout, noise and other pass-through layers against Keras and PyTorch: no
weights, so the output shape (and the framework a name selects) is the test."""

import pytest
from oracle import check_keras, check_torch

import paramcount
from paramcount.errors import ShapeError, SpecError

KERAS_CASES = [
    ("Activation", {"activation": "relu"}, (5, 3)),
    ("Activation", {"activation": "softmax"}, (4,)),
    ("ReLU", {"max_value": 6.0, "negative_slope": 0.1}, (8, 8, 3)),
    ("LeakyReLU", {"negative_slope": 0.2}, (10,)),
    ("ELU", {"alpha": 0.5}, (3, 4)),
    ("Softmax", {"axis": 1}, (3, 4)),
    ("Dropout", {"rate": 0.3}, (7, 2)),
    ("Dropout", {"rate": 0.5, "noise_shape": (None, 1, 2)}, (7, 2)),
    ("SpatialDropout1D", {"rate": 0.2}, (10, 4)),
    ("SpatialDropout2D", {"rate": 0.2, "data_format": "channels_first"}, (4, 8, 8)),
    ("SpatialDropout3D", {"rate": 0.1}, (3, 4, 5, 2)),
    ("GaussianNoise", {"stddev": 0.1}, (6,)),
    ("GaussianDropout", {"rate": 0.2}, (6, 2)),
    ("AlphaDropout", {"rate": 0.1}, (6,)),
    ("ActivityRegularization", {"l1": 0.01, "l2": 0.001}, (6,)),
    ("Masking", {"mask_value": 0.0}, (12, 3)),
    ("Identity", {}, (2, 3)),
]

TORCH_CASES = [
    ("ReLU", {}, (3, 8, 8)),
    ("ReLU", {"inplace": True}, (10,)),
    ("ReLU6", {}, (16, 4, 4)),
    ("GELU", {"approximate": "tanh"}, (5, 32)),
    ("SiLU", {}, (8,)),
    ("Sigmoid", {}, (8,)),
    ("Tanh", {}, (3, 2)),
    ("Softmax", {"dim": 1}, (3, 4)),
    ("LeakyReLU", {"negative_slope": 0.1}, (3, 4)),
    ("Hardswish", {}, (16, 7, 7)),
    ("Hardsigmoid", {}, (16, 1, 1)),
    ("Mish", {}, (6,)),
    ("ELU", {"alpha": 0.5}, (6,)),
    ("LogSoftmax", {"dim": -1}, (2, 10)),
    ("Softplus", {"beta": 2.0}, (4,)),
    ("Hardtanh", {"min_val": -2.0, "max_val": 2.0}, (4,)),
    ("Dropout", {}, (7, 2)),
    ("Dropout", {"p": 0.1}, (7, 2)),
    ("Dropout1d", {"p": 0.2}, (4, 10)),
    ("Dropout2d", {"p": 0.2}, (3, 8, 8)),
    ("Dropout3d", {}, (2, 3, 4, 5)),
    ("AlphaDropout", {"p": 0.2}, (6,)),
    ("FeatureAlphaDropout", {}, (3, 4, 5)),
    ("Identity", {}, (2, 3)),
    ("Identity", {"anything": 1}, (4,)),
]

TF_CASES = [
    ("Activation", {"activation": "softmax"}, (4,)),
    ("ReLU", {"max_value": 6.0, "negative_slope": 0.1}, (8, 8, 3)),
    ("Dropout", {"rate": 0.3}, (7, 2)),
    ("SpatialDropout2D", {"rate": 0.2, "data_format": "channels_first"}, (4, 8, 8)),
    ("Masking", {"mask_value": 0.0}, (12, 3)),
]


@pytest.mark.parametrize(("name", "config", "shape"), KERAS_CASES)
def test_keras(name: str, config: dict, shape: tuple) -> None:
    check_keras(name, config, shape)


@pytest.mark.parametrize(("name", "config", "shape"), TORCH_CASES)
def test_torch(name: str, config: dict, shape: tuple) -> None:
    check_torch(name, config, shape)


def test_gelu_is_pytorch() -> None:
    s = paramcount.layer("GELU").count((4,))  # only PyTorch has the name
    assert s.framework == "pytorch"
    assert (s.total_params, s.layers[0].output_shape) == (0, (4,))


@pytest.mark.parametrize(("name", "config", "shape", "framework"), [
    ("SiLU", {}, (4,), "pytorch"),
    ("ReLU6", {}, (4,), "pytorch"),
    ("Dropout2d", {"p": 0.2}, (3, 4, 4), "pytorch"),
    ("ReLU", {}, (4,), "keras"),  # a shared name keeps Keras conventions ...
    ("ReLU", {"inplace": True}, (4,), "pytorch"),  # ... unless a PyTorch-only argument is given
    ("Dropout", {"p": 0.2}, (4,), "pytorch"),
])
def test_name_selects_framework(name: str, config: dict, shape: tuple, framework: str) -> None:
    assert paramcount.layer(name, **config).count(shape).framework == framework


def test_shape_error() -> None:
    with pytest.raises(ShapeError) as err:
        paramcount.layer("SpatialDropout2D", rate=0.2).count((8, 8))
    assert "SpatialDropout2D expects an input of rank 3" in str(err.value)


@pytest.mark.parametrize(("name", "config", "words"), [
    ("Activation", {"activation": 3}, ["Activation: activation=3", "name of an activation"]),
    ("Dropout", {}, ["Dropout needs the argument 'rate'"]),
    ("Dropout", {"rate": 1.5}, ["rate=1.5", "between 0 and 1"]),
    ("Dropout2d", {"p": -0.1}, ["Dropout2d: p=-0.1"]),
    ("GaussianNoise", {"stddev": -1}, ["GaussianNoise: stddev=-1"]),
    ("ReLU", {"max_value": -1}, ["ReLU", "max_value=-1", ">= 0"]),
    ("LeakyReLU", {"negative_slope": -0.2}, ["negative_slope=-0.2"]),
    ("GELU", {"approximate": "erf"}, ["GELU", "approximate='erf'"]),
    ("Sigmoid", {"dim": 1}, ["Sigmoid has no argument 'dim'"]),
])
def test_spec_errors(name: str, config: dict, words: list[str]) -> None:
    with pytest.raises(SpecError) as err:
        paramcount.layer(name, **config)
    for word in words:
        assert word in str(err.value)
