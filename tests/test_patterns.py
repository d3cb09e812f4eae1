"""Pattern functions of the calibration (sim.measure.patterns) on cases with known
answers.

Statistical checks draw exact samples from a seeded generator; each tolerance is several
standard errors of the estimator at the sample size used.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.measure import patterns as pt

LAPLACE_RATIO = 1 / math.sqrt(2)
NORMAL_RATIO = math.sqrt(2 / math.pi)


def _pareto(rng, a, xmin, n):
    """Exact Pareto sample: P(S > s) = (s / xmin)^-a."""
    return xmin * (1.0 - rng.random(n)) ** (-1.0 / a)


def test_micro_share_and_mean_size():
    sizes = [1, 1.5, 4.99, 5, 12, 2]
    assert pt.micro_share(sizes) == pytest.approx(4 / 6)
    assert pt.micro_share(sizes, limit=2) == pytest.approx(2 / 6)
    assert pt.mean_size(sizes) == pytest.approx(np.mean(sizes))
    assert math.isnan(pt.micro_share([]))
    assert math.isnan(pt.mean_size([]))


def test_hill_on_a_hand_computed_case():
    # top k=2 of (8, 4, 2, 1): logs ln(8/2), ln(4/2) -> a = 2 / (3 ln 2)
    assert pt.hill_exponent([1, 2, 4, 8], k=2) == pytest.approx(2 / (3 * math.log(2)))
    assert math.isnan(pt.hill_exponent([1, 2], k=2))  # needs a (k+1)-th size


@pytest.mark.statistical
@pytest.mark.parametrize("a", [0.8, 1.06, 1.5])
def test_hill_and_mle_recover_an_exact_pareto_exponent(a):
    rng = np.random.default_rng(20261203)
    x = _pareto(rng, a, 1.0, 40_000)
    # standard error of the MLE is a / sqrt(n): 0.005-0.008 here; Hill on the top 4,000: ~0.02
    assert pt.pareto_exponent(x, 1.0) == pytest.approx(a, abs=0.03)
    assert pt.hill_exponent(x, k=4_000) == pytest.approx(a, abs=0.08)


@pytest.mark.statistical
def test_tail_exponent_finds_the_tail_above_a_lognormal_body():
    rng = np.random.default_rng(7)
    # a body of small firms below 10 workers and an exact Zipf tail (a = 1) above 10
    body = np.exp(rng.normal(0.7, 0.5, 8_000))
    body = body[body < 10.0]
    tail = _pareto(rng, 1.0, 10.0, 2_000)
    a, xmin, n_tail = pt.tail_exponent(np.concatenate([body, tail]))
    assert a == pytest.approx(1.0, abs=0.1)  # SE about 1 / sqrt(2,000) = 0.022 plus xmin noise
    assert 5.0 <= xmin <= 20.0
    assert n_tail >= 500
    # fitting the whole sample from its minimum gives a very different (wrong) exponent
    allx = np.concatenate([body, tail])
    assert abs(pt.pareto_exponent(allx, allx.min()) - 1.0) > 0.3


def test_tail_exponent_needs_enough_sizes():
    assert math.isnan(pt.tail_exponent([1, 2, 3], min_tail=20)[0])
    assert pt.tail_exponent([1, 2, 3], min_tail=20)[2] == 0


@pytest.mark.statistical
def test_growth_shape_statistics_tell_laplace_from_normal():
    rng = np.random.default_rng(11)
    n = 200_000
    lap = rng.laplace(0.02, 0.1, n)
    nor = rng.normal(0.02, 0.1, n)
    # SEs at n = 200,000: ratio ~0.001, Laplace kurtosis ~0.05, normal ~0.01
    assert pt.mad_sd_ratio(lap) == pytest.approx(LAPLACE_RATIO, abs=0.005)
    assert pt.mad_sd_ratio(nor) == pytest.approx(NORMAL_RATIO, abs=0.005)
    assert pt.kurtosis(lap) == pytest.approx(6.0, abs=0.3)
    assert pt.kurtosis(nor) == pytest.approx(3.0, abs=0.1)
    assert pt.mad_sd_ratio(rng.uniform(-1, 1, n)) == pytest.approx(math.sqrt(3) / 2, abs=0.005)


def test_growth_shape_on_degenerate_input():
    assert math.isnan(pt.mad_sd_ratio([0.1]))
    assert math.isnan(pt.mad_sd_ratio([0.1, 0.1]))
    assert math.isnan(pt.kurtosis([]))
    assert pt.kurtosis([-1.0, 1.0]) == pytest.approx(1.0)


def test_growth_rates_match_firms_by_id():
    ids0 = np.array([7, 3, 5, 9])
    s0 = np.array([2.0, 4.0, 1.0, 3.0])
    ids1 = np.array([5, 3, 11, 9])  # 7 left, 11 entered
    s1 = np.array([2.0, 4.0, 6.0, 0.0])  # 9 shrank to nothing: no log growth
    g = pt.growth_rates(ids0, s0, ids1, s1)
    np.testing.assert_allclose(g, [math.log(2.0), 0.0])
    assert pt.growth_rates([], [], [1], [1.0]).size == 0
    with pytest.raises(ValueError, match="one size per id"):
        pt.growth_rates([1, 2], [1.0], [1], [1.0])


def test_annual_rate():
    # 2 entries a month among 100 firms -> 24% a year
    assert pt.annual_rate(np.full(12, 2), np.full(12, 100)) == pytest.approx(0.24)
    assert pt.annual_rate([1, 3], [50, 150]) == pytest.approx(12 * 4 / 200)
    assert math.isnan(pt.annual_rate([], []))
    with pytest.raises(ValueError, match="one firm count per month"):
        pt.annual_rate([1], [1, 2])


def test_facility_completion_counts_settled_drives_only():
    # open, building, operating, failed, closed, operating
    assert pt.facility_completion([0, 1, 2, 3, 4, 2]) == pytest.approx(3 / 4)
    assert math.isnan(pt.facility_completion([0, 1]))
    assert math.isnan(pt.facility_completion([]))


def test_facility_use_share_counts_only_the_facilities_named():
    # five firms: none, facility 0, facility 2, facility 2, facility 1
    uses = [-1, 0, 2, 2, 1]
    assert pt.facility_use_share(uses, [0, 1, 2]) == pytest.approx(4 / 5)
    assert pt.facility_use_share(uses, [2]) == pytest.approx(2 / 5)
    assert pt.facility_use_share(uses, []) == 0.0
    assert pt.facility_use_share([-1, -1], [-1, 0]) == 0.0  # -1 is no facility, never counted
    assert math.isnan(pt.facility_use_share([], [0]))


def test_mean_utilisation_over_operating_months():
    assert pt.mean_utilisation([0.0, 0.5, 0.7, 0.0], [0, 1, 2, 0]) == pytest.approx(0.6)
    assert math.isnan(pt.mean_utilisation([0.0, 0.0], [0, 0]))


def _tail_exponent_in_numpy(sizes, min_tail=20, candidates=200):
    """The search of pt.tail_exponent as numpy computed it before it was compiled."""
    x = np.sort(pt._positive(sizes))
    pool = np.unique(x[: x.size - min_tail + 1])
    if pool.size > candidates:
        pool = np.unique(np.quantile(pool, np.linspace(0.0, 1.0, candidates),
                                     method="closest_observation"))
    best = (math.inf, math.nan, math.nan, 0)
    ranks = np.arange(x.size + 1, dtype=np.float64)
    for xmin, start in zip(pool, np.searchsorted(x, pool, side="left").tolist(), strict=True):
        n = x.size - start
        if n < min_tail:
            continue
        ratio = x[start:] / xmin
        total = float(np.log(ratio).sum())
        if total <= 0:
            continue
        a = n / total
        fit = 1.0 - ratio ** (-a)
        d = float(max(np.max(np.abs(ranks[1:n + 1] / n - fit)),
                      np.max(np.abs(ranks[:n] / n - fit))))
        if d < best[0]:
            best = (d, a, float(xmin), n)
    return best[1], best[2], best[3]


@pytest.mark.parametrize("seed", range(12))
def test_tail_exponent_equals_its_numpy_formulation_to_the_bit(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 2_000))
    sizes = np.round(rng.pareto(rng.uniform(0.8, 2.5), n) * rng.uniform(1, 5) + 1,
                     int(rng.integers(0, 3)))  # rounded: ties, as firm sizes have
    got = pt.tail_exponent(sizes)
    want = _tail_exponent_in_numpy(sizes)
    assert got[2] == want[2]
    assert np.float64(got[0]).tobytes() == np.float64(want[0]).tobytes()
    assert np.float64(got[1]).tobytes() == np.float64(want[1]).tobytes()


def test_best_threshold_equals_its_py_func():
    rng = np.random.default_rng(5)
    x = np.sort(rng.pareto(1.3, 300) + 1.0)
    pool = np.unique(x[:281])
    starts = np.searchsorted(x, pool, side="left").astype(np.int64)
    fast = pt._best_threshold(x, pool, starts, 20)
    slow = pt._best_threshold.py_func(x, pool, starts, 20)
    assert fast[2] == slow[2]
    assert fast[0] == pytest.approx(slow[0], rel=1e-12)
    assert fast[1] == slow[1]
