"""Quantized checkpoints that the real libraries write on CPU (bitsandbytes, optimum-quanto,
torchao, compressed-tensors) count as the model they encode.

Oracles: ``sum(p.numel())`` of the model before the library quantized it (tests/
quant_writers.py); the bytes of every tensor in the saved files, read back with
``safetensors.safe_open``; the bookkeeping tensors picked out by the names each library gives
them (listed below from its own source), and the bits and group size from the
``quantization_config`` (or quanto's ``quanto_qmap.json``) the library wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import paramcount
from paramcount.cli import main

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
safetensors = pytest.importorskip("safetensors")
from tests import quant_writers  # noqa: E402  (needs transformers)

# The tensors each library writes beside a quantized weight, by the end of their names: the
# library's own vocabulary (bitsandbytes' QuantState.as_dict and Int8Params' SCB and
# weight_format; quanto's QTensor inner tensors and QModuleMixin's activation scales;
# torchao's tensor-subclass attributes; compressed-tensors' compression_param_names).
BOOKKEEPING = {
    "bitsandbytes": (".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
                     ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4",
                     ".SCB", ".weight_format"),
    "quanto": ("._scale", "._shift", ".input_scale", ".output_scale"),
    "torchao": ("_weight_scale", "_weight_zero_point"),
    "compressed-tensors": (".weight_scale", ".weight_zero_point", ".weight_shape",
                           ".weight_global_scale", ".input_scale"),
}
SCHEMES = {
    "bitsandbytes": ("nf4", "fp4", "nf4-double", "int8"),
    "quanto": ("qint8", "qint4", "qint2", "qfloat8"),
    "torchao": ("int8", "int8-dynamic", "int4", "float8"),
    "compressed-tensors": ("W4A16", "W4A16_ASYM", "W8A8", "FP8", "FP8_DYNAMIC", "NVFP4A16",
                           "MXFP4A16"),
}


def _cases():
    """Every scheme on Llama, each library's first on Gemma (tied embeddings) and Mixtral
    (experts) in the fast suite; the rest of the matrix slow."""
    for library, schemes in SCHEMES.items():
        for scheme in schemes:
            for family in quant_writers.FAMILIES:
                fast = family == "llama" or (scheme == schemes[0] and
                                             family in ("gemma", "mixtral"))
                marks = () if fast else (pytest.mark.slow,)
                yield pytest.param(library, scheme, family, marks=marks,
                                   id=f"{library}-{scheme}-{family}")


@pytest.fixture(scope="session")
def written(tmp_path_factory):
    """Writes a case on first use; the unquantized folders are shared by every library."""
    root, cache = tmp_path_factory.mktemp("quantized"), {}

    def get(library: str, scheme: str, family: str) -> quant_writers.Written:
        pytest.importorskip(quant_writers.MODULES[library])
        key = (library, scheme, family)
        if key not in cache:
            cache[key] = quant_writers.write(library, scheme, family, root)
        return cache[key]
    return get


def tensor_bytes(folder: Path) -> dict[str, int]:
    """Every tensor's bytes in the folder's safetensors files, as safetensors reads them."""
    out = {}
    for file in sorted(folder.glob("*.safetensors")):
        with safetensors.safe_open(file, "pt") as f:
            for name in f.keys():  # noqa: SIM118  (safe_open is not iterable)
                out[name] = f.get_tensor(name).nbytes
    return out


def expected_bits_and_group(library: str, scheme: str, config: dict) -> tuple[int, int | None]:
    """What the library's own config file says: bits, and group size (None: per row or per
    tensor)."""
    if library == "bitsandbytes":  # 4-bit: one absmax per block of 64 (its default blocksize)
        return (4, 64) if config["load_in_4bit"] else (8, None)
    if library == "quanto":  # per module; every module the same here
        weights = {m["weights"] for m in config.values()}
        assert len(weights) == 1
        return {"qint8": 8, "qint4": 4, "qint2": 2, "qfloat8_e4m3fn": 8}[weights.pop()], None
    if library == "torchao":
        quant = config["quant_type"]["default"]["_data"]
        dtype = quant.get("weight_dtype", {}).get("_data", "int8")
        granularity = quant.get("granularity") or quant.get("weight_granularity") or {}
        return {"int4": 4}.get(dtype, 8), granularity.get("_data", {}).get("group_size")
    weights = config["config_groups"]["group_0"]["weights"]
    return weights["num_bits"], weights["group_size"]


@pytest.mark.parametrize(("library", "scheme", "family"), _cases())
def test_total_is_the_unquantized_model(written, library, scheme, family):
    w = written(library, scheme, family)
    s = paramcount.summarize(w.folder)
    assert s.total_params == w.params
    stored = tensor_bytes(w.folder)
    # Mixtral's tree is its config's, whose fused experts the checkpoint stores one by one:
    # no stored bytes to carry over, quantized or not
    assert s.stored_bytes() == (None if family == "mixtral" else sum(stored.values()))
    q = s.to_dict()["quantization"]
    bookkeeping = sum(b for n, b in stored.items() if n.endswith(BOOKKEEPING[library]))
    assert q["bookkeeping_bytes"] == bookkeeping
    assert q["scheme"] == library
    assert (q["bits"], q["group_size"]) == expected_bits_and_group(library, scheme, w.config)


@pytest.mark.parametrize("library", sorted(SCHEMES))
def test_the_cli_json_says_the_same(written, capsys, library):
    w = written(library, SCHEMES[library][0], "llama")
    capsys.readouterr()  # what the library printed while writing
    assert main([str(w.folder), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total_params"] == w.params
    stored = tensor_bytes(w.folder)
    assert doc["quantization"]["bookkeeping_bytes"] == sum(
        b for n, b in stored.items() if n.endswith(BOOKKEEPING[library]))


@pytest.mark.parametrize("weights", ["qint4", "qint2", "qint8"])
def test_quanto_grouped_weights_count_out_times_in(tmp_path, weights):
    """quanto groups a 4- or 2-bit weight by 128 inputs ([257, 384] is stored as 771 rows of
    128, packed to 386 or 193 byte rows): a bare file, its scheme guessed from the names."""
    quanto = pytest.importorskip("optimum.quanto")
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(384, 257), torch.nn.Linear(257, 96))
    params = sum(p.numel() for p in model.parameters())
    quanto.quantize(model, weights=getattr(quanto, weights))
    quanto.freeze(model)
    save_file(dict(model.state_dict()), tmp_path / "model.safetensors")
    s = paramcount.summarize(tmp_path / "model.safetensors")
    assert s.total_params == params
    q = s.to_dict()["quantization"]
    assert (q["scheme"], q["detected_from"], q["quantized_tensors"]) == (
        "quanto", "tensor names", 2)
    assert q["bits"] == int(weights[-1])


def test_the_issue_tiny_llama_in_nf4_counts_as_unquantized(tmp_path, monkeypatch):
    """The issue's example: a tiny Llama of 202,048 parameters read as 167,658 in nf4."""
    pytest.importorskip("bitsandbytes")
    monkeypatch.setitem(quant_writers.FAMILIES, "llama-1000", lambda: transformers.LlamaConfig(
        **{**quant_writers.TINY, "vocab_size": 1000}))
    w = quant_writers.write("bitsandbytes", "nf4", "llama-1000", tmp_path)
    assert w.params == 202_048
    assert paramcount.summarize(w.folder).total_params == 202_048


