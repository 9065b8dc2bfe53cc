"""PEFT adapter folders against PEFT itself: tiny Llama and GPT-2 models built by transformers
on the CPU, wrapped by peft (LoRA, DoRA, IA3, LoHa, LoKr, modules_to_save, trained biases) and
saved with ``save_pretrained``; the adapter's total is what PEFT calls trainable, "Base +
adapter" its "all params", "Merged" what ``merge_and_unload()`` leaves. A hand-made LoRA file
checks r·(in + out); a Hub-shaped server on 127.0.0.1 serves a remote adapter and its base."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hub_server import Repo, safetensors_file
from safetensors import safe_open

import paramcount
from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.sources import summarize

pytest_plugins = ["hub_server"]
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

LLAMA = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2}
GPT2 = {"vocab_size": 64, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 16}

#: name -> (base, peft config class, its arguments)
ADAPTERS = {
    "lora": ("llama", "LoraConfig", {"r": 4, "lora_alpha": 8,
                                     "target_modules": ["q_proj", "v_proj", "down_proj"]}),
    "dora": ("llama", "LoraConfig", {"r": 4, "use_dora": True,
                                     "target_modules": ["q_proj", "k_proj"],
                                     "modules_to_save": ["lm_head"]}),
    "lora-embedding": ("llama", "LoraConfig", {"r": 2, "target_modules": ["embed_tokens",
                                                                          "o_proj"]}),
    "ia3": ("llama", "IA3Config", {"target_modules": ["k_proj", "v_proj", "down_proj"],
                                   "feedforward_modules": ["down_proj"]}),
    "loha": ("llama", "LoHaConfig", {"r": 2, "target_modules": ["q_proj", "up_proj"]}),
    "lokr": ("llama", "LoKrConfig", {"r": 2, "target_modules": ["q_proj"]}),
    "gpt2-bias": ("gpt2", "LoraConfig", {"r": 4, "target_modules": ["c_attn", "c_proj"],
                                         "fan_in_fan_out": True, "bias": "all"}),
}


def _base(kind: str):
    if kind == "llama":
        return transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA))
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(**GPT2))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each adapter saved by PEFT next to its base (whose path PEFT writes into the adapter's
    config, having loaded the base from it), with PEFT's own figures."""
    root = tmp_path_factory.mktemp("peft")
    for kind in ("llama", "gpt2"):
        torch.manual_seed(0)
        _base(kind).save_pretrained(root / kind)
    out = {}
    for name, (kind, cls, args) in ADAPTERS.items():
        base = _base(kind).__class__.from_pretrained(root / kind)
        model = peft.get_peft_model(base, getattr(peft, cls)(**args))
        trainable, everything = model.get_nb_trainable_parameters()
        model.save_pretrained(root / name)
        merged = sum(p.numel() for p in model.merge_and_unload().parameters())
        out[name] = (root / name, root / kind, trainable, everything, merged)
    return out


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_counts_are_peft_s(built, name):
    folder, base, trainable, everything, merged = built[name]
    assert json.loads((folder / "adapter_config.json").read_text())[
        "base_model_name_or_path"] == str(base)  # PEFT wrote it; paramcount follows it
    s = summarize(folder)
    with safe_open(folder / "adapter_model.safetensors", "np") as f:  # what the file holds
        held = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys())  # noqa: SIM118
    assert s.total_params == held and s.trainable_params == trainable
    assert s.figures["Base params"] == summarize(base).total_params
    assert s.figures["Base + adapter params"] == everything
    assert s.figures["Merged params"] == merged


def test_the_tree_is_the_targeted_modules(built):
    s = summarize(built["dora"][0])
    rows = {path: w.shape for path, w in s.weights()}
    assert rows == {  # hidden 32, 2 of 4 heads of 8 for k, r 4; a full copy of lm_head
        "lm_head.weight": (64, 32),
        **{f"model.layers.{i}.self_attn.{m}.{t}": shape for i in (0, 1)
           for m, out in (("q_proj", 32), ("k_proj", 16))
           for t, shape in (("lora_A", (4, 32)), ("lora_B", (out, 4)),
                            ("lora_magnitude_vector", (out,)))}}
    types = {".".join(p): n.type for p, n in _paths(s.root)}
    assert types["model.layers.0.self_attn.q_proj"] == "DoRA"
    assert types["lm_head"] == "modules_to_save"
    assert s.meta["peft"]["r"] == 4 and sorted(s.meta["peft"]["target_modules"]) == ["k_proj",
                                                                               "q_proj"]
    assert "PEFT DoRA adapter (r=4; lora_alpha=8; targets k_proj, q_proj; full copies of " \
           "lm_head)" in s.notes[1]


