"""Vision transformers: ViT, DeiT and DINOv2 (with or without registers).

ViT and DeiT share one layout (rows of ``_KINDS``: DeiT adds a distillation token, and its
teacher-distilled classifier reads it); DINOv2 names its layer's parts otherwise, scales each
branch by a learned vector (``layer_scale``), may use a SwiGLU MLP, keeps a mask token, and
classifies the class token beside the mean of the patches. The image fixes the sequence: its
patches, the class token and any extra tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    conv,
    linear,
    module,
    norm,
    parameter,
    stack,
)
from paramcount.tree import Node


@dataclass(frozen=True)
class _Kind:
    prefix: str
    path: str               # the backbone's attribute under a head
    layers: str             # the ModuleList of blocks under the backbone
    distilled: bool = False  # DeiT's distillation token


_KINDS = {"ViT": _Kind("ViT", "vit", "layers"),
          "DeiT": _Kind("DeiT", "deit", "layers", distilled=True)}


def _patches(c: Config, patch_default: int, image_default: int = 224
             ) -> tuple[int, int, tuple[int, int], int]:
    """Patches, channels, patch size and hidden size; the projection is built by the caller."""
    image, patch = c.pair("image_size", image_default), c.pair("patch_size", patch_default)
    return (image[0] // patch[0]) * (image[1] // patch[1]), c.int("num_channels", default=3), \
        patch, c.int("hidden_size", default=768)


def _projection(c: Config, prefix: str, channels: int, h: int, patch: tuple[int, int]) -> Node:
    image = c.pair("image_size", 224)
    return module("patch_embeddings", f"{prefix}PatchEmbeddings", [
        conv("projection", channels, h, patch, (channels, *image), stride=patch)])


def _vit_family(c: Config, head: str, roles: Roles, kind: _Kind) -> Node:
    patches, channels, patch, h = _patches(c, 16)
    heads = c.int("num_attention_heads", default=12)
    d = c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=3072)
    bias = c.bool("qkv_bias", default=True)
    tokens = 2 if kind.distilled else 1
    n = patches + tokens

    def block(i: int) -> Node:
        attn = [linear(p, h, heads * d, bias, n) for p in ("q_proj", "k_proj", "v_proj")]
        attn.append(linear("o_proj", heads * d, h, length=n))
        return module(str(i), f"{kind.prefix}Layer", [
            attends(module("attention", f"{kind.prefix}Attention", attn), heads, d, h,
                    queries=n, keys=n, cached=False),
            module("mlp", f"{kind.prefix}MLP", [linear("fc1", h, inner, length=n),
                                               linear("fc2", inner, h, length=n)]),
            norm("layernorm_before", h), norm("layernorm_after", h)], h)

    extra = [parameter("distillation_token", (1, 1, h))] if kind.distilled else []
    embeddings = module("embeddings", f"{kind.prefix}Embeddings", [
        parameter("cls_token", (1, 1, h)), *extra,
        roles.embedding(parameter("position_embeddings", (1, n, h))),
        _projection(c, kind.prefix, channels, h, patch)], h)
    layers = c.layers("num_hidden_layers", default=12)
    parts = [embeddings, stack(kind.layers, blocks(layers, None, block), h),
             norm("layernorm", h)]
    if head == "Model":
        pooled = c.int("pooler_output_size", default=None) or h
        return module("", f"{kind.prefix}Model", [*parts, module(
            "pooler", f"{kind.prefix}Pooler", [linear("dense", h, pooled, length=1)])])
    body = module(kind.path, f"{kind.prefix}Model", parts, h)
    labels = c.num_labels()
    if labels == 0:  # an identity in place of each classifier
        return module("", head, [body])
    if head == "ForImageClassificationWithTeacher":  # one on each token
        return module("", head, [body, linear("cls_classifier", h, labels, length=1),
                                 linear("distillation_classifier", h, labels, length=1)])
    return module("", head, [body, linear("classifier", h, labels, length=1)])


@register("vit", "ViT", ("ForImageClassification", "Model"))
def vit(c: Config, head: str, roles: Roles) -> Node:
    return _vit_family(c, head, roles, _KINDS["ViT"])


@register("deit", "DeiT", ("ForImageClassificationWithTeacher", "ForImageClassification",
                           "Model"))
def deit(c: Config, head: str, roles: Roles) -> Node:
    return _vit_family(c, head, roles, _KINDS["DeiT"])


# -- DINOv2 ------------------------------------------------------------------------------------

def _dinov2(c: Config, head: str, roles: Roles, prefix: str, registers: int,
            patch_default: int) -> Node:
    patches, channels, patch, h = _patches(c, patch_default)
    heads = c.int("num_attention_heads", default=12)
    d = c.head_dim(h, heads)
    bias = c.bool("qkv_bias", default=True)
    inner = h * c.int("mlp_ratio", default=4)
    n = patches + 1 + registers

    def mlp() -> Node:
        if not c.bool("use_swiglu_ffn", default=False):
            return module("mlp", f"{prefix}MLP", [linear("fc1", h, inner, length=n),
                                                 linear("fc2", inner, h, length=n)], h)
        gated = (inner * 2 // 3 + 7) // 8 * 8  # two thirds, rounded up to a multiple of 8
        return module("mlp", f"{prefix}SwiGLUFFN", [
            linear("gate_proj", h, gated, length=n), linear("up_proj", h, gated, length=n),
            linear("down_proj", gated, h, length=n)], h)

    def block(i: int) -> Node:
        attn = [linear(p, h, heads * d, bias, n) for p in ("q_proj", "k_proj", "v_proj")]
        attn.append(linear("o_proj", heads * d, h, length=n))
        return module(str(i), f"{prefix}Layer", [
            norm("norm1", h),
            attends(module("attention", f"{prefix}Attention", attn), heads, d, h, queries=n,
                    keys=n, cached=False),
            module("layer_scale1", f"{prefix}LayerScale", [parameter("lambda1", (h,))]),
            norm("norm2", h), mlp(),
            module("layer_scale2", f"{prefix}LayerScale", [parameter("lambda1", (h,))])], h)

    tokens = [parameter("cls_token", (1, 1, h))]
    if c.bool("use_mask_token", default=True):
        tokens.append(parameter("mask_token", (1, h)))
    # the position table covers the class token and the patches, not the registers
    tokens.append(roles.embedding(parameter("position_embeddings", (1, patches + 1, h))))
    if registers:
        tokens.append(parameter("register_tokens", (1, registers, h)))
    embeddings = module("embeddings", f"{prefix}Embeddings", [
        *tokens, _projection(c, prefix, channels, h, patch)], h)
    layers = stack("layer", blocks(c.layers("num_hidden_layers", default=12), None,
                                   block), h)
    parts = [embeddings, module("encoder", f"{prefix}Encoder", [layers], h),
             norm("layernorm", h)]
    if head == "Model":
        return module("", f"{prefix}Model", parts, h)
    body = module("dinov2" if not registers else "dinov2_with_registers", f"{prefix}Model",
                  parts, h)
    labels = c.num_labels()
    # the class token and the mean of the patch tokens, side by side
    return module("", head, [body, linear("classifier", 2 * h, labels, length=1)]
                  if labels > 0 else [body])


@register("dinov2", "Dinov2", ("Model", "ForImageClassification"))
def dinov2(c: Config, head: str, roles: Roles) -> Node:
    return _dinov2(c, head, roles, "Dinov2", 0, 14)


@register("dinov2_with_registers", "Dinov2WithRegisters", ("Model", "ForImageClassification"))
def dinov2_with_registers(c: Config, head: str, roles: Roles) -> Node:
    return _dinov2(c, head, roles, "Dinov2WithRegisters",
                   c.int("num_register_tokens", default=4, min=0), 16)
