"""Normalization layers against Keras 3 and PyTorch: weights, statistics and buffers."""

from __future__ import annotations

import re

import pytest
from oracle import check_keras, check_torch

import paramcount
from paramcount.errors import ShapeError, SpecError

KERAS_CASES = [
    ("BatchNormalization", {}, (16,)),
    ("BatchNormalization", {}, (8, 8, 16)),
    ("BatchNormalization", {}, (10, 3)),
    ("BatchNormalization", {"center": False}, (8, 8, 16)),
    ("BatchNormalization", {"scale": False}, (5, 4)),
    ("BatchNormalization", {"center": False, "scale": False}, (6,)),
    ("BatchNormalization", {"axis": 1}, (4, 8, 8)),
    ("BatchNormalization", {"axis": -2}, (7, 3)),
    ("BatchNormalization", {"renorm": True}, (5, 6)),
    ("LayerNormalization", {}, (8,)),
    ("LayerNormalization", {}, (4, 8)),
    ("LayerNormalization", {"axis": [1, 2]}, (4, 8)),
    ("LayerNormalization", {"axis": [-1, 1]}, (3, 4, 5)),
    ("LayerNormalization", {"axis": 1}, (3, 4)),
    ("LayerNormalization", {"center": False}, (4, 8)),
    ("LayerNormalization", {"scale": False}, (4, 8)),
    ("LayerNormalization", {"rms_scaling": True}, (4, 8)),
    ("GroupNormalization", {"groups": 4}, (8, 8, 16)),
    ("GroupNormalization", {"groups": -1}, (10, 6)),
    ("GroupNormalization", {"groups": 1, "center": False}, (10, 6)),
    ("GroupNormalization", {"groups": 3, "axis": 1}, (6, 5)),
    ("GroupNormalization", {"groups": 2, "scale": False, "center": False}, (4,)),
    ("RMSNormalization", {}, (8,)),
    ("RMSNormalization", {}, (4, 8)),
    ("RMSNormalization", {"axis": [-2, -1]}, (3, 4, 5)),
    ("RMSNormalization", {"axis": 1}, (3, 4)),
    ("UnitNormalization", {}, (5,)),
    ("UnitNormalization", {"axis": [1, 2]}, (3, 4)),
]

TORCH_CASES = [
    ("BatchNorm1d", {"num_features": 16}, (16,)),
    ("BatchNorm1d", {"num_features": 16}, (16, 10)),
    ("BatchNorm1d", {"num_features": 4, "affine": False}, (4, 10)),
    ("BatchNorm1d", {"num_features": 4, "track_running_stats": False}, (4,)),
    ("BatchNorm1d", {"num_features": 4, "bias": False}, (4, 3)),
    ("BatchNorm2d", {"num_features": 16}, (16, 8, 8)),
    ("BatchNorm2d", {"num_features": 3, "affine": False, "momentum": 0.5}, (3, 5, 7)),
    ("BatchNorm2d", {"num_features": 3, "affine": False, "track_running_stats": False},
     (3, 5, 5)),
    ("BatchNorm3d", {"num_features": 4, "eps": 1e-3}, (4, 3, 3, 3)),
    ("LayerNorm", {"normalized_shape": 8}, (8,)),
    ("LayerNorm", {"normalized_shape": 8}, (5, 8)),
    ("LayerNorm", {"normalized_shape": [4, 8]}, (3, 4, 8)),
    ("LayerNorm", {"normalized_shape": 8, "elementwise_affine": False}, (5, 8)),
    ("LayerNorm", {"normalized_shape": 8, "bias": False}, (5, 8)),
    ("GroupNorm", {"num_groups": 4, "num_channels": 16}, (16, 8, 8)),
    ("GroupNorm", {"num_groups": 1, "num_channels": 6}, (6, 10)),
    ("GroupNorm", {"num_groups": 2, "num_channels": 6, "affine": False}, (6, 10)),
    ("GroupNorm", {"num_groups": 3, "num_channels": 6, "bias": False}, (6, 4, 4)),
    ("RMSNorm", {"normalized_shape": 8}, (8,)),
    ("RMSNorm", {"normalized_shape": [4, 8]}, (3, 4, 8)),
    ("RMSNorm", {"normalized_shape": 8, "elementwise_affine": False}, (5, 8)),
    ("InstanceNorm1d", {"num_features": 4}, (4, 10)),
    ("InstanceNorm1d", {"num_features": 4, "affine": True}, (4, 10)),
    ("InstanceNorm1d", {"num_features": 4, "track_running_stats": True}, (4, 10)),
    ("InstanceNorm2d", {"num_features": 3, "affine": True}, (3, 8, 8)),
    ("InstanceNorm3d", {"num_features": 2, "affine": True, "track_running_stats": True},
     (2, 3, 3, 3)),
]

