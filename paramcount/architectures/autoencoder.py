"""diffusers' ``AutoencoderKL`` (the VAE of Stable Diffusion, SDXL, SD3 and Flux) from its
config.json.

An encoder that narrows the image through blocks of residual blocks to a middle block (two
residual blocks around one single-head self-attention over the whole image), then to twice the
latent channels (a mean and a log-variance); a decoder that mirrors it from the latents, each
up block one residual block deeper; and two 1×1 convolutions between them (``quant_conv``,
``post_quant_conv``, which SD3 and Flux leave out).
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.diffusion import (
    Image,
    attention,
    conv3,
    downsample,
    image,
    resnet,
    upsample,
)
from paramcount.architectures.parts import Roles, conv, group_norm, module
from paramcount.tree import Node


def _mid(channels: int, groups: int, at: Image, attend: bool) -> Node:
    """``UNetMidBlock2D``: a residual block, self-attention (GroupNorm first, one head as
    wide as the channels), a residual block."""
    items = [module("resnets", "ModuleList", [resnet(str(i), channels, channels, at, groups, None)
                                              for i in range(2)], channels)]
    if attend:
        items.insert(0, module("attentions", "ModuleList", [
            attention("0", channels, 1, channels, bias=True, groups=groups)], channels))
    return module("mid_block", "UNetMidBlock2D", items, channels)


def _encoder(c: Config, sizes: list[int], layers: int, groups: int, at: Image) -> Node:
    channels = c.int("in_channels", default=3)
    items, prev = [conv3("conv_in", channels, sizes[0], at)], sizes[0]
    downs = []
    for i, out in enumerate(sizes):
        ins = [prev] + [out] * (layers - 1)
        parts = [module("resnets", "ModuleList", [resnet(str(j), n, out, at, groups, None)
                                                  for j, n in enumerate(ins)], out)]
        if i < len(sizes) - 1:  # the encoder pads its downsampling asymmetrically, by hand
            sampler, at = downsample(out, at, padding=0)
            parts.append(sampler)
        downs.append(module(str(i), "DownEncoderBlock2D", parts, out))
        prev = out
    latent = c.int("latent_channels", default=4)
    attend = c.bool("mid_block_add_attention", default=True)
    items += [module("down_blocks", "ModuleList", downs), _mid(prev, groups, at, attend),
              group_norm("conv_norm_out", groups, prev), conv3("conv_out", prev, 2 * latent, at)]
    return module("encoder", "Encoder", items)


def _decoder(c: Config, sizes: list[int], layers: int, groups: int, at: Image) -> Node:
    latent, last = c.int("latent_channels", default=4), sizes[-1]
    attend = c.bool("mid_block_add_attention", default=True)
    items = [conv3("conv_in", latent, last, at), _mid(last, groups, at, attend)]
    ups, prev = [], last
    for i, out in enumerate(sizes[::-1]):
        ins = [prev] + [out] * layers
        parts = [module("resnets", "ModuleList", [resnet(str(j), n, out, at, groups, None)
                                                  for j, n in enumerate(ins)], out)]
        if i < len(sizes) - 1:
            sampler, at = upsample(out, at)
            parts.append(sampler)
        ups.append(module(str(i), "UpDecoderBlock2D", parts, out))
        prev = out
    items += [module("up_blocks", "ModuleList", ups), group_norm("conv_norm_out", groups, prev),
              conv3("conv_out", prev, c.int("out_channels", default=3), at)]
    return module("decoder", "Decoder", items)


@register("AutoencoderKL", "AutoencoderKL", ("",), base="")
def autoencoder_kl(c: Config, head: str, roles: Roles) -> Node:
    sizes = list(c.ints("block_out_channels", default=(64,))) or [64]
    for name, kind in (("down_block_types", "DownEncoderBlock2D"),
                       ("up_block_types", "UpDecoderBlock2D")):
        kinds = c.raw(name, default=[kind])  # diffusers' default: one block
        if not isinstance(kinds, list) or kinds != [kind] * len(sizes):
            raise c.error(name, kinds, f"is not {len(sizes)} × {kind} (the blocks paramcount "
                          "declares, one per block_out_channels)")
    layers = c.int("layers_per_block", default=1)
    groups = c.int("norm_num_groups", default=32)
    at = image(c, c.int("in_channels", default=3), 32)
    encoder = _encoder(c, sizes, layers, groups, at)
    scale = 2 ** (len(sizes) - 1)
    latent = c.int("latent_channels", default=4)
    small: Image = (latent, *(None if s is None else s // scale for s in at[1:]))
    items = [encoder, _decoder(c, sizes, layers, groups, small)]
    if c.bool("use_quant_conv", default=True):
        items.append(conv("quant_conv", 2 * latent, 2 * latent, (1, 1), (2 * latent, *small[1:])))
    if c.bool("use_post_quant_conv", default=True):
        items.append(conv("post_quant_conv", latent, latent, (1, 1), small))
    return module("", "AutoencoderKL", items)
