"""What the live readers share: telling an array, the leaves of a nested container of them, an
array's dtype, the dtype of most weights, ``input_shape`` read as shapes, and a framework's
exception in one line."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from paramcount.dtypes import DTYPE_BYTES, dtype_name
from paramcount.errors import SpecError
from paramcount.shapes import Shape, fmt_shape
from paramcount.tree import Node

_MAX_NESTING = 64


def is_array(x: Any) -> bool:
    """Anything with a ``.shape`` and a ``.dtype``: NumPy, JAX, PyTorch, TensorFlow arrays."""
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, type)


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


def is_torch(x: Any) -> bool:
    """An object of PyTorch's (a tensor, a dtype), told without importing torch."""
    return type(x).__module__.split(".")[0] == "torch"


def array_dtype(x: Any) -> str | None:
    """The normalised dtype name of an array (NumPy, JAX, PyTorch, TensorFlow), None when it
    is not one paramcount knows.

    >>> import numpy as np
    >>> array_dtype(np.zeros(2, dtype=np.float16)), array_dtype(np.zeros(2, dtype=object))
    ('float16', None)
    """
    d = x.dtype
    text = getattr(d, "name", None) if not is_torch(d) else None
    text = str(text if isinstance(text, str) else d).removeprefix("torch.")
    try:
        return dtype_name(text)
    except SpecError:
        return None


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
