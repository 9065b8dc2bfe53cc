"""Keras model files against Keras 3 building the same models: hand-built models covering each
graph feature (several inputs and outputs, branches and merges, shared layers, nested models,
frozen layers, masks, dtype policies, keras.ops), saved as JSON, as .keras and as .h5; the
Keras 2 / tf.keras layout; layers of unknown class.

Each test builds a real model and compares total, trainable and non-trainable counts, and each
top-level layer's count and output shape, with what paramcount reads from the saved file.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from typing import Any

import pytest

import paramcount
from paramcount.report import render
from paramcount.sources import keras as keras_source

# -- the oracle --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    total: int
    trainable: int
    non_trainable: int
    layers: dict[str, tuple[int, Any]]  # name -> (params, output shape without the batch)


def _numel(weights: Any) -> int:
    return sum(math.prod(w.shape) for w in weights)


def _shape(layer: Any) -> Any:
    out = layer.output
    out = out[0] if isinstance(out, list | tuple) else out
    return tuple(out.shape)[1:]


def keras_counts(model: Any) -> Counts:
    """What Keras says: counts of the model and of each of its layers."""
    trainable, frozen = _numel(model.trainable_weights), _numel(model.non_trainable_weights)
    layers = {layer.name: (layer.count_params(), _shape(layer)) for layer in model.layers}
    return Counts(trainable + frozen, trainable, frozen, layers)


def counts(summary: paramcount.Summary) -> Counts:
    """What paramcount says, in the same form."""
    layers = {n.name: (n.params, n.output_shape) for n in summary.root.children}
    return Counts(summary.total_params, summary.trainable_params,
                  summary.non_trainable_params, layers)


def from_json(model: Any, **options: Any) -> paramcount.Summary:
    return keras_source.from_dict(json.loads(model.to_json()), **options)


def saved(model: Any, tmp_path: Any, suffix: str) -> paramcount.Summary:
    """Save ``model`` as Keras does and count the file."""
    path = tmp_path / f"{model.name}{suffix}"
    model.save(path)
    return paramcount.summarize(path)


def check_all_formats(model: Any, tmp_path: Any) -> None:
    want = keras_counts(model)
    assert counts(from_json(model)) == want, "JSON"
    assert counts(saved(model, tmp_path, ".keras")) == want, ".keras"
    assert counts(saved(model, tmp_path, ".h5")) == want, ".h5"


# -- hand-built models -------------------------------------------------------------------------

def build_multi_io() -> Any:
    import keras
    from keras import layers

    a, b = keras.Input((32,), name="a"), keras.Input((10, 8), name="b")
    x = layers.Dense(16, activation="relu")(a)
    y = layers.LSTM(12)(b)
    o1 = layers.Dense(1, name="o1")(layers.Concatenate()([x, y]))
    o2 = layers.Dense(4, name="o2")(layers.Add()([layers.Dense(4)(x), layers.Dense(4)(y)]))
    return keras.Model([a, b], [o1, o2], name="multi_io")


def build_siamese() -> Any:
    import keras
    from keras import layers

    tower = keras.Sequential([layers.Dense(8, activation="relu"), layers.BatchNormalization()],
                             name="tower")
    a, b = keras.Input((16,), name="left"), keras.Input((16,), name="right")
    shared = layers.Dense(16, name="shared")
    xa, xb = tower(shared(a)), tower(shared(b))
    out = layers.Dense(1, name="same")(layers.Concatenate()([xa, xb]))
    return keras.Model([a, b], out, name="siamese")


def build_nested_frozen() -> Any:
    import keras
    from keras import layers

    inp = keras.Input((8, 8, 3))
    x = layers.BatchNormalization()(layers.Conv2D(4, 3, padding="same")(inp))
    tower = keras.Model(inp, layers.GlobalAveragePooling2D()(x), name="conv_tower")
    tower.trainable = False
    i1, i2 = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    head = layers.Dense(5, trainable=False, name="frozen_head")
    diff = layers.Subtract()([tower(i1), tower(i2)])
    return keras.Model([i1, i2], layers.Dense(2)(head(diff)), name="nested_frozen")


def build_nested_other_shapes() -> Any:
    import keras
    from keras import layers

    inner = keras.Sequential([keras.Input((None, 3)), layers.Conv1D(4, 3),
                              layers.GlobalMaxPooling1D()], name="inner")
    q, r = keras.Input((20, 3)), keras.Input((30, 3))
    return keras.Model([q, r], layers.Concatenate()([inner(q), inner(r)]), name="other_shapes")


def build_nested_twice() -> Any:
    """A Functional model inside a Functional model inside a Sequential model."""
    import keras
    from keras import layers

    i = keras.Input((6,))
    core = keras.Model(i, layers.Dense(3)(layers.Dense(5)(i)), name="core")
    j = keras.Input((6,))
    mid = keras.Model(j, layers.LayerNormalization()(core(j)), name="mid")
    return keras.Sequential([keras.Input((6,)), mid, layers.Dense(2)], name="outer")


def build_dict_inputs() -> Any:
    import keras
    from keras import layers

    a, b = keras.Input((4,), name="x1"), keras.Input((6,), name="x2")
    out = layers.Dense(2)(layers.Concatenate()([a, b]))
    return keras.Model({"x1": a, "x2": b}, out, name="dict_inputs")


def build_masks() -> Any:
    import keras
    from keras import layers

    tokens = keras.Input((None,), dtype="int32")
    x = layers.Embedding(100, 8, mask_zero=True)(tokens)
    x = layers.Bidirectional(layers.LSTM(6, return_sequences=True))(x)
    x = layers.GRU(4)(layers.Masking()(x))
    return keras.Model(tokens, layers.Dense(1)(x), name="masks")


def build_attention() -> Any:
    import keras
    from keras import layers

    q, v, mask = keras.Input((6, 16)), keras.Input((7, 16)), keras.Input((6, 7))
    a = layers.MultiHeadAttention(2, 8)(q, v, attention_mask=mask)
    b = layers.MultiHeadAttention(2, 4, value_dim=6)(query=q, value=v, key=v)
    return keras.Model([q, v, mask], layers.Add()([a, b]), name="attention")


def build_ops() -> Any:
    import keras
    from keras import layers

    x = keras.Input((4,))
    y = layers.Dense(4)(x)
    y = keras.ops.relu(y * 2.0 + x)
    return keras.Model(x, layers.Dense(1)(y), name="ops")


def build_cnn() -> Any:
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Rescaling(1 / 255), layers.Conv2D(32, 3),
        layers.BatchNormalization(), layers.MaxPooling2D(), layers.Conv2D(64, 3, padding="same"),
        layers.Dropout(0.25), layers.Flatten(), layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax")], name="cnn")


MODELS = [build_multi_io, build_siamese, build_nested_frozen, build_nested_other_shapes,
          build_nested_twice, build_dict_inputs, build_masks, build_attention, build_ops, build_cnn]


def model_id(build: Any) -> str:
    return str(build.__name__).removeprefix("build_")


@pytest.mark.parametrize("build", MODELS, ids=model_id)
def test_models_in_every_format(build, tmp_path):
    import keras

    keras.backend.clear_session()
    check_all_formats(build(), tmp_path)


def test_shared_layers_are_counted_once_and_their_calls_shown():
    import keras

    keras.backend.clear_session()
    model = build_siamese()
    s = from_json(model)
    rows = {n.name: n for n in s.root.children}
    # the test called `shared` and `tower` twice each
    assert rows["shared"].calls == rows["tower"].calls == 2
    assert rows["shared"].params == model.get_layer("shared").count_params()
    assert "shared (Dense) [called 2×]" in render(s, "table")


def test_nested_models_expand_with_depth_and_totals_never_change():
    import keras

    keras.backend.clear_session()
    model = build_nested_twice()
    s = from_json(model)
    mid = model.get_layer("mid")
    core = mid.get_layer("core")
    top = {r.node.name: r.node.params for r in s.rows(depth=1)}
    assert top == {layer.name: layer.count_params() for layer in model.layers}
    deep = {r.node.name: r.node.params for r in s.rows(depth=3)}
    assert deep["core"] == core.count_params()
    for layer in core.layers:
        assert deep[layer.name] == layer.count_params()
    for depth in (1, 2, 3, None):
        assert sum(r.node.params for r in s.rows(depth) if r.depth == 1) == model.count_params()


def test_frozen_nested_model_and_layer(tmp_path):
    import keras

    keras.backend.clear_session()
    model = build_nested_frozen()
    want = keras_counts(model)
    assert want.trainable == model.get_layer("dense").count_params()  # the test froze the rest
    assert counts(from_json(model)) == want


def test_mixed_precision_keeps_float32_variables():
    import keras
    from keras import layers

    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras.Sequential([keras.Input((4,)), layers.Dense(8), layers.BatchNormalization(),
                                  layers.Dense(2, dtype="float32")])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    s = from_json(model)
    assert counts(s) == keras_counts(model)
    assert s.dtype == "mixed_float16"
    itemsize = {w.dtype for w in model.weights}
    assert itemsize == {"float32"}  # Keras keeps float32 variables: 4 bytes each
    assert s.bytes() == 4 * model.count_params()


def test_float16_policy_counts_two_bytes_per_parameter():
    import keras
    from keras import layers

    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, dtype="float16")])
    s = from_json(model)
    assert {w.dtype for w in model.weights} == {"float16"}
    assert s.dtype == "float16" and s.bytes() == 2 * model.count_params()


# -- layers of unknown class -------------------------------------------------------------------

def build_custom_model() -> Any:
    import keras
    from keras import layers

    @keras.saving.register_keras_serializable(package="paramcount_test")
    class Scale(layers.Layer):
        def build(self, shape: Any) -> None:
            self.s = self.add_weight(shape=(shape[-1],), name="s")
            self.proj = layers.Dense(3)
            self.proj.build(shape)

        def call(self, x: Any) -> Any:
            return x * self.s + 0.0 * keras.ops.sum(self.proj(x))

    x = keras.Input((4,))
    y = layers.Lambda(lambda t: t * 2)(x)
    y = layers.Dense(3)(Scale(name="scale")(y))
    return keras.Model(x, y, name="custom")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_unknown_classes_are_counted_from_stored_weights(suffix, tmp_path):
    import keras

    keras.backend.clear_session()
    model = build_custom_model()
    s = saved(model, tmp_path, suffix)
    assert counts(s) == keras_counts(model)
    assert not s.lower_bound
    rows = {n.name: n for n in s.root.children}
    assert rows["scale"].remark == rows["lambda"].remark == "counted from stored weights"


def build_nested_custom() -> Any:
    """Layers of unknown class inside a nested Functional and a nested Sequential model; one
    of them holds a non-trainable weight."""
    import keras
    from keras import layers

    @keras.saving.register_keras_serializable(package="paramcount_test")
    class Gain(layers.Layer):
        def build(self, shape: Any) -> None:
            self.g = self.add_weight(shape=(shape[-1],), name="g")
            self.m = self.add_weight(shape=(2, shape[-1]), name="m", trainable=False)

        def call(self, x: Any) -> Any:
            return x * self.g

    i = keras.Input((4,))
    inner = keras.Model(i, layers.Dense(3)(Gain(name="g1")(layers.Dense(4)(i))), name="inner")
    seq = keras.Sequential([keras.Input((4,)), Gain(name="g2"), layers.Dense(4)], name="seq")
    x = keras.Input((4,))
    return keras.Model(x, inner(seq(x)), name="nested_custom")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_unknown_classes_inside_nested_models(suffix, tmp_path):
    import keras

    keras.backend.clear_session()
    model = build_nested_custom()
    s = saved(model, tmp_path, suffix)
    # the total is exact; whether a stored weight is trainable the file does not say
    assert s.total_params == model.count_params() and not s.lower_bound
    remarks = {n.name: n.remark for _, n in s.root.walk()}
    assert remarks["g1"] == remarks["g2"] == "counted from stored weights"


def test_unknown_classes_without_weights_are_listed_and_warned(tmp_path):
    import keras

    keras.backend.clear_session()
    model = build_custom_model()
    path = tmp_path / "custom.json"
    path.write_text(model.to_json())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = paramcount.summarize(path)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "Lambda ×1, Scale ×1" in messages[0]
    assert "lower bounds" in messages[0]
    assert s.lower_bound and s.unknown_layers == {"Lambda": 1, "Scale": 1}
    scale = model.get_layer("scale")
    assert s.total_params == model.count_params() - scale.count_params()  # a lower bound
    rows = {n.name: n for n in s.root.children}
    assert rows["scale"].unknown and rows["lambda"].unknown and rows["scale"].remark == ""
    # the Dense after the custom layer is built on the shape Keras recorded for it
    dense = model.layers[-1]
    assert rows[dense.name].params == dense.count_params()
    table = render(s, "table")
    assert "[unknown: not counted]" in table and "Lower bound" in table


def test_lambda_code_is_never_read(tmp_path):
    """A Lambda's marshalled bytecode is data: corrupt it and nothing changes."""
    import keras

    keras.backend.clear_session()
    doc = json.loads(build_custom_model().to_json())
    for entry in doc["config"]["layers"]:
        if entry["class_name"] == "Lambda":
            entry["config"]["function"] = {"class_name": "__lambda__",
                                           "config": {"code": "not base64 !!"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = keras_source.from_dict(doc)
    assert s.unknown_layers["Lambda"] == 1


def test_subclassed_model_archive_is_counted_from_its_weights(tmp_path):
    import keras
    from keras import layers

    keras.backend.clear_session()

    @keras.saving.register_keras_serializable(package="paramcount_test")
    class TwoLayers(keras.Model):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.a, self.b = layers.Dense(8), layers.BatchNormalization()

        def call(self, x: Any) -> Any:
            return self.b(self.a(x))

    model = TwoLayers(name="two")
    model(keras.ops.zeros((1, 5)))
    s = saved(model, tmp_path, ".keras")
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        model.count_params(), _numel(model.trainable_weights), _numel(model.non_trainable_weights))


def test_weights_only_files(tmp_path):
    import keras

    keras.backend.clear_session()
    model = build_siamese()
    path = tmp_path / "siamese.weights.h5"
    model.save_weights(path)
    s = paramcount.summarize(path)
    want = keras_counts(model)
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        want.total, want.trainable, want.non_trainable)
    assert s.stored_bytes() == 4 * want.total
    rows = {n.name: n.params for n in s.root.children}
    assert rows["shared"] == model.get_layer("shared").count_params()
    assert rows["tower"] == model.get_layer("tower").count_params()


