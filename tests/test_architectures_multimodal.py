"""Vision-language models (LLaVA, LLaVA-NeXT, Gemma 3, Qwen2-VL) and the SigLIP vision tower against
transformers building the same model on the meta device, module by module
(``check_against_transformers``), and each component's figure against the parameters of
transformers' own submodule."""

from __future__ import annotations

import pytest
from test_sources_hf import build_with_transformers, check_against_transformers

import paramcount
from paramcount.errors import SpecError

pytest.importorskip("transformers")

VISION = {"model_type": "clip_vision_model", "hidden_size": 16, "intermediate_size": 32,
          "num_attention_heads": 2, "num_hidden_layers": 2, "image_size": 32, "patch_size": 8}
LLAMA = {"model_type": "llama", "hidden_size": 16, "intermediate_size": 32,
         "num_attention_heads": 2, "num_hidden_layers": 2, "vocab_size": 100,
         "num_key_value_heads": 1}
QWEN2 = {**LLAMA, "model_type": "qwen2"}
GEMMA = {**LLAMA, "model_type": "gemma", "head_dim": 8}  # Gemma ties its head by default
SMALL = {"vision_config": VISION, "text_config": LLAMA}

CASES = {
    # name: fields of the config (the model_type and architecture come from the test)
    "small": SMALL,
    "tied-by-text-config": {**SMALL, "text_config": {**LLAMA, "tie_word_embeddings": True}},
    "tied-by-top-config": {**SMALL, "tie_word_embeddings": True},
    "two-feature-layers-no-bias": {**SMALL, "vision_feature_layer": [-2, -5],
                                   "multimodal_projector_bias": False},
    "full-features": {**SMALL, "vision_feature_select_strategy": "full"},
    "qwen2-text": {**SMALL, "text_config": QWEN2},
    "gemma-text": {**SMALL, "text_config": GEMMA},
    "siglip-tower": {**SMALL, "vision_config": {**VISION, "model_type": "siglip_vision_model"}},
    "llava-1.5-7b-defaults": {},  # no sub-configs: LLaVA-1.5's CLIP ViT-L/14-336 and Llama
    "pixtral-tower": {**SMALL, "vision_config": {
        "model_type": "pixtral", "hidden_size": 32, "intermediate_size": 64,
        "num_attention_heads": 2, "num_hidden_layers": 2, "image_size": 64, "patch_size": 8,
        "head_dim": 16}},
    "pixtral-12b": {  # mistral-community/pixtral-12b
        "vision_feature_layer": -1, "vision_feature_select_strategy": "full",
        "vision_config": {"model_type": "pixtral", "hidden_size": 1024,
                          "intermediate_size": 4096, "num_attention_heads": 16,
                          "num_hidden_layers": 24, "image_size": 1024, "patch_size": 16,
                          "head_dim": 64},
        "text_config": {"model_type": "mistral", "hidden_size": 5120, "head_dim": 128,
                        "intermediate_size": 14336, "num_attention_heads": 32,
                        "num_key_value_heads": 8, "num_hidden_layers": 40,
                        "vocab_size": 131072}},
}
FAMILIES = {"llava": ("LlavaForConditionalGeneration", "LlavaModel"),
            "llava_next": ("LlavaNextForConditionalGeneration", "LlavaNextModel")}
PARTS = ("vision_tower", "multi_modal_projector", "language_model")


SIGLIP = {**VISION, "model_type": "siglip_vision_model"}
GEMMA3_TEXT = {**GEMMA, "model_type": "gemma3_text"}
GEMMA3 = {"vision_config": SIGLIP, "text_config": GEMMA3_TEXT, "mm_tokens_per_image": 4}
GEMMA3_CASES = {
    "small": GEMMA3,
    "untied": {**GEMMA3, "tie_word_embeddings": False},
    # the text config's flag is not read: the top one (true by default) ties the head
    "text-config-untied": {**GEMMA3, "text_config": {**GEMMA3_TEXT,
                                                     "tie_word_embeddings": False}},
    "no-pooling-head": {**GEMMA3, "vision_config": {**SIGLIP, "vision_use_head": False}},
    "gemma-3-4b-defaults": {},  # SigLIP-B/16 at 224 pixels and Gemma 3 text's defaults
}
SIGLIP_CASES = {"small": SIGLIP, "no-head": {**SIGLIP, "vision_use_head": False},
                "defaults": {"model_type": "siglip_vision_model"}}


