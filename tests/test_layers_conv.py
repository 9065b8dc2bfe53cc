"""Convolutions against the frameworks: Keras 3 Conv*/Conv*Transpose/DepthwiseConv*/SeparableConv*
and PyTorch Conv*d/ConvTranspose*d, every option that changes a weight or the output shape."""

from __future__ import annotations

import pytest
from oracle import check_keras, check_torch

import paramcount
from paramcount.errors import ShapeError, SpecError

KERAS_CASES = [
    # Conv2D: kernel, strides, padding, dilation, groups, bias, data format, LoRA
    ("Conv2D", {"filters": 2, "kernel_size": 3}, (28, 28, 1)),
    ("Conv2D", {"filters": 32, "kernel_size": 3, "strides": 2, "padding": "same"}, (28, 28, 3)),
    ("Conv2D", {"filters": 16, "kernel_size": (3, 5), "strides": (2, 1)}, (32, 31, 8)),
    ("Conv2D", {"filters": 8, "kernel_size": 3, "dilation_rate": 2, "padding": "same"},
     (17, 17, 4)),
    ("Conv2D", {"filters": 8, "kernel_size": 3, "dilation_rate": (2, 3)}, (20, 20, 4)),
    ("Conv2D", {"filters": 12, "kernel_size": 3, "groups": 4}, (16, 16, 8)),
    ("Conv2D", {"filters": 6, "kernel_size": 1, "use_bias": False}, (10, 10, 5)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "data_format": "channels_first"},
     (3, 15, 16)),
    ("Conv2D", {"filters": 16, "kernel_size": 3, "padding": "SAME"}, (None, None, 3)),
    ("Conv2D", {"filters": 8, "kernel_size": 3, "lora_rank": 2}, (10, 10, 4)),
    ("Convolution2D", {"filters": 5, "kernel_size": (2, 2), "strides": (3, 3)}, (10, 11, 2)),
    # Conv1D, with causal padding
    ("Conv1D", {"filters": 4, "kernel_size": 3}, (10, 2)),
    ("Conv1D", {"filters": 4, "kernel_size": 5, "dilation_rate": 2, "padding": "causal"},
     (20, 3)),
    ("Conv1D", {"filters": 6, "kernel_size": 3, "strides": 3, "padding": "causal"}, (20, 3)),
    ("Conv1D", {"filters": 6, "kernel_size": 3, "groups": 2, "data_format": "channels_first"},
     (4, 17)),
    ("Conv1D", {"filters": 7, "kernel_size": 4, "strides": 2, "padding": "same",
                "use_bias": False}, (11, 6)),
    # Conv3D
    ("Conv3D", {"filters": 4, "kernel_size": 3}, (8, 8, 8, 2)),
    ("Conv3D", {"filters": 6, "kernel_size": (1, 3, 3), "strides": (1, 2, 2), "padding": "same",
                "use_bias": False}, (5, 9, 9, 3)),
    ("Conv3D", {"filters": 4, "kernel_size": 2, "groups": 2, "data_format": "channels_first"},
     (4, 6, 6, 6)),
    # transposed: strides, padding, output_padding, dilation, data format
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3}, (7, 7, 8)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
     (7, 7, 8)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "output_padding": 1},
     (7, 7, 8)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same",
                         "output_padding": 1}, (6, 5, 2)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "dilation_rate": 2}, (5, 5, 3)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 2, "strides": 3}, (4, 4, 2)),
    ("Conv2DTranspose", {"filters": 5, "kernel_size": (3, 2), "use_bias": False,
                         "data_format": "channels_first"}, (3, 5, 6)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"},
     (10, 5)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": 0},
     (10, 5)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
     (4, 4, 4, 3)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": (2, 3, 3)}, (3, None, 5, 2)),
    # depthwise and separable
    ("DepthwiseConv2D", {"kernel_size": 3}, (28, 28, 8)),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 3, "strides": 2,
                         "padding": "same", "use_bias": False}, (15, 15, 4)),
    ("DepthwiseConv2D", {"kernel_size": 3, "dilation_rate": 2,
                         "data_format": "channels_first"}, (4, 12, 12)),
    ("DepthwiseConv1D", {"kernel_size": 5, "depth_multiplier": 2}, (20, 6)),
    ("SeparableConv2D", {"filters": 16, "kernel_size": 3}, (28, 28, 8)),
    ("SeparableConv2D", {"filters": 8, "kernel_size": 3, "depth_multiplier": 2, "strides": 2,
                         "padding": "same", "use_bias": False}, (15, 15, 4)),
    ("SeparableConv2D", {"filters": 6, "kernel_size": (3, 1),
                         "data_format": "channels_first"}, (4, 10, 10)),
    ("SeparableConv1D", {"filters": 8, "kernel_size": 3, "depth_multiplier": 3}, (20, 5)),
    ("SeparableConvolution1D", {"filters": 2, "kernel_size": 2, "dilation_rate": 3}, (9, 3)),
]

