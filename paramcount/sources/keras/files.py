"""Keras and tf.keras model files, read without Keras or TensorFlow.

- ``.json``: ``model.to_json()`` or a ``get_config()`` dump, Sequential or Functional, in the
  Keras 3 or the Keras 2 / tf.keras layout (see :mod:`paramcount.sources.keras.config`);
- ``.keras``: the zip archive Keras 3 saves (config.json, metadata.json, model.weights.h5); only
  config.json is read unless a layer of unknown class needs its stored weight shapes;
- ``.h5``/``.hdf5``: a legacy full-model file (its ``model_config`` attribute), or a weights file
  (``.weights.h5``, ``save_weights``), summarized as its weight tree (needs ``paramcount[h5]``).

Counts follow Keras: BatchNormalization's moving statistics are non-trainable parameters,
``trainable: false`` freezes a layer or a nested model, a shared layer counts once. A layer of
a class paramcount does not know (a custom class, ``Lambda``) is counted from the weights stored
in the file when there are any; otherwise it is listed as unknown, a warning names the classes,
and the totals are lower bounds. Nothing from the file is ever imported or run.
"""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from paramcount.budget import current, exceeded
from paramcount.dtypes import DTYPE_BYTES, dtype_name
from paramcount.errors import ParamcountError, SpecError
from paramcount.layers import preprocessing  # noqa: F401  (registers Keras's preprocessing layers)
from paramcount.layers.base import framework_name
from paramcount.model import Summary
from paramcount.sources.archives import open_zip
from paramcount.sources.keras.config import NotAModel, read_model
from paramcount.sources.keras.graph import StoredWeights, Walker, freeze
from paramcount.sources.regular import open_regular
from paramcount.tree import Node
from paramcount.view import View

_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
#: the figure a quantized model shows beside its count: the float model it was quantized from
LOGICAL = "Logical params (unquantized)"


def load(path: Path, **options: Any) -> Summary:
    """The source protocol: a ``.keras``, ``.h5``/``.hdf5`` or ``.json`` Keras model file."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            from paramcount.sources.spec import read_document

            return from_dict(read_document(path), source=str(path), **options)
        if path.suffix.lower() == ".keras" or _is_zip(path):
            return _archive(path, options)
        return _hdf5(path, options)
    except ParamcountError as err:
        if str(err).startswith((str(path), path.name)):
            raise
        raise err.within(path.name) from None


def from_dict(doc: Any, source: str = "<dict>", stored: StoredWeights | None = None,
              meta: Mapping[str, Any] | None = None, framework: str | None = None,
              **_: Any) -> Summary:
    """Summarize a parsed Keras model config (``json.loads(model.to_json())``).

    >>> doc = {"class_name": "Sequential", "config": {"name": "mlp", "layers": [
    ...     {"class_name": "InputLayer", "config": {"batch_shape": [None, 4]}},
    ...     {"class_name": "Dense", "config": {"name": "dense", "units": 2}}]}}
    >>> s = from_dict(doc)
    >>> s.name, s.total_params
    ('mlp', 10)
    """
    if framework is not None and framework_name(framework) != "keras":
        raise SpecError("a Keras model is counted in Keras's convention; --framework pytorch "
                        "does not apply")
    where = Path(source).name
    walker = Walker(where, stored)
    try:
        cfg = read_model(doc, where)
        made = walker.model(cfg)
    except NotAModel:
        raise
    except ParamcountError as err:  # every message names the file (or "<dict>") once
        if str(err).startswith(where):
            raise
        raise err.within(where) from None
    made.node.name = cfg.name
    layout = "keras3" if any("module" in e.raw for e in cfg.layers) else "legacy"
    info = {"format": "keras", "layout": layout, **(meta or {})}
    for key in ("keras_version", "backend"):
        if isinstance(doc, Mapping) and isinstance(doc.get(key), str):
            info[key] = doc[key]
    summary = Summary(made.node, source=source, framework="keras",
                      dtype=_dtype(walker.dtype()), meta=info)
    if any(child.children for child in made.node.children):
        summary.view = View(depth=1)  # as Keras's summary: a nested model is one row
    if walker.quantized():
        walker.stored_dtypes()
        summary.figures[LOGICAL] = Walker(where, stored, logical=True).model(cfg).node.params
    _warn_unknown(summary)
    return summary


def _dtype(policy: str) -> str:
    """Bytes per parameter follow the variables: mixed_float16 keeps float32 variables."""
    try:
        return dtype_name(policy)
    except SpecError:
        base = policy.split("_from_")[-1]  # a quantized policy: int8_from_float32
        return base if base in DTYPE_BYTES else "float32"


def _warn_unknown(summary: Summary) -> None:
    unknown = summary.unknown_layers
    if unknown:
        kinds = ", ".join(f"{t} ×{n}" for t, n in sorted(unknown.items()))
        warnings.warn(f"{Path(summary.source).name}: {sum(unknown.values())} layer(s) of "
                      f"unknown class not counted ({kinds}); the totals are lower bounds",
                      UserWarning, stacklevel=3)


# -- .keras archives ---------------------------------------------------------------------------

def _is_zip(path: Path) -> bool:
    with open_regular(path) as f:
        return f.read(4) == b"PK\x03\x04"


def _archive(path: Path, options: dict[str, Any]) -> Summary:
    with open_zip(path, "a .keras archive (a zip file)") as zf:
        names = set(zf.namelist())
        if _CONFIG not in names:
            raise SpecError(f"{path}: the archive has no {_CONFIG}: not a Keras model")
        doc = _json_member(zf, _CONFIG, path)
        meta = _json_member(zf, _METADATA, path) if _METADATA in names else {}
        info = {k: meta[k] for k in ("keras_version", "date_saved")
                if isinstance(meta, Mapping) and isinstance(meta.get(k), str)}
        with _stored(zf, path, _WEIGHTS in names) as stored:
            try:
                return from_dict(doc, source=str(path), stored=stored, meta=info, **options)
            except NotAModel as err:
                if stored is None:
                    raise SpecError(f"{err}; the archive has no {_WEIGHTS} to count "
                                    "instead") from None
                return _weights_summary(stored.root, path, doc, info)


def _json_member(zf: zipfile.ZipFile, name: str, path: Path) -> Any:
    info = zf.getinfo(name)
    limit = current().limits.read_bytes
    if info.file_size > limit:
        raise exceeded("read_bytes", info.file_size, limit, f"{path}: {name} declares")
    try:  # zipfile stops at the declared size (and checks the CRC): the bound holds
        with zf.open(info) as f:
            data = f.read(limit)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error) as err:
        raise SpecError(f"{path}: cannot read {name} from the archive ({err})") from None
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise SpecError(f"{path}: {name} is not valid JSON ({err})") from None


class _Lazy:
    """The archive's weights file, opened only if a layer of unknown class asks for it."""

    def __init__(self, zf: zipfile.ZipFile, path: Path) -> None:
        self.zf, self.path = zf, path
        self._store: Any = None
        self._file: Any = None

    @property
    def root(self) -> Any:
        from paramcount.sources.keras import h5

        if self._file is None:
            where = f"{self.path}: {_WEIGHTS}"
            with h5.damaged(where):
                self._file = h5.open_h5(_member(self.zf, _WEIGHTS, self.path), where)
        return self._file

    def layer(self, path: tuple[str, ...], names: tuple[str, ...]) -> Any:
        """The stored weights of one layer; libhdf5's errors on a damaged member are one line."""
        from paramcount.sources.keras import h5

        with h5.damaged(f"{self.path}: {_WEIGHTS}"):
            if self._store is None:
                self._store = h5.Keras3Store(self.root)
            return self._store.layer(path, names)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


