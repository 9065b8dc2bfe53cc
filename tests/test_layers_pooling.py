"""Pooling layers against Keras and PyTorch: no weights, so the output shape is the test."""

import pytest
from oracle import check_keras, check_torch

import paramcount
from paramcount.errors import ShapeError, SpecError

KERAS_CASES = [
    ("MaxPooling1D", {}, (10, 3)),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (10, 3)),
    ("MaxPooling1D", {"pool_size": 3, "data_format": "channels_first"}, (4, 11)),
    ("MaxPooling2D", {}, (28, 28, 8)),
    ("MaxPooling2D", {"pool_size": (3, 2), "strides": (2, 1)}, (15, 9, 4)),
    ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (15, 16, 4)),
    ("MaxPooling2D", {"pool_size": 2, "data_format": "channels_first"}, (3, 9, 7)),
    ("MaxPooling2D", {"pool_size": 2}, (None, 8, 3)),
    ("MaxPool2D", {"pool_size": 5, "strides": 1}, (5, 6, 1)),
    ("MaxPooling2D", {"pool_size": 5, "padding": "same"}, (3, 3, 1)),
    ("MaxPooling3D", {}, (8, 9, 10, 2)),
    ("MaxPooling3D", {"pool_size": (1, 2, 3), "padding": "same"}, (5, 7, 8, 2)),
    ("AveragePooling1D", {"pool_size": 4, "strides": 1}, (9, 2)),
    ("AveragePooling2D", {"pool_size": 2}, (7, 7, 16)),
    ("AveragePooling2D", {"pool_size": 3, "strides": 3, "padding": "same"}, (10, 11, 2)),
    ("AvgPool2D", {"pool_size": 2, "data_format": "channels_first"}, (6, 4, 4)),
    ("AveragePooling3D", {"pool_size": 2, "strides": (1, 2, 1)}, (4, 6, 5, 3)),
    ("AveragePooling3D", {"pool_size": 3, "padding": "same",
                          "data_format": "channels_first"}, (2, 7, 8, 9)),
    ("GlobalMaxPooling1D", {}, (10, 6)),
    ("GlobalMaxPooling1D", {"keepdims": True}, (10, 6)),
    ("GlobalMaxPooling2D", {}, (7, 7, 32)),
    ("GlobalMaxPool2D", {"keepdims": True, "data_format": "channels_first"}, (32, 7, 7)),
    ("GlobalMaxPooling3D", {"keepdims": True}, (3, 4, 5, 6)),
    ("GlobalAveragePooling1D", {"data_format": "channels_first"}, (6, 10)),
    ("GlobalAveragePooling2D", {}, (None, None, 64)),
    ("GlobalAveragePooling2D", {"keepdims": True}, (7, 7, 64)),
    ("GlobalAvgPool3D", {"data_format": "channels_first"}, (5, 3, 4, 4)),
    ("AdaptiveAveragePooling1D", {"output_size": 4}, (17, 3)),
    ("AdaptiveAveragePooling2D", {"output_size": (2, 3)}, (13, 14, 5)),
    ("AdaptiveMaxPooling2D", {"output_size": 1, "data_format": "channels_first"}, (5, 9, 9)),
    ("AdaptiveMaxPooling3D", {"output_size": (2, 2, 1)}, (6, 5, 4, 2)),
]

