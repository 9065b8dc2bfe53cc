"""Keras HDF5 files through h5py (the optional extra ``paramcount[h5]``): a legacy full-model
file's ``model_config``, and the weight shapes of any Keras weights file.

Two weight layouts, read from HDF5 headers only (no weight data is read):

- Keras 3 (``model.weights.h5`` in a ``.keras`` archive, ``*.weights.h5``): a group per layer,
  ``layers/<snake-case class name, numbered>/vars/0, 1, ...``, nested models under their own
  ``layers``; the ``vars`` group may name the layer in its ``name`` attribute.
- Legacy (``model.save("x.h5")``, Keras 2 ``save_weights``): ``model_weights/<layer name>/`` (or
  the file root) with a ``weight_names`` attribute listing each layer's weights by path.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from paramcount.budget import current, exceeded
from paramcount.build import snake
from paramcount.dtypes import DTYPE_BYTES
from paramcount.errors import SpecError
from paramcount.layers import Weight, registered_names
from paramcount.quoting import quote
from paramcount.sources.regular import regular
from paramcount.tree import Node

# statistics Keras keeps as non-trainable weights, by the name a legacy file gives them
_STATISTICS = ("moving_mean", "moving_variance", "moving_stddev", "renorm_mean",
               "renorm_stddev")
_NUMBERED = re.compile(r"^(.*?)(?:_(\d+))?$")


def h5py_module() -> Any:
    try:
        import h5py
    except ImportError:
        raise SpecError("reading HDF5 files needs h5py: pip install paramcount[h5]") from None
    return h5py


def open_h5(source: Any, where: str) -> Any:
    """Open an HDF5 file (a path to a regular file, or a binary file object) for reading; one
    with an external link (to an object of another file) is refused: nothing outside the file
    named is read."""
    h5py = h5py_module()
    if isinstance(source, str | os.PathLike):
        regular(os.fspath(source))
    try:
        f = h5py.File(source, "r")
    except (OSError, ValueError) as err:
        raise SpecError(f"{where}: not a readable HDF5 file ({_first_line(err)})") from None
    try:
        _refuse_external(f, where)
    except BaseException:
        f.close()
        raise
    return f


@contextmanager
def damaged(where: str) -> Iterator[None]:
    """libhdf5's errors while reading an open file (a damaged heap, a bad B-tree) as one
    line: h5py raises them as OSError or RuntimeError from any read."""
    try:
        yield
    except (OSError, RuntimeError) as err:
        if isinstance(err, RecursionError | FileNotFoundError):
            raise
        raise SpecError(f"{where}: not a readable HDF5 file ({_first_line(err)})") from None


def _refuse_external(f: Any, where: str) -> None:
    """Every link of the file, visited without following any (a group reached twice is
    visited once); an external link is one line."""
    h5py = h5py_module()

    def visit(name: str, link: Any) -> tuple[str, str] | None:  # not None: the visit stops
        return (name, link.filename) if isinstance(link, h5py.ExternalLink) else None

    try:
        found = f.visititems_links(visit)
    except (OSError, RuntimeError, KeyError) as err:
        raise SpecError(f"{where}: not a readable HDF5 file ({_first_line(err)})") from None
    if found is not None:
        raise SpecError(f"{where}: {quote(found[0])} is an external link to "
                        f"{quote(found[1])}; links out of the file are not followed")


def _first_line(err: Exception) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0]


def text_attr(obj: Any, name: str, where: str) -> str | None:
    """A string attribute, refused when it is too large to be a model config."""
    if name not in obj.attrs:
        return None
    size = obj.attrs.get_id(name).get_storage_size()
    limit = current().limits.read_bytes
    if size > limit:
        raise exceeded("read_bytes", size, limit, f"{where}: the {name} attribute")
    value = obj.attrs[name]
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else None


def model_config(f: Any, where: str) -> dict[str, Any] | None:
    """The ``model_config`` attribute of a legacy full-model file, parsed; None when absent."""
    text = text_attr(f, "model_config", where)
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise SpecError(f"{where}: the model_config attribute is not valid JSON") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{where}: the model_config attribute is not a JSON object")
    return doc


def file_meta(f: Any, where: str) -> dict[str, str]:
    out = {}
    for key in ("keras_version", "backend"):
        value = text_attr(f, key, where)
        if value:
            out[key] = value
    return out


# -- stored weights of one layer ---------------------------------------------------------------

def _weight(dset: Any, name: str) -> Weight:
    dtype = dset.dtype.name if dset.dtype.name in DTYPE_BYTES else None
    shape = tuple(int(d) for d in dset.shape)
    nbytes = int(dset.dtype.itemsize) * (dset.size or 0) if dset.shape is not None else 0
    return Weight(name, shape if dset.shape is not None else (), dtype=dtype, nbytes=nbytes)


def _natural(name: str) -> tuple[Any, ...]:
    # the runs of digits sit at the odd places; a run too long for int() sorts first
    return tuple((int(p) if len(p) < 100 else -1, p) if i % 2 else p
                 for i, p in enumerate(re.split(r"(\d+)", name)))


def datasets(group: Any, prefix: str = "", skip: tuple[str, ...] = (),
             seen: set[Any] | None = None) -> Iterator[Weight]:
    """Every dataset below ``group`` as a Weight named by its path, in natural order; a group
    reached twice (linked into itself) is walked once."""
    h5py = h5py_module()
    seen = set() if seen is None else seen
    if _once(group, seen):
        return
    for key in sorted(group.keys(), key=_natural):
        if key.startswith(skip):
            continue
        obj = group.get(key)
        if isinstance(obj, h5py.Dataset):
            yield _weight(obj, f"{prefix}{key}")
        elif isinstance(obj, h5py.Group):
            yield from datasets(obj, f"{prefix}{key}/", skip, seen)


def _once(group: Any, seen: set[Any]) -> bool:
    """Whether ``group`` was walked already (HDF5 groups may be linked into themselves)."""
    key = (group.id.fileno, group.id.__hash__())
    if key in seen:
        return True
    seen.add(key)
    return False


def _strip(weights: list[Weight]) -> list[Weight]:
    """Weights as a layer's weights: no stored dtype (the model's policy applies)."""
    return [replace(w, dtype=None, nbytes=None) for w in weights]


class Keras3Store:
    """Weights of a Keras 3 weights file, found by saving path (or the ``name`` attribute)."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def layer(self, path: tuple[str, ...], names: tuple[str, ...]) -> list[Weight] | None:
        group = self._find(path, names[-1])
        if group is None:
            return None
        return _strip(list(datasets(group, skip=("seed_generator",))))

    def _find(self, path: tuple[str, ...], name: str) -> Any:
        group = self.root.get("/".join(path))
        if group is not None and _named(group) in (None, name):
            return group
        parent = self.root.get("/".join(path[:-1]))
        for key in parent.keys() if parent is not None else ():
            if _named(parent[key]) == name:
                return parent[key]
        return group


