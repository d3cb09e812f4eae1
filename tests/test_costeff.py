"""Cost-effectiveness from paired replicates (sim.studies.costeff): Fieller's interval against its
definition, every sign case, and coverage on constructed data with a known ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.studies import costeff
from sim.studies.costeff import classify, cost_effectiveness, fieller_interval


def _p(c, e, r):
    """p-value of the paired t-test of c - r e = 0 (what Fieller's set inverts)."""
    return float(stats.ttest_1samp(np.asarray(c) - r * np.asarray(e), 0.0).pvalue)


def test_fieller_bounds_are_where_the_t_test_just_rejects():
    rng = np.random.default_rng(1)
    e = rng.normal(20.0, 6.0, size=12)
    c = 150.0 * e + rng.normal(0.0, 400.0, size=12)
    lo, hi = fieller_interval(c, e)
    assert lo < c.mean() / e.mean() < hi
    assert _p(c, e, lo) == pytest.approx(0.05, abs=1e-9)
    assert _p(c, e, hi) == pytest.approx(0.05, abs=1e-9)
    assert _p(c, e, (lo + hi) / 2) > 0.05
    assert _p(c, e, lo - 0.01 * (hi - lo)) < 0.05
    assert _p(c, e, hi + 0.01 * (hi - lo)) < 0.05


def test_fieller_is_defined_exactly_when_the_gain_interval_excludes_zero():
    # gains mostly positive, one negative: a percentile bootstrap meets resamples with gain
    # <= 0, but the gain's t interval excludes zero, so Fieller's interval is bounded
    e = np.array([6.0, 7.0, 5.0, 8.0, -2.0, 6.0, 7.0, 6.0])
    c = np.array([60.0, 75.0, 48.0, 82.0, 5.0, 61.0, 66.0, 58.0])
    res = stats.ttest_1samp(e, 0.0).confidence_interval(0.95)
    assert res.low > 0
    lo, hi = fieller_interval(c, e)
    assert np.isfinite(lo)
    assert np.isfinite(hi)
    assert lo < c.mean() / e.mean() < hi
    # a gain whose interval includes zero: no bounded interval
    e2 = np.array([3.0, -2.0, 4.0, -3.0, 1.0])
    assert stats.ttest_1samp(e2, 0.0).confidence_interval(0.95).low < 0
    assert all(math.isnan(v) for v in fieller_interval(c[:5], e2))


def test_cost_per_job_with_a_significant_gain():
    rng = np.random.default_rng(2)
    e = rng.normal(30.0, 5.0, size=10)
    c = 100.0 * e + rng.normal(0.0, 200.0, size=10)
    out = classify(c, e)
    assert out["status"] == costeff.COST_PER_UNIT
    assert out["ratio"] == pytest.approx(c.mean() / e.mean())
    assert out["ratio_ci_low"] < out["ratio"] < out["ratio_ci_high"]
    assert out["gain_ci_low"] > 0


def test_no_point_estimate_without_a_significant_gain():
    e = np.array([2.0, -1.0, 3.0, -2.0, 1.0, 0.5])
    c = np.full(6, 100.0)
    out = classify(c, e)
    assert out["status"] == costeff.NO_GAIN
    assert math.isnan(out["ratio"])
    assert math.isnan(out["ratio_ci_low"])
    assert math.isnan(out["ratio_ci_high"])
    # identical scenarios: every difference 0
    same = classify(np.zeros(5), np.zeros(5))
    assert same["status"] == costeff.NO_GAIN
    assert same["gain"] == 0.0


def test_dominates_when_more_jobs_cost_nothing_more():
    e = np.array([10.0, 12.0, 11.0, 9.0, 10.0])
    c = np.array([-5.0, -3.0, -4.0, -6.0, -2.0])  # the policy saves money
    out = classify(c, e)
    assert out["status"] == costeff.DOMINATES
    assert math.isnan(out["ratio"])  # a negative 'cost per job' is not printed
    assert classify(np.zeros(5), e)["status"] == costeff.DOMINATES


def test_dominated_when_fewer_jobs_cost_no_less():
    e = -np.array([10.0, 12.0, 11.0, 9.0, 10.0])
    c = np.array([5.0, 3.0, 4.0, 6.0, 2.0])
    out = classify(c, e)
    assert out["status"] == costeff.DOMINATED
    assert math.isnan(out["ratio"])


def test_saving_per_job_lost():
    rng = np.random.default_rng(3)
    e = -rng.normal(10.0, 1.0, size=8)
    c = 50.0 * e + rng.normal(0.0, 5.0, size=8)  # saves 50 per job lost
    out = classify(c, e)
    assert out["status"] == costeff.SAVING_PER_LOSS
    assert out["ratio"] > 0
    assert out["ratio_ci_low"] < 50.0 < out["ratio_ci_high"]


def test_too_few_replicates():
    assert classify([1.0], [2.0])["status"] == costeff.TOO_FEW
    assert all(math.isnan(v) for v in fieller_interval([1.0], [2.0]))


def test_cost_effectiveness_gives_both_ratios():
    e = np.array([10.0, 12.0, 11.0, 9.0, 10.0])
    f = np.array([1.0, -1.0, 0.0, 1.0, -1.0])
    c = np.array([100.0, 130.0, 105.0, 95.0, 101.0])
    out = cost_effectiveness(c, e, f)
    assert out["job_status"] == costeff.COST_PER_UNIT
    assert out["firm_status"] == costeff.NO_GAIN
    assert out["d_public"] == pytest.approx(c.mean())
    assert out["d_public_ci_low"] < out["d_public"] < out["d_public_ci_high"]


@pytest.mark.statistical
def test_fieller_coverage_on_a_known_ratio():
    """95% intervals cover the true ratio in 95% +- 2.5 points of 1,000 constructed
    comparisons (binomial sd 0.7 points): seeded, so the check is exact and repeatable."""
    rng = np.random.default_rng(20261203)
    true, hits, trials = 80.0, 0, 1000
    for _ in range(trials):
        e = rng.normal(12.0, 6.0, size=10)
        c = true * e + rng.normal(0.0, 300.0, size=10)
        lo, hi = fieller_interval(c, e)
        hits += bool(lo <= true <= hi)
    assert abs(hits / trials - 0.95) < 0.025
