"""Simulated method of moments on a metamodel: a point estimate refining the ABC rejection.

The design's runs already map parameters to patterns. Near the best points, each fitted pattern
``m_i(theta)`` is approximated by a linear or quadratic polynomial in the parameters (scaled to
[0, 1]; the degree that predicts left-out points better), fitted by least squares to the design
points closest to the observed patterns. The estimate minimises the same objective as the ABC
distance, ``Q(theta) = sum_i w_i z_i(m_i(theta))^2 / sum_i w_i``, within the box those points
span (McFadden 1989; Gourieroux & Monfort 1996; the simulated moments here are the
metamodel's, so no new runs are needed to find the minimum). The pipeline then runs replicates
at the estimate to check it (:func:`sim.studies.calibrate.run.calibrate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np

from sim.studies.calibrate.targets import Target

__all__ = ["Metamodel", "fit_metamodel", "estimate"]


def _features(u: np.ndarray, degree: int) -> np.ndarray:
    """Polynomial features of the rows of ``u``: 1, u_j and (degree 2) u_j u_k for j <= k."""
    u = np.atleast_2d(u)
    cols = [np.ones(len(u))] + [u[:, j] for j in range(u.shape[1])]
    if degree == 2:
        cols += [u[:, j] * u[:, k] for j, k in combinations_with_replacement(range(u.shape[1]),
                                                                               2)]
    return np.column_stack(cols)


def n_coefficients(dim: int, degree: int) -> int:
    return 1 + dim + (dim * (dim + 1) // 2 if degree == 2 else 0)


@dataclass
class Metamodel:
    """Least-squares polynomial of each pattern in the scaled parameters.

    ``r2`` is the in-sample R^2 per pattern; ``q2`` the leave-one-out (PRESS) R^2, which is what
    the degree is chosen by and what says whether the metamodel predicts.
    """

    degree: int
    coef: np.ndarray  # (n_features, n_patterns)
    r2: np.ndarray    # (n_patterns,)
    q2: np.ndarray    # (n_patterns,)
    n_points: int

    def predict(self, u) -> np.ndarray:
        return _features(np.asarray(u, dtype=np.float64), self.degree) @ self.coef


def _fit(u: np.ndarray, y: np.ndarray, degree: int) -> Metamodel:
    x = _features(u, degree)
    pinv = np.linalg.pinv(x)
    coef = pinv @ y
    resid = y - x @ coef
    leverage = np.clip(np.einsum("ij,ji->i", x, pinv), 0.0, 1.0 - 1e-9)
    press = ((resid / (1.0 - leverage)[:, None]) ** 2).sum(axis=0)
    ss = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss > 0, 1.0 - (resid**2).sum(axis=0) / ss, 1.0)
        q2 = np.where(ss > 0, 1.0 - press / ss, 1.0)
    return Metamodel(degree=degree, coef=coef, r2=r2, q2=q2, n_points=len(u))


def fit_metamodel(u: np.ndarray, y: np.ndarray) -> Metamodel | None:
    """A linear or quadratic fit, whichever predicts left-out points better (the larger mean
    leave-one-out R^2); quadratic only with more points than its coefficients plus one.
    ``None`` with no more points than the linear fit's coefficients plus one."""
    u = np.asarray(u, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, dim = u.shape
    if n < n_coefficients(dim, 1) + 2:
        return None
    best = _fit(u, y, 1)
    if n >= n_coefficients(dim, 2) + 2:
        quad = _fit(u, y, 2)
        if np.mean(quad.q2) > np.mean(best.q2):
            best = quad
    return best


def estimate(theta: np.ndarray, sims: np.ndarray, distance: np.ndarray,
             bounds: Sequence[tuple[float, float]], targets: Sequence[Target],
             weights: Sequence[float], share: float = 0.25) -> dict | None:
    """The SMM estimate from design points ``theta`` (n x D) and their patterns ``sims``
    (n x k, in the order of ``targets``).

    The metamodel is fitted to the share ``share`` of points with the smallest distance (at
    least enough for a quadratic fit when there are that many finite points); the objective is
    minimised with L-BFGS-B from the ten best of them, within the box those points span (the
    metamodel is not extrapolated). Returns ``None`` when too few points
    have every pattern.
    """
    from scipy.optimize import minimize

    theta = np.asarray(theta, dtype=np.float64)
    sims = np.asarray(sims, dtype=np.float64)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    w = np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(sims).all(axis=1) & np.isfinite(distance)
    if not ok.any():
        return None
    u_all = (theta[ok] - lo) / (hi - lo)
    y_all = sims[ok]
    d_all = np.asarray(distance, dtype=np.float64)[ok]
    order = np.argsort(d_all, kind="stable")
    dim = theta.shape[1]
    n_fit = max(int(np.ceil(share * len(order))), int(np.ceil(1.5 * n_coefficients(dim, 2))))
    near = order[:min(n_fit, len(order))]
    meta = fit_metamodel(u_all[near], y_all[near])
    if meta is None:
        return None
    # search only where the metamodel was fitted: no extrapolation beyond those points
    box = list(zip(u_all[near].min(axis=0), u_all[near].max(axis=0), strict=True))
    obs = np.array([t.value for t in targets])
    up = np.array([t.high - t.value for t in targets])
    down = np.array([t.value - t.low for t in targets])

    def objective(u):
        m = meta.predict(u)[0]
        z = np.where(m >= obs, (m - obs) / up, (m - obs) / down)
        return float((w * z * z).sum() / w.sum())

    best_u, best_q = None, np.inf
    for start in u_all[order[:10]]:
        res = minimize(objective, start, method="L-BFGS-B", bounds=box)
        if res.fun < best_q:
            best_u, best_q = np.clip(res.x, [b[0] for b in box], [b[1] for b in box]), float(
                res.fun)
    predicted = meta.predict(best_u)[0]
    return {"theta": lo + best_u * (hi - lo), "objective": best_q,
            "distance": float(np.sqrt(best_q)), "predicted": predicted,
            "degree": meta.degree, "r2": meta.r2, "q2": meta.q2, "n_points": meta.n_points}
