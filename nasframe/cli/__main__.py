"""``python -m nasframe.cli``: the same command line as ``nasframe``."""

import sys

from nasframe.cli import main

sys.exit(main())
