"""Memory estimates written out: a table for people, markdown, HTML for Jupyter, a rich table,
and the ``paramcount-memory/1`` JSON document for scripts.

The JSON document: ``schema``, ``source``, ``name``, ``estimator`` (``paramcount``),
``mode`` (``inference`` or ``training``), ``settings`` (dtype, batch, context, precision,
optimizer, recompute, ...), ``parallel`` (``gpus``, ``dp``, ``tp``, ``pp``, ``zero``,
``offload``, ``sequence_parallel``), ``components`` (``name``, ``per_gpu_bytes``,
``all_gpus_bytes``, ``cpu_bytes``, ``detail``), the totals ``per_gpu_bytes``,
``all_gpus_bytes`` and ``cpu_bytes``, ``gpu_memory_bytes``, ``fits`` and ``margin_bytes``
(null without ``--gpu-memory``), ``suggestion`` and ``assumptions``.

Serving with ``--context`` adds ``kv_parts``: the cache of one GPU by layer type, each with
``kind`` (``full attention``, ``sliding window``, ``latent (MLA)``, ``cross-attention``,
``recurrent state``), ``modules``, ``tokens`` (each module keeps; 0 for a recurrent state),
``bytes_per_token`` and ``bytes_per_sequence`` (one sequence, all those modules) and ``bytes``
(the whole batch, before pipeline stages divide it). ``kv_tokens`` is the tokens vLLM's KV pool
holds on one GPU (``--engine vllm`` with ``--gpu-memory``; else null), in whole pages, after
each of ``--batch`` sequences' fixed part (windows, recurrent state). ``settings`` gains
``engine`` (when one is asked), ``kv_key_dtype`` and ``kv_value_dtype`` (when they differ) and
``state_dtype`` (a model with recurrent layers).

``quantization`` is null unless the weights are sized by a storage scheme (``--scheme``, a GGUF
type as ``--dtype``, or a config's ``quantization_config``); then it holds ``scheme`` (gptq, awq,
nf4, fp4, int8, fp8, mxfp4, nvfp4, packed or int for compressed-tensors, gguf), ``label`` (in
words), ``from`` (the option or config it came from), ``bits``, ``group_size``, ``block`` (FP8's
``[rows, columns]`` or null), ``gguf_type``, ``quantized_params``, ``quantized_bytes`` (scales and
zero points included), ``kept_params``, ``kept_bytes``, ``kept_dtype``, ``bits_per_weight`` (over
all weights), ``quantized_bits_per_weight``, ``quantized`` and ``kept`` (by kind of weight:
``linear``, ``experts``, ``head``, ``embedding``, ``router``, ``vector``, ``other``,
``buffer``, each with ``matrices`` or ``tensors``, ``params`` and ``bytes``) and
``skipped_modules`` (the config's patterns left unquantized).

``suggestion`` is null unless ``--gpu-memory`` is given and the estimate does not fit; then it
holds ``parallel`` (the most preferred layout that fits, in the form of ``parallel`` above, on
the asked GPU count or else on the fewest more; null when nothing up to ``max_gpus`` fits),
``gpus`` (its GPU count, or null), ``more_gpus`` (true when that is more than asked),
``asked_gpus``, ``max_gpus`` (16384), ``per_gpu_bytes`` (null when nothing fits) and
``search_space`` (the counts and layouts searched and their preference order, in words).
Another tool's estimate
(``--estimator deepspeed`` or ``accelerate``) has ``estimator``, ``title``, ``columns`` and
``rows`` (bytes as integers, null for N/A) instead. Sizes are integers of bytes.
A serving plan (``--gpu``, ``--bandwidth``, ``--max-context``, ``--max-batch``, ``--min-gpus``)
adds ``gpu``, ``max_context``, ``max_batch``, ``min_gpus``, ``decode_tokens_per_s``, ``ttft_s``
and the roofline's keys: :mod:`paramcount.report.serving`.
"""

from __future__ import annotations

from typing import Any

from paramcount.errors import SpecError
from paramcount.memory.breakdown import MemoryEstimate
from paramcount.memory.estimators import EstimatorTable
from paramcount.memory.parallel import Parallel
from paramcount.memory.quantized import to_dict as quantized_dict
from paramcount.memory.search import Suggestion
from paramcount.report.html import html_table
from paramcount.report.table import rich_table
from paramcount.report.text import escape_markdown, json_text, markdown_table, text_table
from paramcount.units import fmt_both, fmt_gb, fmt_gib

