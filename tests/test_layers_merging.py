"""Merging layers against Keras: no weights, so the output shape is the test. PyTorch has no
merge modules (torch.add and torch.cat are functions)."""

import pytest
from oracle import check_keras

import paramcount
from paramcount.errors import ShapeError, SpecError

KERAS_CASES = [
    ("Add", {}, [(4,), (4,)]),
    ("Add", {}, [(3, 4), (3, 4), (3, 4)]),
    ("Add", {}, [(3, 4), (1, 4)]),
    ("Add", {}, [(5, 1, 4), (3, 1)]),
    ("Add", {}, [(None, 4), (7, 4)]),
    ("Subtract", {}, [(8, 8, 3), (8, 8, 3)]),
    ("Multiply", {}, [(10, 16), (1, 16)]),
    ("Multiply", {}, [(7, 7, 32), (1, 1, 32)]),
    ("Average", {}, [(6,), (6,), (6,), (6,)]),
    ("Maximum", {}, [(2, 3), (2, 3)]),
    ("Minimum", {}, [(2, 1), (1, 3)]),
    ("Concatenate", {}, [(4,), (6,)]),
    ("Concatenate", {"axis": -1}, [(7, 7, 32), (7, 7, 64), (7, 7, 16)]),
    ("Concatenate", {"axis": 1}, [(3, 5), (4, 5)]),
    ("Concatenate", {"axis": 2}, [(2, 3, 4), (2, 5, 4)]),
    ("Concatenate", {"axis": -2}, [(6, 3), (2, 3)]),
    ("Concatenate", {}, [(None, 3), (5, 4)]),
    ("Concatenate", {"axis": 1}, [(None, 3), (5, 3)]),
    ("Dot", {"axes": 1}, [(4,), (4,)]),
    ("Dot", {"axes": -1}, [(3, 4), (5, 4)]),
    ("Dot", {"axes": (2, 2)}, [(3, 4), (5, 4)]),
    ("Dot", {"axes": (1, 2)}, [(3, 4), (5, 3)]),
    ("Dot", {"axes": (-1, 1), "normalize": True}, [(3, 4), (4, 6)]),
    ("Dot", {"axes": 1}, [(6, 2), (6, 3)]),
]

TF_CASES = [
    ("Add", {}, [(5, 1, 4), (3, 1)]),
    ("Concatenate", {"axis": 1}, [(3, 5), (4, 5)]),
    ("Dot", {"axes": (2, 2)}, [(3, 4), (5, 4)]),
]


@pytest.mark.parametrize(("name", "config", "shapes"), KERAS_CASES)
def test_keras(name: str, config: dict, shapes: list) -> None:
    check_keras(name, config, shapes)


def out(name: str, shapes: list, **config: object) -> tuple:
    return paramcount.layer(name, **config).count(shapes).layers[0].output_shape


def test_hand_checked() -> None:
    # DenseNet: a block's input (56, 56, 64) joined with 32 new feature maps
    assert out("Concatenate", [(56, 56, 64), (56, 56, 32)]) == (56, 56, 96)
    assert out("Add", [(56, 56, 64), (56, 56, 64)]) == (56, 56, 64)
    assert out("Dot", [(10, 64), (12, 64)], axes=2) == (10, 12)  # attention scores


@pytest.mark.parametrize(("name", "config", "shapes", "words"), [
    ("Add", {}, [(3, 4), (3, 5)], ["Add", "(None, 3, 4)", "(None, 3, 5)"]),
    ("Multiply", {}, [(2, 3), (4, 3)], ["Multiply", "(None, 2, 3)", "(None, 4, 3)"]),
    ("Subtract", {}, [(4,), (4,), (4,)], ["Subtract", "exactly 2", "got 3"]),
    ("Dot", {"axes": 1}, [(4,)], ["Dot", "exactly 2", "got 1"]),
    ("Concatenate", {}, [(3, 4), (5, 5)], ["Concatenate", "(None, 3, 4)", "(None, 5, 5)"]),
    ("Concatenate", {}, [(3, 4), (4,)], ["Concatenate", "(None, 3, 4)", "(None, 4)"]),
    ("Concatenate", {"axis": 0}, [(3,), (4,)], ["axis 0", "batch"]),
    ("Concatenate", {"axis": 3}, [(3,), (4,)], ["axis 3", "out of range"]),
    ("Dot", {"axes": 1}, [(3, 4), (5, 4)], ["Dot", "3 and 5"]),
    ("Dot", {"axes": 0}, [(3,), (3,)], ["axis 0", "batch"]),
])
def test_shape_errors(name: str, config: dict, shapes: list, words: list[str]) -> None:
    with pytest.raises(ShapeError) as err:
        paramcount.layer(name, **config).count(shapes)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(("name", "config", "words"), [
    ("Dot", {}, ["Dot needs the argument 'axes'"]),
    ("Dot", {"axes": (1, 2, 3)}, ["Dot", "axes=(1, 2, 3)"]),
    ("Dot", {"axes": 1, "normalize": "yes"}, ["normalize='yes'"]),
    ("Concatenate", {"axis": "last"}, ["Concatenate", "axis='last'"]),
    ("Add", {"axis": 1}, ["Add has no argument 'axis'"]),
])
def test_spec_errors(name: str, config: dict, words: list[str]) -> None:
    with pytest.raises(SpecError) as err:
        paramcount.layer(name, **config)
    for word in words:
        assert word in str(err.value)
