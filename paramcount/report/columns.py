"""The columns of a summary table and how each cell is formatted, shared by every renderer."""

from __future__ import annotations

from enum import Enum

from paramcount.flops import CONVENTION, Flops
from paramcount.model import OWN, Row, Summary
from paramcount.shapes import fmt_shape


class Column(str, Enum):
    LAYER = "Layer (type)"
    OUTPUT = "Output Shape"
    PARAMS = "Param #"
    TRAINABLE = "Trainable"
    MACS = "MACs"
    FLOPS = "FLOPs"


#: the columns right-aligned in every renderer
NUMERIC = frozenset({Column.PARAMS, Column.MACS, Column.FLOPS})


def columns(summary: Summary) -> list[Column]:
    """The columns shown: MACs and FLOPs once a forward pass is asked for (``compute_for``)."""
    shown = [Column.LAYER, Column.OUTPUT, Column.PARAMS]
    if summary.show_trainable:
        shown.append(Column.TRAINABLE)
    if summary.compute_for is not None:
        shown += [Column.MACS, Column.FLOPS]
    return shown


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


def shape_cell(row: Row, seq_len: int | None = None) -> str:
    """The output shape, batch first; ``seq_len`` fills the unknown dimensions, as it does
    for the MACs."""
    shape = row.node.output_shape
    if shape is None:
        return "-"
    return fmt_shape(shape if seq_len is None else tuple(seq_len if d is None else d
                                                         for d in shape))


def params_cell(row: Row) -> str:
    return f"{row.node.params:,}"


def trainable_cell(row: Row) -> str:
    """``Y`` when every parameter below the row trains, ``N`` when none does, ``partly``
    otherwise; ``-`` for a row without parameters (Keras's ``show_trainable`` marks)."""
    params, trainable = row.node.params, row.node.trainable_params
    if not params:
        return "-"
    return "Y" if trainable == params else "N" if not trainable else "partly"


def cells(row: Row, flops: Flops | None = None) -> dict[Column, str]:
    out = {Column.LAYER: layer_cell(row),
           Column.OUTPUT: shape_cell(row, flops.seq_len if flops is not None else None),
           Column.PARAMS: params_cell(row), Column.TRAINABLE: trainable_cell(row)}
    if flops is not None:
        macs = flops.node_macs(row.node)
        unknown = "-" if row.node.type == OWN else "?"  # weights alone compute nothing
        out[Column.MACS] = unknown if macs is None else f"{macs:,}"
        out[Column.FLOPS] = unknown if macs is None else f"{2 * macs:,}"
    return out


def all_cells(summary: Summary, depth: int | None = None) -> list[dict[Column, str]]:
    """Every row's cells, with MACs and FLOPs when the summary asks for them."""
    flops = summary.flops() if summary.compute_for is not None else None
    return [cells(row, flops) for row in summary.rows(depth)]


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
    stored = None if summary.dtype_override else summary.stored_bytes(buffers=False)
    for label, count in (("Total params", summary.total_params),
                         ("Trainable params", summary.trainable_params),
                         ("Non-trainable params", summary.non_trainable_params)):
        size = stored if stored is not None and label == "Total params" else summary.bytes(count)
        lines.append(f"{label}: {count:,} ({readable_bytes(size)})")
    if summary.buffers:
        stored_buffers = None if summary.dtype_override else summary.stored_bytes(buffers=True)
        size = summary.bytes(summary.buffers) if stored_buffers is None else stored_buffers
        lines.append(f"Buffers (not parameters): {summary.buffers:,} ({readable_bytes(size)})")
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
    if summary.compute_for is not None:
        lines += compute_lines(summary)
    lines += list(summary.notes)
    lines.append(f"Convention: {summary.framework}, {summary.dtype} "
                 f"({summary.bytes_per_param:g} bytes per parameter)")
    return lines


def compute_lines(summary: Summary) -> list[str]:
    """The forward pass's MACs and FLOPs, per token for a sequence, and what was not counted."""
    f = summary.flops()
    bound = "" if f.complete else "at least "
    pass_ = f"batch {f.batch}" + ("" if f.seq_len is None else f", sequence length {f.seq_len}")
    lines = [f"Forward MACs ({pass_}): {bound}{f.macs:,} = {bound}{f.flops:,} FLOPs"]
    if f.tokens and f.complete:
        per_token = f.flops // f.tokens
        n, which = _scaling_n(summary)
        lines.append(f"Forward FLOPs per token: {per_token:,} (2·N = {2 * n:,}, "
                     f"N = {which})")
        lines.append(f"Training FLOPs per token: {3 * per_token:,} (forward and backward, "
                     f"3 × forward; 6·N = {6 * n:,})")
    if f.unused_seq_len is not None:
        lines.append(f"Sequence length {f.unused_seq_len} not used: this model fixes every "
                     "input shape (change its own length instead, e.g. with --set)")
    for label, tally in (("no MAC formula", f.unknown),
                         ("input shape unknown: give --seq-len", f.unsized)):
        if tally:
            kinds = ", ".join(f"{t} ×{n}" for t, n in sorted(tally.items()))
            lines.append(f"MACs not counted ({label}): {kinds}")
    lines.append(f"FLOPs convention: {CONVENTION}")
    return lines


def _scaling_n(summary: Summary) -> tuple[int, str]:
    """The N of the scaling-law estimates (2·N forward, 6·N training FLOPs per token): the
    non-embedding parameters, and of a mixture of experts only those a token passes through."""
    total = summary.total_params
    if "Non-embedding params" not in summary.figures:
        return total, "params"
    n = summary.figures["Non-embedding params"]
    active = summary.figures.get("Active params per token")
    if active is None:
        return n, "non-embedding params"
    return active - (total - n), "active non-embedding params"
