"""Ways in: each module turns one kind of description into a :class:`~paramcount.model.Summary`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paramcount.model import Summary


def summarize(source: str | Path | dict[str, Any], **options: Any) -> Summary:
    """Summarize a model description: a path to a YAML/JSON model file, or the same as a dict.

    >>> import paramcount
    >>> spec = {"input_shape": [4], "layers": [{"Dense": {"units": 2}}]}
    >>> paramcount.summarize(spec).total_params
    10
    """
    from paramcount.sources import spec

    if isinstance(source, dict):
        return spec.from_dict(source, source="<dict>", **options)
    return spec.from_file(Path(source), **options)
