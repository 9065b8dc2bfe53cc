"""ONNX models: the graph's initializers (and weight-holding Constant nodes), per graph node.

A parameter is an initializer, counted once however many nodes use it; the first node that uses
it owns it (a row per node: ``Conv``, ``Gemm``, ``MatMul``, ...), later users list it as tied.
Rows are nested by the module path the exporter recorded (torch.onnx's ``name_scopes``, or a node
name such as ``/layers.0/attn/MatMul``). External data is never loaded: its size is checked
against the file it names when that file is there.

Not every initializer is a weight. Counted: floating-point and 8/4-bit integer tensors. Listed
as constants, not counted: wider integer and boolean tensors (shapes, indices), tensors used only
where an operator takes a shape, axes or indices (``Reshape``'s second input), scalars with an
exporter's generated name (``val_2``, ``onnx::Div_3``), and Constant nodes holding fewer than two
numbers. Exporters transpose or fold weights into new initializers and merge equal ones; the
count is that of the tensors the file stores.

The file is read by :mod:`paramcount.sources.onnx_proto`, without the ``onnx`` package: the
graph's fields are walked and every tensor's data skipped by its length, never read.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.sources.blobs import LocalFile
from paramcount.sources.onnx_proto import Graph, Node, TensorInfo, read_model
from paramcount.sources.regular import is_regular, size_of
from paramcount.sources.tensors import MAX_DIM, MAX_NUMEL, Tensor, summarize_tensors

#: TensorProto.DataType -> (PyTorch's dtype name, bits per element)
DTYPES: dict[int, tuple[str, int]] = {
    1: ("float32", 32), 2: ("uint8", 8), 3: ("int8", 8), 4: ("uint16", 16), 5: ("int16", 16),
    6: ("int32", 32), 7: ("int64", 64), 8: ("string", 0), 9: ("bool", 8), 10: ("float16", 16),
    11: ("float64", 64), 12: ("uint32", 32), 13: ("uint64", 64), 14: ("complex64", 64),
    15: ("complex128", 128), 16: ("bfloat16", 16), 17: ("float8_e4m3fn", 8),
    18: ("float8_e4m3fnuz", 8), 19: ("float8_e5m2", 8), 20: ("float8_e5m2fnuz", 8),
    21: ("uint4", 4), 22: ("int4", 4), 23: ("float4_e2m1", 4), 24: ("float8_e8m0fnu", 8),
    25: ("uint2", 2), 26: ("int2", 2), 27: ("float6_e2m3", 6), 28: ("float6_e3m2", 6),
}
_WEIGHT_DTYPES = {n for n, _ in DTYPES.values()
                  if n.startswith(("float", "bfloat", "complex")) or n in (
                      "int8", "uint8", "int4", "uint4", "int2", "uint2")}
#: operator -> input positions that take shapes, axes or indices rather than data
SHAPE_INPUTS: dict[str, frozenset[int]] = {
    op: frozenset(positions) for op, positions in {
        "Reshape": {1}, "Expand": {1}, "Tile": {1}, "Slice": {1, 2, 3, 4}, "Unsqueeze": {1},
        "Squeeze": {1}, "Resize": {1, 2, 3}, "Upsample": {1}, "Pad": {1, 2, 3},
        "ConstantOfShape": {0}, "Range": {0, 1, 2}, "TopK": {1}, "Split": {1},
        "OneHot": {1, 2}, "Gather": {1}, "GatherElements": {1}, "GatherND": {1},
        "ScatterND": {1}, "ScatterElements": {1}, "Trilu": {1}, "CumSum": {1},
        "ReduceSum": {1}, "ReduceMean": {1}, "ReduceMax": {1}, "ReduceMin": {1},
        "ReduceProd": {1}, "ReduceL1": {1}, "ReduceL2": {1}, "ReduceLogSumExp": {1},
        "ReduceSumSquare": {1}, "Clip": {1, 2}, "CenterCropPad": {1}, "DFT": {1, 2},
    }.items()}
_GENERATED = re.compile(r"^(_?val_\d+|onnx::|/|const|scalar|.*Constant)", re.IGNORECASE)
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


def load(path: Path, **options: Any) -> Summary:
    """The source protocol: an ``.onnx`` file (its tensors' data and external data unread)."""
    file = LocalFile(path, skips=True)
    size = file.size()
    model = read_model(file)
    if model.graph is None:
        raise SpecError(f"{path}: an ONNX model without a graph")
    walk = _Walk(path)
    walk.graph(model.graph, ())
    tensors, types = walk.tensors()
    producer = f"{model.producer_name} {model.producer_version}".strip()
    opset = next((v for domain, v in model.opset_import if domain in ("", "ai.onnx")), None)
    meta = {"format": "ONNX", "ir_version": model.ir_version, "producer": producer,
            "file_bytes": size, "bytes_read": model.bytes_read, "opset": opset,
            "constants": walk.constants}
    name = model.graph.name or path.stem
    notes = [f"Not counted: {walk.constants} constant tensor(s) (shapes, indices, scalars)"] \
        if walk.constants else []
    notes.append(f"Read {model.bytes_read:,} bytes of the graph; tensor data skipped unread")
    return summarize_tensors(tensors, name, str(path), meta=meta, types=types, notes=notes)


@dataclass
class _Value:
    """A stored tensor: an initializer or a Constant node's value."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    constant_node: bool = False
    uses: list[tuple[tuple[str, ...], str, int]] = field(default_factory=list)
    first_use: int | None = None


class _Walk:
    """Collects stored tensors and the nodes that use them, through subgraphs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, _Value] = {}
        self.types: dict[tuple[str, ...], str] = {}
        self.aliases: dict[str, str] = {}
        self.rows: set[tuple[str, ...]] = set()
        self.constants = 0
        self.seen_nodes = 0

    def graph(self, graph: Graph, prefix: tuple[str, ...]) -> None:
        for init in graph.initializer:
            self.add(_value(self.path, init, init.name))
        for sparse in graph.sparse_initializer:
            self.add(_value(self.path, sparse.values, sparse.values.name, sparse.dims))
        for i, node in enumerate(graph.node):
            self.node(node, i, prefix)

    def add(self, value: _Value) -> None:
        if value.name in self.values:
            raise SpecError(f"{self.path}: the initializer {quote(value.name)} is defined twice")
        self.values[value.name] = value

    def node(self, node: Node, i: int, prefix: tuple[str, ...]) -> None:
        op = node.op_type
        row = self.row(node, op, i, prefix)
        inputs, outputs = node.input, node.output
        if op == "Constant" and outputs:
            tensor = next((a.t for a in node.attribute if a.name == "value"
                           and a.t is not None), None)
            if tensor is not None:
                self.add(_value(self.path, tensor, outputs[0], constant_node=True))
        if op == "Identity" and inputs and outputs:
            source = self.aliases.get(inputs[0], inputs[0])
            if source in self.values:  # another name for a stored tensor, not a use of it
                self.aliases[outputs[0]] = source
                return
        for pos, name in enumerate(inputs):
            value = self.values.get(self.aliases.get(name, name))
            if value is not None:
                value.uses.append((row, op, pos))
                if value.first_use is None:
                    value.first_use = self.seen_nodes
        self.seen_nodes += 1
        for attr in node.attribute:
            for sub in ([attr.g] if attr.g is not None else []) + attr.graphs:
                self.graph(sub, row)

    def row(self, node: Node, op: str, i: int, prefix: tuple[str, ...]) -> tuple[str, ...]:
        """A node's place in the tree: its module path, then its own name."""
        label = node.name or f"{op}_{i}"
        scopes = _name_scopes(node)
        if scopes is not None:
            module = tuple(p for p in scopes.split(".") if p)
            path = (*prefix, *module, label)
        elif "/" in label:
            parts = [p for part in label.split("/") for p in part.split(".") if p]
            path = (*prefix, *parts)
        else:
            path = (*prefix, label)
        while path in self.rows:  # two nodes of one name: keep both rows
            path = (*path[:-1], path[-1] + "'")
        self.rows.add(path)
        self.types[path] = op
        return path

    def tensors(self) -> tuple[list[Tensor], dict[tuple[str, ...], str]]:
        out = []
        unused = len(self.values) + self.seen_nodes
        order = sorted(self.values.values(), key=lambda v: unused if v.first_use is None
                       else v.first_use)
        for value in order:
            if not _is_weight(value):
                self.constants += 1
                continue
            out += list(_records(value))
        return out, self.types


