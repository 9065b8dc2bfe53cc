"""A PEFT adapter: ``adapter_config.json`` beside ``adapter_model.safetensors`` (or ``.bin``).

The file holds only what training added: ``base_model.model.model.layers.0.self_attn.q_proj.
lora_A.weight`` is the weight ``lora_A`` of the adapter on ``model.layers.0.self_attn.q_proj``.
The summary's tree is those modules (PEFT's ``base_model.model.`` prefix stripped), each typed by
its kind (LoRA, DoRA, IA3, LoHa, LoKr), and its total is the adapter's own parameters, what
``print_trainable_parameters()`` calls trainable. ``modules_to_save`` modules are full trained
copies of base modules, typed ``modules_to_save``; other tensors (biases with ``bias="all"``)
are base weights trained in place, and a ``base_layer`` weight (an embedding saved with an
adapter on it) is the base's own, counted as not trainable.

The base model the config names is summarized through the front door (a path, the Hugging Face
cache, the Hub when online; a remote adapter's base only as a Hub id). When it resolves and the
adapter fits it, figures say its count, the base with the adapter applied (PEFT's "all params":
the adapter's modules and copies beside the base's weights) and the merged count
(``merge_and_unload()``: each adapter is folded into the weight it targets and each copy
replaces its original, so the merged model has the base's shapes; none for a ``lora_bias`` on
a module without a bias, which PEFT refuses to merge). A base that does not
resolve is a note, never an error. :func:`applied` is the base with the adapter in it, which
``paramcount diff BASE ADAPTER`` compares with the base.
"""

from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from paramcount.errors import ParamcountError, SpecError
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.sources.blobs import Tree
from paramcount.sources.tensors import (
    Progress,
    Tensor,
    blob_config,
    every_block,
    summarize_tensors,
)
from paramcount.tree import Node

CONFIG = "adapter_config.json"
#: the adapter's weights, in the order they are preferred
WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
#: the prefix PEFT's ``save_pretrained`` writes before the base model's own names
PREFIX = ("base_model", "model")
#: ``peft_type`` -> the type its modules show; a type not listed shows as written
KINDS = {"LORA": "LoRA", "ADALORA": "AdaLoRA", "IA3": "IA3", "LOHA": "LoHa", "LOKR": "LoKr",
         "VERA": "VeRA", "OFT": "OFT", "BOFT": "BOFT"}
#: where a module's adapter tensors begin: the first name component with one of these prefixes
_ADAPTER_PART = re.compile(r"^(lora|ia3|hada|lokr|vera|oft|boft)_")
COPY = "modules_to_save"
#: where PEFT keeps a wrapped module's own weights: saved beside an adapter on an embedding
#: (``save_embedding_layers``), they are the base's, not trained
BASE_LAYER = "base_layer"
#: the adapter's config values shown and put in the JSON document
SHOWN = ("peft_type", "r", "lora_alpha", "use_dora", "target_modules", "modules_to_save",
         "bias", "task_type", "base_model_name_or_path")
_LISTED = 3  # unfitting modules named in a note
_resolving: contextvars.ContextVar[bool] = contextvars.ContextVar("resolving", default=False)


def find(tree: Tree) -> str | None:
    """The adapter's weights file at the top of ``tree``, if it is a PEFT adapter."""
    names = set(tree.files())
    if CONFIG not in names:
        return None
    return next((w for w in WEIGHTS if w in names), None)


def load_tree(tree: Tree, weights: str, progress: Progress | None = None) -> Summary:
    """The summary of the adapter in ``tree`` whose weights are the file ``weights``."""
    config = blob_config(tree.open(CONFIG))
    if config is None:
        raise SpecError(f"{tree.open(CONFIG).label}: not a JSON object: not a PEFT adapter's "
                        "config")
    tensors, meta = _read(tree, weights)
    if progress is not None:
        progress(1, 1)
    kind = _kind(config)
    placed, types = _placed(tensors, kind, _copies(config), config.get("bias") not in
                            (None, "none"))
    name = Path(tree.label.split("@")[0]).name or "adapter"
    meta = {**meta, "peft": {"kind": kind, **{k: config[k] for k in SHOWN if k in config}}}
    with every_block():  # its modules are applied to a base one by one
        summary = summarize_tensors(placed, name, tree.open(weights).label, meta=meta,
                                    types=types, notes=[_said(config, kind)])
    _with_base(summary, config.get("base_model_name_or_path"), tree)
    return summary


def _read(tree: Tree, weights: str) -> tuple[list[Tensor], dict[str, Any]]:
    from paramcount.sources import safetensors

    blob = tree.open(weights, safetensors.FIRST_READ)
    if weights.endswith(".safetensors"):
        tensors, size = safetensors.read_tensors(blob)
        return tensors, {"format": "safetensors", "file_bytes": size}
    local = tree.local(weights)
    if local is None:
        raise SpecError(f"{blob.label}: a remote adapter_model.bin is read only by a download; "
                        "paramcount reads remote safetensors headers only")
    from paramcount.sources import torch

    return torch.read_tensors(local)


