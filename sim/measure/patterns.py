"""Patterns of a run: pure functions of arrays that summarise what the model produced.

Pattern-oriented modelling (Grimm et al. 2005) fits a model to several observed patterns at
once. Each function here computes one pattern from plain arrays (firm sizes, firm ids, monthly
counts), so it can be tested on cases whose answer is known in closed form:

- :func:`micro_share`, :func:`mean_size`: the size distribution's body;
- :func:`hill_exponent`, :func:`pareto_exponent`, :func:`tail_exponent`: its upper tail, as
  the exponent ``a`` of ``P(S > s) ~ s^-a`` (Zipf: ``a`` near 1);
- :func:`growth_rates`, :func:`mad_sd_ratio`, :func:`kurtosis`: the shape of annual log growth
  rates (Laplace: ratio 1/sqrt(2) = 0.707, kurtosis 6; normal: sqrt(2/pi) = 0.798, 3);
- :func:`growth_sd_size_slope`: how the spread of annual growth falls with size (Stanley et
  al. 1996: ``sd ~ size^-beta``, the slope of log sd on log size is ``-beta``);
- :func:`annual_rate`: entries or exits a year per firm;
- :func:`exit_counts_by_age`, :func:`exit_hazard_ratio`: the annual exit hazard of young firms
  over that of old ones;
- :func:`herfindahl`: concentration of employment across firms;
- :func:`facility_completion`, :func:`mean_utilisation`, :func:`facility_use_share`: joint
  facilities.

Sources of the observed values: ``docs/sources.md``. Every function returns ``nan`` when its
input cannot give a value (no firms, too short a tail), never raises for that.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sim.core import numerics
from sim.measure.metrics.agglomeration import pairwise_sum

__all__ = [
    "MICRO_LIMIT",
    "micro_share",
    "mean_size",
    "hill_exponent",
    "pareto_exponent",
    "tail_exponent",
    "growth_rates",
    "growth_start_sizes",
    "mad_sd_ratio",
    "kurtosis",
    "annual_rate",
    "growth_sd_size_slope",
    "exit_counts_by_age",
    "exit_hazard_ratio",
    "herfindahl",
    "facility_completion",
    "mean_utilisation",
    "facility_use_share",
]

#: A micro firm has fewer than this many workers (the Palestinian 0-4 class; sources.md).
MICRO_LIMIT = 5.0
NAN = float("nan")


def _positive(sizes) -> np.ndarray:
    x = np.asarray(sizes, dtype=np.float64).ravel()
    return x[np.isfinite(x) & (x > 0)]


def micro_share(sizes, limit: float = MICRO_LIMIT) -> float:
    """Share of firms with fewer than ``limit`` workers."""
    x = np.asarray(sizes, dtype=np.float64).ravel()
    return float(np.mean(x < limit)) if x.size else NAN


def mean_size(sizes) -> float:
    """Mean workers per firm."""
    x = np.asarray(sizes, dtype=np.float64).ravel()
    return float(x.mean()) if x.size else NAN


def hill_exponent(sizes, k: int) -> float:
    """Hill's (1975) estimator of the tail exponent from the ``k`` largest sizes.

    ``a = k / sum_{i<=k} ln(x_(i) / x_(k+1))``, with ``x_(1) >= x_(2) >= ...`` the sizes in
    decreasing order. For a Pareto law ``P(S > s) = (s / m)^-a`` it is the maximum-likelihood
    estimate of ``a`` given the threshold ``x_(k+1)``.
    """
    x = np.sort(_positive(sizes))[::-1]
    if k < 1 or x.size <= k:
        return NAN
    logs = numerics.log(x[:k] / x[k])
    total = float(logs.sum())
    return k / total if total > 0 else NAN


def pareto_exponent(sizes, xmin: float) -> float:
    """Maximum-likelihood tail exponent ``a`` of the sizes at or above ``xmin``.

    For ``P(S > s) = (s / xmin)^-a``, ``a = n / sum ln(x_i / xmin)`` (Clauset, Shalizi & Newman
    2009, eq. 3.1, written for the survival function: their density exponent is ``1 + a``).
    """
    x = _positive(sizes)
    tail = x[x >= xmin]
    total = float(numerics.log(tail / xmin).sum()) if tail.size else 0.0
    return tail.size / total if total > 0 else NAN


def _ks_pareto(tail: np.ndarray, xmin: float, a: float) -> float:
    """Kolmogorov-Smirnov distance between sorted ``tail`` and the fitted Pareto law."""
    n = tail.size
    fit = 1.0 - numerics.power(tail / xmin, -a)
    upper = np.arange(1, n + 1) / n
    lower = np.arange(0, n) / n
    return float(max(np.max(np.abs(upper - fit)), np.max(np.abs(lower - fit))))


def tail_exponent(sizes, min_tail: int = 20, candidates: int = 200) -> tuple[float, float, int]:
    """Tail exponent with its threshold chosen as Clauset, Shalizi & Newman (2009) do.

    For each candidate threshold ``xmin`` (the distinct sizes, at most ``candidates`` of them
    spread over the quantiles, leaving at least ``min_tail`` sizes above), fit
    :func:`pareto_exponent` and keep the threshold whose fit is closest to the data in the
    Kolmogorov-Smirnov distance.

    Returns
    -------
    (exponent, xmin, n_tail)
        ``(nan, nan, 0)`` when fewer than ``min_tail`` positive sizes are given.
    """
    x = np.sort(_positive(sizes))
    if x.size < max(min_tail, 2):
        return NAN, NAN, 0
    pool = np.unique(x[: x.size - min_tail + 1])
    if pool.size > candidates:
        pool = np.unique(np.quantile(pool, np.linspace(0.0, 1.0, candidates),
                                     method="closest_observation"))
    starts = np.searchsorted(x, pool, side="left").astype(np.int64)
    return _best_threshold(x, pool, starts, min_tail)


@numba.njit(cache=True)
def _best_threshold(x, pool, starts, min_tail):
    """The search of :func:`tail_exponent`, compiled: for each candidate ``pool[j]`` whose tail
    ``x[starts[j]:]`` (``x`` sorted, float64) holds at least ``min_tail`` sizes, the maximum
    likelihood exponent ``a = n / sum(log(x / xmin))`` and the Kolmogorov-Smirnov distance
    between the tail and its Pareto fit; returns ``(a, xmin, n)`` of the smallest distance (the
    first on ties), or ``(nan, nan, 0)``. The log-sum is numpy's pairwise sum and every other
    step the same operation on the same values, so the result is the numpy formulation's to
    the bit (tests/test_patterns.py)."""
    best_d, best_a, best_x, best_n = math.inf, np.nan, np.nan, 0
    ratio = np.empty(x.size)
    logs = np.empty(x.size)
    for j in range(pool.size):
        start = starts[j]
        n = x.size - start
        if n < min_tail:
            continue
        xmin = pool[j]
        for i in range(n):
            ratio[i] = x[start + i] / xmin
            logs[i] = np.log(ratio[i])
        total = pairwise_sum(logs, 0, n)
        if total <= 0:
            continue
        a = n / total
        above = 0.0  # the largest gap above the fit (empirical CDF after each step) and below
        below = 0.0
        for i in range(n):
            fit = 1.0 - ratio[i] ** (-a)
            above = max(above, abs((i + 1.0) / n - fit))
            below = max(below, abs(i / n - fit))
        d = max(above, below)
        if d < best_d:
            best_d, best_a, best_x, best_n = d, a, xmin, n
    return best_a, best_x, best_n


def growth_rates(ids_before, sizes_before, ids_after, sizes_after) -> np.ndarray:
    """Log growth ``ln(s_after / s_before)`` of the firms present, with a positive size, in both.

    Firms are matched by id (a slot may hold another firm a year later); the result follows the
    order of ``ids_after``.
    """
    start, sa = _matched(ids_before, sizes_before, ids_after, sizes_after)
    ok = (start > 0) & (sa > 0) & np.isfinite(sa)
    return numerics.log(sa[ok] / start[ok])


def growth_start_sizes(ids_before, sizes_before, ids_after, sizes_after) -> np.ndarray:
    """The starting sizes of the firms :func:`growth_rates` keeps, in the same order (for
    :func:`growth_sd_size_slope`)."""
    start, sa = _matched(ids_before, sizes_before, ids_after, sizes_after)
    ok = (start > 0) & (sa > 0) & np.isfinite(sa)
    return start[ok]


def _matched(ids_before, sizes_before, ids_after, sizes_after) -> tuple[np.ndarray, np.ndarray]:
    """The size before of each firm after, matched by id (NaN for a firm absent before), and the
    sizes after, as float arrays in the order of ``ids_after``."""
    ib = np.asarray(ids_before).ravel()
    ia = np.asarray(ids_after).ravel()
    sb = np.asarray(sizes_before, dtype=np.float64).ravel()
    sa = np.asarray(sizes_after, dtype=np.float64).ravel()
    if ib.size != sb.size or ia.size != sa.size:
        raise ValueError("each id array needs one size per id")
    return _lookup(ib, sb, ia), sa


def _lookup(keys, values, wanted) -> np.ndarray:
    """``values`` of ``keys`` looked up for each of ``wanted`` (NaN where absent)."""
    order = np.argsort(keys, kind="stable")
    k, v = keys[order], values[order]
    pos = np.searchsorted(k, wanted)
    pos_ok = pos < k.size
    found = np.zeros(wanted.size, dtype=bool)
    found[pos_ok] = k[pos[pos_ok]] == wanted[pos_ok]
    out = np.full(wanted.size, np.nan)
    out[found] = v[pos[found]]
    return out


def mad_sd_ratio(values) -> float:
    """Mean absolute deviation from the mean over the standard deviation (both about the mean).

    1/sqrt(2) = 0.707 for a Laplace law, sqrt(2/pi) = 0.798 for a normal one, 0.866 for a
    uniform one; robust to a few extreme values, unlike the kurtosis.
    """
    g = np.asarray(values, dtype=np.float64).ravel()
    g = g[np.isfinite(g)]
    if g.size < 2:
        return NAN
    d = g - g.mean()
    sd = float(np.sqrt(np.mean(d * d)))
    return float(np.mean(np.abs(d))) / sd if sd > 0 else NAN


def kurtosis(values) -> float:
    """Pearson's kurtosis ``m4 / m2^2`` (not the excess): 6 for a Laplace law, 3 for a normal."""
    g = np.asarray(values, dtype=np.float64).ravel()
    g = g[np.isfinite(g)]
    if g.size < 2:
        return NAN
    d = g - g.mean()
    m2 = float(np.mean(d * d))
    return float(np.mean(d**4)) / (m2 * m2) if m2 > 0 else NAN