def _named(group: Any) -> str | None:
    """The layer name Keras 3 writes on a layer's ``vars`` group, if any."""
    try:
        value = group["vars"].attrs.get("name")
    except (KeyError, TypeError, AttributeError):
        return None
    return value.decode() if isinstance(value, bytes) else value


class LegacyStore:
    """Weights of a legacy HDF5 file: ``model_weights/<layer>`` groups with ``weight_names``."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def layer(self, path: tuple[str, ...], names: tuple[str, ...]) -> list[Weight] | None:
        group = self.root.get(names[0])
        if group is None:
            return None
        if len(names) == 1:
            return _strip(legacy_weights(group))
        inner = _find_group(group, names[-1])
        return None if inner is None else _strip(list(datasets(inner)))


def weight_names(group: Any) -> list[str] | None:
    if "weight_names" not in group.attrs:
        return None
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n)
            for n in group.attrs["weight_names"]]


def legacy_weights(group: Any) -> list[Weight]:
    """A legacy layer group's weights, in the order of ``weight_names``."""
    names = weight_names(group)
    if names is None:
        return list(datasets(group))
    return [_weight(group[n], n) for n in names if n in group]


def _find_group(group: Any, name: str, depth: int = 4) -> Any:
    h5py = h5py_module()
    level, seen = [group], set[Any]()
    for _ in range(depth):
        nxt = []
        for g in level:
            if _once(g, seen):
                continue
            if name in g and isinstance(g[name], h5py.Group):
                return g[name]
            nxt += [v for v in g.values() if isinstance(v, h5py.Group)]
        level = nxt
    return None


