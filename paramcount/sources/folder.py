"""A folder: every model in it, read from checkpoint headers, or its model description.

Checkpoints are recognised by suffix, in the folder and its subfolders (``unet/``, ``vae/``):
a shard index (``model.safetensors.index.json``) and its shards are one model, as are shards
named ``model-00001-of-00003.safetensors`` without an index and a split GGUF set. Files that a
trainer writes next to the weights (``optimizer.pt``, ``training_args.bin``) are skipped. The
same model stored in several formats (``model.safetensors`` and ``pytorch_model.bin``, a GGUF
quantization of it) is counted once: two files hold the same model when their tensors have the
same shapes (in any order, transposed or not).

One model gives its own summary; several give one row per model, each with its total. A
diffusers pipeline (``model_index.json`` at the top) gives one row per component, named as
that file names them (:mod:`paramcount.sources.pipeline`).
A folder without checkpoints is summarized from its ``config.json`` (Hugging Face) or
``model.yaml``.

A folder is one kind of :class:`~paramcount.sources.blobs.Tree`; a Hub repo read remotely is
another (:mod:`paramcount.sources.remote`), whose safetensors and GGUF files are read by range.
"""

from __future__ import annotations

import re
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.sources.blobs import LocalTree, Tree
from paramcount.sources.formats import BY_NAME, FORMATS, by_suffix
from paramcount.sources.regular import open_regular
from paramcount.sources.shards import check_index, declared, index_shards
from paramcount.sources.tensors import Progress, blob_config, every_block
from paramcount.tree import Node

#: files a trainer writes next to the weights: not models
NOT_MODELS = re.compile(r"^(training_args\.bin|optimizer.*|scheduler.*|scaler\.pt|rng_state.*"
                        r"|trainer_state.*)$", re.IGNORECASE)
#: a format's preference when one model is stored in several
PREFERENCE = ("safetensors", "torch", "gguf", "keras", "onnx", "numpy")
#: the formats read by byte range, from a remote repo as from a folder
BY_RANGE = ("safetensors", "gguf")
_SHARD = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})(?P<ext>\.[A-Za-z0-9]+)$")
DESCRIPTIONS = ("config.json", "model.yaml", "model.yml")


@dataclass
class Model:
    """One model's files (names in the tree): a single file, a shard set (with or without its
    index)."""

    kind: str
    label: str
    files: list[str]
    index: str | None = None
    also: list[str] = field(default_factory=list)


def load(path: Path, progress: Progress | None = None, **options: Any) -> Summary:
    """Summarize the models held in a folder; ``progress(done, total)`` after each file."""
    return load_tree(LocalTree(path), progress, **options)


def load_tree(tree: Tree, progress: Progress | None = None, **options: Any) -> Summary:
    """Summarize the models held in a folder or a repo; a PEFT adapter's folder is the
    adapter (:mod:`paramcount.sources.adapter`), a diffusers pipeline its components, named
    and summed (:mod:`paramcount.sources.pipeline`)."""
    from paramcount.sources import adapter, pipeline

    weights = adapter.find(tree)
    if weights is not None:
        _no_head(tree, options)
        return adapter.load_tree(tree, weights, progress)
    if pipeline.is_pipeline(tree):
        return pipeline.load(tree, progress, **options)
    models = find_models(tree)
    if not models:
        return _description(tree, **options)
    _no_head(tree, options)
    total = sum(len(m.files) for m in models)
    done = 0
    summaries = []
    # a config.json beside checkpoints is checked against them path by path
    configs = any(_folder(m.files[0]) + "config.json" in tree.files() for m in models)
    with every_block() if configs else nullcontext():
        for model in models:
            summaries.append(_read(model, tree, _shifted(progress, done, total), options))
            done += len(model.files)
    kept = _distinct(models, summaries)
    if len(kept) == 1:
        model, summary = kept[0]
        if model.also:
            summary.meta["same_model_in"] = model.also
            summary.notes.append(f"The same tensors are also in {', '.join(model.also)} "
                                 "(counted once)")
        return _architecture(tree, model, summary)
    return _combined(tree.label, kept)


def _no_head(tree: Tree, options: dict[str, Any]) -> None:
    if options.get("head") is not None:
        raise SpecError(f"head={quote(options['head'])} applies to a Hugging Face config.json or a "
                        f"zoo entry, not the checkpoints in {tree.label}")


#: the checkpoint formats that name tensors as transformers' modules do
HF_NAMED = ("safetensors", "torch")


