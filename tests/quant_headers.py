"""Header-only safetensors files in the layouts quantizers write, for tests of the unpacking.

The data area is a hole (a sparse file): only the header is ever read, so a 70B model's
layout costs a few hundred kilobytes of header and no disk. Layouts follow each format's own
definition (cited in the scheme modules' docstrings); the unquantized shapes they start from
come from transformers building the model on the meta device, or from a hand calculation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: safetensors dtype -> bytes per element (F4 and friends are counted in the packed uint8)
BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
         "U32": 4, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1}

Entry = tuple[str, tuple[int, ...]]  # (safetensors dtype, shape)


def numel(shape: Iterable[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def nbytes(entry: Entry) -> int:
    return numel(entry[1]) * BYTES[entry[0]]


def write(path: Path, entries: Mapping[str, Entry], metadata: dict[str, str] | None = None
          ) -> Path:
    """A safetensors file declaring ``entries`` (name -> (dtype, shape)) whose data is a
    hole."""
    header: dict[str, Any] = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, entry in entries.items():
        size = nbytes(entry)
        header[name] = {"dtype": entry[0], "shape": list(entry[1]),
                        "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        f.truncate(8 + len(raw) + offset)
    return path


def write_model(folder: Path, entries: Mapping[str, Entry], config: Mapping[str, Any] | None
                ) -> Path:
    """``model.safetensors`` (and ``config.json`` when given) in ``folder``."""
    write(folder / "model.safetensors", entries)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def total_bytes(entries: Mapping[str, Entry]) -> int:
    return sum(nbytes(e) for e in entries.values())


# -- the layouts ------------------------------------------------------------------------------

def gptq(stem: str, out: int, inputs: int, bits: int = 4, group: int = 128,
         g_idx: bool = True) -> dict[str, Entry]:
    """GPTQ's tensors for a Linear [out, in] (gptqmodel's ``qweight`` [in·b/32, out])."""
    groups = -(-inputs // group) if group > 0 else 1
    entries = {f"{stem}.qweight": ("I32", (inputs * bits // 32, out)),
               f"{stem}.qzeros": ("I32", (groups, out * bits // 32)),
               f"{stem}.scales": ("F16", (groups, out))}
    if g_idx:
        entries[f"{stem}.g_idx"] = ("I32", (inputs,))
    return entries


def awq(stem: str, out: int, inputs: int, bits: int = 4, group: int = 128) -> dict[str, Entry]:
    """AutoAWQ's GEMM tensors for a Linear [out, in] (``qweight`` [in, out·b/32])."""
    groups = inputs // group
    return {f"{stem}.qweight": ("I32", (inputs, out * bits // 32)),
            f"{stem}.qzeros": ("I32", (groups, out * bits // 32)),
            f"{stem}.scales": ("F16", (groups, out))}


def from_meta_model(model: Any, quantize: Any, skip: tuple[str, ...] = ("lm_head",),
                    dtype: str = "F16") -> dict[str, Entry]:
    """The checkpoint of a torch model (built on the meta device) with every Linear outside
    ``skip`` written by ``quantize(stem, out, in)``, everything else as it is."""
    import torch

    entries: dict[str, Entry] = {}
    linears = {name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)
               and not name.endswith(skip)}
    for name, p in model.named_parameters():
        stem, _, leaf = name.rpartition(".")
        if stem in linears and leaf == "weight":
            entries.update(quantize(stem, p.shape[0], p.shape[1]))
        else:
            entries[name] = (dtype, tuple(p.shape))
    return entries


def mxfp4(stem: str, experts: int, inputs: int, out: int) -> dict[str, Entry]:
    """gpt-oss's MXFP4 experts for transformers' parameter ``[experts, in, out]``: blocks of 32
    values in 16 bytes along the input, one scale byte per block (integrations/mxfp4.py)."""
    return {f"{stem}_blocks": ("U8", (experts, out, inputs // 32, 16)),
            f"{stem}_scales": ("U8", (experts, out, inputs // 32))}


def fp8_block(stem: str, out: int, inputs: int, block: int = 128) -> dict[str, Entry]:
    """DeepSeek-V3's FP8: the weight as float8_e4m3fn, a float32 scale per 128×128 block."""
    return {f"{stem}.weight": ("F8_E4M3", (out, inputs)),
            f"{stem}.weight_scale_inv": ("F32", (-(-out // block), -(-inputs // block)))}


def modelopt_nvfp4(stem: str, out: int, inputs: int) -> dict[str, Entry]:
    """NVIDIA ModelOpt's NVFP4: e2m1 pairs in uint8, an fp8 scale per 16, two fp32 scalars."""
    return {f"{stem}.weight": ("U8", (out, inputs // 2)),
            f"{stem}.weight_scale": ("F8_E4M3", (out, inputs // 16)),
            f"{stem}.weight_scale_2": ("F32", ()), f"{stem}.input_scale": ("F32", ())}


def pack_quantized(stem: str, out: int, inputs: int, bits: int = 4, group: int = 128
                   ) -> dict[str, Entry]:
    """compressed-tensors' pack-quantized (w4a16): int32 along the input, the true shape as
    data in ``weight_shape``."""
    return {f"{stem}.weight_packed": ("I32", (out, inputs * bits // 32)),
            f"{stem}.weight_scale": ("BF16", (out, -(-inputs // group))),
            f"{stem}.weight_shape": ("I64", (2,))}


def mlx(stem: str, out: int, inputs: int, bits: int = 4, group: int = 64) -> dict[str, Entry]:
    """mlx-lm's affine quantization: uint32 along the input, a scale and an offset per group."""
    return {f"{stem}.weight": ("U32", (out, inputs * bits // 32)),
            f"{stem}.scales": ("F16", (out, inputs // group)),
            f"{stem}.biases": ("F16", (out, inputs // group))}


# -- released models' layouts, from their configs (a hand calculation, written out) ---------

def llama_layout(cfg: Mapping[str, Any], quantize: Any, dtype: str = "BF16"
                 ) -> dict[str, Entry]:
    """A Llama checkpoint's tensors from its config: embeddings and head kept in ``dtype``,
    every projection of every block written by ``quantize(stem, out, in)``."""
    h, i, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = cfg.get("head_dim") or h // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    entries: dict[str, Entry] = {"model.embed_tokens.weight": (dtype, (v, h))}
    for n in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{n}"
        for stem, out, inputs in (("self_attn.q_proj", q, h), ("self_attn.k_proj", kv, h),
                                  ("self_attn.v_proj", kv, h), ("self_attn.o_proj", h, q),
                                  ("mlp.gate_proj", i, h), ("mlp.up_proj", i, h),
                                  ("mlp.down_proj", h, i)):
            entries.update(quantize(f"{b}.{stem}", out, inputs))
        entries[f"{b}.input_layernorm.weight"] = (dtype, (h,))
        entries[f"{b}.post_attention_layernorm.weight"] = (dtype, (h,))
    entries["model.norm.weight"] = (dtype, (h,))
    if not cfg.get("tie_word_embeddings"):
        entries["lm_head.weight"] = (dtype, (v, h))
    return entries


def gpt_oss_layout(cfg: Mapping[str, Any]) -> dict[str, Entry]:
    """gpt-oss's released checkpoint from its config: attention with biases and sinks in
    bf16, the router in bf16, the experts' projections in MXFP4 with bf16 biases."""
    h, i, v, e = (cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"],
                  cfg["num_local_experts"])
    hd, heads, kvh = cfg["head_dim"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    entries: dict[str, Entry] = {"model.embed_tokens.weight": ("BF16", (v, h))}
    for n in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{n}"
        for stem, out, inputs in (("q_proj", heads * hd, h), ("k_proj", kvh * hd, h),
                                  ("v_proj", kvh * hd, h), ("o_proj", h, heads * hd)):
            entries[f"{b}.self_attn.{stem}.weight"] = ("BF16", (out, inputs))
            entries[f"{b}.self_attn.{stem}.bias"] = ("BF16", (out,))
        entries[f"{b}.self_attn.sinks"] = ("BF16", (heads,))
        entries[f"{b}.mlp.router.weight"] = ("BF16", (e, h))
        entries[f"{b}.mlp.router.bias"] = ("BF16", (e,))
        entries.update(mxfp4(f"{b}.mlp.experts.gate_up_proj", e, h, 2 * i))
        entries[f"{b}.mlp.experts.gate_up_proj_bias"] = ("BF16", (e, 2 * i))
        entries.update(mxfp4(f"{b}.mlp.experts.down_proj", e, i, h))
        entries[f"{b}.mlp.experts.down_proj_bias"] = ("BF16", (e, h))
        entries[f"{b}.input_layernorm.weight"] = ("BF16", (h,))
        entries[f"{b}.post_attention_layernorm.weight"] = ("BF16", (h,))
    entries["model.norm.weight"] = ("BF16", (h,))
    entries["lm_head.weight"] = ("BF16", (v, h))
    return entries


def bnb_nf4(stem: str, out: int, inputs: int, block: int = 64, nested: int = 256
            ) -> dict[str, Entry]:
    """bitsandbytes 4-bit NF4 with double quantization, as transformers' save_pretrained
    writes it: the values two a byte, flattened; a uint8 absmax a block, quantized in turn (an
    f32 absmax and a 256-entry map per ``nested`` blocks); the 16 NF4 levels; and the
    quant_state JSON as uint8 bytes (its text: :func:`bnb_state`)."""
    n = out * inputs
    blocks = -(-n // block)
    state = bnb_state(out, inputs, block, nested)
    return {f"{stem}.weight": ("U8", (n // 2, 1)),
            f"{stem}.weight.absmax": ("U8", (blocks,)),
            f"{stem}.weight.nested_absmax": ("F32", (-(-blocks // nested),)),
            f"{stem}.weight.nested_quant_map": ("F32", (256,)),
            f"{stem}.weight.quant_map": ("F32", (16,)),
            f"{stem}.weight.quant_state.bitsandbytes__nf4": ("U8", (len(state),))}


def bnb_state(out: int, inputs: int, block: int = 64, nested: int = 256) -> bytes:
    """The JSON bitsandbytes 0.50 stores in ``quant_state.bitsandbytes__nf4``."""
    return json.dumps({"quant_type": "nf4", "blocksize": block, "dtype": "bfloat16",
                       "shape": [out, inputs], "nested_blocksize": nested,
                       "nested_dtype": "float32", "nested_offset": 0.0}).encode()


def fill(path: Path, data: Mapping[str, bytes]) -> None:
    """Write ``data`` (tensor name -> its bytes) into a file :func:`write` made, at each
    tensor's offsets; the rest stays a hole."""
    with path.open("r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        for name, raw in data.items():
            begin, end = header[name]["data_offsets"]
            assert end - begin == len(raw), name
            f.seek(8 + n + begin)
            f.write(raw)
