"""Forward MACs of single layers against torch.utils.flop_counter.FlopCounterMode.

PyTorch modules are built with the same arguments as paramcount's layer and run on a batch of 2;
Keras 3 layers run on the PyTorch backend (tests/conftest.py), so FlopCounterMode counts the
products Keras itself computes; a few Keras layers are also rebuilt from plain torch ops on the
channels-first layout. paramcount's FLOPs (2 × MACs) for the same batch must equal the count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import paramcount
from paramcount.errors import ShapeError
from paramcount.layers import make_layer
from paramcount.layers.base import _REGISTRY, load_all

BATCH = 2


def counted(fn: Callable[..., Any], *xs: torch.Tensor) -> int:
    """FLOPs that FlopCounterMode counts for ``fn(*xs)``."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*xs)
    return int(counter.get_total_flops())


def our_flops(name: str, args: dict, shape: Any, framework: str | None = None) -> int:
    summary = paramcount.layer(name, framework=framework, **args).count(shape)
    return summary.flops(batch=BATCH).flops


def batch_of(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(BATCH, *shape)


# -- PyTorch: torch.nn.<name>(**args) and paramcount's <name> with the same args ---------------

TORCH_CASES: list[tuple[str, dict[str, Any], tuple[int, ...]]] = [
    # Linear: addmm with a bias, mm without; a 3-D input is flattened to rows
    ("Linear", {"in_features": 4, "out_features": 3}, (4,)),
    ("Linear", {"in_features": 4, "out_features": 3, "bias": False}, (4,)),
    ("Linear", {"in_features": 6, "out_features": 5}, (7, 6)),
    ("Linear", {"in_features": 6, "out_features": 5, "bias": False}, (2, 7, 6)),
    # Conv1d/2d/3d: stride, integer and "same" padding (odd and even kernels), dilation, groups
    ("Conv1d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3}, (3, 16)),
    ("Conv1d", {"in_channels": 3, "out_channels": 4, "kernel_size": 5, "stride": 2,
                "padding": 2}, (3, 17)),
    ("Conv1d", {"in_channels": 4, "out_channels": 6, "kernel_size": 4, "padding": "same",
                "groups": 2}, (4, 11)),
    ("Conv2d", {"in_channels": 1, "out_channels": 2, "kernel_size": 3}, (1, 28, 28)),
    ("Conv2d", {"in_channels": 3, "out_channels": 8, "kernel_size": 3, "stride": 2,
                "padding": 1}, (3, 15, 16)),
    ("Conv2d", {"in_channels": 3, "out_channels": 5, "kernel_size": 3, "padding": "same",
                "dilation": 2}, (3, 9, 10)),
    ("Conv2d", {"in_channels": 4, "out_channels": 6, "kernel_size": (2, 4), "padding": "same",
                "bias": False}, (4, 7, 9)),
    ("Conv2d", {"in_channels": 6, "out_channels": 12, "kernel_size": 3, "groups": 3}, (6, 8, 8)),
    ("Conv2d", {"in_channels": 6, "out_channels": 6, "kernel_size": 3, "groups": 6,
                "padding": 1}, (6, 8, 8)),  # depthwise
    ("Conv2d", {"in_channels": 2, "out_channels": 4, "kernel_size": (3, 5), "stride": (2, 1),
                "padding": (1, 2), "dilation": (1, 2), "bias": False}, (2, 11, 12)),
    ("Conv2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 1,
                "padding_mode": "reflect"}, (3, 6, 6)),
    ("Conv3d", {"in_channels": 2, "out_channels": 3, "kernel_size": 3}, (2, 5, 6, 7)),
    ("Conv3d", {"in_channels": 4, "out_channels": 4, "kernel_size": (1, 3, 3),
                "stride": (1, 2, 2), "padding": (0, 1, 1), "groups": 2}, (4, 3, 8, 8)),
    # ConvTranspose1d/2d/3d: stride, padding, output_padding, dilation, groups
    ("ConvTranspose1d", {"in_channels": 3, "out_channels": 2, "kernel_size": 4, "stride": 2,
                         "padding": 1, "output_padding": 1}, (3, 9)),
    ("ConvTranspose2d", {"in_channels": 8, "out_channels": 4, "kernel_size": 3}, (8, 7, 7)),
    ("ConvTranspose2d", {"in_channels": 4, "out_channels": 3, "kernel_size": 3, "stride": 2,
                         "padding": 1, "output_padding": 1}, (4, 5, 6)),
    ("ConvTranspose2d", {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 2,
                         "dilation": 2, "bias": False}, (4, 5, 5)),
    ("ConvTranspose3d", {"in_channels": 2, "out_channels": 3, "kernel_size": 2,
                         "stride": 2}, (2, 3, 4, 4)),
    # no product: 0 in FlopCounterMode and here
    ("BatchNorm1d", {"num_features": 4}, (4, 10)),
    ("BatchNorm2d", {"num_features": 3}, (3, 8, 8)),
    ("InstanceNorm2d", {"num_features": 3, "affine": True}, (3, 8, 8)),
    ("LayerNorm", {"normalized_shape": 6}, (5, 6)),
    ("GroupNorm", {"num_groups": 2, "num_channels": 4}, (4, 6, 6)),
    ("RMSNorm", {"normalized_shape": 6}, (5, 6)),
    ("MaxPool2d", {"kernel_size": 2}, (3, 8, 8)),
    ("AvgPool1d", {"kernel_size": 3, "stride": 2, "padding": 1}, (3, 9)),
    ("AdaptiveAvgPool2d", {"output_size": 1}, (4, 7, 7)),
    ("AdaptiveMaxPool1d", {"output_size": 3}, (4, 10)),
    ("ReLU", {}, (3, 4)),
    ("GELU", {"approximate": "tanh"}, (3, 4)),
    ("SiLU", {}, (3, 4)),
    ("Softmax", {"dim": -1}, (3, 4)),
    ("PReLU", {"num_parameters": 3}, (3, 4, 4)),
    ("Flatten", {}, (3, 4, 4)),
    ("Unflatten", {"dim": 1, "unflattened_size": (2, 3)}, (6, 4)),
    ("Identity", {}, (4,)),
    ("Dropout", {"p": 0.3}, (4, 5)),
    ("Dropout2d", {"p": 0.3}, (3, 4, 4)),
    ("Upsample", {"scale_factor": 2, "mode": "bilinear"}, (3, 4, 4)),
    ("Upsample", {"size": 7, "mode": "nearest"}, (3, 4)),
    ("ZeroPad2d", {"padding": 1}, (3, 4, 4)),
    ("ReflectionPad1d", {"padding": 2}, (3, 5)),
]


@pytest.mark.parametrize(("name", "args", "shape"), TORCH_CASES)
def test_torch_module(name: str, args: dict, shape: tuple[int, ...]) -> None:
    module = getattr(torch.nn, name)(**args)
    assert our_flops(name, args, shape, "pytorch") == counted(module, batch_of(shape))


def test_torch_embedding() -> None:
    args = {"num_embeddings": 10, "embedding_dim": 4}
    ids = torch.randint(0, 10, (BATCH, 6))
    assert our_flops("Embedding", args, (6,), "pytorch") == counted(torch.nn.Embedding(**args), ids)


def test_unknown_length_is_the_sequence_length() -> None:
    # a (None, 6) input counted for sequences of 7 is a Linear over 7 positions
    ours = paramcount.layer("Linear", in_features=6, out_features=5).count((None, 6))
    want = counted(torch.nn.Linear(6, 5), batch_of((7, 6)))
    assert ours.flops(seq_len=7, batch=BATCH).flops == want


# -- Keras, run on the PyTorch backend: FlopCounterMode counts Keras's own products -------------

KERAS_CASES: list[tuple[str, dict[str, Any], Any]] = [
    ("Dense", {"units": 2}, (4,)),
    ("Dense", {"units": 5}, (3, 4)),
    ("Dense", {"units": 5, "use_bias": False}, (2, 3, 4)),
    ("Conv2D", {"filters": 2, "kernel_size": 3}, (28, 28, 1)),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "same"}, (28, 28, 1)),
    ("Conv2D", {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"}, (9, 9, 2)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "valid"}, (15, 16, 3)),
    ("Conv2D", {"filters": 6, "kernel_size": 3, "groups": 2, "dilation_rate": 2}, (12, 12, 4)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "data_format": "channels_first"},
     (3, 15, 16)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "padding": "causal"},
     (10, 3)),
    ("Conv1D", {"filters": 7, "kernel_size": 4, "strides": 2, "padding": "same"}, (11, 6)),
    ("Conv3D", {"filters": 3, "kernel_size": (1, 3, 3), "strides": (1, 2, 2), "padding": "same"},
     (3, 8, 8, 2)),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2}, (8, 8, 3)),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 3, "strides": 2,
                         "padding": "same"}, (9, 9, 2)),
    ("DepthwiseConv1D", {"kernel_size": 5, "padding": "same"}, (12, 4)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2}, (8, 8, 3)),
    ("SeparableConv1D", {"filters": 5, "kernel_size": 3, "strides": 2, "padding": "same"},
     (11, 4)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
     (5, 5, 3)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": 1},
     (4, 6, 2)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 4, "strides": 2}, (10, 5)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2}, (2, 3, 3, 3)),
    ("EinsumDense", {"equation": "abc,cd->abd", "output_shape": (None, 6)}, (3, 4)),
    ("EinsumDense", {"equation": "abc,cde->abde", "output_shape": (None, 4, 8),
                     "bias_axes": "de"}, (10, 16)),
    ("EinsumDense", {"equation": "abcd,cde->abe", "output_shape": (None, 6)}, (7, 4, 8)),
    ("EinsumDense", {"equation": "abc,bd->ad", "output_shape": 6}, (3, 4)),  # c summed first
    ("EinsumDense", {"equation": "...b,bc->...c", "output_shape": 6}, (3, 5, 4)),
    ("EinsumDense", {"equation": "abc...,cd->abd...", "output_shape": (5, 7)}, (5, 4, 9, 2)),
    ("Dot", {"axes": (2, 1)}, [(3, 4), (4, 5)]),
    ("Dot", {"axes": 2}, [(3, 4), (5, 4)]),
    ("Dot", {"axes": 1}, [(4,), (4,)]),
    ("Dot", {"axes": 1, "normalize": True}, [(6, 3), (6, 2)]),
    # no product
    ("Add", {}, [(3, 4), (3, 4)]),
    ("Concatenate", {}, [(3, 4), (3, 2)]),
    ("MaxPooling2D", {}, (8, 8, 3)),
    ("GlobalAveragePooling2D", {}, (8, 8, 3)),
    ("BatchNormalization", {}, (8, 8, 3)),
    ("LayerNormalization", {}, (5, 6)),
    ("UpSampling2D", {"interpolation": "bilinear"}, (4, 4, 3)),
    ("Embedding", {"input_dim": 10, "output_dim": 4}, (6,)),
]


