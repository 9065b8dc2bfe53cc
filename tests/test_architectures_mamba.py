"""Mamba, Falcon-Mamba and Mamba-2 (paramcount/architectures/mamba.py) against transformers
building the same model on the meta device, module by module, at tiny sizes and at released
models' shapes (configs written here as their repos give them)."""

from __future__ import annotations

import pytest
from test_sources_hf import check_against_transformers

import paramcount

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "vocab_size": 100, "state_size": 8}

CASES = {
    "mamba-defaults": ("mamba", "MambaForCausalLM", {}),
    "mamba-tiny-biased": ("mamba", "MambaForCausalLM", {
        **TINY, "use_bias": True, "use_conv_bias": False, "time_step_rank": 5, "expand": 3}),
    "mamba-tiny-backbone": ("mamba", "MambaModel", {**TINY, "conv_kernel": 3}),
    # state-spaces/mamba-2.8b-hf
    "mamba-2.8b": ("mamba", "MambaForCausalLM", {
        "hidden_size": 2560, "num_hidden_layers": 64, "vocab_size": 50280, "state_size": 16,
        "expand": 2, "conv_kernel": 4, "time_step_rank": 160, "use_bias": False,
        "use_conv_bias": True}),
    "falcon-mamba-tiny-untied": ("falcon_mamba", "FalconMambaForCausalLM", {
        **TINY, "tie_word_embeddings": False}),
    # tiiuae/falcon-mamba-7b
    "falcon-mamba-7b": ("falcon_mamba", "FalconMambaForCausalLM", {
        "hidden_size": 4096, "num_hidden_layers": 64, "vocab_size": 65024, "state_size": 16,
        "expand": 2, "conv_kernel": 4, "time_step_rank": 256, "use_bias": False,
        "use_conv_bias": True, "tie_word_embeddings": False}),
    "mamba2-tiny": ("mamba2", "Mamba2ForCausalLM", {
        "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100, "state_size": 8,
        "num_heads": 8, "head_dim": 16, "n_groups": 2, "use_bias": True}),
    "mamba2-tiny-tied-backbone": ("mamba2", "Mamba2Model", {
        "hidden_size": 64, "num_hidden_layers": 3, "vocab_size": 100, "state_size": 4,
        "num_heads": 4, "head_dim": 32, "n_groups": 1, "use_conv_bias": False}),
    # mistralai/Mamba-Codestral-7B-v0.1
    "mamba-codestral-7b": ("mamba2", "Mamba2ForCausalLM", {
        "hidden_size": 4096, "num_hidden_layers": 64, "vocab_size": 32768, "state_size": 128,
        "num_heads": 128, "head_dim": 64, "n_groups": 8, "expand": 2, "conv_kernel": 4,
        "use_bias": False, "use_conv_bias": True, "tie_word_embeddings": False}),
}


def _doc(name: str) -> dict:
    model_type, architecture, fields = CASES[name]
    return {"model_type": model_type, "architectures": [architecture], **fields}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    check_against_transformers(_doc(name))


def test_mamba_by_hand():
    # one layer of a 32-wide Mamba, inner 64, state 8, rank ceil(32 / 16) = 2, kernel 4:
    # in_proj 32·128, conv 64·4 + 64, x_proj 64·(2 + 16), dt_proj 2·64 + 64, A_log 64·8, D 64,
    # out_proj 64·32, norm 32
    layer = 32 * 128 + 64 * 4 + 64 + 64 * 18 + 2 * 64 + 64 + 64 * 8 + 64 + 64 * 32 + 32
    s = paramcount.summarize({"model_type": "mamba", "architectures": ["MambaForCausalLM"],
                              **TINY})
    assert s.total_params == 100 * 32 + 2 * layer + 32   # the LM head is tied


def test_the_mixer_keeps_a_state_and_no_kv_cache():
    s = paramcount.summarize(_doc("mamba2-tiny"))
    mixers = [n for _, n in s.root.walk() if n.name == "mixer"]
    assert mixers and all(n.attention is None for n in mixers)
    # inner 2 × 64 = 128; conv over 128 + 2·2·8 = 160 channels × kernel 4; 8 heads × 16 × 8
    assert {(n.state.channels, n.state.kernel, n.state.ssm) for n in mixers} == {(160, 4, 1024)}
