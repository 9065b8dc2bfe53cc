"""Built-in architectures: paramcount's own model format (``*.yaml`` beside this file) and
Hugging Face configs of well-known released models (``*.json``, as published).

Each YAML file is one architecture built from parameterized blocks; its ``variants`` map further
zoo names to parameter values (``gpt3-175b: {layers: 96, d_model: 12288, ...}``). Each JSON file
is one model's ``config.json``, read by :mod:`paramcount.sources.hf`; ``--set`` overrides its
fields and ``--no-top`` keeps the bare backbone. No total is typed in anywhere: every count
comes from the layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paramcount.errors import SpecError
from paramcount.quoting import quote

if TYPE_CHECKING:
    from paramcount.model import Summary

_HERE = Path(__file__).parent


@cache
def _files() -> dict[str, Path]:
    paths = sorted([*_HERE.glob("*.yaml"), *_HERE.glob("*.json")], key=lambda p: p.stem)
    paths = [p for p in paths if p != INDEX]
    return {p.stem: p for p in paths}


def _is_config(stem: str) -> bool:
    return _files()[stem].suffix == ".json"


@cache
def _document(stem: str) -> dict[str, Any]:
    from paramcount.sources.spec import read_document

    data = read_document(_files()[stem])
    assert isinstance(data, dict)
    return data


#: name -> [file stem, parameter values] of every entry, generated from the files
#: (:func:`write_index`; a test holds it equal), so that naming one entry parses one file
INDEX = _HERE / "index.json"


@cache
def entries() -> dict[str, tuple[str, dict[str, Any]]]:
    """Zoo name -> (file stem, parameter values), read from the index."""
    import json

    table = json.loads(INDEX.read_text())
    return {name: (stem, params) for name, (stem, params) in table.items()}


def index_from_files() -> dict[str, tuple[str, dict[str, Any]]]:
    """The index as the zoo's files say it: every entry and every variant."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for stem in _files():
        doc = _document(stem)
        variants: Mapping[str, Any] = doc.get("variants") or {}
        if not doc.get("variants_only"):
            out[stem] = (stem, {})
        for name, params in variants.items():
            out[str(name)] = (stem, dict(params or {}))
    return out


def write_index() -> None:
    """Write :data:`INDEX` from the files (after adding or changing a zoo file)."""
    import json

    lines = [f"{json.dumps(name)}: {json.dumps(entry, sort_keys=True)}"
             for name, entry in sorted(index_from_files().items())]
    INDEX.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def load(name: str, params: Mapping[str, Any] | None = None,
         framework: str | None = None, head: str | None = None) -> Summary:
    """Summarize a zoo entry; ``head="base"`` (``--head base``, ``--no-top``) leaves out the
    classifier or LM head.

    >>> load("vgg16").total_params
    138357544
    """
    from paramcount.sources.spec import from_dict

    table = entries()
    if name not in table:
        hint = close_to(name)
        more = f" (did you mean {quote(hint[0])}?)" if hint else ""
        raise SpecError(f"no zoo entry {quote(name)}{more}; `paramcount zoo` lists them")
    stem, values = table[name]
    merged = {**values, **(params or {})}
    if head is not None:
        merged["include_top"] = False
    if _is_config(stem):
        return _load_config(name, stem, merged)
    doc = dict(_document(stem))
    doc["name"] = name
    doc.pop("variants", None)
    doc.pop("variants_only", None)
    return from_dict(doc, source=f"zoo:{name}", params=merged, framework=framework)


# -- the front door's protocol (paramcount.sources.NameLoader) -----------------------------------

def claims(name: str) -> bool:
    """Whether ``name`` is a zoo entry."""
    return name in entries()


def close_to(name: str) -> list[str]:
    """The entry names closest to ``name``, best first."""
    import difflib

    return difflib.get_close_matches(name, list(entries()), n=1)


def load_name(name: str, **options: Any) -> Summary:
    return load(name, **options)


def _load_config(name: str, stem: str, params: dict[str, Any]) -> Summary:
    """A Hugging Face config of the zoo; ``include_top=False`` (``--no-top``) is the backbone."""
    from paramcount.sources.hf import from_dict

    head = None if params.pop("include_top", True) else "base"
    return from_dict(_document(stem), source=f"zoo:{name}", head=head, params=params)


def describe(name: str) -> str:
    stem, _ = entries()[name]
    doc = _document(stem)
    if _is_config(stem):
        return f"{doc.get('architectures', ['?'])[0]} ({doc.get('model_type')})"
    text = str(doc.get("description", "")).strip().splitlines()
    first = text[0] if text else ""
    return first


def listing() -> str:
    """One line per entry: name, total parameters, description."""
    rows = []
    for name in entries():
        rows.append((name, f"{load(name).total_params:,}", describe(name)))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{'name'.ljust(w0)}  {'params'.rjust(w1)}  description"]
    lines += [f"{a.ljust(w0)}  {b.rjust(w1)}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)
