"""Vision-language models of 2025, laid out as LLaVA is (see multimodal.py): Mistral 3
(Pixtral's encoder), PaliGemma (SigLIP and Gemma) and Idefics3 (SigLIP without its head and a
Llama, as SmolVLM is built). Each component's parameters are a figure of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramcount.architectures import register
from paramcount.architectures.clip import siglip_tower
from paramcount.architectures.config import Config
from paramcount.architectures.multimodal import SAVED, assemble, language, vision_of, width
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    conv,
    linear,
    module,
    norm,
    stack,
)
from paramcount.tree import Node

# -- Mistral 3 (Pixtral's vision encoder) ------------------------------------------------------

#: Mistral3Config's sub-configs when it has none (Mistral Small 3.1's)
MISTRAL3_TEXT: dict[str, Any] = {
    "model_type": "mistral", "head_dim": 128, "hidden_size": 5120, "intermediate_size": 32768,
    "num_attention_heads": 32, "num_hidden_layers": 40, "num_key_value_heads": 8,
    "vocab_size": 131072}
MISTRAL3_VISION: dict[str, Any] = {
    "intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14, "image_size": 1540,
    "num_hidden_layers": 24, "num_attention_heads": 16}


def pixtral_tower(c: Config, name: str) -> tuple[Node, int]:
    """Pixtral's vision encoder: a patch convolution, RMSNorms, rotary 2-D positions (no
    table), and gated MLPs, all without biases; images of any size (no fixed sequence)."""
    h = c.int("hidden_size", default=1024)
    heads = c.int("num_attention_heads", default=16)
    d = c.head_dim(h, heads)  # the projections are h × h whatever head_dim says
    inner = c.int("intermediate_size", default=4096)
    channels, patch = c.int("num_channels", default=3), c.pair("patch_size", 16)
    image = c.pair("image_size", 1024)

    def layer(i: int) -> Node:
        attn = [linear(p, h, h, bias=False) for p in ("k_proj", "v_proj", "q_proj", "o_proj")]
        return module(str(i), "PixtralAttentionLayer", [
            norm("attention_norm", h, "rmsnorm"),
            module("feed_forward", "PixtralMLP", [
                linear("gate_proj", h, inner, False), linear("up_proj", h, inner, False),
                linear("down_proj", inner, h, False)], h),
            attends(module("attention", "PixtralAttention", attn, h), heads, d, h,
                    cached=False),
            norm("ffn_norm", h, "rmsnorm")], h)

    layers = stack("layers", blocks(c.layers("num_hidden_layers", default=24), None,
                                    layer), h)
    return module(name, "PixtralVisionModel", [
        conv("patch_conv", channels, h, patch, (channels, *image), stride=patch, bias=False),
        norm("ln_pre", h, "rmsnorm"), module("transformer", "PixtralTransformer", [layers], h)],
        h), h


@register("mistral3", "Mistral3", ("ForConditionalGeneration", "Model"), saved=SAVED)
def mistral3(c: Config, head: str, roles: Roles) -> Node:
    """Mistral 3 (Mistral Small 3.1, Devstral's multimodal kin): Pixtral's encoder, a projector
    that normalizes, merges each ``spatial_merge_size``² patches into one and projects them,
    and a Mistral language model; the head tied by the config's own flag (true by default)."""
    given = c.raw("vision_config")
    v = Config(MISTRAL3_VISION if given is None else given, "pixtral", "vision_config.")
    tower, vh = pixtral_tower(v, "vision_tower")
    text = c.raw("text_config")
    doc = {"text_config": MISTRAL3_TEXT if text is None else {"model_type": "mistral", **text}}
    if c.has("tie_word_embeddings"):
        doc["tie_word_embeddings"] = c.raw("tie_word_embeddings")
    body, lm_head = language(Config(doc, c.model_type), roles, text_ties=False,
                              default="mistral", tie=True)
    th = width(body)
    layers = c.raw("vision_feature_layer", default=-1)
    merge = c.int("spatial_merge_size", default=2)
    bias = c.bool("multimodal_projector_bias", default=False)
    projector = module("multi_modal_projector", "Mistral3MultiModalProjector", [
        norm("norm", vh, "rmsnorm"),
        module("patch_merger", "Mistral3PatchMerger", [
            linear("merging_layer", vh * merge * merge, vh, bias=False)], vh),
        linear("linear_1", vh * (len(layers) if isinstance(layers, list) else 1), th, bias),
        linear("linear_2", th, th, bias)], th)
    parts = [roles.named("vision_tower", tower), roles.named("multi_modal_projector", projector),
             roles.named("language_model", body)]
    return assemble(head, "Mistral3", parts, lm_head, roles)


# -- PaliGemma ---------------------------------------------------------------------------------

#: PaliGemmaConfig's sub-configs when it has none (PaliGemma 3B at 224 pixels)
PALIGEMMA_VISION: dict[str, Any] = {
    "model_type": "siglip_vision_model", "intermediate_size": 4096, "hidden_size": 1152,
    "patch_size": 14, "image_size": 224, "num_hidden_layers": 27, "num_attention_heads": 16,
    "vision_use_head": False}
PALIGEMMA_TEXT: dict[str, Any] = {
    "model_type": "gemma", "hidden_size": 2048, "num_hidden_layers": 18,
    "intermediate_size": 16384, "num_attention_heads": 8, "num_key_value_heads": 1,
    "vocab_size": 257152}


@register("paligemma", "PaliGemma", ("ForConditionalGeneration", "Model"), saved=SAVED)
def paligemma(c: Config, head: str, roles: Roles) -> Node:
    """PaliGemma 1 and 2: a SigLIP tower, one linear layer to ``projection_dim``, and a Gemma
    (or Gemma 2) language model; the head tied by the config's own flag (true by default)."""
    tower, vh, features = vision_of(c, roles, PALIGEMMA_VISION)
    text = c.raw("text_config")
    doc: dict[str, Any] = {
        "text_config": PALIGEMMA_TEXT if text is None else {"model_type": "gemma", **text}}
    if c.has("tie_word_embeddings"):
        doc["tie_word_embeddings"] = c.raw("tie_word_embeddings")
    body, lm_head = language(Config(doc, c.model_type), roles, text_ties=False,
                              default="gemma", tie=True)
    projector = module("multi_modal_projector", "PaliGemmaMultiModalProjector", [
        linear("linear", vh, c.int("projection_dim", default=2048), length=features)])
    parts = [roles.named("vision_tower", tower), roles.named("multi_modal_projector", projector),
             roles.named("language_model", body)]
    return assemble(head, "PaliGemma", parts, lm_head, roles)


# -- Idefics3 (SmolVLM's layout) ---------------------------------------------------------------

#: Idefics3VisionConfig's defaults, where they differ from SigLIP's
IDEFICS3_VISION: dict[str, Any] = {"hidden_size": 1152, "intermediate_size": 3072,
                                   "num_attention_heads": 16, "patch_size": 32}


@register("idefics3", "Idefics3", ("ForConditionalGeneration", "Model"))
def idefics3(c: Config, head: str, roles: Roles) -> Node:
    """Idefics3: SigLIP's vision tower without its pooling head, a connector that folds each
    ``scale_factor``² patches into one vector (pixel shuffle) and projects it by one matrix,
    and a Llama language model (``text_model``); the head untied unless the config says so."""
    return _idefics3_family(c, head, roles, "Idefics3")


@register("smolvlm", "SmolVLM", ("ForConditionalGeneration", "Model"))
def smolvlm(c: Config, head: str, roles: Roles) -> Node:
    """SmolVLM (and SmolVLM2): Idefics3's modules and defaults under its own class names."""
    return _idefics3_family(c, head, roles, "SmolVLM")


def _idefics3_family(c: Config, head: str, roles: Roles, prefix: str) -> Node:
    given = c.raw("vision_config")
    fields = {**IDEFICS3_VISION, **(given if isinstance(given, Mapping) else {}),
              "vision_use_head": False}
    tower, vh = siglip_tower(Config(fields, f"{prefix.lower()}_vision", "vision_config."),
                             roles, "vision_model")
    tower.type = f"{prefix}VisionTransformer"
    body, lm_head = language(c, roles, text_ties=False, default="llama")
    body.name = "text_model"
    th = width(body)
    scale = c.int("scale_factor", default=2)
    connector = module("connector", f"{prefix}Connector", [
        module("modality_projection", f"{prefix}SimpleMLP", [
            linear("proj", vh * scale * scale, th, bias=False)], th)], th)
    parts = [roles.named("vision_model", tower), roles.named("connector", connector),
             roles.named("text_model", body)]
    return assemble(head, prefix, parts, lm_head, roles)


@register("pixtral", "Pixtral", ("VisionModel",), base="VisionModel")
def pixtral(c: Config, head: str, roles: Roles) -> Node:
    """Pixtral's vision encoder alone (``PixtralVisionModel``), as Pixtral-12B's and Mistral
    Small 3.1's ``vision_config`` describe it."""
    tower, _ = pixtral_tower(c, "")
    return tower
