"""The ``paramcount`` command: argument parsing only; every command is a thin call into the library.

    paramcount SOURCE [options]                   summarize a model: a file, a folder, a zoo name
    paramcount layer TYPE [ARG=VALUE ...] [opts]  one layer: `layer Dense units=2 --input-shape 4`
    paramcount zoo [NAME] [options]               built-in architectures
    paramcount layers                             the layer types paramcount knows
    paramcount transformer --layers N --d-model D --heads H --vocab V [opts]
                                                  a decoder-only transformer from its shape
    paramcount memory SOURCE [options]            memory to serve or train a model
    paramcount gpus                               the GPUs `memory --gpu NAME` knows
    paramcount diff A B [options]                 compare two models row by row
    paramcount scan SOURCE... [options]           one row per model, for many models at once
    paramcount report SOURCE -o FILE [options]    a self-contained HTML page: treemap and table
    paramcount serve [--port N]                   that page on 127.0.0.1, with a form
    paramcount completion bash|zsh                a shell completion script

Bad input prints one line, ``paramcount: error: ...``, and exits with status 2. Anything else
that goes wrong (a bug) is one line too, ``paramcount: internal error while reading SOURCE:
...; please report``, with exit status 3: never a traceback. A failed ``--fail-if-*`` check
exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from paramcount import __version__
from paramcount.cli.options import (
    Parser,
    format_argument,
    framework_argument,
    limit_arguments,
    parse_assignments,
    parse_shape,
    source_arguments,
    source_options,
)
from paramcount.cli.terminal import wants_rich
from paramcount.collector import paused
from paramcount.errors import CheckFailed, ParamcountError, SpecError, check_positive
from paramcount.quoting import LIMIT, one_line, quote
from paramcount.report import FORMATS

if TYPE_CHECKING:  # the commands import what they use when they run
    from paramcount.model import Summary
    from paramcount.view import View

COMMANDS = ("layer", "zoo", "layers", "transformer")
#: commands with a module of their own in this package, imported when used
MODULE_COMMANDS = ("memory", "diff", "scan", "report", "serve", "completion", "gpus")


def _output_options(p: argparse.ArgumentParser, framework: bool = False) -> None:
    """The options of every command that shows a summary; ``framework`` for the commands that
    take no source (a source's options include it)."""
    format_argument(p, FORMATS)
    if framework:
        framework_argument(p)
    p.add_argument("--depth", "-d", type=int, default=None, metavar="N",
                   help="show nested rows down to depth N (totals never change)")
    p.add_argument("--expand-nested", action="store_true",
                   help="every nested row, as Keras's summary(expand_nested=True); a Keras "
                        "model folds its nested models into one row each by default")
    p.add_argument("--explain", "-e", action="store_true",
                   help="show the work: weight shapes, products and closed forms")
    p.add_argument("--dtype", default=None, help="bytes per parameter at this dtype (e.g. bf16)")
    p.add_argument("--trainable", action="store_true",
                   help="a Trainable column: Y, N or partly for each row")
    compute = p.add_argument_group("compute (MACs and FLOPs of one forward pass)")
    compute.add_argument("--flops", action="store_true",
                         help="add MACs and FLOPs columns (1 MAC = 2 FLOPs)")
    compute.add_argument("--seq-len", type=int, default=None, metavar="N",
                         help="sequence length: fills unknown input dimensions (implies --flops)")
    compute.add_argument("--batch", type=int, default=None, metavar="N",
                         help="samples in the forward pass (default 1; implies --flops)")


def _summary_parser() -> argparse.ArgumentParser:
    p = Parser(prog="paramcount", description="Count a model's parameters, exactly.",
               usage="paramcount SOURCE [options] | paramcount COMMAND ...",
               formatter_class=argparse.RawDescriptionHelpFormatter,
               epilog=f"{sources_help()}\n\ncommands: layer, zoo, layers, transformer, memory, "
                      "gpus, diff, scan, report, serve, completion (see `paramcount COMMAND --help`)")
    p.add_argument("source", metavar="SOURCE",
                   help="a model file or folder, or a zoo name (see below)")
    source_arguments(p, "the model file or zoo entry")
    p.add_argument("--version", action="version", version=f"paramcount {__version__}")
    _output_options(p)
    limit_arguments(p)
    return p


def sources_help(width: int = 100) -> str:
    """The sources every command reads, one entry each, from the front door's tables."""
    import textwrap

    from paramcount.sources import NAMED
    from paramcount.sources.formats import FORMATS

    entries = []
    for f in FORMATS:
        names = ", ".join([*f.suffixes, *(f"*{e}" for e in f.endings)]) or "a folder"
        extra = f" (needs paramcount[{f.extra}])" if f.extra else ""
        entries.append((f.name, f"{names}: {f.what}{extra}"))
    entries += [(n.name, f"{', '.join(n.forms)}: {n.what}") for n in NAMED]
    lines = ["SOURCE is a file, a folder or a name:"]
    for name, text in entries:
        lines += textwrap.wrap(text, width, initial_indent=f"  {name:<12} ",
                               subsequent_indent=" " * 15)
    return "\n".join(lines)


def formats_markdown() -> str:
    """The README's table of sources, made from the same tables as ``--help``."""
    from paramcount.report.text import markdown_table
    from paramcount.sources import NAMED
    from paramcount.sources.formats import FORMATS

    rows = []
    for f in FORMATS:
        names = ", ".join(f"`{n}`" for n in [*f.suffixes, *(f"*{e}" for e in f.endings)])
        extra = f" (needs `paramcount[{f.extra}]`)" if f.extra else ""
        rows.append([f.name, names or "a folder", f.what + extra])
    rows += [[n.name, ", ".join(f"`{form}`" for form in n.forms), n.what] for n in NAMED]
    return "\n".join(markdown_table(["reader", "names", "what it reads"], rows))


def _layer_parser() -> argparse.ArgumentParser:
    p = Parser(prog="paramcount layer", description="Count one layer's parameters.")
    p.add_argument("type", help="a Keras or PyTorch layer name: Dense, Conv2D, Linear, ...")
    p.add_argument("args", nargs="*", metavar="ARG=VALUE",
                   help="layer arguments (units=2 kernel_size=3,3), or bare values in the "
                        "order of the name typed: `Linear 4 2` as nn.Linear(4, 2)")
    p.add_argument("--input-shape", "-i", action="append", default=None, metavar="DIMS",
                   help="input shape without the batch, e.g. 28,28,1 (repeat for several)")
    _output_options(p, framework=True)
    return p


def _zoo_parser() -> argparse.ArgumentParser:
    p = Parser(prog="paramcount zoo", description="Built-in architectures.")
    p.add_argument("name", nargs="?", help="an entry of `paramcount zoo`")
    p.add_argument("--no-top", action="store_true", help="without the classifier head")
    source_arguments(p, "the entry")
    _output_options(p)
    limit_arguments(p)
    return p


def _layers_parser() -> argparse.ArgumentParser:
    return Parser(prog="paramcount layers", description="List the known layer types.")


def _transformer_parser() -> argparse.ArgumentParser:
    p = Parser(prog="paramcount transformer",
                description="A decoder-only transformer from its shape: GPT-2's layout, or "
                            "Llama's with --gated, --norm rmsnorm or --kv-heads, or Mixtral's "
                            "with --experts; counted as transformers builds it.")
    for flag, text in (("--heads", "attention heads"), ("--vocab", "vocabulary size")):
        p.add_argument(flag, type=int, required=True, metavar="N", help=text)
    for flag, text in (("--layers", "blocks"), ("--d-model", "model width")):
        p.add_argument(flag, type=int, default=None, metavar="N",
                       help=f"{text} (left out with a target: solved for)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target-params", metavar="COUNT",
                        help="solve the one shape number left out (--layers, --d-model, or "
                             "else --ffn) for this count (7B, 125M); show the exact counts "
                             "on either side")
    target.add_argument("--target-memory", metavar="SIZE",
                        help="as --target-params, for weights of this size at --dtype "
                             "(default bf16): 16GB, 24GiB")
    for flag, text in (("--kv-heads", "key/value heads (grouped-query attention)"),
                       ("--head-dim", "width of a head (default d-model / heads)"),
                       ("--context", "positions (learned by a GPT-style model)"),
                       ("--ffn", "MLP width (default 4·d-model, or Llama's 8/3·d-model)"),
                       ("--experts", "routed experts per layer (mixture of experts)"),
                       ("--experts-per-token", "experts each token uses (default 2)")):
        p.add_argument(flag, type=int, default=None, metavar="N", help=text)
    p.add_argument("--gated", action="store_true", help="a gated (SwiGLU) MLP, as Llama's")
    p.add_argument("--norm", choices=("layernorm", "rmsnorm"), default=None,
                   help="the normalization (default layernorm, rmsnorm when gated)")
    tie = p.add_mutually_exclusive_group()
    tie.add_argument("--tied", dest="tied", action="store_true", default=None,
                     help="an LM head tied to the token embedding (GPT-style default)")
    tie.add_argument("--untied", dest="tied", action="store_false",
                     help="an LM head of its own (Llama-style default)")
    _output_options(p, framework=True)
    return p


@contextmanager
def _narrated(args: list[str]) -> Iterator[None]:
    """The transformers fallback's progress (importing, building: seconds) as lines on stderr;
    not in a scan, whose own line counts the models."""
    if args[:1] == ["scan"]:
        yield
        return
    import logging

    log = logging.getLogger("paramcount.fallback")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("paramcount: %(message)s"))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # a warning (layers of unknown type) is one line, as an error is
    warnings.showwarning = lambda message, *_a, **_k: print(
        f"paramcount: warning: {message}", file=sys.stderr)
    status, reason, heading = 0, "", ""
    try:
        # one model, then the process ends; a scan of many pauses it per model (summarize)
        with paused() if args[:1] != ["scan"] else nullcontext(), _narrated(args):
            text = run(args)
    except CheckFailed as failed:  # the command ran, and a --fail-if-* check failed: exit 1
        text, status, reason, heading = failed.text, failed.exit_code, str(failed), failed.heading
    except ParamcountError as err:
        print(one_line(f"paramcount: error: {err}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except (RecursionError, MemoryError) as err:
        what = "is nested too deeply" if isinstance(err, RecursionError) else \
            "needs more memory than there is"
        print(one_line(f"paramcount: error: {_source(args)} {what} ({type(err).__name__})"),
              file=sys.stderr)
        return 2
    except Exception as err:  # the last line of defence: a bug is one line, not a traceback
        print(one_line(f"paramcount: internal error while reading {_source(args)}: "
                       f"{type(err).__name__}: {str(err)[:LIMIT]}; please report"),
              file=sys.stderr)
        return INTERNAL_ERROR
    if text:
        try:
            print(text)
            sys.stdout.flush()
        except BrokenPipeError:  # `paramcount ... | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if reason:
        print(f"paramcount: {heading}: {reason}", file=sys.stderr)
    return status


#: the exit status of an error that is paramcount's, not the input's (a bug to report)
INTERNAL_ERROR = 3


def _source(args: list[str]) -> str:
    """What the command was reading, for the internal-error line: its first operand."""
    operands = [a for a in args[1 if args[:1] and args[0] in COMMANDS + MODULE_COMMANDS
                                else 0:] if not a.startswith("-")]
    return quote(operands[0], 100) if operands else "the command line"


#: each command's parser, built when used (building all costs a few ms); "summary" is
#: `paramcount SOURCE`, and each of MODULE_COMMANDS has a ``_parser`` in its module
PARSERS = {"summary": _summary_parser, "layer": _layer_parser, "zoo": _zoo_parser,
           "layers": _layers_parser, "transformer": _transformer_parser}


def run(args: list[str]) -> str:
    """Run one command and return what it prints."""
    if not args:
        return PARSERS["summary"]().format_help()
    if args[0] in MODULE_COMMANDS:
        import importlib

        command_module = importlib.import_module(f"paramcount.cli.{args[0]}")
        text: str = command_module.run(args[1:])
        return text
    command = args[0] if args[0] in COMMANDS else "summary"
    rest = args[1:] if command != "summary" else args
    ns = PARSERS[command]().parse_args(rest)
    handler = {"summary": _summary_file, "layer": _one_layer, "zoo": _zoo,
               "layers": _list_layers, "transformer": _transformer}[command]
    return handler(ns)


def _emit(summary: Summary, ns: argparse.Namespace) -> str:
    """The summary as the options say: the view is built here, the summary is not touched."""
    fmt = "explain" if ns.explain and ns.format == "table" else ns.format
    return summary.render(fmt, view_of(summary.view, ns))


def view_of(base: View, ns: argparse.Namespace) -> View:
    """The view the command-line options ask for, over the summary's own (a live model's
    measured pass, ``summarize(depth=...)``)."""
    check_positive(ns.depth, "--depth")
    view = base.but(trainable=base.trainable or ns.trainable)
    if ns.depth is not None:  # --depth shows every block of a repeated group
        view = view.but(depth=ns.depth, fold=False)
    elif getattr(ns, "expand_nested", False):
        view = view.but(depth=None)
    if ns.flops or ns.seq_len is not None or ns.batch is not None:
        check_positive(ns.seq_len, "--seq-len")
        check_positive(ns.batch, "--batch")
        view = view.but(compute=(ns.seq_len, ns.batch or 1))
    if ns.dtype:
        from paramcount.dtypes import dtype_name

        view = view.but(dtype=dtype_name(ns.dtype))
    width = None
    if sys.stdout.isatty():
        import shutil

        width = shutil.get_terminal_size((100, 24)).columns
    return view.but(color=ns.format == "table" and wants_rich(sys.stdout), width=width)


def _summary_file(ns: argparse.Namespace) -> str:
    from paramcount.sources import summarize

    options = {**source_options(ns), "progress": _progress()}
    return _emit(summarize(ns.source, **options), ns)


def _progress() -> Any:
    """A one-line progress count on a terminal, for folders and shard sets of many files."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total >= 4:
            sys.stderr.write(f"\rreading headers: {done}/{total} files")
            sys.stderr.write("\r\033[K" if done == total else "")
            sys.stderr.flush()
    return show


def _transformer(ns: argparse.Namespace) -> str:
    from paramcount.architectures.custom import transformer_config
    from paramcount.sources.hf import from_dict

    shape = {"layers": ns.layers, "d_model": ns.d_model, "heads": ns.heads, "vocab": ns.vocab,
             "kv_heads": ns.kv_heads, "head_dim": ns.head_dim, "context": ns.context,
             "ffn": ns.ffn, "gated": ns.gated, "tied": ns.tied, "norm": ns.norm,
             "experts": ns.experts, "experts_per_token": ns.experts_per_token}
    if ns.target_params is not None or ns.target_memory is not None:
        return _design(shape, ns)
    for key in ("layers", "d_model"):
        if shape[key] is None:
            raise SpecError(f"--{key.replace('_', '-')} is required (or give --target-params "
                            "or --target-memory to solve for it)")
    doc = transformer_config(**shape)
    return _emit(from_dict(doc, source="paramcount transformer"), ns)


def _design(shape: dict[str, Any], ns: argparse.Namespace) -> str:
    """``paramcount transformer`` with a target: the shape number left out, solved for."""
    from paramcount.architectures import design
    from paramcount.architectures.custom import transformer_config
    from paramcount.report.text import json_text
    from paramcount.sources.hf import from_dict

    if ns.target_params is not None:
        target = design.parse_count(ns.target_params)
    else:
        target = _params_in(ns.target_memory, ns.dtype)
    solution = design.solve(target, shape)
    if ns.format == "json":
        return json_text(design.as_dict(solution), indent=2)
    best = {**shape, solution.unknown: solution.nearest.value}
    summary = from_dict(transformer_config(**best), source="paramcount transformer")
    return "\n".join([*design.report(solution, shape), "", _emit(summary, ns)])


def _params_in(size: str, dtype: str | None) -> int:
    """Parameters whose weights fit in ``size`` at ``dtype`` (default bf16)."""
    from fractions import Fraction

    from paramcount.dtypes import DTYPE_BYTES, dtype_name
    from paramcount.units import parse_size

    per = Fraction(DTYPE_BYTES[dtype_name(dtype or "bf16")]).limit_denominator(1024)
    return int(parse_size(size, "--target-memory") / per)


def _one_layer(ns: argparse.Namespace) -> str:
    from paramcount.build import layer

    config, bare = parse_assignments(ns.args, "argument")
    shapes = [parse_shape(s) for s in ns.input_shape or []]
    shape: Any = None if not shapes else shapes[0] if len(shapes) == 1 else shapes
    ns.flops = ns.flops or bool(shapes)  # an input shape given: its forward pass too
    return _emit(layer(ns.type, *bare, framework=ns.framework, **config).count(shape), ns)


def _zoo(ns: argparse.Namespace) -> str:
    if ns.name is None:
        from paramcount import zoo

        return zoo.listing()
    from paramcount.sources import summarize

    options = source_options(ns)
    if ns.no_top:
        options["head"] = "base"
    return _emit(summarize(f"zoo:{ns.name}", **options), ns)


def _list_layers(ns: argparse.Namespace) -> str:
    from paramcount.layers import registered_names

    names = registered_names()
    width = max(len(n) for n in names)
    lines = [f"{len(names)} layer types (canonical name, then every name it answers to):"]
    for canonical in sorted(names, key=str.lower):
        aliases = [a for a in names[canonical] if a != canonical]
        lines.append(f"  {canonical.ljust(width)}  {', '.join(aliases)}".rstrip())
    return "\n".join(lines)
