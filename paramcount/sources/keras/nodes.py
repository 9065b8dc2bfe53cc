"""Inbound nodes: how a Functional model's config says each layer is called, in both layouts.

- Keras 3: ``{"args": [...], "kwargs": {...}}``, a tensor written as ``{"class_name":
  "__keras_tensor__", "config": {"shape": ..., "keras_history": [layer, node, tensor]}}``, so
  the shape of every tensor is recorded where it is used (keras/src/models/functional.py,
  ``serialize_node``);
- Keras 2 / tf.keras: the first argument's tensors as ``[layer, node, tensor, kwargs]`` lists
  (one alone when the layer keeps its argument's structure, as TFOpLambda does), every other
  argument in ``kwargs``, tensors there as ``[layer, node, tensor]`` and constants of the first
  argument as ``["_CONSTANT_VALUE", -1, value]`` (tf_keras/engine/node.py, ``serialize``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from paramcount.errors import SpecError
from paramcount.quoting import quote
from paramcount.shapes import Shape

_CONSTANT = "_CONSTANT_VALUE"
# keyword arguments that carry the tensors a layer is built on (attention's query, value, key)
_INPUT_KWARGS = ("inputs", "query", "value", "key")


@dataclass(frozen=True)
class Ref:
    """A tensor: output ``tensor`` of call ``node`` of ``layer``; ``shape`` as Keras 3 recorded it
    (batch excluded), None in the Keras 2 layout."""

    layer: str
    node: int
    tensor: int
    shape: Shape | None = None


@dataclass(frozen=True)
class Const:
    """A constant argument (a number or an array) with its shape."""

    shape: Shape


@dataclass
class Call:
    """One call of a layer: positional and keyword arguments, tensors as :class:`Ref`.

    >>> x = Ref("x", 0, 0)
    >>> Call([x], {"mask": Ref("m", 0, 0)}).inputs()
    [Ref(layer='x', node=0, tensor=0, shape=None)]
    """

    args: list[Any]
    kwargs: dict[str, Any]
    #: every tensor the call needs, keyword arguments (masks) included
    refs: list[Ref] = field(init=False)
    _inputs: list[Ref] = field(init=False)

    def __post_init__(self) -> None:
        positional = leaves(self.args, Ref)
        self.refs = positional + leaves(self.kwargs, Ref)
        self._inputs = positional + [r for key in _INPUT_KWARGS
                                     for r in leaves(self.kwargs.get(key), Ref)]

    def inputs(self) -> list[Ref]:
        """The tensors the layer is built on: positional ones, then query/value/key."""
        return list(self._inputs)

    def operands(self) -> list[Ref | Const]:
        """Positional tensors and constants, in order (an operation's operands)."""
        return leaves(self.args, (Ref, Const))

    def options(self) -> dict[str, Any]:
        """Keyword arguments that are not tensors (axis, keepdims)."""
        return {k: v for k, v in self.kwargs.items() if not leaves(v, (Ref, Const))}


def read_call(node: Any, names: set[str], where: str) -> Call:
    """One inbound node of either layout; ``names`` are the model's layers (Keras 2 writes a
    tensor in ``kwargs`` as a plain ``[layer, node, tensor]`` list)."""
    if isinstance(node, dict) and ("args" in node or "kwargs" in node):
        args = _value(node.get("args", []), where)
        kwargs = _value(node.get("kwargs") or {}, where)
        return Call(list(args) if isinstance(args, list) else [args],
                    dict(kwargs) if isinstance(kwargs, dict) else {})
    if isinstance(node, list | dict):
        return _legacy_call(node, names, where)
    raise SpecError(f"{where}: an inbound node must be a list or an object, got {quote(node)}")


def _value(v: Any, where: str) -> Any:
    """A Keras 3 serialized argument: tensors become Ref, arrays Const, tuples lists."""
    if isinstance(v, list | tuple):  # tuples: a get_config() dict not yet made JSON
        return [_value(x, where) for x in v]
    if not isinstance(v, dict):
        return v
    kind, config = v.get("class_name"), v.get("config")
    if kind == "__keras_tensor__" and isinstance(config, dict):
        history: Any = config.get("keras_history")
        if not is_history(history):
            raise SpecError(f"{where}: a tensor without a valid keras_history: {quote(history)}")
        shape = config.get("shape")
        recorded = batchless(shape, where) if isinstance(shape, list | tuple) and shape \
            else None
        return Ref(history[0], history[1], history[2], recorded)
    if kind == "__tuple__" and isinstance(config, dict):
        return _value(list(config.get("value") or []), where)
    if kind in ("__numpy__", "__tensor__") and isinstance(config, dict):
        return Const(nested_shape(config.get("value")))
    return {k: _value(x, where) for k, x in v.items()}


def batchless(value: Any, where: str) -> Shape:
    """A batch-inclusive Keras shape (``[null, 28, 28, 1]``) without its batch dimension.

    >>> batchless([None, 28, 28, 1], "input")
    (28, 28, 1)
    """
    ok = isinstance(value, list | tuple) and len(value) >= 1 and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in value)
    if not ok:
        raise SpecError(f"{where}: {quote(value)} is not a shape (a list of sizes, null for "
                        "unknown, "
                        "the batch first)")
    return tuple(value[1:])


