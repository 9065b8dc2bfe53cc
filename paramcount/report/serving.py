"""A serving plan written out: the memory estimate's table (:mod:`paramcount.report.memory`),
then the GPU, the inverse question's answer and the roofline's tokens per second.

In JSON, the ``paramcount-memory/1`` document of the estimate (at the answer, when a question
was asked) gains these keys whenever ``--gpu``, ``--bandwidth`` or a question is given:

- ``gpu``: ``name``, ``memory_bytes``, ``usable_bytes`` (what the budget is: Apple's share
  of unified memory, or ``--gpu-memory``), ``bandwidth_bytes_per_s``, ``peak_flops``
  (dense, by compute dtype; null where unpublished) and ``source`` (the datasheet); null with
  only ``--gpu-memory``.
- ``max_context`` (tokens) and ``max_batch`` (sequences): the answer, null when not asked or
  when even 1 does not fit; ``search_limit`` is the largest value tried (an answer equal to
  it fits there, and more was not tried).
- ``min_gpus``: ``{"gpus", "tp", "pp"}`` of the smallest layout that fits, null when not
  asked or when nothing up to 16,384 GPUs fits.
- ``decode_tokens_per_s`` (each sequence), ``decode_tokens_per_s_all`` (the whole batch),
  ``ttft_s`` (seconds to the first token; null without ``--context`` or the GPU's FLOPS) and
  ``roofline`` (``efficiency`` ``[bandwidth, flops]``, ``weight_bytes_per_step`` and
  ``cache_bytes_per_step`` read by one GPU, ``decode_flops_per_step``, ``prefill_flops``,
  ``decode_bound`` and ``prefill_bound``: ``memory bandwidth`` or ``compute``); null
  without a bandwidth.
"""

from __future__ import annotations

from typing import Any

from paramcount.errors import SpecError
from paramcount.memory.gpus import Gpu, T
from paramcount.memory.planning import ServingPlan
from paramcount.memory.speed import Roofline, compute_dtype
from paramcount.report import memory as memory_report
from paramcount.report.text import escape_markdown, json_text
from paramcount.units import fmt_both, fmt_gb


def render(plan: ServingPlan, fmt: str = "table") -> str:
    """``plan`` as a table, markdown or JSON."""
    if fmt == "json":
        return json_text(to_dict(plan), indent=2)
    if fmt not in ("table", "markdown"):
        raise SpecError(f"unknown format {fmt!r} for memory; expected table, json or markdown")
    lines = lines_of(plan)
    if fmt == "markdown":
        lines = [escape_markdown(line) for line in lines]
    body = memory_report.render(plan.estimate, fmt)
    return "\n".join([body, "", *lines]) if lines else body


def to_dict(plan: ServingPlan) -> dict[str, Any]:
    out = memory_report.to_dict(plan.estimate)
    r = plan.roofline
    answer = plan.answer
    out.update(
        gpu=None if plan.gpu is None or plan.gpu.name == "custom" else _gpu(plan.gpu),
        max_context=answer.value if answer and answer.question == "max_context" else None,
        max_batch=answer.value if answer and answer.question == "max_batch" else None,
        search_limit=answer.limit if answer else None,
        min_gpus=_layout(plan),
        decode_tokens_per_s=None if r is None else r.decode_tokens_per_s,
        decode_tokens_per_s_all=None if r is None else r.aggregate_tokens_per_s,
        ttft_s=None if r is None else r.ttft_s,
        roofline=None if r is None else _roofline(r))
    return out


def _gpu(g: Gpu) -> dict[str, Any]:
    return {"name": g.name, "memory_bytes": g.memory, "usable_bytes": g.usable,
            "bandwidth_bytes_per_s": g.bandwidth, "peak_flops": g.flops, "source": g.source}


def _layout(plan: ServingPlan) -> dict[str, int] | None:
    p = None if plan.layout is None else plan.layout.parallel
    return None if p is None else {"gpus": p.gpus, "tp": p.tp, "pp": p.pp}