def keras_flops(name: str, args: dict, shape: Any) -> int:
    """FLOPs of ``keras.layers.<name>(**args)`` on a batch, counted in FlopCounterMode."""
    import keras

    layer = getattr(keras.layers, name)(**args)
    if name == "Embedding":
        xs = [torch.randint(0, args["input_dim"], (BATCH, *shape))]
    else:
        shapes = shape if isinstance(shape, list) else [shape]
        xs = [batch_of(s) for s in shapes]
    call = (lambda *t: layer(list(t))) if isinstance(shape, list) else layer
    call(*xs)  # build first: a LoRA merge or weight creation is no part of the forward pass
    return counted(call, *xs)


@pytest.mark.parametrize(("name", "args", "shape"), KERAS_CASES)
def test_keras_layer(name: str, args: dict, shape: Any) -> None:
    assert our_flops(name, args, shape) == keras_flops(name, args, shape)


# Keras's LoRA adds lora_a @ lora_b to the kernel once per call, a product paramcount leaves out
# (it does not grow with the batch): Keras's count is paramcount's plus that merge.
LORA_CASES = [
    ("Dense", {"units": 5, "lora_rank": 2}, (3, 4), 4 * 2 * 5),  # in × rank × units
    ("Conv2D", {"filters": 6, "kernel_size": 3, "lora_rank": 2}, (8, 8, 4),
     3 * 3 * 4 * 2 * 6),  # kernel × in × rank × filters
]


