"""diffusers' ``UNet2DConditionModel`` (Stable Diffusion 1.x and 2.x, SDXL) from its config.json.

A module of its own for a structure no transformer has: a time embedding, down blocks of
residual blocks (each followed, in a ``CrossAttn`` block, by a ``Transformer2DModel`` whose
blocks attend to the text), a middle block, and up blocks whose residual blocks also take the
skip connection of the down path (their input is the two concatenated). The config's
``attention_head_dim`` is, for this class, the number of heads (diffusers keeps the old name);
the width of an attention is the block's channels either way. SDXL adds ``text_time``
embeddings and deeper transformers per block (``transformer_layers_per_block``).
"""

from __future__ import annotations

from typing import Any

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.diffusion import (
    Image,
    attention,
    downsample,
    feed_forward,
    image,
    only,
    per_block,
    positions,
    resnet,
    timestep_embedding,
    upsample,
)
from paramcount.architectures.parts import (
    Roles,
    blocks,
    conv,
    group_norm,
    linear,
    module,
    norm,
    stack,
)
from paramcount.tree import Node

DOWN = ("CrossAttnDownBlock2D", "DownBlock2D")
UP = ("CrossAttnUpBlock2D", "UpBlock2D")
MID = ("UNetMidBlock2DCrossAttn", None)


def _spatial(name: str, c: Config, channels: int, heads: int, depth: int, cross: int,
             at: Image) -> Node:
    """``Transformer2DModel`` on an image: GroupNorm, a projection in (linear or 1×1
    convolution), ``depth`` ``BasicTransformerBlock`` (self-attention, cross-attention to
    the text, GEGLU feed-forward, each after a LayerNorm), a projection out."""
    head_dim = channels // heads
    inner = heads * head_dim
    linear_io = c.bool("use_linear_projection", default=False)
    length = positions(at)

    def block(i: int) -> Node:
        return module(str(i), "BasicTransformerBlock", [
            norm("norm1", inner), attention("attn1", inner, heads, head_dim),
            norm("norm2", inner), attention("attn2", inner, heads, head_dim, cross=cross),
            norm("norm3", inner), feed_forward("ff", inner)], inner)

    def project(name: str, n_in: int, n_out: int) -> Node:
        if linear_io:
            return linear(name, n_in, n_out, length=length)
        return conv(name, n_in, n_out, (1, 1), (n_in, *at[1:]))

    groups = c.int("norm_num_groups", default=32)
    return module(name, "Transformer2DModel", [
        group_norm("norm", groups, channels), project("proj_in", channels, inner),
        stack("transformer_blocks", blocks(depth, None, block), inner),
        project("proj_out", inner, channels)], channels)


def _resnets(c: Config, temb: int, ins: list[int], out: int, at: Image) -> list[Node]:
    groups = c.int("norm_num_groups", default=32)
    shift = str(only(c, "resnet_time_scale_shift", ("default", "scale_shift"), "default"))
    return [resnet(str(i), n, out, at, groups, temb, shift) for i, n in enumerate(ins)]


def _attentions(c: Config, out: int, heads: int, depths: list[int], cross: int, at: Image
                ) -> Node:
    return module("attentions", "ModuleList", [
        _spatial(str(i), c, out, heads, d, cross, at) for i, d in enumerate(depths)], out)


def _depths(value: Any, layers: int) -> list[int]:
    return list(value) if isinstance(value, list | tuple) else [int(value)] * layers


def _down(c: Config, kind: Any, i: int, sizes: dict[str, Any], at: Image
          ) -> tuple[Node, Image]:
    out, layers = sizes["out"][i], sizes["layers"][i]
    ins = [sizes["out"][max(i - 1, 0)]] + [out] * (layers - 1)
    items = [module("resnets", "ModuleList", _resnets(c, sizes["temb"], ins, out, at), out)]
    if kind == "CrossAttnDownBlock2D":
        items.insert(0, _attentions(c, out, sizes["heads"][i],
                                    _depths(sizes["depth"][i], layers), sizes["cross"][i], at))
    if i < len(sizes["out"]) - 1:
        padding = c.int("downsample_padding", default=1, min=0)
        sampler, at = downsample(out, at, padding)
        items.append(sampler)
    return module(str(i), str(kind), items, out), at


