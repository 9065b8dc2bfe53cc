"""A pytree of arrays in memory (a PyTorch ``state_dict``, a dict of NumPy arrays, a JAX/Flax
params tree) as named tensors: ``{"params": {"Dense_0": {"kernel": k}}}`` becomes the weight
``kernel`` of the node ``Dense_0`` in ``params``, grouped as checkpoint names are
(:mod:`paramcount.sources.tensors`). Nothing here reads an array's data."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from paramcount.dtypes import DTYPE_BYTES
from paramcount.errors import SpecError
from paramcount.layers.base import KERAS, PYTORCH, Weight, framework_name
from paramcount.model import Summary
from paramcount.sources.live.common import array_dtype, flatten, is_array, is_torch
from paramcount.sources.tensors import Tensor, is_torch_buffer, summarize_tensors
from paramcount.tree import Node, Tied


def summarize_pytree(obj: Any, framework: str | None = None, name: str | None = None
                     ) -> Summary:
    """A pytree's leaves as named tensors, grouped into a module tree by their key paths.

    >>> import numpy as np
    >>> summarize_pytree({"w": np.zeros((2, 3))}, name="tiny").total_params
    6
    """
    leaves = list(flatten(obj))
    bad = next((p for p, leaf in leaves if not is_array(leaf)), None)
    if bad is not None:
        leaf = dict(leaves)[bad]
        raise SpecError(f"{'.'.join(bad) or '<root>'}: {type(leaf).__name__} is not an array "
                        "(a pytree's leaves need .shape and .dtype)")
    torch_leaves = any(is_torch(leaf) for _, leaf in leaves)
    tensors = [_tensor(".".join(p) or "array", leaf, torch_leaves) for p, leaf in leaves]
    fw = framework_name(framework) if framework else _framework(tensors, torch_leaves)
    label = name or ("state_dict" if torch_leaves else type(obj).__name__)
    summary = summarize_tensors(tensors, label, f"<{type(obj).__name__}>", framework=fw,
                                meta={"format": "pytree"})
    _unknown_dtypes(summary.root)
    return summary


def _framework(tensors: list[Tensor], torch_leaves: bool) -> str:
    # Flax and Keras name a matrix `kernel`; PyTorch names it `weight`
    if torch_leaves or not any(t.name.rsplit(".", 1)[-1] == "kernel" for t in tensors):
        return PYTORCH
    return KERAS


def _tensor(name: str, leaf: Any, torch_state: bool) -> Tensor:
    shape = _shape(name, leaf.shape)
    dtype = array_dtype(leaf)
    size = 1
    for d in shape:
        size *= d
    nbytes = int(size * DTYPE_BYTES[dtype]) if dtype is not None else 0
    return Tensor(name, shape, dtype or "", nbytes, key=_storage_key(leaf),
                  buffer=torch_state and is_torch_buffer(name))


def _shape(name: str, dims: Any) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in dims)
    except (TypeError, ValueError):
        raise SpecError(f"{name}: shape {dims!r} is not a list of known sizes") from None
    if any(d < 0 for d in shape):
        raise SpecError(f"{name}: shape {dims!r} has a negative size")
    return shape


def _storage_key(leaf: Any) -> Any:
    """Equal keys mean one tensor stored once: the same object, or for PyTorch the same
    storage, offset, shape and strides (a state_dict's tied weights are distinct views)."""
    if is_torch(leaf) and hasattr(leaf, "untyped_storage"):
        try:
            storage = leaf.untyped_storage()
            return ("torch", storage._cdata, leaf.storage_offset(), tuple(leaf.shape),
                    tuple(leaf.stride()))
        except (RuntimeError, NotImplementedError, AttributeError):  # sparse, nested tensors
            return ("id", id(leaf))
    return ("id", id(leaf))


def _unknown_dtypes(root: Node) -> None:
    """Leaves whose dtype paramcount does not know are still counted, with dtype None."""
    for node in (root, *(n for _, n in root.walk())):
        node.weights = tuple(_plain(w) for w in node.weights)
        node.tied = tuple(Tied(_plain(t.weight), t.owner) for t in node.tied)


def _plain(w: Weight) -> Weight:
    return replace(w, dtype=None, nbytes=None) if w.dtype == "" else w
