"""`paramcount.diff` (in paramcount/comparison/): two models compared path by path. Every
expected count is what PyTorch or transformers reports for the tensors involved (numel sums)
or a hand calculation written out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

import paramcount
from paramcount.comparison import Diff, diff
from paramcount.errors import SpecError
from paramcount.report.diff import render_diff

D, VOCAB, R, N = 8, 20, 2, 3  # width, vocabulary, LoRA rank, blocks of the tiny model


class Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q_proj = torch.nn.Linear(D, D, bias=False)
        self.v_proj = torch.nn.Linear(D, D)
        self.norm = torch.nn.LayerNorm(D)


class Tiny(torch.nn.Module):
    def __init__(self, tied: bool = False) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, D)
        self.layers = torch.nn.ModuleList(Block() for _ in range(N))
        self.head = torch.nn.Linear(D, VOCAB, bias=False)
        if tied:
            self.head.weight = self.embed.weight


def numel(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # tied parameters once


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def lora(sd: dict[str, torch.Tensor], key: str = "{}.lora_{}.weight") -> dict[str, torch.Tensor]:
    """LoRA adapters on every q_proj and v_proj: A is (rank, in), B is (out, rank)."""
    out = dict(sd)
    for i in range(N):
        for proj in ("q_proj", "v_proj"):
            base = f"layers.{i}.{proj}"
            out[key.format(base, "A")] = torch.zeros(R, D)
            out[key.format(base, "B")] = torch.zeros(D, R)
    return out


ADAPTERS = N * 2 * (R * D + D * R)  # 3 blocks × 2 projections × (A: 2×8 + B: 8×2) = 192
ONE_PAIR = R * D + D * R  # 32


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = Tiny()
    path = tmp_path_factory.mktemp("tiny") / "base.safetensors"
    save_file(state(model), str(path))
    return path, model


def write(tmp_path: Path, name: str, tensors: dict[str, torch.Tensor]) -> Path:
    path = tmp_path / name
    save_file(tensors, str(path))
    return path


def spec(tmp_path: Path, name: str, layers: list[Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "input_shape": [4], "layers": layers}))
    return path


def shown(d: Diff, **options: Any) -> list[tuple[str, str, int, int]]:
    return [(r.path, r.status, r.delta, r.times) for r in d.rows(**options)]


# -- checkpoints: LoRA adapters, a changed shape, other formats ------------------------------

def test_lora_adapters_fold_into_one_row_per_projection(tiny, tmp_path):
    base, model = tiny
    d = diff(base, write(tmp_path, "lora.safetensors", lora(state(model))))
    assert shown(d) == [("layers.{0..2}.q_proj.{lora_A,lora_B}", "added", ONE_PAIR, N),
                        ("layers.{0..2}.v_proj.{lora_A,lora_B}", "added", ONE_PAIR, N)]
    assert d.delta == (ADAPTERS, ADAPTERS, 0, 0)
    assert d.rows()[0].details == (f"lora_A.weight ({R}, {D})", f"lora_B.weight ({D}, {R})")
    assert sum(r.delta * r.times for r in d.rows()) == ADAPTERS
    assert d.counts() == {"added": N * 4, "removed": 0, "changed": 0,
                          "unchanged": 2 + N * 3}  # embed, head; q, v, norm of each block


def test_lora_at_depth_and_unfolded(tiny, tmp_path):
    base, model = tiny
    d = diff(base, write(tmp_path, "lora.safetensors", lora(state(model))))
    per_block = 2 * ONE_PAIR
    assert shown(d, depth=1) == [("layers", "changed", ADAPTERS, 1)]
    assert d.rows(depth=1)[0].details == (f"below: {N * 4} added",)
    assert shown(d, depth=2) == [("layers.{0..2}", "changed", per_block, N)]
    unfolded = d.rows(fold=False)
    assert len(unfolded) == N * 4  # 3 blocks × 2 projections × 2 adapters
    assert {r.path for r in unfolded} >= {"layers.0.q_proj.lora_A", "layers.2.v_proj.lora_B"}
    everything = shown(d, all=True)
    assert ("embed", "unchanged", 0, 1) in everything
    assert ("layers.{0..2}.q_proj", "unchanged", 0, N) in everything
    assert len(everything) == 2 + 3 + 2  # embed, head; q, v, norm ×3; two adapter rows


def test_one_altered_shape_is_the_only_row(tiny, tmp_path):
    base, model = tiny
    sd = state(model)
    sd["layers.1.v_proj.weight"] = torch.zeros(D + 4, D)
    d = diff(base, write(tmp_path, "bad.safetensors", sd))
    assert shown(d) == [("layers.1.v_proj", "changed", 4 * D, 1)]  # 4 more rows of 8
    assert d.rows()[0].details == (f"weight ({D}, {D}) → ({D + 4}, {D})",)
    assert d.changed


def test_same_model_in_two_formats_is_unchanged(tiny, tmp_path):
    base, model = tiny
    torch.save(model.state_dict(), tmp_path / "model.pt")
    d = diff(base, tmp_path / "model.pt")
    assert not d.changed and d.rows() == []
    assert d.a.totals[0] == d.b.totals[0] == numel(model)


def test_tied_head_counts_once(tmp_path):
    tied, untied = Tiny(tied=True), Tiny()
    torch.save(tied.state_dict(), tmp_path / "tied.pt")  # two names, one storage
    torch.save(untied.state_dict(), tmp_path / "untied.pt")
    d = diff(tmp_path / "tied.pt", tmp_path / "untied.pt")
    assert d.delta[0] == numel(untied) - numel(tied) == VOCAB * D
    assert shown(d) == [("head", "changed", VOCAB * D, 1)]
    assert d.rows()[0].details == (f"+weight ({VOCAB}, {D})",)


def test_live_models_against_a_checkpoint_and_each_other(tiny):
    base, model = tiny
    assert not diff(model, base).changed  # a torch.nn.Module, summarized in memory
    frozen = Tiny()
    frozen.embed.weight.requires_grad_(False)
    d = diff(model, frozen)
    embed = frozen.embed.weight.numel()
    trainable = sum(p.numel() for p in frozen.parameters() if p.requires_grad)
    assert d.delta == (0, trainable - numel(model), embed, 0)
    assert shown(d) == [("embed", "changed", 0, 1)]
    assert d.rows()[0].details == ("weight trainable → non-trainable",)


class Scaled(torch.nn.Module):
    """A parameter of the model itself, not of a submodule: the root's row."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)
        self.scale = torch.nn.Parameter(torch.ones(3))


