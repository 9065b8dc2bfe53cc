"""``paramcount scan``: one row per source, read on threads, in input order; a source that fails
is a row that says why. Every figure is a hand calculation from the shapes these tests write
with the safetensors and gguf packages, or transformers' count of a zoo config; Hub ids are
served by the Hub-shaped server on 127.0.0.1 (tests/hub_server.py), whose log says what was sent.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from pathlib import Path

import gguf
import numpy as np
import pytest
from hub_server import Repo, read_cost, safetensors_file
from safetensors.numpy import save_file

import paramcount
from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.scanning import COLUMNS, WINDOW, ScanRow, read_list, scan

pytest_plugins = ["hub_server"]

GPT2 = 124_439_808  # the zoo's gpt2 config as transformers counts it (test_architectures_gpt)
MIXTRAL = 46_702_792_704  # the zoo's Mixtral-8x7B as transformers counts it (test_zoo)
# a token passes through 2 of 8 experts: 6 idle experts of 3 · 4096 · 14336 weights, 32 layers
MIXTRAL_ACTIVE = MIXTRAL - 6 * 3 * 4096 * 14336 * 32

# A one-layer Llama: width 8, 2 query heads and 1 key/value head of 4, MLP 16, vocabulary 32.
TINY_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8,
               "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
               "intermediate_size": 16, "vocab_size": 32, "tie_word_embeddings": False,
               "torch_dtype": "float16"}
TINY_SHAPES = {"model.embed_tokens.weight": (32, 8), "lm_head.weight": (32, 8),
               "model.layers.0.self_attn.q_proj.weight": (8, 8),
               "model.layers.0.self_attn.k_proj.weight": (4, 8),
               "model.layers.0.self_attn.v_proj.weight": (4, 8),
               "model.layers.0.self_attn.o_proj.weight": (8, 8),
               "model.layers.0.mlp.gate_proj.weight": (16, 8),
               "model.layers.0.mlp.up_proj.weight": (16, 8),
               "model.layers.0.mlp.down_proj.weight": (8, 16),
               "model.layers.0.input_layernorm.weight": (8,),
               "model.layers.0.post_attention_layernorm.weight": (8,),
               "model.norm.weight": (8,)}
# 2 · 32·8 (embedding, head) + 2 · 8·8 + 2 · 4·8 (q, o; k, v) + 3 · 16·8 (MLP) + 3 · 8 (norms)
TINY = 2 * 256 + 2 * 64 + 2 * 32 + 3 * 128 + 3 * 8
assert TINY == 1112


def tiny_arrays() -> dict[str, np.ndarray]:
    return {name: np.zeros(shape, np.float16) for name, shape in TINY_SHAPES.items()}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A Hugging Face folder written by the safetensors package: config.json and weights."""
    folder = tmp_path / "tiny-llama"
    folder.mkdir()
    save_file(tiny_arrays(), str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(TINY_CONFIG))
    return folder




# -- the library ---------------------------------------------------------------------------------

def test_a_hugging_face_folder_row(tiny):
    (row,) = scan([tiny])
    assert row == ScanRow(source=str(tiny), status="ok", total_params=TINY, active_params=TINY,
                          stored_bytes=2 * TINY, dtype="float16", quantization="",
                          architecture="LlamaForCausalLM", bytes_read=0,
                          seconds=row.seconds, error="")
    assert 0 < row.seconds < 60


