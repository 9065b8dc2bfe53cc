"""BLIP-2: a frozen ViT, a Querying Transformer (Q-Former) and a language model (OPT, T5...).

Learned query tokens (``num_query_tokens``) pass through the Q-Former, a BERT whose layers
cross-attend to the image every ``cross_attention_frequency``-th layer and keep a feed-forward
network of their own for the queries (``intermediate_query``, ``output_query``; the text's is
there only with ``use_qformer_text_input``); a linear layer projects the queries to the
language model's width. The language model is any causal or sequence-to-sequence model
paramcount declares, built whole (with its head) under ``language_model``.
"""

from __future__ import annotations

from collections.abc import Mapping

from paramcount.architectures import Unsupported, family_of, register
from paramcount.architectures.blip import vision_model
from paramcount.architectures.config import Config
from paramcount.architectures.multimodal import width
from paramcount.architectures.parts import (
    Roles,
    attends,
    blocks,
    linear,
    module,
    norm,
    parameter,
    stack,
)
from paramcount.tree import Node, Tied


def _attention(name: str, h: int, heads: int, keys_width: int, cross: bool) -> Node:
    inner = attends(module("attention", "Blip2QFormerMultiHeadAttention", [
        linear("query", h, h), linear("key", keys_width, h), linear("value", keys_width, h)]),
        heads, h // heads, h, cross=cross, cached=False)
    return module(name, "Blip2QFormerAttention", [inner, module(
        "output", "Blip2QFormerSelfOutput", [linear("dense", h, h), norm("LayerNorm", h)], h)],
        h)


def qformer(c: Config, image: int) -> tuple[Node, int]:
    """The Q-Former (its width beside it); ``image``: the vision model's width, which its
    cross-attention reads (the config's ``encoder_hidden_size`` is overwritten with it)."""
    h, heads = c.int("hidden_size", default=768), c.int("num_attention_heads", default=12)
    c.head_dim(h, heads)
    inner = c.int("intermediate_size", default=3072)
    every = c.int("cross_attention_frequency", default=2)
    text = c.bool("use_qformer_text_input", default=False)

    def ffn(suffix: str) -> list[Node]:
        return [module(f"intermediate{suffix}", "Blip2QFormerIntermediate", [
            linear("dense", h, inner)]), module(f"output{suffix}", "Blip2QFormerOutput", [
                linear("dense", inner, h), norm("LayerNorm", h)], h)]

    def layer(i: int) -> Node:
        parts = [_attention("attention", h, heads, h, False)]
        if i % every == 0:
            parts.append(_attention("crossattention", h, heads, image, True))
        return module(str(i), "Blip2QFormerLayer", [
            *parts, *(ffn("") if text else []), *ffn("_query")], h)

    layers = stack("layer", blocks(c.layers("num_hidden_layers", default=12),
                                   lambda i: i % every == 0, layer), h)
    return module("qformer", "Blip2QFormerModel", [
        norm("layernorm", h), module("encoder", "Blip2QFormerEncoder", [layers], h)], h), h


def _language_model(c: Config, roles: Roles) -> Node:
    """The language model with its head, as its family builds it, its ties owned under
    ``language_model``."""
    given = c.raw("text_config")
    doc = {"model_type": "opt", **(given if isinstance(given, Mapping) else {})}
    family = family_of(doc["model_type"], None)
    head = next((h for h in ("ForCausalLM", "ForConditionalGeneration")
                 if family is not None and h in family.heads), None)
    if family is None or head is None:
        raise Unsupported(f"a blip-2 language model of model_type {doc['model_type']!r} is "
                          "not one paramcount declares")
    model = family.build(Config(doc, family.model_type, "text_config."), head, roles)
    model.name, model.type = "language_model", family.prefix + head
    for _, node in model.walk():
        node.tied = tuple(Tied(t.weight, f"language_model.{t.owner}") for t in node.tied)
    return model


@register("blip-2", "Blip2", ("ForConditionalGeneration", "Model"))
def blip2(c: Config, head: str, roles: Roles) -> Node:
    """``Blip2Model`` holds what ``Blip2ForConditionalGeneration`` holds."""
    vision, vh = vision_model(c.sub("vision_config", "blip_2_vision_model"), roles,
                              "vision_model", "Blip2")
    former, qh = qformer(c.sub("qformer_config", "blip_2_qformer"), vh)
    language = _language_model(c, roles)
    text_hidden = width(language.children[0])
    return module("", f"Blip2{head}", [
        roles.named("vision_model", vision),
        parameter("query_tokens", (1, c.int("num_query_tokens", default=32), qh)),
        roles.named("qformer", former),
        linear("language_projection", qh, text_hidden),
        roles.named("language_model", language)])