@pytest.mark.parametrize(("name", "args", "shape", "merge_macs"), LORA_CASES)
def test_keras_lora_merge_is_left_out(name: str, args: dict, shape: tuple, merge_macs: int
                                      ) -> None:
    assert our_flops(name, args, shape) + 2 * merge_macs == keras_flops(name, args, shape)


# -- Keras layers rebuilt from plain torch ops on the channels-first layout ----------------------

def _nchw(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


TORCH_OPS: list[tuple[str, dict[str, Any], Any, Callable[..., Any]]] = [
    ("Dense", {"units": 5}, (3, 4), lambda x: x @ torch.randn(4, 5)),
    # 28x28 with a 3x3 kernel, stride 2, "same": 14x14, which padding 1 gives too
    ("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"}, (28, 28, 3),
     lambda x: F.conv2d(_nchw(x), torch.randn(8, 3, 3, 3), stride=2, padding=1)),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2}, (8, 8, 3),
     lambda x: F.conv2d(_nchw(x), torch.randn(6, 1, 3, 3), groups=3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2}, (8, 8, 3),
     lambda x: F.conv2d(F.conv2d(_nchw(x), torch.randn(6, 1, 3, 3), groups=3),
                        torch.randn(4, 6, 1, 1))),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
     (5, 5, 3), lambda x: F.conv_transpose2d(_nchw(x), torch.randn(3, 4, 3, 3), stride=2,
                                             padding=1, output_padding=1)),
    ("Conv1D", {"filters": 4, "kernel_size": 3}, (10, 2),
     lambda x: F.conv1d(x.transpose(1, 2), torch.randn(4, 2, 3))),
    ("EinsumDense", {"equation": "abc,cde->abde", "output_shape": (None, 4, 8)}, (10, 16),
     lambda x: torch.einsum("abc,cde->abde", x, torch.randn(16, 4, 8))),
    ("Dot", {"axes": (2, 1)}, [(3, 4), (4, 5)], torch.bmm),
    ("Dot", {"axes": 1}, [(4,), (4,)], lambda x, y: torch.einsum("bi,bi->b", x, y)),
]


