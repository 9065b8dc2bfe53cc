"""Convolutions: Conv1D/2D/3D, transposed, depthwise and separable; PyTorch Conv*d and ConvTranspose*d."""

from __future__ import annotations