TORCH_CASES = [
    # Conv2d: stride, padding int/tuple/'same'/'valid', dilation, groups, bias, padding_mode
    ("Conv2d", {"in_channels": 1, "out_channels": 2, "kernel_size": 3}, (1, 28, 28)),
    ("Conv2d", {"in_channels": 3, "out_channels": 16, "kernel_size": 3, "stride": 2,
                "padding": 1}, (3, 32, 32)),
    ("Conv2d", {"in_channels": 3, "out_channels": 8, "kernel_size": (3, 5), "stride": (2, 1),
                "padding": (1, 2)}, (3, 17, 20)),
    ("Conv2d", {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "padding": "same",
                "dilation": 2}, (4, 15, 15)),
    ("Conv2d", {"in_channels": 4, "out_channels": 8, "kernel_size": 4, "padding": "same"},
     (4, 15, 16)),
    ("Conv2d", {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "padding": "valid"},
     (4, 9, 9)),
    ("Conv2d", {"in_channels": 8, "out_channels": 12, "kernel_size": 3, "groups": 4},
     (8, 16, 16)),
    ("Conv2d", {"in_channels": 8, "out_channels": 8, "kernel_size": 3, "groups": 8,
                "bias": False}, (8, 10, 10)),
    ("Conv2d", {"in_channels": 3, "out_channels": 6, "kernel_size": 3, "padding": 1,
                "padding_mode": "reflect"}, (3, 8, 8)),
    ("Conv2d", {"in_channels": 3, "out_channels": 6, "kernel_size": 3, "padding": 2,
                "padding_mode": "circular"}, (3, 2, 2)),
    ("Conv2d", {"in_channels": 3, "out_channels": 6, "kernel_size": 3, "padding": (1, 0),
                "padding_mode": "replicate", "stride": (1, 2)}, (3, 9, 9)),
    ("Conv2d", {"in_channels": 3, "out_channels": 5, "kernel_size": 3, "dilation": (2, 1),
                "stride": 3}, (3, 20, 20)),
    # Conv1d, Conv3d
    ("Conv1d", {"in_channels": 2, "out_channels": 4, "kernel_size": 3}, (2, 10)),
    ("Conv1d", {"in_channels": 6, "out_channels": 4, "kernel_size": 5, "stride": 2,
                "padding": 2, "dilation": 2, "groups": 2}, (6, 33)),
    ("Conv1d", {"in_channels": 3, "out_channels": 5, "kernel_size": 4, "padding": "same",
                "padding_mode": "reflect"}, (3, 9)),
    ("Conv3d", {"in_channels": 2, "out_channels": 4, "kernel_size": 3}, (2, 8, 8, 8)),
    ("Conv3d", {"in_channels": 4, "out_channels": 8, "kernel_size": (1, 3, 3),
                "stride": (1, 2, 2), "padding": (0, 1, 1), "bias": False, "groups": 2},
     (4, 5, 9, 9)),
    # ConvTranspose*d: stride, padding, output_padding, groups, dilation, bias
    ("ConvTranspose2d", {"in_channels": 8, "out_channels": 4, "kernel_size": 3}, (8, 7, 7)),
    ("ConvTranspose2d", {"in_channels": 8, "out_channels": 4, "kernel_size": 3, "stride": 2,
                         "padding": 1, "output_padding": 1}, (8, 7, 7)),
    ("ConvTranspose2d", {"in_channels": 8, "out_channels": 6, "kernel_size": 4, "stride": 2,
                         "padding": 1, "groups": 2}, (8, 5, 5)),
    ("ConvTranspose2d", {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "dilation": 2,
                         "output_padding": 1}, (4, 5, 5)),
    ("ConvTranspose2d", {"in_channels": 4, "out_channels": 4, "kernel_size": (3, 5),
                         "stride": (2, 3), "padding": (1, 2), "bias": False}, (4, 6, 6)),
    ("ConvTranspose1d", {"in_channels": 5, "out_channels": 3, "kernel_size": 4, "stride": 2,
                         "padding": 1}, (5, 10)),
    ("ConvTranspose1d", {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 2,
                         "stride": 3, "output_padding": 2}, (4, 10)),
    ("ConvTranspose3d", {"in_channels": 3, "out_channels": 2, "kernel_size": 3, "stride": 2,
                         "padding": 1, "output_padding": 1}, (3, 4, 4, 4)),
    ("ConvTranspose3d", {"in_channels": 4, "out_channels": 2, "kernel_size": (2, 3, 3),
                         "groups": 2, "bias": False}, (4, 3, 4, 5)),
]

