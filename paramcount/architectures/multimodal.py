"""Vision-language models: a vision tower, a projector from its width to the language model's,
and a language model with its LM head, laid out as transformers' ``LlavaForConditionalGeneration``
lays them out: ``model.vision_tower``, ``model.multi_modal_projector``,
``model.language_model``, ``lm_head`` (LLaVA-NeXT adds ``model.image_newline``).

The two towers are read from ``vision_config`` and ``text_config`` as their own families read
them (a CLIP vision tower, any Llama-like decoder paramcount declares); a config without one
gets LLaVA-1.5's (CLIP ViT-L/14 at 336 pixels, Llama). A tower of a family paramcount does not
declare (a SigLIP vision tower) leaves the whole model to the transformers fallback.
Each component's parameters are a figure of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramcount.architectures import Unsupported, family_of, register
from paramcount.architectures.clip import vision_tower
from paramcount.architectures.config import Config
from paramcount.architectures.parts import Roles, linear, module, parameter
from paramcount.tree import Node, Tied

#: LlavaConfig's vision tower when its config has no ``vision_config``
LLAVA_VISION: dict[str, Any] = {
    "model_type": "clip_vision_model", "intermediate_size": 4096, "hidden_size": 1024,
    "patch_size": 14, "image_size": 336, "num_hidden_layers": 24, "num_attention_heads": 16,
    "projection_dim": 768}
#: the vision towers paramcount builds, by ``vision_config.model_type``, with the class
#: transformers instantiates for each
VISION = {"clip_vision_model": "CLIPVisionModel"}


def _vision(c: Config, roles: Roles) -> tuple[Node, int, int]:
    """The vision tower, its width, and the image features it hands the projector."""
    doc = c.raw("vision_config")
    doc = LLAVA_VISION if doc is None else {"model_type": "clip_vision_model", **doc}
    kind = doc["model_type"]
    if kind not in VISION:
        raise Unsupported(f"a {c.model_type} vision tower of model_type {kind!r} is not one "
                          f"paramcount declares (it builds {', '.join(VISION)})")
    v = Config(doc, kind, "vision_config.")
    tower, hidden = vision_tower(v, roles, "vision_tower")
    tower.type = VISION[kind]
    image, patch = v.pair("image_size", 224), v.pair("patch_size", 32)
    patches = (image[0] // patch[0]) * (image[1] // patch[1])
    full = c.str("vision_feature_select_strategy", default="default") == "full"
    return tower, hidden, patches + 1 if full else patches  # "default" drops the class token


def _language(c: Config, roles: Roles, text_ties: bool) -> tuple[Node, Node]:
    """The language model's backbone and LM head, as its own family builds them; the head is
    tied to the embedding when the config says so, or (``text_ties``: LlavaConfig, not
    LlavaNextConfig, carries the flag up) when its ``text_config`` does, by default or not."""
    text = c.raw("text_config")
    doc: dict[str, Any] = {"model_type": "llama", **(text if isinstance(text, Mapping) else {})}
    tie = c.bool("tie_word_embeddings", default=False)
    if tie or not text_ties:
        doc["tie_word_embeddings"] = tie
    family = family_of(doc["model_type"], None)
    if family is None or "ForCausalLM" not in family.heads:
        raise Unsupported(f"a {c.model_type} language model of model_type "
                          f"{doc['model_type']!r} is not one paramcount declares")
    built = family.build(Config(doc, family.model_type, "text_config."), "ForCausalLM", roles)
    body, head = built.children
    body.name = "language_model"
    return body, head


def _width(node: Node) -> int:
    """The features a module outputs (a backbone's hidden size, a head's vocabulary)."""
    width = node.output_shape[-1] if node.output_shape else None
    if not isinstance(width, int):
        raise Unsupported(f"{node.name} has no fixed output width")
    return width


def _vision_language(c: Config, head: str, roles: Roles, prefix: str, next_: bool) -> Node:
    """LLaVA and its kin: the tower, the projector, the language model and the LM head;
    LLaVA-NeXT (``next_``) adds a learned vector that ends each row of image features, and
    ties its head by its own flag alone."""
    tower, vision_hidden, features = _vision(c, roles)
    body, lm_head = _language(c, roles, text_ties=not next_)
    text_hidden = _width(body)
    layers = c.raw("vision_feature_layer", default=-2)
    n_in = vision_hidden * (len(layers) if isinstance(layers, list) else 1)
    bias = c.bool("multimodal_projector_bias", default=True)
    projector = module("multi_modal_projector", f"{prefix}MultiModalProjector", [
        linear("linear_1", n_in, text_hidden, bias, length=features),
        linear("linear_2", text_hidden, text_hidden, bias, length=features)], text_hidden)
    parts = [roles.named("vision_tower", tower), roles.named("multi_modal_projector", projector)]
    if next_:
        parts.append(parameter("image_newline", (text_hidden,)))
    parts.append(roles.named("language_model", body))
    if head == "Model":
        return module("", f"{prefix}Model", parts, text_hidden)
    if lm_head.tied:  # the tie's owner moves with the backbone
        lm_head.tied = tuple(Tied(t.weight, "model.language_model." + t.owner.partition(".")[2])
                             for t in lm_head.tied)
    return module("", head, [module("model", f"{prefix}Model", parts, text_hidden),
                             roles.named("lm_head", lm_head)], _width(lm_head))


@register("llava", "Llava", ("ForConditionalGeneration", "Model"))
def llava(c: Config, head: str, roles: Roles) -> Node:
    return _vision_language(c, head, roles, "Llava", next_=False)


@register("llava_next", "LlavaNext", ("ForConditionalGeneration", "Model"))
def llava_next(c: Config, head: str, roles: Roles) -> Node:
    return _vision_language(c, head, roles, "LlavaNext", next_=True)
