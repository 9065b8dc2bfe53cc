"""Design to a budget: ``paramcount transformer`` with one shape number left out and a target.
The two neighbours' counts, computed by the same builder as ``paramcount transformer`` (a
config built as transformers builds it, oracle-tested in test_architectures_*), bracket the
target, and the neighbours are one step apart; the Llama case is checked by hand too."""

from __future__ import annotations

import json

import pytest

from paramcount.architectures import design
from paramcount.architectures.custom import transformer_config
from paramcount.cli import main
from paramcount.errors import SpecError
from paramcount.sources.hf import from_dict

LLAMA = {"layers": 32, "d_model": 4096, "heads": 32, "vocab": 32000, "gated": True}


def built(shape: dict) -> int:
    return from_dict(transformer_config(**shape)).total_params


@pytest.mark.parametrize("unknown, step", [("layers", 1), ("d_model", 32), ("ffn", 1)])
@pytest.mark.parametrize("target", [7_000_000_000, 13_000_000_000])
def test_neighbours_bracket_the_target(unknown, step, target):
    shape = {**LLAMA, unknown: None}
    s = design.solve(target, shape)
    assert s.unknown == unknown
    below = built({**shape, unknown: s.below.value})
    above = built({**shape, unknown: s.above.value})
    assert (below, above) == (s.below.params, s.above.params)
    assert below <= target <= above
    assert s.above.value - s.below.value == step


def test_layers_by_hand():
    # a Llama block: 4 attention projections, a gated MLP of 11,008 and two RMSNorms
    block = 4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096
    ends = 2 * 32000 * 4096 + 4096  # embedding, LM head, final norm
    s = design.solve(7_000_000_000, {**LLAMA, "layers": None})
    assert (s.below.value, s.above.value) == (33, 34)
    assert s.below.params == ends + 33 * block and s.above.params == ends + 34 * block


def test_an_exact_hit_and_an_overshoot():
    gpt2 = {"layers": None, "d_model": 768, "heads": 12, "vocab": 50257}
    s = design.solve(124_439_808, gpt2)  # GPT-2 small: 12 layers
    assert s.below == s.above == design.Neighbour(12, 124_439_808)
    s = design.solve(1_000, gpt2)  # the embeddings alone are more
    assert s.below is None and s.above.value == 1 and s.nearest == s.above


@pytest.mark.parametrize("shape, message", [
    ({**LLAMA, "layers": None, "d_model": None}, "give --layers or --d-model"),
    ({**LLAMA, "ffn": 11008}, "omit --layers, --d-model or --ffn"),
])
def test_what_to_solve_for(shape, message):
    with pytest.raises(SpecError, match=message):
        design.solve(7_000_000_000, shape)


def test_parse_count():
    assert design.parse_count("7B") == 7 * 10**9 and design.parse_count("0.5k") == 500
    with pytest.raises(SpecError, match="expected a count"):
        design.parse_count("seven")


def transformer(capsys, *args):
    code = main(["transformer", "--heads", "32", "--vocab", "32000", "--gated", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli(capsys):
    code, out, _ = transformer(capsys, "--d-model", "4096", "--target-params", "7B")
    assert code == 0
    assert "--layers 33: 6,940,798,976 parameters (-0.85%)  (nearest)" in out
    assert "--layers 34: 7,143,182,336 parameters (+2.05%)" in out
    assert 'Model: "LlamaForCausalLM"' in out
    # 16 GB of bf16 weights: 8·10⁹ parameters
    code, out, _ = transformer(capsys, "--layers", "32", "--d-model", "4096",
                               "--target-memory", "16GB", "--format", "json")
    doc = json.loads(out)
    assert doc["target_params"] == 8 * 10**9 and doc["solve_for"] == "ffn"
    assert doc["below"]["params"] <= 8 * 10**9 <= doc["above"]["params"]
    assert doc["above"]["value"] == doc["below"]["value"] + 1
    code, out, _ = transformer(capsys, "--layers", "32", "--d-model", "4096",
                               "--target-memory", "8GB", "--dtype", "int4", "--format", "json")
    assert json.loads(out)["target_params"] == 16 * 10**9


def test_cli_errors(capsys):
    code, _, err = transformer(capsys, "--d-model", "4096")
    assert code == 2 and "--layers is required" in err
    code, _, err = transformer(capsys, "--target-params", "7B")
    assert code == 2 and "give --layers or --d-model" in err
