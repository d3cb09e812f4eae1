"""clustersim: an agent-based simulator of MSME cluster formation and cluster policy.

Importing the package computes and writes nothing. The main entry points:

- :class:`sim.model.ClusterModel`, the Mesa model;
- :func:`sim.io.scenario.load_scenario`, reading a scenario file;
- :func:`sim.studies.simulate.simulate`, one run of a scenario returning its series and final
outcomes.
"""

import os
from importlib.metadata import PackageNotFoundError, version

# How numba's OpenMP worker threads wait between parallel kernels: they spin for this many
# iterations (tens of microseconds), then sleep. A step runs some thirty kernels with short
# serial gaps between them; sleeping at once made every kernel pay ~60 us to wake a worker, and
# libgomp's default spin (300,000 iterations) kept idle workers burning the core the serial
# parts needed. Measured at 100,000 firms on 2 threads: 1.46x the one-thread speed sleeping at
# once, 1.70x with this (docs/performance.md). Runs on one thread never spin. Set before numba
# starts its thread pool; values the user chose (this or OMP_WAIT_POLICY) are kept.
os.environ.setdefault("GOMP_SPINCOUNT", "30000")

# One numba cache folder for every entry point (make, clustersim, python, pytest, the app), so
# kernels compiled once are loaded everywhere after: NUMBA_CACHE_DIR if set, else the project's
# .cache/numba (as the Makefile sets) or a per-user folder (sim.core.compiling). Set before numba is
# imported; nothing is written until numba caches a kernel.
if not os.environ.get("NUMBA_CACHE_DIR"):
    from sim.core.compiling import cache_dir as _cache_dir

    os.environ["NUMBA_CACHE_DIR"] = str(_cache_dir())

try:
    __version__ = version("msme-clustersim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
