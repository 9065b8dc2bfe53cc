"""Core layers (Dense/Linear, EinsumDense, Embedding, PReLU) against Keras 3 and PyTorch."""

from __future__ import annotations

import re

import pytest
from oracle import check_keras, check_torch

import paramcount
from paramcount.errors import ShapeError, SpecError

KERAS_CASES = [
    ("Dense", {"units": 2}, (4,)),
    ("Dense", {"units": 3}, (5, 4)),
    ("Dense", {"units": 3}, (2, 5, 4)),
    ("Dense", {"units": 7, "use_bias": False}, (4,)),
    ("Dense", {"units": 7, "use_bias": False}, (3, 4)),
    ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 64, "bias_axes": "c"}, (32,)),
    ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 64}, (32,)),
    ("EinsumDense", {"equation": "abc,cd->abd", "output_shape": (None, 64), "bias_axes": "d"},
     (32, 128)),
    ("EinsumDense", {"equation": "abc,cd->abd", "output_shape": (32, 64), "bias_axes": "bd"},
     (32, 128)),
    ("EinsumDense", {"equation": "...b,bc->...c", "output_shape": 64, "bias_axes": "c"},
     (3, 4, 128)),
    ("EinsumDense", {"equation": "...b,bc->...c", "output_shape": 16}, (8,)),
    ("EinsumDense", {"equation": "abc...,cd->abd...", "output_shape": (5, 7), "bias_axes": "bd"},
     (5, 4, 9, 2)),
    ("EinsumDense", {"equation": "abc,cde->abde", "output_shape": (None, 4, 8),
                     "bias_axes": "de"}, (10, 16)),
    ("EinsumDense", {"equation": "abcd,cde->abe", "output_shape": (None, 6), "bias_axes": "e"},
     (7, 4, 8)),
    ("EinsumDense", {"equation": "abc,bcd->ad", "output_shape": 5, "bias_axes": "d"}, (3, 4)),
    ("Embedding", {"input_dim": 100, "output_dim": 8}, (5,)),
    ("Embedding", {"input_dim": 10, "output_dim": 3}, (2, 4)),
    ("Embedding", {"input_dim": 50, "output_dim": 4, "mask_zero": True}, (None,)),
    ("PReLU", {}, (4,)),
    ("PReLU", {}, (8, 8, 3)),
    ("PReLU", {"shared_axes": [1, 2]}, (8, 8, 3)),
    ("PReLU", {"shared_axes": 1}, (6, 5)),
]

TORCH_CASES = [
    ("Linear", {"in_features": 4, "out_features": 2}, (4,)),
    ("Linear", {"in_features": 4, "out_features": 3}, (5, 4)),
    ("Linear", {"in_features": 4, "out_features": 3}, (2, 5, 4)),
    ("Linear", {"in_features": 4, "out_features": 7, "bias": False}, (4,)),
    ("Linear", {"in_features": 6, "out_features": 1, "bias": False}, (3, 6)),
    ("PReLU", {}, (3, 8, 8)),
    ("PReLU", {"num_parameters": 3}, (3, 8, 8)),
    ("PReLU", {"num_parameters": 5, "init": 0.1}, (5,)),
]

# nn.Embedding needs integer indices, which the oracle's float inputs are not: counts only.
TORCH_COUNT_ONLY = [
    ("Embedding", {"num_embeddings": 100, "embedding_dim": 8}, (5,)),
    ("Embedding", {"num_embeddings": 10, "embedding_dim": 3, "padding_idx": 0}, (2, 4)),
]

TF_CASES = [
    ("Dense", {"units": 3}, (5, 4)),
    ("EinsumDense", {"equation": "abc,cde->abde", "output_shape": (None, 4, 8),
                     "bias_axes": "de"}, (10, 16)),
    ("Embedding", {"input_dim": 100, "output_dim": 8}, (5,)),
    ("PReLU", {"shared_axes": [1, 2]}, (8, 8, 3)),
]