@pytest.mark.parametrize(("name", "args", "shape", "ops"), TORCH_OPS)
def test_keras_layer_as_torch_ops(name: str, args: dict, shape: Any,
                                  ops: Callable[..., Any]) -> None:
    xs = [batch_of(s) for s in (shape if isinstance(shape, list) else [shape])]
    assert our_flops(name, args, shape) == counted(ops, *xs)


# -- the course's numbers, by hand ----------------------------------------------------------------

HAND_CASES = [
    ("Dense", {"units": 2}, (4,), 4 * 2),  # 4 inputs × 2 units
    ("Conv2D", {"filters": 2, "kernel_size": 3}, (28, 28, 1), 26 * 26 * 9 * 2),  # valid: 26x26
    ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "same"}, (28, 28, 1),
     28 * 28 * 9 * 2),  # same: 28x28 positions
]


@pytest.mark.parametrize(("name", "args", "shape", "macs"), HAND_CASES)
def test_course_numbers(name: str, args: dict, shape: tuple, macs: int) -> None:
    flops = paramcount.layer(name, **args).count(shape).flops()
    assert (flops.macs, flops.flops) == (macs, 2 * macs)


def test_macs_need_known_dims() -> None:
    dense = make_layer("Dense", {"units": 2})
    with pytest.raises(ShapeError, match=r"Dense needs every dimension known to count its MACs; "
                                         r"got the dimensions \(None, 7\)"):
        dense.macs((None, 7, 4))


# -- every registered layer of these modules has a formula ---------------------------------------

_MODULES = {"core", "conv", "conv_depthwise", "pooling", "normalization", "activations",
            "reshaping", "merging", "preprocessing"}
