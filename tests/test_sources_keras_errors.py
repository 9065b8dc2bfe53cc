"""Bad Keras files and configs: one clear line naming the file and what is wrong, exit status 2,
nothing written to standard output. Every error message of the Keras source is produced here."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from paramcount.cli import main
from paramcount.errors import ParamcountError, ShapeError, SpecError
from paramcount.sources.keras import files as keras_source


def _input(name: str, shape: list[Any]) -> dict[str, Any]:
    return {"class_name": "InputLayer", "name": name, "inbound_nodes": [],
            "config": {"batch_input_shape": [None, *shape], "name": name}}


def _dense(name: str, units: int, *sources: str) -> dict[str, Any]:
    return {"class_name": "Dense", "name": name, "config": {"name": name, "units": units},
            "inbound_nodes": [[[s, 0, 0, {}] for s in sources]]}


def functional(*layers: dict[str, Any], inputs: Any = None, outputs: Any = None) -> dict:
    return {"class_name": "Functional", "config": {
        "name": "m", "layers": list(layers),
        "input_layers": inputs if inputs is not None else [["x", 0, 0]],
        "output_layers": outputs if outputs is not None else [[layers[-1]["name"], 0, 0]]}}


GOOD = functional(_input("x", [4]), _dense("d", 2, "x"))


def test_good_config_is_counted():
    assert keras_source.from_dict(GOOD).total_params == (4 + 1) * 2


def _cli_error(path: Path, capsys: Any) -> str:
    assert main([str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paramcount: error: ")
    return lines[0]


# -- configs -----------------------------------------------------------------------------------

def _bad(doc: Any, message: str, error: type[ParamcountError] = SpecError) -> None:
    with pytest.raises(error, match=message):
        keras_source.from_dict(doc)


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize("doc, message", [
    ([1, 2], "a Keras model config must be a JSON object"),
    ({"class_name": "Dense", "config": {"units": 2}},
     "class 'Dense' is not a Keras Sequential or Functional model config"),
    ({"class_name": "Sequential", "config": {"name": "s"}},
     r"a Sequential config needs a `layers` list"),
    (_set(GOOD, ("config", "layers", 1), {"config": {}}),
     r"layers\[1\]: expected a layer with `class_name` and `config`"),
    (_set(GOOD, ("config", "layers", 1, "config"), [1]), r"`config` must be an object"),
    (_set(GOOD, ("config", "layers", 1, "name"), 7), "the layer name must be a string"),
    (_set(GOOD, ("config", "layers", 1, "inbound_nodes"), "x"),
     r"`inbound_nodes` must be a list"),
    (_set(GOOD, ("config", "layers", 1, "name"), "x"), "the layer name 'x' is used twice"),
    (_set(GOOD, ("config", "layers", 0, "config", "batch_input_shape"), [None, "4"]),
     "is not a shape"),
    (_set(GOOD, ("config", "layers", 0, "config"), {"name": "x"}),
     "input 'x' declares no shape"),
    (_set(GOOD, ("config", "layers", 1, "inbound_nodes"), [7]),
     "an inbound node must be a list or an object"),
    (_set(GOOD, ("config", "layers", 1, "inbound_nodes"),
          [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [1]}}]}]),
     "a tensor without a valid keras_history"),
    (_set(GOOD, ("config", "layers", 1, "inbound_nodes"), [[["x", 0]]]),
     "cannot read the inbound node entry"),
    (_set(GOOD, ("config", "output_layers"), 5), "output_layers: cannot read 5"),
    (functional(_input("x", [4]), _dense("d", 2, "missing")),
     "layer 'd' is called on the output of 'missing', which is not a layer of this model"),
    (_set(GOOD, ("config", "output_layers"), [["nowhere", 0, 0]]),
     "output_layers names 'nowhere', which is not a layer of this model"),
    (functional(_input("x", [4]), {**_dense("d", 2, "x"), "inbound_nodes": [[["x", 1, 0, {}]]]}),
     "layer 'd' uses call 1 of 'x', which is called 1 time"),
    (functional(_input("x", [4]), _dense("a", 2, "b"), _dense("b", 2, "a")),
     "the layers 'a', 'b' wait on each other's outputs: the graph has a cycle"),
    ({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}},
     "Sequential model 's' has no input shape: it was never built"),
])
def test_bad_configs(doc, message):
    _bad(doc, message)


def test_a_layer_that_does_not_fit_its_input_names_the_layer():
    doc = functional(_input("x", [2, 2, 3]), {
        "class_name": "Conv2D", "name": "conv", "config": {"name": "conv", "filters": 2,
                                                          "kernel_size": 3},
        "inbound_nodes": [[["x", 0, 0, {}]]]})
    _bad(doc, r"layer 'conv' \(Conv2D\) with input shape \(None, 2, 2, 3\)", ShapeError)


def test_operands_that_do_not_broadcast():
    doc = functional(_input("x", [4]), _input("y", [3]), {
        "module": "keras.src.ops.numpy", "class_name": "Add", "name": "add",
        "config": {"name": "add"}, "inbound_nodes": [{"args": [
            {"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}},
            {"class_name": "__keras_tensor__", "config": {"keras_history": ["y", 0, 0]}}],
            "kwargs": {}}]}, inputs=[["x", 0, 0], ["y", 0, 0]])
    _bad(doc, "do not broadcast", ShapeError)


def test_nested_model_called_on_shapes_that_need_other_weights():
    inner = {"class_name": "Sequential", "name": "inner", "config": {"name": "inner", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": "i"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]},
        "inbound_nodes": [[["x", 0, 0, {}]]]}
    _bad(functional(_input("x", [5]), inner), "nested model 'inner' is called on", ShapeError)


def test_models_nested_too_deep():
    doc: dict[str, Any] = {"class_name": "Sequential", "config": {"name": "s0", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4]}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
    for i in range(1, 70):
        doc = {"class_name": "Sequential", "config": {"name": f"s{i}", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4]}}, doc]}}
    _bad(doc, r"models nested: 65 levels, over the limit of 64 \(--max-depth raises it\)")


def test_pytorch_convention_does_not_apply():
    with pytest.raises(SpecError, match="counted in Keras's convention"):
        keras_source.from_dict(GOOD, framework="pytorch")


# -- files -------------------------------------------------------------------------------------

def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_not_a_zip(tmp_path, capsys):
    path = tmp_path / "m.keras"
    path.write_bytes(b"this is not a zip file")
    assert "m.keras: not a .keras archive (a zip file)" in _cli_error(path, capsys)


def test_truncated_zip(tmp_path, capsys):
    path = _zip(tmp_path / "m.keras", {"config.json": json.dumps(GOOD).encode()})
    path.write_bytes(path.read_bytes()[:40])
    assert "not a .keras archive" in _cli_error(path, capsys)


def test_zip_without_config(tmp_path, capsys):
    path = _zip(tmp_path / "m.keras", {"metadata.json": b"{}"})
    assert "the archive has no config.json: not a Keras model" in _cli_error(path, capsys)


def test_config_that_is_not_json(tmp_path, capsys):
    path = _zip(tmp_path / "m.keras", {"config.json": b"{not json"})
    assert "config.json is not valid JSON" in _cli_error(path, capsys)


def test_config_that_is_not_a_model(tmp_path, capsys):
    path = _zip(tmp_path / "m.keras", {"config.json": b'{"class_name": "Dense", "config": {}}'})
    line = _cli_error(path, capsys)
    assert "class 'Dense' is not a Keras Sequential or Functional model config" in line
    assert "the archive has no model.weights.h5 to count instead" in line


def test_corrupt_config_member(tmp_path, capsys):
    data = json.dumps(GOOD).encode()
    path = _zip(tmp_path / "m.keras", {"config.json": data})
    raw = bytearray(path.read_bytes())
    at = raw.index(data)
    raw[at + 5] ^= 0xFF  # the CRC no longer matches
    path.write_bytes(bytes(raw))
    assert "cannot read config.json from the archive" in _cli_error(path, capsys)


def test_config_that_inflates_beyond_the_bound_is_refused(tmp_path, capsys):
    from paramcount.budget import Limits

    bomb = b"[" + b" " * (Limits().read_bytes + 10) + b"]"
    path = _zip(tmp_path / "bomb.keras", {"config.json": bomb}, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**20
    line = _cli_error(path, capsys)
    assert "config.json declares" in line and "(--max-read raises it)" in line


def test_corrupt_weights_entry_is_reported_when_needed(tmp_path, capsys):
    doc = functional(_input("x", [4]), {
        "class_name": "MyLayer", "module": "my.layers", "name": "mine",
        "config": {"name": "mine"}, "inbound_nodes": [[["x", 0, 0, {}]]]})
    path = _zip(tmp_path / "m.keras", {"config.json": json.dumps(doc).encode(),
                                       "model.weights.h5": b"\x89HDF" + b"\0" * 100})
    raw = bytearray(path.read_bytes())
    at = raw.index(b"PK\x03\x04", raw.index(b"PK\x03\x04") + 4)  # the weights entry
    raw[at:at + 4] = b"XXXX"
    path.write_bytes(bytes(raw))
    assert "the archive's entry for model.weights.h5 is corrupt" in _cli_error(path, capsys)


def test_unreadable_weights_file(tmp_path, capsys):
    doc = functional(_input("x", [4]), {
        "class_name": "MyLayer", "module": "my.layers", "name": "mine",
        "config": {"name": "mine"}, "inbound_nodes": [[["x", 0, 0, {}]]]})
    path = _zip(tmp_path / "m.keras", {"config.json": json.dumps(doc).encode(),
                                       "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 64})
    assert "model.weights.h5: not a readable HDF5 file" in _cli_error(path, capsys)


def test_missing_files(tmp_path):
    for name in ("gone.keras", "gone.h5"):
        with pytest.raises(SpecError, match="no such file"):
            keras_source.load(tmp_path / name)


def _h5(path: Path, attrs: dict[str, Any], groups: tuple[str, ...] = ()) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        for g in groups:
            f.create_group(g)
    return path


def test_truncated_h5(tmp_path, capsys):
    path = _h5(tmp_path / "m.h5", {"model_config": json.dumps(GOOD)})
    path.write_bytes(path.read_bytes()[:100])
    assert "m.h5: not a readable HDF5 file" in _cli_error(path, capsys)


def test_h5_without_model_config(tmp_path, capsys):
    path = _h5(tmp_path / "m.h5", {"something": 1}, groups=("data",))
    assert "without a Keras model_config attribute or Keras weights" in _cli_error(path, capsys)


@pytest.mark.parametrize("config, message", [
    ("{not json", "the model_config attribute is not valid JSON"),
    ("[1, 2]", "the model_config attribute is not a JSON object"),
])
def test_bad_model_config_attribute(config, message, tmp_path, capsys):
    path = _h5(tmp_path / "m.h5", {"model_config": config})
    assert message in _cli_error(path, capsys)


def test_model_config_attribute_too_large(tmp_path, capsys):
    path = _h5(tmp_path / "m.h5", {"model_config": json.dumps(GOOD)})
    assert main([str(path), "--max-read", "10"]) == 2
    line = capsys.readouterr().err.strip()
    assert "the model_config attribute" in line and "(--max-read raises it)" in line


def test_h5py_missing_names_the_extra(tmp_path, monkeypatch):
    import sys

    path = _h5(tmp_path / "m.h5", {"model_config": json.dumps(GOOD)})
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(SpecError, match=r"needs h5py: pip install paramcount\[h5\]"):
        keras_source.load(path)


def test_json_that_is_not_a_keras_model(tmp_path, capsys):
    path = tmp_path / "layer.json"
    path.write_text(json.dumps({"class_name": "Dense", "config": {"units": 2}}))
    line = _cli_error(path, capsys)
    assert "layer.json: class 'Dense' is not a Keras Sequential or Functional model" in line


def test_errors_name_the_file_once(tmp_path, capsys):
    path = tmp_path / "cycle.json"
    path.write_text(json.dumps(functional(_input("x", [4]), _dense("a", 2, "b"),
                                          _dense("b", 2, "a"))))
    line = _cli_error(path, capsys)
    assert line.count("cycle.json") == 1 and "the graph has a cycle" in line
