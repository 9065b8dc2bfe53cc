"""How a summary is shown, apart from what it counts.

A :class:`~paramcount.model.Summary` is facts: the tree, its weights, its totals. A
:class:`View` says how to show them: how deep, whether identical blocks fold into one row, which
columns, at which dtype, how wide. The command line builds one from its options; every renderer
takes one; a summary keeps a default view (``summarize(..., depth=2)``, a live model's measured
forward pass) that its own ``print``, notebook and rich hooks use.

>>> import paramcount
>>> s = paramcount.summarize({"input_shape": [4], "layers": [{"Dense": 2}]})
>>> print(s.render("markdown", View(trainable=True)).splitlines()[2])
| Layer (type) | Output Shape | Param # | Trainable |
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from paramcount.dtypes import dtype_name


@dataclass(frozen=True)
class View:
    """Display settings; none of them changes a count."""

    #: rows down to this depth (None: every level; totals never change)
    depth: int | None = None
    #: a group of identical blocks shows its first block once, marked ×N
    fold: bool = True
    #: a Trainable column (Y, N or partly), as Keras's ``show_trainable``
    trainable: bool = False
    #: MACs and FLOPs columns for a forward pass of (sequence length or None, batch)
    compute: tuple[int | None, int] | None = None
    #: sizes at this dtype instead of the stored (or declared) one: ``--dtype bf16``
    dtype: str | None = None
    #: the terminal's width in characters: a table wider than it wraps its name column
    width: int | None = None
    #: colours and box drawing (rich) instead of plain aligned text
    color: bool = False

    def __post_init__(self) -> None:
        if self.dtype is not None:  # bf16, torch.bfloat16, ... -> bfloat16
            object.__setattr__(self, "dtype", dtype_name(self.dtype))

    def but(self, **changes: Any) -> View:
        """This view with some settings changed.

        >>> View(depth=2).but(trainable=True)
        View(depth=2, fold=True, trainable=True, compute=None, dtype=None, width=None, color=False)
        """
        return replace(self, **changes)