README_EXAMPLES = [("bitsandbytes", "nf4"), ("quanto", "qint4"), ("torchao", "int4"),
                   ("compressed-tensors", "W8A8")]


def test_the_readme_examples_are_what_paramcount_prints(written):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for library, scheme in README_EXAMPLES:
        w = written(library, scheme, "llama")
        s = paramcount.summarize(w.folder)
        assert f"Total params: {w.params:,}" in readme
        lines = [n for n in s.notes if n.startswith(("Quantized:", "Quantization bookkeeping"))]
        assert len(lines) == 2 and all(line in readme for line in lines), lines


# -- layouts the libraries cannot write on CPU, and files that do not fit: header-only ----------

TORCHAO_INT4 = {"quant_method": "torchao", "quant_type": {"default": {
    "_type": "Int4WeightOnlyConfig", "_data": {"group_size": 32}}}}


@pytest.mark.parametrize(("entries", "qc", "expected"), [
    # torchao's Int4Tensor: two values a byte along the last axis (its docstring: (N, K/2))
    ({"fc._weight_qdata": ("U8", (64, 64)), "fc._weight_scale": ("BF16", (4, 64))},
     TORCHAO_INT4, 64 * 128),
    # Int4PlainInt32Tensor: eight an int32 ((N, K/8))
    ({"fc._weight_qdata": ("I32", (64, 16)), "fc._weight_scale": ("BF16", (4, 64))},
     TORCHAO_INT4, 64 * 128),
], ids=["torchao-int4-tensor", "torchao-int4-plain-int32"])
def test_layouts_from_the_libraries_docstrings(tmp_path, entries, qc, expected):
    from tests import quant_headers as qh

    folder = qh.write_model(tmp_path, entries, {"quantization_config": qc})
    assert paramcount.summarize(folder).total_params == expected


