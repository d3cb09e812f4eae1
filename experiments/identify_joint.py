"""Identification screen for the joint calibration (issue 19): which candidate parameters can
the fitted patterns pin down?

A Latin hypercube over the candidate free parameters (the size and growth ones of
experiments/calibrate_default.toml and the policy mechanisms) on scenarios/cfc.toml, the generic
cluster offered the MSE-CDP CFC, is run through `clustersim calibrate` (rule "quantile": the
acceptance does not matter here, only the patterns of every point). Then, for each parameter,
an out-of-sample R^2 of a regression of the parameter (scaled to its prior range) on the FITTED
patterns: a quadratic least-squares fit (linear, squared and pairwise terms, small ridge), with
5-fold cross-validation, and, when scikit-learn is installed, a gradient-boosting regression
too. A parameter whose fitted patterns predict it out of sample (R^2 >= 0.3 by either) is
identified and can be freed; the others are fixed at their defaults. The rule was set before
the screen was run (docs/validation.md, "Joint calibration: design").

    python experiments/identify_joint.py --workers 2                 # about 5 minutes
    python experiments/identify_joint.py --workers 2 --analyse-only  # redo the table

Writes OUT/screen.toml (the calibration file it runs), OUT/calibrate/ (the calibration's
outputs, runs in OUT/calibrate/sweep), OUT/identification.csv (one row per parameter) and
OUT/localisation.csv (Spearman correlations of the localisation elasticity with every pattern).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: candidate free parameters: name -> (low, high, default at scenarios/cfc.toml)
CANDIDATES: dict[str, tuple[float, float, float]] = {
    # size, growth and turnover (the ranges of experiments/calibrate_default.toml)
    "growth_sd": (0.02, 0.07, 0.042),
    "growth_sd_size_elasticity": (0.0, 0.45, 0.24),
    "productivity_reversion": (0.01, 0.08, 0.027),
    "fixed_cost": (0.06, 0.25, 0.091),
    "entry_rate": (0.003, 0.012, 0.0068),
    "spinoff_prob": (0.0, 0.005, 0.0047),
    "exit_patience": (4, 9, 9),
    "size_tail": (1.3, 2.2, 2.07),
    "adjustment_band": (0.03, 0.3, 0.19),
    "talent_uncertainty": (0.3, 0.8, 0.65),
    "talent_learning": (0.04, 0.2, 0.12),
    "death_rate": (0.0, 0.006, 0.0045),
    # the policy mechanisms
    "supplier_capacity": (0.5, 2.0, 1.0),
    "supplier_expansion": (0.01, 0.15, 0.05),
    "localisation_elasticity": (0.02, 0.08, 0.08),
    "interventions.cfc.effect": (0.04, 0.25, 0.12),
    "interventions.cfc.capacity": (40.0, 200.0, 100.0),
    "pledge_threshold_mean": (0.8, 1.5, 1.15),
    "wage_density_elasticity": (0.0, 0.2, 0.1),
    "rent_density_elasticity": (0.3, 2.0, 1.0),
}
#: the patterns the joint calibration fits (target keys) and those it holds out
FIT = ["micro_share", "zipf_exponent", "growth_mad_sd", "entry_rate", "exit_rate",
       "net_entry_rate", "cfc_user_productivity_gain", "cfc_completion_2y"]
HOLD_OUT = ["mean_size", "growth_kurtosis", "exit_hazard_young_old", "growth_sd_size_slope"]
#: R^2 out of sample from which a parameter counts as identified (set before the screen)
IDENTIFIED = 0.3


def screen_toml(samples: int, replicates: int, steps: int, seed: int) -> str:
    lines = [
        "# Written by experiments/identify_joint.py: the identification screen's design.",
        "[calibration]", 'name = "identify_joint"',
        'description = "identification screen of the joint calibration (issue 19)"',
        f'scenario = "{(ROOT / "scenarios" / "cfc.toml").as_posix()}"',
        f"steps = {steps}", "burn_in = 60", "growth_window = 12", "",
        "[overrides]", "talent_sd = 0.0", "",
        "[design]", 'method = "lhs"', f"samples = {samples}", f"replicates = {replicates}",
        f"seed = {seed}", ""]
    for name, (lo, hi, _) in CANDIDATES.items():
        lines += ["[[parameters]]", f'name = "{name}"', f"range = [{lo}, {hi}]", ""]
    lines += ["[patterns]", f"fit = {FIT!r}".replace("'", '"'),
              f"hold_out = {HOLD_OUT!r}".replace("'", '"'), "",
              "[acceptance]", 'rule = "quantile"', "quantile = 0.05", ""]
    return "\n".join(lines)


def _features(x: np.ndarray) -> np.ndarray:
    """Linear, squared and pairwise terms of standardised patterns, with an intercept."""
    z = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    k = z.shape[1]
    cols = [np.ones(len(z)), *z.T, *(z.T ** 2)]
    cols += [z[:, i] * z[:, j] for i in range(k) for j in range(i + 1, k)]
    return np.column_stack(cols)


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


def r2_quadratic(x: np.ndarray, y: np.ndarray, seed: int, ridge: float = 1e-3) -> float:
    """Out-of-sample R^2 (5-fold) of a quadratic ridge regression of y on x."""
    f = _features(x)
    pred = np.empty_like(y)
    for test in _folds(len(y), 5, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        a = f[train]
        coef = np.linalg.solve(a.T @ a + ridge * len(train) * np.eye(a.shape[1]),
                               a.T @ y[train])
        pred[test] = f[test] @ coef
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def r2_boosting(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    """Out-of-sample R^2 (5-fold) of a gradient-boosting regression; NaN without sklearn."""
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
    except ImportError:
        return float("nan")
    pred = np.empty_like(y)
    for test in _folds(len(y), 5, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        m = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05,
                                          random_state=seed).fit(x[train], y[train])
        pred[test] = m.predict(x[test])
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def analyse(out: Path, seed: int) -> pd.DataFrame:
    from sim.studies.calibrate.run import load_calibration

    cal = load_calibration(out / "screen.toml")
    table = pd.read_csv(out / "calibrate" / "patterns.csv")
    table = table[table["runs_ok"] > 0].reset_index(drop=True)
    pattern = {t.key: t.pattern for t in (*cal.fit, *cal.hold_out)}
    x = table[[pattern[k] for k in FIT]].to_numpy(dtype=np.float64)
    # the users' gain is NaN where no CFC operated 36 months before the end: 0 there, and
    # completion within 24 months says which points those are
    formed = np.isfinite(x).all(axis=1)
    x = np.where(np.isfinite(x), x, 0.0)
    rows = []
    for p in cal.parameters:
        lo, hi, default = CANDIDATES[p.name]
        y = (table[p.column].to_numpy(dtype=np.float64) - lo) / (hi - lo)
        q = r2_quadratic(x, y, seed)
        b = r2_boosting(x, y, seed)
        best = np.nanmax([q, b])
        rows.append({"parameter": p.name, "low": lo, "high": hi, "default": default,
                     "r2_quadratic": round(q, 3), "r2_boosting": round(b, 3),
                     "identified": bool(best >= IDENTIFIED)})
    res = pd.DataFrame(rows)
    res.attrs["points"] = len(table)
    res.attrs["cfc_operating_share"] = float(formed.mean())
    res.to_csv(out / "identification.csv", index=False)
    loc = [c for c in table.columns if "localisation" in c][0]
    cols = [c for c in table.columns if c not in ("point", "runs_ok", "distance", "within_all",
                                                  "accepted") and c not in
            [p.column for p in cal.parameters]]
    corr = [{"pattern": c, "spearman": round(float(stats.spearmanr(
        table[loc], table[c], nan_policy="omit").statistic), 3)} for c in cols]
    pd.DataFrame(corr).to_csv(out / "localisation.csv", index=False)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--samples", type=int, default=1600)
    ap.add_argument("--replicates", type=int, default=1)
    ap.add_argument("--steps", type=int, default=240)
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "identify_joint")
    ap.add_argument("--analyse-only", action="store_true")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    if not a.analyse_only:
        (a.out / "screen.toml").write_text(screen_toml(a.samples, a.replicates, a.steps,
                                                       a.seed))
        from sim.studies.calibrate.run import calibrate

        calibrate(a.out / "screen.toml", a.out / "calibrate", workers=a.workers)
    res = analyse(a.out, a.seed)
    print(f"{res.attrs['points']} points; a CFC operated long enough to measure its users in "
          f"{res.attrs['cfc_operating_share']:.0%} of them")
    print(res.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
