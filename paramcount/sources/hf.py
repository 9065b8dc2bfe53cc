"""Hugging Face ``config.json``: the exact parameter count of the architecture it names, from
the config alone, without transformers, in milliseconds.

The model built is ``architectures[0]`` (``LlamaForCausalLM``: backbone and LM head); the option
``head="base"`` builds the bare backbone (``LlamaModel``), as does a config without
``architectures``. The count follows PyTorch's convention (``model.parameters()``, a tied LM
head counted once); the dtype is the config's ``torch_dtype`` (``dtype`` in transformers >= 5).

A diffusers model's config.json names its class in ``_class_name`` instead
(``UNet2DConditionModel``, ``AutoencoderKL``, ``SD3Transformer2DModel``,
``FluxTransformer2DModel``, ``PixArtTransformer2DModel``); the class is both its model type
and its architecture. A timm model's config.json names the model in ``architecture``
(``resnet50``): model type ``timm``.

An unknown ``model_type`` is built by transformers itself on the meta device when transformers
and torch are installed (the output says so, with the time it took); otherwise it is one clear
error naming the model_type and the families paramcount declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paramcount.architectures import (
    DIFFUSERS,
    Config,
    Unsupported,
    build,
    family_of,
    head_of,
    supported,
)
from paramcount.dtypes import dtype_name
from paramcount.errors import ParamcountError, SpecError
from paramcount.layers.base import PYTORCH
from paramcount.model import Summary
from paramcount.quoting import quote

HEAD_CHOICES = ("base",)


def load(path: Path, **options: Any) -> Summary:
    """The source protocol: a ``config.json`` file.

    Errors name the file: ``config.json: llama config: num_key_value_heads=5 does not ...``.
    """
    from paramcount.sources.spec import read_document

    doc = read_document(path)
    try:
        return from_dict(doc, source=str(path), **options)
    except ParamcountError as err:
        raise err.within(path.name) from None


def from_dict(doc: Any, source: str = "<dict>", head: str | None = None,
              params: Mapping[str, Any] | None = None, **_: Any) -> Summary:
    """Summarize a parsed Hugging Face config; ``params`` override its fields
    (``--set num_hidden_layers=2``).

    >>> s = from_dict({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})
    >>> s.total_params, s.name
    (124439808, 'GPT2LMHeadModel')
    """
    if not isinstance(doc, Mapping):
        raise SpecError(f"a Hugging Face config must be a JSON object, got {type(doc).__name__}")
    if head is not None and head not in HEAD_CHOICES:
        raise SpecError(f"head={quote(head)} is not known; expected one of "
                        f"{', '.join(HEAD_CHOICES)}")
    doc = {**doc, **(params or {})}
    model_type, architecture = _identity(doc)
    family = family_of(model_type, architecture)
    try:
        if family is None:
            what = f"model_type {quote(model_type)}" if model_type \
                else f"architecture {quote(architecture)}"
            raise Unsupported(f"{what} is not one paramcount declares")
        suffix = head_of(family, architecture, head)
        # a model made of others (LLaVA) meets a part it does not declare only as it builds
        root, figures = build(Config(doc, family.model_type), family, suffix)
    except Unsupported as err:
        if is_diffusers(doc):
            raise _not_diffusers(model_type) from None
        if is_timm(doc):
            raise
        return _fallback(doc, source, head, err, model_type)
    meta = {"model_type": family.model_type, "architecture": root.name,
            **quantization(doc)}
    return Summary(root, source=source, framework=PYTORCH, dtype=stored_dtype(doc),
                   meta=meta, figures=figures)


def declared(doc: Mapping[str, Any]) -> bool:
    """Whether paramcount builds this config itself (a family and head it declares), without
    transformers.

    >>> declared({"model_type": "llama", "architectures": ["LlamaForCausalLM"]})
    True
    >>> declared({"model_type": "gpt_neo"}), declared({"tie_word_embeddings": True})
    (False, False)
    """
    try:
        model_type, architecture = _identity(doc)
        family = family_of(model_type, architecture)
        return family is not None and bool(head_of(family, architecture, None) is not None)
    except SpecError:  # Unsupported among them
        return False


def is_diffusers(doc: Mapping[str, Any]) -> bool:
    """Whether a config is a diffusers model's: its class in ``_class_name``, no model_type.

    >>> is_diffusers({"_class_name": "AutoencoderKL"}), is_diffusers({"model_type": "gpt2"})
    (True, False)
    """
    return "_class_name" in doc and "model_type" not in doc


def _not_diffusers(name: str | None) -> SpecError:
    what = f"diffusers class {quote(name)}"
    if isinstance(name, str) and name.endswith("Pipeline"):
        return SpecError(f"{what} is a pipeline: count its folder or repo (its model_index.json "
                         "and the components' folders)")
    return SpecError(f"{what} is not one paramcount counts from its config.json (it declares "
                     f"{', '.join(DIFFUSERS)})")


def is_timm(doc: Mapping[str, Any]) -> bool:
    """Whether a config is a timm model's: its name in ``architecture``, no model_type.

    >>> is_timm({"architecture": "resnet50", "num_classes": 1000})
    True
    """
    return isinstance(doc.get("architecture"), str) and "model_type" not in doc \
        and "_class_name" not in doc


def _identity(doc: Mapping[str, Any]) -> tuple[str | None, str | None]:
    if is_timm(doc):
        return "timm", None
    if is_diffusers(doc):
        name = doc["_class_name"]
        if not isinstance(name, str):
            raise SpecError(f"_class_name={quote(name)} is not a class name")
        return name, name
    model_type = doc.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        raise SpecError(f"model_type={quote(model_type)} is not a string")
    architectures = doc.get("architectures")
    if architectures is None or architectures == []:
        return model_type, None
    if not isinstance(architectures, list) or not isinstance(architectures[0], str):
        raise SpecError(f"architectures={quote(architectures)} is not a list of class names")
    return model_type, architectures[0]


def quantization(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``{"quantization": METHOD, "quantization_config": {...}}`` for a config that says how
    its checkpoint is quantized (``quantization_config.quant_method``: gptq, awq, bitsandbytes,
    fp8, ...), else ``{}``: the method for scans, the whole config for ``paramcount memory``,
    which sizes the weights by it.

    >>> quantization({"quantization_config": {"quant_method": "gptq", "bits": 4}})
    {'quantization': 'gptq', 'quantization_config': {'quant_method': 'gptq', 'bits': 4}}
    """
    config = doc.get("quantization_config")
    method = config.get("quant_method") if isinstance(config, Mapping) else None
    if not (isinstance(config, Mapping) and isinstance(method, str) and method):
        return {}
    return {"quantization": method, "quantization_config": dict(config)}


