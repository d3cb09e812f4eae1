"""Paired replicates: means and t intervals, paired differences and their bands over time.

The statistics of a comparison under common random numbers (:mod:`sim.studies.compare`):
replicate ``r`` of every scenario has the same seed, so the base with the same seed is each
replicate's counterfactual and differences are taken replicate by replicate. The report
(:mod:`sim.studies.report`) and the comparison both read them from here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from sim.measure.outputs import WELFARE

__all__ = ["OUTCOMES", "FIGURE_OUTCOMES", "SERIES_KEPT", "LEVEL", "t_interval",
           "paired_difference", "effect_over_time", "effects_over_time", "measured",
           "discount_factors", "MONTHS_PER_YEAR", "p_best", "jeffreys_interval",
           "variance_shares", "SHARE_ESTIMATOR", "paired_columns"]

#: Final outcomes summarised by default (with the by-sector and by-town breakdowns).
OUTCOMES: tuple[str, ...] = (
    "firms", "employment", "jobs_created", "output", "mean_productivity", "survival",
    "entries_total", "exits_total", "cooperation_rate", "mean_trust", "jp_share",
    "facilities_built", "facilities_operating", "public_facilities_built",
    "public_facilities_operating", "facility_users", "spv_members", "time_to_first_facility",
    "eg_gamma_mean", "herfindahl_regions", "public_spending_total",
    *WELFARE,  # who receives a policy's gain
)
#: Per-step outputs drawn over time as paired differences from the base (effect bands).
FIGURE_OUTCOMES: tuple[str, ...] = (
    "firms", "employment", "mean_productivity", "cooperation_rate", "mean_trust",
    "facilities_operating", "eg_gamma_mean", "public_spending_total",
)
#: Per-step outputs kept for every run of a comparison.
SERIES_KEPT: tuple[str, ...] = tuple(dict.fromkeys((
    *FIGURE_OUTCOMES, "output", "public_facilities_operating", "facility_users", "jp_share",
    "entries", "exits")))
#: The confidence level of every interval.
LEVEL = 0.95
MONTHS_PER_YEAR = 12

# -- statistics -----------------------------------------------------------------------------------
def t_interval(values, level: float = LEVEL) -> dict[str, float]:
    """Mean, standard deviation and t-based confidence interval of the finite ``values``.

    Returns a dict with ``n``, ``mean``, ``sd`` (ddof 1), ``ci_low``, ``ci_high``. With one
    value the interval is undefined (NaN); with no spread it is the mean itself.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    nan = float("nan")
    if n == 0:
        return {"n": 0, "mean": nan, "sd": nan, "ci_low": nan, "ci_high": nan}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "sd": nan, "ci_low": nan, "ci_high": nan}
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return {"n": n, "mean": mean, "sd": 0.0, "ci_low": mean, "ci_high": mean}
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def paired_columns(comp, label: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``column`` of scenario ``label`` and of the comparison's base, replicate by replicate
    (the replicates both have), as float arrays."""
    runs = comp.runs
    mine = runs[runs["scenario"] == label].set_index("replicate")[column]
    base = runs[runs["scenario"] == comp.base].set_index("replicate")[column]
    a, b = mine.align(base, join="inner")
    return a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)


def paired_difference(alt, base, level: float = LEVEL) -> dict[str, float]:
    """The paired difference ``alt - base`` over replicates where both are finite.

    Returns ``n``, ``mean``, ``sd``, ``ci_low``, ``ci_high`` (as :func:`t_interval`) and ``p``,
    the two-sided p-value of the paired t-test (1 when every difference is 0).
    """
    a = np.asarray(alt, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    out = t_interval(a[both] - b[both], level)
    n, sd = out["n"], out["sd"]
    if n < 2:
        out["p"] = float("nan")
    elif sd == 0.0:
        out["p"] = 1.0 if out["mean"] == 0.0 else 0.0
    else:
        tstat = out["mean"] / (sd / math.sqrt(n))
        out["p"] = float(2.0 * stats.t.sf(abs(tstat), n - 1))
    return out


def effect_over_time(comp, label: str, column: str, level: float = LEVEL):
    """Per step, the paired difference ``label - base`` of ``column`` over the replicates of
    ``comp`` (a :class:`sim.studies.compare.Comparison`):
    (steps, mean, low, high), t-based; where the differences do not vary the band is the mean."""
    s = comp.series
    if column not in s or s.empty:
        return None
    wide = s.pivot_table(index="step", columns=["scenario", "replicate"], values=column,
                         aggfunc="first")
    if label not in wide.columns.get_level_values(0):
        return None
    a, b = wide[label], wide[comp.base]
    reps = sorted(set(a.columns) & set(b.columns))
    d = (a[reps] - b[reps]).to_numpy(dtype=np.float64)
    n = np.isfinite(d).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(np.where(n[:, None] > 0, d, 0.0), axis=1)
        sd = np.nanstd(d, axis=1, ddof=1) if d.shape[1] > 1 else np.zeros(len(d))
        tq = stats.t.ppf(0.5 + level / 2.0, np.maximum(n - 1, 1))
        half = np.where(n >= 2, tq * np.nan_to_num(sd) / np.sqrt(np.maximum(n, 1)), 0.0)
    return wide.index.to_numpy(), mean, mean - half, mean + half


def effects_over_time(comp, names, level: float = LEVEL) -> pd.DataFrame:
    """:func:`effect_over_time` of every alternative for each of ``names`` that has a monthly
    series, as one long table: ``scenario``, ``base``, ``outcome``, ``step``, ``mean``,
    ``ci_low``, ``ci_high``."""
    frames = []
    for column in names:
        for label in comp.labels[1:]:
            res = effect_over_time(comp, label, column, level)
            if res is None:
                continue
            steps, mean, lo, hi = res
            frames.append(pd.DataFrame({"scenario": label, "base": comp.base,
                                        "outcome": column, "step": steps, "mean": mean,
                                        "ci_low": lo, "ci_high": hi}))
    if not frames:
        return pd.DataFrame(columns=["scenario", "base", "outcome", "step", "mean", "ci_low",
                                     "ci_high"])
    return pd.concat(frames, ignore_index=True)


def discount_factors(months, rate: float) -> np.ndarray:
    """``(1 + rate) ** (-month / 12)``: the present value of one unit in month ``month`` at the
    annual discount ``rate``."""
    return (1.0 + rate) ** (-np.asarray(months, dtype=np.float64) / MONTHS_PER_YEAR)


def measured(comp, column: str, horizon: int | None = None,
             discount: float | None = None) -> pd.DataFrame | None:
    """``column`` of every replicate as it is measured for the report: one row per replicate,
    one column per scenario; None when it cannot be measured so.

    - no ``discount``, no ``horizon`` (or the run's end): the final value;
    - no ``discount``, a ``horizon`` before the end: the value in month ``horizon`` (outcomes
      with a monthly series only);
    - a ``discount`` (an annual rate, 0 for none): the present value of the monthly stream
      over months 1 to ``horizon`` (default the end), each month ``t`` weighted by
      ``(1 + discount) ** (-t / 12)``. The stream of a cumulative outcome (its name ends in
      ``_total``, e.g. public spending) is its monthly increment, so the result is a
      discounted sum of money; the stream of a level (jobs, firms) is its monthly value,
      divided by 12, so the result is in discounted years (job-years, firm-years).
    """
    end = horizon is None or horizon >= comp.steps
    if discount is None and end:
        runs = comp.runs
        if column not in runs:
            return None
        return runs.pivot(index="replicate", columns="scenario", values=column)
    s = comp.series
    if column not in s or s.empty:
        return None
    wide = s.pivot_table(index="step", columns=["scenario", "replicate"], values=column,
                         aggfunc="first").sort_index()
    last = comp.steps if horizon is None else min(horizon, comp.steps)
    if discount is None:
        if last not in wide.index:
            return None
        row = wide.loc[last]
        return row.unstack("scenario")
    if column.endswith("_total"):  # cumulative: its monthly increments
        stream = wide.diff()
    else:  # a level: its monthly values, in years
        stream = wide / MONTHS_PER_YEAR
    stream = stream.loc[(stream.index >= 1) & (stream.index <= last)]
    pv = stream.mul(discount_factors(stream.index, discount), axis=0).sum(min_count=1)
    return pv.unstack("scenario")


# -- parameter uncertainty (--posterior) ----------------------------------------------------------
def jeffreys_interval(k: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Jeffreys interval of a binomial share ``k / n`` (``k`` may be fractional: split ties):
    the quantiles of Beta(k + 1/2, n - k + 1/2), with the ends at 0 and 1 when k = 0 or n."""
    if n <= 0:
        return float("nan"), float("nan")
    a, b = k + 0.5, n - k + 0.5
    lo = 0.0 if k <= 0 else float(stats.beta.ppf((1 - level) / 2, a, b))
    hi = 1.0 if k >= n else float(stats.beta.ppf(0.5 + level / 2, a, b))
    return lo, hi


def p_best(values: pd.DataFrame, labels, direction: int = 1,
           level: float = LEVEL) -> pd.DataFrame:
    """P(best): the share of replicates (rows of ``values``, one column per policy) in which
    each policy has the best value (the highest when ``direction`` is +1, the lowest when -1),
    ties split equally among the tied, with its Jeffreys interval (:func:`jeffreys_interval`).

    Columns: ``scenario``, ``best`` (replicates won, ties split), ``n``, ``p_best``,
    ``ci_low``, ``ci_high``."""
    labels = list(labels)
    x = values[labels].dropna().to_numpy(dtype=np.float64) * (direction or 1)
    n = x.shape[0]
    wins = np.zeros(len(labels))
    if n:
        top = x.max(axis=1, keepdims=True)
        ties = x == top
        wins = (ties / ties.sum(axis=1, keepdims=True)).sum(axis=0)
    rows = []
    for lab, k in zip(labels, wins, strict=True):
        lo, hi = jeffreys_interval(float(k), n, level)
        rows.append({"scenario": lab, "best": float(k), "n": n,
                     "p_best": float(k / n) if n else float("nan"), "ci_low": lo,
                     "ci_high": hi})
    return pd.DataFrame(rows)


#: What the variance shares are, as the report and the docs state it.
SHARE_ESTIMATOR = ("first-order variance share S1 of each drawn parameter, estimated from the "
                   "replicates as given (SALib.analyze.delta, method 'sobol': the variance of "
                   "the effect's mean within bins of the parameter, Plischke, Borgonovo & "
                   "Smith 2013), with a bootstrap 95% interval")


def variance_shares(x: pd.DataFrame, effect, seed: int, resamples: int = 200,
                    level: float = LEVEL) -> pd.DataFrame:
    """First-order variance share of ``effect`` (one value per row of ``x``) due to each
    column of ``x`` (the parameter values of each replicate's posterior draw):
    :data:`SHARE_ESTIMATOR`. Columns that do not vary get share 0 and no interval.

    With a few replicates the estimate is rough (its interval says how rough): replicate
    noise, the model's randomness under a different seed each replicate, is part of the
    variance no parameter explains. Returns ``parameter``, ``s1``, ``s1_conf`` (half-width),
    ``n``; empty when fewer than 4 replicates or the effect does not vary.
    """
    import contextlib
    import io

    from SALib.analyze import delta

    y = np.asarray(effect, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(x.to_numpy(dtype=np.float64)).all(axis=1)
    xs, y = x.to_numpy(dtype=np.float64)[ok], y[ok]
    cols = ["parameter", "s1", "s1_conf", "n"]
    if y.size < 4 or np.ptp(y) == 0:
        return pd.DataFrame(columns=cols)
    varies = [j for j in range(xs.shape[1]) if np.ptp(xs[:, j]) > 0]
    rows = {name: {"parameter": name, "s1": 0.0, "s1_conf": float("nan"), "n": int(y.size)}
            for name in x.columns}
    if varies:
        names = [str(x.columns[j]) for j in varies]
        sub = xs[:, varies]
        problem = {"num_vars": len(varies), "names": names,
                   "bounds": [[float(sub[:, j].min()), float(sub[:, j].max())]
                              for j in range(len(varies))]}
        with contextlib.redirect_stdout(io.StringIO()):  # SALib prints bin notices
            res = delta.analyze(problem, sub, y, num_resamples=resamples, conf_level=level,
                                seed=seed, method="sobol")
        for name, s1, conf in zip(names, res["S1"], res["S1_conf"], strict=True):
            rows[name].update(s1=float(s1), s1_conf=float(conf))
    return pd.DataFrame(list(rows.values()), columns=cols)
