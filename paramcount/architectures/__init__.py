"""Transformer architectures of Hugging Face transformers, declared as weight shapes.

One module per family or group of families; each registers, for its ``model_type`` values, a
function that reads a config as transformers reads it and returns the model's tree, named as the
PyTorch modules are named (``model.layers.0.self_attn.q_proj``). The families::

    decoders.py   llama mistral mixtral qwen2 qwen2_moe qwen3 qwen3_moe gemma gemma2
                  gemma3_text olmo starcoder2 phi3
    deepseek.py   deepseek_v2 deepseek_v3 deepseek_v32 (multi-head latent attention, shared
                  experts; V3.2's sparse-attention indexer)
    llamalike.py  gpt_oss granite granitemoe granitemoeshared cohere cohere2 glm glm4 glm4_moe
                  phimoe olmo2 olmo3 olmoe exaone4 smollm3 ernie4_5 ernie4_5_moe seed_oss
                  stablelm arcee nemotron dots1 hunyuan_v1_dense hunyuan_v1_moe apertus (a table
                  of defaults and switches)
    hybrid.py     qwen3_next qwen3_5_text qwen3_5_moe_text (gated delta-net linear attention
                  among full attention, experts)
    gemma3n.py    gemma3n_text (per-layer inputs, AltUp, LAuReL, shared keys and values)
    mamba.py      mamba falcon_mamba mamba2 (selective-scan state-space layers, no attention)
    ssm_hybrids.py jamba bamba falcon_h1 zamba2 (attention beside or among Mamba layers;
                  Jamba's experts, Zamba2's shared blocks)
    (windows.py holds the decoders' sliding-window rules)
    gpt.py        gpt2 gpt_neox gptj opt falcon bloom phi mpt
    encoders.py   bert roberta xlm-roberta electra albert mpnet distilbert (BERT-like
                  families as rows of a table)
    nomic_bert.py nomic_bert (rotary positions, gated MLP, post-norms)
    deberta.py    deberta-v2 (disentangled relative attention)
    modernbert.py modernbert (fused QKV, GLU MLP, local and global layers)
    vision.py     vit deit dinov2 dinov2_with_registers
    swin.py       swin (windowed attention in stages, patch merging)
    beit.py       beit data2vec-vision (relative position biases, layer scales)
    convnext.py   convnext convnextv2 (convolutional stages)
    speech.py     wav2vec2 hubert wavlm (convolutional feature encoder)
    seq2seq.py    t5 umt5 bart whisper
    clip.py       clip clip_text_model clip_vision_model siglip siglip_text_model
                  siglip_vision_model siglip2 siglip2_text_model siglip2_vision_model
    multimodal.py llava llava_next gemma3 qwen2_vl qwen2_5_vl (a vision tower, a projector,
                  a language model)
    vision_language.py mistral3 paligemma idefics3 smolvlm pixtral (Pixtral's encoder alone)
    qwen3_vl.py   qwen3_vl qwen3_vl_moe qwen3_5 qwen3_5_moe (Qwen3-VL's vision transformer and
                  a Qwen3, Qwen3-MoE or Qwen3.5 language model)
    voxtral.py    voxtral (Whisper's encoder, a projector, a Llama-layout language model)
    mllama.py     mllama (a tiled vision encoder; a Llama with cross-attention layers)
    blip.py       blip (a ViT; a BERT that cross-attends to it, as encoder and decoder)
    blip2.py      blip-2 (BLIP's ViT, a Q-Former, and an OPT or T5 language model)

diffusers' models, by the ``_class_name`` of their config.json (:data:`DIFFUSERS`)::

    unet.py       UNet2DConditionModel (Stable Diffusion 1.x, 2.x, SDXL)
    autoencoder.py AutoencoderKL
    dit.py        SD3Transformer2DModel FluxTransformer2DModel (MMDiT),
                  PixArtTransformer2DModel (DiT; Transformer2DModel, its older name)

timm's image models, by the ``architecture`` of a timm config.json (model type ``timm``)::

    timm_nets.py  resnet resnext wide_resnet vit deit convnext efficientnet
                  mobilenetv3 swin (names as data)

Which model is built follows ``architectures[0]``: ``LlamaForCausalLM`` is the backbone plus an
LM head, ``LlamaModel`` (or ``head="base"``) the bare backbone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from paramcount.architectures.config import Config
from paramcount.architectures.parts import Roles
from paramcount.errors import SpecError
from paramcount.tree import Node

#: a family's builder: (config, head suffix such as "ForCausalLM" or "Model", roles) -> root
BuildFn = Callable[[Config, str, Roles], Node]


@dataclass(frozen=True)
class Family:
    """One ``model_type``: how its classes are named and the function that builds them."""

    model_type: str
    prefix: str                 # the class-name prefix: "Llama" in "LlamaForCausalLM"
    heads: tuple[str, ...]      # the class-name suffixes built: "ForCausalLM", "Model", ...
    build: BuildFn
    base: str = "Model"         # the suffix of the bare backbone
    #: the checkpoint layout transformers still saves and renames as it loads, as (saved
    #: prefix, module path) pairs, the first that matches a tensor's path applying
    saved: tuple[tuple[str, str], ...] = ()


_FAMILIES: dict[str, Family] = {}

#: model_type -> the module that declares it; a module is imported only when a config needs it
MODULES = {
    **dict.fromkeys(("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
                     "gemma", "gemma2", "gemma3_text", "olmo", "starcoder2", "phi3"),
                    "decoders"),
    **dict.fromkeys(("deepseek_v2", "deepseek_v3"), "deepseek"),
    "deepseek_v32": "deepseek",
    # Llama with other defaults and switches, described as data (llamalike.FAMILIES)
    **dict.fromkeys(("gpt_oss", "granite", "granitemoe", "granitemoeshared", "cohere",
                     "cohere2", "glm", "glm4", "glm4_moe", "phimoe", "olmo2", "olmo3", "olmoe",
                     "exaone4", "smollm3", "ernie4_5", "ernie4_5_moe", "seed_oss", "stablelm",
                     "arcee", "nemotron", "dots1", "hunyuan_v1_dense", "hunyuan_v1_moe",
                     "apertus"),
                    "llamalike"),
    "qwen3_next": "hybrid",
    "mamba": "mamba",
    "falcon_mamba": "mamba",
    "mamba2": "mamba",
    **dict.fromkeys(("jamba", "bamba", "falcon_h1", "zamba2"), "ssm_hybrids"),
    **dict.fromkeys(("qwen3_5_text", "qwen3_5_moe_text"), "hybrid"),
    **dict.fromkeys(("gpt2", "gpt_neox", "gptj", "opt", "falcon", "bloom", "phi", "mpt"),
                    "gpt"),
    **dict.fromkeys(("bert", "roberta", "distilbert"), "encoders"),
    **dict.fromkeys(("t5", "bart", "whisper"), "seq2seq"),
    **dict.fromkeys(("clip", "clip_text_model", "clip_vision_model", "siglip_vision_model"),
                    "clip"),
    **dict.fromkeys(("llava", "llava_next", "gemma3", "qwen2_vl"), "multimodal"),
    # encoders, vision and speech (issue 16)
    **dict.fromkeys(("xlm-roberta", "electra", "albert", "mpnet"), "encoders"),
    "deberta-v2": "deberta",
    "modernbert": "modernbert",
    **dict.fromkeys(("siglip", "siglip_text_model", "siglip2", "siglip2_text_model",
                     "siglip2_vision_model"), "clip"),
    **dict.fromkeys(("wav2vec2", "hubert", "wavlm"), "speech"),
    "umt5": "seq2seq",
    **dict.fromkeys(("convnext", "convnextv2"), "convnext"),
    "qwen2_5_vl": "multimodal",
    **dict.fromkeys(("mistral3", "paligemma", "idefics3", "smolvlm"), "vision_language"),
    **dict.fromkeys(("vit", "deit", "dinov2", "dinov2_with_registers"), "vision"),
    "swin": "swin",
    "mllama": "mllama",
    "pixtral": "vision_language",
    "voxtral": "voxtral",
    "nomic_bert": "nomic_bert",
    "gemma3n_text": "gemma3n",
    **dict.fromkeys(("qwen3_vl", "qwen3_vl_moe", "qwen3_5", "qwen3_5_moe"), "qwen3_vl"),
    "blip": "blip",
    "blip-2": "blip2",
    **dict.fromkeys(("beit", "data2vec-vision"), "beit"),
}


#: diffusers' model classes -> the module that declares them; a diffusers config.json names its
#: class in ``_class_name`` and has no model_type, and the class stands for it
DIFFUSERS = {
    "UNet2DConditionModel": "unet",
    "AutoencoderKL": "autoencoder",
    **dict.fromkeys(("SD3Transformer2DModel", "FluxTransformer2DModel",
                     "PixArtTransformer2DModel", "Transformer2DModel"), "dit"),
}


#: timm's models: one model type, the name in the config's ``architecture`` picks the model
TIMM = {"timm": "timm_nets"}


def register(model_type: str, prefix: str, heads: tuple[str, ...], base: str = "Model",
             saved: tuple[tuple[str, str], ...] = ()) -> Callable[[BuildFn], BuildFn]:
    """Register a builder for one ``model_type``; a model_type registered twice is an error."""
    def deco(fn: BuildFn) -> BuildFn:
        if model_type in _FAMILIES:
            raise RuntimeError(f"model_type {model_type!r} registered twice")
        _FAMILIES[model_type] = Family(model_type, prefix, heads, fn, base, saved)
        return fn
    return deco


def families() -> dict[str, Family]:
    """Every supported model_type and its family (transformers'; diffusers' classes apart)."""
    for name in sorted(set(MODULES.values())):
        importlib.import_module(f"paramcount.architectures.{name}")
    return {k: f for k, f in _FAMILIES.items() if k in MODULES}


def family_of(model_type: str | None, architecture: str | None) -> Family | None:
    """The family of a config: by ``model_type``, else by the architecture's class prefix."""
    if model_type is not None:
        module = MODULES.get(model_type) or DIFFUSERS.get(model_type) or TIMM.get(model_type)
        if module is None:
            return None
        importlib.import_module(f"paramcount.architectures.{module}")
        return _FAMILIES[model_type]
    if not architecture:
        return None
    by_prefix = sorted(families().values(), key=lambda f: -len(f.prefix))
    matches = [f for f in by_prefix if architecture.startswith(f.prefix)]
    exact = [f for f in matches if architecture[len(f.prefix):] in f.heads]
    found = exact or matches
    return found[0] if found else None