@pytest.mark.parametrize(("name", "config", "shape"), KERAS_CASES)
def test_keras(name: str, config: dict, shape: tuple) -> None:
    check_keras(name, config, shape)


@pytest.mark.parametrize(("name", "config", "shape"), TORCH_CASES)
def test_torch(name: str, config: dict, shape: tuple) -> None:
    check_torch(name, config, shape)


@pytest.mark.parametrize(("name", "config", "shape"), TORCH_COUNT_ONLY)
def test_torch_counts(name: str, config: dict, shape: tuple) -> None:
    check_torch(name, config, shape, run=False)


# -- by hand ---------------------------------------------------------------------------------

def test_dense_by_hand() -> None:
    # kernel 4×2 = 8, bias 2
    assert paramcount.layer("Dense", units=2).count((4,)).total_params == 10


def test_torch_embedding_output_shape_by_hand() -> None:
    s = paramcount.layer("Embedding", num_embeddings=10, embedding_dim=3).count((2, 4))
    assert s.total_params == 30
    assert s.layers[0].output_shape == (2, 4, 3)


def test_einsum_left_ellipsis_reverses_axes_as_keras_does() -> None:
    # Keras 3 inserts the elided axes one by one at position 1: (3, 4, 128) -> (4, 3, 64)
    s = paramcount.layer("EinsumDense", equation="...b,bc->...c", output_shape=64).count(
        (3, 4, 128))
    assert s.layers[0].output_shape == (4, 3, 64)


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "config", "message"), [
    ("Dense", {"units": 0}, "units=0"),
    ("EinsumDense", {"equation": "ab->b", "output_shape": 3}, "equation='ab->b'"),
    ("EinsumDense", {"equation": "ab,bc->ad", "output_shape": 3}, "axis 'd'"),
    ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 3, "bias_axes": "b"},
     "bias_axes='b'"),
    ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 0}, "output_shape=0"),
    ("Embedding", {"input_dim": 0, "output_dim": 3}, "input_dim=0"),
    ("Embedding", {"num_embeddings": 5, "embedding_dim": 3, "padding_idx": 5}, "padding_idx=5"),
    ("PReLU", {"shared_axes": [0]}, "shared_axes=[0]"),
])
def test_bad_arguments(name: str, config: dict, message: str) -> None:
    with pytest.raises(SpecError, match=rf"{name}.*{re.escape(message)}"):
        paramcount.layer(name, **config)


@pytest.mark.parametrize(("name", "config", "shape", "message"), [
    ("Dense", {"units": 2}, (None,), "known number of features"),
    ("Linear", {"in_features": 4, "out_features": 2}, (5,), "expects 4 features"),
    ("EinsumDense", {"equation": "abc,cd->abd", "output_shape": (None, 64)}, (8,),
     "does not fit the input"),
    ("EinsumDense", {"equation": "abc,cd->abd", "output_shape": (5, 64)}, (8, 4),
     "'b' is 8 in the input"),
    ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": (3, 4)}, (8,),
     "does not fit the output"),
    ("EinsumDense", {"equation": "abc,cd->abd", "output_shape": (None, 64), "bias_axes": "bd"},
     (None, 8), "bias shape"),
    ("PReLU", {"num_parameters": 3}, (4, 8), "num_parameters=3"),
    ("PReLU", {"shared_axes": [3]}, (4, 8), "shared axis 3"),
    ("PReLU", {}, (None, 8), "known dimensions"),
])
def test_bad_shapes(name: str, config: dict, shape: tuple, message: str) -> None:
    with pytest.raises(ShapeError, match=re.escape(message)) as err:
        paramcount.layer(name, **config).count(shape)
    assert name in str(err.value) or config.get("equation", "@") in str(err.value)


@pytest.mark.parametrize("config, shape", [({"units": 3, "lora_rank": 2}, (5,)),
                                           ({"units": 4, "lora_rank": 1, "use_bias": False},
                                            (2, 6))])
def test_keras_dense_lora(config, shape):
    check_keras("Dense", config, shape)
