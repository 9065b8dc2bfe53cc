"""The optional fallback: an architecture paramcount does not declare, built by transformers
itself on PyTorch's meta device (no memory is allocated for the weights), then read back as a
tree of modules. Slower (seconds: importing torch and transformers dominates) and only where
both are installed; never used for a family paramcount declares.

It says what it is doing as it goes (importing, then building: seconds of silence otherwise)
as log records of the ``paramcount.fallback`` logger, which the command line shows on stderr;
and for a mixture of experts it finds the routed experts by their module names and counts the
parameters one token passes through.

transformers reads only the config (``trust_remote_code=False``): no code from the file runs.
It builds offline: huggingface_hub's offline switch is on for the call, and a config that asks
for a pretrained backbone (``use_pretrained_backbone``, a timm or Hub ``backbone``) gets a
randomly initialised one of the same shapes, so nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from paramcount.budget import current
from paramcount.errors import SpecError
from paramcount.layers.base import PYTORCH, Attention, Recurrent, Weight
from paramcount.model import Summary
from paramcount.quoting import LIMIT, quote
from paramcount.tree import Node, Tied, signature


def available() -> bool:
    """Whether transformers and torch can be imported (checked without importing them)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


#: where the fallback says what it is doing (the CLI prints its records on stderr)
log = logging.getLogger("paramcount.fallback")


def build(doc: Mapping[str, Any], head: str | None, source: str) -> Summary:
    """Build the model of ``doc`` with transformers on the meta device and summarize it."""
    refuse_large(doc, str(doc.get("model_type")))
    start = time.perf_counter()
    log.info("%s is not declared: importing torch and transformers to build it...",
             quote(doc.get("model_type")))
    model = _instantiate(doc, head)
    root = _tree(model, type(model).__name__)
    seconds = time.perf_counter() - start
    log.info("built %s in %.1f s", type(model).__name__, seconds)
    how = f"built by transformers on the meta device in {seconds:.2f} s"
    root.name = f"{type(model).__name__} ({how})"
    active = active_params(model, doc)
    return Summary(root, source=source, framework=PYTORCH,
                   meta={"model_type": doc.get("model_type"), "architecture":
                         type(model).__name__, "fallback": how},
                   figures={} if active is None else {"Active params per token": active})


#: where a mixture of experts keeps how many experts a token is routed to: attributes of the
#: sparse block or its router, else fields of the config (or its text config)
TOP_K_ATTRIBUTES = ("top_k", "num_experts_per_tok", "moe_top_k", "moe_k", "moe_topk",
                    "num_experts_per_token")
TOP_K_FIELDS = (*TOP_K_ATTRIBUTES, "num_selected_experts", "experts_per_token")


def active_params(model: Any, doc: Mapping[str, Any]) -> int | None:
    """The parameters one token passes through: all but the routed experts it is not sent
    to. Routed experts are the modules named ``experts`` (a list of expert modules, or one
    module whose tensors stack the experts along their first axis); shared experts, routers
    and dense layers all count. None for a dense model, or where the number routed to is not
    found."""
    total = sum(p.numel() for p in model.parameters())
    modules = dict(model.named_modules())
    idle, found = 0, False
    for name, module in modules.items():
        count = _experts(module) if name.rpartition(".")[2] == "experts" else None
        if count is None:
            continue
        top_k = _top_k(modules.get(name.rpartition(".")[0]), doc)
        if top_k is None:
            return None
        per_expert = sum(p.numel() for p in module.parameters()) // count
        idle += per_expert * (count - min(top_k, count))
        found = True
    return total - idle if found else None


def _experts(module: Any) -> int | None:
    """How many experts a module named ``experts`` holds (None: it is not such a module)."""
    children = list(module.children())
    if type(module).__name__ in ("ModuleList", "ModuleDict") and len(children) > 1:
        return len(children)
    count = getattr(module, "num_experts", None)
    shapes = [tuple(p.shape) for p in module.parameters(recurse=False)]
    if not isinstance(count, int) or count < 2:
        firsts = {s[0] for s in shapes if s}
        count = firsts.pop() if len(firsts) == 1 and len(shapes) > 1 else None
    if count is None or not shapes or any(not s or s[0] != count for s in shapes):
        return None
    return int(count)


