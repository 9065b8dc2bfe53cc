"""Attention layers against Keras 3 and PyTorch.

Input shapes follow each framework's call order: Keras ``[query, value, key]``, PyTorch
``[query, key, value]`` (and ``[tgt, memory]`` for the decoder). PyTorch modules are built with
``batch_first=True`` so that the oracle's leading 2 is the batch.
"""

from __future__ import annotations

import re

import pytest
from oracle import check_keras, check_torch

import paramcount
from paramcount.errors import ShapeError, SpecError

KERAS_CASES = [
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(5, 8), (7, 8)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(5, 8), (5, 8)]),
    ("MultiHeadAttention", {"num_heads": 4, "key_dim": 16}, [(10, 32), (10, 32)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "value_dim": 3}, [(5, 8), (7, 6)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(5, 8), (7, 6), (7, 3)]),
    ("MultiHeadAttention", {"num_heads": 3, "key_dim": 2, "value_dim": 5},
     [(5, 8), (7, 6), (7, 3)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "use_bias": False}, [(5, 8), (7, 6)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "output_shape": 10}, [(5, 8), (7, 8)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "output_shape": [2, 3]},
     [(5, 8), (7, 6), (7, 3)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "attention_axes": [2]},
     [(3, 5, 8), (3, 7, 8)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "attention_axes": [1, 2]},
     [(3, 5, 8), (4, 7, 6)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "output_shape": 6},
     [(2, 3, 5, 8), (2, 3, 7, 6)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "use_gate": True}, [(5, 8), (7, 6)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "use_gate": True, "use_bias": False,
                            "value_dim": 3}, [(5, 8), (7, 6), (7, 2)]),
]

# keras.layers exports grouped-query attention as GroupQueryAttention only
GQA_CASES = [
    ("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2},
     [(5, 8), (7, 8)]),
    ("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 1},
     [(5, 8), (5, 8)]),
    ("GroupQueryAttention", {"head_dim": 3, "num_query_heads": 6, "num_key_value_heads": 3},
     [(5, 8), (7, 8), (7, 5)]),
    ("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2,
                             "use_bias": False}, [(5, 8), (7, 8)]),
    ("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2,
                             "use_gate": True}, [(5, 8), (7, 8), (7, 6)]),
]

_BF = {"batch_first": True}
TORCH_CASES = [
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2, **_BF}, [(5, 8), (7, 8), (7, 8)]),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2, **_BF}, [(5, 8), (5, 8), (5, 8)]),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2, "kdim": 6, "vdim": 4, **_BF},
     [(5, 8), (7, 6), (7, 4)]),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 4, "kdim": 8, "vdim": 4, **_BF},
     [(5, 8), (7, 8), (7, 4)]),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2, "bias": False, **_BF},
     [(5, 8), (7, 8), (7, 8)]),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2, "add_bias_kv": True, **_BF},
     [(5, 8), (7, 8), (7, 8)]),
    ("MultiheadAttention", {"embed_dim": 6, "num_heads": 3, "add_bias_kv": True, "bias": False,
                            "kdim": 4, **_BF}, [(5, 6), (7, 4), (7, 6)]),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 1, "add_zero_attn": True, **_BF},
     [(5, 8), (7, 8), (7, 8)]),
    ("TransformerEncoderLayer", {"d_model": 8, "nhead": 2, "dim_feedforward": 16, **_BF},
     (5, 8)),
    ("TransformerEncoderLayer", {"d_model": 8, "nhead": 2, "dim_feedforward": 16, "bias": False,
                                 **_BF}, (5, 8)),
    ("TransformerEncoderLayer", {"d_model": 8, "nhead": 4, "dim_feedforward": 12,
                                 "norm_first": True, "activation": "gelu", **_BF}, (3, 8)),
    ("TransformerEncoderLayer", {"d_model": 16, "nhead": 2, **_BF}, (4, 16)),
    ("TransformerDecoderLayer", {"d_model": 8, "nhead": 2, "dim_feedforward": 16, **_BF},
     [(5, 8), (7, 8)]),
    ("TransformerDecoderLayer", {"d_model": 8, "nhead": 2, "dim_feedforward": 16, "bias": False,
                                 **_BF}, [(5, 8), (7, 8)]),
    ("TransformerDecoderLayer", {"d_model": 12, "nhead": 3, "dim_feedforward": 32,
                                 "norm_first": True, "layer_norm_eps": 1e-6, **_BF},
     [(4, 12), (6, 12)]),
]

