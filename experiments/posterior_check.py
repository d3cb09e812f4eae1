"""Posterior predictive check of a calibration (sim.studies.calibrate.predictive).

    python experiments/posterior_check.py results/calibrate/calibrate_joint --workers 2
    python experiments/posterior_check.py docs/validation/calibration_joint --draws 200

Runs the calibration's model at posterior draws (each draw replicated as the calibration
replicated its points) and writes, to --out (default: the calibration's folder),
``predictive.csv`` (per fitted and held-out target: the predictive median and 5-95% of the
draws' patterns, the share of draws inside the observed interval, whether the intervals
overlap) and ``predictive_runs.csv`` (every run), and prints the table.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from sim.core.errors import InputError
from sim.io.output import atomic_write
from sim.studies.calibrate.predictive import SEED, predictive_check, summarise


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("calibration", type=Path, help="a calibration's folder (calibration.json "
                   "and posterior_draws.csv)")
    p.add_argument("--draws", type=int, default=100, help="posterior draws run (default 100)")
    p.add_argument("--reps", type=int, default=None,
                   help="runs per draw (default: the calibration's replicates)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(".cache/numba").resolve()))
    try:
        runs, cal = predictive_check(a.calibration, draws=a.draws, replicates=a.reps,
                                     seed=a.seed, workers=a.workers)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = summarise(runs, cal)
    out = a.out or a.calibration
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "predictive_runs.csv", runs.to_csv(index=False, float_format="%.6g"))
    atomic_write(out / "predictive.csv", table.to_csv(index=False, float_format="%.4g"))
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.round(4).to_string(index=False))
    print(f"written: {out / 'predictive.csv'}, {out / 'predictive_runs.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
