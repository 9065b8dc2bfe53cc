"""A diffusers pipeline: a folder or repo with ``model_index.json`` at its top, counted component
by component and summed, as diffusers would load it.

``model_index.json`` names the pipeline's class and its components, each with its library and
class (``"unet": ["diffusers", "UNet2DConditionModel"]``); each component lives in the subfolder
of its name. A component is counted from the checkpoint in its subfolder, one model per
component: the same tensors stored several times (``diffusion_pytorch_model.safetensors`` and
its ``fp16`` variant, a ``.bin`` copy) are counted once, from the file diffusers loads by
default (safetensors first, then the file without a variant), and the others are named.
A component with only its ``config.json`` is counted from it when it is a transformers model (a
text encoder: ``CLIPTextModel``, ``T5EncoderModel``), as the class ``model_index.json`` names,
or a diffusers model paramcount declares (``UNet2DConditionModel``, ``AutoencoderKL``,
``SD3Transformer2DModel``, ``FluxTransformer2DModel``, ``PixArtTransformer2DModel``);
otherwise it is listed as not counted, and the total is a lower bound. A pipeline of configs
alone is thus counted before a byte of its weights is downloaded. Components without weights
(schedulers, tokenizers, feature extractors) are listed with 0 parameters; those set to
``null`` are left out with a note, as are checkpoints outside the components' folders (a
single-file checkpoint of the whole pipeline beside them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from paramcount.errors import ParamcountError, SpecError
from paramcount.layers.base import PYTORCH
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.sources.blobs import Tree
from paramcount.sources.tensors import Progress, blob_config
from paramcount.tree import Node

#: the file that makes a folder a pipeline
INDEX = "model_index.json"
#: class-name endings of the components that hold no weights
NO_WEIGHTS = ("Scheduler", "Tokenizer", "TokenizerFast", "FeatureExtractor", "ImageProcessor",
              "Processor")
#: a variant of a component's weights: ``diffusion_pytorch_model.fp16.safetensors``,
#: ``model.bf16-00001-of-00002.safetensors`` (or its set), ``…safetensors.index.fp16.json``
_VARIANT = re.compile(
    r"^(?:diffusion_pytorch_model|model)(?:\.(?P<a>\w+)(?:-(?:\d{5}|\*)-of-\d{5})?"
    r"\.(?:safetensors|bin|ckpt)|\.(?:safetensors|bin)\.index\.(?P<b>\w+)\.json)$")


@dataclass(frozen=True)
class Component:
    """One entry of ``model_index.json``: a name, its library and its class (None: absent)."""

    name: str
    library: str | None
    cls: str | None


def is_pipeline(tree: Tree) -> bool:
    """Whether a tree is a diffusers pipeline: ``model_index.json`` at its top."""
    return INDEX in tree.files()


def components(doc: Any, where: str) -> tuple[str, list[Component]]:
    """The pipeline's class and its components, in the file's order; a field whose value is
    not a ``[library, class]`` pair (``requires_safety_checker``) is a setting, not one.

    >>> components({"_class_name": "P", "unet": ["diffusers", "UNet2DModel"], "x": True}, "")
    ('P', [Component(name='unet', library='diffusers', cls='UNet2DModel')])
    """
    if not isinstance(doc, dict):
        raise SpecError(f"{where}: a model_index.json must be a JSON object")
    name = doc.get("_class_name")
    if not isinstance(name, str):
        raise SpecError(f"{where}: no _class_name (the pipeline's class)")
    out = []
    for key, value in doc.items():
        if key.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        if not all(v is None or isinstance(v, str) for v in value) or "/" in key:
            raise SpecError(f"{where}: {key}={quote(value)} is not a [library, class] pair")
        out.append(Component(key, value[0], value[1]))
    return name, out


def variant(label: str) -> str | None:
    """The variant a component's file is (``fp16``), None for the default file.

    >>> variant("unet/diffusion_pytorch_model.fp16.safetensors"), variant("vae/model.safetensors")
    ('fp16', None)
    """
    match = _VARIANT.match(label.rpartition("/")[2])
    return None if match is None else match["a"] or match["b"]


def load(tree: Tree, progress: Progress | None = None, **options: Any) -> Summary:
    """Summarize a pipeline: one row per component, the total their sum."""
    from paramcount.sources.folder import find_models
    from paramcount.sources.spec import read_blob_document

    index = tree.open(INDEX)
    pipeline, parts = components(read_blob_document(index), index.label)
    if options.get("head") is not None:
        raise SpecError(f"head={quote(options['head'])} applies to a Hugging Face config.json, not "
                        f"the pipeline {pipeline} in {tree.label}")
    wanted = [c for c in parts if c.cls is not None]
    names = {c.name for c in wanted}
    found = find_models(tree)
    models = [m for m in found if _top(m.files[0]) in names]
    read = _read_all(tree, models, progress)
    root = Node(name=pipeline, type="Pipeline")
    summary = Summary(root, source=tree.label, framework=PYTORCH)
    for part in wanted:
        mine = [(m, s) for m, s in zip(models, read, strict=True) if _top(m.files[0]) == part.name]
        root.children.append(_component(tree, part, mine, summary))
    outside = [m.label for m in found if _top(m.files[0]) not in names]
    if outside:  # a single-file checkpoint beside the pipeline: another way to load it
        summary.notes.append(f"Not counted, outside the components' folders: "
                             f"{', '.join(outside)}")
    absent = [c.name for c in parts if c.cls is None]
    if absent:
        summary.notes.append(f"Not in this pipeline (null in {INDEX}): {', '.join(absent)}")
    _finish(summary, pipeline, wanted)
    return summary


def _top(name: str) -> str:
    """The folder a file sits in, when it is directly below the top (else ``""``)."""
    parts = name.split("/")
    return parts[0] if len(parts) == 2 else ""


def _read_all(tree: Tree, models: list[Any], progress: Progress | None) -> list[Summary]:
    """Every component's checkpoints, read in turn; ``progress`` counts their files."""
    from paramcount.sources.folder import _read, _shifted

    total = sum(len(m.files) for m in models)
    done, out = 0, []
    for model in models:
        out.append(_read(model, tree, _shifted(progress, done, total), {}))
        done += len(model.files)
    return out