def _paths(node, parts=()):
    for child in node.children:
        yield (*parts, child.name), child
        yield from _paths(child, (*parts, child.name))


def _lora_folder(folder: Path, shapes: dict[str, tuple[int, ...]], **config) -> Path:
    folder.mkdir()
    arrays = {f"base_model.model.{k}": np.zeros(v, np.float32) for k, v in shapes.items()}
    (folder / "adapter_model.safetensors").write_bytes(safetensors_file(arrays))
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", **config}))
    return folder


def test_lora_on_a_linear_adds_r_times_in_plus_out(tmp_path):
    r, n_in, n_out = 8, 300, 70
    folder = _lora_folder(tmp_path / "a", {"fc.lora_A.weight": (r, n_in),
                                           "fc.lora_B.weight": (n_out, r)}, r=r)
    s = summarize(folder)
    assert s.total_params == r * (n_in + n_out) == 2960
    assert [(n.name, n.type) for n in s.root.children] == [("fc", "LoRA")]
    assert "names no base model" in s.notes[-1]


def test_a_base_that_does_not_resolve_is_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = _lora_folder(tmp_path / "a", {"fc.lora_A.weight": (2, 4)},
                          base_model_name_or_path="org/not-cached")
    s = summarize(folder)
    assert s.total_params == 8 and "Base params" not in s.figures
    assert "The base model org/not-cached was not resolved: hf://org/not-cached is not in " \
           "the local Hugging Face cache" in s.notes[-1]


def test_an_adapter_of_another_base_does_not_fit(built, tmp_path):
    folder = _lora_folder(tmp_path / "a", {"model.layers.0.self_attn.q_proj.lora_A.weight": (
        4, 99), "model.layers.0.self_attn.q_proj.lora_B.weight": (32, 4)},
        base_model_name_or_path=str(built["lora"][1]))
    s = summarize(folder)
    assert s.figures == {"Base params": summarize(built["lora"][1]).total_params}
    assert "The adapter does not fit" in s.notes[-1] and \
           "model.layers.0.self_attn.q_proj (no module there" in s.notes[-1]
    d = paramcount.diff(built["lora"][1], folder)
    assert "B is a PEFT adapter, compared as it is: The adapter does not fit" in d.notes[-1]


def test_diff_shows_the_adapter_rows_added(built):
    folder, base, trainable, everything, _ = built["dora"]
    d = paramcount.diff(base, folder)
    rows = [(r.path, r.status, r.b[0], r.times) for r in d.rows()]
    assert rows == [  # per block: q 4·32 + 32·4 + 32, k 4·32 + 16·4 + 16
        ("model.layers.{0,1}.self_attn.q_proj.{lora_A,lora_B,lora_magnitude_vector}", "added",
         288, 2),
        ("model.layers.{0,1}.self_attn.k_proj.{lora_A,lora_B,lora_magnitude_vector}", "added",
         208, 2),
        ("lm_head.modules_to_save", "added", 64 * 32, 1)]
    assert d.delta[0] == trainable and d.b.totals[0] == everything
    assert d.counts()["removed"] == d.counts()["changed"] == 0
    back = paramcount.diff(folder, base)  # the other way round: the rows are removed
    assert {r.status for r in back.rows()} == {"removed"} and back.delta[0] == -trainable


def test_a_bin_adapter_counts_the_same(built, tmp_path):
    folder, base, trainable, everything, _ = built["lora"]
    model = peft.PeftModel.from_pretrained(transformers.LlamaForCausalLM.from_pretrained(base),
                                           folder)
    model.save_pretrained(tmp_path / "bin", safe_serialization=False)
    assert (tmp_path / "bin" / "adapter_model.bin").exists()
    s = summarize(tmp_path / "bin")
    assert s.total_params == trainable and s.figures["Base + adapter params"] == everything


