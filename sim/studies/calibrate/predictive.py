"""Posterior predictive check of a calibration: run the model at posterior draws and compare
each pattern's predictive distribution with its observed interval.

A posterior is only as good as the model behind it: neural posterior estimation returns a
posterior even where no parameter value reproduces a pattern, and its held-out checks (coverage,
SBC) test the estimator on the model's own synthetic data, not the model against the world.
This check asks the second question (Gelman, Meng & Stern 1996): with parameters drawn from the
posterior, does the model reproduce the observed patterns, the fitted ones and, more tellingly,
the held-out ones?

Each of ``draws`` posterior draws (chosen by :func:`sim.io.posterior.choose_draws` from the
seed) is run ``replicates`` times, with the calibration's scenario, months, fixed overrides and
measurement settings, and the patterns measured as the calibration measured them (the sweep
model ``patterns``). A draw's pattern is the mean over its replicates, as a design point's is.
Seeds derive from the check's seed (:func:`sim.studies.sweep.experiment.run_seed`), so the check
is the same, bit for bit, whatever the number of worker processes.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.errors import InputError
from sim.io.posterior import choose_draws, load_posterior

__all__ = ["predictive_check", "summarise", "calibration_file"]

#: Seed of the check when none is given (the draws and the runs' seeds derive from it).
SEED = 20261207


def calibration_file(cal_dir: Path, report: dict[str, Any]) -> Path:
    """The calibration file a published or fresh calibration was made from: its recorded path,
    absolute or relative to the working directory or the repository (published calibrations
    record it relative to the repository)."""
    rec = (report.get("provenance") or {}).get("calibration_file") or {}
    path = rec.get("path")
    if not path:
        raise InputError(str(cal_dir / "calibration.json"), "provenance.calibration_file",
                         "missing: the calibration file cannot be found")
    p = Path(path)
    root = Path(__file__).resolve().parents[3]
    for cand in (p, Path.cwd() / p, root / p, root / "experiments" / p.name):
        if cand.is_file():
            return cand
    raise InputError(str(cal_dir / "calibration.json"), "provenance.calibration_file.path",
                     f"{path!r} not found (relative to the working directory or the "
                     "repository)")


def _runs(job: tuple[str, int | None, list[int], list[dict[str, Any]]]) -> list[dict]:
    from sim.studies.sweep import patterns as pmodel

    scenario, steps, seeds, overrides = job
    out = []
    for r in pmodel.simulate_many(scenario, steps=steps, seeds=seeds, overrides=overrides):
        if isinstance(r, Exception):
            out.append({"error": f"{type(r).__name__}: {r}"})
        else:
            out.append(dict(r.final))
    return out


def predictive_check(cal_dir: str | Path, *, draws: int = 100, replicates: int | None = None,
                     seed: int = SEED, workers: int = 1) -> tuple[pd.DataFrame, Any]:
    """Run the calibration's model at ``draws`` posterior draws, ``replicates`` times each.

    Returns the runs (one row per run: ``draw``, ``replicate``, ``seed``, the parameters and
    every pattern) and the calibration (:class:`sim.studies.calibrate.run.Calibration`).
    """
    from sim.studies.calibrate.run import _settings_overrides, load_calibration
    from sim.studies.sweep.experiment import run_seed

    cal_dir = Path(cal_dir)
    post = load_posterior(cal_dir)
    report = json.loads((cal_dir / "calibration.json").read_text(encoding="utf-8"))
    cal = load_calibration(calibration_file(cal_dir, report))
    if cal.model != "cluster":
        raise InputError(str(cal_dir), "model", "a predictive check runs the cluster model")
    reps = cal.replicates if replicates is None else int(replicates)
    if draws < 1 or reps < 1:
        raise InputError(str(cal_dir), "draws", "at least one draw and one replicate")
    chosen, _ = choose_draws(post.n, draws, seed)
    fixed = {**cal.overrides, **_settings_overrides(cal)}
    rows, jobs = [], []
    for k, d in enumerate(chosen):
        values = post.draw(int(d))
        seeds = [run_seed(seed, "independent", k, r) for r in range(reps)]
        jobs.append((str(cal.scenario), cal.steps, seeds, [{**fixed, **values}] * reps))
        rows += [{"draw": int(d), "slot": k, "replicate": r, "seed": s, **values}
                 for r, s in enumerate(seeds)]
    if workers <= 1:
        results = [_runs(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_runs, jobs))
    flat = [o for res in results for o in res]
    runs = pd.DataFrame([{**row, **o} for row, o in zip(rows, flat, strict=True)])
    return runs, cal


def summarise(runs: pd.DataFrame, cal) -> pd.DataFrame:
    """Per fitted and held-out target: the predictive median and 5-95% of the draws' patterns
    (means over their replicates), the share of draws within the observed interval, and
    whether the interval overlaps the predictive 5-95% range."""
    per_draw = runs.groupby("slot", sort=True).mean(numeric_only=True)
    out = []
    for role, targets in (("fitted", cal.fit), ("held out", cal.hold_out)):
        for t in targets:
            v = per_draw[t.pattern].to_numpy(dtype=np.float64) if t.pattern in per_draw else \
                np.array([])
            v = v[np.isfinite(v)]
            if v.size:
                q05, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
                within = float(np.mean((v >= t.low) & (v <= t.high)))
            else:
                q05 = q50 = q95 = within = math.nan
            out.append({"target": t.key, "role": role, "kind": t.kind, "observed": t.value,
                        "low": t.low, "high": t.high, "draws_measured": int(v.size),
                        "median": q50, "q05": q05, "q95": q95, "share_within": within,
                        "overlaps": bool(v.size and q05 <= t.high and q95 >= t.low)})
    return pd.DataFrame(out)
