"""The formula registry: one module per layer family, imported when one of its names is first
looked up (:mod:`paramcount.layers.index` knows which family registers each name)."""

from paramcount.layers.args import Args
from paramcount.layers.base import (
    Built,
    Formula,
    Layer,
    Weight,
    load_all,
    lookup,
    make_layer,
    register,
    registered_names,
)

__all__ = ["Args", "Built", "Formula", "Layer", "Weight", "load_all", "lookup", "make_layer",
           "register", "registered_names"]