# -- weights-only files ------------------------------------------------------------------------

def layout(f: Any) -> str | None:
    """``"keras3"`` or ``"legacy"`` for a Keras weights file, None for anything else."""
    if "layer_names" in f.attrs:
        return "legacy"
    if "model_weights" in f and "layer_names" in f["model_weights"].attrs:
        return "legacy"
    if "layers" in f or "vars" in f:
        return "keras3"
    return None


def weights_tree(f: Any, name: str) -> Node:
    """The weight tree of a weights file: a row per stored layer, weights with their shapes."""
    if layout(f) == "legacy":
        root = f.get("model_weights", f)
        node = Node(name, "Model")
        for layer in weight_names_of(root):
            group = root.get(layer)
            if group is not None:
                node.children.append(_row(layer, legacy_weights(group)))
        return node
    root = _keras3_tree(f, name)
    root.type = "Model"
    return root


def weight_names_of(root: Any) -> list[str]:
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n)
            for n in root.attrs.get("layer_names", [])]


#: groups of a Keras 3 weights file that hold no model weights (training state)
_NOT_WEIGHTS = ("optimizer", "compile_metrics", "metrics", "loss", "seed_generator")


def _keras3_tree(group: Any, name: str, saved: str = "", seen: set[Any] | None = None
                 ) -> Node:
    """A Keras 3 object's group: its own ``vars``, the layers of its ``layers`` list, and the
    layers it holds as attributes (a subclassed model's ``self.dense``); a group reached twice
    is a row once."""
    h5py = h5py_module()
    seen = set() if seen is None else seen
    if _once(group, seen):
        return _row(name, [], saved)
    node = _row(name, list(datasets(group["vars"])) if "vars" in group else [], saved)
    for key in sorted(group.keys(), key=_natural):
        sub = group[key]
        if key == "vars" or key.startswith(_NOT_WEIGHTS) or not isinstance(sub, h5py.Group):
            continue
        members = [(k, sub[k]) for k in sorted(sub.keys(), key=_natural)] if key == "layers" \
            else [(key, sub)]
        for k, g in members:
            if isinstance(g, h5py.Group):
                label = _named(g) or k
                node.children.append(_keras3_tree(g, label, k if _guess(k) != "Layer" else label,
                                                  seen))
    if node.children and node.type == "Layer":
        node.type = "Model"
    return node


_SNAKE: dict[str, str] = {}


def _guess(saved: str) -> str:
    """A layer's class from its saved name (``batch_normalization_3``), for display only."""
    if not _SNAKE:
        _SNAKE.update({snake(n): n for n in registered_names()})
        _SNAKE.update({"functional": "Functional", "sequential": "Sequential",
                       "input_layer": "InputLayer"})
    m = _NUMBERED.match(saved)
    base = m.group(1) if m else saved
    return _SNAKE.get(base) or _SNAKE.get(saved) or "Layer"


def _row(name: str, weights: list[Weight], saved: str | None = None) -> Node:
    """A layer of a weights file; statistics of BatchNormalization and Normalization are marked
    non-trainable, as Keras makes them (the file does not say)."""
    kind = _guess(saved or name)
    n = len(weights)
    out = []
    for i, w in enumerate(weights):
        short = w.name.split("/")[-1].split(":")[0]
        frozen = short in _STATISTICS or kind == "Normalization" or (
            kind == "BatchNormalization" and short.isdigit() and n >= 2 and i >= n - 2)
        out.append(replace(w, trainable=not frozen))
    return Node(name, kind, weights=tuple(out))
