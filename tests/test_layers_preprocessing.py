"""Preprocessing and application layers against Keras 3; tf.keras's TFOpLambda by hand (its
Keras 2 class is not in Keras 3, and TensorFlow's tf.keras is Keras 3 too)."""

from __future__ import annotations

import pytest
from oracle import Counts, check_keras, ours

import paramcount
import paramcount.layers.preprocessing  # registers the layer types
from paramcount.errors import ShapeError, SpecError

KERAS_CASES = [
    ("Rescaling", {"scale": 1 / 255}, (16, 16, 3)),
    ("Rescaling", {"scale": 2.0, "offset": -1.0}, (5,)),
    ("Normalization", {}, (16, 16, 3)),
    ("Normalization", {"axis": -1}, (7,)),
    ("Normalization", {"axis": [1, 3]}, (16, 8, 3)),
    ("Normalization", {"axis": (-1, -2)}, (4, 6)),
    ("Normalization", {"axis": None}, (16, 16, 3)),
    ("Normalization", {"axis": 3}, (16, 16, 3)),
    ("Normalization", {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 1.0, 1.0]}, (16, 16, 3)),
    ("Normalization", {"mean": 0.5, "variance": 2.0, "invert": True}, (4,)),
    ("Resizing", {"height": 8, "width": 6}, (16, 16, 3)),
    ("Resizing", {"height": 8, "width": 6, "crop_to_aspect_ratio": True}, (None, None, 3)),
    ("Resizing", {"height": 8, "width": 6, "data_format": "channels_first"}, (3, 16, 16)),
    ("CenterCrop", {"height": 4, "width": 5}, (16, 16, 3)),
    ("CenterCrop", {"height": 4, "width": 5, "data_format": "channels_first"}, (3, 16, 16)),
    ("RandomCrop", {"height": 4, "width": 4}, (16, 16, 3)),
    ("RandomFlip", {"mode": "horizontal"}, (16, 16, 3)),
    ("RandomRotation", {"factor": 0.1}, (16, 16, 3)),
    ("RandomZoom", {"height_factor": 0.1}, (16, 16, 3)),
    ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.2}, (16, 16, 3)),
    ("RandomContrast", {"factor": 0.1}, (16, 16, 3)),
    ("RandomBrightness", {"factor": 0.1}, (16, 16, 3)),
    ("RandomGrayscale", {}, (16, 16, 3)),
    ("RandomHue", {"factor": 0.1}, (16, 16, 3)),
    ("RandomSaturation", {"factor": 0.1}, (16, 16, 3)),
    ("RandomSharpness", {"factor": 0.1}, (16, 16, 3)),
    ("RandomShear", {}, (16, 16, 3)),
    ("RandomColorJitter", {}, (16, 16, 3)),
    ("RandomColorDegeneration", {"factor": 0.1}, (16, 16, 3)),
    ("RandomInvert", {}, (16, 16, 3)),
    ("RandomPosterization", {"factor": 4}, (16, 16, 3)),
    ("RandomErasing", {}, (16, 16, 3)),
    ("RandomGaussianBlur", {}, (16, 16, 3)),
    ("RandomPerspective", {}, (16, 16, 3)),
    ("RandomElasticTransform", {}, (16, 16, 3)),
    ("AutoContrast", {}, (16, 16, 3)),
    ("Equalization", {}, (16, 16, 3)),
    ("Solarization", {}, (16, 16, 3)),
    ("MixUp", {}, (16, 16, 3)),
    ("CutMix", {}, (16, 16, 3)),
    ("AugMix", {}, (16, 16, 3)),
    ("RandAugment", {}, (16, 16, 3)),
]


@pytest.mark.parametrize("name, config, shape", KERAS_CASES)
def test_against_keras(name, config, shape):
    check_keras(name, config, shape)


def _application_layer(module: str, name: str, config: dict, shapes: list[tuple]) -> Counts:
    """Build a layer class of keras.applications (not exported by keras.layers)."""
    import importlib

    import keras

    layer = getattr(importlib.import_module(f"keras.src.applications.{module}"), name)(**config)
    xs = [keras.Input(shape=s) for s in shapes]
    y = layer(xs if len(xs) > 1 else xs[0])
    trainable = sum(int(w.numpy().size) for w in layer.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in layer.non_trainable_weights)
    return Counts(trainable + frozen, trainable, frozen, 0, tuple(y.shape)[1:])


