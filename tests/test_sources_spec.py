"""The model file format: shape inference, blocks, repeats, residuals, sharing and tying,
each checked against the real framework building the same model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import paramcount
from paramcount.errors import ParamcountError, ShapeError, SpecError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def keras_model_counts(model) -> tuple[int, int, int]:
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    frozen = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return trainable + frozen, trainable, frozen


def test_mnist_example_equals_keras_sequential():
    import keras
    from keras import layers as L

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
        L.Flatten(), L.Dropout(0.5), L.Dense(10, activation="softmax"),
    ])
    s = paramcount.summarize(EXAMPLES / "mnist_cnn.yaml")
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == \
        keras_model_counts(model)
    ours = [(n.params, n.output_shape) for n in s.layers]
    theirs = [(layer.count_params(), tuple(layer.output.shape)[1:]) for layer in model.layers]
    assert ours == theirs


def _keras_basic_block(x, filters, stride):
    from keras import layers as L

    y = L.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.Activation("relu")(y)
    y = L.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = L.BatchNormalization()(y)
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = L.Conv2D(filters, 1, strides=stride, use_bias=False)(x)
        shortcut = L.BatchNormalization()(shortcut)
    return L.Activation("relu")(L.Add()([y, shortcut]))


def test_residual_example_equals_keras_functional():
    import keras
    from keras import layers as L

    inputs = keras.Input((32, 32, 3))
    x = L.Conv2D(16, 3, padding="same")(inputs)
    x = _keras_basic_block(x, 16, 1)
    x = _keras_basic_block(x, 16, 1)
    x = _keras_basic_block(x, 32, 2)
    out = L.Dense(10)(L.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, out)
    s = paramcount.summarize(EXAMPLES / "resnet_block.yaml")
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == \
        keras_model_counts(model)
    assert s.layers[-1].output_shape == (10,)


def test_parameters_can_be_overridden():
    a = paramcount.summarize(EXAMPLES / "resnet_block.yaml")
    b = paramcount.summarize(EXAMPLES / "resnet_block.yaml", params={"width": 8})
    assert b.total_params < a.total_params
    with pytest.raises(SpecError, match="unknown parameter 'depth'"):
        paramcount.summarize(EXAMPLES / "resnet_block.yaml", params={"depth": 3})


def test_depth_folds_rows_but_never_totals():
    s = paramcount.summarize(EXAMPLES / "resnet_block.yaml")
    counts = [len(s.rows(depth)) for depth in (1, 2, 3, 4, None)]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    assert [r.node.name for r in s.rows(1)] == [n.name for n in s.layers]
    assert sum(r.node.params for r in s.rows(1)) == s.total_params


def test_depth_given_to_summarize_is_the_default_view():
    full = paramcount.summarize(EXAMPLES / "resnet_block.yaml")
    s = paramcount.summarize(EXAMPLES / "resnet_block.yaml", depth=1)
    assert [r.node.name for r in s.rows()] == [n.name for n in full.layers]
    assert all(layer["children"] == [] for layer in s.to_dict()["layers"])
    assert s.total_params == full.total_params
    with pytest.raises(ParamcountError, match="depth must be a positive integer, got 0"):
        paramcount.summarize(EXAMPLES / "resnet_block.yaml", depth=0)


def test_shared_layer_is_counted_once_as_keras_does():
    import keras
    from keras import layers as L

    a, b = keras.Input((16,)), keras.Input((16,))
    tower = L.Dense(8, name="tower")
    merged = L.Concatenate()([tower(a), tower(b)])
    model = keras.Model([a, b], L.Dense(1)(merged))
    spec = {"inputs": {"left": [16], "right": [16]}, "layers": [
        {"Dense": {"units": 8, "name": "tower", "inputs": "left"}},
        {"Dense": {"share": "tower", "inputs": "right", "name": "tower_again"}},
        {"Concatenate": {"inputs": ["tower", "tower_again"]}},
        {"Dense": 1},
    ]}
    s = paramcount.summarize(spec)
    assert s.total_params == model.count_params() == 8 * 17 + 17
    assert s.layers[0].calls == 2


def test_tied_weights_are_counted_once_as_pytorch_does():
    import torch

    class Tied(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(100, 16)
            self.hidden = torch.nn.Linear(16, 16)
            self.head = torch.nn.Linear(16, 100)
            self.head.weight = self.embed.weight

    want = sum(p.numel() for p in Tied().parameters())
    spec = {"framework": "pytorch", "input_shape": [12], "layers": [
        {"Embedding": {"num_embeddings": 100, "embedding_dim": 16, "name": "embed"}},
        {"Linear": {"in_features": 16, "out_features": 16}},
        {"Linear": {"in_features": 16, "out_features": 100, "tie": "embed", "name": "head"}},
    ]}
    s = paramcount.summarize(spec)
    assert s.total_params == want == 100 * 16 + 16 * 16 + 16 + 100
    assert [t.owner for t in s.layers[-1].tied] == ["embed.weight"]


def test_named_inputs_build_a_branching_graph():
    import keras
    from keras import layers as L

    x = keras.Input((8, 8, 4))
    a = L.Conv2D(6, 1, name="a")(x)
    b = L.Conv2D(6, 3, padding="same", name="b")(x)
    model = keras.Model(x, L.Concatenate()([a, b]))
    spec = {"input_shape": [8, 8, 4], "layers": [
        {"Conv2D": {"filters": 6, "kernel_size": 1, "name": "a"}},
        {"Conv2D": {"filters": 6, "kernel_size": 3, "padding": "same", "name": "b",
                    "inputs": "input"}},
        {"Concatenate": {"inputs": ["a", "b"]}},
    ]}
    s = paramcount.summarize(spec)
    assert s.total_params == model.count_params()
    assert s.layers[-1].output_shape == tuple(model.output.shape)[1:] == (8, 8, 12)


def test_parallel_branches_merge():
    spec = {"input_shape": [10], "layers": [
        {"Parallel": {"branches": [[{"Dense": 3}], [{"Dense": 5}], []],
                      "merge": {"Concatenate": {"axis": -1}}}},
    ]}
    s = paramcount.summarize(spec)
    assert s.total_params == (10 + 1) * 3 + (10 + 1) * 5  # hand count
    assert s.layers[0].output_shape == (3 + 5 + 10,)


def test_bare_values_fill_positional_arguments():
    s = paramcount.summarize({"input_shape": [4], "layers": [{"Dense": 8}, "Flatten",
                                                            {"Dropout": 0.1}, {"Dense": 2}]})
    assert s.total_params == (4 + 1) * 8 + (8 + 1) * 2


def test_json_file(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"input_shape": [4], "layers": [{"Dense": {"units": 2}}]}')
    assert paramcount.summarize(path).total_params == 10


# -- bad input: each message names the file, the layer and the problem ---------------------

def _write(tmp_path, text, name="model.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, error, message", [
    ("input_shape: [4]\nlayers:\n  - Dens: {units: 2}\n", SpecError,
     r"model.yaml: layers\[0\] \(Dens\): unknown layer type 'Dens' \(did you mean 'Dense'\?\)"),
    ("input_shape: [4]\nlayers:\n  - Dense: {units: 0}\n", SpecError,
     r"layers\[0\] \(Dense\): Dense: units=0 is invalid; expected an integer >= 1"),
    ("input_shape: [4]\nlayers:\n  - Dense: {unit: 2}\n", SpecError,
     r"Dense needs the argument 'units' \(is 'unit' a typo\?\)"),
    ("input_shape: [3, 3, 1]\nlayers:\n  - Conv2D: {filters: 2, kernel_size: 5}\n", ShapeError,
     r"model.yaml: layer 'conv2d' \(Conv2D\) with input shape \(None, 3, 3, 1\): .*kernel"),
    ("input_shape: [4]\nlayers:\n  - Dense: {units: 2, inputs: nowhere}\n", SpecError,
     r"inputs names 'nowhere', which is not an earlier layer or input"),
    ("layers:\n  - Dense: 2\n", SpecError, r"no input: give the model an `input_shape`"),
    ("input_shape: [4]\nlayers: [Dense: {units: 2}\n", SpecError,
     r"model.yaml: invalid YAML at line \d+, column \d+"),
    ("input_shape: [4]\n", SpecError, r"needs a `layers` list"),
    ("input_shape: [4]\nlayer: []\n", SpecError, r"unknown top-level key 'layer'"),
    ("input_shape: [0]\nlayers: [Flatten]\n", SpecError, r"input_shape must be a list of "
     "positive integers"),
    ("input_shape: [4]\nblocks: {b: {layers: [b]}}\nlayers: [b]\n", SpecError,
     r"blocks nested .*over the limit of 64 \(--max-depth raises it\)"),
    ("input_shape: [4]\nblocks: {b: {params: {w: 2}, layers: [Dense: '${w}']}}\n"
     "layers: [{b: {width: 3}}]\n", SpecError, r"block 'b' has no parameter 'width'"),
    ("input_shape: [4]\nlayers: [{Dense: '${nope}'}]\n", SpecError, r"unknown name 'nope'"),
    ("input_shape: [4]\nlayers: [{Dense: \"${().__class__}\"}]\n", SpecError,
     r"unsupported expression"),
    ("input_shape: [4]\nlayers: [{Dense: {units: 2, repeat: 0}}]\n", SpecError,
     r"repeat must be a positive integer"),
    ("input_shape: [4]\nlayers: [{Dense: 2, Flatten: null}]\n", SpecError,
     r"an item is one `Type: arguments` pair"),
    ("input_shape: [4]\nlayers: [{Dense: {units: 2, name: a}}, {Dense: {units: 2, name: a}}]\n",
     SpecError, r"the name 'a' is used twice"),
    ("input_shape: [4]\nlayers: [{Dense: [2, 3]}]\n", SpecError,
     r"Dense: units=\[2, 3\] is invalid; expected an integer"),
    ("input_shape: [4]\nlayers: [{Flatten: 3}]\n", SpecError,
     r"Flatten takes no bare value"),
    ("input_shape: [4]\nlayers: [{Dense: {units: 3, tie: nowhere}}]\n", SpecError,
     r"tie names no earlier layer 'nowhere'"),
    ("[1, 2]\n", SpecError, r"a model description must be a mapping"),
])
def test_bad_model_files(tmp_path, text, error, message):
    with pytest.raises(error, match=message):
        paramcount.summarize(_write(tmp_path, text))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        paramcount.summarize(tmp_path / "absent.yaml")
    with pytest.raises(SpecError, match="no model files in this folder"):
        paramcount.summarize(tmp_path)


def test_bad_json_names_line_and_column(tmp_path):
    with pytest.raises(SpecError, match=r"m.json: invalid JSON at line 1, column \d+"):
        paramcount.summarize(_write(tmp_path, '{"layers": [', "m.json"))


def test_every_error_is_a_paramcount_error():
    assert issubclass(SpecError, ParamcountError) and issubclass(ShapeError, ParamcountError)


def test_cloned_repeats_equal_rebuilt_repeats():
    # identical copies are cloned; a copy that mentions ${index} is rebuilt: same tree either way
    def spec(units):
        return {"input_shape": [6, 8], "blocks": {"mlp": {"params": {"w": 8}, "layers": [
            {"LayerNormalization": None}, {"Dense": "${w * 2}"}, {"Dense": "${w}"}]}},
            "layers": [{"mlp": {"w": units, "repeat": 4}}, {"Dense": {"units": 3, "repeat": 2}}]}

    fast = paramcount.summarize(spec(8))
    slow = paramcount.summarize(spec("${8 + 0 * index}"))
    def rows(s):
        return [(r.depth, r.node.name, r.node.type, r.node.params, r.node.output_shape)
                for r in s.rows(fold=False)]

    assert rows(fast) == rows(slow)
    # per block: LayerNorm 2·8, Dense 8→16, Dense 16→8; then Dense 8→3 and Dense 3→3
    block = 2 * 8 + (8 + 1) * 16 + (16 + 1) * 8
    assert fast.total_params == 4 * block + (8 + 1) * 3 + (3 + 1) * 3
