"""Keras model configs, both layouts, read into one plain form.

A model config (``model.to_json()``, ``get_config()``, a ``.keras`` archive's config.json, an
HDF5 file's ``model_config``) lists layers; a Functional model also says how each layer is
called (its *inbound nodes*) and which tensors are the model's inputs and outputs. Two layouts:

- Keras 3: each entry has ``module``, ``class_name``, ``config``, ``registered_name`` and
  ``build_config``; an inbound node is ``{"args": [...], "kwargs": {...}}`` whose tensors are
  ``{"class_name": "__keras_tensor__", "config": {"shape": ..., "keras_history": [layer, node,
  tensor]}}``, so every tensor's shape is recorded where it is used.
- Keras 2 / tf.keras: an inbound node is a list of ``[layer, node, tensor, kwargs]``; a nested
  graph model's first node (the one it was built with) is not saved, so references to it count
  from 1; InputLayer gives ``batch_input_shape``.

Nothing here builds anything: :class:`ModelConfig` is the list of :class:`Entry` (one layer and
its calls), the inputs and outputs as :class:`Ref` structures, and the declared input shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from paramcount.errors import SpecError
from paramcount.quoting import quote
from paramcount.shapes import Shape
from paramcount.sources.keras.nodes import (
    Call,
    Ref,
    batchless,
    flat_refs,
    read_call,
    read_refs,
)

MODEL_CLASSES = ("Functional", "Model", "Sequential")
_INPUT = "InputLayer"


@dataclass
class Entry:
    """One item of a model config's ``layers``: the layer and the calls made of it."""

    name: str
    class_name: str
    module: str | None
    registered_name: str | None
    config: dict[str, Any]
    calls: list[Call] = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict)
    #: Keras 3's ``build_config.input_shape``, batch excluded
    build_shape: Any = None

    @property
    def is_input(self) -> bool:
        return self.class_name == _INPUT

    @property
    def is_model(self) -> bool:
        return self.class_name in MODEL_CLASSES or _has_layers(self.config)

    @property
    def is_op(self) -> bool:
        """A ``keras.ops`` operation called in a Functional model (``x + y``): not a layer.
        Keras 3 names its module; a legacy config (an .h5 file) does not, but an operation's
        config, unlike any layer's, has no ``trainable``."""
        if self.module is not None:
            return self.module.startswith(("keras.src.ops", "keras.ops"))
        nodes = self.raw.get("inbound_nodes") or []
        return ("trainable" not in self.config and not self.is_input and not self.is_model
                and bool(nodes) and all(isinstance(n, Mapping) for n in nodes))

    @property
    def trainable(self) -> bool:
        return self.config.get("trainable", True) is not False


@dataclass
class ModelConfig:
    """A Sequential or Functional model: its layers, inputs and outputs."""

    kind: str  # "Sequential" or "Functional"
    name: str
    layers: list[Entry]
    inputs: Any = None  # a structure of Ref (Functional)
    outputs: Any = None
    input_shape: Shape | None = None  # Sequential: declared by build_input_shape and the like
    trainable: bool = True
    keras2: bool = False  # inbound nodes in the Keras 2 layout

    def entry(self, name: str) -> Entry | None:
        return self._by_name.get(name)

    def __post_init__(self) -> None:
        self._by_name = {e.name: e for e in self.layers}


class NotAModel(SpecError):
    """The config is a layer's or a subclassed model's: it does not list the model's layers."""


# -- reading -----------------------------------------------------------------------------------

def read_model(doc: Any, where: str = "model") -> ModelConfig:
    """Read a Keras model config: ``{"class_name": ..., "config": {...}}`` or a bare
    ``get_config()`` dict.

    >>> m = read_model({"class_name": "Sequential", "config": {"name": "s", "layers": [
    ...     {"class_name": "InputLayer", "config": {"batch_shape": [None, 4]}},
    ...     {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}})
    >>> m.kind, m.input_shape, [e.name for e in m.layers]
    ('Sequential', (4,), ['input_layer', 'd'])
    """
    if not isinstance(doc, Mapping):
        raise SpecError(f"{where}: a Keras model config must be a JSON object")
    if "class_name" in doc:
        class_name, config = doc["class_name"], doc.get("config")
    else:
        class_name, config = None, doc
    if class_name == "Sequential" or isinstance(config, list):
        return _sequential(config, where)
    if isinstance(config, Mapping) and isinstance(config.get("layers"), list) and (
            class_name in ("Functional", "Model") or "output_layers" in config):
        return _functional(config, where)
    what = f"class {quote(class_name)}" if class_name else "this JSON"
    raise NotAModel(f"{where}: {what} is not a Keras Sequential or Functional model config (a "
                    "subclassed model or a single layer does not list the model's layers)")


def _has_layers(config: Any) -> bool:
    return isinstance(config, Mapping) and isinstance(config.get("layers"), list)


def _sequential(config: Any, where: str) -> ModelConfig:
    items = config if isinstance(config, list) else (config or {}).get("layers")
    if not isinstance(items, list):
        raise SpecError(f"{where}: a Sequential config needs a `layers` list")
    name = "sequential" if isinstance(config, list) else str(config.get("name", "sequential"))
    entries = [_entry(item, f"{where}: layers[{i}]", sequential=True)
               for i, item in enumerate(items)]
    _unique(entries, where)
    shape = None
    if isinstance(config, Mapping) and config.get("build_input_shape") is not None:
        shape = batchless(config["build_input_shape"], f"{where}: build_input_shape")
    if entries and shape is None:
        first = entries[0]
        declared = first.config.get("batch_input_shape", first.config.get("batch_shape"))
        if declared is not None:
            shape = batchless(declared, f"{where}: layer {quote(first.name)}")
        elif isinstance(first.build_shape, tuple):
            shape = first.build_shape
    trainable = not isinstance(config, Mapping) or config.get("trainable", True) is not False
    return ModelConfig("Sequential", name, entries, input_shape=shape, trainable=trainable)