def _architecture(tree: Tree, model: Model, summary: Summary) -> Summary:
    """A Hugging Face checkpoint with its config.json beside it: the config's tree, checked
    against the tensors (:mod:`paramcount.sources.reconcile`)."""
    from paramcount.sources.reconcile import with_architecture

    folder = _folder(model.files[0])
    if model.kind not in HF_NAMED or folder + "config.json" not in tree.files():
        return summary
    file = tree.open(folder + "config.json")
    config = blob_config(file)
    return summary if config is None else with_architecture(summary, config, file.label)


def _description(tree: Tree, **options: Any) -> Summary:
    """A folder without checkpoints: its config.json or model.yaml."""
    from paramcount.sources import summarize
    from paramcount.sources.formats import document_kind
    from paramcount.sources.spec import read_blob_document

    names = set(tree.files())
    for name in DESCRIPTIONS:
        if name not in names:
            continue
        path = tree.local(name)
        if path is not None:
            return summarize(path, **options)
        file = tree.open(name)
        doc = read_blob_document(file)
        options = {k: v for k, v in options.items() if k != "progress"}
        return document_kind(doc, file.label).document_loader().from_dict(
            doc, source=file.label, **options)
    where = "folder" if isinstance(tree, LocalTree) else "repo"
    raise SpecError(f"{tree.label}: no model files in this {where} (no checkpoints, config.json "
                    "or model.yaml)")


# -- finding the models -----------------------------------------------------------------------

def find_models(tree: Tree) -> list[Model]:
    """The models in a tree, folder by folder (the top one first), in a stable order."""
    by_folder: dict[str, list[str]] = {}
    for name in tree.files():
        folder, _, _ = name.rpartition("/")
        by_folder.setdefault(folder, []).append(name)
    models = []
    for folder in sorted(by_folder, key=lambda f: f.split("/") if f else []):
        models += _models_in(tree, by_folder[folder])
    return models


def _models_in(tree: Tree, files: list[str]) -> list[Model]:
    """The models among the files of one folder (names relative to the tree)."""
    models = _indexed(tree, files)
    claimed = {f for m in models for f in m.files} | {m.index for m in models}
    models += _shard_sets(tree, [f for f in files if f not in claimed])
    claimed |= {f for m in models for f in m.files}
    for file in files:
        kind = _kind(tree, file)
        if file not in claimed and kind is not None and not NOT_MODELS.match(_base(file)):
            models.append(Model(kind, file, [file]))
    return models


def _base(name: str) -> str:
    return name.rpartition("/")[2]


def _folder(name: str) -> str:
    """The folder part of a name in the tree, with its ``/`` (empty at the top)."""
    head, sep, _ = name.rpartition("/")
    return head + sep


def _kind(tree: Tree, name: str) -> str | None:
    """The checkpoint format of a file, if it is one this tree can read."""
    suffix = Path(name).suffix.lower()
    fmt = by_suffix(suffix)
    if fmt is None or not fmt.checkpoint:
        return None
    local = tree.local(name)
    if local is None and fmt.name not in BY_RANGE:
        return None  # a remote file that only a download could read
    if suffix == ".bin" and local is not None and not _torch_magic(local):
        return None  # .bin is also GGML's old format, a tokenizer's, anyone's
    return fmt.name


def _torch_magic(file: Path) -> bool:
    try:
        with open_regular(file) as f:
            head = f.read(4)
    except (OSError, SpecError):
        return True  # let the reader say what is wrong
    return head.startswith((b"PK\x03\x04", b"\x80"))


def _indexed(tree: Tree, files: list[str]) -> list[Model]:
    from paramcount.sources.spec import read_blob_document

    models = []
    for file in files:
        name = _base(file).lower()
        fmt = next((f for f in FORMATS if f.endings and name.endswith(f.endings)), None)
        if fmt is None or (tree.local(file) is None and fmt.name not in BY_RANGE):
            continue
        blob = tree.open(file)
        folder = _folder(file)
        shards = [folder + s for s in index_shards(read_blob_document(blob), blob.label)]
        missing = [s for s in shards if s not in files]
        if missing:
            raise SpecError(f"{blob.label}: the shard {_base(missing[0])} is missing")
        models.append(Model(fmt.name, file, shards, index=file))
    return models


def _shard_sets(tree: Tree, files: list[str]) -> list[Model]:
    groups: dict[tuple[str, str, str], list[str]] = {}
    for file in files:
        match = _SHARD.match(_base(file))
        if match and _kind(tree, file) is not None:
            groups.setdefault((match["stem"], match["count"], match["ext"]), []).append(file)
    models = []
    for (stem, count, ext), shards in groups.items():
        folder = _folder(shards[0])
        if len(shards) != int(count):
            where = tree.open(folder).label if folder else tree.label
            raise SpecError(f"{where.rstrip('/')}: {len(shards)} of the {int(count)} shards of "
                            f"{stem}-*-of-{count}{ext} are here")
        models.append(Model(_kind(tree, shards[0]) or "", f"{folder}{stem}-*-of-{count}{ext}",
                            sorted(shards)))
    return models