# Keras's MultiHeadAttention and GroupQueryAttention take the query and value as separate
# arguments, which the TensorFlow worker (calling the layer on one list) cannot pass.
TF_CASES: list[tuple[str, dict, tuple]] = []


@pytest.mark.parametrize(("name", "config", "shapes"), KERAS_CASES)
def test_keras(name: str, config: dict, shapes: list) -> None:
    check_keras(name, config, shapes)


@pytest.mark.parametrize(("name", "config", "shapes"), GQA_CASES)
def test_keras_gqa(name: str, config: dict, shapes: list) -> None:
    check_keras(name, config, shapes)


@pytest.mark.parametrize(("name", "config", "shapes"), TORCH_CASES)
def test_torch(name: str, config: dict, shapes: list) -> None:
    check_torch(name, config, shapes)


# -- by hand ---------------------------------------------------------------------------------

def test_self_attention_by_hand() -> None:
    # query, key, value, output: each 8·2·4 kernel + 8 bias = 72; four of them
    keras = paramcount.layer("MultiHeadAttention", num_heads=2, key_dim=4).count((5, 8))
    torch = paramcount.layer("MultiheadAttention", embed_dim=8, num_heads=2).count((5, 8))
    assert keras.total_params == torch.total_params == 4 * 72
    assert keras.layers[0].output_shape == torch.layers[0].output_shape == (5, 8)


def test_torch_cross_attention_widths_without_shapes() -> None:
    # one query shape: the key and value widths come from kdim and vdim
    s = paramcount.layer("MultiheadAttention", embed_dim=8, num_heads=2, kdim=6, vdim=4).count(
        (5, 8))
    assert s.total_params == 8 * (8 + 6 + 4) + 8 * 8 + 4 * 8


def test_transformer_encoder_by_hand() -> None:
    # attention 4·8·8 + 4·8, feed-forward 8·16 + 16 + 16·8 + 8, two LayerNorms 2·(8 + 8)
    s = paramcount.layer("TransformerEncoderLayer", d_model=8, nhead=2,
                         dim_feedforward=16).count((5, 8))
    assert s.total_params == 288 + 280 + 32
    assert s.framework == "pytorch"


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "config", "message"), [
    ("MultiHeadAttention", {"num_heads": 0, "key_dim": 4}, "num_heads=0"),
    ("MultiHeadAttention", {"num_heads": 2}, "'key_dim'"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "output_shape": [0]}, "output_shape"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "attention_axes": "x"},
     "attention_axes='x'"),
    ("MultiheadAttention", {"embed_dim": 10, "num_heads": 4}, "not divisible by num_heads=4"),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2, "value_dim": 3}, "value_dim"),
    ("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 3},
     "not divisible"),
    ("TransformerEncoderLayer", {"d_model": 10, "nhead": 4}, "d_model=10"),
    ("TransformerDecoderLayer", {"d_model": 8, "nhead": 2, "dim_feedforward": 0},
     "dim_feedforward=0"),
])
def test_bad_arguments(name: str, config: dict, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)) as err:
        paramcount.layer(name, **config)
    assert "Attention" in str(err.value) or "Transformer" in str(err.value)


def test_keras_has_no_bias_kv() -> None:
    with pytest.raises(SpecError, match="add_bias_kv"):
        paramcount.layer("MultiHeadAttention", framework="keras", num_heads=2, key_dim=4,
                         add_bias_kv=True)


@pytest.mark.parametrize(("name", "config", "shapes", "message"), [
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(5, 8), (7, 6), (6, 3)],
     "must agree on every axis but the last"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(5, 8), (2, 7, 6)],
     "must have the same rank"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(8,)], "rank 2 or more"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(5, None)], "query features"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(5, 8)] * 4, "1 to 3 inputs"),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2}, [(5, 6)], "expects 8 query"),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2, "kdim": 6}, [(5, 8), (7, 5)],
     "expects 6 key"),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2}, [(2, 5, 8)], "rank 2"),
    ("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2},
     [(5, 8), (7, 6)], "expects 8 value"),
    ("TransformerDecoderLayer", {"d_model": 8, "nhead": 2}, [(5, 8), (7, 6)],
     "expects 8 memory"),
    ("TransformerEncoderLayer", {"d_model": 8, "nhead": 2}, [(5, 8), (7, 8)], "1 to 1 inputs"),
])
def test_bad_shapes(name: str, config: dict, shapes: list, message: str) -> None:
    with pytest.raises(ShapeError, match=re.escape(message)):
        paramcount.layer(name, **config).count(shapes)
