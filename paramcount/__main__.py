"""``python -m paramcount``."""

import sys

from paramcount.cli import main

sys.exit(main())
