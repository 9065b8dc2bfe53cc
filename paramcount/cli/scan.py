"""``paramcount scan SOURCE...``: one row per model, for auditing many models at once.

    paramcount scan ./models/* org/model-a org/model-b@v2 zoo:gpt2
    paramcount scan --from registry.txt --format jsonl --workers 16 > counts.jsonl
    find /data -name config.json -printf '%h\\n' | paramcount scan --from - --format csv

SOURCE is anything ``paramcount SOURCE`` reads; ``--from FILE`` (or ``@FILE``) reads one a
line (``-``: standard input; blank lines and ``#`` comments skipped). Rows come in the order
of the sources; CSV and JSON lines are written as each row is ready, the table once all are.
The format is a table on a terminal, CSV otherwise. A progress line goes to stderr when it is
a terminal (``--progress``/``--no-progress`` to choose).

Exit status: 0 when every source was read; 1 when some failed (their rows say why, and a line
on stderr counts them); 2 for bad usage (no source, a list that cannot be read).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable, Generator
from typing import TextIO

from paramcount.cli.options import Parser, framework_argument, limit_arguments, limit_options
from paramcount.cli.terminal import wants_rich
from paramcount.errors import CheckFailed, SpecError, check_positive
from paramcount.report.scan import FORMATS, csv_header, csv_line, jsonl_line, render_table
from paramcount.scanning import DEFAULT_WORKERS, ScanRow, read_list, scan


class SomeFailed(CheckFailed):
    """Some sources could not be read: exit 1, their rows already written."""

    heading = "scan"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="paramcount scan",
               description="One row per model (total and active params, stored bytes, dtype, "
                           "quantization, architecture, bytes read from the Hub, time, error), "
                           "many models read at once; a source that fails is a row that says "
                           "why, and the scan goes on.")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="a model file or folder, a Hub id, a zoo name (as `paramcount SOURCE`),"
                        " or @FILE: the sources listed in FILE")
    p.add_argument("--from", dest="lists", action="append", default=[], metavar="FILE",
                   help="read sources from FILE, one a line (- for stdin; # comments)")
    p.add_argument("--format", "-f", choices=FORMATS, default=None,
                   help="output format (default: table on a terminal, else csv)")
    p.add_argument("--workers", "-j", type=int, default=DEFAULT_WORKERS, metavar="N",
                   help=f"sources read at once, on threads (default {DEFAULT_WORKERS})")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress line on stderr (default: when stderr is a terminal)")
    framework_argument(p)
    limit_arguments(p)
    return p


def run(args: list[str]) -> str:
    """Run ``paramcount scan``: CSV and JSON lines are written to stdout as rows come, the
    table is returned; raise :class:`SomeFailed` when a source failed."""
    ns = _parser().parse_args(args)
    check_positive(ns.workers, "--workers")
    sources = _sources(ns.sources, ns.lists)
    fmt = ns.format or ("table" if sys.stdout.isatty() else "csv")
    show = _progress(len(sources)) if (
        sys.stderr.isatty() if ns.progress is None else ns.progress) else None
    options = {"framework": ns.framework} if ns.framework else {}
    options.update(limit_options(ns))
    start = time.perf_counter()
    rows = scan(sources, workers=ns.workers, progress=show, **options)
    kept, failed = _write(rows, fmt, sys.stdout)
    seconds = time.perf_counter() - start
    tally = (f"{len(sources)} source{'s' if len(sources) != 1 else ''}, {failed} failed, "
             f"in {seconds:.1f} s ({len(sources) / max(seconds, 1e-9):.1f} models/s)")
    text = "" if fmt != "table" else _table(kept, tally)
    if show is not None and fmt != "table":
        print(f"scan: {tally}", file=sys.stderr)
    if failed:
        raise SomeFailed(f"{failed} of {len(sources)} sources failed (their rows say why)",
                         text)
    return text


def _sources(named: list[str], lists: list[str]) -> list[str]:
    """The sources named, in order: those on the command line (``@FILE`` read in place),
    then those of each ``--from`` list."""
    out: list[str] = []
    for item in named:
        out += _read(item[1:]) if item.startswith("@") and len(item) > 1 else [item]
    for name in lists:
        out += _read(name)
    if not out:
        raise SpecError("no source to scan: name some, or give --from FILE (- for stdin)")
    return out


def _read(name: str) -> list[str]:
    if name == "-":
        return list(read_list(sys.stdin, "stdin"))
    try:
        with open(name, encoding="utf-8") as f:
            return list(read_list(f, name))
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"cannot read the list {name}: {getattr(err, 'strerror', None) or err}"
                        ) from None


def _write(rows: Generator[ScanRow, None, None], fmt: str, out: TextIO
           ) -> tuple[list[ScanRow], int]:
    """Write CSV or JSON lines a row at a time; keep the rows only for a table. Returns the
    rows kept and how many failed."""
    line = {"csv": csv_line, "jsonl": jsonl_line}.get(fmt)
    kept, failed = [], 0
    try:
        if fmt == "csv":
            _put(out, csv_header())
        for row in rows:
            failed += not row.ok
            if line is None:
                kept.append(row)
            else:
                _put(out, line(row))
    except BrokenPipeError:  # `paramcount scan ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        rows.close()
    return kept, failed


def _put(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()  # a row seen as soon as it is read (`tail -f`, a pipe into jq)


def _table(rows: list[ScanRow], tally: str) -> str:
    color = wants_rich(sys.stdout)
    width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else None
    table = render_table(rows, [tally], color=color, width=width)
    if not color:
        return str(table)
    from rich.console import Console

    console = Console(width=width or 100, force_terminal=True)
    with console.capture() as capture:
        console.print(table)
    return capture.get().rstrip("\n")


def _progress(total: int) -> Callable[[ScanRow], None]:
    """A one-line progress count on stderr, rewritten as each source finishes."""
    start, done, failed = time.perf_counter(), [0], [0]

    def show(row: ScanRow) -> None:
        done[0] += 1
        failed[0] += not row.ok
        rate = done[0] / max(time.perf_counter() - start, 1e-9)
        sys.stderr.write(f"\rscan: {done[0]}/{total} read, {failed[0]} failed, "
                         f"{rate:.1f} models/s")
        sys.stderr.write("\r\033[K" if done[0] == total else "")
        sys.stderr.flush()
    return show
