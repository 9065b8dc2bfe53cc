"""What paramcount knows of Keras classes: which layer classes it can build from their config,
how a Keras config maps onto a registered layer's arguments, dtype policies, keras.ops
operations, and the names Keras 3 gives layers in a weights file."""

from __future__ import annotations

import functools
from typing import Any

from paramcount.build import snake
from paramcount.errors import SpecError
from paramcount.layers import lookup
from paramcount.shapes import Shape
from paramcount.sources.keras.config import Entry, ModelConfig

_KERAS_PACKAGES = ("keras", "keras_hub", "keras_nlp", "keras_cv", "tf_keras")
#: the classes whose quantized variables paramcount knows (paramcount.layers.keras_quant)
QUANTIZED = frozenset({"Dense", "EinsumDense", "Embedding", "ReversibleEmbedding"})
# keras.ops operations whose output is the operands broadcast together
ELEMENTWISE_OPS = frozenset({
    "Add", "Subtract", "Multiply", "Divide", "TrueDivide", "FloorDivide", "Mod", "Power",
    "Maximum", "Minimum", "Where", "Abs", "Negative", "Square", "Sqrt", "Exp", "Log", "Cast",
    "Relu", "Relu6", "Sigmoid", "Tanh", "Silu", "Gelu", "Elu", "Selu", "Softplus", "HardSigmoid",
    "HardSilu", "LeakyRelu", "Softmax", "LogSoftmax", "Clip", "Identity", "StopGradient",
})


def policy(config: Any) -> str:
    """The dtype policy named in a layer config: ``"mixed_float16"``, ``"float32"``...

    >>> policy({"dtype": {"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}})
    'mixed_float16'
    >>> policy({"dtype": {"class_name": "QuantizedDTypePolicy",
    ...                   "config": {"mode": "int8", "source_name": "float32"}}})
    'int8_from_float32'
    """
    d = config.get("dtype") if isinstance(config, dict) else None
    if isinstance(d, dict):
        c: dict[str, Any] = d["config"] if isinstance(d.get("config"), dict) else {}
        mode, source = c.get("mode"), c.get("source_name")
        d = f"{mode}_from_{source}" if isinstance(mode, str) and isinstance(
            source, str) else c.get("name")
    return d if isinstance(d, str) else "float32"


def known_class(e: Entry) -> bool:
    """Whether ``e`` is a Keras layer class paramcount knows (not a custom class of the same
    name, not Lambda, not a quantized layer whose weights differ)."""
    package = (e.module or "keras").split(".")[0]
    if package not in _KERAS_PACKAGES:
        return False
    if "_from_" in policy(e.config) and e.class_name not in QUANTIZED:
        return False  # a quantized layer of another class: its weights are other tensors
    return _registered(e.class_name)


@functools.lru_cache(maxsize=512)
def _registered(class_name: str) -> bool:
    if class_name == "Lambda":
        return False
    try:
        _, torch_only = lookup(class_name)
    except SpecError:
        return False
    return not torch_only


def adapt(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """A Keras config as the registered layer reads it: Keras 2's one-item axis lists, Keras 3's
    serialized backward layer of Bidirectional (a mirror of ``layer``), and so on down the
    layers a wrapper holds.

    >>> adapt("BatchNormalization", {"axis": [3]})
    {'axis': 3}
    """
    config = dict(config)
    axis = config.get("axis")
    if class_name == "BatchNormalization" and isinstance(axis, list) and len(axis) == 1:
        config["axis"] = axis[0]
    if class_name == "Bidirectional" and _mirrors(config.get("backward_layer"),
                                                  config.get("layer")):
        config.pop("backward_layer", None)
    inner = config.get("layer")
    if isinstance(inner, dict) and isinstance(inner.get("class_name"), str) and isinstance(
            inner.get("config"), dict):
        config["layer"] = {**inner, "config": adapt(inner["class_name"], inner["config"])}
    return config


def _mirrors(backward: Any, forward: Any) -> bool:
    if backward is None:
        return True
    if not (isinstance(backward, dict) and isinstance(forward, dict)):
        return False
    skip = {"name", "go_backwards"}
    b, f = backward.get("config") or {}, forward.get("config") or {}
    return backward.get("class_name") == forward.get("class_name") and all(
        _unshared(b.get(k)) == _unshared(f.get(k)) for k in set(b) | set(f) if k not in skip)


def _unshared(value: Any) -> Any:
    """A serialized value without Keras 3's ``shared_object_id``: each initializer of the
    forward and the backward layer carries its own, which says nothing of its shapes.

    >>> _unshared({"class_name": "Zeros", "config": {}, "shared_object_id": 7})
    {'class_name': 'Zeros', 'config': {}}
    """
    if isinstance(value, dict):
        return {k: _unshared(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [_unshared(v) for v in value]
    return value


def declared_output(e: Entry) -> Shape | None:
    """Lambda's ``output_shape`` when it is a plain shape (batch excluded)."""
    shape = e.config.get("output_shape")
    if isinstance(shape, list) and all(
            d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in shape):
        return tuple(shape)
    return None


def saving_names(cfg: ModelConfig) -> dict[str, str]:
    """Keras 3's names for a model's layers in its weights file: the snake-case class name,
    numbered when repeated, in the order of ``model.layers`` (keras/src/saving/saving_lib.py)."""
    used: dict[str, int] = {}
    out: dict[str, str] = {}
    for e in cfg.layers:
        if e.is_op or (e.is_input and cfg.kind == "Sequential"):
            continue
        base = snake(e.class_name)
        n = used.get(base, -1) + 1
        used[base] = n
        out[e.name] = base if n == 0 else f"{base}_{n}"
    return out
