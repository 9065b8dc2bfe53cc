"""The parts of an ONNX file that a summary uses, read with :mod:`paramcount.sources.protobuf`.

ONNX is a protobuf ``ModelProto`` (field numbers from onnx/onnx.proto). Read here: the model's
IR version, producer, operator sets and graph; a graph's name, nodes, initializers and sparse
initializers; a node's type, name, inputs, outputs, attributes (a Constant's tensor, the
subgraphs of If, Loop and Scan) and the module path torch.onnx records in its metadata; a
tensor's name, dims, data type and where its data is. A tensor's data (``raw_data``,
``float_data``, ...) is skipped by its length, never read: the dims give the element count.
Everything else (inputs' types, doc strings, functions, training info) is skipped unread.

As protobuf does, the last value of a field given twice wins, repeated fields keep their order,
a message field given twice is the two merged, and a field of an unexpected wire type is an
unknown field, skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from paramcount.errors import SpecError
from paramcount.sources.blobs import Blob
from paramcount.sources.protobuf import LEN, VARINT, Reader, Span, signed

#: graphs inside graphs (an If's branches, a Loop's body) walked at most
MAX_SUBGRAPHS = 16
#: the node metadata key where torch.onnx (dynamo) records a node's module path
NAME_SCOPES = "pkg.torch.onnx.name_scopes"


@dataclass
class TensorInfo:
    """A ``TensorProto`` without its data: ``raw_bytes`` is the length of ``raw_data``,
    ``typed_bytes`` that of the typed fields (``float_data``, ``int64_data``, ...)."""

    name: str = ""
    dims: list[int] = field(default_factory=list)
    data_type: int = 0
    data_location: int = 0
    external_data: list[tuple[str, str]] = field(default_factory=list)
    raw_bytes: int = 0
    typed_bytes: int = field(default=0, compare=False)  # not a field of the message


#: TensorProto's typed data fields: float, int32, string, int64, double and uint64 data
_TYPED_DATA = frozenset({4, 5, 6, 7, 10, 11})


@dataclass
class SparseInfo:
    """A ``SparseTensorProto``: its values tensor and the dense shape."""

    values: TensorInfo
    dims: list[int]


@dataclass
class Attribute:
    name: str = ""
    t: TensorInfo | None = None
    g: Graph | None = None
    graphs: list[Graph] = field(default_factory=list)


@dataclass
class Node:
    op_type: str = ""
    name: str = ""
    input: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    attribute: list[Attribute] = field(default_factory=list)
    name_scopes: str | None = None  # the first NAME_SCOPES metadata value


@dataclass
class Graph:
    name: str = ""
    node: list[Node] = field(default_factory=list)
    initializer: list[TensorInfo] = field(default_factory=list)
    sparse_initializer: list[SparseInfo] = field(default_factory=list)


@dataclass
class Model:
    ir_version: int = 0
    producer_name: str = ""
    producer_version: str = ""
    opset_import: list[tuple[str, int]] = field(default_factory=list)
    graph: Graph | None = None
    bytes_read: int = 0


def read_model(file: Blob) -> Model:
    """The model in an ONNX file, its tensors' data left unread.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from paramcount.sources.blobs import LocalFile
    >>> with tempfile.TemporaryDirectory() as d:  # ir_version 8, a graph named "g"
    ...     p = Path(d) / "m.onnx"; _ = p.write_bytes(bytes([8, 8, 0x3A, 3, 0x12, 1]) + b"g")
    ...     m = read_model(LocalFile(p))
    ...     (m.ir_version, m.graph.name if m.graph else None)
    (8, 'g')
    """
    r = Reader(file, "ONNX model")
    model, graphs = Model(), []  # a message field given twice is read again, merged
    for number, wire, value in r.fields([r.whole()]):
        if wire == VARINT and number == 1:
            model.ir_version = signed(_int(value))
        elif wire == LEN and number in (2, 3):
            setattr(model, "producer_name" if number == 2 else "producer_version",
                    r.text(_span(value)))
        elif wire == LEN and number == 8:
            model.opset_import.append(_opset(r, _span(value)))
        elif wire == LEN and number == 7:  # read where it is; given again, read merged
            graphs.append(_span(value))
            model.graph = _graph(r, graphs, 0)
    model.bytes_read = r.bytes_read
    return model


def _int(value: int | Span) -> int:
    assert isinstance(value, int)
    return value


def _span(value: int | Span) -> Span:
    assert isinstance(value, Span)
    return value


def _opset(r: Reader, span: Span) -> tuple[str, int]:
    domain, version = "", 0
    for number, wire, value in r.fields([span]):
        if wire == LEN and number == 1:
            domain = r.text(_span(value))
        elif wire == VARINT and number == 2:
            version = signed(_int(value))
    return domain, version


def _graph(r: Reader, spans: Sequence[Span], depth: int) -> Graph:
    if depth > MAX_SUBGRAPHS:
        raise SpecError(f"{r.file.label}: subgraphs nested deeper than {MAX_SUBGRAPHS}")
    graph = Graph()
    for number, wire, value in r.fields(spans):
        if wire != LEN:
            continue
        if number == 1:
            graph.node.append(_node(r, _span(value), depth))
        elif number == 2:
            graph.name = r.text(_span(value))
        elif number == 5:
            graph.initializer.append(_tensor(r, [_span(value)]))
        elif number == 15:
            graph.sparse_initializer.append(_sparse(r, _span(value)))
    return graph


def _node(r: Reader, span: Span, depth: int) -> Node:
    node = Node()
    strings: dict[int, Callable[[str], None]] = {
        1: node.input.append, 2: node.output.append,
        3: lambda s: setattr(node, "name", s), 4: lambda s: setattr(node, "op_type", s)}
    for number, wire, value in r.fields([span]):
        if wire != LEN:
            continue
        if number in strings:
            strings[number](r.text(_span(value)))
        elif number == 5:
            node.attribute.append(_attribute(r, _span(value), depth))
        elif number == 9 and node.name_scopes is None:
            node.name_scopes = _entry_value(r, _span(value), NAME_SCOPES)
    return node


def _attribute(r: Reader, span: Span, depth: int) -> Attribute:
    attr, tensors, graphs = Attribute(), [], []
    for number, wire, value in r.fields([span]):
        if wire != LEN:
            continue
        if number == 1:
            attr.name = r.text(_span(value))
        elif number == 5:
            tensors.append(_span(value))
            attr.t = _tensor(r, tensors)
        elif number == 6:
            graphs.append(_span(value))
            attr.g = _graph(r, graphs, depth + 1)
        elif number == 11:
            attr.graphs.append(_graph(r, [_span(value)], depth + 1))
    return attr


def _entry_value(r: Reader, span: Span, key: str) -> str | None:
    """A ``StringStringEntryProto``'s value when its key is ``key`` (other values unread)."""
    found, text = "", None
    for number, wire, value in r.fields([span]):
        if wire == LEN and number == 1:
            found = r.text(_span(value))
        elif wire == LEN and number == 2:
            text = _span(value)
    if found != key:
        return None
    return r.text(text) if text is not None else ""