def is_history(h: Any) -> bool:
    """A ``[layer, node, tensor]`` reference."""
    return (isinstance(h, list | tuple) and len(h) == 3 and isinstance(h[0], str)
            and all(isinstance(i, int) and not isinstance(i, bool) for i in h[1:]))


def nested_shape(value: Any) -> Shape:
    """The shape of a nested list (a constant's value).

    >>> nested_shape([[1, 2, 3], [4, 5, 6]])
    (2, 3)
    """
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def _is_entry(x: Any) -> bool:
    return (isinstance(x, list) and len(x) in (3, 4) and isinstance(x[0], str)
            and isinstance(x[1], int) and not isinstance(x[1], bool)
            and (x[0] == _CONSTANT or isinstance(x[2], int)))


def _legacy_call(node: Any, names: set[str], where: str) -> Call:
    """Keras 2: ``[[layer, node, tensor, kwargs], ...]``, or one entry alone, or a dict of
    entries; every entry carries the call's kwargs."""
    kwargs: dict[str, Any] = {}

    def first_arg(x: Any) -> Any:
        nonlocal kwargs
        if _is_entry(x):
            if len(x) == 4 and isinstance(x[3], dict) and not kwargs:
                kwargs = {k: _legacy_kwarg(v, names) for k, v in x[3].items()}
            if x[0] == _CONSTANT:
                return Const(nested_shape(x[2]))
            return Ref(x[0], x[1], x[2])
        if isinstance(x, dict):
            return {k: first_arg(v) for k, v in x.items()}
        if isinstance(x, list):
            return [first_arg(v) for v in x]
        raise SpecError(f"{where}: cannot read the inbound node entry {quote(x)}")

    data = first_arg(node)
    if isinstance(data, list) and len(data) == 1:
        data = data[0]  # Keras unpacks a single input
    return Call([data], kwargs)


def _legacy_kwarg(v: Any, names: set[str]) -> Any:
    if is_history(v) and v[0] in names:
        return Ref(v[0], v[1], v[2])
    if isinstance(v, list):
        return [_legacy_kwarg(x, names) for x in v]
    if isinstance(v, dict):
        return {k: _legacy_kwarg(x, names) for k, x in v.items()}
    return v


def read_refs(value: Any, where: str) -> Any:
    """``input_layers``/``output_layers``: a [layer, node, tensor] leaf or a structure of them."""
    if value is None:
        return []
    if is_history(value):
        return Ref(value[0], value[1], value[2])
    if isinstance(value, list):
        return [read_refs(v, where) for v in value]
    if isinstance(value, dict):
        return {k: read_refs(v, where) for k, v in value.items()}
    raise SpecError(f"{where}: cannot read {quote(value)}")


def leaves(value: Any, kind: type | tuple[type, ...]) -> list[Any]:
    """The items of type ``kind`` in a structure of lists and dicts, in order."""
    return list(_walk(value, kind))


def _walk(value: Any, kind: type | tuple[type, ...]) -> Iterator[Any]:
    if isinstance(value, kind):
        yield value
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _walk(v, kind)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk(v, kind)


def flat_refs(value: Any) -> list[Ref]:
    return leaves(value, Ref)
