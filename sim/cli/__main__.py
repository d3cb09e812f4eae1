"""``python -m sim.cli``: the same as the ``clustersim`` command."""

import sys

from sim.cli import main

sys.exit(main())
