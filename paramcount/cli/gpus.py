"""``paramcount gpus``: the GPU catalog ``paramcount memory --gpu NAME`` reads, with each
row's datasheet."""

from __future__ import annotations

from paramcount.cli.options import Parser


def _parser() -> Parser:
    return Parser(prog="paramcount gpus", description="The GPUs --gpu knows: memory, "
                  "bandwidth, dense peak FLOPS, and the datasheet of each.")


def run(args: list[str]) -> str:
    """Parse ``args`` (none) and return the catalog as a table."""
    from paramcount.memory.gpus import listing

    _parser().parse_args(args)
    return listing()
