"""CLIP: a text transformer and a vision transformer, each projected into a shared space.

``CLIPModel`` holds both towers (read from ``text_config`` and ``vision_config``), a projection of
each to ``projection_dim``, and the learned temperature ``logit_scale``; ``CLIPTextModel`` and
``CLIPVisionModel`` are one tower alone (the text encoder of Stable Diffusion is the first).
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    conv,
    embedding,
    linear,
    module,
    norm,
    parameter,
    stack,
)
from paramcount.tree import Node


def _encoder(c: Config, h: int, text: bool, length: int | None = None) -> Node:
    """The tower's transformer; ``length`` fixes its sequence (the vision tower's patches and
    class token)."""
    heads = c.int("num_attention_heads", default=8 if text else 12)
    d = c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=2048 if text else 3072)

    def layer(i: int) -> Node:
        attn = attends(module("self_attn", "CLIPAttention", [
            linear(p, h, h, length=length) for p in ("k_proj", "v_proj", "q_proj", "out_proj")],
            h), heads, d, h, queries=length, keys=length, cached=False)
        return module(str(i), "CLIPEncoderLayer", [
            attn, norm("layer_norm1", h),
            module("mlp", "CLIPMLP", [linear("fc1", h, inner, length=length),
                                      linear("fc2", inner, h, length=length)], h),
            norm("layer_norm2", h)], h)

    n = c.layers("num_hidden_layers", default=12)
    return module("encoder", "CLIPEncoder", [stack("layers", blocks(n, lambda i: 0, layer), h)])


def text_tower(c: Config, roles: Roles, name: str) -> tuple[Node, int]:
    h = c.int("hidden_size", default=512)
    embeddings = module("embeddings", "CLIPTextEmbeddings", [
        roles.embedding(embedding("token_embedding", c.int("vocab_size", default=49408), h)),
        roles.embedding(embedding("position_embedding",
                                  c.int("max_position_embeddings", default=77), h))], h)
    return module(name, "CLIPTextTransformer", [embeddings, _encoder(c, h, text=True),
                                                norm("final_layer_norm", h)], h), h


def vision_tower(c: Config, roles: Roles, name: str) -> tuple[Node, int]:
    h = c.int("hidden_size", default=768)
    image, patch = c.pair("image_size", 224), c.pair("patch_size", 32)
    patches = (image[0] // patch[0]) * (image[1] // patch[1])
    channels = c.int("num_channels", default=3)
    embeddings = module("embeddings", "CLIPVisionEmbeddings", [
        parameter("class_embedding", (h,)),
        conv("patch_embedding", channels, h, patch, (channels, *image), stride=patch,
             bias=False),
        roles.embedding(embedding("position_embedding", patches + 1, h))], h)
    parts = [embeddings, norm("pre_layrnorm", h), _encoder(c, h, False, patches + 1),
             norm("post_layernorm", h)]
    return module(name, "CLIPVisionTransformer", parts, h), h


@register("clip", "CLIP", ("Model",))
def clip(c: Config, head: str, roles: Roles) -> Node:
    text, th = text_tower(c.sub("text_config", "clip_text"), roles, "text_model")
    vision, vh = vision_tower(c.sub("vision_config", "clip_vision"), roles, "vision_model")
    dim = c.int("projection_dim", default=512)
    return module("", "CLIPModel", [
        parameter("logit_scale", ()), text, vision,
        # each tower's pooled output, one vector per image or text
        linear("visual_projection", vh, dim, bias=False, length=1),
        linear("text_projection", th, dim, bias=False, length=1)], dim)


def _tower(c: Config, head: str, roles: Roles, text: bool) -> Node:
    make = text_tower if text else vision_tower
    if head.endswith("WithProjection"):
        tower, h = make(c, roles, "text_model" if text else "vision_model")
        proj = linear("text_projection" if text else "visual_projection", h,
                      c.int("projection_dim", default=512), bias=False, length=1)
        return module("", head, [tower, proj])
    tower, _ = make(c, roles, "")
    return tower


@register("clip_text_model", "CLIP", ("TextModel", "TextModelWithProjection"), base="TextModel")
def clip_text(c: Config, head: str, roles: Roles) -> Node:
    return _tower(Config(c.doc, "clip_text"), head, roles, text=True)


@register("clip_vision_model", "CLIP", ("VisionModel", "VisionModelWithProjection"),
          base="VisionModel")
def clip_vision(c: Config, head: str, roles: Roles) -> Node:
    return _tower(Config(c.doc, "clip_vision"), head, roles, text=False)
