"""CLIP: a text transformer and a vision transformer, each projected into a shared space.

``CLIPModel`` holds both towers (read from ``text_config`` and ``vision_config``), a projection of
each to ``projection_dim``, and the learned temperature ``logit_scale``; ``CLIPTextModel`` and
``CLIPVisionModel`` are one tower alone (the text encoder of Stable Diffusion is the first).
SigLIP (``SiglipModel``, its towers alone, and its image classifier) is built of the same
modules; its vision tower is Gemma 3's eyes. SigLIP 2 differs only in how its vision tower
embeds patches (a linear layer over flattened patches, any aspect ratio).
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
from paramcount.layers import Weight
from paramcount.tree import Node


def _encoder(c: Config, h: int, text: bool, length: int | None = None, prefix: str = "CLIP"
             ) -> Node:
    """The tower's transformer; ``length`` fixes its sequence (the vision tower's patches and
    class token); SigLIP's (``prefix``) has the same modules."""
    heads = c.int("num_attention_heads", default=8 if text else 12)
    d = c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=2048 if text else 3072)

    def layer(i: int) -> Node:
        attn = attends(module("self_attn", f"{prefix}Attention", [
            linear(p, h, h, length=length) for p in ("k_proj", "v_proj", "q_proj", "out_proj")],
            h), heads, d, h, queries=length, keys=length, cached=False)
        return module(str(i), f"{prefix}EncoderLayer", [
            attn, norm("layer_norm1", h),
            module("mlp", f"{prefix}MLP", [linear("fc1", h, inner, length=length),
                                      linear("fc2", inner, h, length=length)], h),
            norm("layer_norm2", h)], h)

    n = c.layers("num_hidden_layers", default=12)
    return module("encoder", f"{prefix}Encoder",
                  [stack("layers", blocks(n, None, layer), h)])


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


def siglip_tower(c: Config, roles: Roles, name: str, prefix: str = "Siglip"
                 ) -> tuple[Node, int]:
    """SigLIP's vision tower: CLIP's without a class token or the norm before the encoder,
    a patch embedding with a bias, and (``vision_use_head``) a head that pools the patches by
    attention from one learned probe. SigLIP 2's (``prefix`` "Siglip2") embeds flattened
    patches of any aspect ratio by a linear layer, up to ``num_patches`` of them."""
    h = c.int("hidden_size", default=768)
    channels = c.int("num_channels", default=3)
    if prefix == "Siglip2":
        patches, patch = c.int("num_patches", default=256), c.int("patch_size", default=16)
        patch_embedding = linear("patch_embedding", channels * patch * patch, h,
                                 length=patches)
    else:
        image, size = c.pair("image_size", 224), c.pair("patch_size", 16)
        patches = (image[0] // size[0]) * (image[1] // size[1])
        patch_embedding = conv("patch_embedding", channels, h, size, (channels, *image),
                               stride=size)
    embeddings = module("embeddings", f"{prefix}VisionEmbeddings", [
        patch_embedding, roles.embedding(embedding("position_embedding", patches, h))], h)
    parts = [embeddings, _encoder(c, h, False, patches, prefix=prefix),
             norm("post_layernorm", h)]
    if c.bool("vision_use_head", default=True):
        parts.append(_pooling_head(c, h))
    return module(name, f"{prefix}VisionTransformer", parts, h), h


def _pooling_head(c: Config, h: int) -> Node:
    """``SiglipMultiheadAttentionPoolingHead``: a probe, ``nn.MultiheadAttention`` (its query,
    key and value projections fused in one matrix), a norm and an MLP, on one vector."""
    inner = c.int("intermediate_size", default=3072)
    fused = Node("attention", "MultiheadAttention", (1, h),
                 (Weight("in_proj_weight", (3 * h, h)), Weight("in_proj_bias", (3 * h,))),
                 children=[linear("out_proj", h, h, length=1)])
    return module("head", "SiglipMultiheadAttentionPoolingHead", [
        parameter("probe", (1, 1, h)), fused, norm("layernorm", h),
        module("mlp", "SiglipMLP", [linear("fc1", h, inner, length=1),
                                    linear("fc2", inner, h, length=1)], h)], h)


def siglip_text_tower(c: Config, roles: Roles, name: str, prefix: str = "Siglip") -> Node:
    """SigLIP's text tower (SigLIP 2's is the same): CLIP's with SigLIP's defaults and a head
    on the pooled (last) token to ``projection_size``; no projections outside the towers."""
    h = c.int("hidden_size", default=768)
    embeddings = module("embeddings", f"{prefix}TextEmbeddings", [
        roles.embedding(embedding("token_embedding", c.int("vocab_size", default=32000), h)),
        roles.embedding(embedding("position_embedding",
                                  c.int("max_position_embeddings", default=64), h))], h)
    out = c.int("projection_size", default=None) or h
    return module(name, f"{prefix}TextTransformer", [
        embeddings, _encoder(c, h, False, prefix=prefix), norm("final_layer_norm", h),
        linear("head", h, out, length=1)], out)


@register("siglip", "Siglip", ("Model", "ForImageClassification"))
def siglip(c: Config, head: str, roles: Roles) -> Node:
    """``SiglipModel``: both towers and the learned scale and bias of the sigmoid loss;
    ``SiglipForImageClassification``: the vision tower and a classifier on the mean patch."""
    return _siglip_pair(c, head, roles, "Siglip")


@register("siglip2", "Siglip2", ("Model", "ForImageClassification"))
def siglip2(c: Config, head: str, roles: Roles) -> Node:
    return _siglip_pair(c, head, roles, "Siglip2")


def _siglip_pair(c: Config, head: str, roles: Roles, prefix: str) -> Node:
    kind = prefix.lower()
    vision, vh = siglip_tower(c.sub("vision_config", f"{kind}_vision"), roles, "vision_model",
                              prefix)
    if head == "ForImageClassification":
        labels = c.num_labels()
        return module("", head, [vision] + (
            [linear("classifier", vh, labels, length=1)] if labels > 0 else []))
    text = siglip_text_tower(c.sub("text_config", f"{kind}_text"), roles, "text_model", prefix)
    return module("", f"{prefix}Model", [parameter("logit_scale", (1,)),
                                         parameter("logit_bias", (1,)), text, vision])


@register("siglip_text_model", "Siglip", ("TextModel",), base="TextModel")
def siglip_text(c: Config, head: str, roles: Roles) -> Node:
    return siglip_text_tower(Config(c.doc, "siglip_text"), roles, "")


@register("siglip_vision_model", "Siglip", ("VisionModel",), base="VisionModel")
def siglip_vision(c: Config, head: str, roles: Roles) -> Node:
    tower, _ = siglip_tower(Config(c.doc, "siglip_vision"), roles, "")
    return tower


@register("siglip2_text_model", "Siglip2", ("TextModel",), base="TextModel")
def siglip2_text(c: Config, head: str, roles: Roles) -> Node:
    return siglip_text_tower(Config(c.doc, "siglip2_text"), roles, "", "Siglip2")


@register("siglip2_vision_model", "Siglip2", ("VisionModel",), base="VisionModel")
def siglip2_vision(c: Config, head: str, roles: Roles) -> Node:
    tower, _ = siglip_tower(Config(c.doc, "siglip2_vision"), roles, "", "Siglip2")
    return tower


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
