"""Mllama (Llama 3.2 Vision): a tiled vision encoder and a Llama that reads it by cross-attention.

The vision model cuts an image into up to ``max_num_tiles`` tiles; learned tables embed each
patch's position within a tile and each tile's place in one of the ``supported_aspect_ratios``
(gated by learned scalars), then a plain transformer runs and a second, gated one
(``num_global_layers``) runs after it. A linear projector maps the concatenated features of
several of its layers (``vision_output_dim``) to the language model's width. The language model
is Llama, except that the layers listed in ``cross_attention_layers`` attend to the image
instead of the text (their queries and keys normalized per head, both branches gated), and its
embedding has 8 rows beyond the vocabulary. The LM head is never tied.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.multimodal import assemble, width
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    conv,
    embedding,
    linear,
    lm_head,
    module,
    norm,
    parameter,
    settles,
    stack,
)
from paramcount.tree import Node

#: MllamaVisionConfig's aspect ratios when the config gives none
ASPECT_RATIOS = 8
#: cross-attention layers of MllamaTextConfig's default (Llama 3.2 11B Vision)
CROSS_LAYERS = (3, 8, 13, 18, 23, 28, 33, 38)


def _vision_layer(c: Config, h: int, tokens: int, gated: bool) -> Node:
    heads = c.int("attention_heads", default=16)
    d = c.head_dim(h, heads, field="attention_heads")
    inner = c.int("intermediate_size", default=5120)
    attn = attends(module("self_attn", "MllamaVisionAttention", [
        linear(p, h, heads * d, False, tokens) for p in ("q_proj", "k_proj", "v_proj")] + [
        linear("o_proj", heads * d, h, False, tokens)], h), heads, d, h, queries=tokens,
        keys=tokens, cached=False)
    gates = [parameter("gate_attn", (1,)), parameter("gate_ffn", (1,))] if gated else []
    return module("0", "MllamaVisionEncoderLayer", [
        attn, module("mlp", "MllamaVisionMLP", [linear("fc1", h, inner, length=tokens),
                                                linear("fc2", inner, h, length=tokens)], h),
        norm("input_layernorm", h), norm("post_attention_layernorm", h), *gates], h)


def vision_model(c: Config, roles: Roles, name: str) -> tuple[Node, int]:
    """The tiled vision encoder, and the image tokens the language model attends to."""
    h = c.int("hidden_size", default=1280)
    image, patch = c.int("image_size", default=448), c.int("patch_size", default=14)
    tiles, channels = c.int("max_num_tiles", default=4), c.int("num_channels", default=3)
    ratios = c.raw("supported_aspect_ratios")
    ratio_ids = (len(ratios) if isinstance(ratios, list) else ASPECT_RATIOS) + 1
    patches = (image // patch) ** 2 + 1   # and the class token
    tokens = tiles * (patches + (8 - patches % 8) % 8)  # each tile padded to a multiple of 8

    def tile_table(name: str) -> Node:
        return module(name, "MllamaPrecomputedAspectRatioEmbedding", [
            roles.embedding(embedding("embedding", ratio_ids, tiles * h)),
            parameter("gate", (1,))], h)

    def encoder(name: str, layers: int, gated: bool) -> Node:
        layer = _vision_layer(c, h, tokens, gated)
        return module(name, "MllamaVisionEncoder", [
            stack("layers", blocks(layers, None, lambda i: layer), h)], h)

    return module(name, "MllamaVisionModel", [
        conv("patch_embedding", channels, h, (patch, patch), (channels, image, image),
             stride=patch, bias=False),
        parameter("class_embedding", (h,)),
        module("gated_positional_embedding", "MllamaPrecomputedPositionEmbedding", [
            parameter("gate", (1,)), roles.embedding(parameter("embedding", (patches, h))),
            roles.embedding(embedding("tile_embedding", ratio_ids, tiles * patches * h))], h),
        tile_table("pre_tile_positional_embedding"), tile_table("post_tile_positional_embedding"),
        norm("layernorm_pre", h), norm("layernorm_post", h),
        encoder("transformer", c.layers("num_hidden_layers", default=32), False),
        encoder("global_transformer", c.layers("num_global_layers", default=8), True)],
        h), tokens


def language_model(c: Config, roles: Roles, name: str, image_tokens: int | None
                   ) -> tuple[Node, int, int]:
    """The text model (its width and vocabulary beside it): Llama layers, and cross-attention
    layers at ``cross_attention_layers``."""
    h, vocab = c.int("hidden_size", default=4096), c.int("vocab_size", default=128256)
    heads = c.int("num_attention_heads", default=32)
    kv, d = c.kv_heads(heads, default=8), c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=14336)
    cross = set(c.ints("cross_attention_layers", default=CROSS_LAYERS))
    n = c.layers("num_hidden_layers", default=40)

    def projections() -> list[Node]:
        return [linear("q_proj", h, heads * d, False), linear("k_proj", h, kv * d, False),
                linear("v_proj", h, kv * d, False), linear("o_proj", heads * d, h, False)]

    def layer(i: int) -> Node:
        mlp = module("mlp", "MllamaTextMLP", [
            linear("gate_proj", h, inner, False), linear("up_proj", h, inner, False),
            linear("down_proj", inner, h, False)], h)
        norms = [norm("input_layernorm", h, "rmsnorm"),
                 norm("post_attention_layernorm", h, "rmsnorm")]
        if i not in cross:
            attn = attends(module("self_attn", "MllamaTextSelfAttention", projections(), h),
                           heads, d, h, kv_heads=kv)
            return module(str(i), "MllamaSelfAttentionDecoderLayer", [attn, mlp, *norms], h)
        attn = attends(module("cross_attn", "MllamaTextCrossAttention", [
            *projections(), norm("q_norm", d, "rmsnorm"), norm("k_norm", d, "rmsnorm")], h),
            heads, d, h, kv_heads=kv, cross=True, keys=image_tokens)
        return module(str(i), "MllamaCrossAttentionDecoderLayer", [
            attn, mlp, *norms, parameter("cross_attn_attn_gate", (1,)),
            parameter("cross_attn_mlp_gate", (1,))], h)

    key = settles(max(cross, default=-1) + 1, lambda i: i in cross)
    return module(name, "MllamaTextModel", [
        roles.embedding(embedding("embed_tokens", vocab + 8, h)),
        stack("layers", blocks(n, key, layer), h), norm("norm", h, "rmsnorm")], h), h, vocab


@register("mllama", "Mllama", ("ForConditionalGeneration", "Model", "ForCausalLM"))
def mllama(c: Config, head: str, roles: Roles) -> Node:
    text = c.sub("text_config", "mllama_text")
    if head == "ForCausalLM":  # the language model alone, its cross-attention layers idle
        body, h, vocab = language_model(text, roles, "model", None)
        return module("", head, [body, lm_head(roles, h, vocab, None)])
    v = c.sub("vision_config", "mllama_vision")
    vision, tokens = vision_model(v, roles, "vision_model")
    body, h, vocab = language_model(text, roles, "language_model", tokens)
    projector = linear("multi_modal_projector", v.int("vision_output_dim", default=7680), h,
                       length=tokens)
    parts = [roles.named("vision_model", vision),
             roles.named("multi_modal_projector", projector),
             roles.named("language_model", body)]
    return assemble(head, "Mllama", parts, lm_head(roles, width(body), vocab, None), roles)
