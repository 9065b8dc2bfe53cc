"""Quantized checkpoints written by the real libraries on CPU, for the tests that read them.

Each writer takes a small transformers model of one family (random weights, seeded), notes
``sum(p.numel())`` of the model *before* quantizing, quantizes it with the library and saves the
folder the way that library's users do:

- bitsandbytes: transformers' ``BitsAndBytesConfig`` on load, then ``save_pretrained``;
- optimum-quanto: ``QuantizedModelForCausalLM.quantize(...).save_pretrained`` (transformers'
  ``QuantoConfig`` path refuses to save: "The model is quantized with quanto and is not
  serializable");
- torchao: transformers' ``TorchAoConfig`` on load, then ``save_pretrained`` (safetensors,
  tensor subclasses flattened by torchao); ``Int4WeightOnlyConfig`` needs the mslk kernels, which
  are not on CPU, so 4-bit is ``IntxWeightOnlyConfig(int4)``;
- compressed-tensors: the library's own ``apply_quantization_config``, weight scales from each
  weight's min and max (``calculate_qparams``, the step llm-compressor's observers do), then
  ``ModelCompressor.compress_model``, ``save_pretrained`` and ``update_config``. llm-compressor
  itself would downgrade transformers, so it is not used.

A write takes well under a second after the first imports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers

TINY = {"vocab_size": 256, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64}

FAMILIES: dict[str, Callable[[], Any]] = {
    "llama": lambda: transformers.LlamaConfig(**TINY),
    "qwen2": lambda: transformers.Qwen2Config(**TINY),
    "mistral": lambda: transformers.MistralConfig(**TINY),
    # ties lm_head to the embeddings: one tensor saved, counted once
    "gemma": lambda: transformers.GemmaConfig(**TINY, head_dim=16),
    "mixtral": lambda: transformers.MixtralConfig(**TINY, num_local_experts=4,
                                                  num_experts_per_tok=2),
    "opt": lambda: transformers.OPTConfig(
        vocab_size=256, hidden_size=64, ffn_dim=128, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=64, word_embed_proj_dim=64),
}


@dataclass
class Written:
    """A saved quantized folder and the truth about the model it encodes."""

    folder: Path
    params: int  # sum(p.numel()) of the model before quantizing
    config: dict[str, Any]  # the quantization_config (or quanto's qmap) the library wrote


def unquantized(family: str, folder: Path) -> int:
    """Save the family's tiny model, unquantized, to ``folder``; its parameter count."""
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(FAMILIES[family]())
    model.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def _reload(source: Path, config: Any) -> Any:
    return transformers.AutoModelForCausalLM.from_pretrained(
        source, quantization_config=config, device_map="cpu")


def _quantization_config(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "config.json").read_text())["quantization_config"]


def bitsandbytes(source: Path, folder: Path, scheme: str) -> dict[str, Any]:
    """``nf4``, ``fp4``, ``nf4-double`` (absmax quantized again) or ``int8``."""
    quant_type, _, double = scheme.partition("-")
    config = transformers.BitsAndBytesConfig(load_in_8bit=True) if scheme == "int8" else \
        transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant_type,
                                        bnb_4bit_use_double_quant=bool(double))
    _reload(source, config).save_pretrained(folder)
    return _quantization_config(folder)


def quanto(source: Path, folder: Path, scheme: str) -> dict[str, Any]:
    """``qint8``, ``qint4``, ``qint2`` or ``qfloat8``: weights only, lm_head left as it is."""
    from optimum import quanto as q

    model = transformers.AutoModelForCausalLM.from_pretrained(source)
    q.QuantizedModelForCausalLM.quantize(
        model, weights=getattr(q, scheme), exclude="lm_head").save_pretrained(folder)
    return json.loads((folder / "quanto_qmap.json").read_text())


