"""A folder: the model files in it, recognised by name (config.json, checkpoints, shards)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paramcount.errors import SpecError
from paramcount.model import Summary


def load(path: Path, **options: Any) -> Summary:
    """Summarize the model held in a folder."""
    from paramcount.sources import _module, detect

    candidates = [p for p in sorted(path.iterdir()) if p.is_file()]
    for name in ("config.json", "model.yaml", "model.yml"):
        match = path / name
        if match in candidates:
            return _module(detect(match)).load(match, **options)
    raise SpecError(f"{path}: no model files in this folder")
