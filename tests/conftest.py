"""Test set-up: Keras runs on the PyTorch backend in-process (TensorFlow cases run in a
subprocess, see tests/oracle.py), the oracle markers, and no test leaves this machine: any
host but the loopback is refused, and a test that tried fails, so that a source mistaken for
a Hub id (or a library's own call home) shows at once instead of waiting on a network CI lacks.
"""

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from the current output")


@pytest.fixture(autouse=True)
def _stay_on_this_machine(monkeypatch):
    from hub_server import loopback_only

    refused = loopback_only(monkeypatch)
    yield
    assert not refused, f"the test tried to reach {refused}"
