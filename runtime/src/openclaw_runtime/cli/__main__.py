"""``python -m openclaw_runtime.cli``."""

import sys

from . import main

sys.exit(main())
