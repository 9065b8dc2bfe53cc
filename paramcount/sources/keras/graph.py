"""The graph walk: a Keras model config built into paramcount's tree, shapes inferred.

A Functional model is processed as Keras itself rebuilds one (keras/src/models/functional.py,
``functional_from_config``): layers in config order, each layer's calls in order, a call as soon
as every tensor it needs exists, passes repeated until all calls are made. A layer's first call
builds it (its weights); later calls share them (``Node.calls``). A nested model is built into
its own subtree, as Keras builds it on its declared input shapes; a call on other shapes is
followed for its output shapes only. ``keras.ops`` operations (``x + y``) own no weights and are
not rows, as in Keras's summary.

A layer whose class paramcount does not know (a custom class, ``Lambda``) is counted from the
weight shapes stored in the file when there are any, and otherwise listed as unknown and not
counted. Its output shape is the one Keras 3 recorded where the output is used.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from paramcount.budget import current
from paramcount.build import Builder, snake
from paramcount.dtypes import DTYPE_BYTES, dtype_name
from paramcount.errors import ParamcountError, ShapeError, SpecError
from paramcount.layers import Layer, Weight, make_layer
from paramcount.layers.preprocessing import TFOpLambda
from paramcount.layers.reversible import ReversibleEmbedding
from paramcount.quoting import quote
from paramcount.shapes import Shape, broadcast, fmt_shape
from paramcount.sources.keras.config import Entry, ModelConfig, input_shape, read_model
from paramcount.sources.keras.layers import (
    ELEMENTWISE_OPS,
    adapt,
    declared_output,
    known_class,
    policy,
    saving_names,
)
from paramcount.sources.keras.nodes import Call, Const, Ref, flat_refs
from paramcount.tree import Node

_TF_OPS = ("TFOpLambda", "SlicingOpLambda")
Out = list[Shape | None]  # the output tensors of a call; None where the shape is not known


class StoredWeights(Protocol):
    """Weights stored in the model file, for layers of unknown class."""

    def layer(self, path: tuple[str, ...], names: tuple[str, ...]) -> list[Weight] | None:
        """The stored weights of the layer at Keras 3 saving ``path`` (``("layers", "dense")``)
        whose layer names from the top model down are ``names``; None when the file has none."""


@dataclass
class Made:
    """A model built: its node (rows as children) and the shapes of its inputs and outputs."""

    node: Node
    inputs: Out
    outputs: Out


@dataclass
class _Scope:
    """One model being built: its builder, the outputs of the calls made so far."""

    cfg: ModelConfig
    path: tuple[str, ...]
    names: tuple[str, ...]
    builder: Builder
    outputs: dict[tuple[str, int], Out] = field(default_factory=dict)
    recorded: dict[tuple[str, int, int], Shape] = field(default_factory=dict)
    n_outputs: dict[tuple[str, int], int] = field(default_factory=dict)  # recorded per call
    _saved: dict[str, str] | None = None
    models: dict[str, tuple[ModelConfig, Made]] = field(default_factory=dict)

    def shape(self, ref: Ref) -> Shape | None:
        outs = self.outputs.get((ref.layer, ref.node), [])
        got = outs[ref.tensor] if ref.tensor < len(outs) else None
        return got if got is not None else ref.shape or self.recorded.get(
            (ref.layer, ref.node, ref.tensor))

    def at(self, e: Entry) -> tuple[str, ...]:
        """Where Keras 3 saves the layer's weights: ``("layers", "dense_1")`` in its model."""
        if self._saved is None:  # made only when a stored weight is looked up
            self._saved = saving_names(self.cfg)
        return (*self.path, "layers", self._saved.get(e.name, snake(e.class_name)))

    def add(self, node: Node) -> None:
        self.builder.claim(node.name)
        self.builder.root.children.append(node)
        self.builder.by_name[node.name] = node


