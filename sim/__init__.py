"""clustersim: an agent-based simulator of MSME cluster formation and cluster policy.

Importing the package computes and writes nothing. The main entry points:

- :class:`sim.model.ClusterModel`, the Mesa model;
- :func:`sim.scenario.load_scenario`, reading a scenario file;
- :func:`sim.api.simulate`, one run of a scenario returning its series and final outcomes.
"""

import os
from importlib.metadata import PackageNotFoundError, version

# Numba's OpenMP threads otherwise spin after each parallel kernel, taking the core the serial
# parts of the step need (measured: 2 threads ran 1.6x slower than 1). Set before numba starts
# its thread pool; a value the user chose is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

try:
    __version__ = version("msme-clustersim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
