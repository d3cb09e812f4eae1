"""The posterior a calibration reports, as draws: ``[posterior]`` of the calibration file.

- ``method = "rejection"`` (also without ``[posterior]``): the accepted design points of ABC
  rejection (:mod:`sim.studies.calibrate.abc`) are the draws;
- ``method = "npe"``: neural posterior estimation with ``sbi`` on every run of the design
  (:mod:`sim.studies.calibrate.npe`), conditioned on the fitted targets' values (observations
  and requirements alike), with coverage, simulation-based calibration and recovery measured on
  held-out design points.

The draws are in the parameters' own units, one column per free parameter named as in the
calibration file's ``[[parameters]]``. An integer parameter is learnt as the continuous value
the design rounded (:func:`dequantise`) and its draws are rounded. Both methods flag a
parameter whose 5% or 95% quantile lies within 2% of the prior's width of its edge
(``at_prior_edge``): the prior then cuts the posterior off, and the range should be widened.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.studies.calibrate import npe

__all__ = ["METHODS", "PAIRS", "MISSING", "MIN_PAIRS", "attach", "to_unit", "from_unit",
           "edge_flag", "rejection_draws", "npe_posterior", "DRAWS_FILE"]

METHODS = ("npe", "rejection")
#: What one training pair of NPE is: one run, or one design point with its patterns averaged
#: over its replicates (the model's counterpart of a share observed over many projects, such
#: as the share of CFCs completed, is a probability, which a point's mean estimates; a single
#: run gives only 0 or 1).
PAIRS = ("runs", "points")
#: What NPE does with a pair missing a fitted pattern: drop it, or mark the pattern as not
#: measured (:func:`_mark_missing`).
MISSING = ("drop", "mark")
#: Fewest finite (theta, x) pairs NPE trains on.
MIN_PAIRS = 50
DRAWS_FILE = "posterior_draws.csv"


def to_unit(p, values) -> np.ndarray:
    """A free parameter's values on the unit scale of its prior (log scale if log-uniform)."""
    v = np.asarray(values, dtype=np.float64)
    if p.distribution == "loguniform":
        return (np.log(v) - np.log(p.low)) / (np.log(p.high) - np.log(p.low))
    return (v - p.low) / (p.high - p.low)


def from_unit(p, u) -> np.ndarray:
    """The inverse of :func:`to_unit`, clipped to the prior range."""
    u = np.asarray(u, dtype=np.float64)
    if p.distribution == "loguniform":
        v = np.exp(np.log(p.low) + u * (np.log(p.high) - np.log(p.low)))
    else:
        v = p.low + u * (p.high - p.low)
    return np.clip(v, p.low, p.high)


def dequantise(p, values, rng: np.random.Generator) -> np.ndarray:
    """An integer parameter's values on the unit scale, each spread uniformly over the cell of
    the prior that the design rounded to it (``[v - 0.5, v + 0.5]`` within the range): the
    design draws a continuous value and rounds it, so this restores a uniform draw, and no
    value sits exactly on an edge of the box (where the flow's logit is infinite)."""
    v = np.asarray(values, dtype=np.float64)
    lo = to_unit(p, np.maximum(v - 0.5, p.low))
    hi = to_unit(p, np.minimum(v + 0.5, p.high))
    return lo + rng.uniform(0.0, 1.0, v.shape) * (hi - lo)


def edge_flag(p, q05: float | None, q95: float | None) -> bool | None:
    """:func:`sim.studies.calibrate.npe.at_prior_edge` of natural-scale quantiles."""
    if q05 is None or q95 is None:
        return None
    return npe.at_prior_edge(float(to_unit(p, q05)), float(to_unit(p, q95)))


def _frame(cal, values: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(values.values()))) if values else 0
    cols: dict[str, Any] = {"draw": np.arange(n, dtype=np.int64)}
    for p in cal.parameters:
        v = np.asarray(values[p.column], dtype=np.float64)
        cols[p.name] = np.rint(v).astype(np.int64) if p.integer else v
    return pd.DataFrame(cols)


def rejection_draws(cal, table: pd.DataFrame) -> pd.DataFrame | None:
    """The accepted design points as draws (``None`` when none was accepted)."""
    acc = table.loc[table["accepted"].to_numpy(dtype=bool)]
    if not len(acc):
        return None
    return _frame(cal, {p.column: acc[p.column].to_numpy() for p in cal.parameters})