QWEN2_VL_VISION = {"depth": 2, "embed_dim": 16, "hidden_size": 24, "num_heads": 2,
                   "mlp_ratio": 2, "patch_size": 4, "spatial_merge_size": 2,
                   "temporal_patch_size": 2}
QWEN2_VL_TEXT = {"hidden_size": 24, "intermediate_size": 32, "num_attention_heads": 2,
                 "num_hidden_layers": 2, "vocab_size": 100, "num_key_value_heads": 1}
QWEN2_VL_CASES = {
    "small": {"vision_config": QWEN2_VL_VISION, "text_config": QWEN2_VL_TEXT},
    # configs saved before transformers 5 keep the language model's fields at the top
    "flat": {"vision_config": QWEN2_VL_VISION, **QWEN2_VL_TEXT},
    "flat-tied": {"vision_config": QWEN2_VL_VISION, **QWEN2_VL_TEXT,
                  "tie_word_embeddings": True},
    "tied-by-text-config": {"vision_config": QWEN2_VL_VISION,
                            "text_config": {**QWEN2_VL_TEXT, "tie_word_embeddings": True}},
    "qwen2-vl-72b-defaults": {},
}


PIXTRAL = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
           "num_hidden_layers": 2, "image_size": 64, "patch_size": 8, "head_dim": 16}
MISTRAL = {**LLAMA, "model_type": "mistral", "hidden_size": 48, "head_dim": 24}
MISTRAL3_CASES = {
    "small": {"vision_config": PIXTRAL, "text_config": MISTRAL},
    "untied-two-feature-layers-bias": {
        "vision_config": PIXTRAL, "text_config": MISTRAL, "tie_word_embeddings": False,
        "vision_feature_layer": [-1, -2], "multimodal_projector_bias": True,
        "spatial_merge_size": 1},
    "text-config-untied": {"vision_config": PIXTRAL,
                           "text_config": {**MISTRAL, "tie_word_embeddings": False}},
    "mistral-small-3.1-24b-defaults": {},
}


QWEN2_5_VL_VISION = {"depth": 2, "hidden_size": 16, "intermediate_size": 24, "num_heads": 2,
                     "out_hidden_size": 24, "patch_size": 4, "fullatt_block_indexes": [1]}
QWEN2_5_VL_7B = {  # Qwen/Qwen2.5-VL-7B-Instruct
    "vision_config": {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420,
                      "num_heads": 16, "out_hidden_size": 3584, "patch_size": 14},
    "text_config": {"hidden_size": 3584, "intermediate_size": 18944, "num_attention_heads": 28,
                    "num_hidden_layers": 28, "num_key_value_heads": 4, "vocab_size": 152064}}
QWEN2_5_VL_CASES = {
    "small": {"vision_config": QWEN2_5_VL_VISION, "text_config": QWEN2_VL_TEXT},
    "flat-tied": {"vision_config": QWEN2_5_VL_VISION, **QWEN2_VL_TEXT,
                  "tie_word_embeddings": True},
    "qwen2.5-vl-7b": QWEN2_5_VL_7B,
}


PALIGEMMA_CASES = {
    "small": {"vision_config": SIGLIP, "text_config": GEMMA, "projection_dim": 16},
    "gemma2-untied-no-head": {
        "vision_config": {**SIGLIP, "vision_use_head": False}, "projection_dim": 16,
        "text_config": {**GEMMA, "model_type": "gemma2"}, "tie_word_embeddings": False},
    "paligemma-3b-pt-224-defaults": {},
}


IDEFICS3_VISION = {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
                   "num_hidden_layers": 2, "image_size": 32, "patch_size": 8}
