"""Studies built on the model: one run, replicated comparisons, cost-effectiveness, robustness,
reports, parameter sweeps and calibration."""