def _top_k(block: Any, doc: Mapping[str, Any]) -> int | None:
    for owner in ([block, *block.children()] if block is not None else []):
        for attr in TOP_K_ATTRIBUTES:
            value = getattr(owner, attr, None)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    for fields in (doc, doc.get("text_config"), doc.get("ffn_config")):
        if isinstance(fields, Mapping):
            for name in TOP_K_FIELDS:
                value = fields.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    return value
    return None


def refuse_large(doc: Mapping[str, Any], where: str) -> None:
    """Refuse a config whose layer counts pass the node budget, from the numbers, before
    transformers builds anything (each layer is a module at least, and transformers cannot be
    stopped midway): ``num_hidden_layers: 5000000`` is one line, not an hour.

    >>> refuse_large({"text_config": {"num_layers": 2}}, "t5")
    """
    for key, value in doc.items():
        if isinstance(value, Mapping):
            refuse_large(value, f"{where}.{key}")
        elif isinstance(value, int) and not isinstance(value, bool) and (
                "layer" in key.lower() or key in ("depth", "depths")):
            current().check("nodes", value, f"{where} config: {key} (a module per layer, "
                            "before transformers builds them)")


def _instantiate(doc: Mapping[str, Any], head: str | None) -> Any:
    import transformers

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # its warnings are not ours to print
    try:
        with _offline():
            return _construct(transformers, doc, head)
    finally:
        transformers.logging.set_verbosity(verbosity)


@contextmanager
def _offline() -> Iterator[None]:
    """No network while transformers builds a model from a config: its model modules probe
    the Hub for attention kernels as they are imported (transformers 5 with ``kernels``), which
    counting never needs. huggingface_hub's offline switch stops that, and kernels' note that
    it skipped a check is silenced."""
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE, os.environ.get("HF_HUB_OFFLINE")
    kernels_log = logging.getLogger("kernels")
    level = kernels_log.level
    constants.HF_HUB_OFFLINE = True
    os.environ["HF_HUB_OFFLINE"] = "1"
    kernels_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved[0]
        if saved[1] is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved[1]
        kernels_log.setLevel(level)


def _construct(transformers: Any, doc: Mapping[str, Any], head: str | None) -> Any:
    import torch

    fields = _no_downloads(dict(doc))
    model_type = fields.pop("model_type", None)
    try:
        config = transformers.AutoConfig.for_model(model_type, **fields)
    except Exception as err:  # transformers raises ValueError, KeyError, TypeError here
        raise SpecError(f"model_type {quote(model_type)}: transformers cannot read this config "
                        f"({_first_line(err)})") from None
    architectures = doc.get("architectures") or []
    cls = getattr(transformers, architectures[0], None) if architectures and head is None \
        else None
    log.info("building %s with transformers %s on the meta device...",
             cls.__name__ if cls is not None else f"the model of {quote(model_type)}",
             transformers.__version__)
    try:
        with torch.device("meta"):
            if cls is None:
                return transformers.AutoModel.from_config(config, trust_remote_code=False)
            return cls(config)
    except Exception as err:  # any failure of a model's constructor on a bad config
        raise SpecError(f"transformers could not build {quote(model_type)} from this config "
                        f"({_first_line(err)})") from None


#: config fields that make a model download weights as it is built, and the value that stops
#: it (the shapes, and so the count, are the same)
NO_DOWNLOADS = {"use_pretrained_backbone": False}


