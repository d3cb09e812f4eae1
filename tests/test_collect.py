"""The recorder's outputs: the fast path of :mod:`sim.measure.collect` against the single metrics.

:func:`sim.measure.collect.indicators` gets the firm-array indicators from
:func:`sim.measure.metrics.firm_indicators` and :func:`sim.measure.collect.snapshot` its sums from
:func:`sim.measure.metrics.alive_totals`; the row must be the one the single public functions of
:mod:`sim.measure.metrics` and numpy's masked sums give on the same model state (to summation-order
rounding), and bit-identical for any number of numba threads.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from sim import model as model_module
from sim.core.totals import CHUNK
from sim.measure import collect, metrics
from sim.mechanisms.cooperation import add_tie
from sim.model import ClusterModel


@pytest.fixture(scope="module")
def model():
    """A model with firm slots over three chunks of the parallel reductions, a few steps in."""
    m = ClusterModel(n_firms=9000, rng=5, agents=False)
    assert m.firms.capacity > 2 * CHUNK
    for _ in range(3):
        m.step()
    return m


def indicators_one_by_one(model) -> dict:
    """The recorder's indicators as it computed them before :func:`metrics.firm_indicators`:
    one public function per output (and tie_stats counting the triangles itself)."""
    f, w, ties = model.firms, model.world, model.ties
    alive, emp = f.alive, f.employees
    n_r, n_s = len(w.regions), len(w.sectors)
    return {
        "productivity": metrics.productivity_stats(f.productivity, alive),
        "size_classes": metrics.size_class_shares(emp, alive),
        "gini_size": metrics.gini(emp[alive]),
        "trust": metrics.mean_trust(ties.partner, ties.trust, alive),
        "ties": metrics.tie_stats(ties.partner, alive),
        "supplier_concentration": metrics.supplier_concentration(
            model.suppliers.volume, model.suppliers.input, len(w.inputs)),
        "eg_gamma": metrics.ellison_glaeser(emp, f.region, f.sector, alive, n_r, n_s),
        "lq": metrics.location_quotients(emp, f.region, f.sector, alive, n_r, n_s),
        "herfindahl_regions": metrics.herfindahl(
            np.bincount(f.region[alive], weights=emp[alive], minlength=n_r)),
        "morans_i": metrics.grid_morans_i(f.x, f.y, emp, alive, model.params.world.world_size),
    }


def row_one_by_one(model) -> dict:
    """The recorder's row from the single metrics, with its sums taken by numpy."""
    row = collect.snapshot(model, indicators_one_by_one(model))
    f = model.firms
    alive = f.alive
    row["firms"] = int(alive.sum())
    for key in ("employees", "output", "revenue", "capital"):
        row["employment" if key == "employees" else key] = float(getattr(f, key)[alive].sum())
    booked = model.books.private.profit
    row["profit"] = float(f.profit[alive].sum() if booked is None else booked)
    row["jp_share"] = float((f.jp_group[alive] >= 0).mean()) if row["firms"] else 0.0
    row["spv_members"] = int((f.member_of[alive] >= 0).sum())
    return row


def assert_close(got, want, what="row"):
    """Equal to 1e-12 relative, nan where nan, integers exactly; recursively."""
    if isinstance(want, dict):
        assert set(got) == set(want), what
        for key in want:
            assert_close(got[key], want[key], f"{what}[{key!r}]")
    elif isinstance(want, tuple):
        for n, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_close(a, b, f"{what}[{n}]")
    elif isinstance(want, bool):
        assert got is want, what
    elif isinstance(want, int):
        assert type(got) is int, what
        assert got == want, what
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=what)


def assert_same_row(a: dict, b: dict) -> None:
    """The same columns in the same order with bit-identical values (nan equal to nan)."""
    assert list(a) == list(b)
    for key in a:
        assert a[key] == b[key] or (a[key] != a[key] and b[key] != b[key]), key


def at_threads(threads: int, fn):
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return fn()
    finally:
        numba.set_num_threads(before)


def test_indicators_equal_the_single_metrics(model):
    got = collect.indicators(model)
    want = indicators_one_by_one(model)
    assert got.keys() == want.keys()
    assert_close(got, want, "indicators")


def test_snapshot_row_equals_the_row_from_single_metrics(model):
    row = collect.snapshot(model)
    want = row_one_by_one(model)
    assert list(row) == list(want)  # the columns, in order
    assert_close(row, want)
    # and what the last step recorded, with its extra columns: the state has not changed since
    assert_same_row(row, {key: model.recorder.latest[key] for key in row})


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_snapshot_is_bit_identical_for_any_threads(model):
    assert_same_row(at_threads(1, lambda: collect.snapshot(model)),
                    at_threads(2, lambda: collect.snapshot(model)))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_recorded_series_is_bit_identical_for_any_threads(monkeypatch):
    # every kernel of the step runs on 2 threads, however small the model
    monkeypatch.setattr(model_module, "PARALLEL_MIN_FIRMS", 0)
    series = []
    for threads in (1, 2):
        m = ClusterModel(n_firms=9000, rng=8, agents=False, threads=threads)
        for _ in range(2):
            m.step()
        series.append(m.series())
    assert series[0].equals(series[1])


def test_cooperation_rate_is_promises_kept_over_ties_played_this_month(make_world, make_params):
    """docs/ODD.md, Observation: the directed ties a firm cooperated on over the directed ties
    played this month, counting ties that dissolve later in the month. Firms 0 and 1 always
    keep their word (willingness 1, full trust); firms 2 and 3 never do (willingness 0), so
    their tie's trust falls below the floor and it dissolves the same month: 2 kept of 4
    played, although the one tie left at the end of the month was kept both ways."""
    world = make_world({("R0", "S0"): 4}, n_regions=1)
    params = make_params("cooperation", meet_prob=0.0, imitation_rate=0.0, initial_tie_share=0.0,
                         trust_loss=0.25, trust_floor=0.15)
    m = ClusterModel(params, world, rng=0, agents=False)
    add_tie(m.ties, np.array([0]), np.array([1]), 1.0, 1.0)
    add_tie(m.ties, np.array([2]), np.array([3]), 0.16, 0.16)
    m.firms.willingness[:4] = (1.0, 1.0, 0.0, 0.0)
    m.step()
    assert (m.books.private.coop_played, m.books.private.coop_kept) == (4, 2.0)
    assert m.ties.degree()[:4].tolist() == [1, 1, 0, 0]  # the cheats' tie has dissolved
    assert m.recorder.latest["cooperation_rate"] == 0.5
    assert m.series()["cooperation_rate"].iloc[0] == 0.0  # step 0: nothing played yet
