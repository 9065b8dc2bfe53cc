"""A live ``torch.nn.Module``: its module tree, parameters and buffers, read without touching
the data; with an input shape, output shapes and FLOPs from one forward pass on the meta device.

Conventions, PyTorch's own:

- names and nesting are PyTorch's (every attribute that holds a module, as ``_modules``); a
  node's type is the module's class name;
- a parameter is counted once, where ``model.parameters()`` first yields it (a depth-first walk,
  own parameters before children's); every other place that holds the same ``Parameter`` lists it
  as :class:`~paramcount.model.Tied` to that path, so totals equal ``sum(p.numel() for p in
  model.parameters())``; trainable means ``requires_grad``;
- buffers are ``model.buffers()``, non-persistent ones included (the object holds them in memory,
  though ``state_dict()`` leaves them out); they are never parameters;
- a module reached from two places is one node (the first) with ``calls`` > 1, and a row at each
  other place whose weights are all tied to it.

The forward pass (:func:`measure`) runs the model through ``torch.func.functional_call`` with
meta-device copies of every parameter and buffer, under ``FlopCounterMode``'s operator counter,
a mode that answers calls already made on the same shapes from a cache
(:mod:`~paramcount.sources.live.torch_replay`) and two global forward hooks, all removed
afterwards: the model itself is neither moved nor changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from paramcount.errors import SpecError
from paramcount.layers.base import PYTORCH, Weight
from paramcount.model import Summary
from paramcount.sources.live.common import array_dtype, dominant
from paramcount.tree import Node, Tied


@dataclass
class _Walk:
    """What the depth-first walk has met: where each tensor and each module was first seen."""

    owner: dict[int, str] = field(default_factory=dict)  # id(tensor) -> dotted path
    modules: dict[int, Node] = field(default_factory=dict)  # id(module) -> its node
    paths: dict[int, str] = field(default_factory=dict)  # id(module) -> dotted path


def summarize_module(model: Any, input_shape: Any = None, example_inputs: Any = None,
                     input_dtype: Any = None) -> Summary:
    """Summarize a ``torch.nn.Module``; with ``input_shape`` (batch excluded) or
    ``example_inputs``, also its output shapes and FLOPs from a meta-device forward pass.

    >>> import torch
    >>> s = summarize_module(torch.nn.Sequential(torch.nn.Linear(4, 2)), input_shape=(4,))
    >>> s.total_params, s.layers[0].output_shape, s.flops().macs
    (10, (2,), 8)
    """
    walk = _Walk()
    name = type(model).__name__
    root = Node(name=name, type=name)
    if model._modules:
        _fill(root, model, "", walk)
    else:  # one layer: a model of one row
        root.type = "Model"
        root.children.append(Node(name=name, type=name))
        _fill(root.children[0], model, f"{name}.", walk)
    summary = Summary(root, source=f"<{type(model).__name__}>", framework=PYTORCH,
                      dtype=dominant(root), meta={"format": "torch.nn.Module"})
    if input_shape is not None and example_inputs is not None:
        raise SpecError("give input_shape or example_inputs, not both")
    if input_dtype is not None and input_shape is None:
        raise SpecError("input_dtype goes with input_shape (example_inputs carry their dtype)")
    if input_shape is not None or example_inputs is not None:
        from paramcount.sources.live.torch_pass import measure

        measure(summary, model, walk.modules, input_shape, example_inputs, input_dtype)
    return summary


def _fill(node: Node, module: Any, path: str, walk: _Walk) -> None:
    walk.modules[id(module)], walk.paths[id(module)] = node, path.rstrip(".")
    weights: list[Weight] = []
    tied: list[Tied] = []
    for name, t, buffer in _own_tensors(module):
        w = weight(name, t, buffer)
        if id(t) in walk.owner:
            tied.append(Tied(w, walk.owner[id(t)]))
        else:
            walk.owner[id(t)] = f"{path}{name}"
            weights.append(w)
    node.weights, node.tied = tuple(weights), tuple(tied)
    # _modules, not named_children(), which yields a module held twice by one parent once
    for name, child in module._modules.items():
        if child is not None:
            node.children.append(_child(name, child, f"{path}{name}.", walk))
    if _numbered([c.name for c in node.children]):
        node.repeat = len(node.children)


def _child(name: str, module: Any, path: str, walk: _Walk) -> Node:
    first = walk.modules.get(id(module))
    if first is not None:  # the same module object again: one node called from two places
        first.calls += 1
        return _alias(name, module, walk)
    node = Node(name=name, type=type(module).__name__)
    _fill(node, module, path, walk)
    return node


def _alias(name: str, module: Any, walk: _Walk) -> Node:
    """A second place of a shared module: every tensor in it tied to where it is counted."""
    tied = []
    for rel, t, buffer in _all_tensors(module):
        tied.append(Tied(weight(rel, t, buffer), walk.owner[id(t)]))
    # a row with tied weights already says where they are counted
    where = "" if tied else f" as {walk.paths[id(module)] or 'the model'}"
    return Node(name=name, type=type(module).__name__, tied=tuple(tied),
                remark=f"same module{where}")


def _own_tensors(module: Any) -> list[tuple[str, Any, bool]]:
    params = module.named_parameters(recurse=False, remove_duplicate=False)
    buffers = module.named_buffers(recurse=False, remove_duplicate=False)
    return [(n, p, False) for n, p in params] + [(n, b, True) for n, b in buffers]


def _all_tensors(module: Any) -> list[tuple[str, Any, bool]]:
    params = module.named_parameters(remove_duplicate=False)
    buffers = module.named_buffers(remove_duplicate=False)
    return [(n, p, False) for n, p in params] + [(n, b, True) for n, b in buffers]


def weight(name: str, t: Any, buffer: bool = False) -> Weight:
    """A tensor's :class:`Weight`: shape, dtype and bytes from its metadata only."""
    shape = tuple(int(d) for d in t.shape)
    dtype = array_dtype(t)
    nbytes = int(t.numel()) * int(t.element_size())
    return Weight(name, shape, trainable=bool(t.requires_grad) and not buffer, buffer=buffer,
                  dtype=dtype, nbytes=nbytes if dtype is not None else None)


def _numbered(names: Sequence[str]) -> bool:
    return len(names) >= 2 and names == [str(i) for i in range(len(names))]
