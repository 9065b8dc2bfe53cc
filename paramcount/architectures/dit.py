"""diffusers' MMDiT transformers from their config.json: Stable Diffusion 3's
``SD3Transformer2DModel`` and Flux's ``FluxTransformer2DModel``.

Both patchify the latents and run joint blocks over two streams, the image's and the text's:
each stream has its own adaptive LayerNorms (their shift, scale and gate made from the timestep
and pooled-text embedding), its own projections into one attention over both, and its own
feed-forward. SD3's last block keeps only the text stream's input (``context_pre_only``); SD3.5
adds a second, image-only attention to its first blocks (``dual_attention_layers``) and RMS
norms of queries and keys (``qk_norm``). Flux follows its joint blocks with single-stream blocks
(attention and MLP side by side, one output projection) and can embed the guidance scale.
PixArt's ``PixArtTransformer2DModel`` (PixArt-α and Σ) is a plain DiT instead: one stream,
cross-attention to the text, every block modulated by one shared adaptive LayerNorm
(``adaln_single``) through a table of its own.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.diffusion import (
    ada_norm,
    attention,
    feed_forward,
    only,
    timestep_embedding,
)
from paramcount.architectures.parts import (
    Roles,
    blocks,
    buffer,
    conv,
    linear,
    module,
    norm,
    parameter,
    stack,
)
from paramcount.tree import Node

#: the sinusoidal timestep features both embed
TIMESTEP_FEATURES = 256


def _time_text(dim: int, pooled: int, guidance: bool) -> Node:
    """``CombinedTimestep[Guidance]TextProjEmbeddings``: the timestep (and guidance) embedded,
    the pooled text projected (``PixArtAlphaTextProjection``), added."""
    items = [timestep_embedding("timestep_embedder", TIMESTEP_FEATURES, dim)]
    if guidance:
        items.append(timestep_embedding("guidance_embedder", TIMESTEP_FEATURES, dim))
    items.append(module("text_embedder", "PixArtAlphaTextProjection", [
        linear("linear_1", pooled, dim, length=1), linear("linear_2", dim, dim, length=1)], dim))
    kind = "CombinedTimestepGuidanceTextProjEmbeddings" if guidance \
        else "CombinedTimestepTextProjEmbeddings"
    return module("time_text_embed", kind, items, dim)


def _out(dim: int, patch: int, channels: int) -> list[Node]:
    return [ada_norm("norm_out", dim, 2, type_name="AdaLayerNormContinuous"),
            linear("proj_out", dim, patch * patch * channels)]


def _sd3_block(dim: int, heads: int, head_dim: int, last: bool, dual: bool,
               qk_norm: str | None) -> Node:
    items = [ada_norm("norm1", dim, 9 if dual else 6,
                      type_name="SD35AdaLayerNormZeroX" if dual else "AdaLayerNormZero"),
             ada_norm("norm1_context", dim, 2 if last else 6,
                      type_name="AdaLayerNormContinuous" if last else "AdaLayerNormZero"),
             attention("attn", dim, heads, head_dim, bias=True, out_dim=dim, added=dim,
                       context_pre_only=last, qk_norm=qk_norm)]
    if dual:
        items.append(attention("attn2", dim, heads, head_dim, bias=True, out_dim=dim,
                               qk_norm=qk_norm))
    items += [norm("norm2", dim, "none"), feed_forward("ff", dim, "gelu-approximate")]
    if not last:
        items += [norm("norm2_context", dim, "none"),
                  feed_forward("ff_context", dim, "gelu-approximate")]
    return module("", "JointTransformerBlock", items, dim)


@register("SD3Transformer2DModel", "SD3Transformer2DModel", ("",), base="")
def sd3(c: Config, head: str, roles: Roles) -> Node:
    heads, head_dim = c.int("num_attention_heads", default=18), \
        c.int("attention_head_dim", default=64)
    dim, patch = heads * head_dim, c.int("patch_size", default=2)
    channels, side = c.int("in_channels", default=16), c.int("sample_size", default=128)
    layers = c.layers("num_layers", default=18)
    dual = set(c.ints("dual_attention_layers", default=()))
    qk_norm = only(c, "qk_norm", (None, "rms_norm", "layer_norm"), None)

    def block(i: int) -> Node:
        return _sd3_block(dim, heads, head_dim, i == layers - 1, i in dual,
                          qk_norm if isinstance(qk_norm, str) else None)

    embed = [conv("proj", channels, dim, (patch, patch), (channels, side, side), stride=patch)]
    size = c.int("pos_embed_max_size", default=96)
    if c.raw("pos_embed_max_size", default=96) is not None:  # saved with the weights
        embed.append(buffer("pos_embed", (1, size * size, dim)))
    items = [module("pos_embed", "PatchEmbed", embed, dim),
             _time_text(dim, c.int("pooled_projection_dim", default=2048), False),
             linear("context_embedder", c.int("joint_attention_dim", default=4096),
                    c.int("caption_projection_dim", default=1152)),
             # blocks differ only in dual attention and in being the last
             stack("transformer_blocks", blocks(layers, lambda i: (i in dual, i == layers - 1),
                                                block), dim),
             *_out(dim, patch, c.int("out_channels", default=None) or channels)]
    return module("", "SD3Transformer2DModel", items)


def _flux_double(dim: int, heads: int, head_dim: int) -> Node:
    return module("", "FluxTransformerBlock", [
        ada_norm("norm1", dim, 6), ada_norm("norm1_context", dim, 6),
        attention("attn", dim, heads, head_dim, bias=True, out_dim=dim, added=dim,
                  context_pre_only=False, qk_norm="rms_norm", type_name="FluxAttention"),
        norm("norm2", dim, "none"), feed_forward("ff", dim, "gelu-approximate"),
        norm("norm2_context", dim, "none"),
        feed_forward("ff_context", dim, "gelu-approximate")], dim)


def _flux_single(dim: int, heads: int, head_dim: int) -> Node:
    mlp = dim * 4
    return module("", "FluxSingleTransformerBlock", [
        ada_norm("norm", dim, 3, type_name="AdaLayerNormZeroSingle"),
        linear("proj_mlp", dim, mlp), linear("proj_out", dim + mlp, dim),
        attention("attn", dim, heads, head_dim, bias=True, out_dim=dim, pre_only=True,
                  qk_norm="rms_norm", type_name="FluxAttention")], dim)


@register("FluxTransformer2DModel", "FluxTransformer2DModel", ("",), base="")
def flux(c: Config, head: str, roles: Roles) -> Node:
    heads, head_dim = c.int("num_attention_heads", default=24), \
        c.int("attention_head_dim", default=128)
    dim, patch = heads * head_dim, c.int("patch_size", default=1)
    channels = c.int("in_channels", default=64)
    double = c.layers("num_layers", default=19)
    single = c.layers("num_single_layers", default=38)
    items = [_time_text(dim, c.int("pooled_projection_dim", default=768),
                        c.bool("guidance_embeds", default=False)),
             linear("context_embedder", c.int("joint_attention_dim", default=4096), dim),
             linear("x_embedder", channels, dim),
             stack("transformer_blocks", blocks(
                 double, None, lambda i: _flux_double(dim, heads, head_dim)), dim),
             stack("single_transformer_blocks", blocks(
                 single, None, lambda i: _flux_single(dim, heads, head_dim)), dim),
             *_out(dim, patch, c.int("out_channels", default=None) or channels)]
    return module("", "FluxTransformer2DModel", items)


def _pixart_block(dim: int, heads: int, head_dim: int, cross: int, bias: bool) -> Node:
    """``BasicTransformerBlock`` with ``norm_type="ada_norm_single"``: LayerNorms without
    parameters, a ``scale_shift_table`` of six rows, self- and cross-attention, GELU MLP."""
    return module("", "BasicTransformerBlock", [
        norm("norm1", dim, "none"), attention("attn1", dim, heads, head_dim, bias=bias),
        norm("norm2", dim, "none"), attention("attn2", dim, heads, head_dim, cross=cross,
                                              bias=bias),
        feed_forward("ff", dim, "gelu-approximate"), parameter("scale_shift_table", (6, dim))],
        dim)


@register("Transformer2DModel", "Transformer2DModel", ("",), base="")
def legacy_pixart(c: Config, head: str, roles: Roles) -> Node:
    """The class older PixArt repos name: diffusers builds the same modules from it when its
    config is PixArt's (patches and ``norm_type="ada_norm_single"``); its other forms (a UNet's
    inner transformer, discrete inputs) are not counted from a config of their own."""
    if c.raw("patch_size") is None:
        raise c.error("patch_size", None, "leaves a Transformer2DModel that paramcount does not "
                      "count from its config (it declares PixArt's, with patches)")
    root = pixart(c, head, roles)
    root.type = "Transformer2DModel"
    return root


@register("PixArtTransformer2DModel", "PixArtTransformer2DModel", ("",), base="")
def pixart(c: Config, head: str, roles: Roles) -> Node:
    heads, head_dim = c.int("num_attention_heads", default=16), \
        c.int("attention_head_dim", default=72)
    dim, patch = heads * head_dim, c.int("patch_size", default=2)
    channels, side = c.int("in_channels", default=4), c.int("sample_size", default=128)
    only(c, "norm_type", ("ada_norm_single",), "ada_norm_single")
    only(c, "attention_type", ("default",), "default")
    extra = c.raw("use_additional_conditions")
    extra = side == 128 if extra is None else c.bool("use_additional_conditions", default=False)
    size = dim // 3
    embed = [timestep_embedding("timestep_embedder", TIMESTEP_FEATURES, dim)]
    if extra:  # the image's resolution and aspect ratio, embedded as timesteps are
        embed += [timestep_embedding("resolution_embedder", TIMESTEP_FEATURES, size),
                  timestep_embedding("aspect_ratio_embedder", TIMESTEP_FEATURES, size)]
    adaln = module("adaln_single", "AdaLayerNormSingle", [
        module("emb", "PixArtAlphaCombinedTimestepSizeEmbeddings", embed, dim),
        linear("linear", dim, 6 * dim, length=1)], dim)
    # out_channels: 8 (a mean and a variance) unless the config says otherwise; null: in_channels
    out = c.int("out_channels", default=channels) if c.has("out_channels") else 8
    cross = c.int("cross_attention_dim", default=1152)
    bias = c.bool("attention_bias", default=True)
    items = [module("pos_embed", "PatchEmbed", [
        conv("proj", channels, dim, (patch, patch), (channels, side, side), stride=patch)], dim),
        stack("transformer_blocks", blocks(c.layers("num_layers", default=28), None,
                                           lambda i: _pixart_block(dim, heads, head_dim, cross,
                                                                   bias)), dim),
        norm("norm_out", dim, "none"), parameter("scale_shift_table", (2, dim)),
        linear("proj_out", dim, patch * patch * out),
        adaln]
    caption = c.int("caption_channels", default=None)
    if caption is not None:
        items.append(module("caption_projection", "PixArtAlphaTextProjection", [
            linear("linear_1", caption, dim), linear("linear_2", dim, dim)], dim))
    return module("", "PixArtTransformer2DModel", items)
