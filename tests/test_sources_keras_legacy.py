"""The Keras 2 / tf.keras layout against Keras 3 building the same models: configs written as
tf.keras wrote them (tf_keras/engine/functional.py ``get_network_config``, node.py
``serialize``), full-model .h5 files as Keras 2 saved them, the classic Keras 2.2 JSON, and
tf.keras's TFOpLambda layers.

tf.keras of TensorFlow 2.21 is Keras 3, and the ``tf_keras`` package (Keras 2) is not installed
here, so the Keras 2 layout is written by :func:`keras2_layout` from a Keras 3 model's config,
following tf-keras's serialization code; the Keras 3 model it comes from is the oracle.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from test_sources_keras import (
    build_attention,
    build_cnn,
    build_custom_model,
    build_masks,
    build_multi_io,
    build_nested_custom,
    build_nested_frozen,
    build_nested_twice,
    build_siamese,
    counts,
    keras_counts,
    model_id,
)

import paramcount
from paramcount.sources import keras as keras_source


def keras2_layout(doc: Any) -> Any:
    """Write a Keras 3 model config in the Keras 2 / tf.keras layout, as tf-keras's
    ``get_network_config`` and ``Node.serialize`` write it: no module/registered_name/
    build_config, ``batch_input_shape``, string dtypes, nodes as ``[layer, node, tensor,
    kwargs]`` lists, and a nested graph model's first call numbered 1."""
    config = _k2_strip(doc["config"])
    out: dict[str, Any] = {"name": config["name"], "layers": []}
    if doc["class_name"] == "Sequential":
        out["layers"] = [_k2_layer(e, set(), set()) for e in config["layers"]]
        return {"class_name": "Sequential", "config": out, "keras_version": "2.15.0",
                "backend": "tensorflow"}
    graph_models = {e["name"] for e in config["layers"]
                    if e["class_name"] in ("Functional", "Sequential")}
    # Keras 2 computes masks inside the layers: Keras 3's mask operations have no counterpart
    ops = {e["name"] for e in doc["config"]["layers"]
           if (e.get("module") or "").startswith("keras.src.ops")}
    out["layers"] = [_k2_layer(e, graph_models, ops) for e in config["layers"]
                     if e["name"] not in ops]
    out["input_layers"] = _k2_refs(config["input_layers"], graph_models)
    out["output_layers"] = _k2_refs(config["output_layers"], graph_models)
    return {"class_name": "Functional", "config": out, "keras_version": "2.15.0",
            "backend": "tensorflow"}


def _k2_refs(value: Any, graph: set[str]) -> Any:
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value[0], value[1] + (value[0] in graph), value[2]]
    if isinstance(value, dict):
        return [_k2_refs(v, graph) for v in value.values()]
    return [_k2_refs(v, graph) for v in value]


def _k2_strip(value: Any) -> Any:
    """No module, registered_name or build_config anywhere (Keras 2 had none)."""
    if isinstance(value, dict):
        return {k: _k2_strip(v) for k, v in value.items()
                if k not in ("module", "registered_name", "build_config", "compile_config")}
    if isinstance(value, list):
        return [_k2_strip(v) for v in value]
    return value


def _k2_layer(entry: dict[str, Any], graph: set[str], ops: set[str]) -> dict[str, Any]:
    config = {k: _k2_dtype(v) if k == "dtype" else v for k, v in entry["config"].items()}
    if entry["class_name"] == "InputLayer":
        config["batch_input_shape"] = config.pop("batch_shape")
        config.pop("optional", None)
    if entry["class_name"] in ("Functional", "Sequential"):
        nested = keras2_layout({"class_name": entry["class_name"], "config": entry["config"]})
        config = nested["config"]
    out = {"class_name": entry["class_name"], "config": config}
    if "inbound_nodes" in entry:
        out["name"] = entry["name"]
        out["inbound_nodes"] = [_k2_node(n, graph, ops) for n in entry["inbound_nodes"]]
    return out


def _k2_dtype(value: Any) -> Any:
    if isinstance(value, dict):
        name = value["config"]["name"]
        return name if name == "float32" else {"class_name": "Policy", "config": {"name": name}}
    return value


def _k2_tensor(t: dict[str, Any], graph: set[str]) -> list[Any]:
    layer, node, tensor = t["config"]["keras_history"]
    return [layer, node + (layer in graph), tensor]


