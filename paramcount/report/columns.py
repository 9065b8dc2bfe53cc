"""The columns of a summary table and how each cell is formatted, shared by every renderer."""

from __future__ import annotations

from enum import Enum

from paramcount.dtypes import DTYPE_BYTES
from paramcount.flops import CONVENTION, Flops
from paramcount.model import Summary
from paramcount.shapes import fmt_shape
from paramcount.tree import OWN, Row, tree_rows
from paramcount.units import fmt_binary
from paramcount.view import View


class Column(str, Enum):
    LAYER = "Layer (type)"
    OUTPUT = "Output Shape"
    PARAMS = "Param #"
    TRAINABLE = "Trainable"
    MACS = "MACs"
    FLOPS = "FLOPs"


#: the columns right-aligned in every renderer
NUMERIC = frozenset({Column.PARAMS, Column.MACS, Column.FLOPS})


def columns(view: View) -> list[Column]:
    """The columns shown: Trainable when asked for, MACs and FLOPs once the view has a
    forward pass."""
    shown = [Column.LAYER, Column.OUTPUT, Column.PARAMS]
    if view.trainable:
        shown.append(Column.TRAINABLE)
    if view.compute is not None:
        shown += [Column.MACS, Column.FLOPS]
    return shown


def view_flops(summary: Summary, view: View) -> Flops | None:
    """The forward pass the view's MACs and FLOPs columns show, if it asks for one."""
    return None if view.compute is None else summary.flops(*view.compute)


def view_rows(summary: Summary, view: View) -> list[Row]:
    """The rows ``view`` shows (its depth and folding, not the summary's own view's)."""
    return tree_rows(summary.root, view.depth, view.fold)


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


def all_cells(summary: Summary, view: View) -> list[dict[Column, str]]:
    """Every row's cells, with MACs and FLOPs when the view asks for them."""
    flops = view_flops(summary, view)
    return [cells(row, flops) for row in view_rows(summary, view)]


def _stored_split(summary: Summary) -> tuple[int, int, int] | None:
    """Stored bytes of all parameters, the trainable and the frozen ones, when every
    parameter's bytes are known (a checkpoint's; a quantized weight's packed bytes)."""
    trainable = frozen = 0
    for w, times in summary.root.weights_times():  # a folded group's block, × its copies
        if w.buffer:
            continue
        if w.nbytes is None:
            return None
        if w.trainable:
            trainable += w.nbytes * times
        else:
            frozen += w.nbytes * times
    if not trainable + frozen:
        return None
    return trainable + frozen, trainable, frozen


def totals_lines(summary: Summary, view: View) -> list[str]:
    """The footer: total, trainable and non-trainable parameters with their size."""
    lines = []
    stored = None if view.dtype else _stored_split(summary)
    for i, (label, count) in enumerate((("Total params", summary.total_params),
                                        ("Trainable params", summary.trainable_params),
                                        ("Non-trainable params", summary.non_trainable_params))):
        size = summary.bytes(count, view.dtype) if stored is None else stored[i]
        lines.append(f"{label}: {count:,} ({fmt_binary(size)})")
    if summary.buffers:
        stored_buffers = None if view.dtype else summary.stored_bytes(buffers=True)
        size = (summary.bytes(summary.buffers, view.dtype) if stored_buffers is None
                else stored_buffers)
        lines.append(f"Buffers (not parameters): {summary.buffers:,} ({fmt_binary(size)})")
    lines += [f"{label}: {count:,}" for label, count in summary.figures.items()]
    by_dtype = summary.by_dtype()
    if by_dtype:
        parts = [f"{dtype} {n:,}" + ("" if b is None else f" ({fmt_binary(b)})")
                 for dtype, (n, b) in sorted(by_dtype.items(), key=lambda kv: -kv[1][0])]
        lines.append("Stored as: " + ", ".join(parts))
    unknown = summary.unknown_layers
    if unknown:
        kinds = ", ".join(f"{t} ×{n}" for t, n in sorted(unknown.items()))
        lines.append(f"Lower bound: {sum(unknown.values())} layer(s) of unknown type not "
                     f"counted: {kinds}")
    flops = view_flops(summary, view)
    if flops is not None:
        lines += compute_lines(summary, flops)
    lines += list(summary.notes)
    dtype = view.dtype or summary.dtype
    lines.append(f"Convention: {summary.framework}, {dtype} "
                 f"({DTYPE_BYTES[dtype]:g} bytes per parameter)")
    return lines


def compute_lines(summary: Summary, f: Flops) -> list[str]:
    """The forward pass's MACs and FLOPs, per token for a sequence, and what was not counted."""
    bound = "" if f.complete else "at least "
    pass_ = f"batch {f.batch}" + ("" if f.seq_len is None else f", sequence length {f.seq_len}")
    lines = [f"Forward MACs ({pass_}): {bound}{f.macs:,} = {bound}{f.flops:,} FLOPs"]
    if f.per_token is not None and f.training_per_token is not None:
        n, which = summary.scaling_params()
        lines.append(f"Forward FLOPs per token: {f.per_token:,} (2·N = {2 * n:,}, "
                     f"N = {which})")
        lines.append(f"Training FLOPs per token: {f.training_per_token:,} (forward and "
                     f"backward, 3 × forward; 6·N = {6 * n:,})")
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
