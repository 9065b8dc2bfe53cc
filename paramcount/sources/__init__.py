"""Ways in: each module turns one kind of description into a :class:`~paramcount.model.Summary`.

Every file-format module exposes the same small function, ``load(path, **options) -> Summary``;
``summarize`` picks the module from the file's name and first bytes. Options every module takes
(and may ignore): ``params``, ``framework``, ``dtype``; some take more (``head`` for Hugging Face
configs, ``progress`` for folders).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from paramcount.dtypes import dtype_name
from paramcount.errors import SpecError, check_positive
from paramcount.model import Summary

#: file suffix -> source module
SUFFIXES = {
    ".yaml": "spec", ".yml": "spec",
    ".keras": "keras", ".h5": "keras", ".hdf5": "keras",
    ".safetensors": "safetensors", ".gguf": "gguf", ".onnx": "onnx",
    ".pt": "torch", ".pth": "torch", ".bin": "torch", ".ckpt": "torch",
    ".npz": "numpy", ".npy": "numpy",
}
_MAGIC = ((b"GGUF", "gguf"), (b"\x89HDF\r\n\x1a\n", "keras"), (b"\x93NUMPY", "numpy"))


def summarize(source: Any, **options: Any) -> Summary:
    """Summarize a model description: a file or folder path, a parsed description as a dict
    (paramcount's model format, a Keras model config, or a Hugging Face config), or an object
    in memory: a ``torch.nn.Module``, a Keras model or layer, or a dict/list of arrays
    (:mod:`paramcount.sources.live`).

    >>> import paramcount
    >>> spec = {"input_shape": [4], "layers": [{"Dense": {"units": 2}}]}
    >>> paramcount.summarize(spec).total_params
    10
    """
    dtype = options.pop("dtype", None)
    summary: Summary
    if isinstance(source, str | os.PathLike | dict) and not (
            isinstance(source, dict) and _module("live").holds_arrays(source)):
        depth = options.pop("depth", None)
        check_positive(depth, "depth")
        if isinstance(source, dict):
            summary = _module(json_kind(source, "<dict>")).from_dict(source, **options)
        else:
            path = Path(source)
            summary = _module(detect(path)).load(path, **options)
        if depth is not None:  # as --depth: rows down to it, every block of a group shown
            summary.depth, summary.fold = depth, False
    else:  # a live model object, or a mapping or list of arrays
        summary = _module("live").summarize(source, **options)
    if dtype:
        summary.dtype = dtype_name(dtype)
        summary.dtype_override = True
    return summary


def _module(kind: str) -> Any:
    return importlib.import_module(f"paramcount.sources.{kind}")


def detect(path: Path) -> str:
    """The source module for ``path``: by folder, suffix, JSON content or magic bytes."""
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise SpecError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith(".safetensors.index.json"):
        return "safetensors"
    if name.endswith((".bin.index.json", ".pt.index.json", ".pth.index.json")):
        return "torch"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json_kind(_peek_json(path), str(path))
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    return _by_magic(path)


def json_kind(doc: Any, where: str) -> str:
    """Which source reads this parsed JSON: paramcount's format, Keras, or Hugging Face."""
    if isinstance(doc, dict):
        if "class_name" not in doc and _keras_layer_list(doc.get("layers")):
            return "keras"  # a bare get_config() dump of a Sequential or Functional model
        if "layers" in doc and "class_name" not in doc:
            return "spec"
        if "class_name" in doc and "config" in doc:
            return "keras"
        if "model_type" in doc or "architectures" in doc:
            return "hf"
        if "layers" in doc:
            return "spec"
    raise SpecError(f"{where}: not a model description paramcount knows (expected paramcount's "
                    "format with `layers`, a Keras model config, or a Hugging Face config.json)")


def _keras_layer_list(layers: Any) -> bool:
    return isinstance(layers, list) and bool(layers) and all(
        isinstance(i, dict) and "class_name" in i and "config" in i for i in layers)


def _peek_json(path: Path) -> Any:
    from paramcount.sources.spec import read_document

    return read_document(path)


def _by_magic(path: Path) -> str:
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as err:
        raise SpecError(f"{path}: cannot read ({err.strerror})") from None
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"PK"):
        return "torch"
    raise SpecError(f"{path}: unknown file type (known: {', '.join(sorted(SUFFIXES))}, "
                    ".json, a folder)")
