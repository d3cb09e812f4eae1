"""clustersim: an agent-based simulator of MSME cluster formation and cluster policy.

Importing the package computes and writes nothing. The main entry points:

- :class:`sim.model.ClusterModel`, the Mesa model;
- :func:`sim.scenario.load_scenario`, reading a scenario file;
- :func:`sim.api.simulate`, one run of a scenario returning its series and final outcomes.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("msme-clustersim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
