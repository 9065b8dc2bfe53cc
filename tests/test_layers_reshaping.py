"""Reshaping, cropping, padding and resizing layers against Keras and PyTorch: no weights, so the
output shape (and the framework a name selects) is the test."""

import pytest
from oracle import check_keras, check_torch

import paramcount
from paramcount.errors import ShapeError, SpecError

KERAS_CASES = [
    ("Flatten", {}, (3, 4, 5)),
    ("Flatten", {"data_format": "channels_first"}, (3, 4, 5)),
    ("Flatten", {}, (None, 4)),
    ("Flatten", {}, (7,)),
    ("Flatten", {}, ()),
    ("Reshape", {"target_shape": (4, -1)}, (3, 8)),
    ("Reshape", {"target_shape": (2, 3, 4)}, (24,)),
    ("Reshape", {"target_shape": (-1, 2)}, (None, 4)),
    ("Permute", {"dims": (2, 1)}, (3, 4)),
    ("Permute", {"dims": (3, 1, 2)}, (2, 3, 4)),
    ("RepeatVector", {"n": 3}, (5,)),
    ("Cropping1D", {}, (10, 3)),
    ("Cropping1D", {"cropping": (2, 3)}, (10, 3)),
    ("Cropping2D", {"cropping": ((1, 2), (3, 4))}, (10, 12, 3)),
    ("Cropping2D", {"cropping": 2, "data_format": "channels_first"}, (3, 10, 10)),
    ("Cropping2D", {"cropping": (1, 2)}, (None, 9, 2)),
    ("Cropping3D", {}, (5, 6, 7, 2)),
    ("Cropping3D", {"cropping": (1, (0, 2), 1)}, (5, 6, 7, 2)),
    ("ZeroPadding1D", {"padding": (1, 2)}, (5, 3)),
    ("ZeroPadding2D", {}, (28, 28, 1)),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 3)), "data_format": "channels_first"}, (1, 5, 5)),
    ("ZeroPadding3D", {"padding": 2}, (3, 4, 5, 1)),
    ("UpSampling1D", {"size": 3}, (4, 2)),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}, (4, 5, 2)),
    ("UpSampling2D", {"data_format": "channels_first"}, (2, None, 5)),
    ("UpSampling3D", {}, (2, 3, 4, 1)),
]

TORCH_CASES = [
    ("Flatten", {}, (3, 4, 5)),
    ("Flatten", {"start_dim": 2}, (3, 4, 5)),
    ("Flatten", {"start_dim": 1, "end_dim": 2}, (3, 4, 5)),
    ("Flatten", {"start_dim": -2}, (3, 4, 5)),
    ("Unflatten", {"dim": 1, "unflattened_size": (2, 6)}, (12, 5)),
    ("Unflatten", {"dim": -1, "unflattened_size": (2, -1)}, (3, 8)),
    ("Upsample", {"scale_factor": 2}, (3, 8, 8)),
    ("Upsample", {"size": (5, 7), "mode": "bilinear"}, (3, 4, 4)),
    ("Upsample", {"scale_factor": 1.5, "mode": "linear"}, (2, 7)),
    ("Upsample", {"scale_factor": (2, 1, 0.5), "mode": "trilinear"}, (1, 4, 4, 5)),
    ("Upsample", {"size": 9}, (2, 4)),
    ("Upsample", {"scale_factor": 0.7, "mode": "bicubic", "align_corners": True}, (2, 10, 9)),
    ("UpsamplingNearest2d", {"scale_factor": 2}, (3, 5, 5)),
    ("UpsamplingBilinear2d", {"size": (6, 4)}, (3, 5, 5)),
    ("ZeroPad2d", {"padding": 1}, (3, 8, 8)),
    ("ZeroPad2d", {"padding": (1, 2, 3, 4)}, (3, 8, 8)),
    ("ZeroPad2d", {"padding": (-1, 0, 2, 0)}, (3, 8, 8)),
    ("ZeroPad1d", {"padding": (2, 1)}, (3, 5)),
    ("ZeroPad3d", {"padding": 1}, (2, 3, 4, 5)),
    ("ConstantPad2d", {"padding": 2, "value": 0.5}, (3, 4, 4)),
    ("ReflectionPad1d", {"padding": (1, 2)}, (2, 5)),
    ("ReflectionPad2d", {"padding": 3}, (3, 8, 8)),
    ("ReplicationPad3d", {"padding": 1}, (2, 3, 4, 5)),
    ("CircularPad2d", {"padding": (1, 1, 2, 2)}, (3, 4, 4)),
]

TF_CASES = [
    ("Flatten", {}, (3, 4, 5)),
    ("Reshape", {"target_shape": (4, -1)}, (3, 8)),
    ("Cropping2D", {"cropping": ((1, 2), (3, 4))}, (10, 12, 3)),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 3))}, (5, 5, 1)),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}, (4, 5, 2)),
]


@pytest.mark.parametrize(("name", "config", "shape"), KERAS_CASES)
def test_keras(name: str, config: dict, shape: tuple) -> None:
    check_keras(name, config, shape)


