"""paramcount: how many parameters a model has, where they are, and why.

>>> import paramcount
>>> paramcount.layer("Dense", units=2).count((4,)).total_params
10

The public names are imported on first use, so that ``import paramcount`` costs next to
nothing and each command imports only what it needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paramcount.build import layer
    from paramcount.comparison import Diff, diff
    from paramcount.errors import ParamcountError
    from paramcount.model import Summary
    from paramcount.scanning import scan
    from paramcount.sources import summarize
    from paramcount.view import View

__version__ = "0.1.0"
__all__ = ["Diff", "ParamcountError", "Summary", "View", "__version__", "diff", "layer",
           "scan", "summarize"]

#: public name -> the module that defines it
_HOMES = {"layer": "build", "Diff": "comparison", "diff": "comparison",
          "ParamcountError": "errors", "Summary": "model", "scan": "scanning",
          "summarize": "sources", "View": "view"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'paramcount' has no attribute {name!r}")
    value = getattr(import_module(f"paramcount.{home}"), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