def test_legacy_weights_file(tmp_path):
    """A Keras 2 ``save_weights("x.h5")`` file: ``layer_names`` and ``weight_names``."""
    import h5py
    import keras

    keras.backend.clear_session()
    model = build_cnn()
    path = tmp_path / "legacy_weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        for layer in model.layers:
            g = f.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0" for w in layer.weights]
            g.attrs["weight_names"] = [n.encode() for n in names]
            for name, w in zip(names, layer.weights, strict=True):
                g.create_dataset(name, shape=tuple(w.shape), dtype="float32")
    s = paramcount.summarize(path)
    want = keras_counts(model)
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        want.total, want.trainable, want.non_trainable)


def test_get_config_dump_without_class_name():
    import keras

    keras.backend.clear_session()
    model = build_multi_io()
    assert counts(keras_source.from_dict(model.get_config())) == keras_counts(model)


def test_cli_counts_a_keras_file(tmp_path, capsys):
    import keras

    from paramcount.cli import main

    keras.backend.clear_session()
    model = build_siamese()
    path = tmp_path / "siamese.keras"
    model.save(path)
    assert main([str(path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_params"] == model.count_params()
    assert {layer["name"]: layer["calls"] for layer in out["layers"]}["shared"] == 2


def test_known_layers_never_open_the_weights_file(tmp_path, monkeypatch):
    """config.json is all a model of known layers needs: model.weights.h5, however large, is
    never opened, so a file of gigabytes is counted as fast as a small one."""
    import keras

    from paramcount.sources.keras import h5 as keras_h5

    keras.backend.clear_session()
    model = build_cnn()
    path = tmp_path / "cnn.keras"
    model.save(path)

    def refuse(*args: Any) -> None:
        raise AssertionError("the weights file was opened")

    monkeypatch.setattr(keras_h5, "open_h5", refuse)
    assert paramcount.summarize(path).total_params == model.count_params()
