"""Calibration by pattern-oriented modelling: ``clustersim calibrate EXPERIMENT.toml``.

- :mod:`sim.measure.patterns`: pure pattern functions of a run's outputs;
- :mod:`sim.studies.sweep.patterns`: the sweep model ``patterns`` that runs a scenario and
  reports its patterns as final outcomes (registered in :mod:`sim.studies.sweep.models`);
- :mod:`sim.studies.calibrate.targets`: the observed targets
(``sim/data/calibration_targets.toml``);
- :mod:`sim.studies.calibrate.abc`: distances, ABC rejection and posterior summaries;
- :mod:`sim.studies.calibrate.npe`: neural posterior estimation with ``sbi`` and its checks
  (coverage, simulation-based calibration, recovery) on held-out pairs;
- :mod:`sim.studies.calibrate.posterior`: the ``[posterior]`` methods' draws and summaries;
- :mod:`sim.studies.calibrate.run`: the calibration file, the pipeline and its outputs.

Importing this package runs and writes nothing. See docs/calibration.md.
"""
