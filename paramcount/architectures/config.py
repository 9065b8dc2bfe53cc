"""Reading a Hugging Face ``config.json`` as transformers reads it, without transformers.

transformers fills every field the file leaves out from the config class's defaults, and lets a
family give a field a second name (``attribute_map``: GPT-2's ``n_embd`` is ``hidden_size``).
:class:`Config` does the same, one field at a time: each family asks for a field by its names,
with the default its config class declares. Every value is checked, and a wrong one is reported
as one line naming the field.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from paramcount.errors import SpecError
from paramcount.quoting import quote

_MISSING = object()  # a field the file does not have
#: larger than any width, vocabulary or context of a real model (and than a float's exact range
#: once multiplied out, which byte sizes need)
MAX_SIZE = 2**32


class Config:
    """One model's config fields, read by name and alias with the family's defaults.

    >>> c = Config({"n_embd": 768, "n_layer": 12}, "gpt2")
    >>> c.int("hidden_size", "n_embd", default=1024), c.int("n_inner", default=None)
    (768, None)
    """

    def __init__(self, doc: Mapping[str, Any], model_type: str, where: str = "") -> None:
        self.doc = doc
        self.model_type = model_type
        self.where = where  # "text_config." inside a nested config

    def _field(self, names: tuple[str, ...]) -> tuple[str, Any]:
        """The value of the first of ``names`` present, checking that aliases agree."""
        found = [(n, self.doc[n]) for n in names if n in self.doc]
        if not found:
            return names[0], _MISSING
        name, value = found[0]
        for other, v in found[1:]:
            if v != value:
                raise self.error(name, value, f"but {self.where}{other}={quote(v)} (the same field "
                                 "under another name)")
        return name, value

    def error(self, name: str, value: Any, problem: str) -> SpecError:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else f"{shown[:37]}..."
        return SpecError(f"{self.model_type} config: {self.where}{name}={shown} {problem}")

    def has(self, *names: str) -> bool:
        return any(n in self.doc for n in names)

    def raw(self, *names: str, default: Any = None) -> Any:
        _, value = self._field(names)
        return default if value is _MISSING else value

    def int(self, *names: builtins.str, default: Any, min: builtins.int = 1) -> Any:
        """An integer field, or ``default`` when the file does not have it. An integral float
        (``4096.0``) is accepted; ``null`` means the default too (transformers derives such
        fields: ``head_dim``, ``num_key_value_heads``, ``n_inner``)."""
        name, value = self._field(names)
        if value is _MISSING or value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, value, "is not an integer")
        if value < min:
            raise self.error(name, value, f"is invalid; expected an integer >= {min}")
        if value > MAX_SIZE:
            raise self.error(name, value, f"is larger than paramcount accepts ({MAX_SIZE:,})")
        return value

    def layers(self, *names: builtins.str, default: builtins.int) -> builtins.int:
        """A number of blocks. Identical blocks fold (one built, counted × N), so any number
        is counted; blocks that differ are bounded by the node budget (``--max-nodes``)."""
        n: builtins.int = self.int(*names, default=default, min=0)
        return n

    def bool(self, *names: builtins.str, default: builtins.bool) -> builtins.bool:
        """A flag; ``null`` reads as false, as ``nn.Linear(bias=None)`` has no bias."""
        name, value = self._field(names)
        if value is _MISSING:
            return default
        if value is None:
            return False
        if not isinstance(value, bool | int):
            raise self.error(name, value, "is not true or false")
        return bool(value)

    def number(self, *names: builtins.str, default: builtins.float) -> builtins.float:
        """A real number (Swin's ``mlp_ratio``, BEiT's ``layer_scale_init_value``)."""
        name, value = self._field(names)
        if value is _MISSING or value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(name, value, "is not a number")
        return float(value)

    def str(self, *names: builtins.str, default: builtins.str) -> builtins.str:
        name, value = self._field(names)
        if value is _MISSING or value is None:
            return default
        if not isinstance(value, str):
            raise self.error(name, value, "is not a string")
        return value

    def ints(self, *names: builtins.str, default: tuple[builtins.int, ...] = ()
             ) -> tuple[builtins.int, ...]:
        name, value = self._field(names)
        if value is _MISSING or value is None:
            return default
        if not isinstance(value, list | tuple) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise self.error(name, value, "is not a list of integers")
        return tuple(value)

    def pair(self, name: builtins.str, default: builtins.int) -> tuple[builtins.int, builtins.int]:
        """A size given as one integer or as two (an image's height and width)."""
        value = self.raw(name)
        if isinstance(value, list | tuple):
            dims = self.ints(name)
            if len(dims) != 2 or min(dims) < 1:
                raise self.error(name, value, "is invalid; expected an integer or two")
            return dims[0], dims[1]
        n: builtins.int = self.int(name, default=default)
        return n, n

    def sub(self, name: builtins.str, model_type: builtins.str) -> Config:
        """A nested config (CLIP's ``text_config``); absent means all defaults."""
        value = self.doc.get(name)
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise self.error(name, value, "is not a mapping")
        return Config(value, model_type, f"{self.where}{name}.")

    # -- checks shared by the families ---------------------------------------------------------
    def head_dim(self, hidden: builtins.int, heads: builtins.int,
                 explicit: builtins.int | None = None, field: builtins.str | None = None
                 ) -> builtins.int:
        """``head_dim`` when given, else ``hidden_size / num_attention_heads``, which must
        divide evenly (transformers would silently truncate it, or refuse)."""
        if explicit is not None:
            return explicit
        if hidden % heads:
            name = field or self._name("num_attention_heads", "n_head", "num_heads", "n_heads")
            raise self.error(name, heads,
                             f"does not divide hidden_size={hidden}, and no head_dim is given")
        return hidden // heads

    def kv_heads(self, heads: builtins.int, default: builtins.int | None = None,
                 names: tuple[builtins.str, ...] = ("num_key_value_heads",)) -> builtins.int:
        """``num_key_value_heads`` (grouped-query attention), the family's default when absent
        (``None``: one per query head); it must divide the query heads."""
        kv: builtins.int | None = self.int(*names, default=None)
        kv = kv if kv is not None else default if default is not None else heads
        if heads % kv:
            raise self.error(self._name(*names), kv,
                             f"does not divide num_attention_heads={heads}")
        return kv

    def _name(self, *names: builtins.str) -> builtins.str:
        return next((n for n in names if n in self.doc), names[0])

    def num_labels(self, default: builtins.int = 2) -> builtins.int:
        """Classes of a classification head: ``num_labels``, else the size of ``id2label``,
        else the family's default (2 in transformers, 3 for BART)."""
        if "num_labels" in self.doc:
            n: builtins.int = self.int("num_labels", default=default, min=0)
            return n
        id2label = self.doc.get("id2label")
        if isinstance(id2label, Mapping) and id2label:
            return len(id2label)
        return default