IDEFICS3_TEXT = {**LLAMA, "hidden_size": 24}
IDEFICS3_CASES = {
    "small": {"vision_config": IDEFICS3_VISION, "text_config": IDEFICS3_TEXT},
    "tied-scale-4": {"vision_config": IDEFICS3_VISION, "text_config": IDEFICS3_TEXT,
                     "tie_word_embeddings": True, "scale_factor": 4},
    "text-config-tied": {"vision_config": IDEFICS3_VISION,
                         "text_config": {**IDEFICS3_TEXT, "tie_word_embeddings": True}},
    "smolvlm-256m": {  # HuggingFaceTB/SmolVLM-256M-Instruct
        "scale_factor": 4,
        "vision_config": {"hidden_size": 768, "intermediate_size": 3072,
                          "num_attention_heads": 12, "num_hidden_layers": 12,
                          "image_size": 512, "patch_size": 16},
        "text_config": {"hidden_size": 576, "intermediate_size": 1536,
                        "num_attention_heads": 9, "num_key_value_heads": 3,
                        "num_hidden_layers": 30, "vocab_size": 49280,
                        "tie_word_embeddings": False}},
}


SMOLVLM_CASES = {
    "small": IDEFICS3_CASES["small"],
    "tied-scale-4": IDEFICS3_CASES["tied-scale-4"],
    "smolvlm2-2.2b": {  # HuggingFaceTB/SmolVLM2-2.2B-Instruct
        "scale_factor": 3,
        "vision_config": {"hidden_size": 1152, "intermediate_size": 4304,
                          "num_attention_heads": 16, "num_hidden_layers": 27,
                          "image_size": 384, "patch_size": 14},
        "text_config": {"hidden_size": 2048, "intermediate_size": 8192,
                        "num_attention_heads": 32, "num_key_value_heads": 32,
                        "num_hidden_layers": 24, "vocab_size": 49280,
                        "tie_word_embeddings": False}},
    "smolvlm-defaults": {},
}


MLLAMA_VISION = {"hidden_size": 16, "intermediate_size": 32, "attention_heads": 2,
                 "num_hidden_layers": 2, "num_global_layers": 1, "image_size": 32,
                 "patch_size": 8, "max_num_tiles": 2, "vision_output_dim": 48,
                 "supported_aspect_ratios": [[1, 1], [1, 2], [2, 1]]}
MLLAMA_TEXT = {**LLAMA, "hidden_size": 24, "num_hidden_layers": 4, "pad_token_id": 0,
               "cross_attention_layers": [1, 3]}
MLLAMA_CASES = {
    "small": {"vision_config": MLLAMA_VISION, "text_config": MLLAMA_TEXT},
    "llama-3.2-11b-vision-defaults": {},   # the config class's defaults are the 11B's
    "llama-3.2-11b-vision": {  # meta-llama/Llama-3.2-11B-Vision-Instruct
        "vision_config": {"image_size": 560}, "text_config": {"rope_theta": 500000.0}},
    "llama-3.2-90b-vision": {  # meta-llama/Llama-3.2-90B-Vision-Instruct
        "vision_config": {"image_size": 560},
        "text_config": {"hidden_size": 8192, "intermediate_size": 28672,
                        "num_attention_heads": 64, "num_hidden_layers": 100,
                        "cross_attention_layers": list(range(3, 100, 5))}},
}


def _doc(model_type: str, architecture: str, fields: dict) -> dict:
    return {"model_type": model_type, "architectures": [architecture], **fields}


#: (model_type, architectures, cases, the components each counts as a figure)
MODULES = [(t, a, CASES, PARTS) for t, archs in FAMILIES.items() for a in archs] + [
    ("gemma3", a, GEMMA3_CASES, PARTS)
    for a in ("Gemma3ForConditionalGeneration", "Gemma3Model")] + [
    ("qwen2_vl", a, QWEN2_VL_CASES, ("visual", "language_model"))
    for a in ("Qwen2VLForConditionalGeneration", "Qwen2VLModel")] + [
    ("qwen2_5_vl", a, QWEN2_5_VL_CASES, ("visual", "language_model"))
    for a in ("Qwen2_5_VLForConditionalGeneration", "Qwen2_5_VLModel")] + [
    ("paligemma", a, PALIGEMMA_CASES, PARTS)
    for a in ("PaliGemmaForConditionalGeneration", "PaliGemmaModel")] + [
    ("idefics3", a, IDEFICS3_CASES, ("vision_model", "connector", "text_model"))
    for a in ("Idefics3ForConditionalGeneration", "Idefics3Model")] + [
    ("mistral3", a, MISTRAL3_CASES, PARTS)
    for a in ("Mistral3ForConditionalGeneration", "Mistral3Model")] + [
    ("smolvlm", a, SMOLVLM_CASES, ("vision_model", "connector", "text_model"))
    for a in ("SmolVLMForConditionalGeneration", "SmolVLMModel")] + [
    ("mllama", a, MLLAMA_CASES, ("vision_model", "multi_modal_projector", "language_model"))
    for a in ("MllamaForConditionalGeneration", "MllamaModel")] + [
    ("mllama", "MllamaForCausalLM", {"small": MLLAMA_CASES["small"]}, ())]


