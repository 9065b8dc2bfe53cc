"""PyTorch checkpoints written by torch.save: counts equal the model's parameters() and
buffers(), tied weights included, in both layouts, without torch; pickles that would run code
are refused and nothing runs."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import paramcount
from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.sources import torch as torch_source


class Net(torch.nn.Module):
    """Conv + BatchNorm + Linear blocks, and a head tied to the embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(13, 8)
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.bn = torch.nn.BatchNorm2d(8)
        self.blocks = torch.nn.Sequential(*(torch.nn.Linear(8, 8) for _ in range(4)))
        self.norm = torch.nn.LayerNorm(8)
        self.head = torch.nn.Linear(8, 13, bias=False)
        self.head.weight = self.emb.weight


def counts(model: torch.nn.Module) -> tuple[int, int]:
    return (sum(p.numel() for p in model.parameters()),
            sum(b.numel() for b in model.buffers()))


@pytest.mark.parametrize("zip_format", [True, False])
def test_state_dict_equals_pytorch_parameters_and_buffers(tmp_path, zip_format):
    model = Net()
    path = tmp_path / "net.pt"
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=zip_format)
    s = paramcount.summarize(path)
    assert (s.total_params, s.buffers) == counts(model)
    assert s.meta["tied"] == {"head.weight": "emb.weight"}
    assert s.framework == "pytorch"
    blocks = next(n for n in s.layers if n.name == "blocks")
    assert blocks.repeat == 4 and [r.times for r in s.rows(depth=2) if r.folded] == [4]


def test_training_checkpoint_counts_the_model_not_the_optimizer(tmp_path):
    model = Net()
    optimizer = torch.optim.Adam(model.parameters())
    loss = model.head(model.norm(model.blocks(model.emb(torch.tensor([1]))))).sum()
    loss.backward()
    optimizer.step()
    path = tmp_path / "last.ckpt"
    torch.save({"epoch": 3, "state_dict": model.state_dict(),
                "optimizer": optimizer.state_dict()}, path)
    s = paramcount.summarize(path)
    assert (s.total_params, s.buffers) == counts(model)
    assert s.meta["state_dict_key"] == "state_dict"


def test_dtypes_and_bytes_equal_torchs(tmp_path):
    tensors = {"a": torch.zeros(3, 4, dtype=torch.bfloat16), "b": torch.zeros(5).half(),
               "c": torch.zeros(2, 2, dtype=torch.int8), "d": torch.zeros(6).to(torch.float8_e5m2),
               "e": torch.nn.Parameter(torch.zeros(7, dtype=torch.float64)),
               "f": torch.zeros(2, dtype=torch.uint16), "g": torch.tensor(1.5)}
    path = tmp_path / "d.pt"
    torch.save(tensors, path)
    weights = {w.name: w for _, w in paramcount.summarize(path).weights()}
    for name, t in tensors.items():
        w = weights[name]
        assert w.shape == tuple(t.shape) and w.dtype == str(t.dtype).removeprefix("torch.")
        assert w.nbytes == t.numel() * t.element_size()


def test_frozen_parameters_saved_with_keep_vars_are_non_trainable(tmp_path):
    model = Net()
    for p in model.conv.parameters():
        p.requires_grad_(False)
    path = tmp_path / "frozen.pt"
    torch.save(model.state_dict(keep_vars=True), path)
    s = paramcount.summarize(path)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert (s.trainable_params, s.non_trainable_params) == (
        trainable, counts(model)[0] - trainable)


def test_views_of_one_storage_are_separate_tensors(tmp_path):
    base = torch.zeros(10)
    path = tmp_path / "views.pt"
    torch.save({"a": base[:4], "b": base[4:], "c": base[:4]}, path)
    s = paramcount.summarize(path)
    assert s.total_params == 10 and s.meta["tied"] == {"c": "a"}


def test_transformers_state_dict_and_bin_index(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64,
                                       n_positions=32))
    model.config.save_pretrained(tmp_path)
    state = model.state_dict()
    names = list(state)
    half = len(names) // 2
    shards = {"pytorch_model-00001-of-00002.bin": names[:half],
              "pytorch_model-00002-of-00002.bin": names[half:]}
    for shard, keys in shards.items():
        torch.save({k: state[k] for k in keys}, tmp_path / shard)
    index = tmp_path / "pytorch_model.bin.index.json"
    index.write_text(json.dumps({"weight_map": {k: s for s, keys in shards.items()
                                                for k in keys}}))
    expected = model.num_parameters()
    assert expected == counts(model)[0]
    assert torch_source.load(index).total_params == expected
    assert paramcount.summarize(tmp_path).total_params == expected  # the folder