def _k2_node(node: dict[str, Any], graph: set[str], ops: set[str]) -> list[Any]:
    args, kwargs = node["args"], dict(node["kwargs"])
    if not args:  # called by keywords: tf.keras serializes the first one as the input
        args = [kwargs.pop(next(k for k in ("inputs", "query") if k in kwargs))]
    first, rest = args[0], args[1:]
    kwargs = {k: _k2_tensor(v, graph) if isinstance(v, dict) and "config" in v else v
              for k, v in kwargs.items()
              if v is not None and not (isinstance(v, dict) and "config" in v
                                        and v["config"]["keras_history"][0] in ops)}
    for name, value in zip(("value", "key"), rest, strict=False):
        kwargs[name] = _k2_tensor(value, graph)
    tensors = first if isinstance(first, list) else [first]
    return [[*_k2_tensor(t, graph), kwargs] for t in tensors]


@pytest.mark.parametrize("build", [build_multi_io, build_siamese, build_nested_frozen,
                                   build_nested_twice, build_masks, build_attention, build_cnn],
                         ids=model_id)
def test_keras2_layout(build):
    import keras

    keras.backend.clear_session()
    model = build()
    doc = keras2_layout(json.loads(model.to_json()))
    assert "module" not in json.dumps(doc)
    s = keras_source.from_dict(doc)
    assert counts(s) == keras_counts(model)
    assert s.meta["keras_version"] == "2.15.0" and s.meta["layout"] == "legacy"


@pytest.mark.parametrize("build", [build_multi_io, build_cnn],
                         ids=model_id)
def test_keras2_layout_is_what_keras_reads_as_legacy(build):
    """Keras 3's legacy reader (the one behind .h5 files) reads the converted layout: the same
    counts. (It does not number a nested model's calls from 1 as tf.keras wrote them, so
    models with nested models are checked against the model they were converted from only.)"""
    import copy

    import keras
    from keras.src.legacy.saving import saving_utils

    keras.backend.clear_session()
    doc = keras2_layout(json.loads(build().to_json()))
    again = saving_utils.model_from_config(copy.deepcopy(doc))
    assert counts(keras_source.from_dict(doc)) == keras_counts(again)


MNIST_KERAS22 = {  # the classic mnist_cnn.py, as Keras 2.2 wrote model.to_json()
    "class_name": "Sequential", "keras_version": "2.2.4", "backend": "tensorflow",
    "config": {"name": "sequential_1", "layers": [
        {"class_name": "Conv2D", "config": {
            "name": "conv2d_1", "trainable": True, "batch_input_shape": [None, 28, 28, 1],
            "dtype": "float32", "filters": 32, "kernel_size": [3, 3], "strides": [1, 1],
            "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1],
            "activation": "relu", "use_bias": True}},
        {"class_name": "Conv2D", "config": {
            "name": "conv2d_2", "trainable": True, "filters": 64, "kernel_size": [3, 3],
            "strides": [1, 1], "padding": "valid", "data_format": "channels_last",
            "dilation_rate": [1, 1], "activation": "relu", "use_bias": True}},
        {"class_name": "MaxPooling2D", "config": {
            "name": "max_pooling2d_1", "trainable": True, "pool_size": [2, 2], "padding": "valid",
            "strides": [2, 2], "data_format": "channels_last"}},
        {"class_name": "Dropout", "config": {"name": "dropout_1", "trainable": True,
                                             "rate": 0.25, "noise_shape": None, "seed": None}},
        {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": True,
                                             "data_format": "channels_last"}},
        {"class_name": "Dense", "config": {"name": "dense_1", "trainable": True, "units": 128,
                                           "activation": "relu", "use_bias": True}},
        {"class_name": "Dropout", "config": {"name": "dropout_2", "trainable": True,
                                             "rate": 0.5, "noise_shape": None, "seed": None}},
        {"class_name": "Dense", "config": {"name": "dense_2", "trainable": True, "units": 10,
                                           "activation": "softmax", "use_bias": True}}]}}


def test_classic_mnist_cnn_json_by_hand():
    # (3·3·1 + 1)·32 + (3·3·32 + 1)·64 + (12·12·64 + 1)·128 + (128 + 1)·10
    s = keras_source.from_dict(MNIST_KERAS22)
    assert s.total_params == 320 + 18_496 + 1_179_776 + 1_290 == 1_199_882
    assert s.root.children[4].output_shape == (9216,)


def test_keras21_sequential_config_is_a_list():
    doc = {"class_name": "Sequential", "config": MNIST_KERAS22["config"]["layers"]}
    assert keras_source.from_dict(doc).total_params == 1_199_882


