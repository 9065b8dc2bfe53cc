"""Quantized checkpoints counted as the model they encode: packed tensors unpacked to the
weights they stand for, bookkeeping (scales, zero points, ``g_idx``) set apart as bytes.

A GPTQ checkpoint stores a Linear ``[out, in]`` as an int32 ``qweight`` of ``[in/8, out]``
(eight 4-bit values a word) with ``scales``, ``qzeros`` and ``g_idx`` beside it; counted as
stored it is 8 times too small and its bookkeeping is counted as parameters. :func:`logical`
runs once, before the tensors become a tree (:func:`~paramcount.sources.tensors.
summarize_tensors`): each packed tensor becomes one logical weight (``q_proj.weight``
``[out, in]``, a dtype such as ``int4``, and as bytes the packed data plus its bookkeeping, so
stored bytes stay the file's), and a :class:`QuantInfo` says what was unpacked.

The scheme comes from ``quantization_config.quant_method`` in the ``config.json`` beside the
weights, else is guessed from the tensor names (said so). Each scheme is one module that
declares a :class:`Scheme` and is listed in :data:`SCHEMES`: the suffix of its packed tensor,
the suffixes of its bookkeeping, and a pure function from the packed shapes to the logical one,
which checks them (a ``qweight`` that does not fit is one error naming it, never a count).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from paramcount.errors import SpecError
from paramcount.sources.tensors import Tensor

#: the quantization methods transformers names (``QuantizationMethod``) that no scheme here
#: unpacks yet: their tensors are counted as stored, with a note, rather than refused
NOT_UNPACKED = ("eetq", "hqq",
                "aqlm", "vptq", "higgs", "fbgemm_fp8", "spqr", "bitnet", "quark", "auto-round",
                "fp_quant", "gptqmodel", "squeezellm", "mxfp8", "sinq")
_LAYER = re.compile(r"\.\d+\.")


#: reads a small tensor's stored bytes (bitsandbytes keeps a shape as JSON in a uint8 tensor);
#: bounded to :data:`MAX_READ` bytes
Read = Callable[[Tensor], bytes]
MAX_READ = 2**20


@dataclass(frozen=True)
class Settings:
    """What a ``quantization_config`` says (each None when it does not say), and how to read
    a small tensor's bytes when the reader can (None otherwise)."""

    bits: int | None = None
    group_size: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    read: Read | None = None


@dataclass(frozen=True)
class Packed:
    """One packed tensor and the bookkeeping beside it, by suffix (``{"scales": Tensor}``)."""

    tensor: Tensor
    extras: Mapping[str, Tensor]


@dataclass(frozen=True)
class Unpacked:
    """What a packed tensor stands for: the logical shape, its dtype's name, and the
    arithmetic in words for ``--explain``."""

    shape: tuple[int, ...]
    dtype: str
    how: str
    bits: int | None = None
    group_size: int | None = None


@dataclass(frozen=True)
class Scheme:
    """One quantization format, as a table row.

    ``packed`` ends the packed tensor's name (``qweight``, ``_blocks``; several endings when a
    format has several layouts, the first that matches wins); its stem plus each of
    ``overhead`` names its bookkeeping, and the stem plus ``logical`` the weight it stands for
    (``q_proj.qweight`` -> ``q_proj.weight``). ``unpack`` gives the logical shape from the
    shapes alone, or None when the tensor is not packed after all (an fp8 scheme's bf16
    norms end in ``weight`` too); it raises :class:`SpecError` naming the tensor when the
    shapes do not fit the scheme. ``guess`` recognises the scheme's files by their tensors
    when no config says, and ``settings`` reads (and checks) a ``quantization_config``.
    """

    name: str
    methods: tuple[str, ...]
    packed: str | tuple[str, ...]
    overhead: tuple[str, ...]
    logical: str
    unpack: Callable[[Packed, Settings], Unpacked | None]
    guess: Callable[[Mapping[str, Tensor]], bool] | None = None
    settings: Callable[[Mapping[str, Any]], Settings] | None = None
    #: name endings without a dot, one of which some tensor's name must have for ``guess`` to
    #: be tried: a header has few distinct last parts (``weight``, ``bias``) and many names,
    #: so :func:`logical` asks those once instead of every scheme scanning every name
    marks: tuple[str, ...] = ()


