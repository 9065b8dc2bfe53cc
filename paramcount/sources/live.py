"""Objects already in memory: a ``torch.nn.Module``, a Keras model or layer, or a pytree of
arrays (a PyTorch ``state_dict``, a dict of NumPy arrays, a JAX/Flax params tree).

The framework is told from the object's class (the modules of its MRO), so torch and Keras are
imported only for an object that comes from them. A pytree is any mapping, list or tuple whose
leaves all have ``.shape`` and ``.dtype``; ``{"params": {"Dense_0": {"kernel": k}}}`` becomes the
weight ``kernel`` of the node ``Dense_0`` in ``params``, grouped as checkpoint names are
(:mod:`paramcount.sources.tensors`). Nothing here reads an array's data.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from paramcount.dtypes import DTYPE_BYTES, dtype_name
from paramcount.errors import SpecError, check_positive
from paramcount.layers.base import KERAS, PYTORCH, Layer, Weight, framework_name
from paramcount.model import Compute, Node, Summary, Tied
from paramcount.shapes import Shape, fmt_shape
from paramcount.sources.tensors import Tensor, is_torch_buffer, summarize_tensors

SUPPORTED = ("a file or folder path, a model description dict, a torch.nn.Module, a Keras model "
             "or layer, or a mapping/list of arrays (objects with .shape and .dtype)")
#: the options each kind of object takes (``dtype`` is every source's, handled by summarize)
OPTIONS = {
    "torch": ("input_shape", "example_inputs", "input_dtype", "depth"),
    "keras": ("input_shape", "depth"),
    "pytree": ("framework", "depth", "name"),
}
_MAX_NESTING = 64


def summarize(obj: Any, **options: Any) -> Summary:
    """Summarize a live model object or a pytree of arrays.

    >>> import numpy as np
    >>> tree = {"params": {"Dense_0": {"kernel": np.zeros((4, 2)), "bias": np.zeros(2)}}}
    >>> s = summarize(tree)
    >>> s.total_params, s.weights()[0][0]
    (10, 'params.Dense_0.kernel')
    """
    kind = kind_of(obj)
    if kind is None:
        cls = type(obj)
        raise SpecError(f"cannot summarize a {cls.__module__}.{cls.__qualname__}; "
                        f"paramcount reads {SUPPORTED}")
    _check_options(kind, options)
    depth = options.pop("depth", None)
    check_positive(depth, "depth")
    if kind == "torch":
        from paramcount.sources.live_torch import summarize_module

        summary = summarize_module(obj, **options)
    elif kind == "keras":
        from paramcount.sources.live_keras import summarize_keras

        summary = summarize_keras(obj, **options)
    else:
        summary = summarize_pytree(obj, **options)
    if depth is not None:
        limit_depth(summary, depth)
    return summary


def kind_of(obj: Any) -> str | None:
    """``"torch"``, ``"keras"`` or ``"pytree"`` for the objects paramcount reads, else None.

    A Keras 3 layer on the PyTorch backend is also a ``torch.nn.Module``: Keras is asked first.

    >>> kind_of({"w": __import__("numpy").zeros(3)}), kind_of(3)
    ('pytree', None)
    """
    classes = [(c.__module__, c.__name__) for c in type(obj).__mro__]
    if any(name == "Layer" and module.split(".")[0] in ("keras", "tf_keras", "tensorflow")
           for module, name in classes):
        return "keras"
    if ("torch.nn.modules.module", "Module") in classes:
        return "torch"
    if holds_arrays(obj):
        return "pytree"
    return None


def _check_options(kind: str, options: Mapping[str, Any]) -> None:
    allowed = OPTIONS[kind]
    for key in options:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            more = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise SpecError(f"summarize() of a {_KIND_NAMES[kind]} has no option {key!r}{more}; "
                            f"options: {', '.join(allowed)}")


_KIND_NAMES = {"torch": "torch.nn.Module", "keras": "Keras model", "pytree": "pytree of arrays"}


# -- depth ----------------------------------------------------------------------------------

def limit_depth(summary: Summary, depth: int) -> None:
    """Keep rows down to ``depth``: a node at the limit takes its descendants' weights (under
    their dotted names) and MACs, so every total, and every tie's owner path, is unchanged.

    >>> import numpy as np
    >>> s = summarize({"a": {"b": {"w": np.zeros(3)}}})
    >>> limit_depth(s, 1)
    >>> [(r.node.name, r.node.params) for r in s.rows()], s.root.children[0].weights[0].name
    ([('a', 3)], 'b.w')
    """
    macs = summary.flops().per_node if summary.view.compute is not None else None
    _prune(summary.root, 0, depth, macs)
    summary.view = summary.view.but(fold=False)  # as --depth: every block of a group shown
    summary.__dict__.pop("_flops", None)  # the tree changed: MACs are walked again


def _prune(node: Node, level: int, depth: int, macs: dict[int, int | None] | None) -> None:
    for child in node.children:
        if level + 1 >= depth:
            _collapse(child, macs)
        else:
            _prune(child, level + 1, depth, macs)


def _collapse(node: Node, macs: dict[int, int | None] | None) -> None:
    if not node.children:
        return
    weights, tied = list(node.weights), list(node.tied)
    for prefix, sub in _descendants(node, ""):
        weights += [replace(w, name=f"{prefix}{w.name}") for w in sub.weights]
        tied += [Tied(replace(t.weight, name=f"{prefix}{t.weight.name}"), t.owner)
                 for t in sub.tied]
    node.weights, node.tied, node.children, node.repeat = tuple(weights), tuple(tied), [], 1
    if macs is None:
        return
    total, calls = macs.get(id(node)), max(node.calls, 1)
    node.layer = Layer(label=node.type) if total is None else None  # MACs unknown
    if total is not None:
        # one call's MACs times the calls, or (calls on other shapes; a container never called
        # itself) all of them once
        node.compute = Compute(total // calls) if total % calls == 0 else Compute(total)
        node.calls = calls if total % calls == 0 else 1


def _descendants(node: Node, prefix: str) -> Iterator[tuple[str, Node]]:
    for child in node.children:
        yield f"{prefix}{child.name}.", child
        yield from _descendants(child, f"{prefix}{child.name}.")


# -- pytrees --------------------------------------------------------------------------------

def is_array(x: Any) -> bool:
    """Anything with a ``.shape`` and a ``.dtype``: NumPy, JAX, PyTorch, TensorFlow arrays."""
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, type)


def is_pytree(obj: Any) -> bool:
    """A mapping, list or tuple with at least one leaf, every leaf an array (None, an empty
    subtree to JAX, is no leaf).

    >>> import numpy as np
    >>> is_pytree({"a": [np.zeros(2), {"b": np.ones(3)}]}), is_pytree({"layers": [1]})
    (True, False)
    """
    leaves = _leaves(obj)
    return bool(leaves) and all(is_array(leaf) for leaf in leaves)


def holds_arrays(obj: Any) -> bool:
    """A mapping, list or tuple with an array among its leaves: meant as a pytree (a leaf that
    is not an array is then an error that names it, not a guess at another format).

    >>> import numpy as np
    >>> holds_arrays({"w": np.zeros(2), "step": 3}), holds_arrays({"layers": []})
    (True, False)
    """
    return any(is_array(leaf) for leaf in _leaves(obj))


def _leaves(obj: Any) -> list[Any]:
    if not isinstance(obj, Mapping | list | tuple) and not is_array(obj):
        return []
    return [leaf for _, leaf in flatten(obj)]


def flatten(obj: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """The leaves of a pytree with their key paths; dicts, lists and tuples are nodes."""
    if len(path) > _MAX_NESTING:
        raise SpecError(f"{'.'.join(path[:4])}...: nested more than {_MAX_NESTING} levels deep")
    if isinstance(obj, Mapping) and not is_array(obj):
        for key, value in obj.items():
            yield from flatten(value, (*path, str(key)))
    elif isinstance(obj, list | tuple) and not is_array(obj):
        for i, value in enumerate(obj):
            yield from flatten(value, (*path, str(i)))
    elif obj is not None:
        yield path, obj


def summarize_pytree(obj: Any, framework: str | None = None, name: str | None = None
                     ) -> Summary:
    """A pytree's leaves as named tensors, grouped into a module tree by their key paths."""
    leaves = list(flatten(obj))
    bad = next((p for p, leaf in leaves if not is_array(leaf)), None)
    if bad is not None:
        leaf = dict(leaves)[bad]
        raise SpecError(f"{'.'.join(bad) or '<root>'}: {type(leaf).__name__} is not an array "
                        "(a pytree's leaves need .shape and .dtype)")
    torch_leaves = any(_is_torch(leaf) for _, leaf in leaves)
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


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


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