def _kind(config: dict[str, Any]) -> str:
    """The type the adapter's modules show: LoRA, or DoRA when ``use_dora`` is set."""
    peft_type = str(config.get("peft_type") or "LORA").upper()
    if peft_type == "LORA" and config.get("use_dora") is True:
        return "DoRA"
    return KINDS.get(peft_type, peft_type)


def _copies(config: dict[str, Any]) -> tuple[str, ...]:
    names = config.get(COPY)
    return tuple(n for n in names if isinstance(n, str)) if isinstance(names, list) else ()


def _placed(tensors: list[Tensor], kind: str, copies: tuple[str, ...], biases: bool
            ) -> tuple[list[Tensor], dict[tuple[str, ...], str]]:
    """Each tensor at the base module it belongs to, and the types of those modules: an
    adapter's tensors are weights of the module they target (``lora_A.weight`` -> ``lora_A``).
    A ``base_layer`` tensor is the base's own, not trained, unless it is a bias that
    ``biases`` (``bias="all"`` or ``"lora_only"``) trains."""
    out, types = [], {}
    for t in tensors:
        parts = _unprefixed(t.name.split("."))
        at = next((i for i, p in enumerate(parts) if _ADAPTER_PART.match(p)), None)
        if at is not None and at > 0:
            weight = ".".join(parts[at:]).removesuffix(".weight")
            out.append(t.but(path=tuple(parts[:at]), label=weight))
            types[tuple(parts[:at])] = kind
            continue
        copied = _copied(parts, copies)
        if copied is not None:
            types[copied] = COPY
        trained = copied is not None or BASE_LAYER not in parts or (
            parts[-1] == "bias" and biases)
        out.append(t.but(path=tuple(parts[:-1]), label=parts[-1], trainable=trained))
    return out, types


def _unprefixed(parts: list[str]) -> list[str]:
    if tuple(parts[:len(PREFIX)]) == PREFIX and len(parts) > len(PREFIX):
        return parts[len(PREFIX):]
    return parts


def _copied(parts: list[str], copies: tuple[str, ...]) -> tuple[str, ...] | None:
    """The module of ``modules_to_save`` a tensor belongs to (PEFT matches a name or the
    end of a dotted path)."""
    for i in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:i])
        if any(module == c or module.endswith("." + c) for c in copies):
            return tuple(parts[:i])
    return None


def _said(config: dict[str, Any], kind: str) -> str:
    bits = [f"{k}={config[k]}" for k in ("r", "lora_alpha") if isinstance(config.get(k), int)]
    targets = config.get("target_modules")
    if isinstance(targets, list):
        bits.append("targets " + ", ".join(sorted(str(t) for t in targets)))  # PEFT's set
    elif isinstance(targets, str):
        bits.append(f"targets matching {quote(targets)}")
    copies = _copies(config)
    if copies:
        bits.append("full copies of " + ", ".join(copies))
    return (f"PEFT {kind} adapter ({'; '.join(bits) or 'no settings'}): the total is the "
            "adapter's own parameters, what its file holds")


# -- the base model -------------------------------------------------------------------------

def _with_base(summary: Summary, name: Any, tree: Tree) -> None:
    """Figures for the base model the adapter names, when it resolves; else a note."""
    if not isinstance(name, str) or not name.strip():
        summary.notes.append(f"{CONFIG} names no base model (base_model_name_or_path)")
        return
    base = _resolve(summary, name, tree)
    if base is None:
        return
    summary.figures["Base params"] = base.total_params
    try:
        fitted = applied(summary, base)
    except SpecError as err:
        summary.notes.append(str(err))
        return
    summary.figures["Base + adapter params"] = fitted.total_params
    unmerged = _unmergeable(summary, base)
    if unmerged:
        summary.notes.append(f"No merged model: the adapter on {unmerged[0]} has a bias "
                             "(lora_bias) and the module it targets none, which PEFT's "
                             "merge_and_unload() refuses")
    else:
        summary.figures["Merged params"] = base.total_params


def _resolve(summary: Summary, name: str, tree: Tree) -> Summary | None:
    from paramcount.sources import hub, summarize

    if _resolving.get():
        summary.notes.append(f"The base model {name} is itself read as a base: not resolved")
        return None
    if tree.local(CONFIG) is None and hub.parse(f"hf://{name}") is None:
        summary.notes.append(f"The base model {name} is not a Hub id: a remote adapter's base "
                             "is looked up on the Hub only")
        return None
    token = _resolving.set(True)
    try:
        with every_block():  # the adapter's modules are found in it path by path
            base = summarize(_beside(name, tree))
    except (ParamcountError, OSError) as err:
        summary.notes.append(f"The base model {name} was not resolved: {err}")
        return None
    finally:
        _resolving.reset(token)
    summary.meta["peft"]["base"] = {"source": base.source, "params": base.total_params}
    summary.notes.append(f"Base model {name}: {base.source}")
    return base