def test_weights_of_the_root_itself():
    plain, scaled = torch.nn.Module(), Scaled()
    plain.fc = scaled.fc
    d = diff(plain, scaled)
    assert shown(d) == [("(root)", "changed", scaled.scale.numel(), 1)]
    assert d.rows()[0].details == ("+scale (3,)",)
    assert d.delta[0] == numel(scaled) - numel(plain) == 3


def test_peft_checkpoint_against_its_base(tiny, tmp_path):
    """PEFT wraps each adapted Linear: its weight moves to `base_layer`, the adapters are
    `lora_A.default`, and every name starts with `base_model.model.`."""
    base, model = tiny
    sd = {}
    for key, value in lora(state(model), "{}.lora_{}.default.weight").items():
        module, _, name = key.rpartition(".")
        if module.endswith(("q_proj", "v_proj")):
            key = f"{module}.base_layer.{name}"
        sd[f"base_model.model.{key}"] = value
    d = diff(base, write(tmp_path, "peft.safetensors", sd))
    assert shown(d) == [("layers.{0..2}.q_proj.{lora_A,lora_B}", "added", ONE_PAIR, N),
                        ("layers.{0..2}.v_proj.{lora_A,lora_B}", "added", ONE_PAIR, N)]
    assert d.delta[0] == ADAPTERS
    assert d.notes[0].startswith("paths matched after stripping `base_model.model.` from B's")
    assert d.notes[1] == "PEFT base_layer weights of B compared with the wrapped module's own " \
                         f"({N * 2} modules)"


# -- a Hugging Face config against the checkpoint transformers writes from it ------------------

