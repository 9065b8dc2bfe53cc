"""Building model trees: by calling layers on shapes, as a Keras functional model does.

:class:`Builder` makes the :class:`~paramcount.model.Node` tree that importers of layer lists
(a spec, a Keras config, a Keras graph) describe: it names nodes as Keras would, opens nested
blocks, clones repeated ones and ties shared weights. :func:`layer` is the one-layer entry
point (``paramcount.layer("Dense", units=2).count((4,))``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from paramcount.budget import current
from paramcount.dtypes import dtype_name
from paramcount.errors import ParamcountError, ShapeError, SpecError
from paramcount.layers import Layer, make_layer
from paramcount.layers.base import KERAS, bind_positional, framework_name
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.shapes import Shape, fmt_shape
from paramcount.tree import Node, Tied


def snake(name: str) -> str:
    """Keras's default layer name for a class: ``Conv2D`` -> ``conv2d``.

    >>> snake("BatchNormalization"), snake("Conv2D"), snake("ConvLSTM2D")
    ('batch_normalization', 'conv2d', 'conv_lstm2d')
    """
    s = re.sub(r"\W+", "", name)
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", s)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


class Builder:
    """Builds a tree by calling layers on shapes, as a Keras functional model does.

    ``call`` returns the output shape; ``block`` opens a nested node. Errors raised while
    building a layer are re-raised with the layer's name, type and input shape.
    """

    def __init__(self, name: str, framework: str = KERAS) -> None:
        self.framework = framework_name(framework)
        self.root = Node(name=name, type="Model")
        self._stack: list[Node] = [self.root]
        self._names: dict[str, int] = {}
        self.by_name: dict[str, Node] = {}
        self.last: Node = self.root  # the node made most recently
        #: a shared layer's output by its name and input shapes: a layer called a million
        #: times on the same shapes is built for them once
        self._again: dict[tuple[str, tuple[Shape, ...]], Shape] = {}

    def _made(self, n: int = 1) -> None:
        """Draw ``n`` nodes built from the budget (and check its deadline)."""
        current().draw("nodes", n, f"model {self.root.name!r}")

    def unique(self, base: str) -> str:
        n = self._names.get(base, 0)
        self._names[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def claim(self, name: str) -> str:
        if name in self._names or name in self.by_name:
            raise SpecError(f"the name {quote(name)} is used twice")
        self._names[name] = 1
        return name

    def call(self, layer: Layer, inputs: Sequence[Shape], name: str | None = None,
             tie: str | None = None) -> Shape:
        """Build ``layer`` on ``inputs`` and add its node to the current block."""
        self._made()
        base = None if name else snake(layer.label)
        name = self.claim(name) if name else self.unique(snake(layer.label))
        try:
            built = layer.build_checked(inputs)
        except ParamcountError as err:
            raise err.within(_where(name, layer.label, inputs)) from None
        node = Node(name=name, type=layer.label, output_shape=built.output_shape,
                    weights=built.weights, input_shapes=tuple(inputs), formula=built.formula,
                    notes=built.notes, layer=layer, name_base=base)
        if tie is not None:
            self._tie(node, tie, _where(name, layer.label, inputs))
        self._stack[-1].children.append(node)
        self.by_name[name] = self.last = node
        return built.output_shape

    def call_again(self, name: str, inputs: Sequence[Shape]) -> Shape:
        """Call an existing (shared) layer again: no new weights, one more call."""
        node = self.by_name.get(name)
        if node is None or node.layer is None:
            raise SpecError(f"there is no layer named {quote(name)} to share")
        key = (name, tuple(inputs))
        if key in self._again:
            node.calls += 1
            current().tick()
            return self._again[key]
        try:
            built = node.layer.build_checked(inputs)
        except ParamcountError as err:
            raise err.within(_where(name, node.type, inputs)) from None
        if [w.shape for w in built.weights] != [w.shape for w in node.weights]:
            raise ShapeError(f"shared layer {quote(name)} ({node.type}) is called on "
                             f"{fmt_shape(inputs[0])}, which needs other weight shapes")
        node.calls += 1
        self._again[key] = built.output_shape
        return built.output_shape

    def _tie(self, node: Node, target: str, where: str) -> None:
        owner = self.by_name.get(target)
        if owner is None:
            raise SpecError(f"{where}: tie names no earlier layer {quote(target)}")
        # Only matrices are tied (an LM head shares the embedding matrix, not its bias).
        pool = {w.size: w for w in owner.weights if len(w.shape) >= 2}
        kept, tied = [], []
        for w in node.weights:
            match = pool.get(w.size) if len(w.shape) >= 2 else None
            if match is not None and sorted(match.shape) == sorted(w.shape):
                tied.append(Tied(w, f"{target}.{match.name}"))
            else:
                kept.append(w)
        if not tied:
            raise ShapeError(f"{where}: no weight matrix has the shape of one of {quote(target)}")
        node.weights, node.tied = tuple(kept), tuple(tied)

    @contextmanager
    def block(self, name: str | None, type_name: str, repeat: int = 1,
              base: str | None = None, reserved: bool = False) -> Iterator[Node]:
        """Open a nested node; layers called inside become its children.

        ``reserved``: ``name`` was already made unique by :meth:`unique` from ``base`` (or
        claimed, when ``base`` is None).
        """
        self._made()
        auto = base if reserved else None
        if not (reserved and name):
            auto = None if name else base or snake(type_name)
            name = self.claim(name) if name else self.unique(base or snake(type_name))
        node = Node(name=name, type=type_name, repeat=repeat, name_base=auto)
        self._stack[-1].children.append(node)
        self.by_name[name] = node
        self._stack.append(node)
        try:
            yield node
        finally:
            self._stack.pop()
            last = node.children[-1] if node.children else None
            node.output_shape = last.output_shape if last else None
            self.last = node

    def clone(self, node: Node) -> Node | None:
        """Append a copy of ``node``'s subtree with fresh automatic names (the names the same
        calls would have made), or return None when a name in it was given explicitly.

        A repeated block whose copies are identical is built once and cloned: 96 decoder
        blocks cost one.
        """
        nodes = [node, *(n for _, n in node.walk())]
        if any(n.name_base is None for n in nodes):
            return None
        self._made(len(nodes))

        def copy(n: Node) -> Node:
            assert n.name_base is not None
            c = replace(n, name=self.unique(n.name_base), children=[])
            self.by_name[c.name] = c
            c.children = [copy(child) for child in n.children]
            if n.folded:  # its one block stands for more copies, whose names it takes
                self._skip_names(n.children[0], n.repeat - 1)
            return c

        clone = copy(node)
        self._stack[-1].children.append(clone)
        self.last = clone
        return clone

    def fold(self, group: Node, times: int) -> None:
        """Let the last block of ``group`` stand for itself and ``times - 1`` identical copies
        after it, without building them: the copies' automatic names are taken (the names
        after the group are those building them would leave), and the counts multiply.
        """
        block = group.children.pop()
        self._skip_names(block, times - 1)
        if not group.children:
            group.children, group.repeat, group.folded = [block], times, True
        else:  # copies that differ came first: the identical rest is a folded group of its own
            group.children.append(Node(f"{block.name}×{times}", group.type, block.output_shape,
                                       children=[block], repeat=times, folded=True))
        self.last = group

    def _skip_names(self, block: Node, copies: int) -> None:
        """Take the automatic names ``copies`` more copies of ``block`` would take."""
        for n, k in [(block, 1), *((n, k) for _, n, k in block.walk_times())]:
            if n.name_base is not None:  # a name in a folded group inside stands for k
                self._names[n.name_base] = self._names.get(n.name_base, 0) + k * copies

    def finish(self, source: str, dtype: str = "float32", **meta: Any) -> Summary:
        return Summary(self.root, source=source, framework=self.framework,
                       dtype=dtype_name(dtype), meta=meta)


def _where(name: str, type_name: str, inputs: Sequence[Shape]) -> str:
    shapes = ", ".join(fmt_shape(s) for s in inputs)
    return f"layer {quote(name)} ({type_name}) with input shape {shapes}"


# -- the one-layer entry point ---------------------------------------------------------------

class LayerSpec:
    """A layer description not yet bound to an input shape.

    >>> import paramcount
    >>> paramcount.layer("Conv2D", filters=2, kernel_size=3).count((28, 28, 1)).total_params
    20
    """

    def __init__(self, type_name: str, framework: str | None = None, **config: Any) -> None:
        self.layer = make_layer(type_name, config, framework)

    def count(self, input_shape: Sequence[int | None] | Sequence[Sequence[int | None]] | None = None
              ) -> Summary:
        """Build the layer on ``input_shape`` (batch excluded) and summarize it."""
        inputs = _as_inputs(input_shape, self.layer)
        builder = Builder(self.layer.name or snake(self.layer.label), self.layer.framework)
        builder.call(self.layer, inputs, name=self.layer.name)
        return builder.finish(source=self.layer.describe())


def _as_inputs(shape: Any, layer: Layer) -> list[Shape]:
    if shape is None:
        default = layer.default_input_shape()
        if default is None:
            raise SpecError(f"{layer.label} needs an input shape (--input-shape)")
        return [default]
    if len(shape) and all(isinstance(s, list | tuple) for s in shape):
        return [tuple(s) for s in shape]
    return [tuple(shape)]


def layer(type_name: str, *values: Any, framework: str | None = None, **config: Any
          ) -> LayerSpec:
    """Describe one layer by its Keras or PyTorch name and arguments; bare ``values`` fill the
    arguments in the order the name takes (a PyTorch name: its torch.nn signature's).

    >>> import paramcount
    >>> paramcount.layer("LSTM", units=4).count((10, 2)).total_params
    112
    >>> paramcount.layer("LSTM", units=4, framework="pytorch").count((10, 2)).total_params
    128
    >>> paramcount.layer("Linear", 4, 2).count().total_params   # as nn.Linear(4, 2)
    10
    """
    bound = bind_positional(type_name, values, framework)
    twice = sorted(bound.keys() & config.keys())
    if twice:
        raise SpecError(f"{type_name} got {quote(twice[0])} twice: as a positional value and by "
                        "name")
    return LayerSpec(type_name, framework, **bound, **config)


def as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(f"{what} must be a mapping, got {type(value).__name__}")
    return value
