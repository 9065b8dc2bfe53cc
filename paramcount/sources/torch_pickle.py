"""A restricted unpickler for PyTorch checkpoints: tensor metadata, never code.

A pickle is a small program, and the only way it reaches Python code is by naming a global
(``GLOBAL 'posix system'``) that the unpickler looks up with ``find_class``. Here ``find_class``
answers only from a fixed table of inert stand-ins (torch's tensor-rebuild functions, storage
types, dtypes, ``torch.Size``, ``OrderedDict`` and a few plain builtins) and refuses every other
name before anything is called. The stand-ins record what a tensor would be (storage, offset,
shape, strides, dtype) and never touch tensor data; torch is not imported and need not be
installed.

The stand-ins are inert and fresh: each file gets its own table (:func:`_table`), and none takes
state from the pickle (its ``BUILD`` instruction, which sets attributes on an object, is
refused on every stand-in by ``__setstate__``), so one poisoned file cannot change how the next
is read. What they record is validated as it is built (shapes and offsets non-negative
integers), and the reader checks each storage against the file that holds it.

>>> import pickle
>>> class Boom:
...     def __reduce__(self):
...         import os
...         return (os.system, ("echo hacked",))
>>> load_pickle(pickle.dumps(Boom()), "evil.pt")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
paramcount.errors.SpecError: evil.pt: the pickle refers to posix.system; only tensors and ...
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from paramcount.errors import ParamcountError, SpecError
from paramcount.quoting import quote

#: PyTorch dtype -> bytes per element (packed sub-byte types count their packed unit)
ITEMSIZE: dict[str, int] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4,
    "int16": 2, "int8": 1, "uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8, "bool": 1,
    "complex128": 16, "complex64": 8, "complex32": 4, "float8_e4m3fn": 1, "float8_e5m2": 1,
    "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1, "float8_e8m0fnu": 1, "float4_e2m1fn_x2": 1,
    "quint8": 1, "qint8": 1, "qint32": 4, "quint4x2": 1, "quint2x4": 1,
}
#: the legacy typed storages that torch.save names -> their dtype
STORAGES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexDoubleStorage": "complex128",
    "ComplexFloatStorage": "complex64", "QUInt8Storage": "quint8", "QInt8Storage": "qint8",
    "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4",
}


class _Inert:
    """A stand-in that takes no state from a pickle: ``BUILD`` on it is refused."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise SpecError(f"the pickle sets state on {type(self).__name__.strip('_')}; refused")


@dataclass(frozen=True)
class Storage(_Inert):
    """A storage a checkpoint refers to: ``numel`` elements of ``dtype`` (bytes if None)."""

    key: str
    dtype: str | None
    numel: int

    @property
    def nbytes(self) -> int:
        return self.numel * (ITEMSIZE[self.dtype] if self.dtype else 1)


@dataclass(frozen=True)
class StoredTensor(_Inert):
    """What a tensor in the pickle would be; ``storage`` is None for a meta tensor."""

    storage: Storage | None
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str
    #: a parameter saved with requires_grad=False (state_dict(keep_vars=True) of a frozen layer)
    frozen: bool = False

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.numel * ITEMSIZE[self.dtype]

    def extent(self) -> int:
        """Elements of the storage this tensor reaches (0 when it is empty)."""
        if self.numel == 0:
            return 0
        return self.offset + 1 + sum((d - 1) * s for d, s in zip(self.shape, self.stride,
                                                                   strict=True))


class _StorageType(_Inert):
    __slots__ = ("dtype",)

    def __init__(self, dtype: str | None) -> None:
        self.dtype = dtype


