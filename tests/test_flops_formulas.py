"""The closed forms of MACs that ``--explain`` prints, against the count they stand for.

Every case of tests/test_flops_layers.py whose layer does products (Dense/Linear, EinsumDense,
the convolutions, Dot) is taken again here: the numeric part of ``macs_formula``, evaluated as
tests/oracle.py evaluates parameter formulas, must equal FlopCounterMode's count for one sample
(PyTorch modules, run here) or the layer's own MACs, which test_flops_layers.py checks against
FlopCounterMode running Keras.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from oracle import eval_formula
from test_flops_layers import (
    BATCH,
    HAND_CASES,
    KERAS_CASES,
    LORA_CASES,
    TORCH_CASES,
    TORCH_OPS,
    batch_of,
    counted,
)

from paramcount.cli import main
from paramcount.errors import ShapeError
from paramcount.layers import Formula, make_layer
from paramcount.layers.base import Layer

# the layer types of core.py, conv.py, conv_depthwise.py and merging.py that multiply (the
# others cost 0)
PRODUCTS = {"Linear", "Dense", "EinsumDense", "Dot",
            *(f"Conv{n}d" for n in (1, 2, 3)), *(f"ConvTranspose{n}d" for n in (1, 2, 3)),
            *(f"Conv{n}D{t}" for n in (1, 2, 3) for t in ("", "Transpose")),
            "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"}


def formula_of(layer: Layer, shape: Any) -> Formula | None:
    if isinstance(shape, list):  # Dot: two inputs
        return layer.macs_formula_of(shape)
    return layer.macs_formula(shape)


def check_formula(f: Formula | None) -> int:
    """Evaluate ``f.numeric``; its words and numbers must have the same terms."""
    assert f is not None
    for op in ("×", "+"):
        assert f.symbolic.count(op) == f.numeric.count(op), f
    return eval_formula(f.numeric)


def _mine(cases: list) -> list:
    return [c for c in cases if c[0] in PRODUCTS]


@pytest.mark.parametrize(("name", "args", "shape"), _mine(TORCH_CASES))
def test_torch_module_formula(name: str, args: dict, shape: tuple[int, ...]) -> None:
    layer = make_layer(name, args, "pytorch")
    module = getattr(torch.nn, name)(**args)
    flops = counted(module, torch.randn(1, *shape))  # one sample, as the formula is
    assert 2 * check_formula(layer.macs_formula(shape)) == flops


@pytest.mark.parametrize(("name", "args", "shape"),
                         _mine(KERAS_CASES) + [c[:3] for c in _mine(LORA_CASES)])
def test_keras_layer_formula(name: str, args: dict, shape: Any) -> None:
    layer = make_layer(name, args)
    assert check_formula(formula_of(layer, shape)) == layer.macs_of(
        shape if isinstance(shape, list) else [shape])


@pytest.mark.parametrize(("name", "args", "shape", "ops"), _mine(TORCH_OPS))
def test_keras_layer_formula_as_torch_ops(name: str, args: dict, shape: Any, ops: Any) -> None:
    xs = [batch_of(s) for s in (shape if isinstance(shape, list) else [shape])]
    assert 2 * BATCH * check_formula(formula_of(make_layer(name, args), shape)) == counted(
        ops, *xs)


@pytest.mark.parametrize(("name", "args", "shape", "macs"), HAND_CASES)
def test_course_numbers_formula(name: str, args: dict, shape: tuple, macs: int) -> None:
    assert check_formula(make_layer(name, args).macs_formula(shape)) == macs


# the work written out by hand: (layer, arguments, input shape, numeric part, its value)
WRITTEN = [
    ("Dense", {"units": 2}, (4,), "4 × 2", 8),
    ("Dense", {"units": 5}, (2, 3, 4), "2·3 × 4 × 5", 120),  # 6 positions
    ("Conv2D", {"filters": 2, "kernel_size": 3}, (28, 28, 1), "26·26 × 3·3·1 × 2", 12_168),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2}, (7, 7, 8),
     "7·7 × 3·3·8 × 4", 14_112),  # every input position spread over the kernel
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2}, (8, 8, 3),
     "6·6 × 3·3 × 3·2", 1_944),  # 6 output channels, each from one input channel
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2}, (8, 8, 3),
     "6·6 × 3·3 × 3·2 + 6·6 × 3·2 × 4", 1_944 + 864),  # depthwise, then 1×1 to 4 filters
    ("EinsumDense", {"equation": "abc,cde->abde", "output_shape": (None, 4, 8)}, (10, 16),
     "10·4·8 × 16", 5_120),
    ("EinsumDense", {"equation": "...b,bc->...c", "output_shape": 6}, (3, 5, 4),
     "3·5·6 × 4", 360),
    ("Dot", {"axes": (2, 1)}, [(3, 4), (4, 5)], "3·5 × 4", 60),  # a (3, 4) @ (4, 5) product
]


@pytest.mark.parametrize(("name", "args", "shape", "numeric", "macs"), WRITTEN)
def test_formula_by_hand(name: str, args: dict, shape: Any, numeric: str, macs: int) -> None:
    f = formula_of(make_layer(name, args), shape)
    assert f is not None and f.numeric == numeric and check_formula(f) == macs


def test_pytorch_words() -> None:
    conv = make_layer("ConvTranspose2d", {"in_channels": 4, "out_channels": 6,
                                          "kernel_size": 3, "groups": 2})
    assert conv.macs_formula((4, 5, 5)) == Formula(
        "input positions × k_h·k_w·in × out_channels/groups", "5·5 × 3·3·4 × 3")


def test_formula_needs_known_dims() -> None:
    with pytest.raises(ShapeError, match=r"Dense needs every dimension known to count its MACs"):
        make_layer("Dense", {"units": 2}).macs_formula((None, 4))


CLI = [
    (["Conv2D", "filters=2", "kernel_size=3", "--input-shape", "28,28,1"],
     # 26×26 valid positions × a 3×3×1 kernel × 2 filters = 676 × 18
     "  MACs = output positions × k_h·k_w·in/groups × filters = 26·26 × 3·3·1 × 2 = 12,168 "
     "(FLOPs = 2 × MACs = 24,336)"),
    (["Dense", "units=2", "--input-shape", "3,4"],
     "  MACs = positions × inputs × units = 3 × 4 × 2 = 24 (FLOPs = 2 × MACs = 48)"),
]


@pytest.mark.parametrize(("args", "line"), CLI)
def test_cli_explain_shows_the_work(capsys: pytest.CaptureFixture[str], args: list[str],
                                    line: str) -> None:
    assert main(["layer", *args, "--flops", "--explain"]) == 0
    assert line in capsys.readouterr().out.splitlines()
