"""``paramcount report SOURCE -o model.html``: one self-contained HTML page for a model.

    paramcount report llama-3-8b -o llama.html
    paramcount report model.safetensors --compare other.safetensors -o diff.html
    paramcount report config.json --memory --context 8192 --gpu-memory 80GB -o plan.html

The page (:mod:`paramcount.report.page`) is a zoomable treemap of the model's parameters,
stored bytes and FLOPs beside its table; with ``--compare B`` both models side by side and
the diff's table; with ``--memory`` (or any memory option) a memory plan's bar on top.
Without ``-o`` the page is printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from paramcount.cli.options import Parser, limit_arguments, source_arguments
from paramcount.errors import SpecError, check_positive

#: the memory options the page takes, as ``paramcount memory`` spells them
MEMORY = ("gpu_memory", "gpus", "context", "batch", "dtype")


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="paramcount report",
               description="Write a self-contained HTML report: a zoomable treemap of where the "
                           "parameters, bytes and FLOPs are, beside the summary table.")
    p.add_argument("source", metavar="SOURCE", help="a model file or folder, or a zoo entry "
                                                  "(see `paramcount --help`)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the page here (default: print it)")
    p.add_argument("--compare", metavar="B", help="compare with model B: both side by side")
    p.add_argument("--seq-len", type=int, metavar="N",
                   help="sequence length of the forward pass whose FLOPs the treemap shows")
    plan = p.add_argument_group("memory plan (as `paramcount memory` takes them)")
    plan.add_argument("--memory", action="store_true", help="add a memory plan to serve the model")
    plan.add_argument("--train", action="store_true", help="a plan to train it instead")
    plan.add_argument("--gpu-memory", metavar="SIZE", help="each GPU's memory (80GB): the fit")
    plan.add_argument("--gpus", type=int, metavar="N", help="GPUs in all")
    plan.add_argument("--context", type=int, metavar="TOKENS", help="tokens of context")
    plan.add_argument("--batch", type=int, metavar="N", help="sequences at once")
    plan.add_argument("--dtype", help="weights' dtype (bf16, int4, stored, ...)")
    source_arguments(p.add_argument_group("source"), "the model file or zoo entry")
    limit_arguments(p)
    return p


def run(args: list[str]) -> str:
    """Write the page (or return it, without ``-o``) and say where it went."""
    ns = _parser().parse_args(args)
    check_positive(ns.seq_len, "--seq-len")
    memory = {k: getattr(ns, k) for k in MEMORY if getattr(ns, k) is not None}
    if ns.memory or ns.train or memory:
        memory["train"] = ns.train
    else:
        memory = {}
    page = build(ns.source, ns.compare, memory or None, ns.seq_len, _options(ns))
    if ns.output is None:
        return page
    try:
        Path(ns.output).write_text(page, encoding="utf-8")
    except OSError as err:
        raise SpecError(f"cannot write {ns.output}: {err.strerror or err}") from None
    return f"wrote {ns.output} ({len(page.encode()):,} bytes)"


def _options(ns: argparse.Namespace) -> dict[str, Any]:
    from paramcount.cli.options import source_options

    return source_options(ns)


def build(source: str, compare: str | None = None, memory: dict[str, Any] | None = None,
          seq_len: int | None = None, options: dict[str, Any] | None = None) -> str:
    """The report page of ``source`` (compared with ``compare``, with a memory plan of
    ``memory``'s options: ``paramcount memory``'s, sizes as text) through the front door."""
    from paramcount.report import page
    from paramcount.sources import summarize

    summary = summarize(source, **(options or {}))
    if compare:
        from paramcount.comparison import diff

        other = summarize(compare, **(options or {}))
        return page.diff_page(summary, other, diff(summary, other))
    if memory is not None:
        from paramcount import memory as plans

        given = dict(memory)
        if isinstance(given.get("gpu_memory"), str):
            given["gpu_memory"] = plans.parse_size(given["gpu_memory"])
        return page.memory_page(summary, plans.estimate(summary, **given))
    return page.summary_page(summary, seq_len)