def _entry(r: Reader, span: Span) -> tuple[str, str]:
    key, text = "", ""
    for number, wire, value in r.fields([span]):
        if wire == LEN and number in (1, 2):
            if number == 1:
                key = r.text(_span(value))
            else:
                text = r.text(_span(value))
    return key, text


def _tensor(r: Reader, spans: Sequence[Span]) -> TensorInfo:
    t = TensorInfo()
    for number, wire, value in r.fields(spans):
        if number == 1:
            t.dims += _int64s(r, wire, value)
        elif wire == VARINT and number == 2:
            t.data_type = signed(_int(value), 32)
        elif wire == VARINT and number == 14:
            location = signed(_int(value), 32)
            if location in (0, 1):  # a proto2 enum: another value is an unknown field
                t.data_location = location
        elif wire == LEN and number == 8:
            t.name = r.text(_span(value))
        elif wire == LEN and number == 9:
            t.raw_bytes = len(_span(value))  # the data: skipped, its length kept
        elif number in _TYPED_DATA:
            t.typed_bytes += len(_span(value)) if wire == LEN else 1
        elif wire == LEN and number == 13:
            t.external_data.append(_entry(r, _span(value)))
    return t


def _sparse(r: Reader, span: Span) -> SparseInfo:
    values, sparse = [], SparseInfo(TensorInfo(), [])
    for number, wire, value in r.fields([span]):
        if wire == LEN and number == 1:
            values.append(_span(value))
            sparse.values = _tensor(r, values)
        elif number == 3:
            sparse.dims += _int64s(r, wire, value)
    return sparse


def _int64s(r: Reader, wire: int, value: int | Span) -> Iterator[int]:
    """A repeated int64 field's numbers: one, or a packed array of them."""
    if wire == VARINT:
        yield signed(_int(value))
    elif wire == LEN:
        yield from (signed(v) for v in r.varints(_span(value)))