@pytest.mark.parametrize(("model_type", "architecture", "fields", "parts"), [
    pytest.param(t, a, cases[c], parts, id=f"{a}-{c}") for t, a, cases, parts in MODULES
    for c in cases])
def test_equals_transformers_module_by_module(model_type, architecture, fields, parts):
    doc = _doc(model_type, architecture, fields)
    model = build_with_transformers(doc)
    s = check_against_transformers(doc, model)
    assert "fallback" not in s.meta  # declared, not built by transformers
    base = getattr(model, "model", model)
    for part in parts:
        assert s.figures[f"{part} params"] == sum(
            p.numel() for p in getattr(base, part).parameters())


def test_qwen2_vl_merger_by_hand():
    """The merger folds 2×2 patches of 16 features (64) and projects them to the language
    model's 24: a LayerNorm over 16, 64 → 64 and 64 → 24 with biases."""
    s = paramcount.summarize(_doc("qwen2_vl", "Qwen2VLModel", QWEN2_VL_CASES["small"]))
    merger = next(c for c in s.root.children[0].children if c.name == "merger")
    assert merger.params == 2 * 16 + (64 * 64 + 64) + (64 * 24 + 24)


@pytest.mark.parametrize("case", SIGLIP_CASES)
def test_siglip_vision_tower_equals_transformers(case):
    doc = {**SIGLIP_CASES[case], "architectures": ["SiglipVisionModel"]}
    s = check_against_transformers(doc)
    assert "fallback" not in s.meta


def test_gemma3_projector_by_hand():
    """A matrix from SigLIP's width to Gemma's and an RMSNorm over SigLIP's: 16 × 16 + 16."""
    s = paramcount.summarize(_doc("gemma3", "Gemma3ForConditionalGeneration", GEMMA3))
    assert s.figures["multi_modal_projector params"] == 16 * 16 + 16


def test_llava_1_5_7b_total_and_components():
    """LLaVA-1.5-7B (the config's defaults) as transformers 5.25 counts it on the meta device:
    7,062,902,784 = CLIP ViT-L/14-336 303,507,456 + projector 20,979,712 + Llama 6,607,343,616
    + an untied LM head 32,000 × 4,096."""
    s = paramcount.summarize({"model_type": "llava",
                              "architectures": ["LlavaForConditionalGeneration"]})
    assert s.total_params == 7_062_902_784
    assert (s.figures["vision_tower params"], s.figures["multi_modal_projector params"],
            s.figures["language_model params"], s.figures["lm_head params"]) == (
        303_507_456, 20_979_712, 6_607_343_616, 32_000 * 4_096)
    # the projector by hand: 1024 -> 4096 -> 4096, with biases
    assert s.figures["multi_modal_projector params"] == 1024 * 4096 + 4096 + 4096 * 4096 + 4096
    assert [c.name for c in s.root.children[0].children] == list(PARTS)


def test_the_tied_head_is_owned_by_the_language_model():
    s = paramcount.summarize(_doc("llava", "LlavaForConditionalGeneration",
                                  {**SMALL, "tie_word_embeddings": True}))
    head = s.root.children[1]
    assert head.name == "lm_head" and head.params == 0
    assert [t.owner for t in head.tied] == ["model.language_model.embed_tokens.weight"]


