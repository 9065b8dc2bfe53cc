"""Files saved by Keras 2 itself (tf_keras on TensorFlow), for the Keras 2 / tf.keras layout.

A subprocess with TF_USE_LEGACY_KERAS=1 builds each model with tf.keras (Keras 2), saves its
`to_json()` and a legacy `.h5`, and reports Keras 2's own counts, per model and per layer;
paramcount reads both files and must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import paramcount

pytestmark = pytest.mark.slow  # Keras 2 in a TensorFlow subprocess

WORKER = r"""
import json, os, sys
import tensorflow as tf
from tensorflow import keras
L = keras.layers
out_dir = sys.argv[1]

def cnn():
    return keras.Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
                             L.BatchNormalization(), L.MaxPooling2D(2), L.Flatten(),
                             L.Dropout(0.5), L.Dense(10, activation="softmax")])

def siamese():
    a, b = L.Input((16,), name="left"), L.Input((16,), name="right")
    tower = L.Dense(8, name="tower")
    merged = L.Concatenate()([tower(a), tower(b)])
    return keras.Model([a, b], [L.Dense(1, name="score")(merged), L.Dense(3, name="cls")(merged)])

def nested():
    inner = keras.Sequential([L.Input((8,)), L.Dense(6), L.Dense(4)], name="inner")
    inner.layers[0].trainable = False
    x = L.Input((8,))
    return keras.Model(x, L.Dense(2)(inner(x)))

def recurrent():
    x = L.Input((12, 5))
    y = L.Bidirectional(L.LSTM(7, return_sequences=True))(x)
    y = L.GRU(3, reset_after=False)(y)
    return keras.Model(x, L.Dense(1)(y))

def residual():
    x = L.Input((16, 16, 3))
    y = L.Conv2D(8, 3, padding="same")(x)
    z = L.BatchNormalization()(L.Conv2D(8, 3, padding="same", use_bias=False)(y))
    y = L.Activation("relu")(L.Add()([y, z]))
    return keras.Model(x, L.Dense(4)(L.GlobalAveragePooling2D()(y)))

import tf_keras
report = {"keras": tf_keras.__version__}
for name, build in [("cnn", cnn), ("siamese", siamese), ("nested", nested),
                    ("recurrent", recurrent), ("residual", residual)]:
    model = build()
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        f.write(model.to_json())
    model.save(os.path.join(out_dir, name + ".h5"))
    trainable = sum(int(tf.size(w)) for w in model.trainable_weights)
    frozen = sum(int(tf.size(w)) for w in model.non_trainable_weights)
    layers = {l.name: l.count_params() for l in model.layers}
    report[name] = {"counts": [trainable + frozen, trainable, frozen], "layers": layers}
print("RESULT" + json.dumps(report))
"""

MODELS = ("cnn", "siamese", "nested", "recurrent", "residual")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("tf2")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("KERAS_BACKEND", None)
    proc = subprocess.run([sys.executable, "-c", WORKER, str(out)], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line is not None, proc.stderr[-3000:]
    report = json.loads(line[6:])
    assert report["keras"].startswith("2."), report["keras"]  # really Keras 2
    return out, report


@pytest.mark.parametrize("suffix", [".json", ".h5"])
@pytest.mark.parametrize("name", MODELS)
def test_keras2_files_count_as_keras2_does(saved, name, suffix):
    out, report = saved
    s = paramcount.summarize(out / f"{name}{suffix}")
    want = report[name]
    assert [s.total_params, s.trainable_params, s.non_trainable_params] == want["counts"]
    ours = {n.name: n.params for n in s.layers}
    assert {k: v for k, v in ours.items() if k in want["layers"]} == want["layers"]
    assert set(want["layers"]) <= set(ours)
