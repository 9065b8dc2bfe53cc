"""A live Keras model or layer: its layer tree and weights, as ``model.summary()`` counts them.

Conventions, Keras's own:

- a model's rows are ``model.layers`` (a Functional model lists its InputLayer); a nested model
  is a block of its own layers; a layer paramcount knows (Dense, LSTM, MultiHeadAttention) is
  one row holding its sublayers' weights, as Keras shows it; a custom layer is a block of its
  sublayers (``_flatten_layers``) and its own weights;
- every weight is a parameter, BatchNormalization's moving statistics non-trainable ones;
  a weight is trainable when its variable and every layer holding it are (Keras 3 also marks a
  frozen layer's variables; tf.keras skips the layer), so totals equal ``model.count_params()``
  and the trainable split equals ``trainable_weights`` and ``model.summary()``;
- a weight reached from two layers is counted where first met and listed as tied elsewhere;
  a layer called several times in a graph is one row with ``calls`` > 1.

A Functional (or Sequential) model's graph gives every layer's input and output shapes; a layer
paramcount knows is then built from its ``get_config()`` (through
:mod:`paramcount.sources.keras.layers`) so its MACs come from paramcount's formulas. A subclassed
model has no graph: its shapes and FLOPs are not known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from paramcount.dtypes import DTYPE_BYTES
from paramcount.errors import ParamcountError, SpecError
from paramcount.layers import Layer, Weight, make_layer
from paramcount.layers.base import KERAS
from paramcount.model import Summary
from paramcount.shapes import Shape, fmt_shape
from paramcount.sources.keras.config import Entry
from paramcount.sources.keras.layers import adapt, known_class
from paramcount.sources.live.common import (
    array_dtype,
    dominant,
    first_line,
    flatten,
    input_shapes,
)
from paramcount.tree import Node, Tied

_MODELS = ("Model", "Functional", "Sequential")


@dataclass
class _Walk:
    owner: dict[int, str] = field(default_factory=dict)  # id(variable) -> dotted path
    layers: dict[int, str] = field(default_factory=dict)  # id(layer) -> dotted path
    shaped: bool = False  # some layer's shapes came from a graph


def summarize_keras(layer: Any, input_shape: Any = None) -> Summary:
    """Summarize a built Keras model or layer (an unbuilt one is built on ``input_shape``).

    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> s = summarize_keras(m)
    >>> s.total_params, s.layers[0].output_shape, s.flops().macs
    (10, (2,), 8)
    """
    notes = _ensure_built(layer, input_shape)
    walk = _Walk()
    if _is_model(layer):
        root = Node(name=layer.name, type=type(layer).__name__)
        _fill(root, layer, "", walk, bool(layer.trainable))
    else:  # one layer: a model of one row
        root = Node(name=layer.name, type="Model")
        root.children.append(_child(layer, "", walk, None, True))
        if input_shape is not None:
            _shape_alone(root.children[0], layer, input_shapes(input_shape))
            _attach(root.children[0], _registered(layer), layer)
            walk.shaped = True
    summary = Summary(root, source=f"<{type(layer).__name__}>", framework=KERAS,
                      dtype=dominant(root), meta={"format": "Keras object"}, notes=notes)
    if walk.shaped:
        summary.view = summary.view.but(compute=(None, 1))  # the pass is known: show it
    elif input_shape is not None:
        summary.notes.append("output shapes and FLOPs need a Functional or Sequential model; "
                             f"{layer.name} ({type(layer).__name__}) has no layer graph")
    return summary


def _ensure_built(layer: Any, input_shape: Any) -> list[str]:
    if getattr(layer, "built", True):
        return []
    what = f"{'model' if _is_model(layer) else 'layer'} {layer.name} ({type(layer).__name__})"
    if input_shape is None:
        raise SpecError(f"the Keras {what} is not built: build it (model.build(shape) or "
                        "call it once) or pass input_shape= (batch excluded)")
    shapes = input_shapes(input_shape)
    try:
        _build(layer, [(None, *s) for s in shapes])
    except Exception as err:  # whatever the model's own build raises
        text = ", ".join(fmt_shape(s, batch=False) for s in shapes)
        raise SpecError(f"Keras could not build the {what} on input shape {text}: "
                        f"{first_line(err)}") from None
    return [f"Built by Keras on input shape {fmt_shape(shapes[0], batch=False)}"]


def _build(layer: Any, batched: list[Shape]) -> None:
    """``build`` as Keras's own build_from_config does it: a layer whose ``build`` is Keras's
    default (a subclassed model) is called once on symbolic inputs, which creates its
    weights; any other is built on the shapes."""
    shapes: Any = batched[0] if len(batched) == 1 else batched
    if not getattr(layer.build, "_is_default", False):
        layer.build(shapes)
        return
    import keras

    tensors = [keras.KerasTensor(s) for s in batched]
    layer(tensors[0] if len(tensors) == 1 else tensors)


def _is_model(layer: Any) -> bool:
    return any(c.__name__ in _MODELS and c.__module__.split(".")[0] in ("keras", "tf_keras")
               for c in type(layer).__mro__)


def _graph(model: Any) -> Any:
    """The Functional graph of a model: its own, or a Sequential's."""
    if hasattr(model, "_nodes_by_depth"):
        return model
    return getattr(model, "_functional", None)


