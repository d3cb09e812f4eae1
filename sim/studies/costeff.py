"""Cost-effectiveness of a policy against a counterfactual: extra public spending per extra job
(or per firm kept in business), from paired replicates.

Replicate ``i`` of the policy and of the counterfactual share a seed, so the per-replicate
differences ``c_i`` (extra public spending) and ``e_i`` (extra jobs) are paired. The ratio of
interest is ``R = mean(c) / mean(e)``. Its interval comes from Fieller's theorem (Fieller 1954;
for cost-effectiveness ratios, Willan & O'Brien 1996): the set of ``R`` for which the paired
t-test of ``c_i - R e_i`` does not reject zero,

    (c̄ - R ē)² <= t² (v_cc - 2 R v_ce + R² v_ee),

with ``v`` the variances and covariance of the means and ``t`` the two-sided quantile of
Student's t with ``n - 1`` degrees of freedom. The set is a bounded interval exactly when
``ē² > t² v_ee``, that is when the t interval of the gain excludes zero: so the interval is
always defined when the gain is significant (unlike a percentile bootstrap that drops resamples
whose gain is not positive), and no ratio is reported otherwise.

What is reported depends on the signs (:func:`classify`):

- ``cost per unit``: the gain is significantly positive and the policy costs more: the ratio
  with its Fieller interval (its lower end may be below 0 when the extra cost is not
  significant);
- ``dominates``: the gain is significantly positive and the policy costs no more: a ratio would
  be negative and meaningless;
- ``dominated``: the gain is significantly negative and the policy costs no less;
- ``saving per unit lost``: the gain is significantly negative and the policy saves money: the
  saving per job lost (a trade-off, with its Fieller interval);
- ``no significant gain``: the gain's interval includes zero: no point estimate, since the
  ratio of two noisy means near zero says nothing.

References: E. C. Fieller (1954), Some problems in interval estimation, JRSS B 16(2) 175-185;
A. R. Willan and B. J. O'Brien (1996), Confidence intervals for cost-effectiveness ratios: an
application of Fieller's theorem, Health Economics 5(4) 297-305.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from sim.measure import outputs
from sim.studies.paired import LEVEL, measured

__all__ = ["STATUSES", "fieller_interval", "classify", "cost_effectiveness", "DEFAULT_UNITS",
           "cost_units", "unit_scales", "cost_rows", "measure_text", "measured_unit"]

COST_PER_UNIT = "cost per unit"
DOMINATES = "dominates"
DOMINATED = "dominated"
SAVING_PER_LOSS = "saving per unit lost"
NO_GAIN = "no significant gain"
TOO_FEW = "too few replicates"
STATUSES = (COST_PER_UNIT, DOMINATES, DOMINATED, SAVING_PER_LOSS, NO_GAIN, TOO_FEW)


def _paired(cost, gain) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(cost, dtype=np.float64)
    e = np.asarray(gain, dtype=np.float64)
    if c.shape != e.shape:
        raise ValueError(f"cost and gain differ in length ({c.size} and {e.size})")
    ok = np.isfinite(c) & np.isfinite(e)
    return c[ok], e[ok]


def _gain_interval(e: np.ndarray, level: float) -> tuple[float, float, float]:
    n = e.size
    mean = float(e.mean())
    sd = float(e.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def fieller_interval(cost, gain, level: float = 0.95) -> tuple[float, float]:
    """Fieller's interval of ``mean(cost) / mean(gain)`` from paired replicates.

    Returns ``(low, high)``; ``(nan, nan)`` when the set is not a bounded interval, which
    happens exactly when the t interval of ``mean(gain)`` includes zero (or with fewer than two
    pairs).
    """
    c, e = _paired(cost, gain)
    n = c.size
    nan = (float("nan"), float("nan"))
    if n < 2:
        return nan
    t2 = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) ** 2
    cm, em = float(c.mean()), float(e.mean())
    cov = np.cov(np.vstack([c, e]), ddof=1) / n
    v_cc, v_ce, v_ee = float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1])
    a = em * em - t2 * v_ee
    if not a > 0:
        return nan
    b = cm * em - t2 * v_ce
    k = cm * cm - t2 * v_cc
    disc = max(b * b - a * k, 0.0)  # >= 0 whenever a > 0 (Cauchy-Schwarz); guard rounding
    root = math.sqrt(disc)
    return (b - root) / a, (b + root) / a


def classify(cost, gain, level: float = 0.95) -> dict[str, Any]:
    """What can be said of the extra cost per unit of gain (see the module docstring).

    Returns a dict: ``status`` (one of :data:`STATUSES`), ``n``, ``gain``, ``gain_ci_low``,
    ``gain_ci_high``, ``cost``, ``ratio``, ``ratio_ci_low``, ``ratio_ci_high`` (NaN where
    nothing is to be said) and ``text``, a plain-words statement.
    """
    c, e = _paired(cost, gain)
    n = int(c.size)
    nan = float("nan")
    out: dict[str, Any] = {"n": n, "gain": nan, "gain_ci_low": nan, "gain_ci_high": nan,
                           "cost": float(c.mean()) if n else nan, "ratio": nan,
                           "ratio_ci_low": nan, "ratio_ci_high": nan}
    if n < 2:
        out.update(status=TOO_FEW, text="too few replicates for an interval")
        return out
    gm, glo, ghi = _gain_interval(e, level)
    out.update(gain=gm, gain_ci_low=glo, gain_ci_high=ghi)
    cm = out["cost"]
    if not (glo > 0 or ghi < 0):
        out.update(status=NO_GAIN, text="no significant gain: no cost per unit")
        return out
    if glo > 0 and cm <= 0:
        out.update(status=DOMINATES, text="more gain at no extra cost (dominates)")
        return out
    if ghi < 0 and cm >= 0:
        out.update(status=DOMINATED, text="less gain at no saving (dominated)")
        return out
    lo, hi = fieller_interval(c, e, level)
    ratio = cm / gm
    if glo > 0:
        out.update(status=COST_PER_UNIT, ratio=ratio, ratio_ci_low=lo, ratio_ci_high=hi,
                   text="extra cost per unit gained")
    else:  # a significant loss that saves money: the saving per unit lost, positive
        out.update(status=SAVING_PER_LOSS, ratio=ratio, ratio_ci_low=lo, ratio_ci_high=hi,
                   text="saving per unit lost")
    return out


def cost_effectiveness(cost, jobs, firms, level: float = 0.95) -> dict[str, Any]:
    """Extra public spending per extra job and per extra firm in business, from paired
    differences (policy minus counterfactual, replicate by replicate).

    Returns one flat dict: ``d_public`` with its t interval, then for ``job`` and ``firm`` the
    fields of :func:`classify` prefixed ``job_`` and ``firm_``.
    """
    c = np.asarray(cost, dtype=np.float64)
    c = c[np.isfinite(c)]
    out: dict[str, Any] = {"d_public": float(c.mean()) if c.size else float("nan")}
    if c.size >= 2 and c.std(ddof=1) > 0:
        _, lo, hi = _gain_interval(c, level)
    else:
        lo = hi = out["d_public"] if c.size >= 2 else float("nan")
    out.update(d_public_ci_low=lo, d_public_ci_high=hi)
    for name, gain in (("job", jobs), ("firm", firms)):
        res = classify(cost, gain, level)
        out.update({f"{name}_{k}": v for k, v in res.items()})
    return out


# -- cost tables of a comparison -----------------------------------------------------------------
#: Outcomes a cost per unit is given for, by default: (outcome, unit label).
DEFAULT_UNITS: tuple[tuple[str, str], ...] = (("employment", "job"),
                                              ("firms", "firm in business"))


def cost_units(comp) -> list[tuple[str, str]]:
    """The (outcome, unit) pairs a comparison's cost table is about: jobs and firms, then the
    purpose outcomes its scenarios declare (:func:`sim.measure.outputs.purpose_outcomes`), each
    once, in order. A purpose outcome is recorded in the model's units; :func:`unit_scales`
    gives the factor to its unit (tonnes, litres)."""
    units = dict(DEFAULT_UNITS)
    for sc in comp.scenarios or ():
        if sc is not None:
            for p in outputs.purpose_outcomes(sc):
                units.setdefault(p.name, p.unit)
    return list(units.items())


def unit_scales(comp) -> dict[str, float]:
    """Per purpose outcome of a comparison's scenarios, the factor from the model's units to the
    unit :func:`cost_units` names (``PurposeOutcome.scale``); outcomes not listed take 1."""
    scales: dict[str, float] = {}
    for sc in comp.scenarios or ():
        if sc is not None:
            for p in outputs.purpose_outcomes(sc):
                scales.setdefault(p.name, p.scale)
    return scales


def measured_unit(unit: str, outcome: str, discount: float | None) -> str:
    """The unit of ``outcome`` as :func:`sim.studies.paired.measured` measures it: a level
    summed with a discount is counted in years of it (``job`` -> ``job-year``, ``firm in
    business`` -> ``firm-year in business``)."""
    if discount is None or outcome.endswith("_total"):
        return unit
    first, _, rest = unit.partition(" ")
    return f"{first}-year" + (f" {rest}" if rest else "")


def measure_text(horizon: int | None, discount: float | None, steps: int) -> str:
    """How effects and costs are measured, in words."""
    month = steps if horizon is None else min(horizon, steps)
    if discount is None:
        return f"at month {month:,}"
    return (f"as discounted sums over months 1 to {month:,} at {discount:.1%} a year "
            "(levels in years, e.g. job-years)")


def cost_rows(comp, label: str, against: str, units, horizon: int | None = None,
              discount: float | None = None, level: float = LEVEL) -> list[dict[str, Any]]:
    """The cost of ``label`` per unit of each outcome in ``units`` against ``against``, from
    paired replicates (the same seed in both) measured as
    :func:`sim.studies.paired.measured` says.

    One dict per (outcome, unit): ``scenario``, ``against``, ``outcome``, ``unit`` (``-year``
    added when discounted levels are summed), ``measure``, the extra public spending
    ``d_public`` with its t interval, and the fields of :func:`classify`. An outcome that
    cannot be measured so (no monthly series for a horizon) is left out.
    """
    spend = measured(comp, "public_spending_total", horizon, discount)
    if spend is None or label not in spend or against not in spend:
        return []
    c = (spend[label] - spend[against]).dropna()
    pub = _spending(c.to_numpy(dtype=np.float64), level)
    text = measure_text(horizon, discount, comp.steps)
    scales = unit_scales(comp)
    rows = []
    for outcome, unit in units:
        values = measured(comp, outcome, horizon, discount)
        if values is None or label not in values or against not in values:
            continue
        gain = (values[label] - values[against]).reindex(c.index) * scales.get(outcome, 1.0)
        res = classify(c.to_numpy(dtype=np.float64), gain.to_numpy(dtype=np.float64), level)
        rows.append({"scenario": label, "against": against, "outcome": outcome,
                     "unit": measured_unit(unit, outcome, discount),
                     "measure": text, **pub, **res})
    return rows


def _spending(c: np.ndarray, level: float) -> dict[str, float]:
    """Mean extra public spending with its t interval (the mean itself when it never
    varies)."""
    c = c[np.isfinite(c)]
    mean = float(c.mean()) if c.size else float("nan")
    if c.size >= 2 and c.std(ddof=1) > 0:
        _, lo, hi = _gain_interval(c, level)
    else:
        lo = hi = mean if c.size >= 2 else float("nan")
    return {"d_public": mean, "d_public_ci_low": lo, "d_public_ci_high": hi}