@dataclass
class QuantInfo:
    """What the unpacking found, for the summary's notes and the JSON ``quantization``
    object."""

    scheme: str
    detected_from: str  # "quantization_config" or "tensor names"
    bits: int | None = None
    group_size: int | None = None
    quantized_tensors: int = 0
    quantized_params: int = 0  # logical elements of the unpacked weights
    stored_elements: int = 0  # elements of the packed tensors as stored (int32 words, bytes)
    packed_bytes: int = 0
    overhead_bytes: dict[str, int] = field(default_factory=dict)  # by bookkeeping suffix
    unquantized: list[str] = field(default_factory=list)  # matrices left in float
    #: by kind of module (``model.layers.*.self_attn.q_proj``): [params, stored bytes]
    modules: dict[str, list[int]] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)  # one unpacking per kind, explained

    @property
    def bookkeeping_bytes(self) -> int:
        return sum(self.overhead_bytes.values())

    @property
    def bits_per_weight(self) -> float | None:
        """Stored bits (packed data and bookkeeping) per logical weight of the quantized
        tensors."""
        if not self.quantized_params:
            return None
        return (self.packed_bytes + self.bookkeeping_bytes) * 8 / self.quantized_params

    def to_dict(self) -> dict[str, Any]:
        bpw = self.bits_per_weight
        return {"scheme": self.scheme, "detected_from": self.detected_from, "bits": self.bits,
                "group_size": self.group_size, "quantized_tensors": self.quantized_tensors,
                "quantized_params": self.quantized_params,
                "stored_elements": self.stored_elements, "packed_bytes": self.packed_bytes,
                "bookkeeping_bytes": self.bookkeeping_bytes,
                "bookkeeping": dict(self.overhead_bytes),
                "bits_per_weight": None if bpw is None else round(bpw, 4),
                "unquantized": list(self.unquantized), "unpacking": list(self.examples),
                "modules": {k: {"params": n, "bytes": b, "bits_per_weight": round(b * 8 / n, 4)
                                if n else None} for k, (n, b) in self.modules.items()}}

    def notes(self) -> list[str]:
        """The lines under a summary's totals."""
        how = "from quantization_config" if self.detected_from == "quantization_config" \
            else "guessed from tensor names"
        params = [f"{self.bits}-bit" if self.bits else "",
                  f"group size {self.group_size}" if self.group_size else ""]
        said = ", ".join(p for p in params if p)
        kinds = ", ".join(f"{k} {b:,}" for k, b in self.overhead_bytes.items())
        bpw = self.bits_per_weight
        lines = [f"Quantized: {self.scheme}{f' ({said})' if said else ''}, {how}; "
                 f"{self.quantized_tensors:,} packed tensors unpacked to "
                 f"{self.quantized_params:,} parameters"
                 + (f", {bpw:.2f} bits per weight stored" if bpw is not None else ""),
                 f"Quantization bookkeeping (bytes, not parameters): "
                 f"{self.bookkeeping_bytes:,}{f' ({kinds})' if kinds else ''}"]
        if self.unquantized:
            lines.append("Not quantized: " + ", ".join(self.unquantized))
        return lines


# -- the registry -----------------------------------------------------------------------------

def _schemes() -> tuple[Scheme, ...]:
    from paramcount.sources.quant import (
        bitsandbytes,
        compressed_tensors,
        fp8,
        gptq,
        mlx,
        mxfp4,
        nvfp4,
        quanto,
        torchao,
    )

    return (gptq.GPTQ, gptq.AWQ, mxfp4.MXFP4, compressed_tensors.COMPRESSED_TENSORS,
            nvfp4.MODELOPT, fp8.FP8, mlx.MLX, bitsandbytes.BITSANDBYTES, quanto.QUANTO,
            torchao.TORCHAO)


#: every scheme, in the order their guesses are tried
SCHEMES: tuple[Scheme, ...] = ()


def schemes() -> tuple[Scheme, ...]:
    """Every registered scheme (imported on first use)."""
    global SCHEMES
    if not SCHEMES:
        SCHEMES = _schemes()
        names = [m for s in SCHEMES for m in s.methods]
        if len(names) != len(set(names)):
            raise AssertionError(f"a quant_method is claimed twice: {names}")
    return SCHEMES