def _roofline(r: Roofline) -> dict[str, Any]:
    return {"efficiency": list(r.efficiency), "weight_bytes_per_step": r.weight_bytes,
            "cache_bytes_per_step": r.cache_bytes, "decode_flops_per_step": r.decode_flops,
            "prefill_flops": r.prefill_flops, "decode_bound": r.decode_bound,
            "prefill_bound": r.prefill_bound}


# -- lines under the table -----------------------------------------------------------------

def lines_of(plan: ServingPlan) -> list[str]:
    """The GPU, the answer and the roofline, in words."""
    out = [] if plan.gpu is None else [_gpu_line(plan.gpu, plan.estimate)]
    out += _answer_lines(plan)
    if plan.roofline is not None:
        out += _roofline_lines(plan.roofline, plan.estimate.settings.get("dtype"))
    return out


def _gpu_line(g: Gpu, e: Any) -> str:
    if g.name == "custom":
        return f"GPU: {g.bandwidth / 1e9:,.0f} GB/s (--bandwidth), no FLOPS given."
    peak = g.peak(compute_dtype(e.settings.get("dtype")))
    flops = "FLOPS unpublished" if peak is None else f"{peak / T:,.1f} TFLOPS dense"
    share = f", {fmt_both(g.usable)} usable by the GPU" if g.usable != g.memory else ""
    return (f"GPU: {g.name}, {fmt_both(g.memory)}{share}, {g.bandwidth / 1e9:,.0f} GB/s, "
            f"{flops} ({g.source}).")


def _answer_lines(plan: ServingPlan) -> list[str]:
    budget = "" if plan.budget is None else f" in {fmt_both(plan.budget)} per GPU"
    a, e = plan.answer, plan.estimate
    if plan.question == "min_gpus":
        s = plan.layout
        if s is None or s.parallel is None:
            return [f"Nothing fits{budget} on up to {16_384:,} GPUs."]
        return [f"Fewest GPUs that fit{budget}: {s.parallel.describe()}."]
    if a is None:
        return []
    if a.question == "max_context":
        what, unit = f"Longest context that fits batch {e.settings.get('batch', 1)}", "tokens"
    else:
        what, unit = f"Most sequences of {e.settings.get('context'):,} tokens that fit", \
            "sequences"
    if a.value is None:
        return [f"{what}{budget}: none; even 1 does not fit."]
    more = (f"at least {a.value:,} {unit} (the most searched; the estimate stops growing)"
            if a.capped else f"{a.value:,} {unit} ({a.value + 1:,} do not fit)")
    return [f"{what}{budget}: {more}."]


def _roofline_lines(r: Roofline, dtype: str | None) -> list[str]:
    bw, fl = r.efficiency
    lines = [f"Tokens per second (roofline at {bw:.0%} of bandwidth and {fl:.0%} of peak "
             "FLOPS; --efficiency overrides):",
             f"  decode: {r.decode_tokens_per_s:,.1f} tokens/s per sequence, "
             f"{r.aggregate_tokens_per_s:,.1f} for the batch of {r.batch}, {r.decode_bound} "
             f"bound: {fmt_gb(int(r.weight_bytes))} of weights and "
             f"{fmt_gb(int(r.cache_bytes))} of cache read per GPU per step, "
             f"{r.decode_flops:,.0f} FLOPs per step"]
    if r.ttft_s is not None and r.prefill_flops is not None:
        lines.append(f"  prefill: {r.ttft_s:,.3f} s to the first token, {r.prefill_bound} "
                     f"bound: {r.prefill_flops:,.0f} FLOPs at {compute_dtype(dtype)} peak")
    elif r.context is None:
        lines.append("  prefill: give --context TOKENS for the time to the first token")
    else:
        lines.append("  prefill: the GPU's FLOPS are not published; no time to first token")
    return lines
