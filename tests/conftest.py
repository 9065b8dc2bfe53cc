"""Test set-up: Keras runs on the PyTorch backend in-process (TensorFlow cases run in a
subprocess, see tests/oracle.py), and the oracle markers."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