def annual_rate(events, firms) -> float:
    """Events a year per firm, from monthly counts: ``12 sum(events) / sum(firms)``.

    ``events[t]`` are the month's entries (or exits), ``firms[t]`` the firms alive at the end of
    that month; the ratio of the sums is the average monthly rate weighted by the population.
    """
    e = np.asarray(events, dtype=np.float64).ravel()
    n = np.asarray(firms, dtype=np.float64).ravel()
    if e.size != n.size:
        raise ValueError("one firm count per month is needed")
    total = float(n.sum())
    return 12.0 * float(e.sum()) / total if e.size and total > 0 else NAN


def facility_completion(status, completed=(2, 4), failed=(3,)) -> float:
    """Share of settled pledge drives that led to an operating facility.

    ``status`` holds one code per drive (``sim.core.state.FacilityState``: 0 drive open, 1 building,
    2 operating, 3 failed, 4 closed after operating). Drives that are still open or whose
    facility is still being built are not settled and are left out.
    """
    s = np.asarray(status).ravel()
    done = np.isin(s, completed).sum()
    lost = np.isin(s, failed).sum()
    return float(done / (done + lost)) if done + lost else NAN


def mean_utilisation(use_rate, operating) -> float:
    """Mean monthly utilisation (facility users over capacity) over the months with at least
    one operating facility."""
    u = np.asarray(use_rate, dtype=np.float64).ravel()
    o = np.asarray(operating, dtype=np.float64).ravel()
    if u.size != o.size:
        raise ValueError("one count of operating facilities per month is needed")
    keep = (o > 0) & np.isfinite(u)
    return float(u[keep].mean()) if keep.any() else NAN


