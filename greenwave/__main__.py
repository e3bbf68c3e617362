"""``python -m greenwave``: the same as the ``greenwave`` console script."""

import sys

from greenwave.cli.main import main

sys.exit(main())
