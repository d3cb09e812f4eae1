"""Parameter sweeps at scale: experiments, designs, resumable runs, storage and analysis.

Design -> evaluate -> analyse are separate steps joined by one results format (a sweep
directory, see :mod:`sim.studies.sweep.store`):

- :func:`load_experiment` / :func:`new_experiment` / :func:`build_design`
  (:mod:`sim.studies.sweep.experiment`) read or build and validate an experiment (its factors,
  or the policies and futures of a comparison, :mod:`sim.studies.sweep.comparison`) and lay out
  its runs with SALib and ``scipy.stats.qmc``;
- :data:`~sim.studies.sweep.models.MODELS` holds the models a run may evaluate, each declaring
  its version and its outcomes (:mod:`sim.studies.sweep.models`);
- :func:`run_sweep` (:mod:`sim.studies.sweep.runner`) runs what is missing, in this process, on
  local worker processes or on a Dask cluster;
- :func:`analyze` (:mod:`sim.studies.sweep.analysis`) reads the stored results and computes Sobol'
  indices, Morris screening, main effects and phase diagrams.

The engine imports none of the studies built on it (compare, robust, calibrate). Importing this
package runs and writes nothing.
"""

from sim.studies.sweep.experiment import (
    Design,
    Experiment,
    Factor,
    Policy,
    RunSpec,
    build_design,
    load_experiment,
    new_experiment,
)
from sim.studies.sweep.runner import SweepSummary, execute_run, run_sweep
from sim.studies.sweep.store import SweepStore

__all__ = [
    "Design",
    "Experiment",
    "Factor",
    "Policy",
    "RunSpec",
    "SweepStore",
    "SweepSummary",
    "analyze",
    "build_design",
    "execute_run",
    "load_experiment",
    "new_experiment",
    "run_sweep",
]


def analyze(*args, **kwargs):
    """See :func:`sim.studies.sweep.analysis.analyze` (imported lazily: it pulls in matplotlib)."""
    from sim.studies.sweep.analysis import analyze as _analyze

    return _analyze(*args, **kwargs)
