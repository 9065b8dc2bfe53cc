"""Attention layers: Keras MultiHeadAttention, PyTorch MultiheadAttention and Transformer layers."""

from __future__ import annotations
