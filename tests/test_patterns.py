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