@pytest.mark.parametrize("module, name, config, shapes", [
    ("convnext", "LayerScale", {"init_values": 1e-6, "projection_dim": 96}, [(7, 7, 96)]),
    ("convnext", "LayerScale", {"init_values": 0.1, "projection_dim": 8}, [(8,)]),
    ("convnext", "StochasticDepth", {"drop_path_rate": 0.1}, [(7, 7, 96)]),
    ("inception_resnet_v2", "CustomScaleLayer", {"scale": 0.17}, [(35, 35, 320)] * 2),
])
def test_application_layers_against_keras(module, name, config, shapes):
    want = _application_layer(module, name, config, shapes)
    got = ours(name, config, shapes if len(shapes) > 1 else shapes[0], "keras")
    assert got == want


def test_normalization_counts_by_hand():
    # mean (3,) + variance (3,) + count () = 7, all non-trainable
    s = paramcount.layer("Normalization").count((224, 224, 3))
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (7, 0, 7)
    assert [w.name for w in s.layers[0].weights] == ["mean", "variance", "count"]


@pytest.mark.parametrize("function, call_args, shapes, out", [
    ("math.add", {}, [(4, 3), (4, 3)], (4, 3)),
    ("__operators__.add", {}, [(4, 3), (3,)], (4, 3)),
    ("math.multiply", {}, [(None, 8), (1, 8)], (None, 8)),
    ("nn.relu", {}, [(5, 2)], (5, 2)),
    ("math.reduce_mean", {"axis": [1, 2], "keepdims": True}, [(7, 7, 16)], (1, 1, 16)),
    ("math.reduce_sum", {"axis": -1}, [(7, 16)], (7,)),
    ("expand_dims", {"axis": -1}, [(5,)], (5, 1)),
    ("expand_dims", {"axis": 1}, [(5, 2)], (1, 5, 2)),
    ("concat", {"axis": -1}, [(4, 3), (4, 5)], (4, 8)),
    ("reshape", {"shape": [-1, 2, 6]}, [(12,)], (2, 6)),
    ("linalg.matmul", {}, [(4, 3), (3, 5)], (4, 5)),
])
def test_tf_op_lambda_shapes_by_hand(function, call_args, shapes, out):
    s = paramcount.layer("TFOpLambda", function=function, call_arguments=call_args).count(
        shapes if len(shapes) > 1 else shapes[0])
    assert s.total_params == 0
    assert s.layers[0].output_shape == out


@pytest.mark.parametrize("function, call_args, shapes, message", [
    ("image.resize", {}, [(8, 8, 3)], "cannot be told"),
    ("math.add", {}, [(4, 3), (4, 5)], "do not broadcast"),
    ("math.reduce_mean", {"axis": 0}, [(4, 3)], "batch"),
    ("math.reduce_mean", {"axis": 5}, [(4, 3)], "out of range"),
    ("reshape", {"shape": [4, 3]}, [(12,)], "batch"),
    ("concat", {"axis": 1}, [(4, 3), (4,)], "ranks"),
])
def test_tf_op_lambda_errors(function, call_args, shapes, message):
    spec = paramcount.layer("TFOpLambda", function=function, call_arguments=call_args)
    with pytest.raises(ShapeError, match=message):
        spec.count(shapes if len(shapes) > 1 else shapes[0])


def test_slicing_op_lambda_has_no_weights_and_no_known_shape():
    spec = paramcount.layer("SlicingOpLambda", function="__operators__.getitem")
    with pytest.raises(ShapeError, match="cannot be told"):
        spec.count((4, 3))


@pytest.mark.parametrize("name, config, shape, error, message", [
    ("Normalization", {"mean": [1.0]}, (3,), SpecError, "both mean and variance"),
    ("Normalization", {"axis": "x"}, (3,), SpecError, "axis"),
    ("Normalization", {"axis": 4}, (16, 3), ShapeError, "out of range"),
    ("Normalization", {"axis": -1}, (None,), ShapeError, "known sizes"),
    ("Resizing", {"height": 8, "width": 8}, (16, 3), ShapeError, "rank 3"),
    ("LayerScale", {"projection_dim": 8}, (7, 4), ShapeError, "does not broadcast"),
    ("CustomScaleLayer", {"scale": 0.1}, (4,), ShapeError, "two inputs"),
])
def test_errors(name, config, shape, error, message):
    with pytest.raises(error, match=message):
        paramcount.layer(name, **config).count(shape)