_PAIR = [(3, 4), (3, 4)]
# (arguments, input shape) by type; PyTorch names take TORCH_SAMPLES where channels come first
SAMPLES: dict[str, tuple[dict[str, Any], Any]] = {
    "Activation": ({"activation": "relu"}, (4,)),
    "Dropout": ({"rate": 0.5}, (4,)), "AlphaDropout": ({"rate": 0.5}, (4,)),
    "GaussianDropout": ({"rate": 0.5}, (4,)), "GaussianNoise": ({"stddev": 0.1}, (4,)),
    "SpatialDropout1D": ({"rate": 0.5}, (8, 3)), "SpatialDropout2D": ({"rate": 0.5}, (4, 4, 3)),
    "SpatialDropout3D": ({"rate": 0.5}, (2, 4, 4, 3)),
    "Dense": ({"units": 2}, (3, 4)),
    "EinsumDense": ({"equation": "ab,bc->ac", "output_shape": 2}, (4,)),
    "Embedding": ({"input_dim": 10, "output_dim": 3}, (5,)),
    "PositionEmbedding": ({"sequence_length": 8}, (5, 3)),
    "DepthwiseConv1D": ({"kernel_size": 3}, (8, 3)),
    "DepthwiseConv2D": ({"kernel_size": 3}, (8, 8, 3)),
    **{f"{kind}{n}D": ({"filters": 2, "kernel_size": 3}, shape)
       for kind in ("Conv", "SeparableConv") for n, shape in ((1, (8, 3)), (2, (8, 8, 3)))},
    **{f"Conv{n}D{t}": ({"filters": 2, "kernel_size": 3}, shape) for t in ("", "Transpose")
       for n, shape in ((1, (8, 3)), (2, (8, 8, 3)), (3, (4, 4, 4, 2)))},
    **{m: ({}, _PAIR) for m in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")},
    "Concatenate": ({}, [(3, 4), (3, 2)]),
    "Dot": ({"axes": -1}, [(3, 4), (5, 4)]),
    "LayerNormalization": ({}, (4, 3)), "RMSNormalization": ({}, (4, 3)),
    "UnitNormalization": ({}, (4, 3)), "GroupNormalization": ({"groups": 3}, (4, 4, 3)),
    **{f"{p}Pooling{n}D": ({"pool_size": 2}, shape) for p in ("Max", "Average")
       for n, shape in ((1, (8, 3)), (2, (8, 8, 3)), (3, (4, 4, 4, 3)))},
    **{f"Global{p}Pooling{n}D": ({}, shape) for p in ("Max", "Average")
       for n, shape in ((1, (8, 3)), (2, (8, 8, 3)), (3, (4, 4, 4, 3)))},
    **{f"Adaptive{p}Pooling{n}D": ({"output_size": 2}, shape) for p in ("Max", "Average")
       for n, shape in ((1, (8, 3)), (2, (8, 8, 3)), (3, (4, 4, 4, 3)))},
    "Rescaling": ({"scale": 0.5}, (4, 4, 3)),
    **{s: ({"height": 2, "width": 2}, (4, 4, 3)) for s in ("Resizing", "CenterCrop",
                                                          "RandomCrop")},
    "LayerScale": ({"projection_dim": 3}, (4, 3)),
    "CustomScaleLayer": ({"scale": 0.2}, _PAIR),
    "TFOpLambda": ({"function": "linalg.matmul"}, [(3, 4), (4, 5)]),
    "Reshape": ({"target_shape": [-1]}, (4, 3)),
    "Unflatten": ({"dim": 1, "unflattened_size": [2, 2]}, (4, 3)),
    "Permute": ({"dims": [2, 1]}, (4, 3)),
    "RepeatVector": ({"n": 2}, (3,)),
    **{f"{k}{n}D": ({}, shape) for k in ("Cropping", "ZeroPadding", "UpSampling")
       for n, shape in ((1, (8, 3)), (2, (4, 4, 3)), (3, (4, 4, 4, 3)))},
    **{u: ({"scale_factor": 2}, (3, 4, 4)) for u in ("Upsample", "UpsamplingNearest2d",
                                                    "UpsamplingBilinear2d")},
    **{f"{p}Pad{n}d": ({"padding": 1, **({"value": 0.0} if p == "Constant" else {})},
                       (3,) + (4,) * n)
       for p in ("Zero", "Constant", "Reflection", "Replication", "Circular") for n in (1, 2, 3)},
}
TORCH_SAMPLES: dict[str, tuple[dict[str, Any], Any]] = {
    **{f"Conv{n}D{t}": ({"out_channels": 2, "kernel_size": 3}, (3,) + (6,) * n)
       for t in ("", "Transpose") for n in (1, 2, 3)},
    "BatchNormalization": ({"num_features": 3}, (3, 4)),
    "InstanceNormalization": ({"num_features": 3}, (3, 4)),
    "LayerNormalization": ({"normalized_shape": 3}, (4, 3)),
    "RMSNormalization": ({"normalized_shape": 3}, (4, 3)),
    "GroupNormalization": ({"num_groups": 3, "num_channels": 3}, (3, 4, 4)),
    **{f"{p}Pooling{n}D": ({"kernel_size": 2}, (3,) + (4,) * n) for p in ("Max", "Average")
       for n in (1, 2, 3)},
    **{f"Adaptive{p}Pooling{n}D": ({"output_size": 2}, (3,) + (4,) * n)
       for p in ("Max", "Average") for n in (1, 2, 3)},
}
# SlicingOpLambda never builds (its output shape is unknowable): no input is valid
NO_VALID_INPUT = {"SlicingOpLambda"}


def _names() -> list[str]:
    return sorted(n for n, e in load_all().items()
                  if e.cls.__module__.rsplit(".", 1)[-1] in _MODULES
                  and e.cls.type_name not in NO_VALID_INPUT)


@pytest.mark.parametrize("name", _names())
def test_every_layer_has_a_mac_formula(name: str) -> None:
    entry = _REGISTRY[name]
    samples = TORCH_SAMPLES if entry.torch_name else {}
    args, shape = samples.get(entry.cls.type_name) or SAMPLES.get(entry.cls.type_name,
                                                                  ({}, (4, 4, 3)))
    flops = paramcount.layer(name, **args).count(shape).flops()
    assert flops.unknown == {} and flops.complete


def test_the_registry_walk_sees_these_modules() -> None:
    # the walk above must cover every family, or a typo in _MODULES would pass silently
    seen = {_REGISTRY[n].cls.__module__.rsplit(".", 1)[-1] for n in _names()}
    assert seen == _MODULES
    with pytest.raises(ShapeError):  # why SlicingOpLambda is left out of the walk
        paramcount.layer("SlicingOpLambda", function="__operators__.getitem").count((4, 3))
