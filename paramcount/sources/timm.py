"""timm models by name, without timm: ``timm:resnet50.a1_in1k``, ``timm:vit_base_patch16_224``.

The name is looked up in paramcount's table of timm's architectures
(:data:`paramcount.architectures.timm_nets.MODELS`); the tag after the dot names the weights,
not the architecture, and is kept only in the label. The model is built with timm's default
head of 1000 classes: ``params`` (``--set num_classes=0``) changes it as a timm config.json
would. A timm repo on the Hub (``timm/resnet50.a1_in1k``) is read as any Hub repo: its weights'
headers, with its config.json for the tree.
"""

from __future__ import annotations

from typing import Any

from paramcount.model import Summary

PREFIX = "timm:"


def claims(name: str) -> bool:
    """Only ``timm:NAME`` names a timm model (a bare name is the zoo's or a file)."""
    return False


def close_to(name: str) -> list[str]:
    """The timm names closest to ``name``, best first."""
    import difflib

    from paramcount.architectures.timm_nets import MODELS

    return [PREFIX + n for n in difflib.get_close_matches(name.partition(".")[0], list(MODELS),
                                                          n=1)]


def load_name(name: str, params: dict[str, Any] | None = None, **_: Any) -> Summary:
    """The model timm's ``create_model(name)`` builds.

    >>> load_name("resnet50.a1_in1k").total_params
    25557032
    """
    from paramcount.sources.hf import from_dict

    doc = {"architecture": name, "num_classes": 1000, **(params or {})}
    summary = from_dict(doc, source=PREFIX + name)
    summary.meta["library"] = "timm"
    return summary
