"""Ways in, through one door: :func:`summarize` takes every kind of source and every command
calls it.

A source is

- a :class:`~paramcount.model.Summary` (returned as it is);
- an object in memory: a ``torch.nn.Module``, a Keras model or layer, a mapping or list of
  arrays (:mod:`paramcount.sources.live`);
- a parsed description as a dict: paramcount's format, a Keras model config, a Hugging Face
  config (its kind as in :func:`~paramcount.sources.formats.document_kind`);
- a string or path: a name with a prefix of :data:`NAMED` (``zoo:gpt2``), else a file or
  folder of a format of :data:`~paramcount.sources.formats.FORMATS`, else a bare name that a
  kind of :data:`NAMED` claims (``gpt2``, a zoo entry).

A new kind of named source (a Hub id, a URL) is one row of :data:`NAMED` and one module that
implements :class:`NameLoader`; a new file format is one row of ``FORMATS``.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from paramcount.budget import Limits, active
from paramcount.collector import paused
from paramcount.dtypes import dtype_name
from paramcount.errors import SpecError, check_positive, refuse_unknown
from paramcount.model import Summary
from paramcount.quoting import quote
from paramcount.sources.formats import (
    FORMATS,
    DocumentLoader,
    Format,
    Loader,
    detect,
    document_kind,
)

__all__ = ["FORMATS", "NAMED", "Format", "NameLoader", "Named", "detect", "summarize"]

#: options every file format takes (and may ignore); a format's row lists more
COMMON = frozenset({"params", "framework"})


class NameLoader(Protocol):
    """What a kind of named source offers: whether it knows a name, names close to one (for
    "did you mean"), and the summary of a name."""

    def claims(self, name: str) -> bool: ...

    def close_to(self, name: str) -> list[str]: ...

    def load_name(self, name: str, **options: Any) -> Summary: ...


if TYPE_CHECKING:  # mypy holds every reader to its protocol (the tables import them by name)
    from paramcount import zoo
    from paramcount.sources import (
        folder,
        gguf,
        hf,
        hub,
        keras,
        numpy,
        onnx,
        safetensors,
        spec,
        timm,
        torch,
        url,
    )

    _READERS: tuple[Loader, ...] = (folder, gguf, numpy, onnx, safetensors, torch)
    _DOCUMENTS: tuple[DocumentLoader, ...] = (hf, keras, spec)
    _NAMED: tuple[NameLoader, ...] = (zoo, timm, hub, url)


@dataclass(frozen=True)
class Named:
    """A kind of source named by a string that is no path: a row of :data:`NAMED`."""

    #: its name in ``--help`` and the README
    name: str
    #: the prefix that selects it before any path (``zoo:``); None: it claims names that are
    #: no path (``s3://...``)
    prefix: str | None
    #: the forms a user writes, for ``--help`` and the README
    forms: tuple[str, ...]
    #: what it names
    what: str
    #: the module implementing :class:`NameLoader`
    module: str
    #: options beyond ``params`` and ``framework`` that it takes
    options: frozenset[str] = frozenset()

    def loader(self) -> NameLoader:
        return cast(NameLoader, importlib.import_module(self.module))


NAMED: tuple[Named, ...] = (
    Named("zoo", "zoo:", ("zoo:NAME", "NAME"), "a built-in architecture (`paramcount zoo` lists "
          "them); a bare NAME that is no file names one too", "paramcount.zoo",
          frozenset({"head"})),
    Named("timm", "timm:", ("timm:NAME[.TAG]",), "a timm image model by the name timm "
          "gives it (resnet, resnext, vit, deit, convnext, efficientnet, mobilenetv3, "
          "swin), from paramcount's table of timm's architectures, without timm",
          "paramcount.sources.timm"),
    Named("hub", "hf://", ("ORG/NAME[@REVISION]", "hf://ORG/NAME[@REVISION][/PATH]",
                           "https://huggingface.co/ORG/NAME"),
          "a Hugging Face Hub repo or a file or folder in it: from the local Hugging Face "
          "cache, else its configs and headers from the Hub (paramcount[hub])",
          "paramcount.sources.hub", frozenset({"head", "progress"})),
    Named("url", None, ("https://HOST/PATH", "s3://BUCKET/PATH", "gs://BUCKET/PATH"),
          "a model file or folder at a URL, any filesystem fsspec knows: its configs and "
          "headers by range requests (paramcount[remote]; s3fs, gcsfs for their URLs)",
          "paramcount.sources.url", frozenset({"head", "progress"})),
)


def summarize(source: Any, **options: Any) -> Summary:
    """Summarize a model from any source: a file or folder path, a zoo name, a parsed
    description as a dict, or an object in memory (see the module's docstring).

    Options: ``params`` (values for a description's parameters, ``--set``), ``framework``
    (whose convention to count in), ``dtype`` and ``depth`` (how the summary shows itself:
    sizes at that dtype, rows down to that depth; see :class:`~paramcount.view.View`),
    ``head`` (``"base"``: a Hugging Face config's bare backbone), ``progress`` (called after
    each file of a folder or shard set), ``limits`` (a :class:`~paramcount.budget.Limits` or a
    dict of its fields: the budget reading draws from, :mod:`paramcount.budget`); a live
    object takes ``input_shape`` and others (:mod:`paramcount.sources.live`).

    >>> import paramcount
    >>> spec = {"input_shape": [4], "layers": [{"Dense": {"units": 2}}]}
    >>> paramcount.summarize(spec).total_params
    10
    >>> paramcount.summarize("zoo:vgg16").total_params
    138357544
    """
    if isinstance(source, Summary):
        return source
    limits = options.pop("limits", None)
    with active(None if limits is None else Limits.of(limits)):
        return _summarize(source, options)


def _summarize(source: Any, options: dict[str, Any]) -> Summary:
    dtype = options.pop("dtype", None)
    if isinstance(source, str | os.PathLike) or (
            isinstance(source, dict) and not _live().holds_arrays(source)):
        depth = options.pop("depth", None)
        check_positive(depth, "depth")
        with paused():
            summary = _describe(source, options)
        if depth is not None:  # as --depth: rows down to it, every block of a group shown
            summary.view = summary.view.but(depth=depth, fold=False)
    else:  # a live model object, or a mapping or list of arrays
        summary = _live().summarize(source, **options)
    if dtype:  # sizes shown at this dtype; the model's own stays what it stores
        summary.view = summary.view.but(dtype=dtype_name(dtype))
    return summary


def _describe(source: str | os.PathLike[str] | dict[str, Any], options: dict[str, Any]
              ) -> Summary:
    """A description: a dict, a named source or a file."""
    options = {k: v for k, v in options.items() if v is not None}
    if isinstance(source, dict):
        fmt = document_kind(source, "<dict>")
        _check(options, fmt.options, "a parsed description", fmt)
        return fmt.document_loader().from_dict(source, **options)
    text = os.fspath(source)
    for named in NAMED:
        if named.prefix is not None and text.startswith(named.prefix):
            return _named(named, text.removeprefix(named.prefix), options)
    path = Path(text)
    if path.exists():
        fmt = detect(path)
        _check(options, fmt.options, text, fmt)
        return fmt.loader().load(path, **options)
    for named in NAMED:
        if named.loader().claims(text):
            return _named(named, text, options)
    raise SpecError(_not_found(text))


def _named(named: Named, name: str, options: dict[str, Any]) -> Summary:
    _check(options, named.options, f"{named.prefix or ''}{name}")
    return named.loader().load_name(name, **options)


def _check(options: dict[str, Any], extra: frozenset[str], source: str,
           fmt: Format | None = None) -> None:
    """Refuse an option that this kind of source does not take."""
    for key, value in options.items():
        if key in COMMON or key in extra:
            continue
        if key == "head":
            raise SpecError(f"head={quote(value)} applies to a Hugging Face config.json or a zoo "
                            f"entry, not {source}")
        what = f"{fmt.name} source {source}" if fmt else source
        refuse_unknown([key], sorted(COMMON | extra), f"summarize() of {what}")


def _not_found(text: str) -> str:
    """``X: no such file``, and for a bare name the named kinds' closest names."""
    suffixes = {s for f in FORMATS for s in f.suffixes}
    if os.sep in text or "/" in text or Path(text).suffix.lower() in suffixes:
        return f"{text}: no such file"
    hints = [h for named in NAMED for h in named.loader().close_to(text)]
    more = f" (did you mean {quote(hints[0])}?)" if hints else ""
    return (f"{text}: no such file, no zoo entry of that name{more} (`paramcount zoo` lists "
            "them), and not a Hub id (ORG/NAME)")


def _live() -> Any:
    from paramcount.sources import live

    return live