def _beside(name: str, tree: Tree) -> str:
    """A relative path that is no path from here but is one from the adapter's folder (PEFT
    writes the path its user gave, relative to where training ran)."""
    config = tree.local(CONFIG)
    if config is None or Path(name).is_absolute() or Path(name).exists():
        return name
    there = config.parent / name
    return str(there) if there.exists() else name


# -- the adapter applied to a base ----------------------------------------------------------

@dataclass(frozen=True)
class _Module:
    """One module of the adapter's tree: its path below the root and its role."""

    parts: tuple[str, ...]
    node: Node
    copy: bool


def is_adapter(summary: Summary) -> bool:
    """Whether a summary is a PEFT adapter's (:func:`load_tree`)."""
    return "peft" in summary.meta


def applied(adapter: Summary, base: Summary) -> Summary:
    """The base with the adapter in it, as PEFT's model holds it: each adapter tensor a child
    row of the module it targets (``q_proj.lora_A``), each ``modules_to_save`` copy a child
    ``modules_to_save`` of its original. A SpecError when a module of the adapter is at no
    path of the base, or at one whose weight has other dimensions.
    """
    root = _unshared(base.root)
    missing = []
    kind = adapter.meta["peft"]["kind"]
    for module in _modules(adapter.root, (), kind):
        target = _find(root, module.parts)
        if target is None or not _fits(module.node, target):
            missing.append(".".join(module.parts))
        elif module.copy:
            target.children.append(replace(_unshared(module.node), name=COPY))
        else:
            target.children += _children(module.node)
    if missing:
        more = f", and {len(missing) - _LISTED} more" if len(missing) > _LISTED else ""
        raise SpecError(f"The adapter does not fit {base.source}: "
                        f"{', '.join(missing[:_LISTED])}{more} (no module there, or one of "
                        "other dimensions)")
    root.name = f"{base.name} + {adapter.name}"
    out = replace(base, root=root, source=adapter.source,
                  meta={**base.meta, "adapter": adapter.source},
                  figures={}, notes=[*base.notes])
    out.notes.append(f"With the {kind} adapter {adapter.source} ({adapter.total_params:,} "
                     "params)")
    return out


def _unmergeable(adapter: Summary, base: Summary) -> list[str]:
    """The adapter's modules with a bias of their own on a base module without one."""
    out = []
    for module in _modules(adapter.root, (), adapter.meta["peft"]["kind"]):
        target = _find(base.root, module.parts)
        biased = any(w.name.endswith(".bias") for w in module.node.weights)
        if biased and target is not None and all(w.name != "bias" for w in target.weights):
            out.append(".".join(module.parts))
    return out


def _unshared(node: Node) -> Node:
    """A copy of the tree with a node of its own at every path (a built tree shares one
    block's nodes among the numbered blocks of a group)."""
    return replace(node, children=[_unshared(c) for c in node.children])


def _modules(node: Node, parts: tuple[str, ...], kind: str) -> list[_Module]:
    """The adapter's modules and copies; tensors trained in place belong to the base."""
    out = []
    for child in node.children:
        here = (*parts, child.name)
        if child.type == COPY:
            out.append(_Module(here, child, True))
            continue
        if child.weights and child.type == kind:
            out.append(_Module(here, replace(child, children=[]), False))
        out += _modules(child, here, kind)
    return out


def _find(root: Node, parts: tuple[str, ...]) -> Node | None:
    """The node at ``parts``, or at ``parts`` without its first component (a base that is
    the bare backbone, ``LlamaModel`` for an adapter of ``LlamaForCausalLM``)."""
    for path in (parts, parts[1:]):
        node: Node | None = root
        for name in path:
            node = next((c for c in node.children if c.name == name), None) if node else None
        if node is not None and path:
            return node
    return None


def _fits(module: Node, target: Node) -> bool:
    """A LoRA pair ``A (r, in)``, ``B (out, r)`` fits a 2-D weight of ``in`` and ``out``
    (either way round: GPT-2's Conv1D stores it transposed); other adapters are not checked."""
    own = {w.name: w.shape for w in module.weights}
    base = next((w.shape for w in target.weights if w.name == "weight"), None)
    for a, b in (("lora_A", "lora_B"), ("lora_embedding_A", "lora_embedding_B")):
        if a in own and b in own and base is not None and len(base) == 2:
            return sorted((own[a][-1], own[b][0])) == sorted(base)
    return True


def _children(module: Node) -> list[Node]:
    """An adapter module's weights as the child rows PEFT's model has: ``lora_A`` holding its
    ``weight``, ``lora_B.bias`` as the ``bias`` of ``lora_B``, ``ia3_l`` holding ``weight``."""
    out: dict[str, Node] = {}
    for w in module.weights:
        name, _, rest = w.name.partition(".")
        node = out.setdefault(name, Node(name=name, type=module.type))
        node.weights = (*node.weights, replace(w, name=rest or "weight"))
    return list(out.values())