def test_an_undeclared_vision_tower_is_left_to_transformers():
    siglip2 = {"model_type": "siglip2_vision_model", "hidden_size": 16,
               "intermediate_size": 32, "num_attention_heads": 2, "num_hidden_layers": 2,
               "patch_size": 8, "num_patches": 16}
    doc = _doc("llava", "LlavaForConditionalGeneration", {**SMALL, "vision_config": siglip2})
    s = paramcount.summarize(doc)
    assert "fallback" in s.meta
    model = build_with_transformers(doc)
    assert s.total_params == sum(p.numel() for p in model.parameters())


def test_an_undeclared_language_model_is_left_to_transformers():
    text = {**LLAMA, "model_type": "helium"}
    doc = _doc("llava", "LlavaForConditionalGeneration", {**SMALL, "text_config": text})
    s = paramcount.summarize(doc)
    assert "fallback" in s.meta
    assert s.total_params == sum(p.numel() for p in build_with_transformers(doc).parameters())


def test_a_bad_sub_config_field_names_it():
    doc = _doc("llava", "LlavaForConditionalGeneration",
               {**SMALL, "text_config": {**LLAMA, "num_key_value_heads": 3}})
    with pytest.raises(SpecError, match=r"text_config\.num_key_value_heads=3"):
        paramcount.summarize(doc)


def test_a_checkpoint_saved_by_transformers_is_read_with_its_config(tmp_path):
    """transformers 5 still saves LLaVA as ``language_model.model.*``, ``vision_tower.*``,
    ``language_model.lm_head``, and renames them as it loads: the folder's tree is the
    config's, the tensors placed where transformers loads them."""
    import torch
    import transformers

    config = transformers.LlavaConfig(vision_config=VISION, text_config=LLAMA)
    torch.manual_seed(0)
    model = transformers.LlavaForConditionalGeneration(config)
    model.save_pretrained(tmp_path)
    s = paramcount.summarize(tmp_path)
    total = sum(p.numel() for p in model.parameters())
    assert s.total_params == s.figures["Checkpoint params"] == total
    assert s.meta["architecture_from"].endswith("config.json")
    assert s.figures["language_model params"] == sum(
        p.numel() for p in model.model.language_model.parameters())
    assert not any("does not describe" in n for n in s.notes)


BLIP_SMALL = {"vision_config": {"hidden_size": 16, "intermediate_size": 32,
                                "num_attention_heads": 2, "num_hidden_layers": 2,
                                "image_size": 32, "patch_size": 8},
              "text_config": {"hidden_size": 24, "intermediate_size": 32,
                              "num_attention_heads": 2, "num_hidden_layers": 2,
                              "vocab_size": 100, "encoder_hidden_size": 16,
                              "max_position_embeddings": 40, "bos_token_id": 1,
                              "sep_token_id": 2}}
BLIP_CASES = {
    "small": BLIP_SMALL,
    "small-untied": {**BLIP_SMALL, "tie_word_embeddings": False,
                     "text_config": {**BLIP_SMALL["text_config"], "tie_word_embeddings": False}},
    "small-encoder-only": {**BLIP_SMALL, "text_config": {**BLIP_SMALL["text_config"],
                                                         "is_decoder": False}},
    "blip-base-defaults": {},   # Salesforce/blip-image-captioning-base, blip-vqa-base, ...
    "blip-image-captioning-large": {"vision_config": {
        "hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
        "num_hidden_layers": 24}, "text_config": {"encoder_hidden_size": 1024}},
}
BLIP_HEADS = ("BlipForConditionalGeneration", "BlipForQuestionAnswering",
              "BlipForImageTextRetrieval", "BlipModel")


@pytest.mark.parametrize(("architecture", "case"), [
    (a, c) for a in BLIP_HEADS for c in BLIP_CASES])
def test_blip_equals_transformers(architecture, case):
    s = check_against_transformers(_doc("blip", architecture, BLIP_CASES[case]))
    assert "fallback" not in s.meta


