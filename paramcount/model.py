"""The answer: a :class:`Summary` of a model tree (:mod:`paramcount.tree`) with its totals, its
statistics (FLOPs, the scaling-law N) and the view it prints itself with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from paramcount.dtypes import DTYPE_BYTES
from paramcount.flops import Flops, count_macs
from paramcount.layers import Weight
from paramcount.layers.base import KERAS
from paramcount.tree import Node, Row, tree_rows
from paramcount.view import View


@dataclass
class Summary:
    """The answer: a model tree with totals, rows, explanations and a JSON form.

    >>> import paramcount
    >>> s = paramcount.layer("Dense", units=2).count((4,))
    >>> (s.total_params, s.trainable_params, s.non_trainable_params)
    (10, 10, 0)
    """

    root: Node
    source: str
    framework: str = KERAS
    dtype: str = "float32"
    meta: dict[str, Any] = field(default_factory=dict)
    #: further counts a source computes, shown after the totals ("Non-embedding params")
    figures: dict[str, int] = field(default_factory=dict)
    #: sentences shown under the totals ("built by transformers on the meta device in 2.1 s")
    notes: list[str] = field(default_factory=list)
    #: how the summary shows itself when printed (``print``, notebooks, rich); renderers take
    #: any view (:mod:`paramcount.view`)
    view: View = field(default_factory=View)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def total_params(self) -> int:
        return self.root.params

    @property
    def trainable_params(self) -> int:
        return self.root.trainable_params

    @property
    def non_trainable_params(self) -> int:
        return self.root.non_trainable_params

    @property
    def buffers(self) -> int:
        return self.root.buffers

    @property
    def bytes_per_param(self) -> float:
        return DTYPE_BYTES[self.dtype]

    def bytes(self, count: int | None = None, dtype: str | None = None) -> int:
        """Bytes taken by ``count`` parameters (default: all) at ``dtype`` (default: the
        model's)."""
        n = self.total_params if count is None else count
        return int(n * DTYPE_BYTES[dtype or self.dtype])

    @property
    def unknown_layers(self) -> dict[str, int]:
        """Layer types that were not understood (and not counted), with how often each occurs."""
        tally: dict[str, int] = {}
        for _, node, times in self.root.walk_times():
            if node.unknown:
                tally[node.type] = tally.get(node.type, 0) + times
        return tally

    @property
    def lower_bound(self) -> bool:
        """True when some layers were not counted: the totals are then lower bounds."""
        return bool(self.unknown_layers)

    def by_dtype(self) -> dict[str, tuple[int, int | None]]:
        """Stored dtype -> (elements, bytes) over every weight whose dtype is known."""
        out: dict[str, tuple[int, int | None]] = {}
        for w, times in self.root.weights_times():
            if w.dtype is None:
                continue
            n, b = out.get(w.dtype, (0, 0))
            out[w.dtype] = (n + w.size * times,
                            None if b is None or w.nbytes is None else b + w.nbytes * times)
        return out

    def stored_bytes(self, buffers: bool | None = None) -> int | None:
        """Bytes of the weights as stored, when every such weight's size in bytes is known:
        all of them (``buffers=None``), the parameters only (False) or the buffers only (True).
        """
        weights = [(w, times) for w, times in self.root.weights_times()
                   if buffers is None or w.buffer == buffers]
        if not weights or any(w.nbytes is None for w, _ in weights):
            return None
        return sum((w.nbytes or 0) * times for w, times in weights)

    @cached_property
    def layers(self) -> list[Node]:
        """The top-level rows."""
        return self.root.children

    def rows(self, depth: int | None = None, fold: bool | None = None) -> list[Row]:
        """The rows of a table down to ``depth`` (None: the view's depth, or all levels);
        totals never change.

        With ``fold`` (default: the view's), a repeated group of identical blocks shows its
        first block once, marked with how many it stands for.
        """
        return tree_rows(self.root, self.view.depth if depth is None else depth,
                         self.view.fold if fold is None else fold)

    def flops(self, seq_len: int | None = None, batch: int | None = None) -> Flops:
        """Forward MACs and FLOPs for ``batch`` samples with unknown dimensions set to
        ``seq_len``; both default to the forward pass of the summary's view (a live model's
        measured pass), else batch 1; see :mod:`paramcount.flops`.

        >>> import paramcount
        >>> f = paramcount.layer("Conv2D", filters=2, kernel_size=3).count((28, 28, 1)).flops()
        >>> f.macs, f.flops
        (12168, 24336)
        """
        default_seq, default_batch = self.view.compute or (None, 1)
        key = (default_seq if seq_len is None else seq_len,
               default_batch if batch is None else batch)
        cache = self.__dict__.setdefault("_flops", {})
        if key not in cache:
            cache[key] = count_macs(self.root, *key)
        result: Flops = cache[key]
        return result

    def scaling_params(self) -> tuple[int, str]:
        """The N of the scaling-law estimates (2·N forward, 6·N training FLOPs per token), and
        what it is: the non-embedding parameters when a source knows them, and of a mixture
        of experts only those a token passes through; else all parameters.

        >>> import paramcount
        >>> paramcount.summarize("zoo:gpt2").scaling_params()
        (85056000, 'non-embedding params')
        """
        total = self.total_params
        if "Non-embedding params" not in self.figures:
            return total, "params"
        n = self.figures["Non-embedding params"]
        active = self.figures.get("Active params per token")
        if active is None:
            return n, "non-embedding params"
        return active - (total - n), "active non-embedding params"

    def weights(self) -> list[tuple[str, Weight]]:
        """Every owned weight with its dotted path, parameters and buffers (the block of a
        folded group once; its weights count ``repeat`` times in the totals)."""
        return list(self.root.all_weights())

    def render(self, fmt: str = "table", view: View | None = None, **changes: Any) -> str:
        """The summary as text in a format of :data:`paramcount.report.FORMATS` (or
        ``explain``), shown as ``view`` says (default: the summary's own), with ``changes``
        to it (``depth=2``, ``trainable=True``).

        >>> import paramcount
        >>> s = paramcount.summarize({"input_shape": [4], "layers": [{"Dense": 2}]})
        >>> s.render("csv").splitlines()[1]
        '1,dense,Dense,"(None, 2)",10,10,0,0,1,1'
        """
        from paramcount.report import render

        return render(self, fmt, (view or self.view).but(**changes))

    def explain(self) -> str:
        """The work shown: each layer's weight shapes, products and closed form."""
        return self.render("explain")

    def _repr_html_(self) -> str:
        """The treemap (static SVG, no script) above the summary's HTML table, which Jupyter
        shows for a summary in a cell."""
        from paramcount.report.svg import summary_svg

        return "\n".join(filter(None, (summary_svg(self), self.render("html"))))

    def plot(self, seq_len: int | None = None) -> Any:
        """The treemap of ``paramcount report`` (with the table beside it), which a notebook
        shows in a cell; FLOPs of a forward pass of ``seq_len`` tokens."""
        from paramcount.report.page import Plot, summary_page

        return Plot(summary_page(self, seq_len))

    def __rich__(self) -> Any:
        """The summary as a rich table (``rich.print(summary)``); rich calls this, so it is
        imported only when present."""
        from paramcount.report.table import rich_summary

        return rich_summary(self, self.view)

    def __str__(self) -> str:
        return self.render("table", color=False)

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        """The ``paramcount/1`` JSON document (see README, "JSON schema")."""
        from paramcount.report.json import to_dict

        return to_dict(self, self.view if depth is None else self.view.but(depth=depth))
