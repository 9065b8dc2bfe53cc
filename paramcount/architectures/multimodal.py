"""Vision-language models: a vision tower, a projector from its width to the language model's,
and a language model with its LM head, laid out as transformers' ``LlavaForConditionalGeneration``
lays them out: ``model.vision_tower``, ``model.multi_modal_projector``,
``model.language_model``, ``lm_head`` (LLaVA-NeXT adds ``model.image_newline``); Gemma 3's
``Gemma3ForConditionalGeneration`` is laid out the same way; Qwen2-VL and Qwen2.5-VL keep
their vision transformer and its merger as ``model.visual``. vision_language.py builds more
composites from these helpers (``vision_of``, ``language``, ``assemble``).

The two towers are read from ``vision_config`` and ``text_config`` as their own families read
them (a CLIP or SigLIP vision tower, any Llama-like decoder paramcount declares); a config
without one gets its class's default (LLaVA-1.5's CLIP ViT-L/14 at 336 pixels and Llama; Gemma
3's SigLIP and Gemma 3 text). A tower of a family paramcount does not declare leaves the whole
model to the transformers fallback.
Each component's parameters are a figure of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paramcount.architectures import Unsupported, family_of, register
from paramcount.architectures.clip import siglip_tower, vision_tower
from paramcount.architectures.config import Config
from paramcount.architectures.parts import (
    Roles,
    blocks,
    conv,
    linear,
    module,
    norm,
    parameter,
    stack,
)
from paramcount.tree import Compute, Node, Tied

#: the layout LLaVA-like checkpoints are saved in (by transformers 4, and by 5 still), which
#: transformers 5 renames as it loads them
SAVED = (("language_model.lm_head", "lm_head"),
         ("language_model.model", "model.language_model"),
         ("vision_tower.vision_model", "model.vision_tower"),
         ("vision_tower", "model.vision_tower"),
         ("multi_modal_projector", "model.multi_modal_projector"),
         ("image_newline", "model.image_newline"))
#: Qwen2-VL's, with the language model at the top
QWEN2_VL_SAVED = (("model.embed_tokens", "model.language_model.embed_tokens"),
                  ("model.layers", "model.language_model.layers"),
                  ("model.norm", "model.language_model.norm"),
                  ("visual", "model.visual"))
#: LlavaConfig's vision tower when its config has no ``vision_config``
LLAVA_VISION: dict[str, Any] = {
    "model_type": "clip_vision_model", "intermediate_size": 4096, "hidden_size": 1024,
    "patch_size": 14, "image_size": 336, "num_hidden_layers": 24, "num_attention_heads": 16,
    "projection_dim": 768}
#: the vision towers paramcount builds, by ``vision_config.model_type``: the class transformers
#: instantiates, its builder, and its config's default patch size
def _pixtral(c: Config, roles: Roles, name: str) -> tuple[Node, int]:
    from paramcount.architectures.vision_language import pixtral_tower  # it imports this

    return pixtral_tower(c, name)


VISION = {"clip_vision_model": ("CLIPVisionModel", vision_tower, 32),
          "siglip_vision_model": ("SiglipVisionModel", siglip_tower, 16),
          # Pixtral-12B is a LLaVA with Pixtral's encoder
          "pixtral": ("PixtralVisionModel", _pixtral, 16)}


def vision_of(c: Config, roles: Roles, default: Mapping[str, Any]) -> tuple[Node, int, int]:
    """The vision tower (``default``: the config's when it names none), its width, and the
    image features it hands the projector."""
    doc = c.raw("vision_config")
    doc = default if doc is None else {"model_type": default["model_type"], **doc}
    kind = doc["model_type"]
    if kind not in VISION:
        raise Unsupported(f"a {c.model_type} vision tower of model_type {kind!r} is not one "
                          f"paramcount declares (it builds {', '.join(VISION)})")
    v = Config(doc, kind, "vision_config.")
    cls, make, patch_size = VISION[kind]
    tower, hidden = make(v, roles, "vision_tower")
    tower.type = cls
    image, patch = v.pair("image_size", 224), v.pair("patch_size", patch_size)
    patches = (image[0] // patch[0]) * (image[1] // patch[1])
    full = c.str("vision_feature_select_strategy", default="default") == "full"
    return tower, hidden, patches + 1 if full else patches  # "default" drops the class token


def language(c: Config, roles: Roles, text_ties: bool, default: str = "llama",
              tie: bool = False) -> tuple[Node, Node]:
    """The language model's backbone and LM head, as its own family builds them; the head is
    tied to the embedding when the config says so, or (``text_ties``: LlavaConfig, not
    LlavaNextConfig, carries the flag up) when its ``text_config`` does, by default or not."""
    text = c.raw("text_config")
    doc: dict[str, Any] = {"model_type": default, **(text if isinstance(text, Mapping) else {})}
    tie = c.bool("tie_word_embeddings", default=tie)
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


def width(node: Node) -> int:
    """The features a module outputs (a backbone's hidden size, a head's vocabulary)."""
    width = node.output_shape[-1] if node.output_shape else None
    if not isinstance(width, int):
        raise Unsupported(f"{node.name} has no fixed output width")
    return width


def _visionlanguage(c: Config, head: str, roles: Roles, prefix: str, next_: bool) -> Node:
    """LLaVA and its kin: the tower, the projector, the language model and the LM head;
    LLaVA-NeXT (``next_``) adds a learned vector that ends each row of image features, and
    ties its head by its own flag alone."""
    tower, vision_hidden, features = vision_of(c, roles, LLAVA_VISION)
    body, lm_head = language(c, roles, text_ties=not next_)
    text_hidden = width(body)
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
    return assemble(head, prefix, parts, lm_head, roles)


def assemble(head: str, prefix: str, parts: list[Node], lm_head: Node, roles: Roles) -> Node:
    """The components under ``model`` (``{prefix}Model``), the language model last, and the
    LM head beside them."""
    hidden = width(parts[-1])
    if head == "Model":
        return module("", f"{prefix}Model", parts, hidden)
    if lm_head.tied:  # the tie's owner moves with the backbone
        lm_head.tied = tuple(Tied(t.weight, f"model.{parts[-1].name}." +
                                  t.owner.partition(".")[2]) for t in lm_head.tied)
    return module("", head, [module("model", f"{prefix}Model", parts, hidden),
                             roles.named("lm_head", lm_head)], width(lm_head))


@register("llava", "Llava", ("ForConditionalGeneration", "Model"), saved=SAVED)
def llava(c: Config, head: str, roles: Roles) -> Node:
    return _visionlanguage(c, head, roles, "Llava", next_=False)


@register("llava_next", "LlavaNext", ("ForConditionalGeneration", "Model"), saved=SAVED)
def llava_next(c: Config, head: str, roles: Roles) -> Node:
    return _visionlanguage(c, head, roles, "LlavaNext", next_=True)


@register("gemma3", "Gemma3", ("ForConditionalGeneration", "Model"), saved=SAVED)
def gemma3(c: Config, head: str, roles: Roles) -> Node:
    """Gemma 3: a SigLIP tower, whose patches are pooled to ``mm_tokens_per_image`` tokens and
    projected by a bare matrix after an RMSNorm, and Gemma 3's text model, its head tied unless
    the config says otherwise."""
    tower, vision_hidden, _ = vision_of(c, roles, {"model_type": "siglip_vision_model"})
    body, lm_head = language(c, roles, text_ties=False, default="gemma3_text", tie=True)
    text_hidden = width(body)
    tokens = c.int("mm_tokens_per_image", default=256)
    matrix = parameter("mm_input_projection_weight", (vision_hidden, text_hidden))
    matrix.compute = Compute(fixed=tokens * vision_hidden * text_hidden)
    projector = module("multi_modal_projector", "Gemma3MultiModalProjector", [
        matrix, norm("mm_soft_emb_norm", vision_hidden, "rmsnorm")], text_hidden)
    parts = [roles.named("vision_tower", tower), roles.named("multi_modal_projector", projector),
             roles.named("language_model", body)]
    return assemble(head, "Gemma3", parts, lm_head, roles)


#: Qwen2VLTextConfig's defaults (Qwen2-VL-72B's language model), where they differ from Qwen2's
QWEN2_VL_TEXT = {"vocab_size": 152064, "hidden_size": 8192, "intermediate_size": 29568,
                 "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8}


def _qwen2_vision(c: Config) -> Node:
    """Qwen2-VL's vision transformer (``visual``): a 3-D patch embedding over frames, blocks of
    fused-QKV attention and an MLP, and the merger that folds each 2×2 patches into one token
    of the language model's width (the projector)."""
    dim = c.int("embed_dim", default=1280)
    inner = dim * c.int("mlp_ratio", default=4)

    def block(i: int) -> Node:
        return module(str(i), "Qwen2VLVisionBlock", [
            norm("norm1", dim), norm("norm2", dim),
            module("attn", "VisionAttention", [linear("qkv", dim, 3 * dim),
                                                linear("proj", dim, dim)], dim),
            module("mlp", "VisionMlp", [linear("fc1", dim, inner), linear("fc2", inner, dim)],
                   dim)], dim)

    return _patch_vision(c, dim, c.int("hidden_size", default=3584), block, "layernorm",
                         ("PatchEmbed", "PatchMerger", "Qwen2VisionTransformerPretrainedModel"))


def _qwen2_5_vision(c: Config) -> Node:
    """Qwen2.5-VL's vision transformer: Qwen2-VL's with RMSNorms, a gated MLP of
    ``intermediate_size`` (biases kept), and windowed attention in all blocks but
    ``fullatt_block_indexes`` (a difference of compute, not of weights)."""
    dim = c.int("hidden_size", default=3584)
    inner = c.int("intermediate_size", default=3420)

    def block(i: int) -> Node:
        return module(str(i), "Qwen2_5_VLVisionBlock", [
            norm("norm1", dim, "rmsnorm"), norm("norm2", dim, "rmsnorm"),
            module("attn", "Qwen2_5_VLVisionAttention", [linear("qkv", dim, 3 * dim),
                                                         linear("proj", dim, dim)], dim),
            module("mlp", "Qwen2_5_VLMLP", [linear("gate_proj", dim, inner),
                                            linear("up_proj", dim, inner),
                                            linear("down_proj", inner, dim)], dim)], dim)

    return _patch_vision(c, dim, c.int("out_hidden_size", default=3584), block, "rmsnorm",
                         ("Qwen2_5_VisionPatchEmbed", "Qwen2_5_VLPatchMerger",
                          "Qwen2_5_VisionTransformerPretrainedModel"))


def _patch_vision(c: Config, dim: int, out: int, block: Callable[[int], Node], kind: str,
                  types: tuple[str, str, str]) -> Node:
    """Qwen2-VL's and Qwen2.5-VL's vision tower around their blocks: the 3-D patch embedding
    over frames, the blocks, and the merger that folds each 2×2 patches into one token of the
    language model's width ``out`` (its norm of ``kind``)."""
    channels = c.int("in_channels", default=3)
    patch, frames = c.int("patch_size", default=14), c.int("temporal_patch_size", default=2)
    merged = dim * c.int("spatial_merge_size", default=2) ** 2
    embed_type, merger_type, model_type = types
    embed = module("patch_embed", embed_type, [conv(
        "proj", channels, dim, (frames, patch, patch), (channels, frames, patch, patch),
        stride=(frames, patch, patch), bias=False)], dim)
    layers = stack("blocks", blocks(c.layers("depth", default=32), None, block), dim)
    merger = module("merger", merger_type, [norm("ln_q", dim, kind), module("mlp", "Sequential", [
        linear("0", merged, merged), linear("2", merged, out)], out)], out)
    return module("visual", model_type, [embed, layers, merger], out)


def _qwen_vl(c: Config, head: str, roles: Roles, prefix: str,
             vision_tower: Callable[[Config], Node]) -> Node:
    """Qwen2-VL and Qwen2.5-VL: a vision transformer and a Qwen2 language model read from
    ``text_config``, or (as configs saved before transformers 5 are) from the config's own
    fields; the head is tied by either's ``tie_word_embeddings``."""
    text = c.raw("text_config")
    fields = text if isinstance(text, Mapping) else c.doc
    tie = c.bool("tie_word_embeddings", default=False) or fields.get("tie_word_embeddings") is True
    doc = {**QWEN2_VL_TEXT, **{k: v for k, v in fields.items() if k != "model_type"},
           "model_type": "qwen2", "tie_word_embeddings": tie}
    body, lm_head = language(Config({"text_config": doc}, c.model_type), roles, text_ties=True)
    given = c.raw("vision_config")
    visual = vision_tower(Config(given if isinstance(given, Mapping) else {}, c.model_type,
                                 "vision_config."))
    parts = [roles.named("visual", visual), roles.named("language_model", body)]
    return assemble(head, prefix, parts, lm_head, roles)


@register("qwen2_vl", "Qwen2VL", ("ForConditionalGeneration", "Model"),
          saved=QWEN2_VL_SAVED)
def qwen2_vl(c: Config, head: str, roles: Roles) -> Node:
    return _qwen_vl(c, head, roles, "Qwen2VL", _qwen2_vision)


@register("qwen2_5_vl", "Qwen2_5_VL", ("ForConditionalGeneration", "Model"),
          saved=QWEN2_VL_SAVED)
def qwen2_5_vl(c: Config, head: str, roles: Roles) -> Node:
    return _qwen_vl(c, head, roles, "Qwen2_5_VL", _qwen2_5_vision)