@pytest.mark.parametrize(("name", "config", "shape"), TORCH_CASES)
def test_torch(name: str, config: dict, shape: tuple) -> None:
    check_torch(name, config, shape)


def out(name: str, shape: tuple, framework: str | None = None, **config: object) -> tuple:
    return paramcount.layer(name, framework=framework, **config).count(shape).layers[0].output_shape


def test_hand_checked() -> None:
    assert out("Flatten", (7, 7, 64)) == (3136,)  # 7·7·64
    assert out("ZeroPadding2D", (224, 224, 3), padding=3) == (230, 230, 3)
    assert out("Upsample", (3, 7), scale_factor=1.5, mode="linear") == (3, 10)  # floor(10.5)


@pytest.mark.parametrize(("name", "config", "shape"), [
    ("UpsamplingBilinear2d", {"scale_factor": 2}, (3, 8, 8)),  # only PyTorch has these names
    ("Unflatten", {"dim": 1, "unflattened_size": (2, 2)}, (4,)),
    ("ZeroPad2d", {"padding": 1}, (3, 8, 8)),
    ("ReflectionPad1d", {"padding": 1}, (3, 8)),
    ("Flatten", {"start_dim": 2}, (3, 8, 8)),  # a shared name, with a PyTorch-only argument
])
def test_pytorch_names_select_pytorch(name: str, config: dict, shape: tuple) -> None:
    assert paramcount.layer(name, **config).count(shape).framework == "pytorch"


def test_upsample_is_pytorch() -> None:
    s = paramcount.layer("Upsample", scale_factor=2).count((3, 8, 8))
    assert s.framework == "pytorch"
    assert s.layers[0].output_shape == (3, 16, 16)  # channels first, as PyTorch has them
    assert paramcount.layer("Flatten").count((3, 8, 8)).framework == "keras"


def test_lambda_is_unknown_by_design() -> None:
    with pytest.raises(SpecError, match="unknown layer type 'Lambda'"):
        paramcount.layer("Lambda", function="f")


@pytest.mark.parametrize(("name", "config", "shape", "words"), [
    ("Reshape", {"target_shape": (5, -1)}, (3, 4), ["Reshape", "12 values", "(5, -1)"]),
    ("Reshape", {"target_shape": (5, 2)}, (3, 4), ["Reshape", "12 values"]),
    ("Permute", {"dims": (2, 1)}, (2, 3, 4), ["Permute", "rank 2"]),
    ("RepeatVector", {"n": 2}, (3, 4), ["RepeatVector", "rank 1"]),
    ("Cropping2D", {"cropping": 5}, (10, 12, 3), ["Cropping2D", "(5, 5)", "length 10"]),
    ("UpSampling2D", {}, (4, 4), ["UpSampling2D", "rank 3"]),
    ("Upsample", {"scale_factor": 2, "mode": "bilinear"}, (3, 8), ["'bilinear'", "2 spatial"]),
    ("Upsample", {"size": (4, 4)}, (3, 8), ["size=(4, 4)", "1 spatial"]),
    ("Flatten", {"start_dim": 0}, (3, 4), ["start_dim=0", "batch"]),
    ("Flatten", {"start_dim": 2, "end_dim": 1}, (3, 4), ["start_dim=2", "after"]),
    ("Unflatten", {"dim": 1, "unflattened_size": (5, -1)}, (12,), ["Unflatten", "12 values"]),
    ("ReflectionPad2d", {"padding": 8}, (3, 8, 8), ["ReflectionPad2d", "(8, 8)", "length 8"]),
])
def test_shape_errors(name: str, config: dict, shape: tuple, words: list[str]) -> None:
    with pytest.raises(ShapeError) as err:
        paramcount.layer(name, **config).count(shape)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(("name", "config", "words"), [
    ("Permute", {"dims": (1, 3)}, ["Permute", "dims=(1, 3)", "permutation"]),
    ("Reshape", {"target_shape": (-1, -1)}, ["target_shape=(-1, -1)", "at most one -1"]),
    ("RepeatVector", {"n": 0}, ["RepeatVector", "n=0"]),
    ("Cropping2D", {"cropping": (1, 2, 3)}, ["Cropping2D", "cropping=(1, 2, 3)"]),
    ("ZeroPadding2D", {"padding": -1}, ["padding=-1"]),
    ("Upsample", {}, ["exactly one of size and scale_factor"]),
    ("Upsample", {"scale_factor": 2, "align_corners": True}, ["align_corners", "'nearest'"]),
    ("ZeroPad2d", {"padding": (1, 2)}, ["ZeroPad2d", "padding=(1, 2)"]),
    ("ConstantPad1d", {"padding": 1}, ["ConstantPad1d needs the argument 'value'"]),
])
def test_spec_errors(name: str, config: dict, words: list[str]) -> None:
    with pytest.raises(SpecError) as err:
        paramcount.layer(name, **config)
    for word in words:
        assert word in str(err.value)
