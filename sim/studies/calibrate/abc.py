"""Approximate Bayesian computation by rejection over a space-filling design.

Every design point (its replicates averaged) gets a distance from the observed patterns:
``d = sqrt(sum_i w_i z_i^2 / sum_i w_i)``, with ``z_i`` the point's value of pattern ``i`` in
half-intervals of its target (:meth:`sim.studies.calibrate.targets.Target.z`), so ``d <= 1``
whenever every fitted pattern lies in its interval. A point with a missing pattern is infinitely
far.

Acceptance (Beaumont, Zhang & Balding 2002 describe rejection with a tolerance on the distance):

- ``"tolerance"``: every fitted pattern lies within its interval (the pattern-oriented rule of
  Grimm et al. 2005: a parameter set must reproduce all patterns at once);
- ``"quantile"``: the share ``quantile`` of points with the smallest distance;
- ``"both"``: within tolerance and among that best share.

With a uniform prior over the design's ranges, the accepted points are a sample of the
approximate posterior; :func:`summarise` reports their range, median and 5-95% quantiles,
and the best point. :func:`regression_adjust` applies Beaumont et al.'s local-linear
correction; :func:`adjusted_summary` reports it only when there are at least
``PER_STATISTIC x (statistics + 1)`` accepted points and the adjusted posterior stays within the
prior, and otherwise says why it refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.studies.calibrate.targets import Target

__all__ = ["RULES", "PER_STATISTIC", "z_scores", "distances", "within", "accept", "summarise",
           "regression_adjust", "adjusted_summary"]

RULES = ("tolerance", "quantile", "both")
#: The regression adjustment needs at least this many accepted points per fitted statistic
#: (plus the intercept): a slope fitted to few points moves the posterior by its own noise.
PER_STATISTIC = 10


def z_scores(sim: pd.DataFrame, targets: Sequence[Target]) -> pd.DataFrame:
    """One column per target: the simulated pattern in half-intervals from the observed value."""
    return pd.DataFrame({t.key: t.z(sim[t.pattern].to_numpy(dtype=np.float64))
                         for t in targets}, index=sim.index)


def distances(sim: pd.DataFrame, targets: Sequence[Target],
              weights: dict[str, float] | None = None) -> np.ndarray:
    """Weighted root-mean-square of the z-scores; ``inf`` where a pattern is missing."""
    z = z_scores(sim, targets).to_numpy()
    w = np.array([(weights or {}).get(t.key, 1.0) for t in targets], dtype=np.float64)
    if z.size == 0:
        return np.zeros(len(sim))
    d = np.sqrt((w * z * z).sum(axis=1) / w.sum())
    d[~np.isfinite(z).all(axis=1)] = np.inf
    return d


def within(sim: pd.DataFrame, targets: Sequence[Target]) -> np.ndarray:
    """True where every target's pattern lies within its interval."""
    ok = np.ones(len(sim), dtype=bool)
    for t in targets:
        ok &= t.within(sim[t.pattern].to_numpy(dtype=np.float64))
    return ok


def accept(distance: np.ndarray, inside: np.ndarray, rule: str, quantile: float) -> np.ndarray:
    """The accepted points under ``rule`` (see the module docstring)."""
    distance = np.asarray(distance, dtype=np.float64)
    if rule not in RULES:
        raise ValueError(f"rule {rule!r}; allowed: {', '.join(RULES)}")
    finite = np.isfinite(distance)
    best = np.zeros(distance.size, dtype=bool)
    n_best = int(np.ceil(quantile * distance.size))
    if n_best and finite.any():
        order = np.argsort(np.where(finite, distance, np.inf), kind="stable")
        best[order[:min(n_best, int(finite.sum()))]] = True
    if rule == "tolerance":
        return np.asarray(inside, dtype=bool) & finite
    if rule == "quantile":
        return best
    return best & np.asarray(inside, dtype=bool)


