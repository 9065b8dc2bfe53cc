"""A storage plan from what the user asked (``--scheme``, ``--dtype``, ``--group-size``) or from
a config's ``quantization_config``, each field checked: an unknown ``quant_method`` or bits a
scheme does not store is one line naming the field.

>>> plan = from_config({"quant_method": "fp8", "weight_block_size": [128, 128]}, "bfloat16")
>>> plan.layout.scheme, plan.layout.block
('fp8', (128, 128))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paramcount.errors import SpecError
from paramcount.memory.quantized import Plan
from paramcount.memory.schemes import (
    CLI_SCHEMES,
    DTYPE_BITS,
    SCHEMES,
    Layout,
    check_bits,
    is_gguf,
    scheme,
)

FIELD = "quantization_config"


def from_options(name: str, dtype: str | None, group: int | None) -> Plan:
    """The plan of ``--scheme NAME`` with ``--dtype`` (its bits) and ``--group-size``.

    >>> from_options("gptq", "int4", None).layout
    Layout(scheme='gptq', bits=4, group=128, block=None, channel=False, scale_dtype='float16', \
zero_points=False, input_scale=False, double_quant=False, gguf_type='')
    """
    s = scheme(name)
    if s.name not in CLI_SCHEMES:
        raise SpecError(f"unknown --scheme {name!r}; known: {', '.join(CLI_SCHEMES)}")
    bits = 4 if 4 in s.bits else s.bits[0]
    if dtype is not None:
        if dtype.lower() not in DTYPE_BITS:
            raise SpecError(f"--dtype {dtype} does not say how many bits --scheme {s.name} "
                            "stores; use int2, int3, int4 or int8 (fp8 for fp8)")
        bits = DTYPE_BITS[dtype.lower()]
        check_bits(s, bits, f"--dtype {dtype}: bits")
    if group is not None:
        if group <= 0 and not (group == -1 and s.grouped):
            raise SpecError(f"--group-size must be positive (or -1: a whole row), got {group}")
        if not s.grouped and s.name != "fp8":
            raise SpecError(f"--group-size: {s.name} has a fixed layout "
                            f"({s.group or 'per row'}), not a group size to choose")
    if s.name == "fp8":
        block = None if group is None else (group, group)
        return Plan(Layout("fp8", 8, block=block, scale_dtype="float32"), f"--scheme {s.name}")
    return Plan(Layout(s.name, bits, s.group if group is None else group),
                f"--scheme {s.name}")


def from_dtype(dtype: str) -> Plan | None:
    """The plan of a GGUF block type given as ``--dtype`` (Q4_K, ...), else None."""
    if not is_gguf(dtype):
        return None
    return Plan(Layout("gguf", 0, gguf_type=dtype), f"--dtype {dtype}")


def _list(c: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = c.get(key) or ()
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{FIELD}.{key}={value!r} is not a list of module names")
    return tuple(value)


def _int(c: Mapping[str, Any], key: str, default: int | None, where: str = FIELD) -> int:
    value = c.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecError(f"{where}.{key}={value!r} is not an integer")
    return value


def _bits(c: Mapping[str, Any], key: str, name: str, default: int | None = None,
          where: str = FIELD) -> int:
    bits = _int(c, key, default, where)
    check_bits(SCHEMES[name], bits, f"{where}.{key}")
    return bits


def _group(c: Mapping[str, Any], key: str, default: int | None, where: str = FIELD
           ) -> int | None:
    value = c.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or (value <= 0 and value != -1):
        raise SpecError(f"{where}.{key}={value!r} is not a group size (a positive integer "
                        "or -1)")
    return value


def _gptq(c: Mapping[str, Any], dtype: str) -> Plan:
    layout = Layout("gptq", _bits(c, "bits", "gptq"), _group(c, "group_size", 128))
    return Plan(layout, "quantization_config (gptq)", _list(c, "modules_to_not_convert"),
                head=bool(c.get("lm_head", False)))


def _awq(c: Mapping[str, Any], dtype: str) -> Plan:
    key = "bits" if "bits" in c else "w_bit"
    group = "group_size" if "group_size" in c else "q_group_size"
    return Plan(Layout("awq", _bits(c, key, "awq", 4), _group(c, group, 128)),
                "quantization_config (awq)", _list(c, "modules_to_not_convert"))


def _bnb(c: Mapping[str, Any], dtype: str) -> Plan:
    skip = _list(c, "llm_int8_skip_modules")
    if c.get("load_in_8bit"):
        return Plan(Layout("int8", 8), "quantization_config (bitsandbytes 8-bit)", skip)
    if not c.get("load_in_4bit"):
        raise SpecError(f"{FIELD}: bitsandbytes without load_in_4bit or load_in_8bit")
    kind = c.get("bnb_4bit_quant_type", "fp4")
    if kind not in ("nf4", "fp4"):
        raise SpecError(f"{FIELD}.bnb_4bit_quant_type={kind!r} is not nf4 or fp4")
    layout = Layout(kind, 4, 64, double_quant=bool(c.get("bnb_4bit_use_double_quant")))
    return Plan(layout, f"quantization_config (bitsandbytes {kind})", skip)


def _fp8(c: Mapping[str, Any], dtype: str) -> Plan:
    block = c.get("weight_block_size", [128, 128])  # transformers' FineGrainedFP8Config
    if block is not None and (not isinstance(block, (list, tuple)) or len(block) != 2
                              or not all(isinstance(b, int) and b > 0 for b in block)):
        raise SpecError(f"{FIELD}.weight_block_size={block!r} is not two positive integers")
    layout = Layout("fp8", 8, block=None if block is None else (block[0], block[1]),
                    scale_dtype="float32")
    return Plan(layout, "quantization_config (fp8)", _list(c, "modules_to_not_convert"))


def _fbgemm(c: Mapping[str, Any], dtype: str) -> Plan:
    return Plan(Layout("fp8", 8, channel=True, scale_dtype="float32"),
                "quantization_config (fbgemm_fp8)", _list(c, "modules_to_not_convert"))


def _mxfp4(c: Mapping[str, Any], dtype: str) -> Plan:
    return Plan(Layout("mxfp4", 4, 32), "quantization_config (mxfp4)",
                _list(c, "modules_to_not_convert"))


def _ct_layout(group: Mapping[str, Any], fmt: str, dtype: str, where: str) -> Layout:
    w = group.get("weights")
    if not isinstance(w, Mapping):
        raise SpecError(f"{where}.weights is missing: the scheme of these weights is unknown")
    bits, kind = _int(w, "num_bits", None, f"{where}.weights"), w.get("type", "int")
    strategy = w.get("strategy", "tensor")
    size = _group(w, "group_size", None, f"{where}.weights") if strategy in (
        "group", "tensor_group") else None
    acts = group.get("input_activations")
    static = isinstance(acts, Mapping) and not acts.get("dynamic", False)
    if kind == "float" and bits == 4:
        return Layout("nvfp4", 4, 16)
    if kind == "float":
        check_bits(SCHEMES["fp8"], bits, f"{where}.weights.num_bits")
        block = w.get("block_structure")
        return Layout("fp8", 8, size, block=(block[0], block[1]) if block else None,
                      channel=strategy == "channel", scale_dtype=dtype, input_scale=static)
    name = "packed" if fmt.startswith("pack") or bits < 8 else "int"
    check_bits(SCHEMES[name], bits, f"{where}.weights.num_bits")
    return Layout(name, bits, size, channel=strategy == "channel", scale_dtype=dtype,
                  zero_points=not w.get("symmetric", True), input_scale=static)


def _compressed(c: Mapping[str, Any], dtype: str) -> Plan:
    groups = c.get("config_groups")
    if not isinstance(groups, Mapping) or not groups:
        raise SpecError(f"{FIELD}.config_groups is missing: compressed-tensors names its "
                        "schemes there")
    fmt = str(c.get("format", "pack-quantized"))
    targets = []
    for key, group in groups.items():
        where = f"{FIELD}.config_groups.{key}"
        if not isinstance(group, Mapping):
            raise SpecError(f"{where} is not an object")
        patterns = tuple(group.get("targets") or ("Linear",))
        targets.append((patterns, _ct_layout(group, fmt, dtype, where)))
    return Plan(targets[0][1], f"quantization_config (compressed-tensors {fmt})",
                _list(c, "ignore"), head=True, targets=tuple(targets))


#: quant_method -> its plan
METHODS: dict[str, Callable[[Mapping[str, Any], str], Plan]] = {
    "gptq": _gptq, "awq": _awq, "bitsandbytes": _bnb, "fp8": _fp8, "fbgemm_fp8": _fbgemm,
    "mxfp4": _mxfp4, "compressed-tensors": _compressed,
}


def from_config(config: Mapping[str, Any], dtype: str) -> Plan:
    """The plan a ``quantization_config`` describes; ``dtype`` is the model's own (what it
    keeps, and compressed-tensors' scales)."""
    method = config.get("quant_method")
    if method not in METHODS:
        raise SpecError(f"{FIELD}.quant_method={method!r} is not a scheme paramcount sizes; "
                        f"known: {', '.join(METHODS)}")
    return METHODS[method](config, dtype)


def plan(facts: Any, o: Any) -> Plan | None:
    """The plan an estimate sizes the weights by, or None (a dtype for every weight, or the
    checkpoint's stored bytes): ``--scheme``; a GGUF type as ``--dtype``; else, for a model
    that does not store its bytes (a config), its ``quantization_config``."""
    from paramcount.dtypes import dtype_name

    if o.scheme is not None:
        return from_options(o.scheme, o.dtype, o.group_size)
    if o.group_size is not None:
        raise SpecError("--group-size sizes the groups of a --scheme; give --scheme too")
    if o.dtype is not None:
        return None if o.dtype.lower() == "stored" else from_dtype(dtype_name(o.dtype))
    if facts.stored_bytes is None and facts.quantization:
        return from_config(facts.quantization, facts.dtype)
    return None