class Walker:
    """Builds model configs into trees; tallies parameters per dtype policy.

    >>> from paramcount.sources.keras.config import read_model
    >>> cfg = read_model({"class_name": "Sequential", "config": {"layers": [
    ...     {"class_name": "InputLayer", "config": {"batch_shape": [None, 4]}},
    ...     {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}})
    >>> Walker("model.json").model(cfg).node.params
    10
    """

    def __init__(self, where: str, stored: StoredWeights | None = None,
                 logical: bool = False,
                 followed: dict[tuple[int, tuple[Shape | None, ...]], Made] | None = None
                 ) -> None:
        self.where = where
        self.stored = stored
        #: build quantized layers as the float layers they were quantized from
        self.logical = logical
        self.policies: dict[str, int] = {}
        self.depth = 0
        #: the layers built from their config, with their dtype policy
        self.built: list[tuple[Node, str]] = []
        #: nested models followed on other shapes, by config and shapes: each once, so a
        #: model nested 30 deep and called twice at each level is walked 30 times, not 2**30
        self.followed = {} if followed is None else followed

    # -- models ------------------------------------------------------------------------------
    def model(self, cfg: ModelConfig, inputs: Out | None = None, path: tuple[str, ...] = (),
              names: tuple[str, ...] = ()) -> Made:
        """Build ``cfg``, on ``inputs`` when given, else on its declared input shapes."""
        self.depth += 1
        try:
            current().check("depth", self.depth, "models nested")
            scope = _Scope(cfg, path, names, Builder(cfg.name))
            made = (self._sequential(scope, inputs) if cfg.kind == "Sequential"
                    else self._functional(scope, inputs))
        finally:
            self.depth -= 1
        made.node.type = cfg.kind
        if not cfg.trainable:
            freeze(made.node)
        return made

    def _sequential(self, scope: _Scope, inputs: Out | None) -> Made:
        cfg = scope.cfg
        x = inputs[0] if inputs else cfg.input_shape
        if x is None:
            raise SpecError(f"Sequential model {quote(cfg.name)} has no input shape: it was never "
                            "built (no InputLayer, build_input_shape or batch_input_shape)")
        first = x
        for e in cfg.layers:
            if not e.is_input:
                x = self._call(scope, e, 0, Call([], {}), [x])[0]
        return Made(scope.builder.root, [first], [x])

    def _functional(self, scope: _Scope, inputs: Out | None) -> Made:
        cfg = scope.cfg
        scope.recorded = {(r.layer, r.node, r.tensor): r.shape for e in cfg.layers
                          for c in e.calls for r in c.refs if r.shape is not None}
        for layer, node, tensor in scope.recorded:
            key = (layer, node)
            scope.n_outputs[key] = max(scope.n_outputs.get(key, 0), tensor + 1)
        given = dict(zip([r.layer for r in flat_refs(cfg.inputs)], inputs or [], strict=False))
        for e in cfg.layers:
            if e.is_input:
                shape = given.get(e.name) or input_shape(e, self.where)
                scope.outputs[(e.name, 0)] = [shape]
                scope.add(Node(e.name, "InputLayer", output_shape=shape))
        self._run(scope)
        order = {e.name: i for i, e in enumerate(cfg.layers)}
        scope.builder.root.children.sort(key=lambda n: order.get(n.name, len(order)))
        ins = [scope.shape(r) for r in flat_refs(cfg.inputs)]
        return Made(scope.builder.root, ins, [scope.shape(r) for r in flat_refs(cfg.outputs)])

    def _run(self, scope: _Scope) -> None:
        """Make every call once all the tensors it needs exist, as Keras does: a layer waits
        on the first tensor it lacks and is taken up again when that tensor is made, so a
        graph listed in any order is walked in time linear in its calls."""
        layers = [e for e in scope.cfg.layers if not e.is_input]
        done = {e.name: 0 for e in layers}
        waiting: dict[tuple[str, int], list[Entry]] = {}
        ready = deque(layers)
        tick = current().tick
        while ready:
            e = ready.popleft()
            while done[e.name] < len(e.calls):
                tick()
                call = e.calls[done[e.name]]
                lacking = next(((r.layer, r.node) for r in call.refs
                                if (r.layer, r.node) not in scope.outputs), None)
                if lacking is not None:
                    waiting.setdefault(lacking, []).append(e)
                    break
                # a TensorFlow function's tensors may be keyword arguments (y=...)
                tensors = call.refs if e.class_name in _TF_OPS else call.inputs()
                ins = [scope.shape(r) for r in tensors]
                made = (e.name, done[e.name])
                scope.outputs[made] = self._call(scope, e, done[e.name], call, ins)
                done[e.name] += 1
                ready.extend(waiting.pop(made, ()))
        stuck = [e for e in layers if done[e.name] < len(e.calls)]
        if stuck:
            raise SpecError(_stuck_message(scope.cfg, stuck, done))
        for e in layers:
            if not e.calls and not e.is_op:
                self._uncalled(scope, e)

    # -- calls -------------------------------------------------------------------------------
    def _call(self, scope: _Scope, e: Entry, k: int, call: Call, ins: Out) -> Out:
        if e.is_op:
            return [self._op(scope, e, call)]
        if e.is_model:
            return self._model_call(scope, e, k, ins)
        return self._layer_call(scope, e, k, call, ins)

    def _layer_call(self, scope: _Scope, e: Entry, k: int, call: Call, ins: Out) -> Out:
        b = scope.builder
        if None in ins and e.build_shape is not None:  # Keras 3 recorded what it was built on
            ins = list(e.build_shape) if isinstance(e.build_shape, list) else [e.build_shape]
        node = b.by_name.get(e.name)
        known = [s for s in ins if s is not None]
        if node is not None:  # a shared layer called again
            if node.layer is not None and len(known) == len(ins):
                if call.options().get("reverse") is True and isinstance(
                        node.layer, ReversibleEmbedding):  # the output projection
                    node.calls += 1
                    return self._outs(scope, e, k, node.layer.reversed_output(known[0]))
                return self._outs(scope, e, k, b.call_again(e.name, known))
            node.calls += 1
            return self._outs(scope, e, k, None)
        layer, why = self._make(e, call)
        if layer is None or len(known) != len(ins):
            reason = why if layer is None else "input shape unknown"
            return self._uncounted(scope, e, k, ins, reason)
        if isinstance(layer, TFOpLambda):
            return self._tf_op(scope, e, k, layer, known)
        out = b.call(layer, known, name=e.name)
        self._tally(e, b.last.params)
        self.built.append((b.last, policy(e.config)))
        return self._outs(scope, e, k, out)

    def _tf_op(self, scope: _Scope, e: Entry, k: int, layer: Layer, ins: list[Shape]) -> Out:
        """A TensorFlow function (tf.keras): no weights; its output shape may be unknowable."""
        try:
            layer.build_checked(ins)
        except ShapeError:
            scope.add(Node(e.name, e.class_name, input_shapes=tuple(ins),
                           remark="output shape unknown"))
            return self._outs(scope, e, k, None)
        return self._outs(scope, e, k, scope.builder.call(layer, ins, name=e.name))

    def _make(self, e: Entry, call: Call) -> tuple[Layer | None, str]:
        """The registered layer for ``e``, or None and why not."""
        if not known_class(e):
            return None, ""
        config = adapt(e.class_name, e.config)
        if self.logical and "_from_" in policy(config):
            config = {k: v for k, v in config.items() if k not in ("dtype", "quantization_config")}
        if e.class_name == "TFOpLambda":
            config["call_arguments"] = call.options()
        try:
            return make_layer(e.class_name, config, framework="keras", strict=False), ""
        except SpecError as err:
            return None, f"config not understood: {err}"

    def _uncounted(self, scope: _Scope, e: Entry, k: int, ins: Out, reason: str) -> Out:
        """A layer paramcount cannot build: counted from stored weights, or listed unknown."""
        outs = self._outs(scope, e, k, declared_output(e))
        stored = self.stored.layer(scope.at(e), (*scope.names, e.name)) if self.stored else None
        node = Node(e.name, e.class_name, output_shape=outs[0],
                    input_shapes=tuple(s for s in ins if s is not None))
        if stored is not None:
            node.weights = tuple(w if e.trainable else replace(w, trainable=False)
                                 for w in stored)
            node.remark = "counted from stored weights"
            self._tally(e, node.params)
        else:
            node.unknown = True
            node.remark = reason
        scope.add(node)
        return outs

    def _uncalled(self, scope: _Scope, e: Entry) -> None:
        """A layer listed but never called: built on its build_config shape if it has one."""
        if isinstance(e.build_shape, tuple) and not e.is_model:
            self._layer_call(scope, e, 0, Call([], {}), [e.build_shape])
        else:
            scope.add(Node(e.name, e.class_name, remark="never called", calls=0))

    def _outs(self, scope: _Scope, e: Entry, k: int, first: Shape | None) -> Out:
        """Call ``k``'s outputs: ``first`` computed, the others as Keras 3 recorded them."""
        n = max(1, scope.n_outputs.get((e.name, k), 1))
        outs: Out = [scope.recorded.get((e.name, k, t)) for t in range(n)]
        if first is not None:
            outs[0] = first
        return outs

    def _model_call(self, scope: _Scope, e: Entry, k: int, ins: Out) -> Out:
        """A nested model: built once (its rows), followed again for other input shapes."""
        if k == 0:
            cfg = _nested(e, self.where)
            declared = _declared_inputs(cfg, self.where)
            made = self.model(cfg, None if declared else ins, scope.at(e), (*scope.names, e.name))
            if not e.trainable:
                freeze(made.node)
            scope.models[e.name] = (cfg, made)
            node = Node(e.name, cfg.kind, children=made.node.children,
                        input_shapes=tuple(s for s in ins if s is not None))
            scope.add(node)
        else:
            node = scope.builder.by_name[e.name]
            node.calls += 1
        cfg, made = scope.models[e.name]
        outs = made.outputs if ins == made.inputs or None in ins else self._follow(e, cfg,
                                                                                   made, ins)
        if k == 0:
            node.output_shape = outs[0] if outs else None
        return outs

    def _follow(self, e: Entry, cfg: ModelConfig, made: Made, ins: Out) -> Out:
        """Output shapes of a nested model called on other shapes than it was built on."""
        key = (id(cfg), tuple(ins))
        if key not in self.followed:
            self.followed[key] = Walker(self.where, logical=self.logical,
                                        followed=self.followed).model(cfg, ins)
        again = self.followed[key]
        built = [w.shape for _, w in made.node.all_weights()]
        if [w.shape for _, w in again.node.all_weights()] != built:
            shapes = ", ".join(fmt_shape(s) for s in ins)
            raise ShapeError(f"nested model {quote(e.name)} is called on {shapes}, which needs "
                             "other "
                             "weights than the model was built with")
        return again.outputs

    def _op(self, scope: _Scope, e: Entry, call: Call) -> Shape | None:
        """A keras.ops operation's output shape: no weights, no row."""
        recorded = scope.recorded.get((e.name, 0, 0))
        if e.class_name not in ELEMENTWISE_OPS:
            return recorded
        shapes: list[Shape] = []
        for v in call.operands():
            s = scope.shape(v) if isinstance(v, Ref) else v.shape if isinstance(v, Const) else ()
            if s is None:
                return recorded
            shapes.append(s)
        if not shapes:
            return recorded
        try:
            return broadcast(shapes, f"{e.name} ({e.class_name})")
        except ShapeError:
            if recorded is None:
                raise
            return recorded

    # -- dtype policies ----------------------------------------------------------------------
    def _tally(self, e: Entry, params: int) -> None:
        name = policy(e.config)
        self.policies[name] = self.policies.get(name, 0) + params

    def quantized(self) -> bool:
        """Whether some layer was built quantized (Keras's ``model.quantize``)."""
        return any("_from_" in name for name, n in self.policies.items() if n)

    def stored_dtypes(self) -> None:
        """Where some layers are quantized, every built weight says its dtype (the others'
        follow their policy's variable dtype), so that sizes add up per dtype."""
        for node, name in self.built:
            dtype = variable_dtype(name)
            node.weights = tuple(w if w.dtype is not None else replace(
                w, dtype=dtype, nbytes=int(w.size * DTYPE_BYTES[dtype])) for w in node.weights)

    def dtype(self) -> str:
        """The dtype policy that holds the most parameters (float32 when none is named)."""
        counted = {k: v for k, v in self.policies.items() if v}
        return max(counted, key=lambda k: counted[k]) if counted else "float32"