def test_tf_op_lambda_in_a_tf_keras_functional_model():
    """tf.keras wraps TensorFlow functions as TFOpLambda layers; hand-written in its layout:
    x = Dense(4)(inp); y = tf.math.add(x, 1.0); z = tf.concat([x, y], axis=-1); Dense(2)(z);
    w = tf.image.resize(...) of unknown shape, then Flatten."""
    doc = {"class_name": "Functional", "config": {"name": "tfop", "layers": [
        {"class_name": "InputLayer", "name": "inp", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "inp"}},
        {"class_name": "Dense", "name": "dense", "config": {"name": "dense", "units": 4},
         "inbound_nodes": [[["inp", 0, 0, {}]]]},
        {"class_name": "TFOpLambda", "name": "tf.math.add",
         "config": {"name": "tf.math.add", "trainable": True, "function": "math.add"},
         "inbound_nodes": [["dense", 0, 0, {"y": 1.0, "name": None}]]},
        {"class_name": "TFOpLambda", "name": "tf.concat",
         "config": {"name": "tf.concat", "function": "concat"},
         "inbound_nodes": [[["dense", 0, 0, {"axis": -1, "name": None}],
                            ["tf.math.add", 0, 0, {"axis": -1, "name": None}]]]},
        {"class_name": "TFOpLambda", "name": "tf.math.multiply",
         "config": {"name": "tf.math.multiply", "function": "math.multiply"},
         "inbound_nodes": [["tf.concat", 0, 0, {"y": ["tf.concat", 0, 0], "name": None}]]},
        {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2},
         "inbound_nodes": [[["tf.math.multiply", 0, 0, {}]]]},
        {"class_name": "SlicingOpLambda", "name": "tf.__operators__.getitem",
         "config": {"name": "tf.__operators__.getitem", "function": "__operators__.getitem"},
         "inbound_nodes": [["out", 0, 0, {"slice_spec": {"start": None, "stop": 1}}]]},
    ], "input_layers": [["inp", 0, 0]],
        "output_layers": [["out", 0, 0], ["tf.__operators__.getitem", 0, 0]]}}
    s = keras_source.from_dict(doc)
    rows = {n.name: n for n in s.root.children}
    assert rows["tf.__operators__.getitem"].remark == "output shape unknown"
    assert rows["tf.concat"].output_shape == (8,)
    assert rows["out"].params == (8 + 1) * 2
    assert s.total_params == (3 + 1) * 4 + (8 + 1) * 2 and not s.lower_bound


def test_tf_op_lambda_of_unknown_shape_makes_later_layers_unknown():
    doc = {"class_name": "Functional", "config": {"name": "tfop", "layers": [
        {"class_name": "InputLayer", "name": "inp", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 8, 8, 3], "name": "inp"}},
        {"class_name": "TFOpLambda", "name": "tf.image.resize",
         "config": {"name": "tf.image.resize", "function": "image.resize"},
         "inbound_nodes": [["inp", 0, 0, {"size": [4, 4], "name": None}]]},
        {"class_name": "Conv2D", "name": "conv",
         "config": {"name": "conv", "filters": 2, "kernel_size": 3},
         "inbound_nodes": [[["tf.image.resize", 0, 0, {}]]]},
    ], "input_layers": [["inp", 0, 0]], "output_layers": [["conv", 0, 0]]}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = keras_source.from_dict(doc)
    rows = {n.name: n for n in s.root.children}
    assert rows["tf.image.resize"].remark == "output shape unknown"
    assert not rows["tf.image.resize"].unknown
    assert rows["conv"].unknown and rows["conv"].remark == "input shape unknown"
    assert s.unknown_layers == {"Conv2D": 1}


def keras2_h5(model: Any, path: Path) -> Path:
    """A full-model .h5 file as Keras 2 wrote it: the Keras 2 layout in ``model_config``, and
    ``model_weights/<layer>/<layer>/<weight>:0`` datasets listed in ``weight_names``."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(keras2_layout(json.loads(model.to_json())))
        f.attrs["keras_version"], f.attrs["backend"] = "2.15.0", "tensorflow"
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        for layer in model.layers:
            group = root.create_group(layer.name)
            parts = getattr(layer, "layers", [layer])
            names = [(f"{sub.name}/{w.name}:0", w) for sub in parts for w in sub.weights]
            group.attrs["weight_names"] = [n.encode() for n, _ in names]
            for name, w in names:
                group.create_dataset(name, shape=tuple(w.shape), dtype="float32")
    return path


@pytest.mark.parametrize("build", [build_custom_model, build_nested_custom],
                         ids=model_id)
def test_keras2_h5_with_unknown_classes(build, tmp_path):
    import keras

    keras.backend.clear_session()
    model = build()
    s = paramcount.summarize(keras2_h5(model, tmp_path / "k2.h5"))
    assert s.total_params == model.count_params() and not s.lower_bound
    assert s.meta["keras_version"] == "2.15.0"
