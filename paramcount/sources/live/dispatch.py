"""Which reader a live object goes to, and the options each kind of object takes.

The framework is told from the object's class (the modules of its MRO), so torch and Keras are
imported only for an object that comes from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramcount.errors import SpecError, check_positive, refuse_unknown
from paramcount.model import Summary
from paramcount.sources.live.common import holds_arrays
from paramcount.sources.live.depth import limit_depth
from paramcount.sources.live.pytree import summarize_pytree

SUPPORTED = ("a file or folder path, a model description dict, a torch.nn.Module, a Keras model "
             "or layer, or a mapping/list of arrays (objects with .shape and .dtype)")
#: the options each kind of object takes (``dtype`` is every source's, handled by summarize)
OPTIONS = {
    "torch": ("input_shape", "example_inputs", "input_dtype", "depth"),
    "keras": ("input_shape", "depth"),
    "pytree": ("framework", "depth", "name"),
}


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
        from paramcount.sources.live.torch import summarize_module

        summary = summarize_module(obj, **options)
    elif kind == "keras":
        from paramcount.sources.live.keras import summarize_keras

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
    refuse_unknown(options, OPTIONS[kind], f"summarize() of a {_KIND_NAMES[kind]}")


_KIND_NAMES = {"torch": "torch.nn.Module", "keras": "Keras model", "pytree": "pytree of arrays"}
