"""One CSV row per table row, with the path of each layer and exact integer counts."""

from __future__ import annotations

import csv
import io

from paramcount.model import Summary
from paramcount.report.columns import view_flops, view_rows
from paramcount.shapes import fmt_shape
from paramcount.view import View

HEADER = ["depth", "name", "type", "output_shape", "params", "trainable_params",
          "non_trainable_params", "buffers", "calls", "times"]


def render_csv(summary: Summary, view: View) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    flops = view_flops(summary, view)
    writer.writerow(HEADER + (["macs", "flops"] if flops else []))
    for row in view_rows(summary, view):
        n = row.node
        shape = fmt_shape(n.output_shape) if n.output_shape is not None else ""
        writer.writerow([row.depth, n.name, n.type, shape, n.params, n.trainable_params,
                         n.non_trainable_params, n.buffers, n.calls, row.times,
                         *_macs(flops.node_macs(n) if flops else None, flops is not None)])
    writer.writerow([0, summary.name, "Total", "", summary.total_params,
                     summary.trainable_params, summary.non_trainable_params, summary.buffers,
                     1, 1, *_macs(flops.macs if flops else None, flops is not None)])
    return out.getvalue().rstrip("\n")


def _macs(macs: int | None, shown: bool) -> list[int | str]:
    if not shown:
        return []
    return ["", ""] if macs is None else [macs, 2 * macs]