def by_method(method: str) -> Scheme | None:
    """The scheme a ``quant_method`` names.

    >>> by_method("gptq").name, by_method("nope")
    ('gptq', None)
    """
    return next((s for s in schemes() if method.lower() in s.methods), None)


def logical(tensors: list[Tensor], config: Mapping[str, Any] | None, read: Read | None = None
            ) -> tuple[list[Tensor], QuantInfo | None, list[str]]:
    """The tensors as the model they encode, what was unpacked, and notes; ``read`` gives a
    small tensor's bytes to schemes that keep shapes in data.

    >>> t = [Tensor("fc.qweight", (8, 16), "int32", 512), Tensor("fc.scales", (1, 16),
    ...      "float16", 32), Tensor("fc.qzeros", (1, 2), "int32", 8)]
    >>> out, info, _ = logical(t, {"quantization_config": {"quant_method": "gptq",
    ...                                                    "bits": 4, "group_size": -1}})
    >>> [(x.name, x.shape) for x in out], info.bookkeeping_bytes
    ([('fc.weight', (16, 64))], 40)
    """
    qc = quantization_config(config)
    by_name = {t.name: t for t in tensors}
    if qc is not None and (qc.get("quant_method") is not None
                           or not isinstance((config or {}).get("quantization"), Mapping)):
        method = qc.get("quant_method")
        scheme = by_method(method) if isinstance(method, str) else None
        if scheme is None:
            return _unknown(tensors, method)
        settings = replace((scheme.settings or default_settings)(qc), read=read)
        source = "quantization_config"
    elif config and isinstance(config.get("quantization"), Mapping):  # MLX's own key
        scheme = by_method("mlx")
        assert scheme is not None and scheme.settings is not None
        settings = replace(scheme.settings(config["quantization"]), read=read)
        source = "quantization_config"
    else:
        tails = {n[n.rfind(".") + 1:] for n in by_name}
        scheme = next((s for s in schemes() if s.guess is not None
                       and (not s.marks or any(t.endswith(s.marks) for t in tails))
                       and s.guess(by_name)), None)
        if scheme is None:
            return tensors, None, []
        settings, source = Settings(read=read), "tensor names"
    out, info = apply(scheme, tensors, by_name, settings, source)
    return out, info, info.notes()


def quantization_config(config: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A config's ``quantization_config`` (a multimodal model's may sit in ``text_config``)."""
    if not config:
        return None
    for doc in (config, config.get("text_config")):
        qc = doc.get("quantization_config") if isinstance(doc, Mapping) else None
        if qc is not None:
            if not isinstance(qc, Mapping):
                raise SpecError("quantization_config must be an object")
            return qc
    return None


def _unknown(tensors: list[Tensor], method: Any
             ) -> tuple[list[Tensor], QuantInfo | None, list[str]]:
    if isinstance(method, str) and method.lower() in NOT_UNPACKED:
        return tensors, None, [f"Quantized with {method}, which paramcount does not unpack "
                               "yet: the counts are of the tensors as stored"]
    known = ", ".join(m for s in schemes() for m in s.methods)
    raise SpecError(f"quantization_config.quant_method={method!r} is not a quantization "
                    f"method paramcount knows (known: {known})")


def default_settings(qc: Mapping[str, Any]) -> Settings:
    """``bits`` (2, 3, 4 or 8) and ``group_size`` (-1: one group per row) of a config,
    checked.

    >>> default_settings({"bits": 4, "group_size": 128}).bits
    4
    >>> default_settings({"bits": 5})
    Traceback (most recent call last):
    ...
    paramcount.errors.SpecError: quantization_config.bits=5 must be one of 2, 3, 4, 8
    """
    bits = qc.get("bits", qc.get("w_bit"))
    if bits is not None and (isinstance(bits, bool) or bits not in (2, 3, 4, 8)):
        raise SpecError(f"quantization_config.bits={bits!r} must be one of 2, 3, 4, 8")
    group = qc.get("group_size", qc.get("q_group_size"))
    if group is not None and (isinstance(group, bool) or not isinstance(group, int)
                              or group == 0 or group < -1):
        raise SpecError(f"quantization_config.group_size={group!r} must be a positive "
                        "integer or -1")
    return Settings(bits, group if group != -1 else None, qc)


def apply(scheme: Scheme, tensors: Iterable[Tensor], by_name: Mapping[str, Tensor],
          settings: Settings, source: str) -> tuple[list[Tensor], QuantInfo]:
    """Unpack every packed tensor of ``scheme``; bookkeeping leaves the tensor list and its
    bytes join the logical weight's."""
    info = QuantInfo(scheme.name, source, settings.bits, settings.group_size)
    used: set[str] = set()
    done: set[str] = set()
    out: list[Tensor] = []
    kinds: set[tuple[str, str]] = set()
    for t in tensors:
        logical_t = _unpack_one(scheme, t, by_name, settings, info, kinds)
        if logical_t is None:
            out.append(t)
            continue
        used.update(n for n in _extra_names(scheme, t.name) if n in by_name)
        done.add(logical_t.name)
        out.append(logical_t)
    out = [t for t in out if t.name not in used or t.name in done]
    info.unquantized = unquantized(out, done)
    return out, info


