"""paramcount: how many parameters a model has, where they are, and why.

>>> import paramcount
>>> paramcount.layer("Dense", units=2).count((4,)).total_params
10
"""

from paramcount.build import layer
from paramcount.comparison import Diff, diff
from paramcount.errors import ParamcountError
from paramcount.model import Summary
from paramcount.scan import scan
from paramcount.sources import summarize
from paramcount.view import View

__version__ = "0.1.0"
__all__ = ["Diff", "ParamcountError", "Summary", "View", "__version__", "diff", "layer",
           "scan", "summarize"]