def stored_dtype(doc: Mapping[str, Any]) -> str:
    """The dtype the weights are stored in: ``torch_dtype`` (``dtype`` since transformers 5),
    float32 when absent, as transformers' default.

    >>> stored_dtype({"torch_dtype": "bfloat16"}), stored_dtype({})
    ('bfloat16', 'float32')
    """
    for key in ("torch_dtype", "dtype"):
        value = doc.get(key)
        if value is None or value == "auto":
            continue
        if not isinstance(value, str):
            raise SpecError(f"{key}={quote(value)} is not a dtype name")
        name = value.removeprefix("torch.")
        try:
            return dtype_name(name)
        except SpecError:
            if name.startswith("float8"):  # float8_e4m3fn and its kin: one byte each
                return dtype_name("float8")
            raise SpecError(f"{key}={quote(value)} is not a dtype paramcount knows") from None
    return "float32"


def _fallback(doc: Mapping[str, Any], source: str, head: str | None, why: Unsupported,
              model_type: str | None) -> Summary:
    """Let transformers build what paramcount does not declare, or say what is supported."""
    from paramcount.architectures import fallback

    families = ", ".join(supported())
    if model_type is None:
        raise SpecError(f"the config names no model_type, and {why}; paramcount declares: "
                        f"{families}")
    if not fallback.available():
        raise SpecError(f"{why}; install transformers and torch to build it on the meta "
                        f"device, or use one of: {families}") from None
    summary = fallback.build(doc, head, source)
    summary.dtype = stored_dtype(doc)
    summary.meta.update(quantization(doc))
    return summary
