"""Pooling layers: max and average, global; shapes only."""

from __future__ import annotations