def _fill(node: Node, model: Any, path: str, walk: _Walk, trainable: bool) -> None:
    """A model's rows: its layers, each with its calls and shapes in the model's graph.
    ``trainable``: the model and every model above it are trainable."""
    walk.layers[id(model)] = path
    graph = _graph(model)
    calls = _calls(graph) if graph is not None else {}
    node.weights, node.tied = _weights(model, _own_variables(model), path, walk, trainable)
    for layer in model.layers:
        node.children.append(_child(layer, f"{path}{layer.name}.", walk, calls.get(id(layer)),
                                    trainable))


def _calls(graph: Any) -> dict[int, list[Any]]:
    """id(layer) -> its calls (graph nodes) in this graph, earliest first."""
    out: dict[int, list[Any]] = {}
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for n in graph._nodes_by_depth[depth]:
            layer = getattr(n, "operation", None) or n.layer  # tf.keras (Keras 2): n.layer
            out.setdefault(id(layer), []).append(n)
    return out


def _child(layer: Any, path: str, walk: _Walk, calls: list[Any] | None, above: bool
           ) -> Node:
    """A layer's row; ``above``: every layer above it is trainable. A weight trains when its
    variable and every layer holding it do (Keras 3 also sets the variables of a frozen layer
    non-trainable; tf.keras only skips frozen layers)."""
    trainable = above and bool(layer.trainable)
    node = Node(name=layer.name, type=type(layer).__name__, calls=len(calls) if calls else 1)
    if calls:
        _shape(node, calls[0])
        walk.shaped = True
    if id(layer) in walk.layers:  # the same layer in two models: counted where first met
        node.tied = tuple(Tied(w, walk.owner[i])
                          for i, w in _named(layer, layer.weights, trainable))
        node.remark = f"same layer as {walk.layers[id(layer)].rstrip('.') or 'the model'}"
        return node
    if _is_model(layer):
        _fill(node, layer, path, walk, trainable)
        return node
    walk.layers[id(layer)] = path
    registered = _registered(layer)
    sublayers = [] if registered is not None else _sublayers(layer)
    own = layer.weights if not sublayers else _own_variables(layer)
    node.weights, node.tied = _weights(layer, own, path, walk, trainable)
    for sub in sublayers:
        node.children.append(_child(sub, f"{path}{sub.name}.", walk, None, trainable))
    _attach(node, registered, layer)
    return node


def _sublayers(layer: Any) -> list[Any]:
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _own_variables(layer: Any) -> list[Any]:
    inner = {id(w) for sub in _sublayers(layer) for w in sub.weights}
    return [w for w in layer.weights if id(w) not in inner]


