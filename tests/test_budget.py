"""The budget (paramcount/budget.py): hostile inputs meet one limit each and are refused in one
line naming it and the flag that raises it, exit status 2, under a memory and time cap set in
the test itself; repeats are counted by multiplication, exactly, in bounded time; and raising a
limit by its flag lets a legitimately large input through.

Each hostile case runs ``python -m paramcount`` in a subprocess whose address space is capped
(``RLIMIT_AS``) and whose wall time is bounded, so that a case that regressed fails the test
instead of taking the machine down.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import paramcount
from paramcount.budget import LIMITS, LimitExceeded, Limits, limits_markdown
from paramcount.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent
MEMORY = 2 * 2**30  # address space of a hostile case: the interpreter and paramcount fit
SECONDS = 60  # wall time of a hostile case, start-up included, on a busy machine


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_capped(*args: str, seconds: float = SECONDS) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "paramcount", *args], capture_output=True,
                          text=True, timeout=seconds, preexec_fn=_capped, env=env, cwd=ROOT)


def refused(flag: str, *args: str) -> str:
    """The one error line of a refused input, which names ``flag``."""
    proc = run_capped(*args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("paramcount: error: "), proc.stderr[-2000:]
    assert f"({flag} raises it)" in lines[0] and "over the limit of" in lines[0]
    assert len(lines[0]) < 600  # a bounded slice of the input, never all of it
    return lines[0]


def counted(*args: str) -> dict:
    """The JSON summary of an input that must be counted."""
    proc = run_capped(*args, "--format", "json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# -- repeats are folded, never expanded --------------------------------------------------------

def test_a_trillion_repeats_are_counted_by_multiplication(tmp_path):
    spec = _write(tmp_path, "m.yaml", "input_shape: [16]\nlayers:\n"
                  "  - Dense: {units: 8, repeat: 1000000000000}\n")
    start = time.perf_counter()
    doc = counted(spec)
    # the first Dense is 16 -> 8, every other 8 -> 8
    assert doc["total_params"] == (16 + 1) * 8 + (10**12 - 1) * (8 + 1) * 8
    assert time.perf_counter() - start < SECONDS / 2


def test_nested_repeats_multiplying_to_ten_to_the_fifteen(tmp_path):
    spec = _write(tmp_path, "m.yaml", "input_shape: [8]\nlayers:\n"
                  "  - Block:\n      repeat: 100000\n      layers:\n"
                  "        - Dense: {units: 8, repeat: 10000000000}\n"
                  "        - Dense: {units: 8}\n"
                  "  - Dense: 4\n")
    doc = counted(spec)
    block = (10**10 + 1) * (8 + 1) * 8
    assert doc["total_params"] == 10**5 * block + (8 + 1) * 4
    group = doc["layers"][0]
    assert group["folded"] == 100000 and group["params"] == 10**5 * block
    # the names after the group are those building every copy would have left
    # (dense, dense_1, ... dense_{N-1} for the N Dense layers of the group)
    assert doc["layers"][1]["name"] == f"dense_{10**5 * (10**10 + 1)}"


def test_copies_of_a_block_holding_a_folded_group_take_its_names(tmp_path):
    spec = _write(tmp_path, "m.yaml", "input_shape: [8]\nlayers:\n"
                  "  - Block: {repeat: 3, layers: [{Dense: {units: 8, repeat: 100000}}]}\n"
                  "  - Dense: 4\n")
    doc = counted(spec)
    assert doc["total_params"] == 3 * 100000 * (8 + 1) * 8 + (8 + 1) * 4
    blocks = doc["layers"][0]["children"]  # three blocks, each with a folded group of 100,000
    assert [b["children"][0]["folded"] for b in blocks] == [100000] * 3
    assert doc["layers"][1]["name"] == "dense_300000"  # dense, dense_1 ... dense_299999 before


def test_zoo_gpt3_with_a_billion_layers():
    doc = counted("zoo", "gpt3-125m", "--set", "layers=1000000000")
    d, vocab, context = 768, 50257, 2048
    attention = 4 * (d * d + d)  # q, k, v and output projections with biases
    mlp = (d * 4 * d + 4 * d) + (4 * d * d + d)
    block = 2 * 2 * d + attention + mlp  # two LayerNorms
    outside = vocab * d + context * d + 2 * d  # embeddings, final norm; the head is tied
    assert block == 7_087_872 and doc["total_params"] == 10**9 * block + outside


def test_copies_that_differ_draw_from_the_node_budget(tmp_path):
    spec = _write(tmp_path, "m.yaml", "input_shape: [4]\nlayers:\n"
                  "  - Dense: {units: '${index + 1}', repeat: 1000000000000}\n")
    line = refused("--max-nodes", spec)
    assert "1,000,000,000,000 copies that differ" in line
    small = _write(tmp_path, "s.yaml", "input_shape: [4]\nlayers:\n"
                   "  - Dense: {units: '${index + 1}', repeat: 30}\n")
    refused("--max-nodes", small, "--max-nodes", "20")
    # 4 -> 1 -> 2 -> ... -> 30: sum of (i + 1) * (i + 1) for the i-th's input i, and biases
    expected = (4 + 1) * 1 + sum((i + 1) * (i + 1) for i in range(1, 30))
    assert counted(small, "--max-nodes", "100")["total_params"] == expected


def test_a_ten_thousand_layer_hf_config_is_fast_and_exact(tmp_path):
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
              "num_key_value_heads": 8, "num_hidden_layers": 10_000, "vocab_size": 128256,
              "tie_word_embeddings": False}
    folder = tmp_path / "llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    paramcount.summarize(folder / "config.json")  # imports done
    best = min(_timed(lambda: str(paramcount.summarize(folder / "config.json")))
               for _ in range(3))
    d, kv, ffn, vocab = 4096, 1024, 14336, 128256
    layer = 2 * d * d + 2 * d * kv + 3 * d * ffn + 2 * d  # attention, gated MLP, two RMSNorms
    s = paramcount.summarize(folder / "config.json")
    assert s.total_params == 10_000 * layer + 2 * vocab * d + d
    assert s.figures["Non-embedding params"] == 10_000 * layer + d
    assert s.flops(seq_len=1).macs > 10_000 * layer  # every layer's MACs, folded or not
    assert best < 0.3


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


# -- expressions: refused from their operands, before computing --------------------------------

@pytest.mark.parametrize("expr", ["((9**64)**64)**64", "round(10**64, -10**18)",
                                  "'a' * 10**10", "[0] * 10**12", "10**10**10"])
def test_hostile_expressions(tmp_path, expr):
    spec = _write(tmp_path, "m.yaml", "input_shape: [4]\nparams: {p: 1}\n"
                  f"layers:\n  - Dense: {{units: 2, name: \"${{{expr}}}\"}}\n")
    refused("--max-value-size", spec)


def test_expression_length_and_raising_the_value_size(tmp_path):
    long = " + ".join(["1"] * 600)
    spec = _write(tmp_path, "m.yaml", f"input_shape: [4]\nlayers:\n  - Dense: '${{{long}}}'\n")
    refused("--max-expression", spec)
    assert counted(spec, "--max-expression", "5000")["total_params"] == (4 + 1) * 600
    big = _write(tmp_path, "b.yaml", "input_shape: [4]\n"
                 "layers:\n  - Dense: '${2**20000 // 2**19990}'\n")  # 6,021 digits on the way
    refused("--max-value-size", big)
    assert counted(big, "--max-value-size", "7000")["total_params"] == (4 + 1) * 1024


# -- YAML: aliases counted, never expanded -----------------------------------------------------

def _laughs(levels: int) -> str:
    lines = ['  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]")
    return "params:\n" + "\n".join(lines) + "\ninput_shape: [4]\nlayers: [{Dense: 2}]\n"


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_billion_laughs_is_refused_before_it_is_echoed(tmp_path, fmt):
    spec = _write(tmp_path, "laughs.yaml", _laughs(9))
    line = refused("--max-elements", spec, "--format", fmt)
    assert "YAML aliases expanded" in line


def test_raising_the_element_budget_admits_a_large_document(tmp_path):
    spec = _write(tmp_path, "laughs.yaml", _laughs(4))  # 11,111 nodes in params, expanded
    refused("--max-elements", spec, "--max-elements", "10000")
    assert counted(spec)["total_params"] == (4 + 1) * 2


def test_a_document_that_contains_itself(tmp_path):
    spec = _write(tmp_path, "m.yaml", "params: {p: &a [*a]}\ninput_shape: [4]\n"
                  "layers: [{Dense: 2}]\n")
    proc = run_capped(spec)
    assert proc.returncode == 2 and "contains itself" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# -- GGUF headers: refused from the declared counts -------------------------------------------

def _sparse(path: Path, head: bytes, size: int = 2 * 10**9) -> str:
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)  # a hole: no disk used, but the declared counts fit in it
    return str(path)


def _str(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def test_gguf_declaring_150_million_keys(tmp_path):
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, 150_000_000)
    refused("--max-elements", _sparse(tmp_path / "keys.gguf", head))


def test_gguf_declaring_249_million_tokens(tmp_path):
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _str(b"tokenizer.ggml.tokens")
    head += struct.pack("<IIQ", 9, 8, 249_000_000)  # an array of strings
    refused("--max-elements", _sparse(tmp_path / "tokens.gguf", head))


def test_gguf_tensor_name_of_1_4_gb(tmp_path):
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + struct.pack("<Q", 1_400_000_000)
    refused("--max-string", _sparse(tmp_path / "name.gguf", head))


def test_raising_the_element_budget_admits_a_large_vocabulary(tmp_path):
    tokens = b"".join(_str(b"t%d" % i) for i in range(20_000))
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + _str(b"tokenizer.ggml.tokens")
    head += struct.pack("<IIQ", 9, 8, 20_000) + tokens
    head += _str(b"w") + struct.pack("<IQIQ", 1, 4, 0, 0)  # one f32 tensor of 4 at offset 0
    head += bytes(-len(head) % 32) + bytes(16)
    path = tmp_path / "vocab.gguf"
    path.write_bytes(head)
    refused("--max-elements", str(path), "--max-elements", "10000")
    assert counted(str(path))["total_params"] == 4


# -- Keras graphs: linear in their calls -------------------------------------------------------

def _functional(layers: list[dict], last: str) -> dict:
    return {"class_name": "Functional", "config": {
        "name": "m", "layers": layers, "input_layers": [["x", 0, 0]],
        "output_layers": [[last, 0, 0]]}}


X = {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
     "config": {"batch_input_shape": [None, 4], "name": "x"}}


def test_a_reverse_ordered_functional_chain(tmp_path):
    n = 5000
    dense = [{"class_name": "Dense", "name": f"d{i}", "config": {"name": f"d{i}", "units": 4},
              "inbound_nodes": [[[f"d{i - 1}" if i else "x", 0, 0, {}]]]} for i in range(n)]
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(_functional([X, *reversed(dense)], f"d{n - 1}")))
    assert counted(str(path))["total_params"] == n * (4 + 1) * 4


def test_one_layer_called_a_hundred_thousand_times(tmp_path):
    n = 100_000
    calls = [[["x" if k == 0 else "d", 0 if k == 0 else k - 1, 0, {}]] for k in range(n)]
    d = {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 4},
         "inbound_nodes": calls}
    path = tmp_path / "shared.json"
    path.write_text(json.dumps(_functional([X, d], "d")))
    doc = counted(str(path))
    assert doc["total_params"] == (4 + 1) * 4 and doc["layers"][-1]["calls"] == n


# -- the transformers fallback, wall time, the Python API --------------------------------------

def test_fallback_refuses_five_million_layers_before_building(tmp_path):
    pytest.importorskip("transformers")
    folder = tmp_path / "xlnet"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "xlnet", "architectures": ["XLNetLMHeadModel"], "n_layer": 5_000_000}))
    line = refused("--max-nodes", str(folder / "config.json"))
    assert "n_layer" in line


def test_the_deadline(tmp_path):
    spec = _write(tmp_path, "m.yaml", "input_shape: [4]\nlayers:\n"
                  "  - Dense: {units: '${index % 7 + 1}', repeat: 400000}\n")
    line = refused("--timeout", spec, "--timeout", "1")
    assert "ran over the limit of 1 seconds of wall time" in line


def test_summarize_takes_limits():
    spec = {"input_shape": [4], "layers": [{"Dense": {"units": "${index + 1}", "repeat": 3}}]}
    with pytest.raises(LimitExceeded, match=r"--max-nodes raises it"):
        paramcount.summarize(spec, limits={"nodes": 2})
    # 4 -> 1 -> 2 -> 3: (4 + 1) * 1 + (1 + 1) * 2 + (2 + 1) * 3
    assert paramcount.summarize(spec, limits=Limits(nodes=10)).total_params == 5 + 4 + 9
    with pytest.raises(paramcount.ParamcountError, match="no option 'node'"):
        paramcount.summarize(spec, limits={"node": 2})


def test_limit_flags_take_positive_integers():
    proc = run_capped("zoo:gpt2", "--max-nodes", "0")
    assert proc.returncode == 2 and "--max-nodes" in proc.stderr


def test_readme_has_the_limits_table():
    readme = (ROOT / "README.md").read_text()
    assert limits_markdown() in readme
    assert len(LIMITS) == len({row.flag for row in LIMITS}) == 8


def test_a_model_nested_30_deep_each_following_its_inner_on_new_shapes(tmp_path):
    def level(k: int) -> dict:
        """Model k: a Dense 4 -> 4, and model k - 1 called on a shape it was not built on."""
        x = {"class_name": "InputLayer", "name": f"x{k}", "inbound_nodes": [],
             "config": {"batch_input_shape": [None, None, 4], "name": f"x{k}"}}
        d = {"class_name": "Dense", "name": f"d{k}", "config": {"name": f"d{k}", "units": 4},
             "inbound_nodes": [[[f"x{k}", 0, 0, {}]]]}
        layers, last = [x, d], f"d{k}"
        if k:
            inner = level(k - 1)
            layers.append({**inner, "name": f"m{k - 1}", "inbound_nodes": [[[last, 0, 0, {}]]]})
            last = f"m{k - 1}"
        return {"class_name": "Functional", "config": {
            "name": f"m{k}", "layers": layers, "input_layers": [[f"x{k}", 0, 0]],
            "output_layers": [[last, 0, 0]]}}

    top = level(30)
    top["config"]["layers"][0]["config"]["batch_input_shape"] = [None, 3, 4]
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(top))
    start = time.perf_counter()
    assert counted(str(path))["total_params"] == 31 * (4 + 1) * 4
    assert time.perf_counter() - start < SECONDS / 2


def test_raising_the_depth_read_and_string_limits(tmp_path):
    deep = "input_shape: [4]\nlayers:\n  - " + "Block: {layers: [" * 70 + "Dense: 2" + "]}" * 70
    spec = _write(tmp_path, "deep.yaml", deep + "\n")
    refused("--max-depth", spec)
    assert counted(spec, "--max-depth", "100")["total_params"] == (4 + 1) * 2
    small = _write(tmp_path, "small.yaml", "input_shape: [4]\nlayers: [{Dense: 2}]\n")
    refused("--max-read", small, "--max-read", "16")
    assert counted(small)["total_params"] == (4 + 1) * 2
    name = b"w" * (2 * 2**20)  # a tensor name of 2 MiB, over the default 1 MiB
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + _str(name) + struct.pack("<IQIQ", 1, 4, 0, 0)
    path = tmp_path / "long.gguf"
    path.write_bytes(head + bytes(-len(head) % 32) + bytes(16))
    refused("--max-string", str(path))
    proc = run_capped(str(path), "--max-string", str(4 * 2**20), "--format", "csv")
    assert proc.returncode == 0 and ",Total,,4,4,0,0," in proc.stdout  # one tensor of 4


def test_a_llama_config_with_a_billion_layers_is_counted_exactly():
    """One layer built, counted × 10^9. By hand, Llama's defaults (hidden 4096, 32 heads,
    intermediate 11008, vocabulary 32000, untied): a layer is q, k, v, o (4 × 4096²), gate,
    up, down (3 × 4096 × 11008) and two RMSNorms (2 × 4096); then the embedding, the final
    norm and the LM head."""
    layer = 4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096
    start = time.perf_counter()
    s = paramcount.summarize({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
                              "num_hidden_layers": 10**9})
    assert s.total_params == layer * 10**9 + 32000 * 4096 + 4096 + 4096 * 32000
    assert time.perf_counter() - start < 1


def test_layers_that_never_settle_are_refused_naming_max_nodes():
    """Gemma 2 alternates sliding and global layers forever: one node per layer."""
    with pytest.raises(SpecError, match=r"1,000,000,000 nodes built, .*\(--max-nodes raises"):
        paramcount.summarize({"model_type": "gemma2", "num_hidden_layers": 10**9})


def test_a_safetensors_header_over_max_read_names_the_flag(tmp_path):
    """Under the format's own 100 MiB, the budget's --max-read applies."""
    header = json.dumps({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                         "__metadata__": {"pad": "x" * 2000}}).encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(4))
    with pytest.raises(SpecError, match=r"its JSON header: .* \(--max-read raises it\)"):
        paramcount.summarize(path, limits={"read_bytes": 1000})
    assert paramcount.summarize(path).total_params == 1