SCHEMA = "paramcount-memory/1"
FORMATS = ("table", "json", "markdown")
Result = MemoryEstimate | EstimatorTable


def render(result: Result, fmt: str = "table") -> str:
    """``result`` in one of :data:`FORMATS`."""
    if fmt == "json":
        return json_text(to_dict(result), indent=2)
    if fmt == "markdown":
        return render_markdown(result)
    if fmt == "table":
        return render_table(result)
    raise SpecError(f"unknown format {fmt!r} for memory; expected table, json or markdown")


# -- JSON ----------------------------------------------------------------------------------

def to_dict(result: Result) -> dict[str, Any]:
    if isinstance(result, EstimatorTable):
        return {"schema": SCHEMA, "source": result.source, "estimator": result.estimator,
                "title": result.title, "columns": result.columns, "rows": result.rows,
                "assumptions": result.assumptions}
    e = result
    return {
        "schema": SCHEMA, "source": e.source, "name": e.name, "estimator": "paramcount",
        "mode": e.mode, "settings": e.settings, "parallel": _parallel(e.parallel),
        "components": [{"name": c.name, "per_gpu_bytes": c.per_gpu, "all_gpus_bytes": c.whole,
                        "cpu_bytes": c.cpu, "detail": c.detail} for c in e.components],
        "per_gpu_bytes": e.per_gpu, "all_gpus_bytes": e.whole, "cpu_bytes": e.cpu,
        "gpu_memory_bytes": e.gpu_memory, "fits": e.fits, "margin_bytes": e.margin,
        "suggestion": None if e.suggestion is None else _suggestion(e.suggestion),
        "quantization": None if e.quantization is None else quantized_dict(e.quantization),
        "assumptions": e.assumptions,
        "kv_parts": [p.to_dict() for p in e.kv_parts], "kv_tokens": e.kv_tokens,
    }


def _suggestion(s: Suggestion) -> dict[str, Any]:
    return {"parallel": None if s.parallel is None else _parallel(s.parallel),
            "gpus": None if s.parallel is None else s.parallel.gpus,
            "more_gpus": s.more_gpus, "asked_gpus": s.asked, "max_gpus": s.limit,
            "per_gpu_bytes": s.per_gpu, "search_space": s.space}


def _parallel(p: Parallel) -> dict[str, Any]:
    return {"gpus": p.gpus, "dp": p.dp, "tp": p.tp, "pp": p.pp, "zero": p.zero,
            "offload": p.offload, "sequence_parallel": p.sp}


# -- the table -----------------------------------------------------------------------------

