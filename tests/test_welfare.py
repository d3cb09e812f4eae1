"""Welfare outcomes: value added and who receives it (wages, land rents, owners' profit) and
local suppliers' margins, on hand-built states and a short seeded run."""

from __future__ import annotations

import numpy as np

from sim.core.params import Params
from sim.core.state import FirmState, SupplierState
from sim.measure.outputs import WELFARE, series_names
from sim.mechanisms import suppliers
from sim.model import ClusterModel
from tests.conftest import quiet_params, tiny_world


def test_value_added_is_wages_rents_profit_and_the_other_costs():
    """Value added = wages + land rents + profit + fees + fixed costs + interest - cooperation
    income, over a month of a small model with debt and cooperation (relative 1e-9)."""
    p = quiet_params("market", "cooperation", burn_in=0)
    m = ClusterModel(p, tiny_world({("R0", "S0"): 30, ("R1", "S0"): 30}), rng=5)
    f = m.firms
    f.capital[: 10] = -5.0  # some firms in debt pay interest
    alive_before = f.alive.copy()
    debt = np.where(alive_before, np.maximum(-f.capital, 0.0), 0.0)
    m.step()
    b = m.books.private
    n = np.count_nonzero(alive_before)
    interest = float(debt.sum()) * p.market.interest_rate - b.interest_subsidy
    coop = float(f.coop_income[alive_before].sum())
    parts = (b.wages + b.land_rents + b.profit + b.fees + n * p.market.fixed_cost + interest
             - coop)
    assert b.value_added > 0
    np.testing.assert_allclose(b.value_added, parts, rtol=1e-9)


def test_suppliers_margin_rises_when_their_prices_rise():
    """One supplier sells 30 input units at base cost 1: no margin at its base price, 30 x 0.5
    at a price of 1.5, more at 2."""
    firms = FirmState.empty(2)
    firms.alive[:] = (True, True)
    firms.supplier[:] = (0, 0)
    firms.sector[:] = 0
    firms.output[:] = (50.0, 50.0)
    sup = SupplierState(x=np.zeros(1), y=np.zeros(1), region=np.zeros(1, dtype=np.int64),
                        input=np.zeros(1, dtype=np.int64), base_price=np.ones(1),
                        volume=np.ones(1), price=np.ones(1), cost=np.ones(1))
    margins = []
    for price in (1.0, 1.5, 2.0):
        sup.price = np.array([price])
        margins.append(suppliers.update_volumes(firms, sup, np.array([0.3]), memory=0.5))
    np.testing.assert_allclose(margins, [0.0, 15.0, 30.0])


def test_base_cost_leaves_out_scarcity():
    """The base cost has the scale economies but not the dearer capacity nor crowding: a
    crowded supplier's price is above it, an uncrowded one's equals it."""
    sp = Params().replace(supply_elasticity=1.0, supplier_capacity=1.0).suppliers
    sup = SupplierState(x=np.zeros(2), y=np.zeros(2), region=np.zeros(2, dtype=np.int64),
                        input=np.zeros(2, dtype=np.int64), base_price=np.ones(2),
                        volume=np.array([5.0, 30.0]), price=np.ones(2),
                        ref_volume=np.full(2, 10.0), capacity=np.array([10.0, 20.0]),
                        base_capacity=np.full(2, 10.0))
    price = suppliers.gate_prices(sup, sp, np.ones(1))
    cost = suppliers.base_costs(sup, sp, np.ones(1))
    assert price[0] == cost[0]
    assert price[1] > cost[1]


def test_welfare_outcomes_are_recorded_every_month_without_nan():
    m = ClusterModel(n_firms=150, rng=2)
    for _ in range(6):
        m.step()
    s = m.series()
    assert set(WELFARE) <= set(series_names(m.world))
    for name in WELFARE:
        assert np.isfinite(s[name]).all(), name
    later = s[s["step"] > 0]
    assert (later["value_added"] > later["wages"]).all()
    assert (later["supplier_margin"] >= 0).all()