def _weights(layer: Any, variables: Sequence[Any], path: str, walk: _Walk, trainable: bool
             ) -> tuple[tuple[Weight, ...], tuple[Tied, ...]]:
    weights, tied = [], []
    for key, w in _named(layer, variables, trainable):
        if key in walk.owner:
            tied.append(Tied(w, walk.owner[key]))
        else:
            walk.owner[key] = f"{path}{w.name}"
            weights.append(w)
    return tuple(weights), tuple(tied)


def _named(layer: Any, variables: Sequence[Any], trainable: bool) -> list[tuple[int, Weight]]:
    """Each variable as a Weight named by its path inside ``layer`` (``query.kernel`` in a
    MultiHeadAttention), keyed by the variable's identity."""
    prefix = f"{getattr(layer, 'path', None) or layer.name}/"
    out = []
    for v in variables:
        full = str(getattr(v, "path", None) or v.name).split(":")[0]
        name = full.removeprefix(prefix) if full.startswith(prefix) else full.split("/")[-1]
        shape = tuple(int(d) for d in v.shape)
        dtype = array_dtype(v)
        size = 1
        for d in shape:
            size *= d
        out.append((id(v), Weight(name.replace("/", "."), shape,
                                  trainable=trainable and bool(v.trainable),
                                  dtype=dtype,
                                  nbytes=int(size * DTYPE_BYTES[dtype]) if dtype else None)))
    return out


def _shape(node: Node, call: Any) -> None:
    # Keras 3 gives lists; tf.keras a single tensor where there is one
    outs = [t for _, t in flatten(call.output_tensors)]
    node.input_shapes = tuple(_batchless(t.shape) for _, t in flatten(call.input_tensors))
    node.output_shape = _batchless(outs[0].shape) if outs else None


def _shape_alone(node: Node, layer: Any, shapes: list[Shape]) -> None:
    """A single layer on ``input_shape``: its output shape as Keras computes it."""
    node.input_shapes = tuple(shapes)
    batched = [(None, *s) for s in shapes]
    try:
        out = layer.compute_output_shape(batched[0] if len(batched) == 1 else batched)
    except Exception:  # a layer that cannot say: the shape stays unknown
        return
    if isinstance(out, tuple) and all(d is None or isinstance(d, int) for d in out):
        node.output_shape = _batchless(out)


def _batchless(shape: Any) -> Shape:
    return tuple(None if d is None else int(d) for d in tuple(shape)[1:])


# -- paramcount's layer behind a Keras layer, for MACs ---------------------------------------

def _registered(layer: Any) -> Layer | None:
    """The registered layer for a Keras layer class paramcount knows, from its config."""
    cls = type(layer)
    try:
        config = layer.get_config()
    except Exception:  # a custom layer without get_config
        return None
    if not isinstance(config, dict):
        return None
    entry = Entry(layer.name, cls.__name__, cls.__module__, None, config)
    if cls.__name__ == "InputLayer" or not known_class(entry):
        return None
    try:
        return make_layer(cls.__name__, adapt(cls.__name__, config), framework=KERAS,
                          strict=False)
    except ParamcountError:
        return None


def _attach(node: Node, registered: Layer | None, layer: Any) -> None:
    """Give a layer with known input shapes the registered layer that computes its MACs, when
    that layer makes the same weights; otherwise one whose MACs are unknown (reported so)."""
    if type(layer).__name__ == "InputLayer":
        return
    if not node.input_shapes:  # a sublayer of a custom layer: its MACs are reported unsized
        node.layer = registered or Layer(label=node.type)
        return
    if registered is not None and _agrees(registered, node):
        node.layer = registered
        return
    node.layer = Layer(label=node.type)  # no MAC formula: counted as unknown, by type


def _agrees(layer: Layer, node: Node) -> bool:
    if any(d is None for s in node.input_shapes for d in s):
        return True  # a sequence of unknown length: the weights do not depend on it
    try:
        built = layer.build_checked(node.input_shapes)
    except ParamcountError:
        return False
    if built.formula is not None:
        node.formula = built.formula
    mine = sorted(w.size for w in (*node.weights, *(t.weight for t in node.tied)))
    return sorted(w.size for w in built.weights) == mine
