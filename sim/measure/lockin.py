"""Lock-in tested against a null: leader persistence with and without agglomeration forces.

Persistence alone is not evidence of lock-in: a sector's leading town can keep its lead for ten
years merely because firms live long and spin-offs settle near their parents. Lock-in is what
agglomeration forces add to persistence (Arthur 1990; Arthur, Ermoliev & Kaniovski 1987): the
share of clear leaders at one date that still lead at a later date, with the forces, minus the
same share without them, over the same seeds.

Pure functions of arrays of employment by (sector, region); ``experiments/lock_in.py`` runs
the model and calls them.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

__all__ = ["clear_leaders", "kept_leads", "persistence", "lock_in"]


def clear_leaders(emp: np.ndarray, ratio: float = 1.5) -> np.ndarray:
    """Which sectors have a clear leading region: bool[S], the largest of ``emp`` (float[S, R],
    employment by sector and region) at least ``ratio`` times the second (never with fewer
    than two regions or no employment)."""
    emp = np.asarray(emp, dtype=np.float64)
    if emp.ndim != 2 or emp.shape[1] < 2:
        return np.zeros(emp.shape[0] if emp.ndim else 0, dtype=bool)
    top = np.sort(emp, axis=1)
    return (top[:, -1] > 0) & (top[:, -1] >= ratio * top[:, -2])


def kept_leads(early: np.ndarray, late: np.ndarray, ratio: float = 1.5) -> tuple[int, int]:
    """(clear leaders in ``early``, those whose region still leads in ``late``): two arrays of
    employment by sector and region (float[S, R]) of one run."""
    lead = clear_leaders(early, ratio)
    same = np.argmax(early, axis=1) == np.argmax(late, axis=1)
    return int(lead.sum()), int((lead & same).sum())


def persistence(clear: np.ndarray, kept: np.ndarray) -> float:
    """Share of clear leaders that kept their lead, pooled over runs (``nan`` without any)."""
    total = float(np.sum(clear))
    return float(np.sum(kept)) / total if total > 0 else float("nan")


def lock_in(clear: np.ndarray, kept: np.ndarray, clear_null: np.ndarray,
            kept_null: np.ndarray, *, level: float = 0.95, resamples: int = 2000,
            seed: int = 0) -> dict[str, float]:
    """Lock-in: persistence with agglomeration forces minus persistence without them.

    The four arrays hold one count per seed (int[n], seed ``i`` the same in both arms:
    :func:`kept_leads` of each run). The interval is a paired bootstrap over seeds
    (:func:`scipy.stats.bootstrap`, percentile method, ``resamples`` draws from ``seed``).
    Returns ``persistence``, ``persistence_null``, ``lock_in``, ``ci_low``, ``ci_high`` and
    ``passes`` (1.0 when the interval lies above zero, else 0.0).
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in (clear, kept, clear_null, kept_null)]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise ValueError("lock_in: four one-dimensional arrays of one length (one per seed)")

    def diff(c, k, cn, kn, axis=-1):
        with np.errstate(invalid="ignore", divide="ignore"):
            return k.sum(axis=axis) / c.sum(axis=axis) - kn.sum(axis=axis) / cn.sum(axis=axis)

    p, p0 = persistence(arrays[0], arrays[1]), persistence(arrays[2], arrays[3])
    low = high = float("nan")
    if arrays[0].size > 1 and np.isfinite(p - p0):
        with warnings.catch_warnings():  # every resample alike (e.g. all leads kept): the
            warnings.simplefilter("ignore", stats.DegenerateDataWarning)  # interval is a point
            res = stats.bootstrap(arrays, diff, paired=True, vectorized=True,
                                  n_resamples=resamples, confidence_level=level,
                                  method="percentile", random_state=np.random.default_rng(seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return {"persistence": p, "persistence_null": p0, "lock_in": p - p0, "ci_low": low,
            "ci_high": high, "passes": float(np.isfinite(low) and low > 0.0)}
