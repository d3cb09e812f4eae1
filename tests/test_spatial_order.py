"""The Z-order layout of the initial firms: a permutation that keeps neighbours together."""

from __future__ import annotations

import numpy as np

from sim.core.spatial import _spread_bits, spatial_order
from sim.core.state import FIRM_FIELDS, FirmState
from sim.model import ClusterModel


def test_spread_bits_by_hand():
    assert _spread_bits(np.array([0b1011], dtype=np.uint64))[0] == 0b1000101
    assert _spread_bits(np.array([0xFFFF], dtype=np.uint64))[0] == 0x55555555


def test_quadrants_come_in_z_order():
    # one point per quadrant of the unit square: (0,0), (1,0), (0,1), (1,1) in Z order
    x = np.array([0.9, 0.1, 0.9, 0.1])
    y = np.array([0.9, 0.9, 0.1, 0.1])
    np.testing.assert_array_equal(spatial_order(x, y, 1.0), [3, 2, 1, 0])


def test_order_is_a_permutation_that_keeps_neighbours_close():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 100, 5000), rng.uniform(0, 100, 5000)
    order = spatial_order(x, y, 100.0)
    np.testing.assert_array_equal(np.sort(order), np.arange(5000))
    # consecutive points along the curve are far closer than random pairs
    step = np.hypot(np.diff(x[order]), np.diff(y[order]))
    random_pairs = np.hypot(np.diff(x), np.diff(y))
    assert np.median(step) < 0.2 * np.median(random_pairs)


def test_reorder_moves_every_field_together():
    f = FirmState.empty(6)
    f.alive[:4] = True
    f.firm_id[:4] = [10, 11, 12, 13]
    f.x[:4] = [1.0, 2.0, 3.0, 4.0]
    f.employees[:4] = [5.0, 6.0, 7.0, 8.0]
    f.reorder(np.array([2, 0, 3, 1]))
    np.testing.assert_array_equal(f.firm_id[:4], [12, 10, 13, 11])
    np.testing.assert_array_equal(f.x[:4], [3.0, 1.0, 4.0, 2.0])
    np.testing.assert_array_equal(f.employees[:4], [7.0, 5.0, 8.0, 6.0])
    assert set(FIRM_FIELDS) <= set(vars(f))


def test_initial_firms_are_laid_out_along_the_curve():
    m = ClusterModel(n_firms=2000, rng=4, burn_in=0)  # before any firm leaves or enters
    alive = np.flatnonzero(m.firms.alive)
    order = spatial_order(m.firms.x[alive], m.firms.y[alive], m.params.world.world_size)
    np.testing.assert_array_equal(order, np.arange(alive.size))
