"""ONNX models built with onnx.helper and exported with torch.onnx: parameters are the stored
weight tensors, each counted once; counts equal PyTorch's; external data is never loaded."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import paramcount
from paramcount.cli import main
from paramcount.errors import SpecError


def init(name: str, shape, dtype=np.float32) -> TensorProto:
    return numpy_helper.from_array(np.random.rand(*shape).astype(dtype), name)


def save(graph, path, **kw) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(path), **kw)


def helper_graph():
    """Conv -> Reshape -> Gemm, a MatMul sharing the Gemm's weight, a Constant holding a
    weight matrix and a Constant holding a shape."""
    nodes = [
        helper.make_node("Conv", ["x", "conv.w", "conv.b"], ["c"], name="/conv/Conv"),
        helper.make_node("Constant", [], ["shape"], name="shape_const",
                         value=numpy_helper.from_array(np.array([1, -1], np.int64))),
        helper.make_node("Reshape", ["c", "shape"], ["r"], name="/Reshape"),
        helper.make_node("Gemm", ["r", "fc.w", "fc.b"], ["g"], name="/fc/Gemm", transB=1),
        helper.make_node("MatMul", ["g", "fc.w"], ["m"], name="/again/MatMul"),
        helper.make_node("Constant", [], ["proj.w"], name="proj_const",
                         value=numpy_helper.from_array(np.ones((4, 3), np.float32))),
        helper.make_node("MatMul", ["m", "proj.w"], ["y"], name="/proj/MatMul"),
        helper.make_node("Reshape", ["y", "shape2"], ["z"], name="/Reshape_1"),
    ]
    inits = [init("conv.w", (4, 1, 3, 3)), init("conv.b", (4,)), init("fc.w", (4, 4)),
             init("fc.b", (4,)), numpy_helper.from_array(np.array([1, 3], np.int64), "shape2")]
    return helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 3, 3])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 3])], initializer=inits)


def test_helper_graph_by_hand(tmp_path):
    path = tmp_path / "g.onnx"
    save(helper_graph(), path)
    s = paramcount.summarize(path)
    # conv 4·1·3·3 + 4, fc 4·4 + 4 (shared with the MatMul: once), the Constant matrix 4·3
    assert s.total_params == 36 + 4 + 16 + 4 + 12
    assert s.meta["constants"] == 2  # the two shapes
    assert s.meta["tied"] == {"again.MatMul:fc.w": "fc.w"}
    again = next(n for n in s.layers if n.name == "again").children[0]
    assert (again.type, [t.owner for t in again.tied]) == ("MatMul", ["fc.w"])
    conv = next(n for n in s.layers if n.name == "conv").children[0]
    assert conv.type == "Conv" and conv.params == 40


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(8, 8) for _ in range(3))
        self.shared = torch.nn.Linear(8, 8)
        self.norm = torch.nn.BatchNorm1d(8)
        self.head = torch.nn.Linear(8, 5)

    def forward(self, x):
        h = self.conv(x).mean(dim=(2, 3))
        for block in self.blocks:
            h = torch.relu(block(h))
        h = self.shared(self.shared(h))  # one layer called twice: one set of weights
        return self.head(self.norm(h) / 3.0)


def randomized(model: torch.nn.Module) -> torch.nn.Module:
    # Exporters merge initializers of equal value; trained weights are never equal.
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) + 0.5)
    return model.eval()


@pytest.mark.parametrize("dynamo", [True, False])
def test_torch_export_equals_pytorch_parameters(tmp_path, dynamo):
    model = randomized(Net())
    path = tmp_path / "net.onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        torch.onnx.export(model, (torch.rand(2, 3, 6, 6),), str(path), dynamo=dynamo)
    s = paramcount.summarize(path)
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.buffers == model.norm.running_mean.numel() + model.norm.running_var.numel()


def test_external_data_is_never_loaded(tmp_path):
    path = tmp_path / "ext.onnx"
    graph = helper_graph()
    save(graph, path, save_as_external_data=True, all_tensors_to_one_file=True,
         location="ext.data", size_threshold=0)
    expected = paramcount.summarize(path).total_params
    (tmp_path / "ext.data").unlink()  # not needed to count
    assert paramcount.summarize(path).total_params == expected == 72
    (tmp_path / "ext.data").write_bytes(b"short")
    with pytest.raises(SpecError, match=r"points outside ext\.data"):
        paramcount.summarize(path)


def _graph_with(tensor: TensorProto) -> onnx.GraphProto:
    node = helper.make_node("MatMul", ["x", tensor.name], ["y"])
    return helper.make_graph([node], "g", [], [], initializer=[tensor])


def test_bad_files_give_one_line_and_exit_2(tmp_path, capsys):
    negative = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    negative.dims[0] = -2
    short = init("w", (3, 3))
    short.raw_data = short.raw_data[:8]
    unknown = init("w", (2,))
    unknown.data_type = 99
    cases = {
        "junk": (b"not a protobuf \xff\xff\xff", "not a readable ONNX model"),
        "negative": (negative, "a dimension is negative or overflows"),
        "short": (short, "holds 8 bytes, but shape [3, 3] of float32 needs 36"),
        "unknown": (unknown, "unknown ONNX data type 99"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.onnx"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(helper.make_model(_graph_with(content)).SerializeToString())
        assert main([str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_duplicate_initializers_and_missing_graph(tmp_path):
    graph = helper.make_graph([], "g", [], [], initializer=[init("w", (2,)), init("w", (2,))])
    path = tmp_path / "dup.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    with pytest.raises(SpecError, match="'w' is defined twice"):
        paramcount.summarize(path)
    path.write_bytes(onnx.ModelProto(ir_version=8).SerializeToString())
    with pytest.raises(SpecError, match="without a graph"):
        paramcount.summarize(path)
