"""Hostile inputs (issue 14): only regular files inside what was named, zip bombs, the
unpickler's stand-ins, ONNX initializers without data, and the CLI's last line of defence.

Each file-level case runs the CLI in a child process under a 1 GiB address-space cap and a time
cap (tests/hostile.py), asserting the one line on stderr, the exit status, and that every file
the child opened lies inside the input's folder (an audit hook records each open). Expected
figures come from torch building the tensors, or from hand arithmetic written here.
"""

from __future__ import annotations

import base64
import os
import struct
import zipfile
from pathlib import Path

import pytest
from hostile import attack

import paramcount
from paramcount.cli import main
from paramcount.errors import SpecError

# -- only regular files ------------------------------------------------------------------------

SUFFIXES = ("yaml", "json", "onnx", "keras", "h5", "pt", "npz", "npy", "gguf", "safetensors")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_link_to_dev_zero_is_refused_before_it_is_read(tmp_path, suffix):
    (tmp_path / f"x.{suffix}").symlink_to("/dev/zero")
    line = attack([f"x.{suffix}"], tmp_path).one_line()
    assert line == f"paramcount: error: x.{suffix}: a device, not a regular file; only " \
                   "regular files are read"


@pytest.mark.parametrize("name", ["x.yaml", "x.pt", "x.safetensors", "x"])
def test_a_fifo_is_refused_without_blocking(tmp_path, name):
    os.mkfifo(tmp_path / name)
    outcome = attack([name], tmp_path, seconds=30)
    assert "a FIFO, not a regular file" in outcome.one_line()