def summarise(values: pd.DataFrame, accepted: np.ndarray, distance: np.ndarray,
              prior: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """Per parameter: the prior range, and of the accepted points the range, median, 5% and 95%
    quantiles; the best point (smallest distance) and how many were accepted."""
    acc = values.loc[np.asarray(accepted, dtype=bool)]
    params: dict[str, Any] = {}
    for name, (lo, hi) in prior.items():
        col = acc[name].to_numpy(dtype=np.float64)
        entry: dict[str, Any] = {"prior": [lo, hi]}
        if col.size:
            q05, q50, q95 = np.quantile(col, [0.05, 0.5, 0.95])
            entry.update(accepted_range=[float(col.min()), float(col.max())],
                         median=float(q50), q05=float(q05), q95=float(q95))
        else:
            entry.update(accepted_range=None, median=None, q05=None, q95=None)
        params[name] = entry
    finite = np.isfinite(distance)
    best = None
    if finite.any():
        i = int(np.argmin(np.where(finite, distance, np.inf)))
        best = {"index": i, "distance": float(distance[i]),
                **{n: float(values[n].iloc[i]) for n in prior}}
    return {"accepted": int(np.count_nonzero(accepted)), "points": int(len(values)),
            "parameters": params, "best": best}


def regression_adjust(theta: np.ndarray, z: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Beaumont, Zhang & Balding's (2002) local-linear regression adjustment.

    Regress the accepted parameters ``theta`` (n x p) on their summaries ``z`` (n x k, in
    half-intervals, so the observed summaries are 0) with Epanechnikov weights
    ``1 - (d / max d)^2``, and remove the fitted slope: ``theta - z beta``. Returns ``theta``
    unchanged when there are fewer than ``PER_STATISTIC x (k + 1)`` points.
    """
    theta = np.asarray(theta, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    d = np.asarray(distance, dtype=np.float64)
    n, k = z.shape
    if n < PER_STATISTIC * (k + 1) or not np.isfinite(z).all():
        return theta.copy()
    h = d.max()
    w = 1.0 - (d / h) ** 2 if h > 0 else np.ones(n)
    w = np.clip(w, 0.0, None)
    if np.count_nonzero(w) <= k + 1:
        return theta.copy()
    x = np.column_stack([np.ones(n), z])
    sw = np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(x * sw, theta * sw, rcond=None)
    return theta - z @ coef[1:]


def adjusted_summary(theta: np.ndarray, z: np.ndarray, distance: np.ndarray,
                     prior: dict[str, tuple[float, float]]) -> dict[str, dict[str, Any]]:
    """Per parameter (the columns of ``theta``, in the order of ``prior``), the median and
    5%/95% quantiles after :func:`regression_adjust`, or ``{"refused": why}`` for every
    parameter when

    - fewer than ``PER_STATISTIC x (k + 1)`` points are accepted (k fitted statistics), or
    - any parameter's adjusted median or 5-95% range leaves its prior range (the linear
      correction extrapolates: the adjusted sample is no longer a posterior under that prior).
    """
    theta = np.asarray(theta, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    n, k = z.shape
    need = PER_STATISTIC * (k + 1)
    if n < need:
        why = (f"{n} accepted points; the adjustment needs at least {PER_STATISTIC} x "
               f"(fitted patterns + 1) = {need}")
        return {name: {"refused": why} for name in prior}
    if not np.isfinite(z).all():
        return {name: {"refused": "an accepted point has a missing pattern"} for name in prior}
    adj = regression_adjust(theta, z, distance)
    out, outside = {}, []
    for j, (name, (lo, hi)) in enumerate(prior.items()):
        q05, q50, q95 = np.quantile(adj[:, j], [0.05, 0.5, 0.95])
        out[name] = {"n": int(n), "median": float(q50), "q05": float(q05), "q95": float(q95)}
        if q05 < lo or q95 > hi:  # the median lies between them
            outside.append(name)
    if outside:
        why = (f"the adjusted 5-95% range of {', '.join(outside)} leaves the prior range: the "
               "linear correction extrapolates beyond the prior")
        return {name: {"refused": why} for name in prior}
    return out