TF_CASES = [
    ("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"}, (15, 16, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 5, "dilation_rate": 2, "padding": "causal"},
     (20, 3)),
    ("Conv3D", {"filters": 4, "kernel_size": 2, "groups": 2}, (6, 6, 6, 4)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "output_padding": 1},
     (7, 7, 8)),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "use_bias": False},
     (12, 12, 4)),
    ("SeparableConv2D", {"filters": 16, "kernel_size": 3, "padding": "same"}, (28, 28, 8)),
]


@pytest.mark.parametrize(("name", "config", "shape"), KERAS_CASES)
def test_keras(name: str, config: dict, shape: tuple) -> None:
    check_keras(name, config, shape)


@pytest.mark.parametrize(("name", "config", "shape"), TORCH_CASES)
def test_torch(name: str, config: dict, shape: tuple) -> None:
    check_torch(name, config, shape)


# -- hand checks --------------------------------------------------------------------------------

def test_conv2d_by_hand() -> None:
    # kernel 3·3·1·2 = 18 plus 2 biases; 28 - 3 + 1 = 26
    s = paramcount.layer("Conv2D", filters=2, kernel_size=3).count((28, 28, 1))
    assert s.total_params == 20
    assert tuple(s.layers[0].output_shape) == (26, 26, 2)


def test_torch_in_channels_gives_the_input_shape() -> None:
    # (3·3·3 + 1)·8 = 224, channels first, spatial dims unknown
    s = paramcount.layer("Conv2d", in_channels=3, out_channels=8, kernel_size=3).count()
    assert s.total_params == 224
    assert tuple(s.layers[0].output_shape) == (8, None, None)


def test_lazy_conv_reads_in_channels_from_the_input() -> None:
    # LazyConv2d(4, 3) on 3 channels: 4·3·3·3 + 4 = 112
    s = paramcount.layer("LazyConv2d", out_channels=4, kernel_size=3).count((3, 8, 8))
    assert s.total_params == 112
    assert tuple(s.layers[0].output_shape) == (4, 6, 6)


# -- bad input ----------------------------------------------------------------------------------

