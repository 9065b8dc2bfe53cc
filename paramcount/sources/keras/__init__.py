"""Keras and tf.keras models, read without Keras or TensorFlow: a ``.keras`` archive, a
legacy HDF5 file or a weights file, a model config as JSON or as a dict.

The way in is :func:`load` (a file) and :func:`from_dict` (a parsed config), both in
:mod:`~paramcount.sources.keras.files`. Below them,

- :mod:`~paramcount.sources.keras.config` reads a model config, in either layout, into one plain
  form, and :mod:`~paramcount.sources.keras.nodes` how a Functional model calls each layer;
- :mod:`~paramcount.sources.keras.graph` builds that form into paramcount's tree, inferring
  shapes, with what :mod:`~paramcount.sources.keras.layers` knows of Keras's classes;
- :mod:`~paramcount.sources.keras.h5` reads HDF5 files (``paramcount[h5]``): a legacy
  ``model_config`` and the weight shapes stored for layers of unknown class.
"""

from paramcount.sources.keras.files import from_dict, load

__all__ = ["from_dict", "load"]
