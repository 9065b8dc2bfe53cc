"""The oracle: build a layer in the real framework and in paramcount, compare the counts.

One table-driven helper per framework, in the spirit of Keras's ``run_layer_test``: the same
layer name and arguments go to the framework and to paramcount (paramcount accepts both
frameworks' names and arguments), and total, trainable, non-trainable (and for PyTorch, buffer)
counts and the output shape must be equal.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import paramcount

Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class Counts:
    total: int
    trainable: int
    non_trainable: int
    buffers: int
    output_shape: Any


def _numel(shape: Any) -> int:
    return math.prod(int(d) for d in shape)


def _inputs(input_shape: Any) -> list[tuple]:
    if input_shape and isinstance(input_shape[0], list | tuple):
        return [tuple(s) for s in input_shape]
    return [tuple(input_shape)]


def eval_formula(numeric: str) -> int:
    """Evaluate a closed form such as ``(4 + 1) × 2``: integers and + - × · ( ) only."""
    expr = numeric.replace("×", "*").replace("·", "*")
    assert set(expr) <= set("0123456789+-*() "), numeric
    return int(eval(expr, {"__builtins__": {}}))  # only digits and operators, checked above


def ours(name: str, config: dict, input_shape: Any, framework: str) -> Counts:
    """paramcount's counts; also checks that the layer's closed form equals its shape count."""
    s = paramcount.layer(name, framework=framework, **config).count(input_shape)
    node = s.layers[0]
    if node.formula is not None:
        assert eval_formula(node.formula.numeric) == node.params, node.formula
    out = node.output_shape
    return Counts(s.total_params, s.trainable_params, s.non_trainable_params, s.buffers,
                  tuple(out) if out is not None else None)


def keras_counts(name: str, config: dict, input_shape: Any, call: dict | None = None) -> Counts:
    """Build ``keras.layers.<name>(**config)`` on symbolic inputs of ``input_shape``."""
    import keras

    layer = getattr(keras.layers, name)(**config)
    inputs = [keras.Input(shape=s) for s in _inputs(input_shape)]
    out = layer(*inputs, **(call or {})) if len(inputs) > 1 and name in _KERAS_POSITIONAL \
        else layer(inputs if len(inputs) > 1 else inputs[0], **(call or {}))
    if isinstance(out, list | tuple):
        out = out[0]
    trainable = sum(_numel(w.shape) for w in layer.trainable_weights)
    frozen = sum(_numel(w.shape) for w in layer.non_trainable_weights)
    assert layer.count_params() == trainable + frozen
    return Counts(trainable + frozen, trainable, frozen, 0, tuple(out.shape)[1:])


# Layers that Keras calls with several positional tensors rather than one list.
_KERAS_POSITIONAL = {"MultiHeadAttention", "GroupQueryAttention", "Attention"}


def torch_counts(name: str, config: dict, input_shape: Any, run: bool = True) -> Counts:
    """Build ``torch.nn.<name>(**config)`` and run it on the meta device for the shape."""
    import torch

    module = getattr(torch.nn, name)(**config)
    params = list(module.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    buffers = sum(b.numel() for b in module.buffers())
    out_shape = None
    if run:
        module = module.to("meta")
        xs = [torch.empty((2, *s), device="meta") for s in _inputs(input_shape)]
        out = module(*xs)
        while isinstance(out, tuple | list):
            out = out[0]
        out_shape = tuple(out.shape)[1:]
    return Counts(total, trainable, total - trainable, buffers, out_shape)


def check_keras(name: str, config: dict, input_shape: Any, call: dict | None = None) -> None:
    want = keras_counts(name, config, input_shape, call)
    got = ours(name, config, input_shape, "keras")
    assert got == want, f"keras.layers.{name}({config}) on {input_shape}"


def check_torch(name: str, config: dict, input_shape: Any, run: bool = True) -> None:
    want = torch_counts(name, config, input_shape, run)
    got = ours(name, config, input_shape, "pytorch")
    if not run:
        got = Counts(got.total, got.trainable, got.non_trainable, got.buffers, None)
    assert got == want, f"torch.nn.{name}({config}) on {input_shape}"


_TF_WORKER = """
import json, math, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import tensorflow as tf
out = []
for name, config, shapes in json.load(sys.stdin):
    layer = getattr(tf.keras.layers, name)(**config)
    xs = [tf.keras.Input(shape=tuple(s)) for s in shapes]
    y = layer(xs if len(xs) > 1 else xs[0])
    y = y[0] if isinstance(y, (list, tuple)) else y
    t = sum(math.prod(w.shape) for w in layer.trainable_weights)
    n = sum(math.prod(w.shape) for w in layer.non_trainable_weights)
    out.append([t + n, t, n, list(y.shape)[1:]])
print("RESULT" + json.dumps(out))
"""


def tensorflow_counts(cases: list[tuple[str, dict, Any]]) -> list[Counts]:
    """Build each case with TensorFlow's tf.keras in one subprocess (Keras's backend is fixed
    per process, and the in-process suite runs Keras on PyTorch)."""
    payload = json.dumps([[n, c, _inputs(s)] for n, c, s in cases])
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", _TF_WORKER], input=payload, text=True,
                          capture_output=True, env=env, timeout=600, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line is not None, proc.stderr[-3000:]
    return [Counts(t, tr, n, 0, tuple(shape)) for t, tr, n, shape in json.loads(line[6:])]
