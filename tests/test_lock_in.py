"""The lock-in estimator (sim.measure.lockin) on hand-built data whose answer is known:
clear leaders, leads kept, and persistence with agglomeration forces minus without them."""

from __future__ import annotations

import numpy as np
import pytest

from sim.measure.lockin import clear_leaders, kept_leads, lock_in, persistence


def test_a_clear_leader_is_at_least_ratio_times_the_runner_up():
    emp = np.array([[30.0, 20.0, 10.0],   # 1.5 x the second: clear
                    [29.0, 20.0, 10.0],   # 1.45 x: not clear
                    [0.0, 0.0, 0.0],      # no employment: no leader
                    [5.0, 50.0, 1.0]])    # the second town leads 10 x
    np.testing.assert_array_equal(clear_leaders(emp), [True, False, False, True])
    assert not clear_leaders(np.array([[3.0]])).any()  # one town: nothing to lead


def test_kept_leads_counts_clear_leaders_whose_town_still_leads():
    early = np.array([[30.0, 10.0, 5.0], [10.0, 30.0, 5.0], [10.0, 11.0, 12.0]])
    late = np.array([[40.0, 10.0, 5.0], [50.0, 30.0, 5.0], [1.0, 1.0, 90.0]])
    assert kept_leads(early, late) == (2, 1)  # sector 1's leader lost; sector 2 never clear


def _counts(rng, n_seeds, per_seed, p):
    clear = np.full(n_seeds, per_seed)
    return clear, rng.binomial(per_seed, p, size=n_seeds)


@pytest.mark.statistical
def test_lock_in_recovers_a_known_difference_and_no_difference_under_the_null():
    """Seeded: 30 seeds of 4 clear leaders each, kept with probability 0.9 against 0.5 (a
    lock-in of 0.4): the estimate is within 0.1 and the 95% interval excludes 0; two arms
    drawn alike (0.7 and 0.7) give an interval that contains 0 and do not pass."""
    rng = np.random.default_rng(11)
    c, k = _counts(rng, 30, 4, 0.9)
    c0, k0 = _counts(rng, 30, 4, 0.5)
    res = lock_in(c, k, c0, k0)
    assert res["lock_in"] == pytest.approx(0.4, abs=0.1)
    assert res["persistence"] == pytest.approx(k.sum() / c.sum())
    assert res["ci_low"] > 0
    assert res["passes"] == 1.0
    assert res["ci_low"] < res["lock_in"] < res["ci_high"]
    c, k = _counts(rng, 30, 4, 0.7)
    c0, k0 = _counts(rng, 30, 4, 0.7)
    same = lock_in(c, k, c0, k0)
    assert same["ci_low"] < 0 < same["ci_high"]
    assert same["passes"] == 0.0


def test_persistence_pools_over_seeds_and_is_nan_without_leaders():
    assert persistence(np.array([2, 0, 2]), np.array([2, 0, 1])) == pytest.approx(0.75)
    assert np.isnan(persistence(np.zeros(3), np.zeros(3)))
    with pytest.raises(ValueError, match="one length"):
        lock_in(np.ones(3), np.ones(3), np.ones(2), np.ones(2))
