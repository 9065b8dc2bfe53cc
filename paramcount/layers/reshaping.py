"""Zero-parameter layers that change or keep shapes: activations, dropout, Flatten, Reshape, Permute, RepeatVector, Identity, Cropping, ZeroPadding, UpSampling."""

from __future__ import annotations