def _name_scopes(node: Node) -> str | None:
    """The module path torch.onnx (dynamo) recorded: ``['', 'layers.0', 'linear']``."""
    if node.name_scopes is None:
        return None
    try:
        scopes = ast.literal_eval(node.name_scopes)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(scopes, list) and len(scopes) >= 2 and all(isinstance(s, str) for s in scopes):
        return str(scopes[-2])
    return None


def _records(value: _Value) -> Iterator[Tensor]:
    key = ("onnx", value.name)
    if not value.uses:
        yield Tensor(value.name, value.shape, value.dtype, value.nbytes, key=key,
                     path=("(unused initializers)",), label=value.name)
        return
    _, op, pos = value.uses[0]
    buffer = op == "BatchNormalization" and pos in (3, 4)  # running statistics, as in PyTorch
    seen_rows = set()
    for n, (row, _, _) in enumerate(value.uses):
        if row in seen_rows:
            continue
        seen_rows.add(row)
        name = value.name if n == 0 else f"{'.'.join(row)}:{value.name}"
        yield Tensor(name, value.shape, value.dtype, value.nbytes, key=key, buffer=buffer,
                     path=row, label=value.name)


def _is_weight(value: _Value) -> bool:
    if value.dtype not in _WEIGHT_DTYPES:
        return False
    if value.uses and all(pos in SHAPE_INPUTS.get(op, ()) for _, op, pos in value.uses):
        return False
    numel = 1
    for d in value.shape:
        numel *= d
    if value.constant_node:
        return numel >= 2
    return bool(value.shape) or not _GENERATED.match(value.name)