def _no_downloads(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with :data:`NO_DOWNLOADS` set wherever a (nested) config names them."""
    out = {k: _no_downloads(v) if isinstance(v, dict) else v for k, v in fields.items()}
    out.update({k: v for k, v in NO_DOWNLOADS.items() if k in out or "backbone" in out})
    return out


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:LIMIT] if text else type(err).__name__


def _tree(model: Any, type_name: str) -> Node:
    """The module tree, each parameter owned by the first module that yields it (as
    ``model.parameters()`` counts a tied weight once)."""
    seen: dict[int, str] = {}
    root = Node(name="", type=type_name)
    _fill(root, model, "", seen)
    return root


def _fill(node: Node, module: Any, path: str, seen: dict[int, str]) -> None:
    weights, tied = [], []
    for name, p in module.named_parameters(recurse=False):
        w = Weight(name, tuple(int(d) for d in p.shape), trainable=bool(p.requires_grad))
        if id(p) in seen:
            tied.append(Tied(w, seen[id(p)]))
        else:
            seen[id(p)] = f"{path}{name}"
            weights.append(w)
    for name, b in module.named_buffers(recurse=False):
        if b is not None and name not in getattr(module, "_non_persistent_buffers_set", ()):
            weights.append(Weight(name, tuple(int(d) for d in b.shape), buffer=True))
    node.weights, node.tied = tuple(weights), tuple(tied)
    node.attention = _attention(module)
    node.state = _state(module)
    for name, child in module.named_children():
        sub = Node(name=name, type=type(child).__name__)
        _fill(sub, child, f"{path}{name}.", seen)
        node.children.append(sub)
    if node.type == "ModuleList" and len(node.children) > 1 and \
            len({signature(c) for c in node.children}) == 1:
        node.repeat = len(node.children)


def _attention(module: Any) -> Attention | None:
    """The attention of a Llama-style transformers attention module (``head_dim``,
    ``num_key_value_groups`` and ``q_proj``/``k_proj`` linears, as most decoders of
    transformers >= 5 have), with its heads read off the projections; None for anything else.
    Its sliding window is found where the module keeps one (Gemma's, Qwen's), not where a model
    reads it from the config at call time (Mistral's)."""
    head_dim = getattr(module, "head_dim", None)
    groups = getattr(module, "num_key_value_groups", None)
    q, k = getattr(module, "q_proj", None), getattr(module, "k_proj", None)
    widths = [w for w in (getattr(q, "out_features", None), getattr(k, "out_features", None))
              if isinstance(w, int)]
    if not isinstance(head_dim, int) or not isinstance(groups, int) or head_dim < 1 or \
            len(widths) != 2 or any(w % head_dim for w in widths):
        return None
    heads, kv = widths[0] // head_dim, widths[1] // head_dim
    if kv < 1 or heads != kv * groups:
        return None
    window = getattr(module, "sliding_window", None)
    # a layer that reuses an earlier layer's keys and values (Gemma-3n's last layers) caches none
    shared = getattr(module, "is_kv_shared_layer", False) is True
    return Attention(heads, head_dim, kv, hidden=getattr(q, "in_features", None),
                     window=window if isinstance(window, int) and window > 0 else None,
                     cross=bool(getattr(module, "is_cross_attention", False)), cached=not shared)


def _state(module: Any) -> Recurrent | None:
    """The per-sequence state of a recurrent mixer, as transformers' cache holds it: the causal
    convolution's channels × kernel, and the recurrent state, whose size the weights give for
    Mamba (``A_log``: channels × state size) and the module's own sizes for Mamba-2 (heads ×
    ``head_dim`` × ``ssm_state_size``: Mamba2, Bamba, FalconH1, Zamba2) and a gated delta net
    (value heads × key head width × value head width); None for anything else."""
    conv, a_log = getattr(module, "conv1d", None), getattr(module, "A_log", None)
    channels, kernel = getattr(conv, "out_channels", None), getattr(conv, "kernel_size", None)
    shape = getattr(a_log, "shape", None)
    if not isinstance(channels, int) or not isinstance(kernel, tuple) or shape is None:
        return None
    dims = [int(d) for d in shape]
    if len(dims) == 2:
        ssm = dims[0] * dims[1]
    else:
        sizes = [getattr(module, k, None) for k in (
            ("num_v_heads", "head_k_dim", "head_v_dim") if hasattr(module, "head_k_dim")
            else ("num_heads", "head_dim", "ssm_state_size"))]
        ints = [v for v in sizes if isinstance(v, int)]
        if len(ints) != 3:
            return None
        ssm = ints[0] * ints[1] * ints[2]
    return Recurrent(channels, int(kernel[0]), ssm)
