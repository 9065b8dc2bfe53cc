"""Fuzzing every checkpoint parser with hypothesis: damaged real files and generated headers.

Whatever the bytes, reading them either gives a summary or raises paramcount's own error (which
the CLI prints as one line, exit 2): never another exception, never a hang (each input runs
under a wall-clock alarm). 1,000 inputs per format, derandomized so that CI is repeatable.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import pickle
import shutil
import signal
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import paramcount
from paramcount.errors import ParamcountError

# PARAMCOUNT_FUZZ_EXAMPLES=50000 fuzzes longer, with a fresh random seed each run.
EXAMPLES = int(os.environ.get("PARAMCOUNT_FUZZ_EXAMPLES", 1000))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES == 1000,
                database=None, suppress_health_check=list(HealthCheck))
SECONDS_PER_INPUT = 5
WORK = Path(tempfile.mkdtemp(prefix="paramcount-fuzz-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    def hang(signum: int, frame: object) -> None:
        raise TimeoutError(f"an input took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def read(name: str, data: bytes) -> None:
    """Only ParamcountError may escape; anything else (or a hang) fails the test."""
    path = WORK / name
    path.write_bytes(data)
    with alarm(SECONDS_PER_INPUT), suppress(ParamcountError):
        paramcount.summarize(path)


def damaged(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """A real file cut short, with bytes overwritten, with bytes inserted, or random bytes."""
    seed = st.sampled_from(seeds)

    def flip(data: bytes, edits: list[tuple[int, int]]) -> bytes:
        out = bytearray(data)
        for pos, value in edits:
            out[pos % len(out)] = value
        return bytes(out)

    edits = st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 255)), min_size=1,
                     max_size=8)
    return st.one_of(
        st.builds(lambda d, n: d[:n], seed, st.integers(0, 4096)),
        st.builds(flip, seed, edits),
        st.builds(lambda d, at, extra: d[:at] + extra + d[at:], seed, st.integers(0, 512),
                  st.binary(min_size=1, max_size=64)),
        st.binary(max_size=256),
    )


# -- safetensors -------------------------------------------------------------------------------

def _safetensors_seeds() -> list[bytes]:
    import torch
    from safetensors.torch import save

    return [save({"a.weight": torch.zeros(3, 4), "a.bias": torch.zeros(4, dtype=torch.bfloat16),
                  "b.0.w": torch.zeros(2, dtype=torch.int64)}, metadata={"format": "pt"})]


_DTYPES = ["F32", "F16", "BF16", "I64", "U8", "BOOL", "F8_E4M3", "F4", "C64", "X"]
_entry = st.fixed_dictionaries({
    "dtype": st.sampled_from(_DTYPES),
    "shape": st.lists(st.one_of(st.integers(-3, 2**64), st.floats(), st.text(max_size=2)),
                      max_size=4),
    "data_offsets": st.lists(st.integers(-5, 2**40), min_size=0, max_size=3)})
_header = st.dictionaries(st.text(max_size=12), st.one_of(_entry, st.integers(), st.none()),
                          max_size=6)


def _safetensors_file(header: dict, data_len: int, length_delta: int) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", max(len(raw) + length_delta, 0)) + raw + bytes(data_len)


@settings(FUZZ)
@given(st.one_of(damaged(_safetensors_seeds()),
                 st.builds(_safetensors_file, _header, st.integers(0, 256),
                           st.sampled_from([0, 0, 0, -1, 1, 2**62]))))
def test_fuzz_safetensors(data):
    read("fuzz.safetensors", data)


# -- GGUF ----------------------------------------------------------------------------------------

def _gguf_seeds() -> list[bytes]:
    import gguf

    path = WORK / "seed.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(2)
    w.add_token_list(["a", "bb", "ccc"])
    w.add_array("test.nested", [[1, 2], [3]])
    w.add_tensor("blk.0.q.weight", np.zeros((2, 18), np.uint8),
                 raw_dtype=gguf.GGMLQuantizationType.Q4_0)
    w.add_tensor("blk.0.norm.weight", np.zeros(8, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return [path.read_bytes()]


def _gguf_file(tensors, version, n_kv, tail) -> bytes:
    from test_sources_gguf import gguf_bytes

    kv = [("general.alignment", 4, struct.pack("<I", 32))] * n_kv
    return gguf_bytes(tensors, kv=kv, version=version, data=tail)


_tensor = st.tuples(st.text(max_size=6), st.lists(st.integers(0, 2**64 - 1), max_size=5),
                    st.integers(0, 45), st.integers(0, 2**64 - 1) | st.sampled_from([0, 32, 64]))


@settings(FUZZ)
@given(st.one_of(damaged(_gguf_seeds()),
                 st.builds(_gguf_file, st.lists(_tensor, max_size=4), st.sampled_from([2, 3]),
                           st.integers(0, 2), st.integers(0, 512))))
def test_fuzz_gguf(data):
    read("fuzz.gguf", data)


# -- PyTorch -------------------------------------------------------------------------------------

def _torch_seeds() -> tuple[list[bytes], list[bytes]]:
    import torch

    state = {"fc.weight": torch.zeros(2, 3), "fc.bias": torch.zeros(2, dtype=torch.float16),
             "bn.running_mean": torch.zeros(2), "nested": [torch.zeros(1, dtype=torch.int8)]}
    archives, pickles = [], []
    for new in (True, False):
        buf = io.BytesIO()
        torch.save(state, buf, _use_new_zipfile_serialization=new)
        archives.append(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(archives[0])) as z:
        pickles.append(z.read(next(n for n in z.namelist() if n.endswith("data.pkl"))))
    pickles.append(pickle.dumps({"a": [1, 2.0, "x", b"y", (None, True)]}, protocol=4))
    return archives, pickles


_ARCHIVES, _PICKLES = _torch_seeds()


def _rezip(payload: bytes) -> bytes:
    """The first seed archive with its data.pkl replaced: fuzzes the unpickler itself."""
    source = zipfile.ZipFile(io.BytesIO(_ARCHIVES[0]))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in source.infolist():
            z.writestr(info.filename, payload if info.filename.endswith("data.pkl")
                       else source.read(info))
    return out.getvalue()


@settings(FUZZ)
@given(st.one_of(damaged(_ARCHIVES), st.builds(_rezip, damaged(_PICKLES))))
def test_fuzz_torch(data):
    read("fuzz.pt", data)


# -- ONNX ----------------------------------------------------------------------------------------

def _onnx_seeds() -> list[bytes]:
    import onnx
    from onnx import helper
    from test_sources_onnx import helper_graph
    from test_sources_onnx_stream import subgraphs_model

    model = helper.make_model(helper_graph(), opset_imports=[helper.make_opsetid("", 17)])
    return [onnx.ModelProto.SerializeToString(m) for m in (model, subgraphs_model())]


def _onnx_file(dims, data_type, raw_len, location) -> bytes:
    from onnx import TensorProto, helper

    tensor = TensorProto(name="w", data_type=data_type, raw_data=bytes(raw_len))
    tensor.dims.extend(dims)
    if location is not None:
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", "0"), ("length", str(raw_len))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="/a/MatMul")
    graph = helper.make_graph([node], "g", [], [], initializer=[tensor])
    return helper.make_model(graph).SerializeToString()


@pytest.mark.filterwarnings("ignore")
@settings(FUZZ)
@given(st.one_of(damaged(_onnx_seeds()),
                 st.builds(_onnx_file, st.lists(st.integers(-2**63, 2**63 - 1), max_size=4),
                           st.integers(0, 40), st.integers(0, 64),
                           st.none() | st.sampled_from(["w.bin", "../x", "seed.gguf"]))))
def test_fuzz_onnx(data):
    read("fuzz.onnx", data)


# -- NumPy ---------------------------------------------------------------------------------------

def _numpy_seeds() -> list[bytes]:
    seeds = []
    for save in (np.savez, np.savez_compressed):
        buf = io.BytesIO()
        save(buf, a=np.zeros((2, 3), np.float32), b=np.zeros(4, np.int8))
        seeds.append(buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 5), ">f8"))
    seeds.append(buf.getvalue())
    return seeds


def _npy_file(header: str, data: int) -> bytes:
    raw = header.encode()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw + bytes(data)


_npy_header = st.builds(
    lambda descr, order, shape: repr({"descr": descr, "fortran_order": order, "shape": shape}),
    st.sampled_from(["<f4", "|O", "<U3", "|V2", "<c16", "|b1", "<f", "x", "<i99"]),
    st.one_of(st.booleans(), st.integers()), st.lists(st.integers(-2, 2**63), max_size=3)
    .map(tuple))


@settings(FUZZ)
@given(st.one_of(damaged(_numpy_seeds()),
                 st.builds(_npy_file, _npy_header | st.text(max_size=40), st.integers(0, 64))))
def test_fuzz_numpy(data):
    name = "fuzz.npz" if data[:2] == b"PK" else "fuzz.npy"
    read(name, data)
