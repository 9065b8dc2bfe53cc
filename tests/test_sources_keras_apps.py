"""Every keras.applications model against Keras 3 building it (weights=None), with and without
the classifier top: total, trainable and non-trainable counts, and every layer's count and output
shape, read from the model's JSON and from the ``model_config`` of an .h5 file as Keras writes
it. The sweep builds on PyTorch's meta device (``keras.device("meta")``): the models are real,
their weights take no memory and no time to initialize. A model of each family is also saved for
real, as .keras and as .h5. NASNetMobile, which Keras builds only on the TensorFlow backend, and
models saved by TensorFlow's tf.keras are built in a TensorFlow subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_sources_keras import Counts, counts, from_json, keras_counts

import paramcount

pytestmark = pytest.mark.slow  # keras.applications / TensorFlow round trips

APPLICATIONS = [
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
    "DenseNet121", "DenseNet169", "DenseNet201",
    "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
    "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
    "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S",
    "InceptionResNetV2", "InceptionV3",
    "MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small",
    "NASNetLarge",
    "ResNet101", "ResNet101V2", "ResNet152", "ResNet152V2", "ResNet50", "ResNet50V2",
    "VGG16", "VGG19", "Xception",
]


def test_the_sweep_covers_every_application():
    import keras

    exported = {n for n in dir(keras.applications) if n[0].isupper()}
    assert exported == {*APPLICATIONS, "NASNetMobile"}  # NASNetMobile: the TensorFlow test


def legacy_h5_config(model: Any, path: Path) -> Path:
    """An .h5 file holding the ``model_config`` attribute exactly as ``model.save("x.h5")``
    writes it (legacy_h5_format.save_model_to_hdf5), without the weights."""
    import h5py
    from keras.src.legacy.saving import json_utils, saving_options, saving_utils

    with saving_options.keras_option_scope(use_legacy_config=True):
        metadata = saving_utils.model_metadata(model, include_optimizer=False)
    with h5py.File(path, "w") as f:
        for key, value in metadata.items():
            f.attrs[key] = json.dumps(value, default=json_utils.get_json_type).encode() \
                if isinstance(value, dict | list) else value
    return path


@pytest.mark.parametrize("top", [True, False], ids=["top", "notop"])
@pytest.mark.parametrize("name", APPLICATIONS)
def test_application(name, top, tmp_path):
    import keras

    keras.backend.clear_session()
    with keras.device("meta"):
        model = getattr(keras.applications, name)(weights=None, include_top=top)
    want = keras_counts(model)
    assert counts(from_json(model)) == want, "JSON"
    h5 = paramcount.summarize(legacy_h5_config(model, tmp_path / f"{name}.h5"))
    assert counts(h5) == want, ".h5 model_config"


SAVED = [  # one model of each family, small enough to save in a second or two
    ("ResNet50", True), ("ResNet50V2", False), ("VGG16", False), ("MobileNet", True),
    ("MobileNetV2", True), ("MobileNetV3Small", True), ("EfficientNetB0", True),
    ("EfficientNetV2B0", True), ("DenseNet121", True), ("InceptionV3", False),
    ("Xception", False), ("ConvNeXtTiny", True),
]


@pytest.mark.parametrize("name, top", SAVED)
def test_saved_application(name, top, tmp_path):
    import keras

    keras.backend.clear_session()
    model = getattr(keras.applications, name)(weights=None, include_top=top)
    want = keras_counts(model)
    for suffix in (".keras", ".h5"):
        path = tmp_path / f"{name}{suffix}"
        model.save(path)
        try:
            assert counts(paramcount.summarize(path)) == want, suffix
        finally:
            path.unlink()


# -- TensorFlow ----------------------------------------------------------------------------------

_TF_WORKER = r"""
import json, math, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import tensorflow as tf
keras = tf.keras
out_dir = sys.argv[1]

def counts(model):
    t = sum(math.prod(w.shape) for w in model.trainable_weights)
    n = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    def shape(layer):
        o = layer.output
        o = o[0] if isinstance(o, (list, tuple)) else o
        return list(o.shape)[1:]
    return [t + n, t, n, {l.name: [l.count_params(), shape(l)] for l in model.layers}]

def small():
    L = keras.layers
    tower = keras.Sequential([L.Conv2D(8, 3), L.BatchNormalization(), L.GlobalAveragePooling2D()],
                             name="tower")
    a, b = keras.Input((16, 16, 3)), keras.Input((16, 16, 3))
    shared = L.Dense(8, name="shared")
    x = L.Concatenate()([shared(tower(a)), shared(tower(b))])
    return keras.Model([a, b], L.Dense(2)(L.Dropout(0.1)(x)), name="tf_siamese")

results = {}
for name, build in [("NASNetMobile_top", lambda: keras.applications.NASNetMobile(weights=None)),
                    ("NASNetMobile_notop", lambda: keras.applications.NASNetMobile(
                        weights=None, include_top=False)),
                    ("tf_siamese", small)]:
    keras.backend.clear_session()
    model = build()
    for suffix in (".keras", ".h5"):
        model.save(os.path.join(out_dir, name + suffix))
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        f.write(model.to_json())
    results[name] = counts(model)
print("RESULT" + json.dumps(results))
"""


@pytest.fixture(scope="module")
def tensorflow_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("tf")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", _TF_WORKER, str(out)], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line is not None, proc.stderr[-3000:]
    results = {}
    for name, (total, trainable, frozen, layers) in json.loads(line[6:]).items():
        layers = {k: (n, tuple(shape)) for k, (n, shape) in layers.items()}
        results[name] = Counts(total, trainable, frozen, layers)
    return out, results


@pytest.mark.parametrize("name", ["NASNetMobile_top", "NASNetMobile_notop", "tf_siamese"])
@pytest.mark.parametrize("suffix", [".keras", ".h5", ".json"])
def test_saved_by_tensorflow(name, suffix, tensorflow_files):
    folder, results = tensorflow_files
    s = paramcount.summarize(folder / f"{name}{suffix}")
    assert counts(s) == results[name]
    if suffix != ".json":
        assert s.meta.get("backend", "tensorflow") == "tensorflow"
