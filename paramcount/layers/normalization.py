"""Normalization layers: BatchNorm, LayerNorm, GroupNorm, RMSNorm, UnitNorm, InstanceNorm."""

from __future__ import annotations