def facility_use_share(uses, counted) -> float:
    """Share of firms that use one of the facilities ``counted``.

    ``uses`` holds one entry per firm: the number of the facility whose services it uses, -1 for
    none (``sim.core.state.FirmState.uses``); ``counted`` are the facility numbers that count (say,
    the publicly sponsored ones). ``nan`` when there are no firms.
    """
    u = np.asarray(uses, dtype=np.int64).ravel()
    if not u.size:
        return NAN
    c = np.asarray(counted, dtype=np.int64).ravel()
    return float(np.mean(np.isin(u, c[c >= 0])))


def growth_sd_size_slope(sizes_before, growth, min_class: int = 10) -> float:
    """Slope of log sd of growth on log size over size classes (Stanley et al. 1996).

    Firms are put in size classes by their size at the start of the growth window, doubling
    classes ``[2^k, 2^(k+1))`` (1, 2-3, 4-7, ... workers); each class with at least
    ``min_class`` firms gives a point (log of its geometric mean size, log of the standard
    deviation of its growth rates, about the class mean), and the slope is the least-squares
    one through these points (unweighted, as Stanley et al. fit their size bins). For ``sd ~
    size^-beta`` the slope is ``-beta``. NaN with fewer than three classes or a class whose
    growth does not vary.
    """
    s = np.asarray(sizes_before, dtype=np.float64).ravel()
    g = np.asarray(growth, dtype=np.float64).ravel()
    if s.shape != g.shape:
        raise ValueError("one starting size per growth rate is needed")
    ok = np.isfinite(s) & (s > 0) & np.isfinite(g)
    s, g = s[ok], g[ok]
    if not s.size:
        return NAN
    cls = np.floor(numerics.log2(s)).astype(np.int64)
    xs, ys = [], []
    for c in np.unique(cls):
        mine = cls == c
        if mine.sum() < max(int(min_class), 2):
            continue
        sd = float(np.std(g[mine]))
        if not sd > 0:
            return NAN
        xs.append(float(np.mean(numerics.log(s[mine]))))
        ys.append(math.log(sd))
    if len(xs) < 3:
        return NAN
    x, y = np.asarray(xs), np.asarray(ys)
    dx = x - x.mean()
    return float(np.sum(dx * (y - y.mean())) / np.sum(dx * dx))


