"""Swin Transformer: a vision transformer in stages, attending within windows.

Each stage halves the image's grid and doubles the width: its blocks attend within windows of
``window_size``² patches (every other one shifted by half a window), with a table of learned
biases for each relative position inside a window, one per head; a patch merging layer
(a norm and a bias-free linear layer from four neighbours' features to twice the width) ends
every stage but the last.
"""

from __future__ import annotations

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


def _block(c: Config, dim: int, heads: int, tokens: int) -> Node:
    """One Swin layer of width ``dim`` on a stage of ``tokens`` patches."""
    window = c.int("window_size", default=7)
    inner = int(c.number("mlp_ratio", default=4.0) * dim)
    bias = c.bool("qkv_bias", default=True)
    table = module("relative_position_bias", "SwinRelativePositionBias", [
        parameter("relative_position_bias_table", ((2 * window - 1) ** 2, heads))])
    attn = [linear(p, dim, dim, bias, tokens) for p in ("q_proj", "k_proj", "v_proj")]
    attn += [linear("o_proj", dim, dim, length=tokens), table]
    attention = attends(module("attention", "SwinAttention", attn, dim), heads,
                        c.head_dim(dim, heads, field="num_heads"), dim, queries=tokens,
                        keys=window * window, cached=False)  # each query: its window's keys
    return module("0", "SwinLayer", [
        attention, norm("layernorm_before", dim), norm("layernorm_after", dim),
        module("mlp", "SwinMLP", [linear("fc1", dim, inner, length=tokens),
                                  linear("fc2", inner, dim, length=tokens)], dim)], dim)


def _stage(c: Config, i: int, depth: int, heads: int, grid: tuple[int, int], last: bool
           ) -> Node:
    dim = c.int("embed_dim", default=96) * 2 ** i
    tokens = (grid[0] // 2 ** i) * (grid[1] // 2 ** i)
    layer = _block(c, dim, heads, tokens)
    parts = [stack("blocks", blocks(depth, None, lambda j: layer), dim)]
    if not last:
        parts.append(module("downsample", "SwinPatchMerging", [
            linear("reduction", 4 * dim, 2 * dim, bias=False, length=tokens // 4),
            norm("norm", 4 * dim)], 2 * dim))
    return module(str(i), "SwinStage", parts, dim if last else 2 * dim)


def _swin_model(c: Config, roles: Roles, name: str) -> tuple[Node, int]:
    image, patch = c.pair("image_size", 224), c.pair("patch_size", 4)
    grid = (image[0] // patch[0], image[1] // patch[1])
    channels, h = c.int("num_channels", default=3), c.int("embed_dim", default=96)
    depths = c.ints("depths", default=(2, 2, 6, 2))
    heads = c.ints("num_heads", default=(3, 6, 12, 24))
    if len(heads) != len(depths):
        raise c.error("num_heads", list(heads), f"has not one entry per stage of depths="
                      f"{list(depths)}")
    embeddings = [module("patch_embeddings", "SwinPatchEmbeddings", [
        conv("projection", channels, h, patch, (channels, *image), stride=patch)], h)]
    if c.bool("use_absolute_embeddings", default=False):
        embeddings.append(roles.embedding(parameter("position_embeddings",
                                                    (1, grid[0] * grid[1], h))))
    embeddings.append(norm("norm", h))
    stages = [_stage(c, i, d, n, grid, i == len(depths) - 1)
              for i, (d, n) in enumerate(zip(depths, heads, strict=True))]
    width = h * 2 ** (len(depths) - 1)
    return module(name, "SwinModel", [
        module("embeddings", "SwinEmbeddings", embeddings, h),
        module("encoder", "SwinEncoder", [module("layers", "ModuleList", stages, width)],
               width),
        norm("layernorm", width)], width), width


@register("swin", "Swin", ("ForImageClassification", "Model"))
def swin(c: Config, head: str, roles: Roles) -> Node:
    """``SwinModel`` (its pooler an average, without weights) and its image classifier."""
    if head == "Model":
        body, _ = _swin_model(c, roles, "")
        return body
    body, width = _swin_model(c, roles, "swin")
    labels = c.num_labels()
    return module("", head, [body] + (
        [linear("classifier", width, labels, length=1)] if labels > 0 else []))