def _rows(e: MemoryEstimate) -> tuple[list[str], list[list[str]]]:
    """The header (the detail column's left out) and the rows, the total among them."""
    many = e.parallel.gpus > 1
    head = ["component", "per GPU"] + ([f"all {e.parallel.gpus} GPUs"] if many else [])
    rows = []
    for c in e.components:
        offloaded = c.cpu and not c.per_gpu
        one, every = ("on the CPU", "on the CPU") if offloaded else (fmt_both(c.per_gpu),
                                                                     fmt_both(c.whole))
        rows.append([c.name, one] + ([every] if many else []) + [c.detail])
    rows.append(["total", fmt_both(e.per_gpu)] + ([fmt_both(e.whole)] if many else []) + [""])
    if e.cpu:
        share = -(-e.cpu // e.parallel.gpus)
        rows.append(["CPU memory", fmt_both(share)] + ([fmt_both(e.cpu)] if many else [])
                    + ["offloaded states"])
    return head, rows


def _title(e: MemoryEstimate) -> str:
    verb = "train" if e.mode == "training" else "serve"
    parts = [f"{_label(k)} {v:,}" if isinstance(v, int) else f"{_label(k)} {v}"
             for k, v in e.settings.items() if v is not None]
    return f"Memory to {verb} {e.name} ({e.source}) on {e.parallel.describe()}\n" + \
        ", ".join(parts)


def _label(key: str) -> str:
    return key.replace("_", " ").replace("kv", "KV")


def _fit_lines(e: MemoryEstimate) -> list[str]:
    if e.gpu_memory is None or e.margin is None:
        return []
    size = f"{fmt_gb(e.gpu_memory)} ({fmt_gib(e.gpu_memory)})"
    if e.margin >= 0:
        return [f"Fits in {size} per GPU: {fmt_both(e.margin)} to spare.", *_capacity(e)]
    lines = [f"Does not fit in {size} per GPU: {fmt_both(-e.margin)} short on each GPU."]
    if e.suggestion is not None:
        lines += [*_suggestion_lines(e.suggestion), f"Search: {e.suggestion.space}."]
    return lines


def _capacity(e: MemoryEstimate) -> list[str]:
    """vLLM's KV pool in tokens, and in sequences of the asked context."""
    if e.kv_tokens is None:
        return []
    context = e.settings.get("context")
    seqs = f" ({e.kv_tokens // context:,} sequences of {context:,})" if context else ""
    return [f"vLLM's KV pool holds {e.kv_tokens:,} tokens per GPU{seqs}."]


def _suggestion_lines(s: Suggestion) -> list[str]:
    if s.parallel is None or s.per_gpu is None:
        larger = (f", nor on any larger count up to {s.limit:,} GPUs" if s.asked < s.limit
                  else f"; larger counts are not searched (at most {s.limit:,})")
        return [f"Nothing fits on {_gpus(s.asked)} of this size{larger}."]
    if not s.more_gpus:
        return [f"Smallest layout that fits: {s.parallel.describe()} "
                f"({fmt_both(s.per_gpu)} per GPU)."]
    return [f"Nothing fits on {_gpus(s.asked)} of this size.",
            f"Fits on {_gpus(s.parallel.gpus)}: {s.parallel.layout()}, "
            f"{fmt_both(s.per_gpu)} per GPU."]


def _gpus(n: int) -> str:
    return f"{n:,} GPU{'s' if n > 1 else ''}"


def _cell(value: Any) -> str:
    if value is None:
        return "N/A"
    return fmt_both(value) if isinstance(value, int) else str(value)


_TEXT = ("dtype", "options")  # an estimator table's text columns; the others hold sizes


def _estimator_cells(t: EstimatorTable) -> tuple[list[str], list[list[str]], set[int]]:
    rows = [[_cell(r[k]) for k in t.columns] for r in t.rows]
    right = {i for i, k in enumerate(t.columns) if k not in _TEXT}
    return list(t.columns.values()), rows, right


# -- the table in every form ---------------------------------------------------------------

def _shown(result: Result, detail: str = "detail"
           ) -> tuple[str, list[str], list[list[list[str]]], set[int]]:
    """The title, the header, the groups of rows (components; the totals) and the right-aligned
    columns; ``detail`` heads an estimate's column of free text."""
    if isinstance(result, EstimatorTable):
        head, rows, right = _estimator_cells(result)
        return result.title, head, [rows], right
    head, rows = _rows(result)
    at = next(i for i, r in enumerate(rows) if r[0] == "total")
    return _title(result), [*head, detail], [rows[:at], rows[at:]], set(range(1, len(head)))


def _fit(result: Result) -> list[str]:
    return [] if isinstance(result, EstimatorTable) else _fit_lines(result)


def render_table(result: Result) -> str:
    """A plain-text table: one line per component, then the fit and the assumptions."""
    title, head, groups, right = _shown(result, detail="")
    lines = [title, "", *text_table(head, groups, right)]
    fit = _fit(result)
    if fit:
        lines += ["", *fit]
    return "\n".join([*lines, "", "Assumptions:", *(f"  - {a}" for a in result.assumptions)])


def render_markdown(result: Result) -> str:
    """A markdown table and the assumptions as a list."""
    title, head, groups, right = _shown(result)
    rows = [r for group in groups for r in group]
    title = title.replace("\n", "; ")
    lines = [f"**{escape_markdown(title)}**", "",
             *markdown_table(head, rows, right), ""]
    fit = _fit(result)
    if fit:
        lines += [*(escape_markdown(e) for e in fit), ""]
    notes = [f"- {escape_markdown(a)}" for a in result.assumptions]
    return "\n".join([*lines, "Assumptions:", "", *notes])


def _footer(result: Result) -> list[str]:
    return [*_fit(result), "Assumptions:", *(f"- {a}" for a in result.assumptions)]


def render_html(result: Result) -> str:
    """The table in HTML, the fit and the assumptions below (``_repr_html_``); an estimate of
    paramcount's has the report's bar of each GPU's memory above (SVG, no script)."""
    title, head, groups, right = _shown(result)
    table = html_table(title, head, groups, right, _footer(result), kind="memory")
    if not isinstance(result, MemoryEstimate):
        return table
    from paramcount.report.page import memory_svg

    return memory_svg(result) + "\n" + table


def rich_memory(result: Result) -> Any:
    """The table as a rich renderable, the fit and the assumptions below (``__rich__``)."""
    title, head, groups, right = _shown(result)
    return rich_table(title, head, groups, right, _footer(result), wrap={len(head) - 1})
