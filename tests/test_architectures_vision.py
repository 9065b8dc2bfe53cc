"""Swin, BEiT and data2vec-vision against transformers building the same model on the meta
device, module by module (``check_against_transformers``): tiny configs that turn each switch,
and the configs of released checkpoints (written here, as their config.json says)."""

from __future__ import annotations

import pytest
from test_sources_hf import check_against_transformers

import paramcount

pytest.importorskip("transformers")

SWIN_SMALL = {"embed_dim": 8, "depths": [1, 2], "num_heads": [1, 2], "image_size": 32,
              "patch_size": 4, "window_size": 2}
SWIN_CASES = {
    # name: (architecture, fields)
    "swin-tiny-patch4-window7-224": ("SwinForImageClassification", {"num_labels": 1000}),
    "swin-base-patch4-window7-224": ("SwinForImageClassification", {
        "embed_dim": 128, "depths": [2, 2, 18, 2], "num_heads": [4, 8, 16, 32],
        "num_labels": 1000}),
    "swin-large-patch4-window12-384": ("SwinForImageClassification", {
        "embed_dim": 192, "depths": [2, 2, 18, 2], "num_heads": [6, 12, 24, 48],
        "window_size": 12, "image_size": 384, "num_labels": 1000}),
    "small-model": ("SwinModel", SWIN_SMALL),
    "small-absolute-no-bias-ratio-2": ("SwinModel", {
        **SWIN_SMALL, "use_absolute_embeddings": True, "qkv_bias": False, "mlp_ratio": 2.0,
        "num_channels": 1}),
    "small-classifier": ("SwinForImageClassification", {**SWIN_SMALL, "num_labels": 3}),
}

BEIT_SMALL = {"hidden_size": 16, "intermediate_size": 24, "num_attention_heads": 2,
              "num_hidden_layers": 2, "image_size": 32, "patch_size": 8}
BEIT_BASE = {"use_relative_position_bias": True, "num_labels": 1000}  # beit-base-patch16-224
BEIT_CASES = {
    # name: (model_type, architecture, fields)
    "beit-base-patch16-224": ("beit", "BeitForImageClassification", BEIT_BASE),
    "beit-large-patch16-224": ("beit", "BeitForImageClassification", {
        **BEIT_BASE, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
        "intermediate_size": 4096}),
    "beit-base-patch16-224-pt22k": ("beit", "BeitForMaskedImageModeling", {
        "use_shared_relative_position_bias": True, "use_mask_token": True,
        "use_mean_pooling": False}),
    "beit-defaults-model": ("beit", "BeitModel", {}),
    "beit-small-absolute-no-scale": ("beit", "BeitModel", {
        **BEIT_SMALL, "use_absolute_position_embeddings": True, "layer_scale_init_value": 0.0,
        "use_mean_pooling": False}),
    "beit-small-shared-classifier": ("beit", "BeitForImageClassification", {
        **BEIT_SMALL, "use_shared_relative_position_bias": True, "num_labels": 3}),
    "data2vec-vision-base-ft1k": ("data2vec-vision", "Data2VecVisionForImageClassification",
                                  BEIT_BASE),
    "data2vec-vision-large": ("data2vec-vision", "Data2VecVisionModel", {
        "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
        "intermediate_size": 4096, "use_relative_position_bias": True}),
    "data2vec-vision-small-shared-mask": ("data2vec-vision", "Data2VecVisionModel", {
        **BEIT_SMALL, "use_shared_relative_position_bias": True, "use_mask_token": True,
        "use_mean_pooling": False}),
    "data2vec-vision-small-absolute-classifier": (
        "data2vec-vision", "Data2VecVisionForImageClassification", {
            **BEIT_SMALL, "use_absolute_position_embeddings": True, "num_labels": 3,
            "layer_scale_init_value": 0.0}),
}


@pytest.mark.parametrize("name", list(SWIN_CASES))
def test_swin_equals_transformers(name):
    architecture, fields = SWIN_CASES[name]
    s = check_against_transformers({"model_type": "swin", "architectures": [architecture],
                                    **fields})
    assert "fallback" not in s.meta


@pytest.mark.parametrize("name", list(BEIT_CASES))
def test_beit_equals_transformers(name):
    model_type, architecture, fields = BEIT_CASES[name]
    s = check_against_transformers({"model_type": model_type, "architectures": [architecture],
                                    **fields})
    assert "fallback" not in s.meta


def test_swin_published_total():
    """timm's and the Swin paper's Swin-T: 28,288,354 parameters with a 1000-class head."""
    s = paramcount.summarize({"model_type": "swin", "architectures": [
        "SwinForImageClassification"], "num_labels": 1000})
    assert s.total_params == 28_288_354


def test_swin_bias_table_by_hand():
    """A window of 2 patches has 3 × 3 relative offsets, one bias each per head: a stage of
    one layer with 1 head, then 2 layers with 2 heads."""
    s = paramcount.summarize({"model_type": "swin", "architectures": ["SwinModel"],
                              **SWIN_SMALL})
    tables = [n.params * t for _, n, t in s.root.walk_times()
              if n.name == "relative_position_bias_table"]
    assert sum(tables) == 9 * 1 + 2 * 9 * 2


def test_beit_bias_table_by_hand():
    """A 4 × 4 grid of patches: 7 × 7 offsets and 3 for the class token, per head (2)."""
    s = paramcount.summarize({"model_type": "beit", "architectures": ["BeitModel"],
                              **BEIT_SMALL, "use_shared_relative_position_bias": True})
    table = next(n for _, n in s.root.walk() if n.name == "relative_position_bias_table")
    assert table.params == (7 * 7 + 3) * 2


def test_a_ratio_that_is_not_a_number_names_its_field():
    with pytest.raises(paramcount.errors.SpecError, match="mlp_ratio='4' is not a number"):
        paramcount.summarize({"model_type": "swin", "architectures": ["SwinModel"],
                              **SWIN_SMALL, "mlp_ratio": "4"})


def test_swin_heads_per_stage_must_match_depths():
    with pytest.raises(paramcount.errors.SpecError, match="num_heads"):
        paramcount.summarize({"model_type": "swin", "architectures": ["SwinModel"],
                              **SWIN_SMALL, "num_heads": [1]})