@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> tuple[Path, Path, Any]:
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("llama")
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=32, architectures=["LlamaForCausalLM"])
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    return folder / "config.json", folder / "model.safetensors", model


def test_config_against_its_checkpoint_is_unchanged(llama):
    config, weights, model = llama
    d = diff(config, weights)
    assert not d.changed and d.rows() == []
    assert d.a.totals[0] == d.b.totals[0] == numel(model)
    assert d.notes == ["types are not compared: B's are guessed from its tensor names"]
    assert len(d.rows(all=True)) == 12  # embed, 9 per block (folded ×2), norm, lm_head


def test_config_against_a_checkpoint_with_one_shape_altered(llama, tmp_path):
    config, weights, _ = llama
    sd = load_file(str(weights))
    sd["model.layers.1.mlp.up_proj.weight"] = torch.zeros(40, 16)  # was (32, 16)
    d = diff(config, write(tmp_path, "bad.safetensors", sd))
    assert shown(d) == [("model.layers.1.mlp.up_proj", "changed", 8 * 16, 1)]
    assert d.rows()[0].details == ("weight (32, 16) → (40, 16)",)
    assert d.rows()[0].type_a == "Linear"


def test_backbone_checkpoint_matches_after_stripping_model(llama, tmp_path):
    """A checkpoint saved from LlamaModel names `layers.0...` where the config has
    `model.layers.0...`."""
    config, _, model = llama
    backbone = write(tmp_path, "backbone.safetensors", state(model.model))
    d = diff(config, backbone)
    head = model.lm_head.weight.numel()
    assert shown(d) == [("lm_head", "removed", -head, 1)]
    assert d.delta[0] == numel(model.model) - numel(model)
    assert d.prefix == (("model",), ())
    assert d.notes[0] == ("paths matched after stripping `model.` from A's paths "
                          "(otherwise 0 of 20 tensors match)")  # 21 tensors less lm_head


def test_tied_config_against_the_checkpoint_that_drops_the_head(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=50, n_positions=16, n_embd=8, n_layer=2, n_head=2,
                        architectures=["GPT2LMHeadModel"])
    model = GPT2LMHeadModel(config)
    model.save_pretrained(tmp_path, safe_serialization=True)  # lm_head.weight not stored
    d = diff(tmp_path / "config.json", tmp_path / "model.safetensors")
    assert not d.changed and d.b.totals[0] == numel(model)
    assert ("lm_head", "unchanged", 0, 1) in shown(d, all=True)  # tied on both sides
    # without its config.json beside it, the checkpoint has no lm_head row at all
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "model.safetensors").write_bytes((tmp_path / "model.safetensors").read_bytes())
    d = diff(tmp_path / "config.json", alone / "model.safetensors")
    assert not d.changed and d.rows(all=True)[-1].path == "transformer.ln_f"
    assert "1 parameter-free row not compared: a checkpoint stores no parameter-free " \
           "layer" in d.notes


# -- model descriptions: shapes, types, trainable ------------------------------------------

DENSE = [{"Dense": {"units": 8, "name": "fc1"}}, {"Dropout": {"rate": 0.5, "name": "drop"}},
         {"Dense": {"units": 2, "name": "fc2"}}]

SPEC_CASES = [
    # (B's layers, rows shown, total delta by hand)
    ([{"Dense": {"units": 16, "name": "fc1"}}, DENSE[1], DENSE[2]],
     [("fc1", "changed", (4 + 1) * 16 - (4 + 1) * 8, 1),
      ("fc2", "changed", (16 + 1) * 2 - (8 + 1) * 2, 1)],
     (4 + 1) * 8 + (16 + 1) * 2 - (8 + 1) * 2),
    ([DENSE[0], {"Activation": {"activation": "relu", "name": "drop"}}, DENSE[2]],
     [("drop", "changed", 0, 1)], 0),
    ([DENSE[0], DENSE[2]], [("drop", "removed", 0, 1)], 0),
    ([*DENSE, {"Dense": {"units": 3, "name": "extra"}}], [("extra", "added", (2 + 1) * 3, 1)],
     (2 + 1) * 3),
]


