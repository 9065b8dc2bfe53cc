"""safetensors checkpoints written by the real libraries: counts equal PyTorch's and
transformers', tied weights included; every error message for bad input."""

from __future__ import annotations

import json
import struct
import tracemalloc

import pytest
import torch
from safetensors.torch import save_file, save_model

import paramcount
from paramcount.cli import main
from paramcount.errors import SpecError


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def buffers(model: torch.nn.Module) -> int:
    return sum(b.numel() for b in model.buffers())


class ConvNet(torch.nn.Module):
    """Conv + BatchNorm + Linear, with a head tied to an embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(11, 8)
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.bn = torch.nn.BatchNorm2d(8)
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(8, 8) for _ in range(3))
        self.head = torch.nn.Linear(8, 11, bias=False)
        self.head.weight = self.emb.weight


def write_raw(path, header: dict, data: bytes = b"", length: int | None = None) -> None:
    raw = json.dumps(header).encode()
    n = len(raw) if length is None else length
    path.write_bytes(struct.pack("<Q", n) + raw + data)


def test_state_dict_counts_equal_pytorch_parameters_and_buffers(tmp_path):
    model = ConvNet()
    path = tmp_path / "net.safetensors"
    save_model(model, str(path))  # drops the tied copy, as transformers does
    s = paramcount.summarize(path)
    assert s.total_params == parameters(model)
    assert s.buffers == buffers(model)
    assert s.framework == "pytorch"


def test_dtypes_and_stored_bytes_equal_what_torch_stores(tmp_path):
    tensors = {"a.weight": torch.zeros(4, 6, dtype=torch.bfloat16),
               "a.bias": torch.zeros(6, dtype=torch.float16),
               "b.weight": torch.zeros(3, 5, dtype=torch.float32),
               "c.weight": torch.zeros(2, 8).to(torch.float8_e4m3fn),
               "d.index": torch.zeros(7, dtype=torch.int64)}
    path = tmp_path / "mixed.safetensors"
    save_file(tensors, str(path))
    s = paramcount.summarize(path)
    expected: dict[str, tuple[int, int]] = {}
    for t in tensors.values():
        name = str(t.dtype).removeprefix("torch.")
        n, b = expected.get(name, (0, 0))
        expected[name] = (n + t.numel(), b + t.numel() * t.element_size())
    assert {k: (n, b) for k, (n, b) in s.by_dtype().items()} == expected
    assert s.stored_bytes() == sum(t.numel() * t.element_size() for t in tensors.values())
    assert s.dtype == "bfloat16"  # the dtype holding the most elements
    doc = s.to_dict()
    assert doc["dtypes"]["float16"] == {"params": 6, "bytes": 12}


def test_dtype_option_gives_the_size_in_memory_at_another_dtype(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"w": torch.zeros(10, 10)}, str(path))
    s = paramcount.summarize(path, dtype="bf16")
    assert s.to_dict()["total_bytes"] == 100 * 2 and s.stored_bytes() == 100 * 4


def _tiny_llama(layers: int = 3, tie: bool = False):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(num_hidden_layers=layers, hidden_size=32, intermediate_size=64,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=96,
                         tie_word_embeddings=tie)
    return LlamaForCausalLM(config)


@pytest.mark.parametrize("tie", [False, True])
def test_transformers_save_pretrained_equals_transformers(tmp_path, tie):
    model = _tiny_llama(tie=tie)
    model.save_pretrained(tmp_path)
    s = paramcount.summarize(tmp_path / "model.safetensors")
    assert s.total_params == parameters(model) == model.num_parameters()
    if tie:
        assert s.meta["tied"] == {"lm_head.weight": "model.embed_tokens.weight"}


def test_sharded_index_equals_transformers_and_reports_progress(tmp_path):
    model = _tiny_llama()
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    index = tmp_path / "model.safetensors.index.json"
    shards = len(set(json.loads(index.read_text())["weight_map"].values()))
    assert shards > 1
    seen = []
    s = paramcount.summarize(index, progress=lambda done, total: seen.append((done, total)))
    assert s.total_params == parameters(model)
    assert s.meta["shards"] == shards and seen[-1] == (shards, shards)


def test_repeated_layers_fold_into_one_row(tmp_path):
    model = _tiny_llama(layers=4)
    model.save_pretrained(tmp_path)
    s = paramcount.summarize(tmp_path / "model.safetensors")
    rows = s.rows(depth=3)
    folded = [r for r in rows if r.folded]
    assert [(r.node.name, r.times) for r in folded] == [("0", 4)]
    layer = model.model.layers[0]
    assert folded[0].node.params == parameters(layer)
    assert s.to_dict(depth=1)["layers"][0]["children"] == []


def test_same_data_offsets_are_one_tensor_counted_once(tmp_path):
    path = tmp_path / "tied.safetensors"
    header = {"emb.weight": {"dtype": "F32", "shape": [4, 2], "data_offsets": [0, 32]},
              "head.weight": {"dtype": "F32", "shape": [4, 2], "data_offsets": [0, 32]},
              "head.bias": {"dtype": "F32", "shape": [4], "data_offsets": [32, 48]}}
    write_raw(path, header, bytes(48))
    s = paramcount.summarize(path)
    assert s.total_params == 12 and s.stored_bytes() == 48
    assert s.meta["tied"] == {"head.weight": "emb.weight"}
    head = next(n for n in s.layers if n.name == "head")
    assert [t.owner for t in head.tied] == ["emb.weight"]


def test_absurd_header_length_is_refused_without_allocating_it(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    tracemalloc.start()
    with pytest.raises(SpecError, match="header length 4611686018427387904 is beyond"):
        paramcount.summarize(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**20


def _entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


BAD = [
    ("short", lambda p: p.write_bytes(b"\x01\x02"), "truncated: 2 bytes"),
    ("beyond", lambda p: write_raw(p, {}, length=1000), "beyond the file size"),
    ("json", lambda p: p.write_bytes(struct.pack("<Q", 5) + b"{oops"), "not valid JSON"),
    ("utf8", lambda p: p.write_bytes(struct.pack("<Q", 2) + b"\xff\xfe"), "not UTF-8"),
    ("nested", lambda p: p.write_bytes(struct.pack("<Q", 200000) + b"[" * 200000),
     "nested too deeply"),
    ("list", lambda p: write_raw(p, []), "must be a JSON object"),
    ("meta", lambda p: write_raw(p, {"__metadata__": [1]}), "__metadata__ must be"),
    ("entry", lambda p: write_raw(p, {"w": 3}), "expected an object"),
    ("dtype", lambda p: write_raw(p, {"w": _entry(dtype="F128")}, bytes(8)), "unknown dtype"),
    ("negative", lambda p: write_raw(p, {"w": _entry(shape=(-2,))}, bytes(8)),
     "dimension -2 is out of range"),
    ("float", lambda p: write_raw(p, {"w": _entry(shape=(2.5,))}, bytes(8)),
     "dimension 2.5 is not an integer"),
    ("offsets", lambda p: write_raw(p, {"w": {"dtype": "F32", "shape": [2]}}),
     "data_offsets must be two integers"),
    ("outside", lambda p: write_raw(p, {"w": _entry(offsets=(0, 8))}, bytes(4)),
     "point outside the 4 bytes"),
    ("size", lambda p: write_raw(p, {"w": _entry(shape=(3,))}, bytes(8)),
     "holds 8 bytes, but shape"),
    ("overlap", lambda p: write_raw(p, {"a": _entry(shape=(4,), offsets=(0, 16)),
                                        "b": _entry(offsets=(8, 16))}, bytes(16)), "overlap"),
]


@pytest.mark.parametrize("case, write, message", BAD, ids=[c[0] for c in BAD])
def test_bad_files_give_one_line_and_exit_2(tmp_path, capsys, case, write, message):
    path = tmp_path / f"{case}.safetensors"
    write(path)
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("paramcount: error: ")
    assert message in err and str(path) in err


def test_duplicate_names_in_a_header_are_refused(tmp_path):
    path = tmp_path / "dup.safetensors"
    raw = b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, ' \
          b'"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(4))
    with pytest.raises(SpecError, match="names 'w' twice"):
        paramcount.summarize(path)


_ENTRY = b'{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'


@pytest.mark.parametrize("raw, twice", [
    (b'{"w":' + _ENTRY + b',"w":' + _ENTRY + b'}', "w"),  # compact, as safetensors writes
    (b'{"w" :' + _ENTRY + b',\n"w"\t:' + _ENTRY + b'}', "w"),  # spaces before the colons
    (b'{"a\\u00e9":' + _ENTRY + b',"a\\u00e9":' + _ENTRY + b'}', "a\u00e9"),  # escapes
    (b'{"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', "dtype"),
    (b'{"__metadata__":{"k":"1","k":"2"},"w":' + _ENTRY + b'}', "k"),
    (b'{"x":' + _ENTRY + b',"w":' + _ENTRY + b',"y" :' + _ENTRY[:-1]  # one key spaced, one
     + b',"shape":[1]}}', "shape"),  # repeated: the tally of quote-colons alone would agree
])
def test_a_key_given_twice_anywhere_in_the_header_is_refused(tmp_path, raw, twice):
    path = tmp_path / "dup.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(4))
    with pytest.raises(SpecError, match=f"names {twice!r} twice"):
        paramcount.summarize(path)


def _index(tmp_path, weight_map):
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return index


def test_index_errors(tmp_path):
    save_file({"a": torch.zeros(2)}, str(tmp_path / "s1.safetensors"))
    save_file({"a": torch.zeros(2), "b": torch.zeros(3)}, str(tmp_path / "s2.safetensors"))
    cases = [
        ({"a": "missing.safetensors"}, "the shard missing.safetensors is missing"),
        ({"a": "../s1.safetensors"}, "must be a file name in the same folder"),
        ({"b": "s1.safetensors"}, "puts 'b' in s1.safetensors, which does not hold it"),
        ({"a": "s1.safetensors", "b": "s2.safetensors"}, "is in both s1.safetensors and"),
        ({}, "needs a non-empty `weight_map`"),
    ]
    for weight_map, message in cases:
        with pytest.raises(SpecError, match=message):
            paramcount.summarize(_index(tmp_path, weight_map))