def _value(path: Path, tensor: TensorInfo, name: str, dims: list[int] | None = None,
           constant_node: bool = False) -> _Value:
    where = f"{path}: tensor {quote(name)}"
    if tensor.data_type not in DTYPES:
        raise SpecError(f"{where}: unknown ONNX data type {tensor.data_type}")
    dtype, bits = DTYPES[tensor.data_type]
    shape = tuple(int(d) for d in (tensor.dims if dims is None else dims))
    if any(d < 0 or d > MAX_DIM for d in shape):
        raise SpecError(f"{where}: a dimension is negative or overflows: {list(shape)}")
    numel = 1
    for d in shape:
        numel *= d
    nbytes = -(-numel * bits // 8)
    if numel > MAX_NUMEL:
        raise SpecError(f"{where}: shape {list(shape)} has {numel} elements, more than any "
                        "file holds")
    if dims is None and tensor.raw_bytes and tensor.raw_bytes != nbytes and bits:
        raise SpecError(f"{where}: holds {tensor.raw_bytes} bytes, but shape {list(shape)} "
                        f"of {dtype} needs {nbytes}")
    if dims is None and tensor.data_location != _EXTERNAL and numel and not tensor.raw_bytes \
            and tensor.typed_bytes < numel * (bits > 0):  # a typed element takes a byte at least
        raise SpecError(f"{where}: shape {list(shape)} of {dtype}, but the file holds "
                        f"{'no data' if not tensor.typed_bytes else 'too little data'} for it")
    if tensor.data_location == _EXTERNAL:
        _check_external(path, tensor, where, nbytes)
    return _Value(name, shape, dtype, nbytes, constant_node)


def _check_external(path: Path, tensor: TensorInfo, where: str, nbytes: int) -> None:
    """The external file, when it is there, holds the bytes the entry points to (its size
    only: the file is never opened)."""
    info = dict(tensor.external_data)
    location = info.get("location", "")
    try:
        offset, length = int(info.get("offset", 0)), int(info.get("length", nbytes))
    except ValueError:
        raise SpecError(f"{where}: external data offset and length must be integers") from None
    if length < nbytes or offset < 0:
        raise SpecError(f"{where}: its external data is {length} bytes, its shape needs "
                        f"{nbytes}")
    file = path.parent / location
    if location and Path(location).name == location and is_regular(file) \
            and offset + length > size_of(file):
        raise SpecError(f"{where}: its external data [{offset}, {offset + length}] points "
                            f"outside {location}")