def test_works_without_torch(tmp_path):
    path = tmp_path / "net.pt"
    model = Net()
    torch.save(model.state_dict(), path)
    code = ("import sys; sys.modules['torch'] = None; import paramcount; "
            f"print(paramcount.summarize({str(path)!r}).total_params)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert int(out) == counts(model)[0]


# -- pickles that would run code ------------------------------------------------------------

class RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class RunsExec:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import builtins

        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _replace_pickle(archive: Path, payload: bytes) -> None:
    with zipfile.ZipFile(archive) as z:
        records = {i.filename: z.read(i) for i in z.infolist()}
    name = next(n for n in records if n.endswith("/data.pkl"))
    records[name] = payload
    with zipfile.ZipFile(archive, "w") as z:
        for n, data in records.items():
            z.writestr(n, data)


@pytest.mark.parametrize("evil", [RunsShell, RunsExec])
def test_a_pickle_that_runs_code_is_refused_and_nothing_runs(tmp_path, capsys, evil):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": evil(marker)}, protocol=2)
    inside_zip = tmp_path / "zip.pt"
    torch.save({"w": torch.zeros(2)}, inside_zip)
    _replace_pickle(inside_zip, payload)
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(b"".join(pickle.dumps(x, protocol=2) for x in (
        0x1950A86A20F9469CFC6C, 1001, {"little_endian": True})) + payload)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(payload)
    for path in (inside_zip, legacy, plain):
        assert main([str(path)]) == 2
        err = capsys.readouterr().err
        assert "the pickle refers to" in err and "nothing else is accepted" in err
        assert err.count("\n") == 1
    assert not marker.exists()


def test_a_whole_pickled_module_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(SpecError, match=r"torch\.nn\.modules\.linear\.Linear"):
        paramcount.summarize(path)


# -- damaged files ----------------------------------------------------------------------------

def _edit_zip(src: Path, dst: Path, drop: str | None = None, shrink: str | None = None) -> None:
    with zipfile.ZipFile(src) as z:
        records = {i.filename: z.read(i) for i in z.infolist()}
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in records.items():
            if drop and n.endswith(drop):
                continue
            z.writestr(n, data[:2] if shrink and n.endswith(shrink) else data)


def test_damaged_files_give_one_line_and_exit_2(tmp_path, capsys):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.zeros(4, 4)}, good)
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.zeros(4, 4)}, legacy, _use_new_zipfile_serialization=False)
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), scripted)
    cases: dict[str, tuple[bytes | None, str]] = {
        "junk.pt": (b"hello world", "not a PyTorch checkpoint"),
        "truncated.pt": (good.read_bytes()[:200], "not a readable zip archive"),
        "nopickle.pt": (None, "without one top-level data.pkl"),
        "record.pt": (None, "has no record"),
        "small.pt": (None, "needs 64 bytes, its record holds 2"),
        "legacy_cut.pt": (legacy.read_bytes()[:-20], "truncated: storage"),
        "legacy_magic.pt": (pickle.dumps(42, protocol=2), "wrong magic number"),
        "garbage.pt": (b"\x80\x02\x8a\x0a" + b"\xff" * 3, "not a valid pickle"),
        "scripted.pt": (scripted.read_bytes(), "a TorchScript archive"),
    }
    _edit_zip(good, tmp_path / "nopickle.pt", drop="data.pkl")
    _edit_zip(good, tmp_path / "record.pt", drop="data/0")
    _edit_zip(good, tmp_path / "small.pt", shrink="data/0")
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        assert main([str(path)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (name, err)


def test_tensor_reaching_past_its_storage(tmp_path):
    path = tmp_path / "past.pt"
    torch.save({"w": torch.zeros(4)}, path)
    with zipfile.ZipFile(path) as z:
        pkl_name = next(n for n in z.namelist() if n.endswith("data.pkl"))
        data = z.read(pkl_name)
    # the shape (4,) becomes (9,): BININT1 4 -> BININT1 9 inside the size tuple
    patched = data.replace(b"K\x04\x85", b"K\x09\x85", 1)
    assert patched != data
    _replace_pickle(path, patched)
    with pytest.raises(SpecError, match="reaches past the end of its storage"):
        paramcount.summarize(path)


def test_restricted_unpickler_reads_plain_containers():
    from paramcount.sources.torch_pickle import load_pickle

    value = {"a": [1, 2.5, None, True], "b": (b"xy", "s"), "c": {1, 2}, "d": frozenset([3])}
    assert load_pickle(pickle.dumps(value, protocol=2), "x") == value
    assert load_pickle(io.BytesIO(pickle.dumps(value, protocol=4)), "x") == value
