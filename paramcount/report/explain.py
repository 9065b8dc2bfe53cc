"""Show the work: each layer's weight tensors, their shapes multiplied out, and its closed form.

::

    dense (Dense): input (None, 4) -> output (None, 2)
      kernel  4 × 2  =  8  trainable
      bias    2      =  2  trainable
      params = (inputs + 1) × units = (4 + 1) × 2 = 10
"""

from __future__ import annotations

from paramcount.flops import Flops, filled
from paramcount.layers import Weight
from paramcount.model import Summary
from paramcount.report.columns import compute_lines, view_flops, view_rows
from paramcount.shapes import fmt_shape
from paramcount.tree import Node, Row
from paramcount.view import View


def render_explain(summary: Summary, view: View) -> str:
    blocks: list[str] = []
    terms: list[tuple[str, int]] = []
    flops = view_flops(summary, view)
    for row in view_rows(summary, view):
        if row.node.children:
            if row.folded:
                blocks.append(f"{row.node.name} ({row.node.type}) stands for {row.times} "
                              f"identical blocks; the first is shown:")
            continue
        blocks.append(explain_node(row, flops))
        if row.node.params:
            terms.append((row.node.name, row.node.params * row.times))
    blocks.append(_total(summary, terms))
    blocks += _unpacking(summary)
    if flops is not None:
        blocks.append("\n".join(compute_lines(summary, flops)))
    return "\n\n".join(blocks)


def explain_node(row: Row, flops: Flops | None = None) -> str:
    node = row.node
    ins = ", ".join(fmt_shape(s) for s in node.input_shapes) or "?"
    out = fmt_shape(node.output_shape) if node.output_shape is not None else "?"
    head = f"{node.name} ({node.type}): input {ins} -> output {out}"
    if row.times > 1:
        head += f"  [each of {row.times}]"
    lines = [head]
    if not node.weights and not node.tied:
        lines.append("  no weights: 0 parameters")
    lines += _weight_lines(node)
    if node.formula is not None and node.weights and not node.tied:
        f = node.formula
        lines.append(f"  params = {f.symbolic} = {f.numeric} = {node.params:,}")
    elif node.weights:
        sizes = " + ".join(f"{w.size:,}" for w in node.weights if not w.buffer)
        lines.append(f"  params = {sizes} = {node.params:,}")
    if node.buffers:
        lines.append(f"  buffers (not parameters) = {node.buffers:,}")
    if node.calls > 1:
        lines.append(f"  called {node.calls} times, its weights counted once")
    if flops is not None:
        lines.append(_macs_line(node, flops))
    lines += [f"  note: {n}" for n in node.notes]
    return "\n".join(lines)


def _macs_line(node: Node, flops: Flops) -> str:
    macs = flops.node_macs(node)
    if macs is None:
        return "  MACs: not known (no formula for this layer type, or its input shape unknown)"
    if macs == 0:
        return "  MACs = 0 (no matrix product or convolution)"
    batch = f" for a batch of {flops.batch}" if flops.batch > 1 else ""
    work = ""
    if node.layer is not None and flops.batch == 1 and node.calls == 1:
        shapes = filled(node.input_shapes, flops.seq_len)
        formula = node.layer.macs_formula_of(shapes) if shapes else None
        if formula is not None:
            work = f" {formula.symbolic} = {formula.numeric} ="
    return f"  MACs ={work} {macs:,}{batch} (FLOPs = 2 × MACs = {2 * macs:,})"


def _weight_lines(node: Node) -> list[str]:
    rows = [(w.name, _dims(w), f"{w.size:,}", _role(w)) for w in node.weights]
    rows += [(t.weight.name, _dims(t.weight), "0", f"tied to {t.owner}, counted there")
             for t in node.tied]
    if not rows:
        return []
    wn = max(len(r[0]) for r in rows)
    wd = max(len(r[1]) for r in rows)
    ws = max(len(r[2]) for r in rows)
    return [f"  {n.ljust(wn)}  {d.ljust(wd)}  = {s.rjust(ws)}  {role}" for n, d, s, role in rows]


def _dims(w: Weight) -> str:
    return " × ".join(str(d) for d in w.shape) if w.shape else "scalar"


def _role(w: Weight) -> str:
    if w.buffer:
        return "buffer (PyTorch state, not a parameter)"
    return "trainable" if w.trainable else "non-trainable"


def _unpacking(summary: Summary) -> list[str]:
    """A quantized checkpoint's packed tensors, one of each kind, unpacked as counted."""
    q = summary.meta.get("quantized")
    if not isinstance(q, dict) or not q.get("unpacking"):
        return []
    lines = [f"Unpacked ({q['scheme']}): each packed tensor counts as the weights it encodes; "
             f"its bookkeeping ({q['bookkeeping_bytes']:,} bytes) is not parameters"]
    lines += [f"  {line}" for line in q["unpacking"]]
    return ["\n".join(lines)]


def _total(summary: Summary, terms: list[tuple[str, int]]) -> str:
    total = f"{summary.total_params:,}"
    lines = []
    if len(terms) > 1:
        shown = terms if len(terms) <= 12 else [*terms[:6], ("…", 0), *terms[-5:]]
        expr = " + ".join("…" if n == "…" else f"{v:,}" for n, v in shown)
        lines.append(f"Total params = {expr} = {total}")
    else:
        lines.append(f"Total params = {total}")
    lines.append(f"  trainable {summary.trainable_params:,}, "
                 f"non-trainable {summary.non_trainable_params:,}"
                 + (f", buffers {summary.buffers:,}" if summary.buffers else ""))
    return "\n".join(lines)
