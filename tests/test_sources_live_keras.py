"""Live Keras models and layers (Keras 3 on the PyTorch backend): totals equal count_params(),
the trainable split equals trainable_weights, each row equals its layer's count_params() and
output shape, and MACs equal FlopCounterMode counting the model's own forward pass."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras import layers
from torch.utils.flop_counter import FlopCounterMode

import paramcount
from paramcount.errors import SpecError


def cnn_batchnorm() -> keras.Model:
    return keras.Sequential([
        keras.Input((8, 8, 3)), layers.Conv2D(4, 3), layers.BatchNormalization(),
        layers.ReLU(), layers.MaxPooling2D(), layers.Flatten(), layers.Dense(5),
    ], name="cnn")


def shared_layer() -> keras.Model:
    """One Dense called on two branches: one row, its weights once, called twice."""
    x = keras.Input((6,))
    shared = layers.Dense(4, name="shared")
    a = shared(x)
    b = shared(layers.Dense(6, name="pre")(x))
    out = layers.Dense(2, name="out")(layers.Add()([a, b]))
    return keras.Model(x, out, name="siamese")


def nested() -> keras.Model:
    inner = keras.Sequential([keras.Input((8,)), layers.Dense(6), layers.BatchNormalization(),
                              layers.Dense(6)], name="inner")
    x = keras.Input((8,))
    return keras.Model(x, layers.Dense(3)(inner(x)), name="outer")


def frozen_layer() -> keras.Model:
    model = keras.Sequential([keras.Input((10,)), layers.Dense(8, name="base"),
                              layers.Dense(4, name="top")], name="frozen")
    model.get_layer("base").trainable = False
    return model


def frozen_model() -> keras.Model:
    model = cnn_batchnorm()
    model.trainable = False
    return model


def text_lstm() -> keras.Model:
    x = keras.Input((7,), dtype="int32")
    h = layers.Embedding(30, 8)(x)
    return keras.Model(x, layers.Dense(2)(layers.LSTM(5)(h)), name="text")


#: name, factory, input shape (batch excluded), input dtype
MODELS: list[tuple[str, Callable[[], keras.Model], tuple[int, ...], str]] = [
    ("sequential_cnn_batchnorm", cnn_batchnorm, (8, 8, 3), "float32"),
    ("functional_shared_layer", shared_layer, (6,), "float32"),
    ("nested_model", nested, (8,), "float32"),
    ("frozen_layer", frozen_layer, (10,), "float32"),
    ("frozen_model", frozen_model, (8, 8, 3), "float32"),
    ("embedding_lstm", text_lstm, (7,), "int32"),
]
IDS = [m[0] for m in MODELS]


def count(weights: list[Any]) -> int:
    return sum(math.prod(v.shape) for v in weights)


@pytest.mark.parametrize(("name", "factory", "shape", "dtype"), MODELS, ids=IDS)
def test_counts_equal_keras(name, factory, shape, dtype):
    model = factory()
    s = paramcount.summarize(model)
    assert s.total_params == model.count_params()
    assert s.trainable_params == count(model.trainable_weights)
    assert s.non_trainable_params == count(model.non_trainable_weights)
    assert s.buffers == 0 and s.framework == "keras"


@pytest.mark.parametrize(("name", "factory", "shape", "dtype"), MODELS, ids=IDS)
def test_rows_equal_each_layer(name, factory, shape, dtype):
    model = factory()
    s = paramcount.summarize(model)
    assert [n.name for n in s.layers] == [layer.name for layer in model.layers]
    for node, layer in zip(s.layers, model.layers, strict=True):
        assert node.type == type(layer).__name__
        assert node.params == layer.count_params(), layer.name
        calls = len(layer._inbound_nodes)
        assert node.calls == calls, layer.name
        if calls == 1:
            assert node.output_shape == tuple(layer.output.shape[1:]), layer.name


@pytest.mark.parametrize(("name", "factory", "shape", "dtype"), MODELS, ids=IDS)
def test_macs_equal_flop_counter(name, factory, shape, dtype):
    model = factory()
    s = paramcount.summarize(model)
    with FlopCounterMode(display=False) as counter:
        model(np.zeros((1, *shape), dtype=dtype))
    f = s.flops()
    assert f.complete and f.flops == counter.get_total_flops() > 0


def test_attention_scores_are_counted_where_cpu_flop_counter_misses_them():
    """Keras runs attention through torch's scaled_dot_product_attention, whose CPU kernel
    FlopCounterMode does not count: it sees the four projections only."""
    x = keras.Input((5, 8))
    model = keras.Model(x, layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x))
    s = paramcount.summarize(model)
    with FlopCounterMode(display=False) as counter:
        model(np.zeros((1, 5, 8), dtype="float32"))
    scores = 5 * 5 * 2 * (4 + 4)  # query-key pairs × heads × (QKᵀ + weighted sum of values)
    assert s.flops().macs == counter.get_total_flops() // 2 + scores
    assert s.total_params == model.count_params()


def test_a_layer_shared_by_two_models_is_counted_once():
    dense = layers.Dense(4, name="common")
    first = keras.Sequential([keras.Input((3,)), dense], name="first")
    x = keras.Input((3,))
    model = keras.Model(x, layers.Add()([first(x), dense(x)]), name="both")
    s = paramcount.summarize(model)
    assert s.total_params == model.count_params() == 16  # 3 × 4 kernel + 4 biases, once
    again = next(n for n in s.layers if n.name == "common")
    assert again.params == 0 and {t.owner for t in again.tied} == {"first.common.kernel",
                                                                  "first.common.bias"}


class Block(layers.Layer):
    """A custom layer: two Dense sublayers and a weight of its own."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.a = layers.Dense(6)
        self.b = layers.Dense(6)

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(6,), name="scale")
        self.a.build(input_shape)
        self.b.build((None, 6))

    def call(self, x: Any) -> Any:
        return self.b(self.a(x)) * self.scale


