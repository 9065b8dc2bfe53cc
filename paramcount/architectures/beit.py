"""BEiT and data2vec-vision: ViT with learned relative position biases and layer scales.

Both are one structure (data2vec-vision is BEiT's code under BERT's module names): a class
token and a patch convolution, then blocks whose key projection has no bias, whose branches
are scaled by learned vectors (``layer_scale_init_value`` > 0), and whose attention adds a
learned bias per relative position and head (a table per block, or one shared by all, or
none: then a table of absolute positions). The image is pooled as the mean of its patches
after a norm, or as its class token after the final norm.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _bias_table(c: Config, prefix: str, heads: int) -> Node:
    """The relative position biases of a grid of patches: one per offset, and three for the
    class token (to, from and to itself), for each head."""
    image, patch = c.pair("image_size", 224), c.pair("patch_size", 16)
    grid = (image[0] // patch[0], image[1] // patch[1])
    size = (2 * grid[0] - 1) * (2 * grid[1] - 1) + 3
    return module("relative_position_bias", f"{prefix}RelativePositionBias", [
        parameter("relative_position_bias_table", (size, heads))])


@dataclass(frozen=True)
class _Dims:
    hidden: int
    heads: int
    inner: int
    tokens: int


def _beit_layer(c: Config, d: _Dims, own_bias: bool) -> list[Node]:
    """BEiT's names: ``attention.{q,k,v,o}_proj``, ``mlp.fc1/fc2``, the table on the layer."""
    h, n = d.hidden, d.tokens
    attn = [linear("q_proj", h, h, length=n), linear("k_proj", h, h, False, n),
            linear("v_proj", h, h, length=n), linear("o_proj", h, h, length=n)]
    parts = [attends(module("attention", "BeitAttention", attn, h), d.heads, h // d.heads, h,
                     queries=n, keys=n, cached=False),
             module("mlp", "BeitMLP", [linear("fc1", h, d.inner, length=n),
                                       linear("fc2", d.inner, h, length=n)], h)]
    return parts + ([_bias_table(c, "Beit", d.heads)] if own_bias else [])


def _data2vec_layer(c: Config, d: _Dims, own_bias: bool) -> list[Node]:
    """BERT's names: ``attention.attention.{query,key,value}`` (the table beside them),
    ``attention.output.dense``, ``intermediate.dense``, ``output.dense``."""
    h, n, p = d.hidden, d.tokens, "Data2VecVision"
    inner = [linear("query", h, h, length=n), linear("key", h, h, False, n),
             linear("value", h, h, length=n)]
    inner += [_bias_table(c, p, d.heads)] if own_bias else []
    attention = module("attention", f"{p}Attention", [
        attends(module("attention", f"{p}SelfAttention", inner, h), d.heads, h // d.heads, h,
                queries=n, keys=n, cached=False),
        module("output", f"{p}SelfOutput", [linear("dense", h, h, length=n)], h)], h)
    return [attention,
            module("intermediate", f"{p}Intermediate", [linear("dense", h, d.inner, length=n)]),
            module("output", f"{p}Output", [linear("dense", d.inner, h, length=n)], h)]


@dataclass(frozen=True)
class _Kind:
    prefix: str
    path: str                   # the backbone under a head
    layer: Callable[[Config, _Dims, bool], list[Node]]
    in_encoder: bool            # blocks (and a shared table) under ``encoder``
    pooled: bool                # the bare backbone has its pooler


_KINDS = {"beit": _Kind("Beit", "beit", _beit_layer, False, True),
          "data2vec-vision": _Kind("Data2VecVision", "data2vec_vision", _data2vec_layer, True,
                                   False)}


def _backbone(c: Config, roles: Roles, kind: _Kind, name: str, pooled: bool) -> Node:
    image, patch = c.pair("image_size", 224), c.pair("patch_size", 16)
    patches = (image[0] // patch[0]) * (image[1] // patch[1])
    h, heads = c.int("hidden_size", default=768), c.int("num_attention_heads", default=12)
    c.head_dim(h, heads)
    d = _Dims(h, heads, c.int("intermediate_size", default=3072), patches + 1)
    own = c.bool("use_relative_position_bias", default=False)
    scaled = c.number("layer_scale_init_value", default=0.1) > 0

    def layer(i: int) -> Node:
        scales = [parameter(f"lambda_{k}", (h,)) for k in (1, 2)] if scaled else []
        return module(str(i), f"{kind.prefix}Layer", [
            *kind.layer(c, d, own), norm("layernorm_before", h), norm("layernorm_after", h),
            *scales], h)

    channels = c.int("num_channels", default=3)
    tokens = [parameter("cls_token", (1, 1, h))]
    if c.bool("use_mask_token", default=False):
        tokens.append(parameter("mask_token", (1, 1, h)))
    if c.bool("use_absolute_position_embeddings", default=False):
        tokens.append(roles.embedding(parameter("position_embeddings", (1, patches + 1, h))))
    embeddings = module("embeddings", f"{kind.prefix}Embeddings", [*tokens, module(
        "patch_embeddings", f"{kind.prefix}PatchEmbeddings", [
            conv("projection", channels, h, patch, (channels, *image), stride=patch)], h)], h)
    shared = [_bias_table(c, kind.prefix, heads)] if c.bool(
        "use_shared_relative_position_bias", default=False) else []
    layers = stack("layer" if kind.in_encoder else "layers", blocks(
        c.layers("num_hidden_layers", default=12), None, layer), h)
    if kind.in_encoder:
        body = [module("encoder", f"{kind.prefix}Encoder", [*shared, layers], h)]
    else:
        if shared:
            shared[0].name = "shared_position_bias"
        body = [*shared, layers]
    mean = c.bool("use_mean_pooling", default=True)
    tail = [] if mean else [norm("layernorm", h)]
    if pooled and mean:
        tail.append(module("pooler", f"{kind.prefix}Pooler", [norm("layernorm", h)], h))
    return module(name, f"{kind.prefix}Model", [embeddings, *body, *tail], h)


def _build(c: Config, head: str, roles: Roles, kind: _Kind) -> Node:
    if head == "Model":
        return _backbone(c, roles, kind, "", kind.pooled)
    if head == "ForMaskedImageModeling":  # BEiT's pre-training: visual tokens at each patch
        h = c.int("hidden_size", default=768)
        return module("", head, [
            _backbone(c, roles, kind, kind.path, False), norm("layernorm", h),
            linear("lm_head", h, c.int("vocab_size", default=8192))])
    body = _backbone(c, roles, kind, kind.path, True)
    labels = c.num_labels()
    return module("", head, [body] + ([linear(
        "classifier", c.int("hidden_size", default=768), labels, length=1)] if labels else []))


@register("beit", "Beit", ("ForImageClassification", "ForMaskedImageModeling", "Model"))
def beit(c: Config, head: str, roles: Roles) -> Node:
    return _build(c, head, roles, _KINDS["beit"])


@register("data2vec-vision", "Data2VecVision", ("ForImageClassification", "Model"))
def data2vec_vision(c: Config, head: str, roles: Roles) -> Node:
    return _build(c, head, roles, _KINDS["data2vec-vision"])