@pytest.mark.parametrize(("layers", "rows", "delta"), SPEC_CASES)
def test_spec_changes_by_hand(tmp_path, layers, rows, delta):
    d = diff(spec(tmp_path, "a", DENSE), spec(tmp_path, "b", layers))
    assert shown(d) == rows
    assert d.delta[0] == delta and d.types_compared


def test_details_of_shape_type_and_role_changes(tmp_path):
    a = spec(tmp_path, "a", DENSE)
    b = spec(tmp_path, "b", [{"Dense": {"units": 8, "name": "fc1", "trainable": False}},
                             {"Activation": {"activation": "relu", "name": "drop"}}, DENSE[2]])
    d = diff(a, b)
    assert [r.details for r in d.rows()] == [
        ("kernel trainable → non-trainable", "bias trainable → non-trainable"),
        ("type Dropout → Activation",)]
    assert d.delta == (0, -(4 + 1) * 8, (4 + 1) * 8, 0)
    shapes = diff(a, spec(tmp_path, "c", [{"Dense": {"units": 8, "name": "fc1",
                                                     "use_bias": False}}, *DENSE[1:]]))
    assert shapes.rows()[0].details == ("-bias (8,)",)


def test_unrelated_models_are_all_added_and_removed(tiny, tmp_path):
    base, model = tiny
    d = diff(spec(tmp_path, "a", DENSE), base)
    removed = [r for r in d.rows() if r.status == "removed"]
    added = [r for r in d.rows() if r.status == "added"]
    assert sum(r.a[0] for r in removed if r.a) == (4 + 1) * 8 + (8 + 1) * 2
    assert sum(r.b[0] * r.times for r in added if r.b) == numel(model)
    # the Dropout is not reported: a checkpoint stores no parameter-free layer
    rows = {r.path: r for r in d.rows()}
    assert list(rows) == ["fc1", "fc2", "embed", "head", "layers"]  # safetensors sorts names
    assert d.notes[-1] == ("1 parameter-free row not compared: a checkpoint stores no "
                           "parameter-free layer")
    assert rows["layers"].details == (f"{N * 5} tensors",)  # 5 per block
    assert rows["head"].details == (f"head.weight ({VOCAB}, {D})",)


def test_summaries_zoo_entries_and_dicts(tmp_path):
    a = paramcount.summarize({"input_shape": [4], "layers": DENSE})
    assert not diff(a, {"input_shape": [4], "layers": DENSE}).changed
    assert not diff("zoo:gpt2", "gpt2").changed
    grown = diff("zoo:gpt2", "zoo:gpt2", params={"n_layer": 13})
    assert not grown.changed  # options apply to both sides
    d = diff(paramcount.zoo.load("gpt2"), paramcount.zoo.load("gpt2", {"n_layer": 13}))
    per_block = 12 * 768 * 768 + 13 * 768  # GPT-2 block: 4·d² + 8·d² weights, 13·d biases
    assert d.delta[0] == per_block
    assert shown(d) == [("transformer.h.12", "added", per_block, 1)]


def test_growth_and_ratio_by_hand(tmp_path):
    d = diff(spec(tmp_path, "a", DENSE), spec(tmp_path, "b", DENSE[:1]))
    a, b = (4 + 1) * 8 + (8 + 1) * 2, (4 + 1) * 8
    assert d.ratio == b / a and not d.grown_more_than(0)
    grown = diff(spec(tmp_path, "b", DENSE[:1]), spec(tmp_path, "a", DENSE))
    assert grown.grown_more_than(44) and not grown.grown_more_than(45)  # 58 / 40 = +45%


def test_errors(tmp_path):
    with pytest.raises(SpecError, match=r"no zoo entry 'nope'"):
        diff("zoo:nope", "zoo:gpt2")
    with pytest.raises(SpecError, match=r"missing.yaml: no such file"):
        diff(tmp_path / "missing.yaml", "zoo:gpt2")
    with pytest.raises(SpecError, match=r"unknown format 'csv'; expected one of table, json, "
                                        r"markdown"):
        render_diff(diff("zoo:gpt2", "zoo:gpt2"), "csv")