def array_dtype(x: Any) -> str | None:
    """The normalised dtype name of an array (NumPy, JAX, PyTorch, TensorFlow), None when it
    is not one paramcount knows.

    >>> import numpy as np
    >>> array_dtype(np.zeros(2, dtype=np.float16)), array_dtype(np.zeros(2, dtype=object))
    ('float16', None)
    """
    d = x.dtype
    text = getattr(d, "name", None) if not _is_torch(d) else None
    text = str(text if isinstance(text, str) else d).removeprefix("torch.")
    try:
        return dtype_name(text)
    except SpecError:
        return None


def _storage_key(leaf: Any) -> Any:
    """Equal keys mean one tensor stored once: the same object, or for PyTorch the same
    storage, offset, shape and strides (a state_dict's tied weights are distinct views)."""
    if _is_torch(leaf) and hasattr(leaf, "untyped_storage"):
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


# -- shared by the live sources ---------------------------------------------------------------

def dominant(root: Node) -> str:
    """The dtype holding the most elements among the tree's weights (float32 when none)."""
    tally: dict[str, int] = {}
    for _, w in root.all_weights():
        if w.dtype in DTYPE_BYTES:
            tally[w.dtype] = tally.get(w.dtype, 0) + w.size
    return max(tally, key=lambda d: tally[d]) if tally else "float32"


def first_line(err: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"[:200]


def input_shapes(value: Any) -> list[Shape]:
    """``input_shape`` as a list of shapes (batch excluded): one shape, or several.

    >>> input_shapes((3, 224, 224)), input_shapes([(4,), (2, 3)])
    ([(3, 224, 224)], [(4,), (2, 3)])
    """
    if isinstance(value, list | tuple) and value and all(
            isinstance(s, list | tuple) for s in value):
        shapes = [tuple(s) for s in value]
    elif isinstance(value, list | tuple):
        shapes = [tuple(value)]
    else:
        raise SpecError(f"input_shape must be a tuple of sizes (batch excluded), got {value!r}")
    for shape in shapes:
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape):
            raise SpecError(f"input_shape {fmt_shape(shape, batch=False)} must hold positive "
                            "integers (batch excluded)")
    return shapes
