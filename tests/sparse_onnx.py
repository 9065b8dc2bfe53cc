"""ONNX files whose weights are holes: a model of hundreds of MB that costs no disk, for the
tests and the bench that count it from its graph alone (paramcount's reader skips tensor
data by its length, never reading it)."""

from __future__ import annotations

import os
from math import prod
from pathlib import Path
from typing import Any


def varint(n: int) -> bytes:
    """Protobuf's base-128 varint."""
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def write_sparse_onnx(path: Path, nodes: list[Any], weights: list[tuple[str, tuple[int, ...]]],
                      name: str = "graph") -> int:
    """The graph of ``nodes`` serialized by onnx, each float32 weight an initializer (field 5 of
    the graph) written as onnx writes it but for its raw_data (field 9), whose key and length
    are written and whose bytes are a hole. Returns the file's size."""
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, name, [], [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    graph_bytes = model.graph.SerializeToString()
    model.ClearField("graph")
    parts = []
    for tensor, shape in weights:
        n = prod(shape) * 4
        head = onnx.TensorProto(name=tensor, data_type=onnx.TensorProto.FLOAT,
                                dims=shape).SerializeToString() + varint(9 << 3 | 2) + varint(n)
        parts.append((varint(5 << 3 | 2) + varint(len(head) + n) + head, n))
    size = len(graph_bytes) + sum(len(h) + n for h, n in parts)
    with path.open("wb") as f:
        f.write(model.SerializeToString() + varint(7 << 3 | 2) + varint(size) + graph_bytes)
        for head, n in parts:
            f.write(head)
            f.seek(n, os.SEEK_CUR)  # a hole
        f.truncate(f.tell())
    return path.stat().st_size