class _DType(_Inert):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Call(_Inert):
    """One of the functions a pickle may call, held so that the pickle cannot set attributes
    on the function itself (its ``__defaults__``)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


class _Refused(Exception):
    pass


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if type(value) is tuple or type(value) is list:  # the common case, fast
        for v in value:
            if type(v) is not int or v < 0 or v >= 2**63:
                break
        else:
            return tuple(value)
    if not isinstance(value, tuple | list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63 for v in value):
        raise SpecError(f"a tensor's {what} must be non-negative integers, got {quote(value)}")
    return tuple(value)


def _tensor(storage: Any, offset: Any, size: Any, stride: Any, dtype: str | None = None
            ) -> StoredTensor:
    if not isinstance(storage, Storage):
        raise SpecError("a tensor refers to something that is not a storage")
    shape, strides = _ints(size, "shape"), _ints(stride, "strides")
    (start,) = _ints((offset,), "storage offset")
    if len(strides) != len(shape):
        raise SpecError(f"a tensor has shape {list(shape)} but strides {list(strides)}")
    dtype = dtype or storage.dtype
    if dtype not in ITEMSIZE:
        raise SpecError(f"a tensor has the unknown dtype {quote(dtype)}")
    return StoredTensor(storage, start, shape, strides, dtype)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> StoredTensor:
    return _tensor(storage, offset, size, stride)


def _rebuild_tensor_v3(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any,
                       hooks: Any, dtype: Any, *_: Any) -> StoredTensor:
    if not isinstance(dtype, _DType):
        raise SpecError("_rebuild_tensor_v3 needs a dtype")
    return _tensor(storage, offset, size, stride, dtype.name)


def _rebuild_qtensor(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> StoredTensor:
    return _tensor(storage, offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any = True, *_: Any) -> StoredTensor:
    if not isinstance(data, StoredTensor):
        raise SpecError("a parameter wraps something that is not a tensor")
    return StoredTensor(data.storage, data.offset, data.shape, data.stride, data.dtype,
                        frozen=requires_grad is False)


def _rebuild_meta(dtype: Any, size: Any, stride: Any, *_: Any) -> StoredTensor:
    if not isinstance(dtype, _DType) or dtype.name not in ITEMSIZE:
        raise SpecError("a meta tensor needs a known dtype")
    shape = _ints(size, "shape")
    return StoredTensor(None, 0, shape, _ints(stride, "strides"), dtype.name)


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    if not isinstance(func, _Call) or func.fn not in _REBUILDS or not isinstance(args, tuple):
        raise SpecError("a tensor subclass is rebuilt by something other than a tensor")
    return func(*args)


def _codecs_encode(text: Any, encoding: Any = "latin1") -> bytes:
    # Protocol 2 writes bytes objects as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise SpecError("_codecs.encode is only read for latin1 bytes")
    return text.encode("latin1")


def _layout(name: Any) -> str:
    return str(name)


def _unsupported(kind: str) -> Callable[..., Any]:
    def refuse(*_: Any) -> Any:
        raise SpecError(f"{kind} tensors are not read")
    return refuse


_REBUILDS: set[Callable[..., Any]] = {_rebuild_tensor, _rebuild_tensor_v3, _rebuild_qtensor,
                                      _rebuild_parameter, _rebuild_meta}
def _bytes(*args: Any) -> bytes:
    return _codecs_encode(*args) if args else b""


#: the names a pickle may refer to: functions (held in a fresh :class:`_Call` per file),
#: storage types and dtypes (fresh stand-ins per file), and immutable builtins
_FUNCTIONS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_qtensor"): _rebuild_qtensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._utils", "_rebuild_meta_tensor_no_storage"): _rebuild_meta,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch._utils", "_rebuild_sparse_tensor"): _unsupported("sparse"),
    ("torch._utils", "_rebuild_nested_tensor"): _unsupported("nested"),
    ("torch._utils", "_rebuild_device_tensor_from_numpy"): _unsupported("numpy-backed"),
    ("torch._utils", "_rebuild_wrapper_subclass"): _unsupported("subclass"),
    ("torch.nn.parameter", "Parameter"): _rebuild_parameter,
    ("torch.serialization", "_get_layout"): _layout,
    ("builtins", "bytes"): _bytes,
    ("_codecs", "encode"): _codecs_encode,
}
_IMMUTABLE: dict[tuple[str, str], Any] = {
    ("torch", "Tensor"): "Tensor",
    ("torch", "Size"): tuple, ("torch", "device"): str,
    ("torch", "per_tensor_affine"): "per_tensor_affine",
    ("torch", "per_channel_affine"): "per_channel_affine",
    ("torch", "per_channel_affine_float_qparams"): "per_channel_affine_float_qparams",
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex, ("builtins", "slice"): slice,
}


def _table() -> dict[tuple[str, str], Any]:
    """The names one file's pickle may use, every stand-in new."""
    return {
        **_IMMUTABLE,
        **{key: _Call(fn) for key, fn in _FUNCTIONS.items()},
        ("torch.storage", "UntypedStorage"): _StorageType(None),
        ("torch", "UntypedStorage"): _StorageType(None),
        **{("torch", name): _StorageType(dtype) for name, dtype in STORAGES.items()},
        **{("torch", name): _DType(name) for name in ITEMSIZE},
    }
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class _Unpickler(pickle.Unpickler):
    """Unpickles with a fresh :func:`_table` as the only names and torch's storage references."""

    def __init__(self, file: BinaryIO, storages: dict[str, Storage]) -> None:
        super().__init__(file)
        self.storages = storages
        self.names = _table()

    def find_class(self, module: str, name: str) -> Any:
        found = self.names.get((_PY2_MODULES.get(module, module), name))
        if found is None:
            raise _Refused(f"{module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise SpecError(f"unknown persistent reference {quote(pid, 80)}")
        storage_type, key, _, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise SpecError("a storage reference names no storage type")
        (count,) = _ints((numel,), "storage size")
        key = str(key)
        storage = Storage(key, storage_type.dtype, count)
        known = self.storages.setdefault(key, storage)
        if known != storage:
            raise SpecError(f"the storage {quote(key)} is declared twice, differently")
        return known


def load_pickle(data: bytes | BinaryIO, where: str, storages: dict[str, Storage] | None = None
                ) -> Any:
    """Unpickle ``data`` with the restricted table; tensors come back as :class:`StoredTensor`.

    Any other global is refused before it is called; a malformed pickle is a :class:`SpecError`
    naming ``where``.
    """
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        return _Unpickler(file, {} if storages is None else storages).load()
    except _Refused as err:
        raise SpecError(f"{where}: the pickle refers to {err}; only tensors and plain "
                        "containers are read (a pickle can run code, so nothing else is "
                        "accepted)") from None
    except ParamcountError as err:
        raise err.within(where) from None
    except RecursionError:
        raise SpecError(f"{where}: the pickle is nested too deeply") from None
    except MemoryError:
        raise SpecError(f"{where}: the pickle asks for more memory than there is") from None
    except Exception as err:  # the pickle machinery raises many types on malformed input
        raise SpecError(f"{where}: not a valid pickle ({type(err).__name__}: "
                        f"{str(err)[:100]})") from None
