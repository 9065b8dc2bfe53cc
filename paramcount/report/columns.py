"""The columns of a summary table and how each cell is formatted, shared by every renderer."""

from __future__ import annotations

from enum import Enum

from paramcount.model import Row, Summary
from paramcount.shapes import fmt_shape


class Column(str, Enum):
    LAYER = "Layer (type)"
    OUTPUT = "Output Shape"
    PARAMS = "Param #"
    TRAINABLE = "Trainable"


def layer_cell(row: Row, indent: str = "  ") -> str:
    node = row.node
    label = f"{indent * (row.depth - 1)}{node.name} ({node.type})"
    if row.folded:
        label += f" ×{row.times}"
    if node.calls > 1:
        label += f" [called {node.calls}×]"
    if node.unknown:
        label += " [unknown: not counted]"
    if node.remark:
        label += f" [{node.remark}]"
    if node.tied:
        owners = ", ".join(sorted({t.owner.split('.')[0] for t in node.tied}))
        label += f" [tied to {owners}]"
    return label


def shape_cell(row: Row) -> str:
    return fmt_shape(row.node.output_shape) if row.node.output_shape is not None else "-"


def params_cell(row: Row) -> str:
    return f"{row.node.params:,}"


def cells(row: Row) -> dict[Column, str]:
    return {Column.LAYER: layer_cell(row), Column.OUTPUT: shape_cell(row),
            Column.PARAMS: params_cell(row)}


def readable_bytes(n: float) -> str:
    """Bytes with binary units labelled as Keras labels them (1 KB = 1024 B).

    >>> readable_bytes(102546848)
    '97.80 MB'
    """
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TB"  # pragma: no cover - the loop always returns


def totals_lines(summary: Summary) -> list[str]:
    """The footer: total, trainable and non-trainable parameters with their size."""
    lines = []
    stored = None if summary.dtype_override else summary.stored_bytes()
    for label, count in (("Total params", summary.total_params),
                         ("Trainable params", summary.trainable_params),
                         ("Non-trainable params", summary.non_trainable_params)):
        size = stored if stored is not None and label == "Total params" else summary.bytes(count)
        lines.append(f"{label}: {count:,} ({readable_bytes(size)})")
    if summary.buffers:
        lines.append(f"Buffers (not parameters): {summary.buffers:,} "
                     f"({readable_bytes(summary.bytes(summary.buffers))})")
    lines += [f"{label}: {count:,}" for label, count in summary.figures.items()]
    by_dtype = summary.by_dtype()
    if by_dtype:
        parts = [f"{dtype} {n:,}" + ("" if b is None else f" ({readable_bytes(b)})")
                 for dtype, (n, b) in sorted(by_dtype.items(), key=lambda kv: -kv[1][0])]
        lines.append("Stored as: " + ", ".join(parts))
    unknown = summary.unknown_layers
    if unknown:
        kinds = ", ".join(f"{t} ×{n}" for t, n in sorted(unknown.items()))
        lines.append(f"Lower bound: {sum(unknown.values())} layer(s) of unknown type not "
                     f"counted: {kinds}")
    lines += list(summary.notes)
    lines.append(f"Convention: {summary.framework}, {summary.dtype} "
                 f"({summary.bytes_per_param:g} bytes per parameter)")
    return lines