@contextmanager
def _stored(zf: zipfile.ZipFile, path: Path, present: bool) -> Iterator[_Lazy | None]:
    lazy = _Lazy(zf, path) if present else None
    try:
        yield lazy
    finally:
        if lazy is not None:
            lazy.close()


def _member(zf: zipfile.ZipFile, name: str, path: Path) -> IO[bytes] | io.RawIOBase:
    """A binary file over one archive member. Keras stores members uncompressed: then the
    window reads the archive file in place, so h5py reads only the headers it needs."""
    info = zf.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        return zf.open(info)  # seekable, if slowly
    f = open_regular(path)
    f.seek(info.header_offset)
    header = f.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        f.close()
        raise SpecError(f"{path}: the archive's entry for {name} is corrupt")
    start = info.header_offset + 30 + sum(struct.unpack("<HH", header[26:30]))
    return _Window(f, start, info.file_size)


class _Window(io.RawIOBase):
    """A read-only window ``[start, start + size)`` over an open binary file."""

    def __init__(self, f: IO[bytes], start: int, size: int) -> None:
        self.f, self.start, self.size, self.pos = f, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        self.f.seek(self.start + self.pos)
        data = self.f.read(n)
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)

    def close(self) -> None:
        self.f.close()
        super().close()


# -- HDF5 files --------------------------------------------------------------------------------

def _hdf5(path: Path, options: dict[str, Any]) -> Summary:
    from paramcount.sources.keras import h5

    if not path.exists():
        raise SpecError(f"{path}: no such file")
    with h5.open_h5(path, str(path)) as f, h5.damaged(str(path)):
        config = None if path.name.lower().endswith(".weights.h5") else \
            h5.model_config(f, str(path))
        if config is not None:
            root = f.get("model_weights")
            stored = h5.LegacyStore(root) if root is not None else None
            return from_dict(config, source=str(path), stored=stored,
                             meta=h5.file_meta(f, str(path)), **options)
        if h5.layout(f) is None:
            raise SpecError(f"{path}: an HDF5 file without a Keras model_config attribute or "
                            "Keras weights: not a Keras model file")
        return _weights_summary(f, path, None, h5.file_meta(f, str(path)))


def _weights_summary(f: Any, path: Path, doc: Any, meta: dict[str, Any]) -> Summary:
    """A weights file with no usable config: its weight tree."""
    from paramcount.sources.keras import h5

    name = path.name.split(".")[0]
    if isinstance(doc, Mapping):
        config = doc.get("config")
        name = str(config.get("name", name)) if isinstance(config, Mapping) else name
        meta = {**meta, "class_name": doc.get("class_name")}
    root: Node = h5.weights_tree(f, name)
    info = {"format": "keras weights", **meta,
            "note": "weights only: the layers as stored, not as called; trainable only as "
                    "Keras makes normalization statistics non-trainable"}
    summary = Summary(root, source=str(path), framework="keras", dtype=_stored_dtype(root),
                      meta=info)
    if isinstance(doc, Mapping) and (doc.get("config") or {}).get("trainable") is False:
        freeze(root)
    return summary


def _stored_dtype(root: Node) -> str:
    sizes: dict[str, int] = {}
    for _, w in root.all_weights():
        if w.dtype is not None:
            sizes[w.dtype] = sizes.get(w.dtype, 0) + w.size
    return max(sizes, key=lambda d: sizes[d]) if sizes else "float32"