def _point_means(cal, ok: pd.DataFrame, xcols: list[str]) -> pd.DataFrame:
    """One row per design point: its parameters and the mean of each pattern over the
    replicates where the pattern was measured (NaN where it never was)."""
    pcols = [p.column for p in cal.parameters]
    with np.errstate(all="ignore"):
        means = ok.groupby("point", sort=True)[xcols].mean()  # skips NaN, as nanmean
    first = ok.groupby("point", sort=True)[pcols].first()
    return pd.concat([first, means], axis=1).reset_index()


def _mark_missing(x: np.ndarray, fit) -> tuple[np.ndarray, dict[str, dict[str, float]]]:
    """``missing = "mark"``: a fitted pattern that could not be measured (NaN: no CFC operated
    long enough to compare its users, say) is set to a value below every measured one, four
    interval widths under the lowest, so that NPE learns which parameters leave it unmeasured
    and, the observation being inside its interval, gives them little weight (dropping those
    pairs instead would condition the posterior on the pattern being measurable)."""
    x = x.copy()
    marked: dict[str, dict[str, float]] = {}
    for j, t in enumerate(fit):
        miss = np.isnan(x[:, j])
        seen = x[~miss & np.isfinite(x[:, j]), j]
        if miss.any() and seen.size:
            value = float(seen.min() - 4.0 * (t.high - t.low))
            x[miss, j] = value
            marked[t.key] = {"pairs": int(miss.sum()), "value": value}
    return x, marked


def _quantiles(v: np.ndarray) -> dict[str, float]:
    q05, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
    return {"median": float(q50), "q05": float(q05), "q95": float(q95)}