def _component(tree: Tree, part: Component, models: list[tuple[Any, Summary]],
               summary: Summary) -> Node:
    """A component's row: its checkpoint's tree, its config's, or a row without weights."""
    if models:
        node, meta = _counted(tree, part, models, summary)
    elif f"{part.name}/config.json" in tree.files():
        node, meta = _from_config(tree, part, summary)
    else:
        node, meta = _weightless(part, summary)
    node.name, node.type = part.name, part.cls or "?"
    summary.meta.setdefault("components", {})[part.name] = {
        "library": part.library, "class": part.cls, "params": node.params, **meta}
    return node


def _counted(tree: Tree, part: Component, models: list[tuple[Any, Summary]],
             summary: Summary) -> tuple[Node, dict[str, Any]]:
    """The component's checkpoint: the one diffusers loads by default among the files that
    hold the same tensors; files that hold other tensors are named, not counted."""
    from paramcount.sources.folder import PREFERENCE, _architecture, _distinct

    def rank(m: Any) -> tuple[int, bool, str]:
        kind = PREFERENCE.index(m.kind) if m.kind in PREFERENCE else len(PREFERENCE)
        return kind, variant(m.label) is not None, m.label

    models = sorted(models, key=lambda pair: rank(pair[0]))
    kept = _distinct([m for m, _ in models], [r for _, r in models])
    model, checkpoint = min(kept, key=lambda pair: rank(pair[0]))
    checkpoint = _architecture(tree, model, checkpoint)
    summary.notes += [f"{part.name}: {n}" for n in checkpoint.notes]
    counted = model.label.rpartition("/")[2]
    stored = checkpoint.by_dtype()  # the tensors' own, whatever the config says
    dtype = max(stored, key=lambda d: stored[d][0]) if stored else checkpoint.dtype
    meta: dict[str, Any] = {"from": "weights", "file": model.label, "dtype": dtype}
    node = checkpoint.root
    node.remark = counted
    if model.also:
        meta["also"] = list(model.also)
        summary.notes.append(f"{part.name}: counted {counted}; the same tensors are also in "
                             f"{_listed(model.also)} (counted once)")
    others = [m.label for m, _ in kept if m is not model]
    if others:
        meta["not_counted"] = others
        summary.notes.append(f"{part.name}: {', '.join(others)} hold other tensors than "
                             f"{counted}; not counted (diffusers loads {counted})")
    return node, meta


