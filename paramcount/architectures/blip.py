"""BLIP: a ViT and a BERT that reads the image by cross-attention, for captions, questions and
image-text matching.

The vision model is CLIP's layout with a fused ``qkv`` projection and a position table as a bare
parameter. The text model is BERT without token types; as a decoder (``is_decoder``, true by
default, and so in every head) each layer also cross-attends to the image features
(``encoder_hidden_size`` wide). The captioning and question-answering heads generate with a
second copy of it under a masked-LM head whose matrix is the word embedding; the retrieval head
projects both towers to ``image_text_hidden_size`` and scores a pair as matching or not.
"""

from __future__ import annotations

from paramcount.architectures import register
from paramcount.architectures.config import Config
from paramcount.architectures.encoders import mlm_decoder
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
from paramcount.tree import Node

#: the vision config classes' defaults: hidden, intermediate, layers, heads, image, patch
VISION_DEFAULTS = {"Blip": (768, 3072, 12, 12, 384, 16), "Blip2": (1408, 6144, 39, 16, 224, 14)}


def vision_model(c: Config, roles: Roles, name: str, prefix: str = "Blip") -> tuple[Node, int]:
    """The ViT; BLIP-2's (``prefix``) may drop the bias of its fused projection
    (``qkv_bias``)."""
    h0, inner0, layers0, heads0, image0, patch0 = VISION_DEFAULTS[prefix]
    h, heads = c.int("hidden_size", default=h0), c.int("num_attention_heads", default=heads0)
    d, inner = c.head_dim(h, heads), c.int("intermediate_size", default=inner0)
    image, patch = c.int("image_size", default=image0), c.int("patch_size", default=patch0)
    n = (image // patch) ** 2 + 1
    bias = prefix == "Blip" or c.bool("qkv_bias", default=True)

    def layer(i: int) -> Node:
        attn = attends(module("self_attn", f"{prefix}Attention", [
            linear("qkv", h, 3 * h, bias, length=n), linear("projection", h, h, length=n)], h),
            heads, d, h, queries=n, keys=n, cached=False)
        return module(str(i), f"{prefix}EncoderLayer", [
            attn, norm("layer_norm1", h),
            module("mlp", f"{prefix}MLP", [linear("fc1", h, inner, length=n),
                                           linear("fc2", inner, h, length=n)], h),
            norm("layer_norm2", h)], h)

    embeddings = module("embeddings", f"{prefix}VisionEmbeddings", [
        parameter("class_embedding", (1, 1, h)),
        conv("patch_embedding", 3, h, (patch, patch), (3, image, image), stride=patch),
        roles.embedding(parameter("position_embedding", (1, n, h)))], h)
    layers = stack("layers", blocks(c.layers("num_hidden_layers", default=layers0), None,
                                    layer), h)
    return module(name, f"{prefix}VisionModel", [
        embeddings, module("encoder", f"{prefix}Encoder", [layers], h),
        norm("post_layernorm", h)], h), h


def _attention(name: str, h: int, heads: int, keys_width: int, cross: bool,
               cached: bool) -> Node:
    self_ = attends(module("self", "BlipTextSelfAttention", [
        linear("query", h, h), linear("key", keys_width, h), linear("value", keys_width, h)]),
        heads, h // heads, h, cross=cross, cached=cached)
    return module(name, "BlipTextAttention", [self_, module("output", "BlipTextSelfOutput", [
        linear("dense", h, h), norm("LayerNorm", h)], h)], h)


def text_model(c: Config, roles: Roles, name: str, pooler: bool) -> tuple[Node, int]:
    h, heads = c.int("hidden_size", default=768), c.int("num_attention_heads", default=8)
    c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=3072)
    decoder = c.bool("is_decoder", default=True)
    image = c.int("encoder_hidden_size", default=768)

    def layer(i: int) -> Node:
        parts = [_attention("attention", h, heads, h, False, decoder)]
        if decoder:
            parts.append(_attention("crossattention", h, heads, image, True, True))
        return module(str(i), "BlipTextLayer", [
            *parts, module("intermediate", "BlipTextIntermediate", [linear("dense", h, inner)]),
            module("output", "BlipTextOutput", [linear("dense", inner, h),
                                                norm("LayerNorm", h)], h)], h)

    embeddings = module("embeddings", "BlipTextEmbeddings", [
        roles.embedding(embedding("word_embeddings", c.int("vocab_size", default=30524), h)),
        roles.embedding(embedding("position_embeddings",
                                  c.int("max_position_embeddings", default=512), h)),
        norm("LayerNorm", h)], h)
    layers = stack("layer", blocks(c.layers("num_hidden_layers", default=12), None, layer), h)
    parts = [embeddings, module("encoder", "BlipTextEncoder", [layers], h)]
    if pooler:
        parts.append(module("pooler", "BlipTextPooler", [linear("dense", h, h, length=1)], h))
    return module(name, "BlipTextModel", parts, h), h


def text_decoder(c: Config, roles: Roles, name: str) -> Node:
    """``BlipTextLMHeadModel``: the text model and a masked-LM head tied to its words."""
    body, h = text_model(c, roles, "bert", pooler=False)
    vocab = c.int("vocab_size", default=30524)
    head = f"{name}.cls.predictions"
    predictions = module("predictions", "BlipTextLMPredictionHead", [
        module("transform", "BlipTextPredictionHeadTransform", [
            linear("dense", h, h), norm("LayerNorm", h)], h),
        mlm_decoder(c, h, vocab, f"{name}.bert.embeddings.word_embeddings", head),
        parameter("bias", (vocab,))], vocab)
    return module(name, "BlipTextLMHeadModel", [
        body, module("cls", "BlipTextOnlyMLMHead", [predictions], vocab)], vocab)


@register("blip", "Blip", ("ForConditionalGeneration", "ForQuestionAnswering",
                           "ForImageTextRetrieval", "Model"))
def blip(c: Config, head: str, roles: Roles) -> Node:
    text = c.sub("text_config", "blip_text_model")
    vision, vh = vision_model(c.sub("vision_config", "blip_vision_model"), roles,
                              "vision_model")
    parts = [roles.named("vision_model", vision)]
    if head == "ForConditionalGeneration":
        parts.append(roles.named("text_decoder", text_decoder(text, roles, "text_decoder")))
    elif head == "ForQuestionAnswering":
        encoder, _ = text_model(text, roles, "text_encoder", pooler=False)
        parts += [roles.named("text_encoder", encoder),
                  roles.named("text_decoder", text_decoder(text, roles, "text_decoder"))]
    elif head == "ForImageTextRetrieval":
        encoder, th = text_model(text, roles, "text_encoder", pooler=False)
        dim = c.int("image_text_hidden_size", default=256)
        parts += [roles.named("text_encoder", encoder),
                  linear("vision_proj", vh, dim, length=1), linear("text_proj", th, dim, length=1),
                  linear("itm_head", th, 2, length=1)]
    else:
        model, th = text_model(text, roles, "text_model", pooler=True)
        dim = c.int("projection_dim", default=512)
        parts += [roles.named("text_model", model),
                  linear("visual_projection", vh, dim, bias=False, length=1),
                  linear("text_projection", th, dim, bias=False, length=1),
                  parameter("logit_scale", ())]
    return module("", f"Blip{head}", parts)
