"""Every intervention on a small hand-built cluster, with its effect computed by hand; the
scheduler (start, end, duration, after, when_metric, budget).

Each case builds a :class:`sim.model.ClusterModel` on a tiny world (one or two regions, a few
dozen firms) with the mechanisms that would blur the effect switched off, and compares it with
the same model (same seed) without the intervention, or checks the booked public spending.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from sim.core.params import Params
from sim.core.state import FacilityState
from sim.core.world import FirmGroup, Region, Sector, World
from sim.interventions import KINDS, Intervention
from sim.interventions.base import SIZE_BOUNDS
from sim.interventions.cfc import CommonFacilityCentre, mse_cdp_grant_share
from sim.interventions.credit import Credit
from sim.interventions.purchasing import JointPurchasing
from sim.interventions.shocks import (
    DemandShock,
    InputPriceShock,
    MovementRestriction,
    WasteRegulation,
)
from sim.interventions.training import Training
from sim.interventions.trust import TrustBuilding
from sim.interventions.zone import IndustrialZone
from sim.mechanisms import suppliers
from sim.model import ClusterModel

#: Everything off that moves firms' numbers between steps, except production and the market.
QUIET = {"cooperation": False, "suppliers": False, "joint_purchasing": False,
         "facilities": False, "growth": False, "exit": False, "entry": False,
         "initial_tie_share": 0.0}


def world(n_a: int = 30, n_b: int = 10, two_sectors: bool = False) -> World:
    regions = (Region("A", 10.0, 10.0, radius=1.0, land_cost=0.04, market_access=1.0,
                      infrastructure=0.6),
               Region("B", 30.0, 30.0, radius=1.0, land_cost=0.02, market_access=0.9,
                      infrastructure=0.3))
    sectors = [Sector("stone", "raw stone", input_per_output=0.25, waste_per_output=0.4)]
    firms = [FirmGroup("A", "stone", n_a), FirmGroup("B", "stone", n_b)]
    if two_sectors:
        sectors.append(Sector("food", "grain", input_per_output=0.3))
        firms += [FirmGroup("A", "food", n_a), FirmGroup("B", "food", n_b)]
    return World(regions=regions, sectors=tuple(sectors), firms=tuple(firms))


def model(interventions=(), *, seed: int = 1, w: World | None = None,
          **params) -> ClusterModel:
    p = Params().replace({**QUIET, "world_size": 40.0, **params})
    m = ClusterModel(p, w or world(), tuple(interventions), rng=seed, agents=False)
    m.firms.loss_streak[:] = 0  # hand-built: no firm has a history of losses
    return m


def run(m: ClusterModel, steps: int) -> ClusterModel:
    for _ in range(steps):
        m.step()
    return m


def alive_in(m: ClusterModel, region: str) -> np.ndarray:
    return np.flatnonzero(m.firms.alive & (m.firms.region == m.world.region_index(region)))


def test_every_kind_is_tested_here():
    tested = {"cfc", "trust_building", "joint_purchasing", "credit", "training",
              "industrial_zone", "movement_restriction", "demand_shock", "input_price_shock",
              "waste_regulation"}
    assert set(KINDS) == tested


# -- training -------------------------------------------------------------------------------------
def test_training_raises_exactly_the_chosen_firms_productivity():
    spec = Training(name="tr", regions=("A",), firms_per_month=4, productivity_gain=0.1,
                    cost_per_firm=2.5)
    m = model([spec])
    before = m.firms.productivity.copy()
    run(m, 1)
    trained = np.flatnonzero(m.firms.trained)
    assert trained.size == 4
    assert set(trained) <= set(alive_in(m, "A"))
    np.testing.assert_allclose(m.firms.productivity[trained], before[trained] * 1.1, rtol=1e-15)
    untouched = np.setdiff1d(np.arange(m.firms.capacity), trained)
    np.testing.assert_array_equal(m.firms.productivity[untouched], before[untouched])
    assert m.books.public.total == pytest.approx(4 * 2.5)
    assert m.books.public.by["tr"] == pytest.approx(10.0)


def test_training_runs_out_of_firms_and_stops_spending():
    spec = Training(name="tr", regions=("A",), firms_per_month=7, cost_per_firm=1.0)
    m = run(model([spec]), 6)
    # 30 firms in A: 7, 7, 7, 7, 2, then none left to train
    assert m.firms.trained.sum() == 30
    assert m.books.public.total == pytest.approx(30.0)
    assert m.series()["public_spending"].tolist() == [0, 7, 7, 7, 7, 2, 0]


def test_training_budget_caps_spending():
    spec = Training(name="tr", firms_per_month=5, cost_per_firm=2.0, budget=13.0)
    m = run(model([spec]), 5)
    # 5 firms (10), then only one more fits the remaining 3; then the budget is spent
    assert m.firms.trained.sum() == 6
    assert m.books.public.total == pytest.approx(12.0)
    assert m.schedules[0].active  # 1 left: still active, but too little for a firm
    spec = Training(name="tr", firms_per_month=5, cost_per_firm=2.0, budget=12.0)
    m = run(model([spec]), 4)
    assert m.books.public.total == pytest.approx(12.0)
    assert m.schedules[0].ended_at == 3  # the cap ends it


def test_training_targets_size_classes():
    spec = Training(name="tr", size_classes=("small",), firms_per_month=1000, cost_per_firm=1.0)
    m = run(model([spec]), 1)
    small = (m.firms.employees >= SIZE_BOUNDS[0]) & (m.firms.employees < SIZE_BOUNDS[1])
    np.testing.assert_array_equal(m.firms.trained, small & m.firms.alive)
    assert 0 < m.firms.trained.sum() < m.firms.n_alive


# -- industrial zone ------------------------------------------------------------------------------
def profit_gap(spec: Intervention, steps: int = 1, **params):
    """Profit with and without ``spec`` (same seed), and the model with it."""
    with_ = run(model([spec], **params), steps)
    without = run(model([], **params), steps)
    np.testing.assert_array_equal(with_.firms.revenue, without.firms.revenue)
    return with_.firms.profit - without.firms.profit, with_, without


def test_industrial_zone_multiplies_land_cost():
    spec = IndustrialZone(name="zone", regions=("A",), land_cost_multiplier=0.25,
                          transport_multiplier=1.0, development_cost=40.0, monthly_cost=1.5)
    gap, m, _ = profit_gap(spec)
    a, b = alive_in(m, "A"), alive_in(m, "B")
    # rent = land_cost * multiplier * employees: a zone firm saves 75% of its rent
    np.testing.assert_allclose(gap[a], 0.75 * 0.04 * m.firms.employees[a], rtol=1e-12)
    np.testing.assert_array_equal(gap[b], 0.0)
    assert m.mods.land_mult.tolist() == [0.25, 1.0]
    assert m.books.public.total == pytest.approx(40.0 + 1.5)  # development on opening + upkeep


def test_industrial_zone_lowers_transport_cost():
    spec = IndustrialZone(name="zone", regions=("A",), land_cost_multiplier=1.0,
                          transport_multiplier=0.5, development_cost=0.0, monthly_cost=0.0)
    gap, m, _ = profit_gap(spec)
    a, b = alive_in(m, "A"), alive_in(m, "B")
    share = m.params.market.transport_share
    infra = m.world_arrays["infra_factor"][0]
    np.testing.assert_allclose(gap[a], 0.5 * share * m.firms.revenue[a] * infra, rtol=1e-12)
    np.testing.assert_array_equal(gap[b], 0.0)
    assert m.books.public.total == 0.0


def test_industrial_zone_attracts_entrants():
    spec = IndustrialZone(name="zone", regions=("B",), land_cost_multiplier=0.1,
                          development_cost=0.0, monthly_cost=0.0)
    from sim.mechanisms.demography import attractiveness

    m = run(model([spec]), 1)
    with_zone = attractiveness(m, m.market)
    m.mods.reset()
    assert with_zone[0, 1] > attractiveness(m, m.market)[0, 1]


# -- movement restrictions ------------------------------------------------------------------------
def test_movement_restriction_multiplies_transport_cost():
    spec = MovementRestriction(name="closure", regions=("B",), within_multiplier=1.5,
                               between_multiplier=3.0)
    gap, m, without = profit_gap(spec)
    a, b = alive_in(m, "A"), alive_in(m, "B")
    share = m.params.market.transport_share
    infra = m.world_arrays["infra_factor"][1]
    transport = share * m.firms.revenue[b] * infra
    # the cost of reaching the market from B is three times what it was
    np.testing.assert_allclose(gap[b], -(3.0 - 1.0) * transport, rtol=1e-12)
    np.testing.assert_array_equal(gap[a], 0.0)
    assert m.mods.within_mult.tolist() == [1.0, 1.5]
    assert m.mods.between_mult.tolist() == [1.0, 3.0]
    assert m.books.public.total == 0.0  # a shock costs no public money


def test_movement_restriction_raises_delivered_input_cost():
    m = model([MovementRestriction(name="closure", regions=("A",), within_multiplier=2.0,
                                   between_multiplier=4.0)], suppliers=True)
    run(m, 1)
    f, sup, mods = m.firms, m.suppliers, m.mods
    i = alive_in(m, "A")[0]
    for k in np.flatnonzero(sup.input == 0):
        dist = np.hypot(f.x[i] - sup.x[k], f.y[i] - sup.y[k])
        mult = 2.0 if sup.region[k] == 0 else 4.0
        expected = sup.price[k] * (1.0 + m.params.suppliers.freight_per_km * dist * mult
                                   * m.world_arrays["infra_factor"][0])
        got = suppliers._delivered(i, k, f.x, f.y, f.region, sup.x, sup.y, sup.region,
                                   sup.price, m.params.suppliers.freight_per_km,
                                   mods.within_mult, mods.between_mult,
                                   m.world_arrays["infra_factor"])
        assert got == pytest.approx(expected, rel=1e-12)
    assert m.month.unit_input_cost[i] == pytest.approx(suppliers._delivered(
        i, f.supplier[i], f.x, f.y, f.region, sup.x, sup.y, sup.region, sup.price,
        m.params.suppliers.freight_per_km, mods.within_mult, mods.between_mult,
        m.world_arrays["infra_factor"]), rel=1e-12)


def test_shocks_compose_multiplicatively():
    specs = [MovementRestriction(name="r1", between_multiplier=2.0, within_multiplier=1.0),
             MovementRestriction(name="r2", regions=("A",), between_multiplier=1.5,
                                 within_multiplier=1.0),
             IndustrialZone(name="z", regions=("A",), transport_multiplier=0.5,
                            development_cost=0.0, monthly_cost=0.0)]
    m = run(model(specs), 1)
    assert m.mods.between_mult.tolist() == [2.0 * 1.5 * 0.5, 2.0]


# -- demand, input price and waste shocks ----------------------------------------------------------
def test_demand_shock_scales_the_price_of_its_sector():
    spec = DemandShock(name="exports", sectors=("stone",), multiplier=0.8)
    w = world(two_sectors=True)
    with_ = run(model([spec], w=w, market=False), 1)
    without = run(model([], w=w, market=False), 1)
    stone = with_.firms.alive & (with_.firms.sector == 0)
    food = with_.firms.alive & (with_.firms.sector == 1)
    np.testing.assert_allclose(with_.firms.revenue[stone], 0.8 * without.firms.revenue[stone],
                               rtol=1e-12)
    np.testing.assert_array_equal(with_.firms.revenue[food], without.firms.revenue[food])
    np.testing.assert_allclose(with_.market.sector_price, [0.8, 1.0])


def test_demand_shock_through_the_demand_curve():
    spec = DemandShock(name="exports", multiplier=0.5)
    with_ = run(model([spec]), 1)
    without = run(model([]), 1)
    # P = P0 (D m / Q)^(1/elasticity): the price falls by m^(1/elasticity), output unchanged
    e = with_.params.market.demand_elasticity
    assert with_.market.sector_price[0] == pytest.approx(
        without.market.sector_price[0] * 0.5 ** (1 / e), rel=1e-12)


def test_input_price_shock_scales_the_input_bill():
    spec = InputPriceShock(name="stone price", inputs=("raw stone",), multiplier=1.3)
    w = world(two_sectors=True)
    with_ = run(model([spec], w=w), 1)
    without = run(model([], w=w), 1)
    stone = with_.firms.alive & (with_.firms.sector == 0)
    food = with_.firms.alive & (with_.firms.sector == 1)
    np.testing.assert_allclose(with_.month.input_cost[stone],
                               1.3 * without.month.input_cost[stone], rtol=1e-12)
    np.testing.assert_array_equal(with_.month.input_cost[food], without.month.input_cost[food])
    assert with_.books.public.total == 0.0


def test_waste_regulation_scales_untreated_waste_cost():
    spec = WasteRegulation(name="court order", sectors=("stone",), penalty_multiplier=5.0)
    w = world(two_sectors=True)
    with_ = run(model([spec], w=w), 1)
    without = run(model([], w=w), 1)
    f = with_.firms
    stone = f.alive & (f.sector == 0)
    expected = f.output[stone] * 0.4 * with_.params.market.waste_cost * 5.0
    np.testing.assert_allclose(with_.month.waste_cost[stone], expected, rtol=1e-12)
    np.testing.assert_allclose(with_.firms.profit[stone] - without.firms.profit[stone],
                               -4.0 / 5.0 * expected, rtol=1e-12)
    food = f.alive & (f.sector == 1)
    np.testing.assert_array_equal(with_.month.waste_cost[food], 0.0)  # food makes no waste


# -- credit ---------------------------------------------------------------------------------------
def indebted(spec, debt: float = 10.0) -> ClusterModel:
    m = model([spec] if spec else [])
    m.firms.capital[m.firms.alive] = -debt
    return m


def test_credit_books_the_interest_subsidy():
    spec = Credit(name="credit", regions=("A",), interest_subsidy=0.5, guarantee_months=0.0)
    m = run(indebted(spec), 1)
    a = alive_in(m, "A")
    rate = m.params.market.interest_rate
    assert m.books.public.total == pytest.approx(a.size * 10.0 * rate * 0.5, rel=1e-12)
    assert m.books.public.by["credit"] == pytest.approx(m.books.public.total)
    np.testing.assert_array_equal(m.firms.interest_subsidy[a], 0.5)
    np.testing.assert_array_equal(m.firms.interest_subsidy[alive_in(m, "B")], 0.0)
    # firms in A pay half the interest: their profit is higher by exactly that
    without = run(indebted(None), 1)
    gap = m.firms.profit - without.firms.profit
    np.testing.assert_allclose(gap[a], 10.0 * rate * 0.5, rtol=1e-12)
    np.testing.assert_array_equal(gap[alive_in(m, "B")], 0.0)


def test_credit_guarantee_keeps_indebted_firms():
    # debt of 4 months of revenue: beyond the 3-month limit, within limit + 2 guaranteed months
    spec = Credit(name="credit", regions=("A",), interest_subsidy=0.0, guarantee_months=2.0)
    m = model([spec], exit=True)
    f = m.firms
    a, b = alive_in(m, "A")[:5], alive_in(m, "B")[:5]
    revenue = f.productivity * f.employees * m.world_arrays["market_access"][f.region]
    f.capital[a] = -4.0 * revenue[a]
    f.capital[b] = -4.0 * revenue[b]
    ids_a, ids_b = f.firm_id[a].copy(), f.firm_id[b].copy()
    run(m, 1)
    alive_ids = f.firm_id[f.alive]
    assert np.isin(ids_a, alive_ids).all()  # guaranteed: kept
    assert not np.isin(ids_b, alive_ids).any()  # not guaranteed: closed
    assert m.books.public.total == 0.0  # guaranteed firms that survive cost nothing


def test_credit_guarantee_pays_its_share_of_a_failure():
    spec = Credit(name="credit", regions=("A",), interest_subsidy=0.0, guarantee_months=2.0,
                  guarantee_cover=0.4)
    m = model([spec], exit=True)
    doomed = alive_in(m, "A")[0]
    m.firms.capital[doomed] = -1000.0  # beyond any limit: it fails, with a guarantee
    run(m, 1)
    assert not m.firms.alive[doomed]
    assert m.series()["exits"].iloc[-1] == 1
    debt = -m.books.private.exit_capital  # its capital when it left (after this month's profit)
    assert 990.0 < debt < 1010.0
    assert m.books.public.total == pytest.approx(0.4 * debt, rel=1e-12)


def test_overlapping_credit_programmes_book_their_own_spending():
    a_prog = Credit(name="credit_a", regions=("A",), interest_subsidy=0.5, guarantee_months=0.0)
    b_prog = Credit(name="credit_b", regions=("B",), interest_subsidy=0.2, guarantee_months=0.0)
    m = model([a_prog, b_prog])
    m.firms.capital[m.firms.alive] = -10.0
    run(m, 1)
    rate = m.params.market.interest_rate
    assert m.books.public.by["credit_a"] == pytest.approx(alive_in(m, "A").size * 10.0 * rate * 0.5,
                                                    rel=1e-12)
    assert m.books.public.by["credit_b"] == pytest.approx(alive_in(m, "B").size * 10.0 * rate * 0.2,
                                                    rel=1e-12)


def test_credit_end_clears_firms_that_left_the_target():
    spec = Credit(name="credit", size_classes=("micro",), interest_subsidy=0.5, duration=2)
    m = indebted(spec)
    run(m, 1)
    cover = m.policy_context().shared["credit"]
    covered = np.flatnonzero(cover.owner == cover.code(m.schedules[0]))
    assert covered.size
    m.firms.employees[covered] = 100.0  # they grow out of the micro class
    run(m, 2)
    assert (cover.owner == -1).all()
    assert (m.firms.interest_subsidy == 0.0).all()


def test_credit_ends_cleanly():
    spec = Credit(name="credit", interest_subsidy=0.7, duration=2)
    m = run(indebted(spec), 3)
    assert m.schedules[0].ended_at == 3
    assert (m.firms.interest_subsidy == 0.0).all()
    assert (m.firms.debt_extra_months == 0.0).all()
    assert (m.policy_context().shared["credit"].owner == -1).all()
    spent = m.series()["public_spending"].tolist()
    assert spent[1] > 0
    assert spent[2] > 0
    assert spent[3] == 0.0


# -- trust building -------------------------------------------------------------------------------
def tie(m: ClusterModel, i: int, j: int, trust: float) -> None:
    from sim.mechanisms.cooperation import add_tie

    assert add_tie(m.ties, np.array([i]), np.array([j]), trust, trust) == 1


def trust_of(m: ClusterModel, i: int, j: int) -> float:
    k = int(np.flatnonzero(m.ties.partner[i] == j)[0])
    return float(m.ties.trust[i, k])


def test_trust_building_raises_trust_among_participants_and_books_staff_cost():
    spec = TrustBuilding(name="cda", regions=("A",), participants=1000,
                         introductions_per_month=0, trust_boost=0.5, staff_cost=3.0)
    m = model([spec])
    a, b = alive_in(m, "A"), alive_in(m, "B")
    tie(m, a[0], a[1], 0.2)
    tie(m, a[2], b[0], 0.2)
    tie(m, b[1], b[2], 0.2)
    run(m, 1)
    np.testing.assert_array_equal(m.schedules[0].data["members"], a)  # all of A take part
    assert trust_of(m, a[0], a[1]) == pytest.approx(0.2 + 0.5 * 0.8)
    assert trust_of(m, a[1], a[0]) == pytest.approx(0.6)
    assert trust_of(m, a[2], b[0]) == 0.2  # one side is not a participant
    assert trust_of(m, b[1], b[2]) == 0.2
    run(m, 1)
    assert trust_of(m, a[0], a[1]) == pytest.approx(0.6 + 0.5 * 0.4)
    assert m.books.public.total == pytest.approx(6.0)
    assert m.books.public.by["cda"] == pytest.approx(6.0)


def test_trust_building_brokers_ties_between_participants():
    spec = TrustBuilding(name="cda", regions=("A",), participants=12,
                         introductions_per_month=40, introduced_trust=0.7, trust_boost=0.0,
                         staff_cost=1.0)
    m = run(model([spec]), 1)
    members = set(m.schedules[0].data["members"].tolist())
    assert len(members) == 12
    partner = m.ties.partner
    ties = [(i, j) for i in range(partner.shape[0]) for j in partner[i] if j >= 0]
    assert len(ties) > 0
    for i, j in ties:
        assert i in members
        assert j in members
        assert trust_of(m, i, j) == 0.7
    assert (m.ties.degree() <= m.params.world.max_ties).all()


def test_trust_building_does_not_enrol_an_entrant_in_a_departed_participants_slot():
    # every firm of A takes part; one leaves and an entrant takes its slot: the entrant is a
    # different firm, so its ties get no boost and it is not introduced to anyone
    spec = TrustBuilding(name="cda", regions=("A",), participants=1000,
                         introductions_per_month=20, introduced_trust=0.7, trust_boost=0.5,
                         staff_cost=0.0)
    m = run(model([spec]), 1)
    a = alive_in(m, "A")
    gone = a[0]
    other = a[1:][m.ties.degree()[a[1:]] < m.params.world.max_ties - 1][0]
    m._remove_firms(np.array([gone]))
    slot = m.population.create(m.firms, m.ties, np.array([m.world.region_index("A")]),
                               np.array([0]), np.array([2.0]), parent=np.array([-1]), t=m.steps,
                               books=m.books)
    assert slot.tolist() == [gone]  # the lowest free slot: the departed participant's
    tie(m, gone, other, 0.2)
    run(m, 3)
    assert trust_of(m, gone, other) == 0.2
    assert trust_of(m, other, gone) == 0.2
    assert m.ties.degree()[gone] == 1  # no brokered introduction
    np.testing.assert_array_equal(m.schedules[0].data["members"], a[1:])


def test_trust_building_budget_stops_activities():
    spec = TrustBuilding(name="cda", regions=("A",), participants=1000,
                         introductions_per_month=0, trust_boost=0.5, staff_cost=3.0,
                         budget=7.5)
    m = model([spec])
    a = alive_in(m, "A")
    tie(m, a[0], a[1], 0.2)
    run(m, 5)
    # two full months (6), then 1.5 left: too little for a month, which is paid but not held
    assert trust_of(m, a[0], a[1]) == pytest.approx(1 - 0.8 * 0.5 ** 2)
    assert m.books.public.total == pytest.approx(7.5)
    assert m.schedules[0].ended


# -- joint purchasing -----------------------------------------------------------------------------
def test_joint_purchasing_lowers_the_trust_needed_and_cuts_prices():
    spec = JointPurchasing(name="jp", extra_discount=0.1, trust_relief=0.2, monthly_cost=1.5,
                           cost_per_member=0.25)
    params = {"suppliers": True, "joint_purchasing": True, "loyalty": 1.0}
    chain = None
    results = {}
    for label, specs in (("without", []), ("with", [spec])):
        m = model(specs, **params)
        chain = alive_in(m, "A")[:4]
        for i, j in zip(chain[:-1], chain[1:], strict=True):
            tie(m, i, j, 0.45)  # below jp_trust_min (0.6), above 0.6 - 0.2
        run(m, 2)
        results[label] = m
    assert (results["without"].firms.jp_group == -1).all()
    m = results["with"]
    np.testing.assert_array_equal(m.firms.jp_group[chain], chain.min())
    assert (m.firms.jp_group >= 0).sum() == 4
    # members pay the group supplier's delivered price less 5% + 10%
    f, sup = m.firms, m.suppliers
    for i in chain:
        delivered = suppliers._delivered(i, f.supplier[i], f.x, f.y, f.region, sup.x, sup.y,
                                         sup.region, sup.price, m.params.suppliers.freight_per_km,
                                         m.mods.within_mult, m.mods.between_mult,
                                         m.world_arrays["infra_factor"])
        assert m.month.unit_input_cost[i] == pytest.approx(0.85 * delivered, rel=1e-12)
    assert len({int(f.supplier[i]) for i in chain}) == 1  # one supplier for the group
    # month 1: no members yet (groups form during the month); month 2: 4 members
    assert m.series()["public_spending"].tolist() == [0.0, 1.5, 1.5 + 4 * 0.25]


# -- common facility centre -----------------------------------------------------------------------
def cfc_model(spec, **params):
    """Every firm pledges at once (negative thresholds); ample capital; no private drives."""
    base = {"facilities": True, "pledge_threshold_mean": -1.0, "pledge_threshold_sd": 0.0,
            "initial_capital_months": 50.0, "private_cost": 0.0, "build_months": 2,
            "payout_rate": 0.0, "hire_cost": 0.0}  # capital moves only by profit and pledges
    return model([spec], **{**base, **params})


def test_cfc_with_a_generous_grant_is_built():
    spec = CommonFacilityCentre(name="cfc", region="A", project_cost=120.0, grant_share=0.8,
                                spv_min_members=10, drive_months=3)
    m = cfc_model(spec)
    a = alive_in(m, "A")
    capital0 = m.firms.capital.copy()
    run(m, 1)
    fac = m.facilities
    (f,) = [k for k in range(fac.n) if fac.sponsor[k] == "cfc"]
    assert fac.status[f] == FacilityState.BUILDING
    assert fac.members[f] == a.size == 30
    np.testing.assert_array_equal(m.firms.member_of[a], f)
    np.testing.assert_array_equal(m.firms.member_of[alive_in(m, "B")], -1)
    # members pay (1 - grant) * cost, split equally; the grant is public spending
    paid = capital0 + m.firms.profit - m.firms.capital
    np.testing.assert_allclose(paid[a], 0.2 * 120.0 / 30, rtol=1e-12)
    np.testing.assert_allclose(paid[alive_in(m, "B")], 0.0, atol=1e-12)
    assert m.books.public.total == pytest.approx(0.8 * 120.0)
    assert m.books.public.by["cfc"] == pytest.approx(96.0)
    assert m.books.private.contributions == pytest.approx(24.0)
    run(m, 2)  # opens after build_months
    assert fac.status[f] == FacilityState.OPERATING
    assert m.first_facility_step == 3


def test_spv_membership_counts_only_members_still_in_business():
    spec = CommonFacilityCentre(name="cfc", region="A", project_cost=120.0, grant_share=0.8,
                                spv_min_members=10, drive_months=3)
    m = run(cfc_model(spec), 1)
    (f,) = [k for k in range(m.facilities.n) if m.facilities.sponsor[k] == "cfc"]
    assert m.facilities.members[f] == 30
    m._remove_firms(alive_in(m, "A")[:4])  # four members close
    run(m, 1)
    assert m.facilities.members[f] == 26


def test_cfc_fails_with_too_few_eligible_firms():
    spec = CommonFacilityCentre(name="cfc", region="A", project_cost=120.0, grant_share=0.8,
                                spv_min_members=31, drive_months=3)
    m = run(cfc_model(spec), 2)
    fac = m.facilities
    assert fac.status[0] == FacilityState.DRIVE  # open for drive_months
    run(m, 1)
    assert fac.status[0] == FacilityState.FAILED
    assert m.books.public.total == 0.0
    assert (m.firms.member_of == -1).all()
    assert (m.series()["contributions"] == 0.0).all()


def test_cfc_fails_when_members_cannot_pay():
    # members' share (here 50% of 3,000 over at least 10 firms) exceeds what firms hold
    spec = CommonFacilityCentre(name="cfc", region="A", project_cost=3000.0, grant_share=0.5,
                                spv_min_members=10, drive_months=2)
    m = run(cfc_model(spec, initial_capital_months=3.0), 2)
    assert m.facilities.status[0] == FacilityState.FAILED
    assert m.books.public.total == 0.0


def test_cfc_grant_never_exceeds_the_budget():
    spec = CommonFacilityCentre(name="cfc", region="A", project_cost=120.0, grant_share=0.8,
                                spv_min_members=10, budget=50.0)
    m = run(cfc_model(spec), 1)
    a = alive_in(m, "A")
    assert m.facilities.status[0] == FacilityState.BUILDING
    assert m.books.public.total == pytest.approx(50.0)
    assert m.books.private.contributions == pytest.approx(70.0)  # members pay the rest
    assert m.facilities.member_share[0] == pytest.approx(70.0 / 120.0)
    assert a.size == 30
    assert m.schedules[0].ended_at == -1  # still active this month; it ends next month
    run(m, 1)
    assert m.schedules[0].ended_at == 2
    assert m.facilities.status[0] == FacilityState.BUILDING  # ending does not undo the build


def test_cfc_drive_closes_when_the_intervention_ends():
    spec = CommonFacilityCentre(name="cfc", region="A", project_cost=120.0, grant_share=0.8,
                                spv_min_members=31, drive_months=24, duration=3)
    m = run(cfc_model(spec), 3)
    assert m.facilities.status[0] == FacilityState.DRIVE
    run(m, 1)
    assert m.schedules[0].ended_at == 4
    assert m.facilities.status[0] == FacilityState.FAILED


def test_cfc_grant_share_by_mse_cdp_band():
    assert mse_cdp_grant_share(5.0) == 0.7
    assert mse_cdp_grant_share(5.0, special_category=True) == 0.8
    assert mse_cdp_grant_share(15.0) == 0.6
    assert mse_cdp_grant_share(15.0, special_category=True) == 0.7
    assert mse_cdp_grant_share(35.0) == pytest.approx(0.6)  # capped at Rs 21 crore: 21/35
    assert mse_cdp_grant_share(40.0, special_category=True) == pytest.approx(21 / 40)
    m = model(facilities=True)
    assert CommonFacilityCentre(name="c", region="A").project(m).grant_share == 0.6
    assert CommonFacilityCentre(name="c", region="A", band_cost_crore=8.0,
                                special_category=True).project(m).grant_share == 0.8
    # members always pay at least member_share_min
    assert CommonFacilityCentre(name="c", region="A", grant_share=0.95,
                                member_share_min=0.1).project(m).grant_share == 0.9


def test_member_share_min_is_the_least_share_the_members_of_every_drive_pay():
    # the model's member_share_min (0.5) caps the CFC's 80% grant at 50%; a private drive (in
    # B, where the CFC does not reach) has no grant, so its members pay everything
    spec = CommonFacilityCentre(name="cfc", region="A", project_cost=120.0, grant_share=0.8,
                                spv_min_members=10)
    m = run(cfc_model(spec, member_share_min=0.5, private_cost=30.0, drive_interval=1,
                      spv_min_members=10), 1)
    fac = m.facilities
    assert fac.sponsor == ["cfc", ""]
    assert fac.member_share == [0.5, 1.0]
    assert fac.status == [FacilityState.BUILDING, FacilityState.BUILDING]
    assert m.books.public.by["cfc"] == pytest.approx(60.0)
    assert m.books.private.contributions == pytest.approx(60.0 + 30.0)


def test_cfc_operating_grant_is_booked_and_counts_against_running_cost():
    spec = CommonFacilityCentre(name="cfc", region="A", project_cost=120.0, grant_share=0.8,
                                spv_min_members=10, operating_cost=500.0, operating_grant=800.0,
                                capacity=100.0)
    m = run(cfc_model(spec), 3)
    fac = m.facilities
    assert fac.status[0] == FacilityState.OPERATING
    run(m, 2)
    # the grant pays the whole running cost (no more than it), so quality does not decline
    assert m.series()["public_spending"].tolist()[-2:] == [500.0, 500.0]
    assert fac.quality[0] == 1.0


# -- the scheduler --------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Probe(Intervention):
    """Records when it starts, acts and ends; spends ``cost`` a month."""

    kind = "probe"
    cost: float = 0.0

    def on_start(self, model, state):
        state.data["log"] = [("start", model.steps)]

    def apply(self, model, state):
        state.data["log"].append(("apply", model.steps))
        state.spend(model, self.cost)

    def on_end(self, model, state):
        state.data["log"].append(("end", model.steps))


def months(m: ClusterModel, name: str) -> list[int]:
    sch = next(s for s in m.schedules if s.spec.name == name)
    return [t for what, t in sch.data.get("log", []) if what == "apply"]


def schedule(*specs, steps: int = 8) -> ClusterModel:
    return run(model(specs), steps)


def test_first_month_is_one_and_start():
    m = schedule(Probe(name="p"), Probe(name="q", start=3))
    assert months(m, "p") == list(range(1, 9))
    assert months(m, "q") == list(range(3, 9))


def test_end_is_exclusive():
    m = schedule(Probe(name="p", start=2, end=5))
    assert months(m, "p") == [2, 3, 4]
    sch = m.schedules[0]
    assert (sch.started_at, sch.ended_at) == (2, 5)
    assert sch.data["log"][-1] == ("end", 5)


def test_duration():
    m = schedule(Probe(name="p", start=2, duration=3))
    assert months(m, "p") == [2, 3, 4]
    assert m.schedules[0].ended_at == 5


def test_after_chains_in_order():
    # the follower is listed after its predecessor: it starts the month the predecessor ends
    m = schedule(Probe(name="first", duration=2), Probe(name="then", after="first"))
    assert months(m, "first") == [1, 2]
    assert months(m, "then") == list(range(3, 9))
    # listed before: it sees the end one month later
    m = schedule(Probe(name="then", after="first"), Probe(name="first", duration=2))
    assert months(m, "then") == list(range(4, 9))


def test_after_and_start_together():
    m = schedule(Probe(name="first", duration=2), Probe(name="then", after="first", start=6))
    assert months(m, "then") == [6, 7, 8]


def test_after_an_intervention_that_never_ends():
    m = schedule(Probe(name="first"), Probe(name="then", after="first"))
    assert months(m, "then") == []


def test_when_metric_waits_for_the_condition():
    # "spend" spends 1 a month; the follower starts once cumulative spending reached 3,
    # as recorded at the end of the previous month
    m = schedule(Probe(name="spend", cost=1.0),
                 Probe(name="late", when_metric="public_spending_total", when_at_least=3.0))
    assert months(m, "late") == list(range(4, 9))


def test_when_metric_with_after_needs_both():
    m = schedule(Probe(name="spend", cost=1.0, duration=5),
                 Probe(name="a", after="spend", when_metric="public_spending_total",
                       when_at_least=2.0),
                 Probe(name="b", when_metric="public_spending_total", when_at_least=100.0))
    assert months(m, "a") == [6, 7, 8]
    assert months(m, "b") == []


def test_budget_ends_an_intervention():
    m = schedule(Probe(name="p", cost=2.0, budget=5.0))
    assert months(m, "p") == [1, 2, 3]  # 2 + 2 + 1: the last month is capped
    sch = m.schedules[0]
    assert sch.spent == pytest.approx(5.0)
    assert sch.ended_at == 4
    assert m.books.public.total == pytest.approx(5.0)


def test_an_ended_intervention_never_restarts():
    m = schedule(Probe(name="p", duration=1), steps=6)
    assert months(m, "p") == [1]
    assert [w for w, _ in m.schedules[0].data["log"]] == ["start", "apply", "end"]
