"""Qwen3-VL and Qwen3.5: Qwen3-VL's vision transformer (``model.visual``) beside a language
model read from ``text_config`` (``model.language_model``), and the LM head.

The vision transformer embeds 3-D patches over frames (with a bias), adds a learned position
table of ``num_position_embeddings`` (resampled to each image's grid), runs LayerNorm blocks
of fused-QKV attention and a plain MLP, and its merger folds each 2×2 patches into one token of
the language model's width. Qwen3-VL also has a "deepstack" merger for each layer in
``deepstack_visual_indexes``, whose features are added to the language model's first layers;
Qwen3.5 has none. The language models: Qwen3 (``qwen3_vl``), Qwen3-MoE (``qwen3_vl_moe``) and
Qwen3.5's hybrid models of hybrid.py (``qwen3_5``, ``qwen3_5_moe``), with their config classes'
defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramcount.architectures import family_of, register
from paramcount.architectures.config import Config
from paramcount.architectures.multimodal import assemble
from paramcount.architectures.parts import (
    Roles,
    blocks,
    conv,
    embedding,
    linear,
    module,
    norm,
    stack,
)
from paramcount.tree import Node

#: each composite's language model: the family that builds it, and its text config class's
#: defaults where they differ from that family's
TEXT: dict[str, tuple[str, dict[str, Any]]] = {
    "qwen3_vl": ("qwen3", {  # Qwen3VLTextConfig
        "vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
        "head_dim": 128}),
    "qwen3_vl_moe": ("qwen3_moe", {  # Qwen3VLMoeTextConfig
        "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 5632,
        "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 16,
        "moe_intermediate_size": 1408, "num_experts_per_tok": 4, "num_experts": 60}),
    "qwen3_5": ("qwen3_5_text", {}),
    "qwen3_5_moe": ("qwen3_5_moe_text", {}),
}


def _merger(name: str, dim: int, merged: int, out: int, post_shuffle: bool) -> Node:
    """``Qwen3VLVisionPatchMerger``: a LayerNorm (over one patch, or after the 2×2 shuffle over
    four), then two linear layers to the language model's width."""
    return module(name, "Qwen3VLVisionPatchMerger", [
        norm("norm", merged if post_shuffle else dim), linear("linear_fc1", merged, merged),
        linear("linear_fc2", merged, out)], out)


def vision(c: Config, deepstack: bool) -> Node:
    """Qwen3-VL's vision transformer (``Qwen3VLVisionModel``), with its deepstack mergers
    (``deepstack``) or without them (Qwen3.5's)."""
    dim = c.int("hidden_size", default=1152)
    inner = c.int("intermediate_size", default=4304)
    out = c.int("out_hidden_size", default=3584)
    channels = c.int("in_channels", default=3)
    patch, frames = c.int("patch_size", default=16), c.int("temporal_patch_size", default=2)
    merged = dim * c.int("spatial_merge_size", default=2) ** 2

    def block(i: int) -> Node:
        return module(str(i), "Qwen3VLVisionBlock", [
            norm("norm1", dim), norm("norm2", dim),
            module("attn", "Qwen3VLVisionAttention", [linear("qkv", dim, 3 * dim),
                                                      linear("proj", dim, dim)], dim),
            module("mlp", "Qwen3VLVisionMLP", [linear("linear_fc1", dim, inner),
                                               linear("linear_fc2", inner, dim)], dim)], dim)

    parts = [module("patch_embed", "Qwen3VLVisionPatchEmbed", [conv(
                 "proj", channels, dim, (frames, patch, patch), (channels, frames, patch, patch),
                 stride=(frames, patch, patch), bias=True)], dim),
             embedding("pos_embed", c.int("num_position_embeddings", default=2304), dim),
             stack("blocks", blocks(c.layers("depth", default=27), None, block), dim),
             _merger("merger", dim, merged, out, post_shuffle=False)]
    if deepstack:
        indexes = c.ints("deepstack_visual_indexes") if "deepstack_visual_indexes" in c.doc \
            else [8, 16, 24]
        parts.append(stack("deepstack_merger_list", [
            _merger(str(i), dim, merged, out, post_shuffle=True) for i in range(len(indexes))],
            out))
    return module("visual", "Qwen3VLVisionModel", parts, out)


def _qwen3_vl(c: Config, head: str, roles: Roles, prefix: str) -> Node:
    family_type, defaults = TEXT[c.model_type]
    text = c.raw("text_config")
    fields = text if isinstance(text, Mapping) else {}
    tie = c.bool("tie_word_embeddings", default=False)
    doc = {**defaults, **{k: v for k, v in fields.items()
                          if k not in ("model_type", "use_sliding_window")},
           "model_type": family_type, "tie_word_embeddings": tie}
    family = family_of(family_type, None)
    assert family is not None
    built = family.build(Config(doc, family_type, "text_config."), "ForCausalLM", roles)
    body, lm_head = built.children
    body.name = "language_model"
    given = c.raw("vision_config")
    visual = vision(Config(given if isinstance(given, Mapping) else {}, c.model_type,
                           "vision_config."), deepstack=c.model_type.startswith("qwen3_vl"))
    parts = [roles.named("visual", visual), roles.named("language_model", body)]
    return assemble(head, prefix, parts, lm_head, roles)


HEADS = ("ForConditionalGeneration", "Model")


@register("qwen3_vl", "Qwen3VL", HEADS)
def qwen3_vl(c: Config, head: str, roles: Roles) -> Node:
    return _qwen3_vl(c, head, roles, "Qwen3VL")


@register("qwen3_vl_moe", "Qwen3VLMoe", HEADS)
def qwen3_vl_moe(c: Config, head: str, roles: Roles) -> Node:
    return _qwen3_vl(c, head, roles, "Qwen3VLMoe")


@register("qwen3_5", "Qwen3_5", HEADS)
def qwen3_5(c: Config, head: str, roles: Roles) -> Node:
    return _qwen3_vl(c, head, roles, "Qwen3_5")


@register("qwen3_5_moe", "Qwen3_5Moe", HEADS)
def qwen3_5_moe(c: Config, head: str, roles: Roles) -> Node:
    return _qwen3_vl(c, head, roles, "Qwen3_5Moe")
