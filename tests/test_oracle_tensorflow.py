"""The Keras cases again, on TensorFlow: "check it with TensorFlow" is how people verify.

Each layer family's test module lists representative ``TF_CASES``; all of them are built with
TensorFlow's tf.keras in one subprocess (Keras's backend is fixed per process) and compared with
paramcount's counts and output shapes.
"""

from __future__ import annotations

import importlib

import pytest
from oracle import ours, tensorflow_counts

pytestmark = pytest.mark.slow  # keras.applications / TensorFlow round trips

FAMILIES = ("core", "conv", "pooling", "activations", "reshaping", "merging", "normalization",
            "recurrent", "wrappers", "attention")
CASES = [case for family in FAMILIES
         for case in importlib.import_module(f"test_layers_{family}").TF_CASES]


@pytest.fixture(scope="module")
def tensorflow_results():
    return tensorflow_counts(CASES)


def test_enough_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("index", range(len(CASES)),
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_tensorflow_agrees(tensorflow_results, index):
    name, config, shape = CASES[index]
    assert ours(name, config, shape, "keras") == tensorflow_results[index]