def _up(c: Config, kind: Any, i: int, sizes: dict[str, Any], depths: list[Any], at: Image
        ) -> tuple[Node, Image]:
    rev = sizes["out"][::-1]
    out, prev, skip = rev[i], rev[max(i - 1, 0)], rev[min(i + 1, len(rev) - 1)]
    layers = sizes["layers"][::-1][i] + 1
    ins = [(prev if j == 0 else out) + (skip if j == layers - 1 else out) for j in range(layers)]
    items = [module("resnets", "ModuleList", _resnets(c, sizes["temb"], ins, out, at), out)]
    if kind == "CrossAttnUpBlock2D":
        items.insert(0, _attentions(c, out, sizes["heads"][::-1][i], _depths(depths[i], layers),
                                    sizes["cross"][::-1][i], at))
    if i < len(rev) - 1:
        sampler, at = upsample(out, at)
        items.append(sampler)
    return module(str(i), str(kind), items, out), at


def _mid(c: Config, sizes: dict[str, Any], at: Image) -> Node:
    out = sizes["out"][-1]
    depth = _depths(sizes["depth"][-1], 1)
    return module("mid_block", "UNetMidBlock2DCrossAttn", [
        _attentions(c, out, sizes["heads"][-1], depth[:1], sizes["cross"][-1], at),
        module("resnets", "ModuleList", _resnets(c, sizes["temb"], [out, out], out, at), out)],
        out)


def _embeddings(c: Config, first: int) -> tuple[list[Node], int]:
    """The time embedding, and SDXL's ``text_time`` embedding of the pooled text and the
    image sizes; returns them and the width of the embedding the blocks receive."""
    only(c, "time_embedding_type", ("positional",), "positional")
    only(c, "class_embed_type", (None,), None)
    only(c, "encoder_hid_dim_type", (None,), None)
    temb = c.int("time_embedding_dim", default=None) or first * 4
    items = [timestep_embedding("time_embedding", first, temb,
                                cond=c.int("time_cond_proj_dim", default=None))]
    if only(c, "addition_embed_type", (None, "text_time"), None) == "text_time":
        n_in = c.int("projection_class_embeddings_input_dim", default=None)
        if n_in is None:
            raise c.error("projection_class_embeddings_input_dim", None,
                          "is needed by addition_embed_type='text_time'")
        items.append(timestep_embedding("add_embedding", n_in, temb))
    return items, temb


@register("UNet2DConditionModel", "UNet2DConditionModel", ("",), base="")
def unet(c: Config, head: str, roles: Roles) -> Node:
    down = c.raw("down_block_types", default=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"])
    up = c.raw("up_block_types", default=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3)
    out = list(c.ints("block_out_channels", default=(320, 640, 1280, 1280)))
    for name, kinds, known in (("down_block_types", down, DOWN), ("up_block_types", up, UP)):
        if not isinstance(kinds, list) or len(kinds) != len(out) or not set(kinds) <= set(known):
            raise c.error(name, kinds, f"is not {len(out)} of {', '.join(known)} (the blocks "
                          "paramcount declares, one per block_out_channels)")
    only(c, "mid_block_type", MID, "UNetMidBlock2DCrossAttn")
    for name in ("dual_cross_attention", "class_embeddings_concat", "only_cross_attention"):
        only(c, name, (False,), False)
    only(c, "attention_type", ("default",), "default")
    n = len(out)
    only(c, "num_attention_heads", (None,), None)  # diffusers refuses it too
    embeddings, temb = _embeddings(c, out[0])
    sizes: dict[str, Any] = {
        "out": out, "temb": temb, "heads": per_block(c, "attention_head_dim", 8, n),
        "layers": per_block(c, "layers_per_block", 2, n),
        "cross": per_block(c, "cross_attention_dim", 1280, n),
        "depth": per_block(c, "transformer_layers_per_block", 1, n, nested=True)}
    reverse = c.raw("reverse_transformer_layers_per_block") or sizes["depth"][::-1]
    channels = c.int("in_channels", default=4)
    at = image(c, channels, None)
    kernel = c.int("conv_in_kernel", default=3)
    items = [conv("conv_in", channels, out[0], (kernel, kernel), at, padding=(kernel - 1) // 2),
             *embeddings]
    at = (out[0], *at[1:])
    downs = []
    for i, kind in enumerate(down):
        block, at = _down(c, kind, i, sizes, at)
        downs.append(block)
    items.append(module("down_blocks", "ModuleList", downs))
    if c.raw("mid_block_type", default=MID[0]) is not None:
        items.append(_mid(c, sizes, at))
    ups = []
    for i, kind in enumerate(up):
        block, at = _up(c, kind, i, sizes, reverse, at)
        ups.append(block)
    items.append(module("up_blocks", "ModuleList", ups))
    kernel = c.int("conv_out_kernel", default=3)
    items += [group_norm("conv_norm_out", c.int("norm_num_groups", default=32), out[0]),
              conv("conv_out", out[0], c.int("out_channels", default=4), (kernel, kernel),
                   (out[0], *at[1:]), padding=(kernel - 1) // 2)]
    return module("", "UNet2DConditionModel", items)