def npe_posterior(cal, runs: pd.DataFrame) -> tuple[pd.DataFrame | None, dict[str, Any],
                                                    dict[str, dict[str, Any]], np.ndarray | None]:
    """Train NPE on the calibration's runs and sample the posterior at the fitted targets.

    Returns the draws (``None`` when there are too few pairs), the ``inference`` section of
    calibration.json, the per-parameter entries of its ``posterior`` section, and the SBC
    ranks (truths x parameters; ``None`` without held-out points).
    """
    cfg = cal.posterior
    fit = list(cal.fit)
    ok = runs[runs["status"] == "ok"] if len(runs) else runs
    xcols = [t.pattern for t in fit]
    if cfg.get("pairs", "runs") == "points" and len(ok):
        ok = _point_means(cal, ok, xcols)
    x = (ok[xcols].to_numpy(dtype=np.float64) if len(ok)
         else np.empty((0, len(xcols))))
    marked = {}
    if cfg.get("missing", "drop") == "mark" and len(x):
        x, marked = _mark_missing(x, fit)
    finite = np.isfinite(x).all(axis=1)
    noise = np.array([(t.high - t.low) / 4.0 for t in fit])
    info: dict[str, Any] = {
        "method": "npe",
        "library": "sbi (Tejero-Cantero et al. 2020): neural posterior estimation "
                   "(Papamakarios & Murray 2016; Greenberg et al. 2019)",
        "density_estimator": dict(npe.NETWORK), "training": dict(npe.TRAINING),
        "prior": "uniform on each parameter's range (log-uniform ones uniform in the log)",
        "conditioned_on": {
            "observations": {t.key: t.value for t in fit if t.kind == "observation"},
            "requirements": {t.key: t.value for t in fit if t.kind == "requirement"}},
        "measurement_noise_sd": {t.key: float(s) for t, s in zip(fit, noise, strict=True)},
        "measurement_noise": "Gaussian, sd = a quarter of the target's interval (the interval "
                             "is +-2 sd), added to every simulated pattern before training",
        "pairs": {"unit": cfg.get("pairs", "runs"),
                  "runs_ok": int((runs["status"] == "ok").sum()) if len(runs) else 0,
                  "runs_failed": int((runs["status"] != "ok").sum()) if len(runs) else 0,
                  "dropped_missing_pattern": int((~finite).sum()),
                  "missing": cfg.get("missing", "drop"),
                  "marked": marked,
                  "used": int(finite.sum())},
        "draws": cfg["draws"], "holdout": cfg["holdout"], "seed": cfg["seed"],
        "rules": {
            "coverage": "share of held-out truths inside the central 50% and 90% posterior "
                        "intervals (nominal 0.5 and 0.9)",
            "sbc": "Kolmogorov-Smirnov p-value of the uniformity of the truths' ranks among "
                   f"{npe.CHECK_DRAWS} posterior draws each (Talts et al. 2018)",
            "recovery": f"R^2 of the posterior median against the truth on the prior's unit "
                        f"scale: identified >= {npe.IDENTIFIED}, weakly identified >= "
                        f"{npe.WEAKLY}, else not identified",
            "at_prior_edge": f"posterior 5% or 95% quantile within {npe.EDGE:.0%} of the "
                             "prior's width of its edge"}}
    if finite.sum() < MIN_PAIRS:
        unit = "design points" if cfg.get("pairs", "runs") == "points" else "runs"
        info["note"] = (f"{int(finite.sum())} {unit} with every fitted pattern; NPE needs at "
                        f"least {MIN_PAIRS}: no posterior")
        return None, info, {}, None
    okf = ok.loc[finite]
    rng = np.random.default_rng(np.random.SeedSequence([cfg["seed"], 3]))
    theta = np.column_stack([dequantise(p, okf[p.column].to_numpy(), rng) if p.integer
                             else to_unit(p, okf[p.column].to_numpy())
                             for p in cal.parameters])
    result = npe.infer(theta, x[finite], okf["point"].to_numpy(),
                       np.array([t.value for t in fit]), noise, draws=cfg["draws"],
                       holdout=cfg["holdout"], seed=cfg["seed"])
    info["training"] = {**info["training"], **result.training}
    c = result.checks
    info["checks"] = {"truths": c["truths"], "draws_per_truth": c.get("draws_per_truth")}
    if c["truths"] and c["truths"] < 100:
        info["checks"]["note"] = (f"{c['truths']} held-out truths: coverage and SBC are rough "
                                  "below about 100")
    values = {p.column: from_unit(p, result.draws[:, j]) for j, p in enumerate(cal.parameters)}
    draws = _frame(cal, values)
    entries: dict[str, dict[str, Any]] = {}
    for j, p in enumerate(cal.parameters):
        u = result.draws[:, j]
        uq05, uq95 = np.quantile(u, [0.05, 0.95])
        e: dict[str, Any] = {"prior": [p.low, p.high], "distribution": p.distribution,
                             "method": "npe",
                             **_quantiles(draws[p.name].to_numpy(dtype=np.float64)),
                             "at_prior_edge": npe.at_prior_edge(float(uq05), float(uq95))}
        if c["truths"]:
            r2 = float(c["r2"][j])
            e.update(coverage={"central_50": float(c["coverage"]["0.5"][j]),
                               "central_90": float(c["coverage"]["0.9"][j])},
                     sbc={"ks_pvalue": float(c["ks_pvalue"][j])},
                     recovery={"r2": r2, "verdict": npe.verdict(r2)})
        else:
            e.update(coverage=None, sbc=None, recovery=None)
        entries[p.name] = e
    return draws, info, entries, (c["ranks"] if c["truths"] else None)


def attach(cal, runs: pd.DataFrame, table: pd.DataFrame,
           report: dict[str, Any]) -> tuple[pd.DataFrame | None, np.ndarray | None]:
    """The posterior draws of the calibration's method; fills ``report["posterior_draws"]``
    (and, for NPE, replaces ``report["posterior"]`` and ``report["inference"]``)."""
    method = cal.posterior_method
    ranks = None
    if method == "npe":
        draws, info, entries, ranks = npe_posterior(cal, runs)
        rejection = report["posterior"]
        report["inference"] = {**info, "rejection": report["inference"]}
        if entries:
            report["posterior"] = {name: {**e, "rejection": rejection[name]}
                                   for name, e in entries.items()}
        else:
            report["posterior"] = {
                p.name: {"prior": [p.low, p.high], "distribution": p.distribution,
                         "method": "npe", "median": None, "q05": None, "q95": None,
                         "at_prior_edge": None, "coverage": None, "sbc": None,
                         "recovery": None, "rejection": rejection[p.name]}
                for p in cal.parameters}
    else:
        draws = rejection_draws(cal, table)
    report["posterior_draws"] = {
        "file": DRAWS_FILE if draws is not None else None,
        "n": int(len(draws)) if draws is not None else 0, "method": method}
    if draws is None:
        report["posterior_draws"]["note"] = (
            "no accepted points: no draws" if method == "rejection"
            else report["inference"].get("note", "no posterior"))
    return draws, ranks