def _extra_names(scheme: Scheme, name: str) -> list[str]:
    stem = _stem(scheme, name) or ""
    return [stem + s for s in scheme.overhead]


def _stem(scheme: Scheme, name: str) -> str | None:
    """The name before the scheme's packed ending (``fc.qweight`` -> ``fc.``), if it has one."""
    endings = (scheme.packed,) if isinstance(scheme.packed, str) else scheme.packed
    end = next((e for e in endings if name.endswith(e)), None)
    return None if end is None else name[:-len(end)]


def _unpack_one(scheme: Scheme, t: Tensor, by_name: Mapping[str, Tensor], settings: Settings,
                info: QuantInfo, kinds: set[tuple[str, str]]) -> Tensor | None:
    stem = _stem(scheme, t.name)
    if stem is None:
        return None
    extras = {s: by_name[stem + s] for s in scheme.overhead if stem + s in by_name}
    result = scheme.unpack(Packed(t, extras), settings)
    if result is None:
        return None
    info.quantized_tensors += 1
    info.stored_elements += t.size
    info.packed_bytes += t.nbytes
    logical_t = Tensor(stem + scheme.logical, result.shape, result.dtype,
                       t.nbytes + sum(e.nbytes for e in extras.values()))
    info.quantized_params += logical_t.size
    module = info.modules.setdefault(_LAYER.sub(".*.", stem).rstrip("._"), [0, 0])
    module[0] += logical_t.size
    module[1] += logical_t.nbytes
    for suffix, e in extras.items():
        info.overhead_bytes[suffix] = info.overhead_bytes.get(suffix, 0) + e.nbytes
    info.bits = info.bits or result.bits
    info.group_size = info.group_size or result.group_size
    kind = (t.dtype, stem.rstrip("._").rsplit(".", 1)[-1])  # q_proj, experts.gate_up_proj
    if len(info.examples) < 8 and kind not in kinds:
        kinds.add(kind)
        info.examples.append(f"{t.name} {t.dtype} {list(t.shape)}: {result.how} "
                             f"= {logical_t.size:,} parameters")
    return logical_t


def unquantized(tensors: Iterable[Tensor], quantized: set[str], shown: int = 6) -> list[str]:
    """The matrices left in float beside quantized ones, by kind (``model.layers.*.mlp.gate``,
    ``lm_head``), the largest first.

    >>> unquantized([Tensor("lm_head.weight", (8, 4), "float16", 64),
    ...              Tensor("layers.0.norm.weight", (4,), "float16", 8)], set())
    ['lm_head']
    """
    sizes: dict[str, int] = {}
    for t in tensors:
        if t.name in quantized or len(t.shape) < 2 or t.buffer:
            continue
        kind = _LAYER.sub(".*.", t.name).rsplit(".", 1)[0]
        sizes[kind] = sizes.get(kind, 0) + t.size
    return sorted(sizes, key=lambda k: -sizes[k])[:shown]


def meta(info: QuantInfo | None) -> dict[str, Any]:
    """A summary's meta for what was unpacked: ``quantization`` names the scheme (as a
    config's summary does), ``quantized`` is the JSON ``quantization`` object."""
    if info is None:
        return {}
    return {"quantization": info.scheme, "quantized": info.to_dict()}
