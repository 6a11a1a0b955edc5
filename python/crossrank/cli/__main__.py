"""``python -m crossrank.cli``: the same as the ``crossrank`` command."""

import sys

from crossrank.cli import main

sys.exit(main())