def test_custom_layer_is_a_block_of_its_sublayers():
    x = keras.Input((4,))
    model = keras.Model(x, Block(name="block")(x))
    s = paramcount.summarize(model)
    block = s.layers[1]
    assert s.total_params == model.count_params()
    assert [w.name for w in block.weights] == ["scale"]
    assert [c.params for c in block.children] == [4 * 6 + 6, 6 * 6 + 6]
    f = s.flops()  # the block has no MAC formula; its sublayers' input shapes are not known
    assert (f.unknown, f.unsized) == ({"Block": 1}, {"Dense": 2})


def test_subclassed_model_is_counted_without_shapes():
    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.one = layers.Dense(8)
            self.two = layers.Dense(2)

        def call(self, x: Any) -> Any:
            return self.two(self.one(x))

    model = Net()
    s = paramcount.summarize(model, input_shape=(5,))
    assert s.total_params == model.count_params() == 5 * 8 + 8 + 8 * 2 + 2
    assert s.view.compute is None
    assert any("has no layer graph" in note for note in s.notes)
    assert any(note == "Built by Keras on input shape (5,)" for note in s.notes)


def test_unbuilt_model_is_built_on_the_input_shape():
    model = keras.Sequential([layers.Dense(4), layers.Dense(2)], name="late")
    with pytest.raises(SpecError) as err:
        paramcount.summarize(model)
    assert str(err.value) == ("the Keras model late (Sequential) is not built: build it "
                              "(model.build(shape) or call it once) or pass input_shape= "
                              "(batch excluded)")
    s = paramcount.summarize(model, input_shape=(8,))
    assert s.total_params == model.count_params() == 8 * 4 + 4 + 4 * 2 + 2
    assert s.layers[1].output_shape == (2,)


def test_a_model_keras_cannot_build_is_one_error():
    model = keras.Sequential([layers.Conv2D(2, 3)], name="conv")
    with pytest.raises(SpecError, match=r"^Keras could not build the model conv \(Sequential\) "
                                        r"on input shape \(8,\): "):
        paramcount.summarize(model, input_shape=(8,))


def test_an_unbuilt_layer_is_one_error():
    with pytest.raises(SpecError, match=r"^the Keras layer dense_\w+ \(Dense\) is not built"):
        paramcount.summarize(layers.Dense(3, name="dense_x"))


def test_one_layer():
    dense = layers.Dense(3)
    dense.build((None, 4))
    s = paramcount.summarize(dense, input_shape=(4,))
    assert s.total_params == dense.count_params() == 4 * 3 + 3
    assert s.layers[0].output_shape == (3,)
    assert s.flops().macs == 4 * 3  # one sample: 4 inputs × 3 units


def test_depth_folds_a_nested_model_into_one_row():
    model = nested()
    full = paramcount.summarize(model)
    s = paramcount.summarize(model, depth=1)
    assert max(r.depth for r in s.rows()) == 1 < max(r.depth for r in full.rows())
    assert (s.total_params, s.trainable_params, s.flops().macs) == (
        model.count_params(), count(model.trainable_weights), full.flops().macs)


def test_keras_option_errors():
    with pytest.raises(SpecError, match="has no option 'example_inputs'; options: "
                                        "input_shape, depth"):
        paramcount.summarize(nested(), example_inputs=np.zeros((1, 8)))


TF_KERAS = """
import json, tf_keras as k, paramcount
from tf_keras import layers
x = k.Input((8, 8, 3))
h = layers.Flatten()(layers.BatchNormalization()(layers.Conv2D(4, 3)(x)))
shared = layers.Dense(5)
h = layers.Add()([shared(h), shared(h)])
model = k.Model(x, k.Sequential([k.Input((5,)), layers.Dense(3)])(h))
model.layers[1].trainable = False
s = paramcount.summarize(model)
print(json.dumps([s.total_params, s.trainable_params, model.count_params(),
                  sum(int(w.shape.num_elements()) for w in model.trainable_weights),
                  s.layers[4].calls]))
"""


@pytest.mark.slow
def test_tf_keras_counts_equal_its_own():
    """tf.keras (Keras 2) leaves a frozen layer's variables trainable and skips the layer in
    trainable_weights: the split still equals its own (run apart: TensorFlow in a subprocess)."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", TF_KERAS], capture_output=True, text=True,
                         cwd=root, env=env, check=True)
    total, trainable, keras_total, keras_trainable, calls = json.loads(
        out.stdout.strip().splitlines()[-1])
    assert (total, trainable, calls) == (keras_total, keras_trainable, 2)
    # not trainable: the moving statistics (2 × 4) and the frozen convolution (3·3·3·4 + 4)
    assert keras_total - keras_trainable == 2 * 4 + 3 * 3 * 3 * 4 + 4