def test_zoo_names_a_mixture_of_experts_and_a_config_alone(tmp_path):
    config = {**TINY_CONFIG, "quantization_config": {"quant_method": "gptq", "bits": 4}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    rows = list(paramcount.scan(["zoo:gpt2", "zoo:mixtral-8x7b", tmp_path / "config.json"]))
    assert [(r.total_params, r.active_params) for r in rows] == [
        (GPT2, GPT2), (MIXTRAL, MIXTRAL_ACTIVE), (TINY, TINY)]
    assert [r.architecture for r in rows] == ["GPT2LMHeadModel", "MixtralForCausalLM",
                                              "LlamaForCausalLM"]
    # a description stores no weights: no stored bytes; its dtype is the config's
    assert [(r.stored_bytes, r.dtype) for r in rows] == [
        (None, "float32"), (None, "bfloat16"), (None, "float16")]
    assert [r.quantization for r in rows] == ["", "", "gptq"]


def test_a_gguf_file_gives_its_file_type(tmp_path):
    path = tmp_path / "m.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    w.add_tensor("token_embd.weight", np.zeros((16, 8), np.float32))
    w.add_tensor("output_norm.weight", np.zeros(8, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    (row,) = scan([str(path)])
    assert (row.total_params, row.stored_bytes, row.dtype) == (16 * 8 + 8, 4 * (16 * 8 + 8),
                                                               "float32")
    assert (row.quantization, row.architecture) == ("MOSTLY_Q4_K_M", "llama")


def test_failures_are_rows_and_the_scan_goes_on(tiny, tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes((10**9).to_bytes(8, "little") + b"{}")  # a header longer than the file
    rows = list(scan([broken, tmp_path / "missing.safetensors", "zoo:gtp2", tiny]))
    assert [r.status for r in rows] == ["error", "error", "error", "ok"]
    assert rows[0].error.startswith(str(broken)) and "\n" not in rows[0].error
    assert rows[1].error == f"{tmp_path / 'missing.safetensors'}: no such file"
    assert "did you mean 'gpt2'" in rows[2].error
    for r in rows[:3]:
        assert (r.total_params, r.active_params, r.stored_bytes, r.bytes_read) == (None,) * 4
    assert rows[3].total_params == TINY


def test_rows_come_in_input_order_whatever_finishes_first(monkeypatch):
    """The first source finishes last (it waits until the others are reported), and the rows
    still come in input order."""
    import paramcount.sources

    real = paramcount.sources.summarize
    others_reported = threading.Event()

    def last_first(source, **options):
        if source == "zoo:gpt2":
            assert others_reported.wait(timeout=120)
        return real(source, **options)

    names = ["zoo:gpt2", "zoo:vgg16", "zoo:resnet50", "zoo:mobilenetv2", "zoo:llama-3-8b"]
    finished: list[str] = []

    def progress(row):
        finished.append(row.source)
        if len(finished) == len(names) - 1:
            others_reported.set()

    monkeypatch.setattr(paramcount.sources, "summarize", last_first)
    rows = list(scan(names, workers=4, progress=progress))
    assert [r.source for r in rows] == names
    assert finished[-1] == "zoo:gpt2" and sorted(finished) == sorted(names)


def test_a_long_list_is_read_a_window_at_a_time():
    pulled = []

    def sources():
        for i in range(50):
            pulled.append(i)
            yield "zoo:vgg16"

    rows = scan(sources(), workers=2)
    next(rows)
    assert len(pulled) <= WINDOW * 2 + 1  # not the whole list
    assert sum(1 for _ in rows) == 49 and len(pulled) == 50


def test_progress_is_called_once_per_source_one_at_a_time():
    active, most, lock = [0], [0], threading.Lock()

    def progress(row):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.01)
        with lock:
            active[0] -= 1

    rows = list(scan(["zoo:vgg16"] * 6 + ["zoo:nope"], workers=4, progress=progress))
    assert len(rows) == 7 and most[0] == 1


def test_workers_must_be_positive():
    with pytest.raises(SpecError, match="workers must be a positive integer, got 0"):
        list(scan(["zoo:gpt2"], workers=0))


def test_a_list_skips_comments_and_blank_lines():
    lines = ["# the registry\n", "\n", "zoo:gpt2\n", "  ./models/a  # ours\n", "org/x@v1"]
    assert list(read_list(lines)) == ["zoo:gpt2", "./models/a", "org/x@v1"]


# -- Hub ids, served on 127.0.0.1 ----------------------------------------------------------------

def test_hub_ids_rows_and_the_bytes_they_cost(hub_at, tiny):
    weights = safetensors_file(tiny_arrays())
    config = json.dumps(TINY_CONFIG).encode()
    hub_at.repos["org/tiny"] = Repo.with_files({"model.safetensors": weights,
                                                "config.json": config})
    rows = list(scan(["org/tiny", "org/missing", "hf://org/tiny@main", str(tiny)], workers=3))
    assert [r.status for r in rows] == ["ok", "error", "ok", "ok"]
    assert rows[1].error.startswith("hf://org/missing: no such repo on the Hub")
    for r in (rows[0], rows[2]):
        assert (r.total_params, r.stored_bytes, r.architecture) == (
            TINY, 2 * TINY, "LlamaForCausalLM")
        # the config whole and the safetensors header, never the weights
        assert r.bytes_read == len(config) + read_cost(weights)
    assert hub_at.bytes_sent("/org/tiny/resolve/") + hub_at.bytes_sent("/cdn/") == 2 * (
        len(config) + read_cost(weights))
    assert rows[3].bytes_read == 0  # the same model from disk


def test_urls_rows_and_the_bytes_they_cost():
    fsspec = pytest.importorskip("fsspec")
    weights = safetensors_file(tiny_arrays())
    config = json.dumps(TINY_CONFIG).encode()
    fs = fsspec.filesystem("memory")
    fs.pipe("/scan-url/tiny/model.safetensors", weights)
    fs.pipe("/scan-url/tiny/config.json", config)
    try:
        rows = list(scan(["memory://scan-url/tiny", "memory://scan-url/none.safetensors"]))
    finally:
        fs.rm("/scan-url", recursive=True)
    assert (rows[0].total_params, rows[0].architecture) == (TINY, "LlamaForCausalLM")
    assert rows[0].bytes_read == len(config) + read_cost(weights)
    assert rows[1].error == "memory://scan-url/none.safetensors: no such file or folder"


# -- the command ---------------------------------------------------------------------------------

def test_csv_parses_with_the_csv_module(tiny, capsys):
    assert main(["scan", str(tiny), "zoo:gpt2", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    table = list(csv.DictReader(io.StringIO(out)))
    assert list(table[0]) == list(COLUMNS)
    assert [(r["source"], r["status"], r["total_params"], r["stored_bytes"]) for r in table] == [
        (str(tiny), "ok", str(TINY), str(2 * TINY)), ("zoo:gpt2", "ok", str(GPT2), "")]
    assert table[0]["architecture"] == "LlamaForCausalLM" and table[0]["error"] == ""


def test_jsonl_parses_with_json_and_failures_exit_1(tiny, tmp_path, capsys):
    missing = str(tmp_path / "gone")
    assert main(["scan", "zoo:mixtral-8x7b", missing, str(tiny), "-f", "jsonl"]) == 1
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["source"] for r in rows] == ["zoo:mixtral-8x7b", missing, str(tiny)]
    assert rows[0]["active_params"] == MIXTRAL_ACTIVE and rows[0]["stored_bytes"] is None
    assert rows[1]["status"] == "error" and rows[1]["total_params"] is None
    assert rows[1]["error"] == f"{missing}: no such file"
    assert rows[2]["total_params"] == TINY and rows[2]["bytes_read"] == 0
    assert captured.err.strip() == ("paramcount: scan: 1 of 3 sources failed "
                                    "(their rows say why)")


def test_sources_from_a_file_and_from_stdin(tiny, tmp_path, capsys, monkeypatch):
    listing = tmp_path / "registry.txt"
    listing.write_text(f"# our models\n{tiny}\n\nzoo:gpt2  # the reference\n")
    assert main(["scan", "--from", str(listing), "-f", "jsonl"]) == 0
    from_file = [json.loads(line)["source"] for line in capsys.readouterr().out.splitlines()]
    assert from_file == [str(tiny), "zoo:gpt2"]
    assert main(["scan", "zoo:vgg16", f"@{listing}", "-f", "jsonl"]) == 0
    at = [json.loads(line)["source"] for line in capsys.readouterr().out.splitlines()]
    assert at == ["zoo:vgg16", str(tiny), "zoo:gpt2"]
    monkeypatch.setattr("sys.stdin", io.StringIO("zoo:gpt2\nzoo:vgg16\n"))
    assert main(["scan", "--from", "-", "-f", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["source"], int(r["total_params"])) for r in rows] == [
        ("zoo:gpt2", GPT2), ("zoo:vgg16", 138_357_544)]  # keras.applications.VGG16 (test_zoo)


def test_the_table_and_its_tally(capsys):
    assert main(["scan", "zoo:gpt2", "zoo:nope", "--format", "table"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["Source", "Status", "Params", "Active"]
    assert out[2].split()[:4] == ["zoo:gpt2", "ok", "124,439,808", "124,439,808"]
    assert out[3].split()[:2] == ["zoo:nope", "error"] and "no zoo entry 'nope'" in out[3]
    assert out[4].startswith("2 sources, 1 failed, in ")


@pytest.mark.parametrize(("args", "message"), [
    (["scan"], "no source to scan: name some, or give --from FILE (- for stdin)"),
    (["scan", "--from", "/no/such/list.txt"], "cannot read the list /no/such/list.txt: "),
    (["scan", "zoo:gpt2", "--workers", "0"], "--workers must be a positive integer, got 0"),
    (["scan", "zoo:gpt2", "--format", "xml"], "argument --format/-f: invalid choice"),
])
def test_bad_usage_exits_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"paramcount: error: {message}") and err.count("\n") == 1


def test_progress_on_stderr_when_asked(capsys):
    assert main(["scan", "zoo:gpt2", "zoo:vgg16", "-f", "csv", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "\rscan: 1/2 read, 0 failed" in err and "\rscan: 2/2 read, 0 failed" in err
    assert err.rstrip().endswith("models/s)") and "scan: 2 sources, 0 failed, in" in err
