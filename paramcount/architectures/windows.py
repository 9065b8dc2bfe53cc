"""Which layers of a decoder attend within a sliding window, and how wide it is, read from a
config as each family's config class fills ``layer_types`` in."""

from __future__ import annotations

from collections.abc import Callable

from paramcount.architectures.config import Config
from paramcount.architectures.parts import settles


def window_size(c: Config, default: int | None) -> int | None:
    """``sliding_window``, the family's default when absent; ``null`` (or 0) turns it off."""
    if c.has("sliding_window") and c.raw("sliding_window") is None:
        return None
    size: int | None = c.int("sliding_window", default=default, min=0)
    return size or None


def everywhere(size: int | None) -> Callable[[int], int | None]:
    return settles(0, lambda i: size)


def by_layer_type(c: Config, layers: int, size: int | None,
                  sliding: Callable[[int], bool], at: int | None = None
                  ) -> Callable[[int], int | None]:
    """``size`` on the layers that ``layer_types`` names "sliding_attention", or (when the
    config has no ``layer_types``) on those the family's rule picks, as its config class
    fills ``layer_types`` in; ``at``: where that rule settles (None: it never does)."""
    types = c.raw("layer_types")
    if types is not None:
        if not isinstance(types, list) or len(types) != layers or not all(
                isinstance(t, str) for t in types):
            raise c.error("layer_types", types, f"is invalid; expected a list of {layers} "
                          "names such as 'sliding_attention'")
        return lambda i: size if types[i] == "sliding_attention" else None
    rule = lambda i: size if sliding(i) else None  # noqa: E731
    return rule if at is None else settles(at, rule)


def qwen_window(c: Config, layers: int, alternating: bool) -> Callable[[int], int | None]:
    """Qwen's rule: no window unless ``use_sliding_window``; then Qwen2 and Qwen3 slide on the
    layers from ``max_window_layers`` on, Qwen2-MoE on every other layer below it."""
    size = window_size(c, 4096) if c.bool("use_sliding_window", default=False) else None
    first = c.int("max_window_layers", default=28, min=0)
    if alternating:
        return by_layer_type(c, layers, size, lambda i: i % 2 == 0 and i < first, first)
    return by_layer_type(c, layers, size, lambda i: i >= first, first)
