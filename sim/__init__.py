"""clustersim: an agent-based simulator of MSME cluster formation and cluster policy.

The public API, at the package root (each name is imported when first used, so ``import sim``
stays light and computes, writes and sets nothing):

- :class:`ClusterModel`, the Mesa model (:mod:`sim.model`);
- :class:`Params` and :class:`World`, its parameters and landscape (:mod:`sim.core`);
- :func:`load_scenario`, reading a scenario file (:mod:`sim.io.scenario`);
- :func:`simulate` and :func:`simulate_many`, runs of a scenario returning their series and
  final outcomes (:mod:`sim.studies.simulate`);
- :class:`InputError`, what bad input raises (one line, exit code 2 from the command line).

The numba cache folder is chosen for the package's own kernels (:mod:`sim.core.compiling`), and
the entry points (``clustersim``, the app, pytest) make their process settings with
:func:`sim.core.compiling.configure`.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("msme-clustersim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

#: Where each public name lives.
_PUBLIC = {
    "ClusterModel": "sim.model",
    "Params": "sim.core.params",
    "World": "sim.core.world",
    "load_scenario": "sim.io.scenario",
    "simulate": "sim.studies.simulate",
    "simulate_many": "sim.studies.simulate",
    "InputError": "sim.core.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