# -- reading and combining ----------------------------------------------------------------

def _shifted(progress: Progress | None, done: int, total: int) -> Progress | None:
    if progress is None:
        return None
    return lambda n, _: progress(done + n, total)


def _read(model: Model, tree: Tree, progress: Progress | None,
          options: dict[str, Any]) -> Summary:
    if model.kind in BY_RANGE:
        return _read_by_range(model, tree, progress)
    module: Any = BY_NAME[model.kind].loader()
    files = [tree.local(f) for f in model.files]
    paths = [f for f in files if f is not None]
    source = str(tree.local(model.index) if model.index else paths[0])
    if model.index is not None:  # the source protocol reads a shard set by its index
        summary: Summary = module.load(tree.local(model.index), progress=progress)
    elif len(paths) > 1:
        summary = module.load_files(paths, source, progress)
    else:
        summary = module.load(paths[0], **options)
        if progress is not None:
            progress(1, 1)
    return summary


def _read_by_range(model: Model, tree: Tree, progress: Progress | None) -> Summary:
    """A safetensors or GGUF model from its headers, local or remote; an index is checked
    against what the shards hold."""
    from paramcount.sources import gguf, safetensors
    from paramcount.sources.spec import read_blob_document

    ahead = _header_guesses(model, tree) if model.kind == "safetensors" else {}
    blobs = [tree.open(f, ahead.get(f, 0)) for f in model.files]
    source = tree.open(model.index).label if model.index else blobs[0].label
    if model.kind == "gguf":
        return gguf.summarize_blobs(blobs, source, progress)
    folder = _folder(model.files[0])
    config = (blob_config(tree.open(folder + "config.json"))
              if folder + "config.json" in tree.files() else None)
    name = safetensors.model_name(Path(tree.label) / model.files[0])
    summary, found = safetensors.summarize_blobs(blobs, source, name, config, progress)
    if model.index is not None:
        index = tree.open(model.index)
        doc = read_blob_document(index)
        check_index(index.label, index_shards(doc, index.label), found)
        declared(summary, doc)
    return summary


def _header_guesses(model: Model, tree: Tree) -> dict[str, int]:
    """How many bytes to read at once from the start of each safetensors file (its length and
    header in one request when remote): foreseen from the tensors its index puts in it."""
    from paramcount.sources import safetensors
    from paramcount.sources.spec import read_blob_document

    if model.index is None:
        return dict.fromkeys(model.files, safetensors.FIRST_READ)
    index = tree.open(model.index)
    folder = _folder(model.index)
    return {folder + shard: safetensors.header_guess(names)
            for shard, names in index_shards(read_blob_document(index), index.label).items()}


def signature(summary: Summary) -> tuple[int, frozenset[tuple[tuple[int, ...], int]]]:
    """What makes two checkpoints one model: the multiset of their tensors' shapes, each shape
    sorted (a Keras kernel is a PyTorch weight transposed)."""
    shapes: Counter[tuple[int, ...]] = Counter()
    for w, times in summary.root.weights_times():
        shapes[tuple(sorted(w.shape))] += times
    return summary.total_params, frozenset(shapes.items())


def _distinct(models: list[Model], summaries: list[Summary]) -> list[tuple[Model, Summary]]:
    """One entry per distinct model, in folder order; the preferred format's file stands for
    the others, which it lists in ``also``."""
    pairs = list(zip(models, summaries, strict=True))

    def rank(i: int) -> tuple[int, int]:
        kind = pairs[i][0].kind
        return (PREFERENCE.index(kind) if kind in PREFERENCE else len(PREFERENCE), i)

    first: dict[Any, int] = {}
    for i in sorted(range(len(pairs)), key=rank):
        key = signature(pairs[i][1])
        if key in first:
            pairs[first[key]][0].also.append(pairs[i][0].label)
        else:
            first[key] = i
    return [pairs[i] for i in sorted(first.values())]


def _combined(label: str, kept: list[tuple[Model, Summary]]) -> Summary:
    path = Path(label)
    root = Node(name=path.resolve().name if path.exists() else path.name or label,
                type="Folder")
    for model, summary in kept:
        node = summary.root
        node.name, node.type = model.label, summary.meta.get("format", model.kind)
        if model.also:
            node.remark = "also in " + ", ".join(model.also)
        root.children.append(node)
    first = max((s for _, s in kept), key=lambda s: s.total_params)
    meta = {"models": len(kept), "files": sum(len(m.files) for m, _ in kept)}
    figures = {f"{m.label} params": s.total_params for m, s in kept}
    return Summary(root, source=label, framework=first.framework, dtype=first.dtype,
                   meta=meta, figures=figures)
