"""ConvNeXt and ConvNeXt V2: convolutional stages, not a transformer.

A module of its own for a structure no transformer family has: a patch convolution, then stages
of blocks (a 7×7 depthwise convolution, a LayerNorm, and an MLP of 1×1 convolutions written as
linear layers), each stage after the first opened by a LayerNorm and a 2×2 convolution that
halves the image and widens the channels (``hidden_sizes``, ``depths``). V1 scales each block
by a learned vector (``layer_scale_init_value`` > 0); V2 adds global response normalization
(``grn``) instead. Compute follows the image size: each stage's positions are fixed.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.parts import Roles, blocks, conv, linear, module, norm, parameter
from paramcount.layers import Weight
from paramcount.tree import Compute, Node

_HEADS = ("ForImageClassification", "Model")


def _depthwise(dim: int, positions: int) -> Node:
    """``nn.Conv2d(dim, dim, 7, padding=3, groups=dim)``: one 7×7 filter per channel."""
    weights = (Weight("weight", (dim, 1, 7, 7)), Weight("bias", (dim,)))
    return Node("dwconv", "Conv2d", (dim, None, None), weights, remark="depthwise",
                compute=Compute(fixed=dim * 49 * positions))


def _stages(c: Config, v2: bool, prefix: str) -> tuple[list[Node], int]:
    sizes = c.ints("hidden_sizes", default=(96, 192, 384, 768))
    depths = c.ints("depths", default=(3, 3, 9, 3))
    n = c.int("num_stages", "num_hidden_layers", default=4)
    if len(sizes) < n or len(depths) < n:
        raise c.error("num_stages", n, "is more than hidden_sizes and depths describe")
    scale = c.raw("layer_scale_init_value", default=1e-6)
    scaled = not v2 and isinstance(scale, int | float) and scale > 0
    side = c.pair("image_size", 224)
    patch = c.int("patch_size", default=4)
    h, w = side[0] // patch, side[1] // patch
    stages, prev = [], sizes[0]
    for i in range(n):
        dim, parts = sizes[i], []
        if i > 0:  # halve the image, widen the channels
            parts.append(module("downsampling_layer", "ModuleList", [
                norm("0", prev), conv("1", prev, dim, (2, 2), (prev, h, w), stride=2)], dim))
            h, w = h // 2, w // 2

        def block(j: int, dim: int = dim, positions: int = h * w) -> Node:
            items = [_depthwise(dim, positions), norm("layernorm", dim),
                     linear("pwconv1", dim, 4 * dim, length=positions)]
            if v2:
                shape = (1, 1, 1, 4 * dim)
                items.append(module("grn", f"{prefix}GRN", [parameter("weight", shape),
                                                            parameter("bias", shape)]))
            items.append(linear("pwconv2", 4 * dim, dim, length=positions))
            if scaled:
                items.insert(0, parameter("layer_scale_parameter", (dim,)))
            return module(str(j), f"{prefix}Layer", items, dim)

        layers = blocks(depths[i], None, block).build(depths[i])
        parts.append(module("layers", "ModuleList", layers, dim))
        stages.append(module(str(i), f"{prefix}Stage", parts, dim))
        prev = dim
    return stages, prev


def _convnext(c: Config, head: str, roles: Roles, prefix: str, v2: bool) -> Node:
    channels, patch = c.int("num_channels", default=3), c.int("patch_size", default=4)
    sizes = c.ints("hidden_sizes", default=(96, 192, 384, 768)) or (96,)
    image = c.pair("image_size", 224)
    embeddings = module("embeddings", f"{prefix}Embeddings", [
        conv("patch_embeddings", channels, sizes[0], (patch, patch), (channels, *image),
             stride=patch), norm("layernorm", sizes[0])], sizes[0])
    stages, last = _stages(c, v2, prefix)
    parts = [embeddings, module("encoder", f"{prefix}Encoder", [
        module("stages", "ModuleList", stages, last)], last), norm("layernorm", last)]
    if head == "Model":
        return module("", f"{prefix}Model", parts, last)
    body = module(prefix.lower(), f"{prefix}Model", parts, last)
    labels = c.num_labels()
    return module("", head, [body, linear("classifier", last, labels, length=1)]
                  if labels > 0 else [body])


@register("convnext", "ConvNext", _HEADS)
def convnext(c: Config, head: str, roles: Roles) -> Node:
    return _convnext(c, head, roles, "ConvNext", v2=False)


@register("convnextv2", "ConvNextV2", _HEADS)
def convnextv2(c: Config, head: str, roles: Roles) -> Node:
    return _convnext(c, head, roles, "ConvNextV2", v2=True)
