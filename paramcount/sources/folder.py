"""A folder: every model in it, read from checkpoint headers, or its model description.

Checkpoints are recognised by suffix, in the folder and its subfolders (``unet/``, ``vae/``):
a shard index (``model.safetensors.index.json``) and its shards are one model, as are shards
named ``model-00001-of-00003.safetensors`` without an index and a split GGUF set. Files that a
trainer writes next to the weights (``optimizer.pt``, ``training_args.bin``) are skipped. The
same model stored in several formats (``model.safetensors`` and ``pytorch_model.bin``, a GGUF
quantization of it) is counted once: two files hold the same model when their tensors have the
same shapes (in any order, transposed or not).

One model gives its own summary; several give one row per model, each with its total.
A folder without checkpoints is summarized from its ``config.json`` (Hugging Face) or
``model.yaml``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paramcount.errors import SpecError
from paramcount.model import Summary
from paramcount.sources.formats import BY_NAME, FORMATS, by_suffix
from paramcount.sources.shards import read_index
from paramcount.sources.tensors import Progress
from paramcount.tree import Node

#: files a trainer writes next to the weights: not models
NOT_MODELS = re.compile(r"^(training_args\.bin|optimizer.*|scheduler.*|scaler\.pt|rng_state.*"
                        r"|trainer_state.*)$", re.IGNORECASE)
#: a format's preference when one model is stored in several
PREFERENCE = ("safetensors", "torch", "gguf", "keras", "onnx", "numpy")
_SHARD = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})(?P<ext>\.[A-Za-z0-9]+)$")
MAX_DEPTH = 3


@dataclass
class Model:
    """One model's files: a single file, a shard set (with or without its index)."""

    kind: str
    label: str
    files: list[Path]
    index: Path | None = None
    also: list[str] = field(default_factory=list)


def load(path: Path, progress: Progress | None = None, **options: Any) -> Summary:
    """Summarize the models held in a folder; ``progress(done, total)`` after each file."""
    models = find_models(path)
    if not models:
        return _description(path, progress=progress, **options)
    if options.get("head") is not None:
        raise SpecError(f"head={options['head']!r} applies to a Hugging Face config.json or a "
                        f"zoo entry, not the checkpoints in {path}")
    total = sum(len(m.files) for m in models)
    done = 0
    summaries = []
    for model in models:
        summaries.append(_read(model, _shifted(progress, done, total), options))
        done += len(model.files)
    kept = _distinct(models, summaries)
    if len(kept) == 1:
        model, summary = kept[0]
        if model.also:
            summary.meta["same_model_in"] = model.also
            summary.notes.append(f"The same tensors are also in {', '.join(model.also)} "
                                 "(counted once)")
        return summary
    return _combined(path, kept)


def _description(path: Path, progress: Progress | None = None, **options: Any) -> Summary:
    from paramcount.sources import summarize

    for name in ("config.json", "model.yaml", "model.yml"):
        match = path / name
        if match.is_file():
            return summarize(match, **options)
    raise SpecError(f"{path}: no model files in this folder (no checkpoints, config.json or "
                    "model.yaml)")


# -- finding the models -----------------------------------------------------------------------

def find_models(folder: Path, depth: int = 0) -> list[Model]:
    """The models in ``folder`` and its subfolders (hidden ones skipped), in a stable order."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        raise SpecError(f"{folder}: cannot list ({err.strerror})") from None
    files = [p for p in entries if p.is_file() and not p.name.startswith(".")]
    models = _indexed(files)
    claimed = {f for m in models for f in m.files} | {m.index for m in models}
    models += _shard_sets([f for f in files if f not in claimed])
    claimed |= {f for m in models for f in m.files}
    for file in files:
        kind = _kind(file)
        if file not in claimed and kind is not None and not NOT_MODELS.match(file.name):
            models.append(Model(kind, file.name, [file]))
    if depth < MAX_DEPTH:
        for sub in entries:
            if sub.is_dir() and not sub.name.startswith((".", "__")):
                for model in find_models(sub, depth + 1):
                    model.label = f"{sub.name}/{model.label}"
                    models.append(model)
    return models


def _kind(file: Path) -> str | None:
    fmt = by_suffix(file.suffix.lower())
    if fmt is None or not fmt.checkpoint:
        return None
    kind = fmt.name
    if file.suffix.lower() == ".bin" and not _torch_magic(file):
        return None  # .bin is also GGML's old format, a tokenizer's, anyone's
    return kind


def _torch_magic(file: Path) -> bool:
    try:
        with file.open("rb") as f:
            head = f.read(4)
    except OSError:
        return True  # let the reader say what is wrong
    return head.startswith((b"PK\x03\x04", b"\x80"))


def _indexed(files: list[Path]) -> list[Model]:
    models = []
    for file in files:
        name = file.name.lower()
        fmt = next((f for f in FORMATS if f.endings and name.endswith(f.endings)), None)
        if fmt is not None:
            shards = [file.parent / s for s in read_index(file)]
            models.append(Model(fmt.name, file.name, shards, index=file))
    return models


def _shard_sets(files: list[Path]) -> list[Model]:
    groups: dict[tuple[str, str, str], list[Path]] = {}
    for file in files:
        match = _SHARD.match(file.name)
        if match and _kind(file) is not None:
            groups.setdefault((match["stem"], match["count"], match["ext"]), []).append(file)
    models = []
    for (stem, count, ext), shards in groups.items():
        if len(shards) != int(count):
            raise SpecError(f"{shards[0].parent}: {len(shards)} of the {int(count)} shards of "
                            f"{stem}-*-of-{count}{ext} are here")
        models.append(Model(_kind(shards[0]) or "", f"{stem}-*-of-{count}{ext}", sorted(shards)))
    return models


# -- reading and combining ----------------------------------------------------------------

def _shifted(progress: Progress | None, done: int, total: int) -> Progress | None:
    if progress is None:
        return None
    return lambda n, _: progress(done + n, total)


def _read(model: Model, progress: Progress | None, options: dict[str, Any]) -> Summary:
    module: Any = BY_NAME[model.kind].loader()
    source = str(model.index or model.files[0])
    if model.index is not None:  # the source protocol reads a shard set by its index
        summary: Summary = module.load(model.index, progress=progress)
    elif len(model.files) > 1:
        summary = module.load_files(model.files, source, progress)
    else:
        summary = module.load(model.files[0], **options)
        if progress is not None:
            progress(1, 1)
    return summary


def signature(summary: Summary) -> tuple[int, frozenset[tuple[tuple[int, ...], int]]]:
    """What makes two checkpoints one model: the multiset of their tensors' shapes, each shape
    sorted (a Keras kernel is a PyTorch weight transposed)."""
    shapes: Counter[tuple[int, ...]] = Counter()
    for _, w in summary.root.all_weights():
        shapes[tuple(sorted(w.shape))] += 1
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


def _combined(path: Path, kept: list[tuple[Model, Summary]]) -> Summary:
    root = Node(name=path.resolve().name or str(path), type="Folder")
    for model, summary in kept:
        node = summary.root
        node.name, node.type = model.label, summary.meta.get("format", model.kind)
        if model.also:
            node.remark = "also in " + ", ".join(model.also)
        root.children.append(node)
    first = max((s for _, s in kept), key=lambda s: s.total_params)
    meta = {"models": len(kept), "files": sum(len(m.files) for m, _ in kept)}
    figures = {f"{m.label} params": s.total_params for m, s in kept}
    return Summary(root, source=str(path), framework=first.framework, dtype=first.dtype,
                   meta=meta, figures=figures)
