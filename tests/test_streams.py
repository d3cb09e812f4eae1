"""Tests of the counter-based random numbers (:mod:`sim.core.streams`).

Philox4x32-10 is checked bit for bit against the known-answer vectors published with Random123
(``tests/kat_vectors`` of github.com/DEShawResearch/random123, the three ``philox4x32 10``
lines), compiled and as its own ``py_func``. The derived uniforms and normals are checked for
range, independence of neighbouring counters and their moments, with seeded, stated tolerances.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.core import streams

# counter (4 words), key (2 words), result (4 words)
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
@pytest.mark.parametrize("compiled", [True, False], ids=["kernel", "py_func"])
def test_philox_matches_random123_known_answers(counter, key, expected, compiled):
    fn = streams.philox if compiled else streams.philox.py_func
    words = fn(*(np.uint64(c) for c in counter), *(np.uint64(k) for k in key))
    assert tuple(int(w) for w in words) == expected


def test_uniform4_normal_and_polar_equal_their_py_funcs():
    key = streams.make_key(np.random.default_rng(0))
    for firm_id, block, month, stream in [(0, 0, 0, 1), (12345, 1, 7, 2), (2**33 + 5, 3, 480, 6)]:
        fast = streams.uniform4(key, month, stream, firm_id, block)
        slow = streams.uniform4.py_func(key, month, stream, firm_id, block)
        assert fast == slow
        assert streams._polar(fast[0], fast[1]) == pytest.approx(
            streams._polar.py_func(slow[0], slow[1]), rel=1e-12, nan_ok=True)
        assert streams.normal(key, month, stream, firm_id) == pytest.approx(
            streams.normal.py_func(key, month, stream, firm_id), rel=1e-12)
        assert streams._polar_pair(fast[0], fast[1]) == pytest.approx(
            streams._polar_pair.py_func(slow[0], slow[1]), rel=1e-12, nan_ok=True)
        assert streams.normal_pair(key, month, stream, firm_id) == pytest.approx(
            streams.normal_pair.py_func(key, month, stream, firm_id), rel=1e-12)


def _polar_by_hand(key, month, stream, firm_id):
    """Marsaglia's polar method written out plainly over the same words."""
    for block in range(100):
        words = streams.uniform4(key, month, stream, firm_id, block)
        for u1, u2 in (words[:2], words[2:]):
            v1, v2 = 2 * u1 - 1, 2 * u2 - 1
            s = v1 * v1 + v2 * v2
            if 0 < s < 1:
                return v1 * math.sqrt(-2 * math.log(s) / s)
    raise AssertionError("no point in the disc in 200 tries")


def test_normal_is_the_polar_method_over_the_blocks():
    key = streams.make_key(np.random.default_rng(7))
    for firm_id in range(2000):  # about 90 of them need block 1
        assert streams.normal(key, 3, streams.GROWTH, firm_id) == pytest.approx(
            _polar_by_hand(key, 3, streams.GROWTH, firm_id), rel=1e-12)


def _grid(stream=streams.DECIDE, n_firms=20_000, months=3, blocks=2, seed=1):
    key = streams.make_key(np.random.default_rng(seed))
    return np.array([[[streams.uniform4(key, t, stream, f, b) for b in range(blocks)]
                      for f in range(n_firms)] for t in range(months)])  # [T, F, B, 4]


@pytest.fixture(scope="module")
def grid():
    return _grid()


def test_uniforms_are_inside_the_open_interval(grid):
    assert grid.min() > 0.0
    assert grid.max() < 1.0


def test_uniforms_are_uniform(grid):
    # Kolmogorov-Smirnov on 480,000 draws: a fixed seed, p far above any sensible threshold
    assert stats.kstest(grid.ravel(), "uniform").pvalue > 1e-3
    # mean and variance: SE of the mean is sqrt(1/12 / n) = 4.2e-4; tolerance 5 SE
    assert grid.mean() == pytest.approx(0.5, abs=2.1e-3)
    assert grid.var() == pytest.approx(1.0 / 12.0, abs=1e-3)


def test_neighbouring_counters_are_uncorrelated(grid):
    # correlations between words of one call, between blocks, firms and months: |r| < 5 SE
    n = grid[..., 0].size
    se = 1.0 / math.sqrt(n)
    pairs = [
        (grid[..., 0], grid[..., 1]),  # two words of one call
        (grid[:, :, 0, 0], grid[:, :, 1, 0]),  # block 0 and block 1
        (grid[:, :-1, 0, 0], grid[:, 1:, 0, 0]),  # firm f and firm f + 1
        (grid[:-1, :, 0, 0], grid[1:, :, 0, 0]),  # month t and t + 1
    ]
    for a, b in pairs:
        r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        assert abs(r) < 5 * se * math.sqrt(n / a.size), r