def _safetensors(path: Path, shape: tuple[int, ...]) -> None:
    import json

    n = 4
    for d in shape:
        n *= d
    header = json.dumps({"w": {"dtype": "F32", "shape": list(shape),
                               "data_offsets": [0, n]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(n))


def test_a_folder_follows_no_link_out_of_itself(tmp_path):
    outside, folder = tmp_path / "outside", tmp_path / "in" / "model"
    outside.mkdir()
    folder.mkdir(parents=True)
    _safetensors(outside / "model.safetensors", (5, 5))
    (folder / "model.safetensors").symlink_to(outside / "model.safetensors")
    (folder / "sub").symlink_to(outside)
    line = attack(["model"], tmp_path / "in").one_line()
    assert line == "paramcount: error: model: no model files in this folder (no checkpoints, " \
                   "config.json or model.yaml)"


def test_a_folder_of_links_to_itself_ends(tmp_path):
    folder = tmp_path / "m"
    (folder / "a").mkdir(parents=True)
    _safetensors(folder / "a" / "model.safetensors", (3, 4))
    (folder / "loop").symlink_to(".")
    (folder / "a" / "up").symlink_to("..")
    (folder / "a" / "again").symlink_to("../a")
    os.mkfifo(folder / "a" / "pytorch_model.bin")  # not a regular file: not listed, not opened
    outcome = attack(["m", "--format", "json"], tmp_path)
    assert outcome.status == 0, outcome.stderr
    assert '"total_params": 12' in outcome.stdout  # 3 x 4, and the links add no model


def test_hdf5_external_link_is_refused(tmp_path):
    h5py = pytest.importorskip("h5py")
    os.mkfifo(tmp_path / "elsewhere.h5")  # followed, it would block
    with h5py.File(tmp_path / "x.weights.h5", "w") as f:
        f.create_dataset("layers/dense/vars/0", shape=(4, 2), dtype="f4")
        f["layers/dense/vars/1"] = h5py.ExternalLink(str(tmp_path / "elsewhere.h5"), "/w")
    line = attack(["x.weights.h5"], tmp_path, seconds=30).one_line()
    assert "'layers/dense/vars/1' is an external link to" in line
    assert line.endswith("links out of the file are not followed")


def test_hdf5_group_linked_into_itself_is_walked_once(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "x.weights.h5", "w") as f:
        f.create_dataset("layers/dense/vars/0", shape=(4, 2), dtype="f4")
        f.create_dataset("layers/dense/vars/1", shape=(2,), dtype="f4")
        f["layers/dense/vars/again"] = f["layers/dense/vars"]  # a hard link: a cycle
        f["layers/dense/self"] = f["layers/dense"]
    outcome = attack(["x.weights.h5", "--format", "json"], tmp_path)
    assert outcome.status == 0, outcome.stderr
    assert '"total_params": 10' in outcome.stdout  # 4 x 2 + 2, each once


# -- zip bombs ---------------------------------------------------------------------------------

#: 1 GiB of zeros, bzip2-compressed (785 bytes): a member that zipfile inflates without bound
GIB_OF_ZEROS = base64.b64decode(
    "QlpoOTFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakK"
    "gJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCX"
    "MUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFB"
    "WSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkm"
    "U1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZ"
    "Dgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J"
    "4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLf"
    "AV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFf"
    "jkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45A"
    "AMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADA"
    "AAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAA"
    "CCAAMIBNRkKgJakKgJcxQVkmU1lIfF/JAIpSyADAAAAEAAggADDMBSmmkSJDYUSJDxdyRThQkPaI5AI=")


def _zip_with(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_BZIP2,
              declared: int = 64) -> None:
    """A zip archive whose members hold ``members``' bytes as they are (already compressed),
    marked as compressed with ``method`` and declaring ``declared`` bytes each: the archive
    a bomb's author writes by hand."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    raw = bytearray(path.read_bytes())
    for signature, method_at, size_at in ((b"PK\x03\x04", 8, 22), (b"PK\x01\x02", 10, 24)):
        at = raw.find(signature)
        while at >= 0:
            struct.pack_into("<H", raw, at + method_at, method)
            struct.pack_into("<I", raw, at + size_at, declared)
            at = raw.find(signature, at + 4)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(("name", "member"), [("bomb.pt", "archive/data.pkl"),
                                              ("bomb.npz", "w.npy"),
                                              ("bomb.keras", "config.json")])
def test_a_bzip2_bomb_is_refused_before_it_inflates(tmp_path, name, member):
    _zip_with(tmp_path / name, {member: GIB_OF_ZEROS})
    assert (tmp_path / name).stat().st_size < 2000
    outcome = attack([name], tmp_path)
    assert outcome.one_line().endswith(f"member {member!r} is compressed with method 12; only "
                                       "stored and deflated members are read")
    assert outcome.peak < 300 * 2**20


def test_a_deflated_member_declaring_more_than_deflate_can_hold_is_refused(tmp_path):
    import zlib

    _zip_with(tmp_path / "x.npz", {"w.npy": zlib.compress(bytes(1000))[2:-4]},
              zipfile.ZIP_DEFLATED, declared=2**31)
    line = attack(["x.npz"], tmp_path).one_line()
    assert "member 'w.npy' declares 2147483648 bytes from" in line
    assert line.endswith("more than its bytes can hold (a zip bomb?); refused")


def test_a_member_past_the_end_of_the_archive_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "x.pt", "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", b"\x80\x02}.")
    raw = bytearray((tmp_path / "x.pt").read_bytes())
    at = raw.find(b"PK\x01\x02")
    struct.pack_into("<II", raw, at + 20, 2**31, 2**31)  # compressed and declared sizes
    (tmp_path / "x.pt").write_bytes(bytes(raw))
    line = attack(["x.pt"], tmp_path).one_line()
    assert "past the end of the" in line


# -- the unpickler's stand-ins -----------------------------------------------------------------

def _text(s: str) -> bytes:
    return b"X" + struct.pack("<I", len(s)) + s.encode()


def _int(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)


def _global(module: str, name: str) -> bytes:
    return f"c{module}\n{name}\n".encode()


def _build(obj: bytes, **state: bytes) -> bytes:
    """``obj`` then BUILD with the dict ``state``: the instruction that sets attributes."""
    items = b"".join(_text(k) + v for k, v in state.items())
    return obj + b"}(" + items + b"ub"


def _tensor(numel: int) -> bytes:
    """_rebuild_tensor_v2(storage '0' of ``numel`` floats, 0, (numel,), (1,), False, {})."""
    storage = b"(" + _text("storage") + _global("torch", "FloatStorage") + _text("0") \
        + _text("cpu") + _int(numel) + b"tQ"
    args = b"(" + storage + _int(0) + b"(" + _int(numel) + b"t(" + _int(1) + b"t\x89" \
        + _global("collections", "OrderedDict") + b")Rt"
    return _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def _checkpoint(path: Path, pickle_body: bytes, numel: int = 10) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", b"\x80\x02" + pickle_body + b".")
        z.writestr("archive/data/0", bytes(4 * numel))
    return path


POISONS = {
    # the storage type every later file's float tensors name, made int8
    "storage type": _build(_global("torch", "FloatStorage"), dtype=_text("int8")),
    # the dtype stand-in, renamed
    "dtype": _build(_global("torch", "float32"), name=_text("int8")),
    # a tensor's shape set after it was validated: -1000 parameters
    "tensor shape": b"}" + _text("w") + _build(_tensor(10), shape=b"(" + _int(-1000) + b"t")
    + b"s",
}


@pytest.fixture
def valid(tmp_path):
    """A checkpoint torch writes, and the figures torch gives for it."""
    torch = pytest.importorskip("torch")
    state = {"w": torch.zeros(3, 4), "b": torch.zeros(4, dtype=torch.float16)}
    torch.save(state, tmp_path / "valid.pt")
    params = sum(t.numel() for t in state.values())
    stored = sum(t.numel() * t.element_size() for t in state.values())
    return tmp_path / "valid.pt", params, stored


def _figures(path: Path) -> tuple[int, int]:
    summary = paramcount.summarize(path)
    return summary.total_params, summary.stored_bytes()


@pytest.mark.parametrize("poison", list(POISONS))
def test_a_poisoned_pickle_leaves_the_next_file_exact(tmp_path, valid, poison):
    path, params, stored = valid
    bad = _checkpoint(tmp_path / "bad.pt", POISONS[poison])
    with pytest.raises(SpecError, match="the pickle sets state on"):
        paramcount.summarize(bad)
    assert _figures(path) == (params, stored)


@pytest.mark.parametrize("poison", list(POISONS))
def test_a_poisoned_shard_or_diff_side_leaves_the_valid_one_exact(tmp_path, valid, poison,
                                                                  capsys):
    path, params, stored = valid
    folder = tmp_path / "shards"
    folder.mkdir()
    _checkpoint(folder / "pytorch_model-00001-of-00002.bin", POISONS[poison])
    (folder / "pytorch_model-00002-of-00002.bin").write_bytes(path.read_bytes())
    assert main([str(folder)]) == 2
    assert main(["diff", str(_checkpoint(tmp_path / "a.pt", POISONS[poison])), str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("the pickle sets state on" in line for line in err)
    assert _figures(path) == (params, stored)


def test_a_negative_count_is_an_error_line(tmp_path):
    bad = _checkpoint(tmp_path / "neg.pt", POISONS["tensor shape"])
    line = attack(["neg.pt"], tmp_path).one_line()
    assert line.startswith("paramcount: error: ") and "refused" in line
    assert "-1000" not in line.split("refused")[1]
    assert bad.exists()


def test_a_stride_0_tensor_claiming_2_to_the_80_elements_is_an_error_line(tmp_path):
    big = b"\x8a\x06" + (2**40).to_bytes(6, "little")  # LONG1: 2**40
    storage = b"(" + _text("storage") + _global("torch", "FloatStorage") + _text("0") \
        + _text("cpu") + _int(1) + b"tQ"
    args = b"(" + storage + _int(0) + b"(" + big + big + b"t(" + _int(0) + _int(0) + b"t\x89" \
        + _global("collections", "OrderedDict") + b")Rt"
    tensor = _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"
    _checkpoint(tmp_path / "huge.pt", b"}" + _text("w") + tensor + b"s", numel=1)
    line = attack(["huge.pt"], tmp_path).one_line()
    assert line == (f"paramcount: error: huge.pt: tensor 'w': shape [{2**40}, {2**40}] has "
                    f"{2**80} elements, more than any file holds")


def test_a_function_stand_in_takes_no_attributes(tmp_path, valid):
    path, params, stored = valid
    state = b"(N}(" + _text("__defaults__") + b"(\x89tut"  # (None, {...}): slot state
    bad = _checkpoint(tmp_path / "fn.pt", _global("torch._utils", "_rebuild_parameter") + state
                      + b"b")
    with pytest.raises(SpecError, match="the pickle sets state on Call"):
        paramcount.summarize(bad)
    assert _figures(path) == (params, stored)


# -- ONNX --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("dims", "message"), [
    ([2**40, 2**40, 2**44], "has 2^124 elements"),
    ([1024, 1024], "but the file holds no data for it"),
])
def test_an_onnx_initializer_without_its_data_is_an_error(tmp_path, dims, message):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=dims)
    graph = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [weight])
    onnx.save(helper.make_model(graph), tmp_path / "x.onnx")
    line = attack(["x.onnx"], tmp_path).one_line()
    expected = message.replace("2^124 elements", f"{2**124} elements")
    assert line.startswith("paramcount: error: x.onnx: tensor 'w': ")
    assert expected in line


# -- the last line of defence ------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["zoo:gpt2", "--depth", "-1"],
    ["memory", "zoo:gpt2", "--buffer-factor", "nan"],
    ["memory", "zoo:gpt2", "--buffer-factor", "inf"],
    ["layer", "Dense", "units=2", "--input-shape", "²"],
    ["layer", "Dense", "units=2", "--input-shape", "9" * 5000],
    ["layer", "Dense", "units=" + "9" * 5000, "--input-shape", "4"],
    ["layer", "Dense", "units=²", "--input-shape", "4"],
])
def test_bad_command_lines_are_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("paramcount: error: ") and len(err) < 400


def test_a_file_name_with_a_newline_is_one_line(tmp_path, capsys):
    path = tmp_path / "bad\nname.yaml"
    path.write_text("layers: 3\n")
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad\\nname.yaml" in err


def test_an_internal_error_is_one_line_with_its_own_status(monkeypatch, capsys):
    import paramcount.cli

    def broken(args):
        raise KeyError("a bug\nacross lines")

    monkeypatch.setattr(paramcount.cli, "run", broken)
    assert main(["model.pt"]) == paramcount.cli.INTERNAL_ERROR == 3
    err = capsys.readouterr().err
    assert err == ("paramcount: internal error while reading 'model.pt': KeyError: 'a bug\\n"
                   "across lines'; please report\n")


def test_recursion_is_one_line(monkeypatch, capsys):
    import paramcount.cli

    def deep(args):
        return deep(args)

    monkeypatch.setattr(paramcount.cli, "run", deep)
    assert main(["x.yaml"]) == 2
    assert capsys.readouterr().err == ("paramcount: error: 'x.yaml' is nested too deeply "
                                       "(RecursionError)\n")


def test_json_is_strict():
    from paramcount.report.text import json_text

    assert json_text({"a": 1.5}) == '{"a": 1.5}'
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(SpecError, match="NaN or infinity"):
            json_text({"a": [bad]})


@pytest.mark.parametrize("layer", [{"A" * 100_000: {"units": 2}},
                                   {"Dense": {"units": "u" * 100_000}}])
def test_a_long_value_is_quoted_short(tmp_path, capsys, layer):
    import json

    path = tmp_path / "x.json"
    path.write_text(json.dumps({"input_shape": [4], "layers": [layer]}))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) <= 2001


# -- the transformers fallback stays offline ---------------------------------------------------

_DETR = {"model_type": "detr", "architectures": ["DetrForObjectDetection"],
         "use_pretrained_backbone": True, "use_timm_backbone": False, "backbone": None,
         "backbone_config": {"model_type": "resnet", "depths": [1, 1, 1, 1],
                             "hidden_sizes": [8, 16, 32, 64], "embedding_size": 8,
                             "out_features": ["stage4"]},
         "d_model": 16, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
         "decoder_attention_heads": 2, "encoder_ffn_dim": 16, "decoder_ffn_dim": 16,
         "num_queries": 4}


def test_a_config_asking_for_a_pretrained_backbone_is_built_offline():
    """The conftest guard fails the test if anything reaches past the loopback."""
    pytest.importorskip("transformers")
    import torch
    import transformers

    fields = {k: v for k, v in _DETR.items() if k != "model_type"}
    config = transformers.AutoConfig.for_model("detr", **{**fields,
                                                          "use_pretrained_backbone": False})
    with torch.device("meta"):
        model = transformers.DetrForObjectDetection(config)
    assert paramcount.summarize(_DETR).total_params == sum(p.numel()
                                                           for p in model.parameters())
    with pytest.raises(SpecError, match="offline mode is enabled"):
        paramcount.summarize({**_DETR, "backbone": "microsoft/resnet-50",
                              "backbone_config": None})
