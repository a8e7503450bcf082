"""``python -m cryptochat``: the same as the ``cryptochat`` command."""

import sys

from .cli import main

sys.exit(main())
