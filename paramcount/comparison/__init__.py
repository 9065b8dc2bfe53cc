"""Two models compared path by path: what was added, removed or changed, and how the totals
moved (:mod:`~paramcount.comparison.compare`); one side's paths lined up with the other's
(:mod:`~paramcount.comparison.matching`); each path's change
(:mod:`~paramcount.comparison.changes`); the rows a diff shows, grouped and folded
(:mod:`~paramcount.comparison.rows`). :mod:`paramcount.report.diff` writes them out.
"""

from paramcount.comparison.changes import STATUSES, Change
from paramcount.comparison.compare import Diff, Side, compare, diff
from paramcount.comparison.rows import DiffRow

__all__ = ["STATUSES", "Change", "Diff", "DiffRow", "Side", "compare", "diff"]
