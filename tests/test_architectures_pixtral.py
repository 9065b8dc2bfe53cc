"""Pixtral's vision encoder alone (model type ``pixtral``, paramcount/architectures/
vision_language.py) against transformers building it on the meta device, module by module."""

from __future__ import annotations

import pytest
from test_sources_hf import check_against_transformers

import paramcount

CASES = {
    # transformers' defaults: Pixtral-12B's vision encoder (its config.json's vision_config:
    # 24 layers of 1024, 16 heads, patches of 16, images up to 1024)
    "pixtral-12b-vision": {},
    "pixtral-small": {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 3,
                      "num_attention_heads": 4, "patch_size": 8, "image_size": 64,
                      "head_dim": 32},
}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_transformers(name):
    check_against_transformers({"model_type": "pixtral", "architectures": ["PixtralVisionModel"],
                                **CASES[name]})


def test_by_hand():
    s = paramcount.summarize({"model_type": "pixtral", "architectures": ["PixtralVisionModel"]})
    h, inner = 1024, 4096
    layer = 4 * h * h + 3 * h * inner + 2 * h       # attention, gated MLP, two RMSNorms
    assert s.total_params == 3 * 16 * 16 * h + h + 24 * layer   # patch conv, ln_pre
