"""Test set-up: Keras runs on the PyTorch backend in-process (TensorFlow cases run in a
subprocess, see tests/oracle.py), and the oracle markers."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from the current output")
