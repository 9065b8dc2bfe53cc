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