def _listed(labels: list[str]) -> str:
    """File names with their variant: ``diffusion_pytorch_model.fp16.safetensors (fp16)``."""
    out = []
    for label in labels:
        v = variant(label)
        out.append(label.rpartition("/")[2] + (f" ({v})" if v else ""))
    return ", ".join(out)


def _from_config(tree: Tree, part: Component, summary: Summary) -> tuple[Node, dict[str, Any]]:
    """A component with only its ``config.json``: a transformers model is counted from it, as
    the class ``model_index.json`` names (the one diffusers would load), and so is a diffusers
    model of a class paramcount declares; any other is not, and leaves the total a lower
    bound."""
    from paramcount.sources import hf

    file = tree.open(f"{part.name}/config.json")
    config = blob_config(file)
    if config is None or not _buildable(part, config):
        # a remote repo's .bin weights are not read either: only their config is left
        return _uncounted(part, summary, f"no weights paramcount reads in {part.name}/, and a "
                          f"{part.library} {part.cls} is not counted from its config.json")
    if part.library == "diffusers":
        config = {**config, "_class_name": part.cls}
    else:
        config = {**config, "architectures": [part.cls]}
    try:
        built = hf.from_dict(config, source=file.label)
    except ParamcountError as err:
        return _uncounted(part, summary, f"config.json cannot be counted ({err}): not counted")
    summary.notes.append(f"{part.name}: no weights; counted from its config.json as {part.cls}")
    node = built.root
    node.remark = "from config.json"
    return node, {"from": "config", "file": f"{part.name}/config.json", "dtype": built.dtype}


def _buildable(part: Component, config: dict[str, Any]) -> bool:
    """Whether paramcount counts this component from its config.json."""
    from paramcount.architectures import DIFFUSERS

    if part.library == "transformers":
        return "model_type" in config
    return part.library == "diffusers" and part.cls in DIFFUSERS and "model_type" not in config


def _weightless(part: Component, summary: Summary) -> tuple[Node, dict[str, Any]]:
    """A component without weights or config: a scheduler, a tokenizer (0 parameters), or a
    model whose files are missing."""
    if part.cls is not None and part.cls.endswith(NO_WEIGHTS):
        return Node(part.name, part.cls, remark="no weights"), {"from": "none"}
    return _uncounted(part, summary, f"no weights or config.json in {part.name}/: not counted")


def _uncounted(part: Component, summary: Summary, why: str) -> tuple[Node, dict[str, Any]]:
    summary.notes.append(f"{part.name}: {why}")
    return Node(part.name, part.cls or "?", unknown=True, remark="not counted"), {"from": None}


def _finish(summary: Summary, pipeline: str, parts: list[Component]) -> None:
    """The pipeline's figures (each counted component's parameters) and its dtype (the largest
    component's)."""
    info = summary.meta.get("components", {})
    counted = [c.name for c in parts if info[c.name]["from"] in ("weights", "config")]
    summary.figures = {f"{name} params": info[name]["params"] for name in counted}
    if counted:
        largest = max(counted, key=lambda n: info[n]["params"])
        summary.dtype = info[largest]["dtype"]
    summary.meta.update({"pipeline": pipeline, "format": "diffusers pipeline",
                         "models": len(counted)})
