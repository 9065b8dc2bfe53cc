"""The one table of file formats paramcount reads, and the protocol their readers implement.

Each :class:`Format` row names its reader (a module of :mod:`paramcount.sources`), how a file
of it is recognised (suffixes, whole-name endings, first bytes; a ``.json`` file by what it
holds), whether a folder reads it as stored weights, and which pip extra its reader needs. The
summary command's ``--help`` and the README's table of formats are made from these rows (a test
holds the README to them). A new format is one row here and one module with ``load``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from paramcount.errors import SpecError
from paramcount.model import Summary


class Loader(Protocol):
    """What a format's module offers: ``load`` a file (or folder, or shard index).

    ``options`` are those of :func:`paramcount.summarize` that the format's row lists, besides
    ``params`` and ``framework``, which every loader takes (and may ignore).
    """

    def load(self, path: Path, **options: Any) -> Summary: ...


class DocumentLoader(Loader, Protocol):
    """A loader that also reads a parsed JSON document (paramcount's format, a Keras model
    config, a Hugging Face config)."""

    def from_dict(self, doc: Any, source: str = "<dict>", **options: Any) -> Summary: ...


@dataclass(frozen=True)
class Format:
    """One way in from a file: a row of :data:`FORMATS`."""

    #: the reader's module under ``paramcount.sources``
    name: str
    #: what it reads, in a few words (``--help``, the README)
    what: str
    suffixes: tuple[str, ...] = ()
    #: whole-name endings, matched before the suffix (``.safetensors.index.json``)
    endings: tuple[str, ...] = ()
    #: first bytes of a file of this format, whatever its name
    magic: tuple[bytes, ...] = ()
    #: a parsed JSON document of this kind is read by the module's ``from_dict``
    document: bool = False
    #: a folder reads files of this format as stored weights
    checkpoint: bool = False
    #: options beyond ``params`` and ``framework`` that the loader takes
    options: frozenset[str] = frozenset()
    #: the pip extra its reader needs (``pip install paramcount[h5]``), if any
    extra: str | None = None

    def loader(self) -> Loader:
        return cast(Loader, importlib.import_module(f"paramcount.sources.{self.name}"))

    def document_loader(self) -> DocumentLoader:
        return cast(DocumentLoader, self.loader())


FORMATS: tuple[Format, ...] = (
    Format("spec", "paramcount's model format: layers and blocks, in YAML or JSON",
           (".yaml", ".yml", ".json"), document=True),
    Format("hf", "a Hugging Face config.json: the model types paramcount declares counted by "
           "it, others built by transformers on the meta device", (".json",), document=True,
           options=frozenset({"head"})),
    Format("keras", "a Keras model: a .keras archive, a Keras 2 or 3 HDF5 file, or a "
           "model config", (".keras", ".h5", ".hdf5", ".json"), magic=(b"\x89HDF\r\n\x1a\n",),
           document=True, checkpoint=True, extra="h5"),
    Format("safetensors", "safetensors weights, header only; a shard index",
           (".safetensors",), (".safetensors.index.json",), checkpoint=True,
           options=frozenset({"progress"})),
    Format("gguf", "GGUF (llama.cpp), header only; a split set from its first file",
           (".gguf",), magic=(b"GGUF",), checkpoint=True, options=frozenset({"progress"})),
    Format("onnx", "an ONNX graph, tensor data skipped unread; external data is not read",
           (".onnx",), checkpoint=True),
    Format("numpy", "NumPy arrays", (".npy", ".npz"), magic=(b"\x93NUMPY",),
           checkpoint=True),
    # last: a zip archive that no other row claimed is PyTorch's format
    Format("torch", "PyTorch checkpoints, read without running pickled code; a shard index",
           (".pt", ".pth", ".bin", ".ckpt"), (".bin.index.json", ".pt.index.json",
                                               ".pth.index.json"),
           magic=(b"PK",), checkpoint=True, options=frozenset({"progress"})),
    Format("folder", "every checkpoint in it (the same model in several formats counted "
           "once), else its config.json or model.yaml",
           options=frozenset({"progress", "head"})),
)
BY_NAME = {f.name: f for f in FORMATS}


def by_suffix(suffix: str) -> Format | None:
    """The format of a file suffix other than ``.json`` (whose content decides)."""
    return next((f for f in FORMATS if suffix in f.suffixes and suffix != ".json"), None)


def detect(path: Path) -> Format:
    """The format of ``path``: a folder, a whole-name ending, a suffix, a JSON document's
    kind, or the first bytes."""
    if path.is_dir():
        return BY_NAME["folder"]
    if not path.exists():
        raise SpecError(f"{path}: no such file")
    name = path.name.lower()
    for f in FORMATS:
        if name.endswith(f.endings) and f.endings:
            return f
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _document(path)
    return by_suffix(suffix) or _by_magic(path)


def _document(path: Path) -> Format:
    from paramcount.sources.spec import read_document

    return document_kind(read_document(path), str(path))


def document_kind(doc: Any, where: str) -> Format:
    """Which format reads this parsed JSON: paramcount's, a Keras model config, or a Hugging
    Face config."""
    if isinstance(doc, dict):
        if "class_name" not in doc and _keras_layer_list(doc.get("layers")):
            return BY_NAME["keras"]  # a bare get_config() dump of a Sequential or Functional
        if "layers" in doc and "class_name" not in doc:
            return BY_NAME["spec"]
        if "class_name" in doc and "config" in doc:
            return BY_NAME["keras"]
        if any(k in doc for k in ("model_type", "architectures", "_class_name")) or \
                isinstance(doc.get("architecture"), str):
            return BY_NAME["hf"]  # _class_name: diffusers' config.json; architecture: timm's
        if "layers" in doc:
            return BY_NAME["spec"]
    raise SpecError(f"{where}: not a model description paramcount knows (expected paramcount's "
                    "format with `layers`, a Keras model config, or a Hugging Face config.json)")


def _keras_layer_list(layers: Any) -> bool:
    return isinstance(layers, list) and bool(layers) and all(
        isinstance(i, dict) and "class_name" in i and "config" in i for i in layers)


def _by_magic(path: Path) -> Format:
    from paramcount.sources.regular import open_regular

    try:
        with open_regular(path) as stream:
            head = stream.read(8)
    except OSError as err:
        raise SpecError(f"{path}: cannot read ({err.strerror})") from None
    for f in FORMATS:
        if f.magic and head.startswith(f.magic):
            return f
    if head.lstrip().startswith(b"{"):  # a JSON document without its suffix
        return _document(path)
    known = sorted({s for f in FORMATS for s in f.suffixes})
    raise SpecError(f"{path}: unknown file type (known: {', '.join(known)}, a folder)")
