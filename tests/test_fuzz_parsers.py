"""Fuzzing every reader for a fixed time: mutated real files and field-aware generated ones.

Each reader is a :class:`~fuzzing.Target`: seed files written by the real library (safetensors,
gguf, torch, onnx, numpy, h5py) or by hand from the format's definition, and field-aware
generators of headers. :func:`fuzzing.fuzz` mutates them for ``PARAMCOUNT_FUZZ_SECONDS``
(default 12) per reader, coverage-guided, in a child under a memory cap and a per-input alarm:
whatever the bytes, paramcount gives a summary or its own one-line error. These are ``slow``
tests (CI runs them); the fast loop reads every seed once and replays the kept regression
inputs.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import pickle
import shutil
import struct
import tempfile
import zipfile
from contextlib import suppress
from pathlib import Path

import numpy as np
import pytest
from fuzzing import Target, fuzz, mutations, read_one
from hypothesis import strategies as st

import paramcount

SECONDS = float(os.environ.get("PARAMCOUNT_FUZZ_SECONDS", 12))
WORK = Path(tempfile.mkdtemp(prefix="paramcount-fuzz-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
ZOO = Path(paramcount.__file__).parent / "zoo"


def file(name: str):
    """Place an input as one file called ``name``."""
    def place(folder: Path, data: bytes) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path
    return place


def beside(name: str, fixed: dict[str, bytes]):
    """Place an input as ``name`` in a folder beside fixed valid files; the folder is read."""
    def place(folder: Path, data: bytes) -> Path:
        root = folder / "model"
        if root.exists():
            shutil.rmtree(root)
        for rel, content in {**fixed, name: data}.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        return root
    return place


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




# -- the other readers: seeds written from each format's definition ------------------------------

def _shard() -> bytes:
    from hub_server import safetensors_file

    return safetensors_file({"a.weight": np.zeros((3, 4), np.float32),
                             "b.bias": np.zeros(4, np.float16)})


def _index() -> bytes:
    shard = "model-00001-of-00001.safetensors"
    return json.dumps({"metadata": {"total_size": 56},
                       "weight_map": {"a.weight": shard, "b.bias": shard}}).encode()


def _keras_config() -> bytes:
    from test_sources_keras_errors import GOOD

    return json.dumps(GOOD).encode()


def _keras_archive(config: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("config.json", config)
        z.writestr("metadata.json", b'{"keras_version": "3.6.0"}')
    return out.getvalue()


def _h5_seed() -> bytes:
    import h5py

    path = WORK / "seed.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = _keras_config().decode()
        f.attrs["keras_version"] = "2.15.0"
    return path.read_bytes()


def _gguf_arch_seed() -> bytes:
    from test_sources_gguf_arch import _llama, write_gguf

    from paramcount.sources.gguf_arch import __name__ as _  # noqa: F401 - the reader exists

    c, arch, meta, tensors = _llama()
    path = WORK / "arch.gguf"
    write_gguf(path, arch, {"context_length": 128, "embedding_length": c["hidden_size"],
                            "block_count": 2, "feed_forward_length": 128, "head_count": 4,
                            "head_count_kv": 2, **meta}, tensors)
    return path.read_bytes()


def _hf_configs() -> list[bytes]:
    return [(ZOO / f"{name}.json").read_bytes()
            for name in ("gpt2", "t5-small", "mixtral-8x7b", "deepseek-v3", "gemma-2-9b",
                         "whisper-tiny", "clip-vit-base-patch32")]


def _json_field(value: st.SearchStrategy[object], base: bytes, keys: list[str]
                ) -> st.SearchStrategy[bytes]:
    """``base`` (a JSON document) with one of ``keys`` set to a generated value."""
    doc = json.loads(base)
    return st.builds(lambda k, v: json.dumps({**doc, k: v}).encode(), st.sampled_from(keys),
                     value)


_VALUES = st.one_of(st.integers(-2, 2**70), st.sampled_from([10**9, 2**31, 0, -1]),
                    st.floats(), st.text(max_size=8), st.none(), st.booleans(),
                    st.lists(st.integers(-1, 64), max_size=4))


def _adapter_folder() -> dict[str, bytes]:
    from hub_server import safetensors_file

    return {"adapter_model.safetensors": safetensors_file({
        "base_model.model.fc.lora_A.weight": np.zeros((8, 30), np.float32),
        "base_model.model.fc.lora_B.weight": np.zeros((7, 8), np.float32)})}


_ADAPTER = json.dumps({"peft_type": "LORA", "r": 8, "lora_alpha": 16,
                       "target_modules": ["fc"], "base_model_name_or_path": None}).encode()
_PIPELINE = json.dumps({"_class_name": "StableDiffusionPipeline",
                        "text_encoder": ["transformers", "CLIPTextModel"],
                        "unet": ["diffusers", "UNet2DConditionModel"]}).encode()


def targets() -> dict[str, Target]:
    """Every reader, by name; built in the test (writing seeds imports torch, gguf, onnx)."""
    hf = _hf_configs()
    keras = _keras_config()
    out = {
        "safetensors": Target("safetensors", _safetensors_seeds(), file("fuzz.safetensors"), [
            st.builds(_safetensors_file, _header, st.integers(0, 256),
                      st.sampled_from([0, 0, 0, -1, 1, 2**62]))]),
        "safetensors index": Target("safetensors index", [_index()], beside(
            "model.safetensors.index.json",
            {"model-00001-of-00001.safetensors": _shard()})),
        "GGUF": Target("GGUF", _gguf_seeds(), file("fuzz.gguf"), [
            st.builds(_gguf_file, st.lists(_tensor, max_size=4), st.sampled_from([2, 3]),
                      st.integers(0, 2), st.integers(0, 512))]),
        "GGUF architecture": Target("GGUF architecture", [_gguf_arch_seed()], file("arch.gguf")),
        "ONNX": Target("ONNX", _onnx_seeds(), file("fuzz.onnx"), [
            st.builds(_onnx_file, st.lists(st.integers(-2**63, 2**63 - 1), max_size=4),
                      st.integers(0, 40), st.integers(0, 64),
                      st.none() | st.sampled_from(["w.bin", "../x", "seed.gguf"]))]),
        "PyTorch zip": Target("PyTorch zip", _ARCHIVES[:1], file("fuzz.pt"),
                              [st.builds(_rezip, mutations(_PICKLES))]),
        "PyTorch legacy": Target("PyTorch legacy", _ARCHIVES[1:], file("legacy.bin")),
        "NumPy .npy": Target("NumPy .npy", _numpy_seeds()[2:], file("fuzz.npy"), [
            st.builds(_npy_file, _npy_header | st.text(max_size=40), st.integers(0, 64))]),
        "NumPy .npz": Target("NumPy .npz", _numpy_seeds()[:2], file("fuzz.npz")),
        "Keras .keras": Target("Keras .keras", [_keras_archive(keras)], file("fuzz.keras"),
                               [st.builds(_keras_archive, mutations([keras]))]),
        "Keras .json": Target("Keras .json", [keras], file("keras_model.json")),
        "YAML/JSON spec": Target("YAML/JSON spec", [(ZOO / f"{n}.yaml").read_bytes() for n in (
            "vgg16", "gpt3", "mobilenetv2")], file("fuzz.yaml")),
        "HF config.json": Target("HF config.json", hf, beside("config.json", {}), [
            _json_field(_VALUES, hf[0], ["n_layer", "n_embd", "n_head", "vocab_size"]),
            _json_field(_VALUES, hf[2], ["num_hidden_layers", "num_local_experts",
                                         "num_key_value_heads", "sliding_window"])]),
        "PEFT adapter": Target("PEFT adapter", [_ADAPTER], beside("adapter_config.json",
                                                                  _adapter_folder()), [
            _json_field(_VALUES, _ADAPTER, ["r", "target_modules", "peft_type"])]),
        "diffusers model_index.json": Target(
            "diffusers model_index.json", [_PIPELINE], beside(
                "model_index.json", {"text_encoder/config.json": hf[6]})),
    }
    with suppress(ImportError):  # h5py is an optional extra
        out["Keras .h5"] = Target("Keras .h5", [_h5_seed()], file("fuzz.h5"))
    return out


READERS = ["safetensors", "safetensors index", "GGUF", "GGUF architecture", "ONNX",
           "PyTorch zip", "PyTorch legacy", "NumPy .npy", "NumPy .npz", "Keras .keras",
           "Keras .json", "Keras .h5", "YAML/JSON spec", "HF config.json", "PEFT adapter",
           "diffusers model_index.json"]


@pytest.fixture(scope="module")
def built() -> dict[str, Target]:
    return targets()


def _one(built: dict[str, Target], name: str) -> Target:
    if name not in built:
        pytest.skip(f"{name}: its library is not installed")
    return built[name]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", READERS)
def test_every_seed_is_read(built, name, tmp_path):
    """The fast loop: each reader's seeds are valid inputs it reads (or refuses) in one line."""
    t = _one(built, name)
    for data in t.seeds:
        assert read_one(t, tmp_path, data, seconds=120)  # the first imports transformers


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", READERS)
def test_fuzz(built, name, tmp_path):
    """PARAMCOUNT_FUZZ_SECONDS of coverage-guided mutations: a summary or paramcount's error."""
    report = fuzz(_one(built, name), SECONDS, tmp_path)
    print(f"{name}: {report}")
    assert report["inputs"] > 0


#: inputs fuzzing found that broke a reader, named "<reader> - <what>.<ext>", kept and replayed
REGRESSIONS = Path(__file__).parent / "fuzz_regressions"


@pytest.mark.parametrize("path", sorted(REGRESSIONS.iterdir()), ids=lambda p: p.stem)
def test_a_kept_input_is_one_line(built, path, tmp_path):
    """An escaped OSError from libhdf5 (a damaged global heap) was exit 3; now one line."""
    read_one(_one(built, path.stem.split(" - ")[0]), tmp_path, path.read_bytes())