def torchao(source: Path, folder: Path, scheme: str) -> dict[str, Any]:
    """``int8`` (weight only), ``int8-dynamic``, ``int4`` (grouped by 32, one int8 a value),
    ``float8`` (weight only)."""
    from torchao import quantization as ao

    configs = {
        "int8": lambda: ao.Int8WeightOnlyConfig(),
        "int8-dynamic": lambda: ao.Int8DynamicActivationInt8WeightConfig(),
        "int4": lambda: ao.IntxWeightOnlyConfig(weight_dtype=torch.int4,
                                                granularity=ao.PerGroup(32)),
        "float8": lambda: ao.Float8WeightOnlyConfig(),
    }
    _reload(source, transformers.TorchAoConfig(configs[scheme]())).save_pretrained(folder)
    return _quantization_config(folder)


def compressed_tensors(source: Path, folder: Path, scheme: str) -> dict[str, Any]:
    """A preset scheme by name (``W4A16``, ``W4A16_ASYM``, ``W8A8``, ``FP8``, ``FP8_DYNAMIC``,
    ``NVFP4A16``, ``MXFP4A16``); groups of 128 become 32 to fit the tiny widths."""
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import (
        QuantizationConfig,
        apply_quantization_config,
        preset_name_to_scheme,
    )

    model = transformers.AutoModelForCausalLM.from_pretrained(source)
    preset = preset_name_to_scheme(scheme, ["Linear"])
    if preset.weights.group_size == 128:
        preset.weights.group_size = 32
    apply_quantization_config(model, QuantizationConfig(
        config_groups={"group_0": preset}, ignore=["lm_head"]))
    for module in model.modules():
        if getattr(module, "quantization_scheme", None) is not None:
            _calibrate(module)
    compressor = ModelCompressor.from_pretrained_model(model)
    compressor.compress_model(model)
    model.save_pretrained(folder)
    compressor.update_config(folder)
    return _quantization_config(folder)


def _calibrate(module: torch.nn.Module) -> None:
    """Scales (and zero points, a global scale) from the weight's own min and max, per tensor,
    channel or group as the scheme says: what a min-max observer finds on the weights."""
    from compressed_tensors.quantization import QuantizationStrategy as S
    from compressed_tensors.quantization.utils import calculate_qparams, generate_gparam

    args, weight = module.quantization_scheme.weights, module.weight.detach()
    if args.strategy == S.TENSOR:
        low, high = torch.aminmax(weight)
    elif args.strategy == S.CHANNEL:
        low, high = weight.amin(-1, keepdim=True), weight.amax(-1, keepdim=True)
    else:  # groups along the input
        grouped = weight.unflatten(-1, (-1, args.group_size))
        low, high = grouped.amin(-1), grouped.amax(-1)
    global_scale = None
    if args.strategy == S.TENSOR_GROUP:
        global_scale = generate_gparam(weight.min(), weight.max())
        module.weight_global_scale.data.copy_(global_scale)
    scale, zero_point = calculate_qparams(low, high, args, global_scale=global_scale)
    module.weight_scale.data.copy_(scale.reshape(module.weight_scale.shape))
    if hasattr(module, "weight_zero_point"):
        module.weight_zero_point.data.copy_(zero_point.reshape(module.weight_zero_point.shape))


WRITERS: dict[str, Callable[[Path, Path, str], dict[str, Any]]] = {
    "bitsandbytes": bitsandbytes,
    "quanto": quanto,
    "torchao": torchao,
    "compressed-tensors": compressed_tensors,
}

#: the module each library is imported as
MODULES = {"bitsandbytes": "bitsandbytes", "quanto": "optimum.quanto", "torchao": "torchao",
           "compressed-tensors": "compressed_tensors"}


def write(library: str, scheme: str, family: str, root: Path) -> Written:
    """The family's model quantized by ``library`` with ``scheme``, saved under ``root``."""
    source, folder = root / f"{family}-unquantized", root / f"{family}-{library}-{scheme}"
    if not (source / "config.json").exists():
        unquantized(family, source)
    params = sum(p.numel() for p in transformers.AutoModelForCausalLM.from_pretrained(
        source).parameters())
    config = WRITERS[library](source, folder, scheme)
    return Written(folder, params, config)