SPEC_ERRORS = [
    ("Conv2D", {"filters": 0, "kernel_size": 3}, r"Conv2D: filters=0 is invalid"),
    ("Conv2D", {"filters": 2, "kernel_size": -1}, r"Conv2D: kernel_size=-1 is invalid"),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "full"}, r"Conv2D: padding='full'"),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "causal"},
     r"Conv2D: padding='causal' is invalid"),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": 1}, r"Conv2D: padding=1 .*PyTorch"),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
     r"Conv2D: Keras refuses strides=\(2, 2\) together with dilation_rate"),
    ("Conv2D", {"filters": 6, "kernel_size": 3, "groups": 4},
     r"Conv2D: filters=6 is not divisible by groups=4"),
    ("Conv2D", {"filter": 2, "kernel_size": 3}, r"Conv2D needs the argument 'filters'"),
    ("Conv2d", {"in_channels": 6, "out_channels": 4, "kernel_size": 3, "groups": 4},
     r"Conv2d: in_channels=6 is not divisible by groups=4"),
    ("Conv2d", {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding": "same",
                "stride": 2}, r"Conv2d: PyTorch refuses padding='same'"),
    ("Conv2d", {"in_channels": 4, "out_channels": 4, "kernel_size": 3,
                "padding_mode": "mirror"}, r"Conv2d: padding_mode='mirror' is invalid"),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 2},
     r"Conv2DTranspose: output_padding=\(2, 2\) is invalid"),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "groups": 2},
     r"Conv2DTranspose: Keras has no groups"),
    ("ConvTranspose2d", {"in_channels": 4, "out_channels": 4, "kernel_size": 3,
                         "padding": "same"}, r"ConvTranspose2d: padding='same' is invalid"),
    ("ConvTranspose2d", {"in_channels": 4, "out_channels": 4, "kernel_size": 3,
                         "padding_mode": "reflect"}, r"ConvTranspose2d: padding_mode='reflect'"),
    # CPU PyTorch refuses this at the first call ("output padding must be smaller than either
    # stride or dilation"); the meta device does not check it
    ("ConvTranspose2d", {"in_channels": 4, "out_channels": 4, "kernel_size": 3,
                         "output_padding": 1}, r"ConvTranspose2d: output_padding=\(1, 1\)"),
    ("DepthwiseConv1D", {"kernel_size": 3, "padding": "causal"},
     r"DepthwiseConv1D: padding='causal' is invalid"),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 0},
     r"SeparableConv2D: depth_multiplier=0 is invalid"),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "lora_rank": 2},
     r"Conv2DTranspose: Keras has no lora_rank"),
    ("DepthwiseConv2D", {"kernel_size": 3, "filters": 4},
     r"DepthwiseConv2D has no argument 'filters'"),
]


@pytest.mark.parametrize(("name", "config", "pattern"), SPEC_ERRORS)
def test_bad_arguments(name: str, config: dict, pattern: str) -> None:
    with pytest.raises(SpecError, match=pattern):
        paramcount.layer(name, **config)


SHAPE_ERRORS = [
    ("Conv2D", {"filters": 2, "kernel_size": 5}, (3, 3, 1), r"Conv2D: kernel 5 .*larger"),
    ("Conv2D", {"filters": 2, "kernel_size": 3}, (28, 28), r"Conv2D expects .*rank 3"),
    ("Conv2D", {"filters": 2, "kernel_size": 3}, (8, 8, None), r"Conv2D .*known .*channels"),
    ("Conv2D", {"filters": 3, "kernel_size": 3, "groups": 3}, (8, 8, 8),
     r"Conv2D: the 8 input channels .*groups=3"),
    ("Conv2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3}, (4, 8, 8),
     r"Conv2d expects in_channels=3"),
    ("Conv2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 2,
                "padding_mode": "reflect"}, (3, 2, 2), r"Conv2d: padding_mode='reflect'"),
    ("ConvTranspose2d", {"in_channels": 2, "out_channels": 4, "kernel_size": 3,
                         "padding": 3}, (2, 2, 2), r"ConvTranspose2d: the output .*empty"),
    ("DepthwiseConv2D", {"kernel_size": 3}, (8, 8, 8, 8), r"DepthwiseConv2D expects .*rank 3"),
]


@pytest.mark.parametrize(("name", "config", "shape", "pattern"), SHAPE_ERRORS)
def test_bad_shapes(name: str, config: dict, shape: tuple, pattern: str) -> None:
    with pytest.raises(ShapeError, match=pattern):
        paramcount.layer(name, **config).count(shape)