TORCH_CASES = [
    ("MaxPool1d", {"kernel_size": 3}, (4, 20)),
    ("MaxPool1d", {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2}, (4, 20)),
    ("MaxPool1d", {"kernel_size": 2, "ceil_mode": True}, (4, 7)),
    # the last window would start past the input: ceil_mode drops it
    ("MaxPool1d", {"kernel_size": 1, "stride": 3, "ceil_mode": True}, (1, 6)),
    ("AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (1, 4, 5)),
    ("MaxPool2d", {"kernel_size": 2}, (3, 32, 32)),
    ("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, (64, 112, 112)),
    ("MaxPool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, (8, 56, 56)),
    ("MaxPool2d", {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0),
                   "dilation": (1, 2)}, (2, 9, 10)),
    ("MaxPool2d", {"kernel_size": 2, "return_indices": True}, (2, 9, 9)),
    ("MaxPool3d", {"kernel_size": 2, "stride": 2}, (2, 8, 9, 10)),
    ("MaxPool3d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (1, 7, 8, 9)),
    ("AvgPool1d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (2, 6)),
    ("AvgPool2d", {"kernel_size": 2}, (3, 15, 15)),
    ("AvgPool2d", {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": False},
     (3, 15, 15)),
    ("AvgPool2d", {"kernel_size": 2, "ceil_mode": True, "divisor_override": 3}, (3, 15, 14)),
    ("AvgPool3d", {"kernel_size": (1, 2, 2)}, (4, 3, 8, 8)),
    ("AvgPool3d", {"kernel_size": 3, "stride": 2, "padding": 1}, (2, 5, 6, 7)),
    ("AdaptiveAvgPool1d", {"output_size": 5}, (3, 23)),
    ("AdaptiveAvgPool2d", {"output_size": 1}, (512, 7, 7)),
    ("AdaptiveAvgPool2d", {"output_size": (None, 3)}, (4, 10, 12)),
    ("AdaptiveAvgPool3d", {"output_size": (1, 2, 3)}, (4, 5, 6, 7)),
    ("AdaptiveMaxPool1d", {"output_size": 2, "return_indices": True}, (3, 9)),
    ("AdaptiveMaxPool2d", {"output_size": (7, 7)}, (16, 14, 15)),
    ("AdaptiveMaxPool3d", {"output_size": (2, None, 1)}, (3, 4, 5, 6)),
]

TF_CASES = [
    ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (15, 16, 4)),
    ("AveragePooling3D", {"pool_size": 2, "strides": (1, 2, 1)}, (4, 6, 5, 3)),
    ("GlobalAveragePooling2D", {"keepdims": True}, (7, 7, 64)),
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
    # ResNet's stem: 112 -> floor((112 + 2 - 3) / 2) + 1 = 56; VGG's last pool: 14 -> 7
    assert out("MaxPool2d", (64, 112, 112), kernel_size=3, stride=2, padding=1) == (64, 56, 56)
    assert out("MaxPooling2D", (14, 14, 512)) == (7, 7, 512)
    assert out("GlobalAveragePooling2D", (7, 7, 2048)) == (2048,)


def test_pytorch_conventions_are_channels_first() -> None:
    assert out("MaxPool2d", (8, 10, 10), kernel_size=2) == (8, 5, 5)  # the name says PyTorch
    assert out("MaxPooling2D", (8, 10, 10), framework="pytorch") == (8, 5, 5)
    assert out("GlobalAveragePooling2D", (8, 10, 10), framework="pytorch") == (8,)


@pytest.mark.parametrize(("name", "config", "shape", "words"), [
    ("MaxPooling2D", {"pool_size": 5}, (3, 3, 1), ["MaxPooling2D", "5", "larger than the input"]),
    ("MaxPooling2D", {}, (8, 8), ["rank 3", "(None, 8, 8)"]),
    ("MaxPool1d", {"kernel_size": 3, "dilation": 3}, (1, 4), ["MaxPool1d", "no output"]),
    ("AvgPool3d", {"kernel_size": 3, "padding": 1}, (1, 2, 2, 2), ["smaller than the kernel"]),
    ("GlobalMaxPooling3D", {}, (4, 4, 4), ["GlobalMaxPooling3D", "rank 4"]),
])
def test_shape_errors(name: str, config: dict, shape: tuple, words: list[str]) -> None:
    with pytest.raises(ShapeError) as err:
        paramcount.layer(name, **config).count(shape)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(("name", "config", "words"), [
    ("MaxPooling2D", {"pool_size": 0}, ["pool_size=0"]),
    ("AveragePooling2D", {}, ["needs the argument 'pool_size'"]),
    ("MaxPooling2D", {"padding": "full"}, ["padding='full'", "'valid' or 'same'"]),
    ("AveragePooling2D", {"pool_size": 2, "data_format": "NHWC"}, ["data_format"]),
    ("MaxPool2d", {"kernel_size": 2, "padding": 2},
     ["MaxPool2d: padding=2", "half of kernel_size"]),
    ("AvgPool2d", {"kernel_size": 2, "dilation": 2}, ["AvgPool2d has no argument 'dilation'"]),
    ("AdaptiveAvgPool2d", {"output_size": (0, 2)}, ["output_size"]),
])
def test_spec_errors(name: str, config: dict, words: list[str]) -> None:
    with pytest.raises(SpecError) as err:
        paramcount.layer(name, **config)
    for word in words:
        assert word in str(err.value)
