"""Objects already in memory: a ``torch.nn.Module``, a Keras model or layer, or a pytree of
arrays (a PyTorch ``state_dict``, a dict of NumPy arrays, a JAX/Flax params tree).

:func:`summarize` tells the kind of object from its class and hands it to its reader
(:mod:`~paramcount.sources.live.dispatch`): :mod:`~paramcount.sources.live.torch` (with a
forward pass on the meta device, :mod:`~paramcount.sources.live.torch_pass`),
:mod:`~paramcount.sources.live.keras` or :mod:`~paramcount.sources.live.pytree`. A pytree is a
mapping, list or tuple whose leaves all have ``.shape`` and ``.dtype``; one that holds any array
(:func:`holds_arrays`) is taken for one. What the readers share is in
:mod:`~paramcount.sources.live.common`. Nothing here reads an array's data.
"""

from paramcount.sources.live.common import holds_arrays
from paramcount.sources.live.dispatch import summarize

__all__ = ["holds_arrays", "summarize"]