class Unsupported(SpecError):
    """An architecture paramcount does not declare (a fallback may still build it)."""


def head_of(family: Family, architecture: str | None, head: str | None) -> str:
    """The class-name suffix to build: ``head="base"`` or no architecture is the backbone."""
    if head == "base" or not architecture:
        return family.base
    if architecture.startswith(family.prefix):
        suffix = architecture[len(family.prefix):]
        if suffix in family.heads:
            return suffix
    for suffix in sorted(family.heads, key=len, reverse=True):
        if architecture.endswith(suffix) and suffix != "Model":
            return suffix
    raise Unsupported(f"{architecture} is not a {family.model_type} architecture paramcount "
                      f"declares (it builds {', '.join(family.prefix + h for h in family.heads)})")


def build(config: Config, family: Family, head: str) -> tuple[Node, dict[str, int]]:
    """Build the model's tree and its figures (non-embedding and active parameters)."""
    roles = Roles()
    root = family.build(config, head, roles)
    root.name = family.prefix + head or root.name  # timm's: the model's name
    return root, roles.figures(root)


def loaded_path(family: Family, path: str) -> str:
    """Where transformers loads a tensor saved at ``path`` (its module path, after the
    family's renames of an older layout).

    >>> f = Family("x", "X", ("Model",), lambda c, h, r: Node("", ""),
    ...            saved=(("language_model.model", "model.language_model"),))
    >>> loaded_path(f, "language_model.model.norm.weight"), loaded_path(f, "lm_head.weight")
    ('model.language_model.norm.weight', 'lm_head.weight')
    """
    for old, new in family.saved:
        if path == old or path.startswith(old + "."):
            return new + path[len(old):]
    return path


def supported() -> list[str]:
    """The model_types paramcount declares, sorted."""
    return sorted(MODULES)


__all__ = ["DIFFUSERS", "TIMM", "Config", "Family", "Unsupported", "build", "families", "family_of",
           "head_of", "loaded_path", "register", "supported"]
