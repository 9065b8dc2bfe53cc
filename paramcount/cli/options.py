"""What every command's parser shares: a parser whose errors are one line, the options that
name a source (``--set``, ``--head``, ``--framework``), ``--format``, and the readers of
command-line values and shapes."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any

from paramcount.errors import SpecError
from paramcount.quoting import decimal, quote

FRAMEWORKS = ("keras", "pytorch", "tensorflow", "torch")
#: a parser or a group of its options
Arguments = argparse.ArgumentParser | argparse._ArgumentGroup
_INT_LIST = re.compile(r"^-?[0-9]{1,4000}(,-?[0-9]{1,4000})+$")


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors raise instead of exiting, so they print as one line."""

    def error(self, message: str) -> Any:
        raise SpecError(message)


def source_arguments(p: Arguments, what: str = "the model") -> None:
    """``--set``, ``--head`` and ``--framework``: how the front door reads a source."""
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help=f"override a parameter of {what} (a model file's, a zoo entry's, a "
                        "config.json field)")
    p.add_argument("--head", choices=("base",), default=None,
                   help="Hugging Face config or zoo entry: `base` counts the bare backbone "
                        "(no LM or classification head)")
    framework_argument(p)


def limit_arguments(p: argparse.ArgumentParser) -> None:
    """The "limits" group: one ``--max-...`` option per row of the budget
    (:data:`paramcount.budget.LIMITS`), each raising its limit."""
    from paramcount.budget import LIMITS

    group = p.add_argument_group("limits (a hostile or huge input is refused at these; "
                                 "raise one to let a large input through)")
    for row in LIMITS:
        group.add_argument(row.flag, dest=f"limit_{row.name}", type=_positive_int,
                           default=None, metavar="N",
                           help=f"{row.what} (default {row.default:,})")


def limit_options(ns: argparse.Namespace) -> dict[str, Any]:
    """``{"limits": Limits(...)}`` from :func:`limit_arguments`'s options that were given."""
    from paramcount.budget import LIMITS, Limits

    given: dict[str, Any] = {row.name: getattr(ns, f"limit_{row.name}", None)
                             for row in LIMITS}
    given = {k: v for k, v in given.items() if v is not None}
    return {"limits": Limits.of(given)} if given else {}


def _positive_int(text: str) -> int:
    text = text.strip().replace("_", "").replace(",", "")
    if not (text.isascii() and text.isdigit()) or len(text) > 30 or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text[:40]!r}")
    return int(text)


def framework_argument(p: Arguments) -> None:
    p.add_argument("--framework", choices=FRAMEWORKS, default=None,
                   help="count in this framework's convention")


def format_argument(p: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    p.add_argument("--format", "-f", choices=formats, default="table",
                   help="output format (default: table)")


def source_options(ns: argparse.Namespace) -> dict[str, Any]:
    """The front door's options from :func:`source_arguments`."""
    params, bare = parse_assignments(ns.set, "--set")
    if bare:
        raise SpecError(f"--set {quote(bare[0])}: expected NAME=VALUE")
    return {"params": params, "framework": ns.framework, "head": ns.head, **limit_options(ns)}


def parse_value(text: str) -> Any:
    """A command-line value: ``3`` -> 3, ``3,3`` -> [3, 3], ``true`` -> True, ``relu`` -> 'relu'.

    >>> parse_value("3,3"), parse_value("false"), parse_value("same"), parse_value("0.5")
    ([3, 3], False, 'same', 0.5)
    """
    if _INT_LIST.match(text):
        return [int(v) for v in text.split(",")]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    if text[:1] in "[{":
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            raise SpecError(f"cannot read the value {quote(text)}") from None
    return text


def positive_number(text: str) -> float:
    """A positive, finite number from the command line (``nan`` and ``inf`` are neither).

    >>> positive_number("1.5")
    1.5
    """
    value = float(text)  # a ValueError: argparse says the value is invalid
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def parse_shape(text: str) -> tuple[int | None, ...]:
    """``28,28,1`` (or ``28x28x1``) -> (28, 28, 1); ``None`` or ``?`` for an unknown dimension.

    >>> parse_shape("28x28x1"), parse_shape("None,16")
    ((28, 28, 1), (None, 16))
    """
    dims: list[int | None] = []
    for part in re.split(r"[,x×]", text.strip().strip("()[]")):
        part = part.strip()
        if part.lower() in ("none", "?"):
            dims.append(None)
        elif (n := decimal(part)) is not None and n > 0:
            dims.append(n)
        else:
            raise SpecError(f"--input-shape {quote(text, 100)}: {quote(part, 100)} is not a "
                            "positive integer")
    return tuple(dims)


def parse_assignments(items: Sequence[str], what: str) -> tuple[dict[str, Any], list[Any]]:
    """``NAME=VALUE`` items as a dict, and the bare values in order."""
    named: dict[str, Any] = {}
    bare: list[Any] = []
    for item in items:
        key, eq, value = item.partition("=")
        if eq:
            if not key.isidentifier():
                raise SpecError(f"{what} {quote(item)}: {quote(key)} is not an argument name")
            named[key] = parse_value(value)
        else:
            bare.append(parse_value(item))
    return named, bare
