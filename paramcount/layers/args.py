"""Reading a layer's arguments: by name and alias, checked, and every unknown one rejected
(the :class:`Args` that :meth:`paramcount.layers.base.Layer.configure` receives)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from paramcount.errors import SpecError
from paramcount.quoting import quote

# Keys that every layer accepts and that never change a weight shape (Keras get_config() and
# PyTorch constructor keys). Listed once so that a typo in a real argument is still caught.
_NEUTRAL_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
_NEUTRAL = frozenset({
    "name", "activation", "recurrent_activation", "dtype", "device", "activity_regularizer",
    "seed", "dropout", "recurrent_dropout", "inplace", "negative_slope", "rate", "p",
    "noise_shape", "return_sequences", "return_state", "go_backwards", "stateful", "unroll",
    "use_cudnn", "time_major", "autocast", "batch_first", "input_shape", "batch_input_shape",
    "quantization_config", "input_dim_hint", "module",
    "registered_name", "build_config", "supports_masking", "threshold", "max_value",
    "momentum", "eps_unused",
})
_REQUIRED = object()
T = TypeVar("T")


class Args:
    """Reads a layer's arguments by name and alias, checks them, and remembers which were read.

    ``finish()`` then rejects any argument nobody asked for (with a "did you mean" hint), so a
    typo such as ``unit=2`` is an error rather than a silent default.
    """

    def __init__(self, layer_type: str, config: Mapping[str, Any]) -> None:
        self.layer_type = layer_type
        self.config = dict(config)
        self.known: set[str] = set()
        self.used: set[str] = set()

    def get(self, *names: str, default: Any = _REQUIRED) -> Any:
        self.known.update(names)
        for name in names:
            if name in self.config:
                self.used.add(name)
                return self.config[name]
        if default is _REQUIRED:
            import difflib

            near = difflib.get_close_matches(names[0], [str(k) for k in self.config], n=1)
            more = f" (is {quote(near[0])} a typo?)" if near else ""
            raise SpecError(f"{self.layer_type} needs the argument {quote(names[0])}{more}")
        return default

    def given(self, *names: str) -> bool:
        """Whether any of ``names`` was passed (and mark them as known)."""
        self.known.update(names)
        return any(n in self.config for n in names)

    def invalid(self, names: Sequence[str], value: Any, expected: str) -> SpecError:
        """The error for an argument whose value is wrong: names it, shows it, says what fits."""
        name = next((n for n in names if n in self.config), names[0])
        return SpecError(f"{self.layer_type}: {name}={quote(value)} is invalid; expected "
                         f"{expected}")

    def int(self, *names: str, default: Any = _REQUIRED, min: int | None = None) -> Any:
        value = self.get(*names, default=default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self.invalid(names, value, "an integer")
        if min is not None and value < min:
            raise self.invalid(names, value, f"an integer >= {min}")
        return value

    def float(self, *names: str, default: Any = _REQUIRED) -> float:
        value = self.get(*names, default=default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.invalid(names, value, "a number")
        return float(value)

    def bool(self, *names: str, default: Any = _REQUIRED) -> bool:
        value = self.get(*names, default=default)
        if not isinstance(value, bool):
            raise self.invalid(names, value, "true or false")
        return value

    def str(self, *names: str, default: Any = _REQUIRED, choices: Iterable[str] = ()) -> Any:
        value = self.get(*names, default=default)
        if value is None and default is None:
            return None
        allowed = tuple(choices)
        if not isinstance(value, str) or (allowed and value not in allowed):
            raise self.invalid(names, value, " or ".join(map(repr, allowed)) or "a string")
        return value

    def ints(self, *names: builtins.str, n: builtins.int, default: Any = _REQUIRED,
             min: builtins.int | None = 1) -> Any:
        """An int or a sequence of ``n`` ints (``kernel_size=3`` -> ``(3, 3)`` when ``n`` is 2)."""
        value = self.get(*names, default=default)
        if value is None and default is None:
            return None
        items = [value] * n if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(items, list | tuple) or len(items) != n or not all(
            isinstance(v, int) and not isinstance(v, bool) and (min is None or v >= min)
            for v in items
        ):
            bound = "" if min is None else f" >= {min}"
            raise self.invalid(names, value, f"an integer{bound} or {n} of them")
        return tuple(items)

    def finish(self, strict: builtins.bool = True) -> None:
        if not strict:
            return
        for key in self.config:
            if key in self.used or key in self.known or key in _NEUTRAL:
                continue
            if key.endswith(_NEUTRAL_SUFFIXES):
                continue
            import difflib

            hint = difflib.get_close_matches(key, sorted(self.known), n=1)
            more = f" (did you mean {quote(hint[0])}?)" if hint else ""
            raise SpecError(f"{self.layer_type} has no argument {quote(key)}{more}")