def exit_counts_by_age(ids_start, ages_start, ids_end, young: int = 36,
                       old: int = 60) -> tuple[int, int, int, int]:
    """Exits over one interval by age class: ``(young exits, young firms, old exits, old
    firms)``.

    The firms alive at the start (``ids_start``, with their ``ages_start`` in months) that are
    not alive at the end (``ids_end``) exited; young are those aged under ``young`` months at
    the start, old those aged ``old`` months or more (the ages between count in neither).
    """
    ids = np.asarray(ids_start).ravel()
    ages = np.asarray(ages_start, dtype=np.float64).ravel()
    if ids.shape != ages.shape:
        raise ValueError("one age per firm id is needed")
    gone = ~np.isin(ids, np.asarray(ids_end).ravel())
    y = ages < young
    o = ages >= old
    return (int((gone & y).sum()), int(y.sum()), int((gone & o).sum()), int(o.sum()))


def exit_hazard_ratio(counts, interval: int = 12) -> float:
    """Annual exit hazard of young firms over that of old ones, pooled over intervals.

    ``counts`` holds :func:`exit_counts_by_age` of consecutive intervals of ``interval``
    months; each class's hazard is its exits over its firms at risk (summed over intervals),
    made annual as ``1 - (1 - h)^(12 / interval)``. NaN when either class has no firm at risk
    or old firms never exit.
    """
    c = np.asarray(counts, dtype=np.float64).reshape(-1, 4)
    ey, ny, eo, no = c.sum(axis=0)
    if not (ny > 0 and no > 0 and eo > 0):
        return NAN
    k = 12.0 / float(interval)
    hy = 1.0 - (1.0 - ey / ny) ** k
    ho = 1.0 - (1.0 - eo / no) ** k
    return float(hy / ho)


def herfindahl(sizes) -> float:
    """Herfindahl index of employment across firms: ``sum z_i^2``, ``z_i`` a firm's share of
    all workers (Herfindahl 1950); 1/n when n firms are of equal size. NaN without workers."""
    x = np.asarray(sizes, dtype=np.float64).ravel()
    x = x[np.isfinite(x) & (x > 0)]
    total = float(x.sum())
    if not total > 0:
        return NAN
    z = x / total
    return float(np.sum(z * z))