def variable_dtype(policy_name: str) -> str:
    """The dtype of a policy's variables: ``mixed_bfloat16`` keeps float32, a quantized
    policy's other variables follow its source.

    >>> variable_dtype("int8_from_mixed_bfloat16"), variable_dtype("bfloat16")
    ('float32', 'bfloat16')
    """
    name = policy_name.split("_from_")[-1]
    name = "float32" if name.startswith("mixed_") else name
    try:
        return dtype_name(name)
    except SpecError:
        return "float32"


def freeze(node: Node) -> None:
    """``trainable=False`` on a layer or a model: every weight below is non-trainable."""
    node.weights = tuple(replace(w, trainable=False) for w in node.weights)
    for child in node.children:
        freeze(child)


def _nested(e: Entry, where: str) -> ModelConfig:
    try:
        return read_model(e.raw, f"{where}: layer {quote(e.name)}")
    except ParamcountError as err:
        raise err from None


def _declared_inputs(cfg: ModelConfig, where: str) -> bool:
    """Whether a model declares the shapes of all its inputs."""
    if cfg.kind == "Sequential":
        return cfg.input_shape is not None
    for ref in flat_refs(cfg.inputs):
        entry = cfg.entry(ref.layer)
        if entry is None or not entry.is_input:
            return False
        input_shape(entry, where)
    return True


def _stuck_message(cfg: ModelConfig, stuck: Sequence[Entry], done: dict[str, int]) -> str:
    e = stuck[0]
    call = e.calls[done[e.name]]
    for ref in call.refs:
        source = cfg.entry(ref.layer)
        calls = 1 if source is not None and source.is_input else len(source.calls) if source \
            else 0
        if ref.node >= calls:
            return (f"layer {quote(e.name)} uses call {ref.node} of {quote(ref.layer)}, which "
                    "is called "
                    f"{calls} time(s)")
    names = ", ".join(repr(s.name) for s in stuck[:5])
    return f"the layers {names} wait on each other's outputs: the graph has a cycle"