def _functional(config: Mapping[str, Any], where: str) -> ModelConfig:
    name = str(config.get("name", "model"))
    entries = [_entry(item, f"{where}: layers[{i}]", sequential=False)
               for i, item in enumerate(config["layers"])]
    _unique(entries, where)
    keras2 = any(isinstance(n, list) for e in entries for n in e.raw.get("inbound_nodes", []))
    names = {e.name for e in entries}
    for e in entries:
        e.calls = [read_call(n, names, f"{where}: layer {quote(e.name)}")
                   for n in e.raw.get("inbound_nodes") or []]
    model = ModelConfig("Functional", name, entries,
                        inputs=read_refs(config.get("input_layers"), f"{where}: input_layers"),
                        outputs=read_refs(config.get("output_layers"),
                                          f"{where}: output_layers"),
                        trainable=config.get("trainable", True) is not False, keras2=keras2)
    _check_refs(model, where)
    if keras2:
        _renumber(model, where)
    return model


def _entry(item: Any, where: str, sequential: bool) -> Entry:
    if not isinstance(item, Mapping) or not isinstance(item.get("class_name"), str):
        raise SpecError(f"{where}: expected a layer with `class_name` and `config`")
    config = item.get("config") or {}
    if not isinstance(config, Mapping):
        raise SpecError(f"{where}: `config` must be an object")
    class_name = item["class_name"]
    default = "input_layer" if class_name == _INPUT else class_name.lower()
    name = item.get("name") if not sequential else None
    name = name or config.get("name") or default
    if not isinstance(name, str):
        raise SpecError(f"{where}: the layer name must be a string, got {quote(name)}")
    build = (item.get("build_config") or {}) if isinstance(item.get("build_config"), Mapping) \
        else {}
    shape = build.get("input_shape")
    build_shape: Any = None
    if isinstance(shape, list | tuple) and shape and all(isinstance(s, list | tuple)
                                                          for s in shape):
        build_shape = [batchless(s, where) for s in shape]
    elif isinstance(shape, list | tuple):
        build_shape = batchless(shape, where)
    inbound = item.get("inbound_nodes", [])
    if not isinstance(inbound, list):
        raise SpecError(f"{where}: `inbound_nodes` must be a list")
    return Entry(name, class_name, item.get("module"), item.get("registered_name"),
                 dict(config), raw=item, build_shape=build_shape)


def _unique(entries: list[Entry], where: str) -> None:
    seen: set[str] = set()
    for e in entries:
        if e.name in seen:
            raise SpecError(f"{where}: the layer name {quote(e.name)} is used twice")
        seen.add(e.name)


def input_shape(entry: Entry, where: str) -> Shape:
    """The shape an InputLayer declares (Keras 3 ``batch_shape``, Keras 2 ``batch_input_shape``,
    or ``shape``)."""
    c = entry.config
    if c.get("batch_shape") is not None:
        return batchless(c["batch_shape"], f"{where}: input {quote(entry.name)}")
    if c.get("batch_input_shape") is not None:
        return batchless(c["batch_input_shape"], f"{where}: input {quote(entry.name)}")
    if isinstance(c.get("shape"), list):
        return batchless([None, *c["shape"]], f"{where}: input {quote(entry.name)}")
    raise SpecError(f"{where}: input {quote(entry.name)} declares no shape")


def _check_refs(model: ModelConfig, where: str) -> None:
    for e in model.layers:
        for call in e.calls:
            for ref in call.refs:
                if model.entry(ref.layer) is None:
                    raise SpecError(f"{where}: layer {quote(e.name)} is called on the output of "
                                    f"{quote(ref.layer)}, which is not a layer of this model")
    for what, value in (("input_layers", model.inputs), ("output_layers", model.outputs)):
        for ref in flat_refs(value):
            if model.entry(ref.layer) is None:
                raise SpecError(f"{where}: {what} names {quote(ref.layer)}, which is not a "
                                "layer of "
                                "this model")


def _renumber(model: ModelConfig, where: str) -> None:
    """Keras 2 leaves out a nested graph model's first node (the one it was built with), so a
    reference to its first call in this model says node 1: count from 0 as Keras 3 does."""
    refs = [r for e in model.layers for c in e.calls for r in c.refs]
    refs += flat_refs(model.inputs) + flat_refs(model.outputs)
    shift: dict[str, int] = {}
    for e in model.layers:
        if not e.is_model:
            continue
        used = {r.node for r in refs if r.layer == e.name}
        skips = _skips_first_node(e)
        fits = {s for s in (0, 1) if all(0 <= n - s < max(len(e.calls), 1) for n in used)}
        shift[e.name] = skips if skips in fits or not fits else fits.pop()

    def fix(r: Any) -> Any:
        if isinstance(r, Ref) and shift.get(r.layer):
            return replace(r, node=r.node - shift[r.layer])
        if isinstance(r, list):
            return [fix(x) for x in r]
        if isinstance(r, Mapping):
            return {k: fix(x) for k, x in r.items()}
        return r

    for e in model.layers:
        e.calls = [Call(fix(c.args), fix(c.kwargs)) for c in e.calls]
    model.inputs, model.outputs = fix(model.inputs), fix(model.outputs)


def _skips_first_node(e: Entry) -> int:
    if e.class_name in ("Functional", "Model"):
        return 1
    layers = e.config.get("layers") if isinstance(e.config, Mapping) else None
    first = layers[0] if isinstance(layers, list) and layers else {}
    return int(isinstance(first, Mapping) and first.get("class_name") == _INPUT)
