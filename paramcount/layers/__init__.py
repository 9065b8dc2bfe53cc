"""The formula registry: one module per layer family. Importing this package registers them all."""

from paramcount.layers import (  # noqa: F401  (importing registers the layer types)
    activations,
    attention,
    conv,
    conv_depthwise,
    core,
    merging,
    normalization,
    pooling,
    preprocessing,
    recurrent,
    reshaping,
    reversible,
    scoring,
    transformer,
    wrappers,
)
from paramcount.layers.args import Args
from paramcount.layers.base import (
    Built,
    Formula,
    Layer,
    Weight,
    lookup,
    make_layer,
    register,
    registered_names,
)

__all__ = ["Args", "Built", "Formula", "Layer", "Weight", "lookup", "make_layer", "register",
           "registered_names"]