@pytest.mark.parametrize(("entries", "qc", "message"), [
    ({"fc.weight": ("U8", (16, 1)), "fc.weight.absmax": ("F32", (1,)),
      "fc.weight.quant_state.bitsandbytes__nf4": ("U8", (80,))},  # its data a hole: zeros
     {"quant_method": "bitsandbytes", "load_in_4bit": True}, "not the JSON bitsandbytes"),
    ({"fc.weight": ("I8", (4, 8)), "fc.SCB": ("F32", (5,))},
     {"quant_method": "bitsandbytes", "load_in_8bit": True}, "int8 \\[out, in\\] with SCB"),
    ({"fc.weight._data._data": ("U8", (3, 8)), "fc.weight._scale": ("F32", (16, 1))},
     None, "packs neither 4- nor 2-bit"),
    ({"fc.weight._data": ("I8", (4, 8))}, None, "has a weight._scale beside it"),
    ({"fc.weight._data": ("I8", (4, 8)), "fc.weight._scale": ("F32", (5, 1))},
     None, "qint8/qfloat8 weight is \\[out, in\\]"),
    ({"fc._weight_qdata": ("I32", (8, 4, 32, 4))}, TORCHAO_INT4, "tile-packed"),
    ({"fc._weight_qdata": ("I32", (8, 4))}, None, "only under an Int4WeightOnlyConfig"),
    ({"fc._weight_qdata": ("F16", (8, 4))}, None, "of dtype float16"),
    ({"fc.weight_packed": ("U8", (4, 16)), "fc.weight_scale": ("U8", (4, 3))},
     {"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {
         "num_bits": 4, "group_size": 32, "type": "float"}}}}, "one scale per 32"),
], ids=["bnb-state", "bnb-scb", "quanto-packed", "quanto-scale", "quanto-rows",
        "torchao-tiles", "torchao-int32", "torchao-dtype", "ct-mxfp4"])
def test_a_file_that_does_not_fit_its_scheme_is_one_error(tmp_path, entries, qc, message):
    from paramcount.errors import SpecError
    from tests import quant_headers as qh

    folder = qh.write_model(tmp_path, entries, {"quantization_config": qc} if qc else None)
    with pytest.raises(SpecError, match=message):
        paramcount.summarize(folder)


@pytest.mark.parametrize(("state", "message"), [
    ({"quant_type": "nf4", "blocksize": 64, "shape": [8, 8]}, "quant_state says the shape"),
    ({"quant_type": "nf4", "blocksize": 64}, "no shape of positive integers"),
], ids=["shape-mismatch", "no-shape"])
def test_a_bitsandbytes_quant_state_that_does_not_fit_is_one_error(tmp_path, state, message):
    from safetensors.torch import save_file

    from paramcount.errors import SpecError

    blob = torch.tensor(list(json.dumps(state).encode()), dtype=torch.uint8)
    save_file({"fc.weight": torch.zeros(16, 1, dtype=torch.uint8),  # 32 values, not 64
               "fc.weight.absmax": torch.ones(1),
               "fc.weight.quant_state.bitsandbytes__nf4": blob}, tmp_path / "model.safetensors")
    with pytest.raises(SpecError, match=message):
        paramcount.summarize(tmp_path / "model.safetensors")