TF_CASES = [
    ("BatchNormalization", {}, (8, 8, 16)),
    ("BatchNormalization", {"axis": 1, "center": False}, (4, 8, 8)),
    ("LayerNormalization", {"axis": [-1, 1]}, (3, 4, 5)),
    ("GroupNormalization", {"groups": 4}, (8, 8, 16)),
    ("RMSNormalization", {}, (4, 8)),
]


@pytest.mark.parametrize(("name", "config", "shape"), KERAS_CASES)
def test_keras(name: str, config: dict, shape: tuple) -> None:
    check_keras(name, config, shape)


@pytest.mark.parametrize(("name", "config", "shape"), TORCH_CASES)
def test_torch(name: str, config: dict, shape: tuple) -> None:
    check_torch(name, config, shape)


# -- by hand ---------------------------------------------------------------------------------

def test_torch_batchnorm2d_by_hand() -> None:
    # weight and bias: 2 × 16; running_mean, running_var: 2 × 16 and num_batches_tracked: 1
    s = paramcount.layer("BatchNorm2d", num_features=16).count((16, 8, 8))
    assert (s.total_params, s.buffers) == (32, 33)


def test_keras_batchnorm_by_hand() -> None:
    # gamma, beta trainable (2 × 16); moving mean and variance non-trainable (2 × 16)
    s = paramcount.layer("BatchNormalization").count((8, 8, 16))
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (64, 32, 32)
    assert "PyTorch keeps" in " ".join(s.layers[0].notes)


def test_keras_batchnorm_read_as_pytorch() -> None:
    # the Keras layer name with PyTorch conventions: channels first, statistics as buffers
    s = paramcount.layer("BatchNormalization", framework="pytorch").count((16, 8, 8))
    assert (s.total_params, s.trainable_params, s.buffers) == (32, 32, 33)
    assert "Keras counts" in " ".join(s.layers[0].notes)


def test_instance_norm_defaults_by_hand() -> None:
    # PyTorch: no weights, no statistics by default; the Keras add-ons' layer: gamma and beta
    torch = paramcount.layer("InstanceNorm2d", num_features=3).count((3, 8, 8))
    keras = paramcount.layer("InstanceNormalization").count((8, 8, 3))
    assert (torch.total_params, torch.buffers, keras.total_params) == (0, 0, 6)


# -- bad input -------------------------------------------------------------------------------

def says_name(name: str, err: Exception) -> bool:
    """Whether the message itself (after any "layer ... with input shape ...: " prefix) starts
    with the name the user wrote: "BatchNorm2d: ...", not the canonical "BatchNormalization"."""
    return re.search(rf"(^|: ){name}\b", str(err)) is not None


@pytest.mark.parametrize(("name", "config", "message"), [
    ("BatchNorm2d", {"num_features": 0}, "num_features=0"),
    ("BatchNormalization", {"axis": [1, 2]}, "axis=[1, 2]"),
    ("BatchNorm2d", {"num_features": 4, "renorm": True}, "renorm=True"),
    ("LayerNorm", {"normalized_shape": [4, 0]}, "normalized_shape=[4, 0]"),
    ("LayerNormalization", {"axis": "last"}, "axis='last'"),
    ("GroupNorm", {"num_groups": 4, "num_channels": 6}, "num_channels=6"),
    ("GroupNormalization", {"groups": 0}, "groups=0"),
])
def test_bad_arguments(name: str, config: dict, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)) as err:
        paramcount.layer(name, **config)
    assert says_name(name, err.value)


@pytest.mark.parametrize(("name", "config", "shape", "message"), [
    ("BatchNorm2d", {"num_features": 16}, (8, 8, 16), "expects 16 channels on axis 1"),
    ("BatchNormalization", {}, (8, None), "known number of channels"),
    ("BatchNormalization", {"axis": 3}, (4, 8), "axis 3 is out of range"),
    ("BatchNormalization", {"axis": 0}, (4, 8), "batch axis"),
    ("LayerNorm", {"normalized_shape": 8}, (8, 4), "must end the input shape"),
    ("GroupNormalization", {"groups": 4}, (8, 8, 6), "6 channels"),
    ("GroupNorm", {"num_groups": 2, "num_channels": 6}, (4, 6), "expects 6 channels"),
    ("UnitNormalization", {"axis": 2}, (5,), "axis 2 is out of range"),
])
def test_bad_shapes(name: str, config: dict, shape: tuple, message: str) -> None:
    with pytest.raises(ShapeError, match=re.escape(message)) as err:
        paramcount.layer(name, **config).count(shape)
    assert says_name(name, err.value)
