"""``paramcount diff A B``: compare two models row by row, and gate a CI job on the result.

    paramcount diff base.safetensors finetuned.safetensors      what LoRA adapters added
    paramcount diff ./base ./my-adapter                          a PEFT adapter's rows, added
    paramcount diff config.json model.safetensors --fail-if-changed
    paramcount diff zoo:llama-3-8b ./checkpoint --fail-if-grown 1 --format json

A and B are anything the summary command reads (a file of any format, a folder) or a zoo entry
(``zoo:NAME``, or a bare NAME that is not a path).

Exit status: 0 when the diff ran and its checks passed; 1 when a ``--fail-if-*`` check failed
(:func:`run` raises :class:`CheckFailed`, which carries the text to print; ``paramcount.cli.main``
prints it, then the reason on stderr, and returns 1); 2 for bad input (a ParamcountError).
"""

from __future__ import annotations

import argparse
import math

from paramcount.cli.options import (
    Parser,
    format_argument,
    framework_argument,
    limit_arguments,
    limit_options,
)
from paramcount.errors import CheckFailed, SpecError
from paramcount.report.diff import FORMATS


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="paramcount diff",
               description="Compare two models path by path: rows added, removed or changed "
                           "(weight shapes, trainable, type) and the totals.")
    p.add_argument("a", metavar="A", help="the first model: a file, a folder or a zoo name "
                                                "(see `paramcount --help`)")
    p.add_argument("b", metavar="B", help="the second model, compared with A")
    format_argument(p, FORMATS)
    p.add_argument("--depth", "-d", type=int, default=None, metavar="N",
                   help="compare the rows at depth N (default: the most specific rows)")
    p.add_argument("--all", "-a", action="store_true", help="show unchanged rows too")
    p.add_argument("--no-fold", action="store_true",
                   help="one row per path: no {0..31} folding of identical numbered blocks "
                        "and no grouping of added or removed siblings")
    framework_argument(p)
    p.add_argument("--fail-if-grown", default=None, metavar="PCT",
                   help="exit 1 when B's total exceeds A's by more than PCT percent")
    p.add_argument("--fail-if-changed", action="store_true",
                   help="exit 1 when anything differs (a row, a weight, a type, a total)")
    limit_arguments(p)
    return p


def parse_percent(text: str) -> float:
    """``5``, ``2.5`` or ``2.5%`` -> a percentage, which must be finite and not negative.

    >>> parse_percent("2.5%"), parse_percent("0")
    (2.5, 0.0)
    """
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise SpecError(f"--fail-if-grown {text!r}: expected a percentage of 0 or more, "
                        "such as 5 or 2.5%")
    return value


def run(args: list[str]) -> str:
    """Run ``paramcount diff`` and return what it prints; raise :class:`CheckFailed` (with
    that text) when a ``--fail-if-*`` check fails."""
    ns = _parser().parse_args(args)
    limit = None if ns.fail_if_grown is None else parse_percent(ns.fail_if_grown)
    if ns.depth is not None and ns.depth < 1:
        raise SpecError(f"--depth {ns.depth}: expected a depth of 1 or more")
    from paramcount.comparison import diff
    from paramcount.report.diff import render_diff

    options = {"framework": ns.framework} if ns.framework else {}
    options.update(limit_options(ns))
    d = diff(ns.a, ns.b, **options)
    text = render_diff(d, ns.format, depth=ns.depth, everything=ns.all, fold=not ns.no_fold)
    a, b = d.a.totals[0], d.b.totals[0]
    if limit is not None and d.grown_more_than(limit):
        grown = f", {(b - a) * 100 / a:+.2f}% against A's {a:,}" if a else " where A has none"
        raise CheckFailed(f"B has {b:,} parameters{grown}: more than the {limit:g}% that "
                          "--fail-if-grown allows", text)
    if ns.fail_if_changed and d.changed:
        tally = ", ".join(f"{n} {s}" for s, n in d.counts().items() if n and s != "unchanged")
        raise CheckFailed(f"A and B differ ({tally}) and --fail-if-changed is set", text)
    return text