def test_cli(built, capsys):
    folder, base, trainable, everything, merged = built["lora"]
    assert main([str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"Total params: {trainable:,}" in out and f"Base params: {merged:,}" in out
    assert f"Base + adapter params: {everything:,}" in out and "q_proj (LoRA)" in out
    assert main(["diff", str(base), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "added   model.layers.{0,1}.self_attn.q_proj.{lora_A,lora_B} (LoRA) ×2" in out
    assert "Rows: 12 added, 0 removed, 0 changed" in out


def test_a_remote_adapter_and_its_base(built, hub_at):
    folder, base, trainable, everything, merged = built["lora"]
    config = json.loads((folder / "adapter_config.json").read_text())
    hub_at.repos["org/base"] = Repo.with_files({p.name: p.read_bytes() for p in base.iterdir()})
    hub_at.repos["org/adapter"] = Repo.with_files({
        "adapter_config.json": {**config, "base_model_name_or_path": "org/base"},
        "adapter_model.safetensors": (folder / "adapter_model.safetensors").read_bytes()})
    s = summarize("org/adapter")
    assert s.total_params == trainable and s.source == "hf://org/adapter"
    assert s.figures["Base + adapter params"] == everything and s.figures["Merged params"] \
        == merged
    assert s.meta["peft"]["base"]["source"] == "hf://org/base"
    d = paramcount.diff("org/base", "org/adapter")
    assert d.delta[0] == trainable and d.counts()["removed"] == 0


def test_a_remote_adapter_reads_no_local_base(built, hub_at):
    folder = built["lora"][0]
    hub_at.repos["org/adapter"] = Repo.with_files({
        "adapter_config.json": (folder / "adapter_config.json").read_bytes(),
        "adapter_model.safetensors": (folder / "adapter_model.safetensors").read_bytes()})
    s = summarize("org/adapter")
    assert "Base params" not in s.figures
    assert "is not a Hub id: a remote adapter's base is looked up on the Hub only" in \
           s.notes[-2]


def test_a_relative_base_is_found_beside_the_adapter(built, tmp_path):
    folder, base, _, everything, _ = built["lora"]
    config = json.loads((folder / "adapter_config.json").read_text())
    shutil.copytree(folder, tmp_path / "adapter")
    shutil.copytree(base, tmp_path / "the-base")
    assert not Path("../the-base").exists()  # not from where the tests run
    (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps(
        {**config, "base_model_name_or_path": "../the-base"}))
    s = summarize(tmp_path / "adapter")
    assert s.figures["Base + adapter params"] == everything
    read = tmp_path / "adapter" / ".." / "the-base" / "model.safetensors"
    assert s.notes[-1] == f"Base model ../the-base: {read}"


def test_a_lora_bias_on_a_module_without_one_has_no_merged_model(built, tmp_path):
    base = built["lora"][1]
    model = peft.get_peft_model(transformers.LlamaForCausalLM.from_pretrained(base),
                                peft.LoraConfig(r=4, target_modules=["q_proj"], lora_bias=True))
    trainable, everything = model.get_nb_trainable_parameters()
    model.save_pretrained(tmp_path / "biased")
    with pytest.raises(RuntimeError, match="Impossible to merge LoRA with `lora_bias=True`"):
        model.merge_and_unload()
    s = summarize(tmp_path / "biased")
    assert s.total_params == trainable == 2 * (4 * 32 + 32 * 4 + 32)  # A, B and B's bias
    assert s.figures["Base + adapter params"] == everything and "Merged params" not in s.figures
    assert "No merged model: the adapter on model.layers.0.self_attn.q_proj has a bias" in \
        s.notes[-1]


def test_a_broken_config_is_one_line(tmp_path, capsys):
    folder = _lora_folder(tmp_path / "a", {"fc.lora_A.weight": (2, 4)})
    (folder / "adapter_config.json").write_text("[1, 2]")
    assert main([str(folder)]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "adapter_config.json: not a JSON object: not a PEFT adapter's config")


def test_a_remote_bin_adapter_is_not_downloaded(hub_at):
    hub_at.repos["org/bin"] = Repo.with_files({"adapter_config.json": {"peft_type": "LORA"},
                                               "adapter_model.bin": b"PK\x03\x04" + bytes(60)})
    with pytest.raises(SpecError, match=r"hf://org/bin/adapter_model\.bin: a remote "
                                        r"adapter_model\.bin is read only by a download"):
        summarize("org/bin")
    assert hub_at.bytes_sent("/cdn/") == 0


def test_an_adapter_in_the_cache_finds_its_base_in_the_cache(built, tmp_path, monkeypatch):
    """Offline: the adapter and the base it names by Hub id both come from a cache laid out as
    huggingface_hub lays it out (tests/test_sources_hub.py's ``put``)."""
    from test_sources_hub import put

    folder, base, trainable, everything, merged = built["lora"]
    config = json.loads((folder / "adapter_config.json").read_text())
    cache, commit = tmp_path / "hub", "c" * 40
    files = {"org--base": {p.name: p.read_bytes() for p in base.iterdir()},
             "org--adapter": {"adapter_config.json": json.dumps(
                 {**config, "base_model_name_or_path": "org/base"}).encode(),
                 "adapter_model.safetensors": (folder / "adapter_model.safetensors").read_bytes()}}
    for repo, tree in files.items():
        for name, data in tree.items():
            put(cache / f"models--{repo}", commit, name, data)
        (cache / f"models--{repo}" / "refs").mkdir()
        (cache / f"models--{repo}" / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    s = summarize("org/adapter")
    assert s.total_params == trainable and s.meta["hub"]["from"] == "cache"
    assert (s.figures["Base + adapter params"], s.figures["Merged params"]) == (everything,
                                                                                 merged)