def test_streams_and_keys_give_different_numbers():
    key = streams.make_key(np.random.default_rng(1))
    other = streams.make_key(np.random.default_rng(2))
    draws = {streams.uniform4(key, 5, s, 42, 0) for s in streams.STREAMS.values()}
    assert len(draws) == len(streams.STREAMS)
    assert streams.uniform4(key, 5, 1, 42, 0) != streams.uniform4(other, 5, 1, 42, 0)
    # a firm id above 2**32 is not folded onto a lower one
    assert streams.uniform4(key, 5, 1, 7, 0) != streams.uniform4(key, 5, 1, 7 + 2**32, 0)


def test_normals_have_the_moments_of_a_standard_normal():
    key = streams.make_key(np.random.default_rng(3))
    z = np.array([streams.normal(key, 1, streams.GROWTH, f) for f in range(200_000)])
    # 200,000 draws: SE(mean) = 0.0022, SE(var) = 0.0032; tolerances 5 SE
    assert z.mean() == pytest.approx(0.0, abs=0.011)
    assert z.var() == pytest.approx(1.0, abs=0.016)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_normal_pair_gives_two_independent_standard_normals_the_first_being_normal():
    # 200,000 pairs: SE(mean) 0.0022, SE(var) 0.0032, SE(correlation) 0.0022; tolerances 5 SE
    key = np.array([11, 12], dtype=np.uint64)
    pairs = np.array([streams.normal_pair(key, 3, streams.GROWTH, f) for f in range(200_000)])
    for z in pairs.T:
        assert z.mean() == pytest.approx(0.0, abs=0.011)
        assert z.var() == pytest.approx(1.0, abs=0.016)
        assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(pairs.T)[0, 1]) < 0.011
    # independent, not only uncorrelated: their squares are uncorrelated too
    assert abs(np.corrcoef(pairs[:, 0] ** 2, pairs[:, 1] ** 2)[0, 1]) < 0.011
    first = [streams.normal(key, 3, streams.GROWTH, f) for f in range(1000)]
    np.testing.assert_array_equal(pairs[:1000, 0], first)


def test_stream_numbers_are_distinct_and_stable():
    # renumbering a stream changes every result of every scenario: pin them
    assert streams.STREAMS == {"decide": 1, "meet": 2, "imitate": 3, "supplier": 4, "growth": 5,
                               "spinoff": 6, "productivity": 7, "talent": 8, "closure": 9}


def test_a_firms_draws_follow_its_id_not_its_memory_slot():
    # the same firms stored in another slot order make the same decisions, firm by firm
    from sim.mechanisms import cooperation, demography
    rng = np.random.default_rng(4)
    n, k = 200, 6
    partner = np.where(rng.random((n, k)) < 0.6, 0, -1).astype(np.int32)  # only >= 0 is read
    trust, will = rng.random((n, k)), rng.random(n)
    alive = rng.random(n) < 0.9
    firm_id = rng.permutation(10 * n)[:n].astype(np.int64)
    key = streams.make_key(rng)
    perm = rng.permutation(n)
    acted = [np.zeros((n, k), np.int8), np.zeros((n, k), np.int8)]
    for o, idx in enumerate((np.arange(n), perm)):
        cooperation._decide(partner[idx], trust[idx], alive[idx], will[idx], 0.3, firm_id[idx],
                            key, 9, acted[o])
    np.testing.assert_array_equal(acted[0][perm], acted[1])
    emp, gap, revenue = rng.uniform(1, 50, n), rng.normal(0, 0.5, n), rng.uniform(1, 9, n)
    prod, sector = rng.uniform(0.5, 2, n), rng.integers(0, 2, n)
    desired, talent = emp * rng.uniform(0.7, 1.4, n), rng.uniform(0.5, 2, n)
    grown = [np.zeros(n), np.zeros(n)]
    moved = [np.zeros(n), np.zeros(n)]
    for o, idx in enumerate((np.arange(n), perm)):
        demography._grow(alive[idx], emp[idx], desired[idx].copy(), np.full(n, 1e9),
                         revenue[idx], gap[idx], prod[idx], talent[idx].copy(),
                         np.full(n, 0.3), sector[idx], np.ones(2), np.full(2, 0.2), 0.05, 0.2,
                         0.1, 1.0, 1e4, 1.0, 0.0, np.zeros(n), 0.02, 0.1, 0.65, 0.05, 0.1,
                         firm_id[idx], key, 9, grown[o],
                         moved[o])
    np.testing.assert_array_equal(grown[0][perm], grown[1])
    np.testing.assert_array_equal(moved[0][perm], moved[1])
