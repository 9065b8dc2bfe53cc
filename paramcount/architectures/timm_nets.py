"""timm's image models, by the names people type (``resnet50``, ``vit_base_patch16_224``,
``convnext_tiny``, ``efficientnet_b0``, ``mobilenetv3_large_100``), from timm's own
architecture definitions written here as data: :data:`MODELS` maps a name to its family and
the arguments timm's model function gives it, and one builder per family makes the tree,
named as timm names its modules (``layer1.0.conv1``, ``blocks.0.attn.qkv``,
``stages.1.downsample.1``), so that a timm checkpoint's tensors line up with it.

A timm Hub repo's ``config.json`` names the model in ``architecture`` (with ``num_classes``
and, sometimes, ``model_args``); the name's tag (``.a1_in1k``) is the weights, not the
architecture. BatchNorm statistics are buffers, as in PyTorch.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.parts import Roles, _layer, conv, linear, module, norm, parameter
from paramcount.errors import SpecError
from paramcount.tree import Node

Image = tuple[int, int | None, int | None]

# -- the names: family and arguments, as timm's model functions give them ----------------------

_RESNETS: dict[str, dict[str, Any]] = {
    "resnet18": {"block": "basic", "layers": (2, 2, 2, 2)},
    "resnet34": {"block": "basic", "layers": (3, 4, 6, 3)},
    "resnet26": {"layers": (2, 2, 2, 2)},
    "resnet50": {"layers": (3, 4, 6, 3)},
    "resnet101": {"layers": (3, 4, 23, 3)},
    "resnet152": {"layers": (3, 8, 36, 3)},
    "resnet50d": {"layers": (3, 4, 6, 3), "deep": True},
    "resnet101d": {"layers": (3, 4, 23, 3), "deep": True},
    "resnext50_32x4d": {"layers": (3, 4, 6, 3), "cardinality": 32, "base_width": 4},
    "resnext101_32x4d": {"layers": (3, 4, 23, 3), "cardinality": 32, "base_width": 4},
    "resnext101_32x8d": {"layers": (3, 4, 23, 3), "cardinality": 32, "base_width": 8},
    "resnext101_64x4d": {"layers": (3, 4, 23, 3), "cardinality": 64, "base_width": 4},
    "wide_resnet50_2": {"layers": (3, 4, 6, 3), "base_width": 128},
    "wide_resnet101_2": {"layers": (3, 4, 23, 3), "base_width": 128},
}
#: ViT widths: (embed_dim, depth, num_heads)
_VIT_SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12),
              "large": (1024, 24, 16), "huge": (1280, 32, 16)}
_VITS: dict[str, dict[str, Any]] = {
    **{f"vit_{size}_patch{patch}_{img}": {"size": size, "patch": patch, "img": img}
       for size in ("tiny", "small", "base", "large") for patch in (16, 32)
       for img in (224, 384)},
    "vit_huge_patch14_224": {"size": "huge", "patch": 14, "img": 224},
    **{f"deit_{size}_patch16_{img}": {"size": size, "patch": 16, "img": img}
       for size in ("tiny", "small", "base") for img in (224, 384)},
    **{f"deit_{size}_distilled_patch16_{img}": {"size": size, "patch": 16, "img": img,
                                                "distilled": True}
       for size in ("tiny", "small", "base") for img in (224, 384)},
}
_CONVNEXTS: dict[str, dict[str, Any]] = {
    "convnext_atto": {"depths": (2, 2, 6, 2), "dims": (40, 80, 160, 320)},
    "convnext_femto": {"depths": (2, 2, 6, 2), "dims": (48, 96, 192, 384)},
    "convnext_pico": {"depths": (2, 2, 6, 2), "dims": (64, 128, 256, 512)},
    "convnext_nano": {"depths": (2, 2, 8, 2), "dims": (80, 160, 320, 640)},
    "convnext_tiny": {"depths": (3, 3, 9, 3), "dims": (96, 192, 384, 768)},
    "convnext_small": {"depths": (3, 3, 27, 3), "dims": (96, 192, 384, 768)},
    "convnext_base": {"depths": (3, 3, 27, 3), "dims": (128, 256, 512, 1024)},
    "convnext_large": {"depths": (3, 3, 27, 3), "dims": (192, 384, 768, 1536)},
    "convnext_xlarge": {"depths": (3, 3, 27, 3), "dims": (256, 512, 1024, 2048)},
}
#: EfficientNet's scaling: (width multiplier, depth multiplier), per timm's _gen_efficientnet
_EFFICIENTNETS = {f"efficientnet_b{i}": {"width": w, "depth": d} for i, (w, d) in enumerate(
    ((1.0, 1.0), (1.0, 1.1), (1.1, 1.2), (1.2, 1.4), (1.4, 1.8), (1.6, 2.2), (1.8, 2.6),
     (2.0, 3.1)))}

#: every name paramcount builds -> (family, its arguments)
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    **{n: ("resnet", a) for n, a in _RESNETS.items()},
    **{n: ("vit", a) for n, a in _VITS.items()},
    **{n: ("convnext", a) for n, a in _CONVNEXTS.items()},
    **{n: ("efficientnet", a) for n, a in _EFFICIENTNETS.items()},
    "mobilenetv3_large_100": ("mobilenetv3", {"size": "large"}),
    "mobilenetv3_small_100": ("mobilenetv3", {"size": "small"}),
    **{f"swin_{size}_patch4_window{w}_{img}": ("swin", {"size": size, "window": w})
       for size in ("tiny", "small", "base", "large") for w, img in ((7, 224), (12, 384))
       if size in ("base", "large") or w == 7},
}


# -- shared parts ----------------------------------------------------------------------------

def _bn(name: str, channels: int) -> Node:
    """``nn.BatchNorm2d``: a scale and a shift; its running statistics are buffers."""
    return _layer(name, "BatchNorm2d", {"num_features": channels}, (channels, None, None))


def _conv(name: str, n_in: int, n_out: int, k: int, at: Image, stride: int = 1,
          groups: int = 1, bias: bool = False) -> tuple[Node, Image]:
    """A ``k``×``k`` convolution padded to keep the image (timm's ``padding=k // 2``)."""
    node = conv(name, n_in, n_out, (k, k), (n_in, *at[1:]), stride=stride, padding=k // 2,
                bias=bias, groups=groups)
    out = node.output_shape
    return node, (n_out, out[1], out[2]) if out is not None else (n_out, None, None)


def _head(c: Config, features: int, name: str = "fc") -> list[Node]:
    classes = c.int("num_classes", default=1000, min=0)
    return [linear(name, features, classes, length=1)] if classes > 0 else []


# -- ResNet, ResNeXt, Wide ResNet (timm/models/resnet.py) -------------------------------------

def _resnet_block(kind: str, n_in: int, planes: int, stride: int, a: dict[str, Any],
                  at: Image) -> tuple[Node, Image]:
    groups, base = a.get("cardinality", 1), a.get("base_width", 64)
    if kind == "basic":
        c1, mid = _conv("conv1", n_in, planes, 3, at, stride)
        c2, out = _conv("conv2", planes, planes, 3, mid)
        items, n_out = [c1, _bn("bn1", planes), c2, _bn("bn2", planes)], planes
    else:  # bottleneck: 1×1 in, grouped 3×3, 1×1 out four times as wide
        width, n_out = int(planes * base / 64) * groups, planes * 4
        c1, mid = _conv("conv1", n_in, width, 1, at)
        c2, mid = _conv("conv2", width, width, 3, mid, stride, groups)
        c3, out = _conv("conv3", width, n_out, 1, mid)
        items = [c1, _bn("bn1", width), c2, _bn("bn2", width), c3, _bn("bn3", n_out)]
    if stride != 1 or n_in != n_out:
        if a.get("deep"):  # avg_down: pool, then a 1×1 convolution of stride 1
            short, _ = _conv("1", n_in, n_out, 1, out)
            items.append(module("downsample", "Sequential", [short, _bn("2", n_out)]))
        else:
            short, _ = _conv("0", n_in, n_out, 1, at, stride)
            items.append(module("downsample", "Sequential", [short, _bn("1", n_out)]))
    return module("", "BasicBlock" if kind == "basic" else "Bottleneck", items), out


def _halved(at: Image) -> tuple[int | None, int | None]:
    h, w = at[1:]
    return None if h is None else (h + 1) // 2, None if w is None else (w + 1) // 2


def _resnet(c: Config, a: dict[str, Any], at: Image) -> list[Node]:
    if a.get("deep"):  # stem_type="deep", stem_width=32: three 3×3 convolutions
        s0, x = _conv("0", at[0], 32, 3, at, 2)
        s3, x = _conv("3", 32, 32, 3, x)
        s6, x = _conv("6", 32, 64, 3, x)
        items = [module("conv1", "Sequential", [s0, _bn("1", 32), s3, _bn("4", 32), s6])]
    else:
        stem, x = _conv("conv1", at[0], 64, 7, at, 2)
        items = [stem]
    items.append(_bn("bn1", 64))
    x = (64, *_halved(x))  # max pool 3×3, stride 2, padding 1
    kind, n_in = a.get("block", "bottleneck"), 64
    for i, (count, planes) in enumerate(zip(a["layers"], (64, 128, 256, 512), strict=True)):
        blocks = []
        for j in range(count):
            block, x = _resnet_block(kind, n_in, planes, 2 if i > 0 and j == 0 else 1, a, x)
            block.name = str(j)
            blocks.append(block)
            n_in = x[0]
        items.append(module(f"layer{i + 1}", "Sequential", blocks))
    return items + _head(c, n_in)


# -- ViT and DeiT (timm/models/vision_transformer.py, deit.py) --------------------------------

def _vit(c: Config, a: dict[str, Any], at: Image) -> list[Node]:
    dim, depth, _ = _VIT_SIZES[a["size"]]  # heads split the width: no parameter of their own
    args = c.raw("model_args", default={}) or {}
    img = args.get("img_size", a["img"]) if isinstance(args, dict) else a["img"]
    if not isinstance(img, int) or isinstance(img, bool) or img < a["patch"]:
        raise c.error("model_args", args, "has an img_size that is not an image side")
    tokens = (img // a["patch"]) ** 2 + (2 if a.get("distilled") else 1)
    patches = conv("proj", at[0], dim, (a["patch"], a["patch"]), (at[0], img, img),
                   stride=a["patch"])
    items = [parameter("cls_token", (1, 1, dim))]
    if a.get("distilled"):
        items.append(parameter("dist_token", (1, 1, dim)))
    items += [parameter("pos_embed", (1, tokens, dim)),
              module("patch_embed", "PatchEmbed", [patches], dim)]
    block = module("", "Block", [
        norm("norm1", dim), module("attn", "Attention", [linear("qkv", dim, 3 * dim),
                                                         linear("proj", dim, dim)], dim),
        norm("norm2", dim), module("mlp", "Mlp", [linear("fc1", dim, 4 * dim),
                                                  linear("fc2", 4 * dim, dim)], dim)], dim)
    items += [module("blocks", "Sequential", _copies(block, depth), dim), norm("norm", dim),
              *_head(c, dim, "head")]
    if a.get("distilled") and c.int("num_classes", default=1000, min=0) > 0:
        items += _head(c, dim, "head_dist")
    return items


# -- ConvNeXt (timm/models/convnext.py) --------------------------------------------------------

def _divided(at: Image, k: int) -> tuple[int | None, int | None]:
    """The sides after a ``k``×``k`` convolution of stride ``k``."""
    h, w = at[1:]
    return None if h is None else h // k, None if w is None else w // k


def _convnext(c: Config, a: dict[str, Any], at: Image) -> list[Node]:
    dims, depths = a["dims"], a["depths"]
    stem = conv("0", at[0], dims[0], (4, 4), at, stride=4)  # patches of 4×4
    x: Image = (dims[0], *_divided(at, 4))
    items = [module("stem", "Sequential", [stem, norm("1", dims[0])], dims[0])]
    stages, prev = [], dims[0]
    for i, (dim, count) in enumerate(zip(dims, depths, strict=True)):
        parts = []
        if i > 0:
            down = conv("1", prev, dim, (2, 2), (prev, *x[1:]), stride=2)
            x = (dim, *_divided(x, 2))
            parts.append(module("downsample", "Sequential", [norm("0", prev), down], dim))
        dw, _ = _conv("conv_dw", dim, dim, 7, x, groups=dim, bias=True)
        block = module("", "ConvNeXtBlock", [
            parameter("gamma", (dim,)), dw, norm("norm", dim),
            module("mlp", "Mlp", [linear("fc1", dim, 4 * dim), linear("fc2", 4 * dim, dim)],
                   dim)], dim)
        parts.append(module("blocks", "Sequential", _copies(block, count), dim))
        stages.append(module(str(i), "ConvNeXtStage", parts, dim))
        prev = dim
    head = module("head", "NormMlpClassifierHead", [norm("norm", prev), *_head(c, prev)], prev)
    return [*items, module("stages", "Sequential", stages), head]


# -- EfficientNet (timm/models/efficientnet.py, _efficientnet_builder.py) ----------------------

#: EfficientNet-B0's stages: (block, repeats, kernel, stride, expansion, channels); every block
#: has squeeze-and-excitation of a quarter of its input channels
_B0 = (("ds", 1, 3, 1, 1, 16), ("ir", 2, 3, 2, 6, 24), ("ir", 2, 5, 2, 6, 40),
       ("ir", 3, 3, 2, 6, 80), ("ir", 3, 5, 1, 6, 112), ("ir", 4, 5, 2, 6, 192),
       ("ir", 1, 3, 1, 6, 320))


def round_channels(channels: float, divisor: int = 8) -> int:
    """timm's ``make_divisible``: the nearest multiple of 8, never 10% below the value.

    >>> round_channels(32 * 1.1), round_channels(1280 * 1.4)
    (32, 1792)
    """
    out = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * channels else out


def _se(n: int, reduced: int | None) -> list[Node]:
    """Squeeze-and-excitation of ``n`` channels through ``reduced`` (None: none)."""
    if reduced is None:
        return []
    return [module("se", "SqueezeExcite", [
        conv("conv_reduce", n, reduced, (1, 1), (n, 1, 1)),
        conv("conv_expand", reduced, n, (1, 1), (reduced, 1, 1))], n)]


def _mbconv(kind: str, n_in: int, n_out: int, k: int, stride: int, mid: int,
            reduced: int | None, at: Image) -> tuple[Node, Image]:
    """timm's mobile blocks: ``ds`` (depthwise, then pointwise), ``ir`` (expand to ``mid``,
    depthwise, project), ``cn`` (a 1×1 convolution), with squeeze-and-excitation."""
    if kind == "cn":
        pw, x = _conv("conv", n_in, n_out, k, at, stride)
        return module("", "ConvBnAct", [pw, _bn("bn1", n_out)]), x
    if kind == "ds":
        dw, x = _conv("conv_dw", n_in, n_in, k, at, stride, groups=n_in)
        pw, x = _conv("conv_pw", n_in, n_out, 1, x)
        return module("", "DepthwiseSeparableConv", [
            dw, _bn("bn1", n_in), *_se(n_in, reduced), pw, _bn("bn2", n_out)]), x
    pw, x = _conv("conv_pw", n_in, mid, 1, at)
    dw, x = _conv("conv_dw", mid, mid, k, x, stride, groups=mid)
    pwl, x = _conv("conv_pwl", mid, n_out, 1, x)
    return module("", "InvertedResidual", [pw, _bn("bn1", mid), dw, _bn("bn2", mid),
                                           *_se(mid, reduced), pwl, _bn("bn3", n_out)]), x


def _efficient_block(kind: str, n_in: int, n_out: int, k: int, stride: int, e: int,
                     at: Image) -> tuple[Node, Image]:
    # EfficientNet's squeeze is a quarter of the block's input channels, expanded or not
    return _mbconv(kind, n_in, n_out, k, stride, n_in * e, round(n_in * 0.25), at)


def _efficientnet(c: Config, a: dict[str, Any], at: Image) -> list[Node]:
    width, depth = a["width"], a["depth"]
    stem = round_channels(32 * width)
    conv_stem, x = _conv("conv_stem", at[0], stem, 3, at, 2)
    stages, n_in = [], stem
    for i, (kind, repeats, k, stride, e, chs) in enumerate(_B0):
        n_out, blocks = round_channels(chs * width), []
        for j in range(math.ceil(repeats * depth)):
            block, x = _efficient_block(kind, n_in, n_out, k, stride if j == 0 else 1, e, x)
            block.name = str(j)
            blocks.append(block)
            n_in = n_out
        stages.append(module(str(i), "Sequential", blocks))
    features = round_channels(1280 * width)
    head, _ = _conv("conv_head", n_in, features, 1, x)
    return [conv_stem, _bn("bn1", stem), module("blocks", "Sequential", stages), head,
            _bn("bn2", features), *_head(c, features, "classifier")]


# -- MobileNetV3 (timm/models/mobilenetv3.py) --------------------------------------------------

#: the stages of mobilenetv3_large_100 and _small_100: (block, repeats, kernel, stride,
#: expansion, channels, squeeze-and-excitation); "cn" is the last 1×1 convolution
_MOBILENETV3 = {
    "large": ((("ds", 1, 3, 1, 1, 16, False),),
              (("ir", 1, 3, 2, 4, 24, False), ("ir", 1, 3, 1, 3, 24, False)),
              (("ir", 3, 5, 2, 3, 40, True),),
              (("ir", 1, 3, 2, 6, 80, False), ("ir", 1, 3, 1, 2.5, 80, False),
               ("ir", 2, 3, 1, 2.3, 80, False)),
              (("ir", 2, 3, 1, 6, 112, True),), (("ir", 3, 5, 2, 6, 160, True),),
              (("cn", 1, 1, 1, 1, 960, False),)),
    "small": ((("ds", 1, 3, 2, 1, 16, True),),
              (("ir", 1, 3, 2, 4.5, 24, False), ("ir", 1, 3, 1, 3.67, 24, False)),
              (("ir", 1, 5, 2, 4, 40, True), ("ir", 2, 5, 1, 6, 40, True)),
              (("ir", 2, 5, 1, 3, 48, True),), (("ir", 3, 5, 2, 6, 96, True),),
              (("cn", 1, 1, 1, 1, 576, False),)),
}
_MOBILENETV3_HEAD = {"large": 1280, "small": 1024}


def _mobilenetv3(c: Config, a: dict[str, Any], at: Image) -> list[Node]:
    stem, x = _conv("conv_stem", at[0], 16, 3, at, 2)
    stages, n_in = [], 16
    for i, stage in enumerate(_MOBILENETV3[a["size"]]):
        blocks: list[Node] = []
        for kind, repeats, k, stride, e, n_out, se in stage:
            for j in range(repeats):
                mid = round_channels(n_in * e)  # SE squeezes the expanded channels here
                block, x = _mbconv(kind, n_in, n_out, k, stride if j == 0 else 1, mid,
                                   round_channels(mid * 0.25) if se else None, x)
                block.name = str(len(blocks))
                blocks.append(block)
                n_in = n_out
        stages.append(module(str(i), "Sequential", blocks))
    features = _MOBILENETV3_HEAD[a["size"]]
    head = conv("conv_head", n_in, features, (1, 1), (n_in, 1, 1))  # after pooling, biased
    return [stem, _bn("bn1", 16), module("blocks", "Sequential", stages), head,
            *_head(c, features, "classifier")]


# -- Swin Transformer (timm/models/swin_transformer.py) ---------------------------------------

#: Swin widths: (embed_dim, depths, num_heads)
_SWIN_SIZES = {"tiny": (96, (2, 2, 6, 2), (3, 6, 12, 24)),
               "small": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
               "base": (128, (2, 2, 18, 2), (4, 8, 16, 32)),
               "large": (192, (2, 2, 18, 2), (6, 12, 24, 48))}


def _swin(c: Config, a: dict[str, Any], at: Image) -> list[Node]:
    """Patches of 4×4, then stages of windowed attention blocks (each head has a learned bias
    per relative position in its window); each stage after the first merges 2×2 patches."""
    dim, depths, heads = _SWIN_SIZES[a["size"]]
    relative = (2 * a["window"] - 1) ** 2
    patches = conv("proj", at[0], dim, (4, 4), at, stride=4)
    stages, prev = [], dim
    for i, (depth, h) in enumerate(zip(depths, heads, strict=True)):
        width = dim * 2 ** i
        parts = [] if i == 0 else [module("downsample", "PatchMerging", [
            norm("norm", 4 * prev), linear("reduction", 4 * prev, width, bias=False)], width)]
        block = module("", "SwinTransformerBlock", [
            norm("norm1", width),
            module("attn", "WindowAttention", [
                parameter("relative_position_bias_table", (relative, h)),
                linear("qkv", width, 3 * width), linear("proj", width, width)], width),
            norm("norm2", width), module("mlp", "Mlp", [
                linear("fc1", width, 4 * width), linear("fc2", 4 * width, width)], width)],
            width)
        parts.append(module("blocks", "Sequential", _copies(block, depth), width))
        stages.append(module(str(i), "SwinTransformerStage", parts, width))
        prev = width
    return [module("patch_embed", "PatchEmbed", [patches, norm("norm", dim)], dim),
            module("layers", "Sequential", stages), norm("norm", prev),
            module("head", "ClassifierHead", _head(c, prev), prev)]


def _copies(block: Node, count: int) -> list[Node]:
    """``count`` copies of one block, named ``0``..``count-1`` (built once: they are equal)."""
    out = []
    for j in range(count):
        copy = object.__new__(Node)
        copy.__dict__.update(block.__dict__, name=str(j))
        out.append(copy)
    return out


_BUILDERS = {"resnet": _resnet, "vit": _vit, "convnext": _convnext, "efficientnet": _efficientnet,
             "mobilenetv3": _mobilenetv3, "swin": _swin}


def architecture(c: Config) -> str:
    """The model's name without its weights' tag: ``resnet50.a1_in1k`` is ``resnet50``."""
    name = c.str("architecture", default="")
    base = name.partition(".")[0]
    if base not in MODELS:
        close = difflib.get_close_matches(base, list(MODELS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SpecError(f"timm model {name!r} is not one paramcount declares ({hint}it builds "
                        f"{len(MODELS)} names of the resnet, resnext, vit, deit, convnext, "
                        "efficientnet, mobilenetv3 and swin families)")
    return base


@register("timm", "", ("",), base="")
def timm_model(c: Config, head: str, roles: Roles) -> Node:
    name = architecture(c)
    family, args = MODELS[name]
    channels = c.int("in_chans", default=3)
    side = 224 if family != "vit" else args["img"]
    return module(name, "timm", _BUILDERS[family](c, args, (channels, side, side)))