BLIP2_SMALL = {
    "vision_config": {**BLIP_SMALL["vision_config"]},
    "qformer_config": {"hidden_size": 24, "intermediate_size": 32, "num_attention_heads": 2,
                       "num_hidden_layers": 3, "vocab_size": 100},
    "text_config": {"model_type": "opt", "hidden_size": 32, "ffn_dim": 48,
                    "num_attention_heads": 2, "num_hidden_layers": 2, "vocab_size": 100,
                    "word_embed_proj_dim": 32, "pad_token_id": 1, "bos_token_id": 2,
                    "eos_token_id": 2},
    "num_query_tokens": 4}
BLIP2_CASES = {
    "small-opt": BLIP2_SMALL,
    "small-opt-untied-no-qkv-bias-text-input": {
        **BLIP2_SMALL, "vision_config": {**BLIP_SMALL["vision_config"], "qkv_bias": False},
        "qformer_config": {**BLIP2_SMALL["qformer_config"], "use_qformer_text_input": True,
                           "cross_attention_frequency": 1},
        "text_config": {**BLIP2_SMALL["text_config"], "tie_word_embeddings": False}},
    "small-t5": {**BLIP2_SMALL, "text_config": {
        "model_type": "t5", "d_model": 32, "d_ff": 48, "d_kv": 16, "num_heads": 2,
        "num_layers": 2, "vocab_size": 100}},
    "blip2-opt-2.7b": {  # Salesforce/blip2-opt-2.7b
        "text_config": {"model_type": "opt", "hidden_size": 2560, "ffn_dim": 10240,
                        "num_attention_heads": 32, "num_hidden_layers": 32,
                        "vocab_size": 50272, "word_embed_proj_dim": 2560}},
    # Salesforce/blip2-flan-t5-xl, its LM head tied as transformers builds it from the config
    # (the checkpoint's own head: see the test below)
    "blip2-flan-t5-xl-tied": {
        "text_config": {"model_type": "t5", "d_model": 2048, "d_ff": 5120, "d_kv": 64,
                        "num_heads": 32, "num_layers": 24, "vocab_size": 32128,
                        "feed_forward_proj": "gated-gelu"}},
}


@pytest.mark.parametrize(("architecture", "case"), [
    (a, c) for a in ("Blip2ForConditionalGeneration", "Blip2Model") for c in BLIP2_CASES])
def test_blip2_equals_transformers(architecture, case):
    doc = _doc("blip-2", architecture, BLIP2_CASES[case])
    model = build_with_transformers(doc)
    s = check_against_transformers(doc, model)
    assert "fallback" not in s.meta
    for part in ("vision_model", "qformer", "language_model"):
        assert s.figures[f"{part} params"] == sum(
            p.numel() for p in getattr(model, part).parameters())


def test_blip2_flan_t5_xl_untied_head_by_hand():
    """Salesforce/blip2-flan-t5-xl's text config says tie_word_embeddings: false: as for T5
    v1.1 (see test_umt5_small_untied_head_by_hand), its checkpoint holds an LM head of its own,
    one 32,128 × 2,048 matrix more than the tied model transformers builds from the config;
    the model card's total is 3.94B."""
    tied = _doc("blip-2", "Blip2ForConditionalGeneration", BLIP2_CASES["blip2-flan-t5-xl-tied"])
    text = {**tied["text_config"], "tie_word_embeddings": False}
    untied = paramcount.summarize({**tied, "text_config": text}).total_params
    assert untied - paramcount.summarize(tied).total_params == 32128 * 2048
    assert round(untied, -7) == 3_940_000_000


@pytest.mark.parametrize("model_type, architecture, fields, published", [
    ("mllama", "MllamaForConditionalGeneration", MLLAMA_CASES["llama-3.2-11b-vision"],
     10_670_000_000),
    ("mllama", "MllamaForConditionalGeneration", MLLAMA_CASES["llama-3.2-90b-vision"],
     88_590_000_000),
    ("blip-2", "Blip2ForConditionalGeneration", BLIP2_CASES["blip2-opt-2.7b"],
     3_740_000_000),
])
def test_published_totals(model_type, architecture, fields, published):
    """The Hub's model pages: Llama-3.2-11B-Vision 10.67B, Llama-3.2-90B-Vision 88.59B,
    blip2-opt-2.7b 3.74B parameters."""
    total = paramcount.summarize(_doc(model_type, architecture, fields)).total_params
    assert round(total, -7) == published
