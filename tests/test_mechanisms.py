"""Each mechanism on a hand-built state of a few firms, against results computed by hand.

The mechanisms are driven through their public functions (``cooperation.step``,
``suppliers.step``, ``facilities.step``, ``market.step``, ``demography.grow/exits/entry``) with
parameters chosen so that the outcome is deterministic (probabilities 0 or 1) or a known
probability checked over many seeded draws. Expected numbers are written out as arithmetic in
the test so they can be checked by reading.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sim.agents import FirmAgent
from sim.core import streams
from sim.core.params import Params
from sim.core.spatial import build_cell_list
from sim.core.state import FacilityState, FirmState, Modifiers, SupplierState, TieState
from sim.mechanisms import cooperation, demography, facilities, market, suppliers
from sim.mechanisms.facilities import FacilityProject, open_drive
from sim.model import ClusterModel

# --------------------------------------------------------------------------- cooperation


def _key(seed: int) -> np.ndarray:
    """A key for the counter-based draws (sim.core.streams), from a seed."""
    return streams.make_key(np.random.default_rng(seed))


def _pair(rev=(100.0, 60.0), prod=(1.0, 1.5), will=(1.0, 1.0), trust=0.5, rep=(0.8, 0.6)):
    """Two live firms 1 km apart, tied with the given trust both ways."""
    firms = FirmState.empty(2)
    firms.alive[:] = True
    firms.firm_id[:] = (0, 1)
    firms.x[:] = (10.0, 11.0)
    firms.y[:] = 10.0
    firms.revenue[:] = rev
    firms.productivity[:] = prod
    firms.willingness[:] = will
    firms.reputation[:] = rep
    ties = TieState.empty(2, 3)
    assert cooperation.add_tie(ties, np.array([0]), np.array([1]), trust, trust) == 1
    return firms, ties


def _coop_params(**kw):
    # coop_base = 1: a firm keeps its word with probability = its willingness (0 or 1 here);
    # no meeting and no imitation, so only the game itself acts
    return Params().replace(coop_base=1.0, meet_prob=0.0, imitation_rate=0.0, **kw).cooperation


def _coop_step(firms, ties, cp, seed=0):
    cells = build_cell_list(firms.x, firms.y, firms.alive, 60.0, cp.tie_radius)
    return cooperation.step(firms, ties, cells, cp, _key(seed), 1)


def test_mutual_cooperation_pays_both_builds_trust_and_spills_know_how():
    cp = _coop_params(coop_benefit=0.02, coop_cost=0.008, trust_gain=0.15, spillover=0.02,
                      reputation_memory=0.1)
    firms, ties = _pair()
    books = _coop_step(firms, ties, cp)
    # payoff: b * min(rev) - c * min(rev) = 0.02 * 60 - 0.008 * 60
    np.testing.assert_allclose(firms.coop_income, [0.72, 0.72], rtol=1e-12)
    np.testing.assert_array_equal(firms.coop_acts, [1.0, 1.0])
    np.testing.assert_array_equal(ties.acted[:, 0], [1, 1])
    # trust moves alpha = 0.15 of the way to 1: 0.5 + 0.15 * 0.5
    assert ties.trust[0, 0] == pytest.approx(0.575)
    assert ties.trust[1, 0] == pytest.approx(0.575)
    # the less productive firm closes 2% of the gap of 0.5; the other keeps its productivity
    np.testing.assert_allclose(firms.productivity, [1.0 + 0.02 * 0.5, 1.5], rtol=1e-12)
    # reputation: 0.9 * old + 0.1 * (share of partners cooperated with = 1)
    np.testing.assert_allclose(firms.reputation, [0.9 * 0.8 + 0.1, 0.9 * 0.6 + 0.1])
    assert (books["ties_formed"], books["ties_dissolved"]) == (0, 0)


def test_one_cheats():
    cp = _coop_params(coop_benefit=0.02, coop_cost=0.008, trust_gain=0.15, trust_loss=0.25,
                      trust_floor=0.1, spillover=0.02, reputation_memory=0.1)
    firms, ties = _pair(will=(1.0, 0.0))
    _coop_step(firms, ties, cp)
    # firm 0 pays c * 60 and gets nothing; firm 1 gets b * 60 for free
    np.testing.assert_allclose(firms.coop_income, [-0.008 * 60, 0.02 * 60], rtol=1e-12)
    # firm 0's trust in the cheat falls by beta = 25%; firm 1's trust in firm 0 rises
    assert ties.trust[0, 0] == pytest.approx(0.5 * 0.75)
    assert ties.trust[1, 0] == pytest.approx(0.575)
    # no spillover without mutual cooperation
    np.testing.assert_array_equal(firms.productivity, [1.0, 1.5])
    np.testing.assert_allclose(firms.reputation, [0.9 * 0.8 + 0.1, 0.9 * 0.6])


@pytest.mark.parametrize(("floor", "dissolved"), [(0.4, True), (0.3, False)])
def test_tie_dissolves_when_trust_falls_below_the_floor(floor, dissolved):
    cp = _coop_params(trust_loss=0.25, trust_floor=floor)
    firms, ties = _pair(will=(1.0, 0.0))
    books = _coop_step(firms, ties, cp)
    # firm 0's trust falls to 0.375: below a floor of 0.4, above 0.3
    assert books["ties_dissolved"] == int(dissolved)
    expected = [[-1, -1, -1], [-1, -1, -1]] if dissolved else [[1, -1, -1], [0, -1, -1]]
    np.testing.assert_array_equal(ties.partner, expected)


def test_meeting_ties_up_a_neighbour_with_reputation_blended_trust():
    cp = Params().replace(meet_prob=1.0, initial_trust=0.5, reputation_weight=0.4,
                          tie_radius=3.0).cooperation
    firms, _ = _pair(rep=(0.9, 0.2))
    ties = TieState.empty(2, 3)
    cells = build_cell_list(firms.x, firms.y, firms.alive, 60.0, cp.tie_radius)
    added = cooperation.form_ties(firms, ties, cells, cp, _key(1), 1)
    assert added == 1
    # firm 0 trusts firm 1 at 0.6 * 0.5 + 0.4 * 0.2; firm 1 trusts firm 0 at 0.6 * 0.5 + 0.4 * 0.9
    assert ties.trust[0, 0] == pytest.approx(0.38)
    assert ties.trust[1, 0] == pytest.approx(0.66)


# --------------------------------------------------------------------------- suppliers
#
# One firm at (10, 10) in region 0. Supplier A at (20, 10) in region 0 (10 km, base price 1.00),
# supplier B at (10, 15) in region 1 (5 km, base price 0.97). Freight 0.4% of the price per km,
# infrastructure 0.5 everywhere (transport multiplier 1):
#   A delivered: 1.00 * (1 + 0.004 * 10) = 1.04;   B delivered: 0.97 * (1 + 0.004 * 5) = 0.9894.

A_COST, B_COST = 1.04, 0.97 * 1.02


def _supplier_world(firm_xy=((10.0, 10.0),), current=(-1,)):
    n = len(firm_xy)
    firms = FirmState.empty(n)
    firms.alive[:] = True
    firms.firm_id[:] = np.arange(n)
    firms.x[:] = [p[0] for p in firm_xy]
    firms.y[:] = [p[1] for p in firm_xy]
    firms.supplier[:] = current
    sup = SupplierState(x=np.array([20.0, 10.0]), y=np.array([10.0, 15.0]),
                        region=np.array([0, 1]), input=np.array([0, 0]),
                        base_price=np.array([1.0, 0.97]), volume=np.full(2, 200.0),
                        price=np.array([1.0, 0.97]))
    wa = {"sector_input": np.array([0]), "by_input_start": np.array([0, 2]),
          "by_input": np.array([0, 1]),
          "infra_factor": suppliers.infra_factor(np.array([0.5, 0.5]))}
    return firms, sup, wa, Modifiers.neutral(2, 1, 1)


def _supplier_params(**kw):
    base = {"freight_per_km": 0.004, "reference_volume": 200.0, "loyalty": 0.0,
            "switch_gain": 0.02}
    return Params().replace({**base, **kw}).suppliers


def _choose(firms, sup, wa, mods, sp, ties=None, groups=False):
    return suppliers.step(firms, ties, sup, wa, mods, sp, groups, _key(0), 1)


def test_supplier_choice_by_delivered_cost_with_freight():
    firms, sup, wa, mods = _supplier_world()
    _, cost = _choose(firms, sup, wa, mods, _supplier_params())
    assert firms.supplier[0] == 1  # B: dearer at the gate, cheaper delivered
    assert cost[0] == pytest.approx(B_COST)
    # with free freight only the gate price counts
    firms, sup, wa, mods = _supplier_world()
    _, cost = _choose(firms, sup, wa, mods, _supplier_params(freight_per_km=0.0))
    assert (firms.supplier[0], cost[0]) == (1, pytest.approx(0.97))


def test_supplier_choice_under_movement_restrictions():
    # a closure around region 1 multiplies freight on routes leaving or entering it by 5:
    # B costs 0.97 * (1 + 0.004 * 5 * 5) = 1.067 > 1.04, so the firm buys from A
    firms, sup, wa, mods = _supplier_world()
    mods.between_mult[1] = 5.0
    _, cost = _choose(firms, sup, wa, mods, _supplier_params())
    assert (firms.supplier[0], cost[0]) == (0, pytest.approx(1.04))
    # a restriction inside region 0 makes A dearer still (1 + 0.004 * 10 * 3) and leaves B alone
    firms, sup, wa, mods = _supplier_world()
    mods.within_mult[0] = 3.0
    _, cost = _choose(firms, sup, wa, mods, _supplier_params())
    assert (firms.supplier[0], cost[0]) == (1, pytest.approx(B_COST))


@pytest.mark.parametrize(("loyalty", "switch_gain", "expected"), [
    (0.0, 0.02, 1),  # looks around; B saves 4.9% >= 2%: switch
    (0.0, 0.06, 0),  # looks around; B saves 4.9% < 6%: stay with A
    (1.0, 0.0, 0),  # never looks around: stay with A although B is cheaper
])
def test_loyalty_and_switch_threshold(loyalty, switch_gain, expected):
    firms, sup, wa, mods = _supplier_world(current=(0,))
    _, cost = _choose(firms, sup, wa, mods, _supplier_params(loyalty=loyalty,
                                                             switch_gain=switch_gain))
    assert firms.supplier[0] == expected
    assert cost[0] == pytest.approx((A_COST, B_COST)[expected])


def test_a_firm_without_supplier_always_chooses_one():
    firms, sup, wa, mods = _supplier_world(current=(-1,))
    _choose(firms, sup, wa, mods, _supplier_params(loyalty=1.0))
    assert firms.supplier[0] == 1


def test_scale_economies_price_falls_with_volume_to_the_floor():
    sp = _supplier_params(scale_elasticity=0.15, price_floor=0.5, supplier_capacity=1e6)
    sup = SupplierState(x=np.zeros(5), y=np.zeros(5), region=np.zeros(5, dtype=np.int64),
                        input=np.zeros(5, dtype=np.int64), base_price=np.full(5, 2.0),
                        volume=np.array([200.0, 400.0, 800.0, 200.0 * 1e5, 0.0]),
                        price=np.zeros(5), ref_volume=np.full(5, 200.0))
    price = suppliers.gate_prices(sup, sp, np.ones(1))
    # p = p0 * (V / V_ref)^-0.15, at least 0.5 p0, at most p0 (an idle supplier charges p0)
    np.testing.assert_allclose(price, [2.0, 2.0 * 2**-0.15, 2.0 * 4**-0.15, 1.0, 2.0])
    volumes = np.geomspace(1.0, 1e8, 40)  # below capacity (1e6 times the reference)
    sup.volume = volumes
    sup.base_price = np.full(40, 2.0)
    sup.input = np.zeros(40, dtype=np.int64)
    sup.ref_volume = np.full(40, 200.0)
    price = suppliers.gate_prices(sup, sp, np.ones(1))
    assert np.all(np.diff(price) <= 0.0)
    assert price.min() == pytest.approx(2.0 * 0.5)


def test_supplier_volume_follows_its_buyers():
    firms = FirmState.empty(3)
    firms.alive[:] = (True, True, False)
    firms.supplier[:] = (0, 0, 0)
    firms.output[:] = (100.0, 50.0, 999.0)
    sup = SupplierState(x=np.zeros(2), y=np.zeros(2), region=np.zeros(2, dtype=np.int64),
                        input=np.zeros(2, dtype=np.int64), base_price=np.ones(2),
                        volume=np.array([200.0, 200.0]), price=np.ones(2))
    suppliers.update_volumes(firms, sup, np.array([0.3]), memory=0.5)
    # this month A sold (100 + 50) * 0.3 = 45 input units; B none
    np.testing.assert_allclose(sup.volume, [0.5 * 45 + 0.5 * 200, 0.5 * 200])


def test_installed_capacity_follows_the_volume_sold_and_costs_more_beyond_the_supply_base():
    # supply base 2 x 50 = 100 for both; installed capacity 100 and 400, each selling 300: the
    # first enters 10% of its shortfall of 200 (to 120), the second exits 10% of its excess
    # of 100 (to 390)
    firms = FirmState.empty(1)
    sup = SupplierState(x=np.zeros(2), y=np.zeros(2), region=np.zeros(2, dtype=np.int64),
                        input=np.zeros(2, dtype=np.int64), base_price=np.ones(2),
                        volume=np.array([300.0, 300.0]), price=np.ones(2),
                        ref_volume=np.full(2, 50.0), capacity=np.array([100.0, 400.0]),
                        base_capacity=np.full(2, 100.0))
    suppliers.update_volumes(firms, sup, np.array([0.3]), memory=0.0, expansion=0.1)
    np.testing.assert_allclose(sup.capacity, [120.0, 390.0])
    # prices: capacity in use beyond the base costs (min(V, K) / 100)^(1 / 0.5), crowding
    # (V / K)^2
    sp = Params().replace(supplier_expansion=0.1, scale_elasticity=0.0, supply_elasticity=0.5,
                          supplier_capacity=2.0).suppliers
    np.testing.assert_allclose(suppliers.gate_prices(sup, sp, np.ones(1)),
                               [1.2 ** 2 * (300 / 120) ** 2, 3.0 ** 2])
    # idle capacity costs nothing: a supplier selling 50 charges its base price
    idle = dataclasses.replace(sup, volume=np.array([50.0, 50.0]))
    np.testing.assert_allclose(suppliers.gate_prices(idle, sp, np.ones(1)), [1.0, 1.0])
    # a more elastic local supply makes the same capacity cheaper
    elastic = Params().replace(scale_elasticity=0.0, supply_elasticity=4.0).suppliers
    assert (suppliers.gate_prices(sup, elastic, np.ones(1))
            < suppliers.gate_prices(sup, sp, np.ones(1))).all()
    # with no buyers capacity exits, never below the supply base
    for _ in range(200):
        suppliers.update_volumes(firms, sup, np.array([0.3]), memory=1.0, expansion=0.1)
    np.testing.assert_allclose(sup.capacity, [100.0, 100.0])
    # capacity fixed at set-up (None): the supply base, crowding only
    sup.capacity, sup.volume = None, np.array([300.0, 300.0])
    np.testing.assert_allclose(suppliers.gate_prices(sup, sp, np.ones(1)), [9.0, 9.0])


def _group_world(trust_12=0.8):
    # firms 0 and 1 near A; firm 2 near B and buying from B; ties 0-1 and 1-2
    firms, sup, wa, mods = _supplier_world(firm_xy=((20.0, 12.0), (20.0, 14.0), (10.0, 16.0)),
                                           current=(0, 0, 1))
    ties = TieState.empty(3, 3)
    cooperation.add_tie(ties, np.array([0]), np.array([1]), 0.8, 0.8)
    cooperation.add_tie(ties, np.array([1]), np.array([2]), trust_12, 0.8)
    return firms, sup, wa, mods, ties


def test_purchasing_group_buys_from_its_most_used_supplier_at_a_discount():
    firms, sup, wa, mods, ties = _group_world()
    sp = _supplier_params(loyalty=1.0, jp_trust_min=0.6, jp_min_size=3, jp_discount=0.05)
    books, cost = _choose(firms, sup, wa, mods, sp, ties=ties, groups=True)
    assert books["jp_members"] == 3
    np.testing.assert_array_equal(firms.jp_group, [0, 0, 0])  # the group's root: lowest slot
    # A, used by two of three; firm 2 would pay more at A, even with the discount, than at its
    # own B (distances hypot(10, 6) and 1 km), so it keeps B
    np.testing.assert_array_equal(firms.supplier, [0, 0, 1])
    # delivered cost from A (distances 2 and 4 km) less 5%; firm 2 its own cost at B
    np.testing.assert_allclose(cost, [0.95 * (1 + 0.004 * 2.0), 0.95 * (1 + 0.004 * 4.0),
                                      0.97 * (1 + 0.004 * 1.0)], rtol=1e-12)
    assert 0.95 * (1 + 0.004 * math.hypot(10.0, 6.0)) > 0.97 * (1 + 0.004 * 1.0)


def test_a_group_member_follows_its_group_when_the_discount_makes_it_cheaper():
    firms, sup, wa, mods, ties = _group_world()
    sp = _supplier_params(loyalty=1.0, jp_trust_min=0.6, jp_min_size=3, jp_discount=0.2)
    _, cost = _choose(firms, sup, wa, mods, sp, ties=ties, groups=True)
    np.testing.assert_array_equal(firms.supplier, [0, 0, 0])  # 20% off A beats B for all
    dist = np.array([2.0, 4.0, math.hypot(10.0, 6.0)])
    np.testing.assert_allclose(cost, 0.8 * (1 + 0.004 * dist), rtol=1e-12)


@pytest.mark.parametrize(("trust_12", "min_size"), [(0.5, 3), (0.8, 4)])
def test_no_discount_for_a_group_too_small_or_not_trusted_enough(trust_12, min_size):
    firms, sup, wa, mods, ties = _group_world(trust_12)
    sp = _supplier_params(loyalty=1.0, jp_trust_min=0.6, jp_min_size=min_size)
    books, cost = _choose(firms, sup, wa, mods, sp, ties=ties, groups=True)
    assert books["jp_members"] == 0
    np.testing.assert_array_equal(firms.jp_group, [-1, -1, -1])
    np.testing.assert_array_equal(firms.supplier, [0, 0, 1])
    np.testing.assert_allclose(cost, [1.0 * (1 + 0.004 * 2), 1.0 * (1 + 0.004 * 4),
                                      0.97 * (1 + 0.004 * 1)])


# --------------------------------------------------------------------------- facilities


@pytest.fixture
def facility_model(make_world, make_params):
    """30 firms of one sector in one region; only the facilities mechanism on; every firm has
    capital 100 and revenue 10 and pledges at once (threshold 0) unless a test says otherwise;
    neither trust nor the step return moves thresholds unless a test says so."""
    world = make_world({("R0", "S0"): 30}, n_regions=1)
    params = make_params("facilities", private_cost=0.0, build_months=12, fee_cover=1.0,
                         nonmember_markup=2.0, decline_rate=0.05, close_quality=0.3,
                         conditional_share=0.0, step_return_elasticity=0.0,
                         max_contribution_months=6.0)
    model = ClusterModel(params, world, rng=0, agents=False)
    f = model.firms
    f.capital[:30] = 100.0
    f.revenue[:30] = 10.0
    f.pledge_threshold[:30] = 0.0
    n = f.capacity
    model.month.last_input_cost = np.zeros(n)  # last month's bills
    model.month.last_waste_cost = np.zeros(n)
    return model


def _project(**kw):
    base = dict(name="cfc", region=0, sectors=np.array([0]), service=0, effect=0.1, cost=100.0,
                grant_share=0.6, capacity=10.0, operating_cost=5.0, spv_min=20,
                member_share=0.1, drive_months=1, sponsor="cfc")
    return FacilityProject(**{**base, **kw})


def test_pledge_drive_succeeds_members_split_the_private_share_and_the_grant_is_booked(
        facility_model):
    m = facility_model
    f = open_drive(m.facilities, _project(), t=5)
    books = facilities.step(m, m.month, 5)
    fac = m.facilities
    assert fac.status[f] == FacilityState.BUILDING
    assert fac.ready_at[f] == 5 + 12
    assert fac.members[f] == 30
    # members pay max(10%, 1 - 60%) = 40% of 100, split equally among the 30 pledgers
    np.testing.assert_allclose(m.firms.capital[:30], 100.0 - 40.0 / 30)
    assert np.all(m.firms.member_of[:30] == f)
    assert books["contributions"] == pytest.approx(40.0)
    assert books["built"] == 1
    # the grant, 60% of the cost, is public spending booked to the sponsor
    assert m.books.public.month == pytest.approx(60.0)
    assert m.books.public.by["cfc"] == pytest.approx(60.0)
    # it opens after build_months, at full quality
    facilities.step(m, m.month, 5 + 11)
    assert fac.status[f] == FacilityState.BUILDING
    facilities.step(m, m.month, 5 + 12)
    assert fac.status[f] == FacilityState.OPERATING
    assert fac.quality[f] == 1.0
    assert m.first_facility_step == 17


@pytest.mark.parametrize(("n_early", "spv_min", "built"), [
    (15, 20, False),  # 15 pledge at once, the rest need 90%: 15 < spv_min
    (15, 15, True),
    (0, 1, False),  # nobody starts: nobody pledges
])
def test_pledge_drive_needs_spv_min_pledgers(facility_model, n_early, spv_min, built):
    m = facility_model
    m.firms.pledge_threshold[n_early:30] = 0.9
    f = open_drive(m.facilities, _project(spv_min=spv_min), t=0)
    books = facilities.step(m, m.month, 0)
    if built:
        assert m.facilities.status[f] == FacilityState.BUILDING
        np.testing.assert_allclose(m.firms.capital[:n_early], 100.0 - 40.0 / n_early)
        np.testing.assert_array_equal(m.firms.capital[n_early:30], 100.0)
    else:  # a one-month drive that fails is over
        assert m.facilities.status[f] == FacilityState.FAILED
        assert books["contributions"] == 0.0
        assert m.books.public.month == 0.0
        np.testing.assert_array_equal(m.firms.capital[:30], 100.0)
        assert np.all(m.firms.member_of[:30] == -1)


def test_pledge_drive_only_counts_firms_that_can_pay(facility_model):
    m = facility_model
    # the share at the minimum SPV is 40 / 20 = 2 per member: 12 firms with capital 1 cannot pay
    m.firms.capital[:12] = 1.0
    f = open_drive(m.facilities, _project(), t=0)
    facilities.step(m, m.month, 0)
    assert m.facilities.status[f] == FacilityState.FAILED  # 18 eligible < 20
    # nor can firms whose revenue is too small: 2 > 6 months * 0.3
    m.firms.capital[:30] = 100.0
    m.firms.revenue[:12] = 0.3
    f = open_drive(m.facilities, _project(), t=1)
    facilities.step(m, m.month, 1)
    assert m.facilities.status[f] == FacilityState.FAILED


def test_trust_lowers_pledge_thresholds(facility_model):
    m = facility_model
    m.firms.pledge_threshold[:30] = 0.5
    ring = np.arange(30)
    cooperation.add_tie(m.ties, ring, (ring + 1) % 30, 1.0, 1.0)
    f = open_drive(m.facilities, _project(drive_months=2), t=0)
    facilities.step(m, m.month, 0)
    assert m.facilities.status[f] == FacilityState.DRIVE  # nobody goes first
    # full trust in every partner, every undecided firm a conditional cooperator: each expects
    # all to pledge, (0.5 - 1) / (1 - 1) < 0, so all go at once
    m.params = m.params.replace(conditional_share=1.0)
    facilities.step(m, m.month, 1)
    assert m.facilities.status[f] == FacilityState.BUILDING


def test_pledge_thresholds_fall_with_expected_pledges_and_the_step_return():
    """s >= (theta / R**e - q t) / (1 - q t), by hand: Granovetter at q t = 0 and e = 0."""
    theta = np.array([0.4, 0.4, 0.4, 0.4, 0.4])
    trust = np.array([0.0, 0.5, 0.5, 0.5, 0.5])
    ret = np.array([1.0, 1.0, 2.0, 0.0, 4.0])
    got = facilities.pledge_thresholds(theta, trust, ret, 0.5, 1.0)
    np.testing.assert_allclose(got[:3], [0.4, (0.4 - 0.25) / 0.75, (0.2 - 0.25) / 0.75])
    assert got[3] == np.inf  # nothing to gain: never pledges ...
    assert facilities.pledge_thresholds([-0.1], [0.0], [0.0], 0.5, 1.0)[0] == -0.1  # ... unless
    # its threshold is not positive: an unconditional contributor
    assert got[4] < got[2] < got[1] < got[0]
    np.testing.assert_array_equal(facilities.pledge_thresholds(theta, trust, ret, 0.0, 0.0),
                                  theta)


def test_a_step_return_above_one_gets_a_stalling_drive_built(facility_model):
    """Three firms go first (threshold 0), the others wait for half the 30: the drive stalls at
    3 when the return is ignored. At elasticity 1 each firm's return is 24 months x (0.1 x 10 -
    0.5 fee) / its share 2 = 6, so the others need 0.5 / 6 x 30 = 2.5 pledgers: all join."""
    m = facility_model
    m.firms.pledge_threshold[:30] = 0.5
    m.firms.pledge_threshold[:3] = 0.0
    f = open_drive(m.facilities, _project(drive_months=3), t=0)
    facilities.step(m, m.month, 0)
    assert m.facilities.status[f] == FacilityState.DRIVE
    assert m.facilities.pledged[f] == 3
    ret = facilities.step_returns(f, m.facilities, m.firms, m.month, np.arange(30), 2.0, 24.0,
                                  0.5)
    np.testing.assert_allclose(ret, 6.0)
    m.params = m.params.replace(step_return_elasticity=1.0, pledge_horizon=24.0)
    facilities.step(m, m.month, 1)
    assert m.facilities.status[f] == FacilityState.BUILDING
    assert m.facilities.members[f] == 30


def _operating(m, quality=1.0, capacity=10.0, users=0):
    f = open_drive(m.facilities, _project(capacity=capacity), t=0)
    fac = m.facilities
    fac.status[f] = FacilityState.OPERATING
    fac.quality[f] = quality
    fac.users[f] = users
    return f


def test_facility_use_members_and_free_riders(facility_model):
    # productivity service of effect 0.1; member fee = operating cost / capacity = 5 / 10 = 0.5,
    # non-members pay twice that. Benefit = 0.1 * level 1 * revenue.
    m = facility_model
    f = _operating(m)
    m.firms.member_of[0] = f
    m.firms.revenue[:30] = 0.0  # no benefit: nobody else uses it
    m.firms.revenue[:3] = (8.0, 8.0, 20.0)
    facilities.step(m, m.month, 1)
    # member, benefit 0.8 > 0.5: uses; non-member, 0.8 < 1.0: does not; non-member, 2.0 > 1.0
    np.testing.assert_array_equal(m.firms.uses[:3], [f, -1, f])
    np.testing.assert_array_equal(m.firms.uses[3:30], -1)
    np.testing.assert_allclose(m.month.facility_fee[:3], [0.5, 0.0, 1.0])
    np.testing.assert_allclose(m.month.facility_level[:3], [1.0, 0.0, 1.0])
    assert m.facilities.users[f] == 2
    assert m.facilities.fees[f] == pytest.approx(1.5)
    # fees 1.5 < operating cost 5: the facility runs at a loss and loses 5% of its quality
    assert m.facilities.cash[f] == pytest.approx(1.5 - 5.0)
    assert m.facilities.quality[f] == pytest.approx(0.95)


def test_an_entrant_in_a_reused_slot_decides_on_no_bills_not_its_predecessors(facility_model):
    # a raw-material bank cutting input bills by half; last month (4) firms 0 and 1 had input
    # bills of 10, so each would save 5 > the non-member fee 1.0. Firm 0 then left and an
    # entrant took its slot at the end of month 4: its first decision is on no bills of its own
    m = facility_model
    f = open_drive(m.facilities, _project(service=1, effect=0.5), t=0)
    m.facilities.status[f] = FacilityState.OPERATING
    m.facilities.quality[f] = 1.0
    m.firms.revenue[:30] = 0.0
    m.month.last_input_cost[:2] = 10.0
    m._remove_firms(np.array([0]))
    slot = m.population.create(m.firms, m.ties, np.array([0]), np.array([0]), np.array([1.0]),
                               parent=np.array([-1]), t=4, books=m.books)
    assert slot.tolist() == [0]
    facilities.step(m, m.month, 5)
    np.testing.assert_array_equal(m.firms.uses[:2], [-1, f])
    np.testing.assert_allclose(m.month.facility_fee[:2], [0.0, 1.0])


def test_facility_fees_members_pay_fee_cover_times_cost_per_capacity_only_when_they_use_it(
        facility_model):
    # operating cost 5, capacity 10: member fee = fee_cover 0.5 * 5 / 10 = 0.25, non-member fee
    # = nonmember_markup 3 * 0.25 = 0.75 (docs/ODD.md 7.3, Fees). A member who does not use
    # the facility pays nothing: membership carries no subscription.
    m = facility_model
    m.params = m.params.replace(fee_cover=0.5, nonmember_markup=3.0)
    f = _operating(m)
    m.firms.member_of[:3] = f
    m.firms.revenue[:30] = 0.0
    m.firms.revenue[:2] = 5.0  # members, benefit 0.5 > 0.25: use it
    m.firms.revenue[3:5] = (5.0, 10.0)  # non-members: 0.5 < 0.75 does not, 1.0 > 0.75 does
    facilities.step(m, m.month, 1)
    np.testing.assert_array_equal(m.firms.uses[:5], [f, f, -1, -1, f])
    np.testing.assert_allclose(m.month.facility_fee[:5], [0.25, 0.25, 0.0, 0.0, 0.75])
    assert m.facilities.fees[f] == pytest.approx(1.25)
    assert m.facilities.cash[f] == pytest.approx(1.25 - 5.0)


def test_facility_congestion_shares_service_among_users(facility_model):
    m = facility_model
    f = _operating(m, capacity=2.0)
    m.firms.revenue[:30] = 0.0
    m.firms.revenue[:4] = 100.0  # four users, capacity two
    facilities.step(m, m.month, 1)
    assert m.facilities.users[f] == 4
    # service level = quality * capacity / users = 0.5 for each user
    np.testing.assert_allclose(m.month.facility_level[:4], 0.5)
    # fee = 5 / 2 = 2.5 member, 5.0 non-member; fees 20 >= 5: quality stays at 1
    assert m.facilities.fees[f] == pytest.approx(20.0)
    assert m.facilities.quality[f] == 1.0


def test_facility_declines_and_closes_when_it_does_not_earn_its_keep(facility_model):
    m = facility_model
    f = _operating(m, quality=0.33)
    m.firms.member_of[:5] = f
    m.firms.revenue[:30] = 0.0  # no users at all
    facilities.step(m, m.month, 1)
    assert m.facilities.quality[f] == pytest.approx(0.33 * 0.95)  # 0.3135, still open
    assert m.facilities.status[f] == FacilityState.OPERATING
    facilities.step(m, m.month, 2)  # 0.2978 < 0.3: closes, and its SPV members are released
    assert m.facilities.status[f] == FacilityState.CLOSED
    assert np.all(m.firms.member_of[:30] == -1)


# --------------------------------------------------------------------------- market


@pytest.fixture
def market_model(make_world, make_params):
    """Three firms of one sector in one region, default region and sector attributes
    (price 1, input 0.3 per unit at price 1, no waste, wage index 1, land 0.03, access 1,
    infrastructure 0.5); only the market mechanism on."""
    world = make_world({("R0", "S0"): 3}, n_regions=1)
    # constant returns, a closed market, no congestion, no drawings: the textbook accounts
    params = make_params("market", demand_elasticity=2.0, demand_growth=0.0, wage=0.4,
                         fixed_cost=0.05, transport_share=0.05, interest_rate=0.01,
                         labour_elasticity=1.0, outside_price=0.0, payout_rate=0.0,
                         wage_density_elasticity=0.0, rent_density_elasticity=0.0,
                         localisation_elasticity=0.0)
    m = ClusterModel(params, world, rng=0, agents=False)
    f = m.firms
    f.talent[:3] = 1.0
    f.productivity[:3] = (1.0, 2.0, 0.5)
    f.employees[:3] = (10.0, 20.0, 20.0)
    f.capital[:3] = (-10.0, 5.0, 5.0)
    f.coop_income[:3] = 0.0
    m.market.demand0 = np.array([100.0])
    return m


def test_market_price_costs_and_profit_by_hand(market_model):
    m = market_model
    books = market.step(m, m.market, m.month, 0)
    f = m.firms
    np.testing.assert_allclose(f.output[:3], [10.0, 40.0, 10.0])
    # P = P0 (D / Q)^(1 / elasticity) = (100 / 60)^(1/2)
    price = (100.0 / 60.0) ** 0.5
    assert m.market.sector_price[0] == pytest.approx(price)
    rev = price * 10.0
    assert f.revenue[0] == pytest.approx(rev)
    # revenue - inputs (10 * 0.3 * 1) - wages (0.4 * 10) - land (0.03 * 10)
    # - transport (5% of revenue) - overhead 0.05 - interest on debt of 10 at 1%
    profit = rev - 3.0 - 4.0 - 0.3 - 0.05 * rev - 0.05 - 0.1
    assert f.profit[0] == pytest.approx(profit, rel=1e-12)
    assert f.capital[0] == pytest.approx(-10.0 + profit, rel=1e-12)
    assert books["profit"] == pytest.approx(f.profit[:3].sum())
    assert m.month.input_cost[0] == pytest.approx(3.0)


def test_market_price_grows_with_demand_and_is_capped(market_model):
    m = market_model
    m.params = m.params.replace(demand_growth=0.01)
    market.step(m, m.market, m.month, 12)
    assert m.market.sector_price[0] == pytest.approx((100.0 * 1.01**12 / 60.0) ** 0.5)
    # an almost empty market: the price is capped at 3 times the base price
    m.firms.employees[:3] = 1e-6
    market.step(m, m.market, m.month, 0)
    assert m.market.sector_price[0] == m.params.market.price_cap
    # with the market switched off the price is the base price
    m.params = m.params.replace({"switches.market": False})
    market.step(m, m.market, m.month, 0)
    assert m.market.sector_price[0] == 1.0


# --------------------------------------------------------------------------- growth and exit


def _firms(**arrays):
    n = len(next(iter(arrays.values())))
    f = FirmState.empty(n)
    f.alive[:] = True
    f.firm_id[:] = np.arange(n)
    for name, value in arrays.items():
        getattr(f, name)[:] = value
    return f


def test_growth_without_noise_follows_the_labour_gap_within_floor_and_cap():
    dp = Params().replace(growth_sensitivity=0.05, growth_sd=0.0, min_size=1.0,
                          max_size=2000.0, productivity_reversion=0.0, hire_cost=0.0,
                          adjustment_band=0.0, talent_sd=0.0).demography
    f = _firms(employees=[10.0, 10.0, 1.0, 1999.9, 10.0], revenue=[10.0] * 5)
    gap = np.array([0.2, -0.3, -1.0, 1.0, 0.0])  # log(marginal value of a worker / its cost)
    demography.grow(f, dp, gap, np.ones(1), np.zeros(1), 0.65, _key(0), 1)
    np.testing.assert_allclose(f.employees, [
        10.0 * math.exp(0.05 * 0.2),  # L exp(g gap)
        10.0 * math.exp(0.05 * -0.3),
        1.0,  # floor
        2000.0,  # cap
        10.0,  # a worker is worth what it costs: no change
    ], rtol=1e-12)


def test_employment_moves_in_lumps_to_the_desired_size():
    # no noise, no pull, band 0.2: a desired size 10% above the workforce leaves it alone (and
    # is remembered); 30% above or 25% below, the firm hires or fires all the way at once
    dp = Params().replace(growth_sensitivity=0.0, growth_sd=0.0, hire_cost=0.0,
                          productivity_reversion=0.0, adjustment_band=0.2, talent_sd=0.0,
                          min_size=1.0, max_size=2000.0).demography
    f = _firms(employees=[10.0, 10.0, 10.0], desired=[11.0, 13.0, 7.5], revenue=[10.0] * 3)
    demography.grow(f, dp, np.zeros(3), np.ones(1), np.zeros(1), 0.65, _key(0), 1)
    np.testing.assert_allclose(f.employees, [10.0, 13.0, 7.5], rtol=1e-12)
    np.testing.assert_allclose(f.desired, [11.0, 13.0, 7.5], rtol=1e-12)


def test_owners_learn_their_talent_a_share_a_month():
    # talent_gap 0.5 learnt at 0.2 a month: talent x exp(0.1), then x exp(0.08); gap 0.4, 0.32
    dp = Params().replace(growth_sd=0.0, productivity_reversion=0.0, talent_learning=0.2,
                          talent_sd=0.0, adjustment_band=0.0).demography
    f = _firms(employees=[5.0], talent=[2.0], talent_gap=[0.5], revenue=[10.0])
    demography.grow(f, dp, np.zeros(1), np.ones(1), np.zeros(1), 0.65, _key(0), 1)
    np.testing.assert_allclose([f.talent[0], f.talent_gap[0]], [2.0 * math.exp(0.1), 0.4])
    demography.grow(f, dp, np.zeros(1), np.ones(1), np.zeros(1), 0.65, _key(0), 2)
    np.testing.assert_allclose([f.talent[0], f.talent_gap[0]], [2.0 * math.exp(0.18), 0.32])


def test_exit_after_exit_patience_loss_months():
    dp = Params().replace(exit_patience=3, debt_limit_months=3.0, death_rate=0.0).demography
    f = _firms(profit=[-1.0, -1.0], revenue=[10.0, 10.0], capital=[0.0, 0.0])
    assert demography.exits(f, dp, _key(0), 1).size == 0
    f.profit[1] = 0.5  # a profitable month resets the streak
    assert demography.exits(f, dp, _key(0), 1).size == 0
    f.profit[1] = -1.0
    # the third loss month in a row
    np.testing.assert_array_equal(demography.exits(f, dp, _key(0), 1), [0])
    np.testing.assert_array_equal(f.loss_streak, [3, 1])


def test_owners_close_profitable_firms_at_the_death_rate():
    # 20,000 profitable firms, death_rate 0.01: closures ~ Binomial(20000, 0.01), mean 200,
    # sd 14; tolerance 5 sd. Each month's closures are new draws: two months differ.
    n = 20_000
    dp = Params().replace(exit_patience=3, death_rate=0.01).demography
    f = _firms(profit=np.ones(n), revenue=np.full(n, 10.0), capital=np.zeros(n))
    first = demography.exits(f, dp, _key(0), 1)
    assert abs(first.size - 200) < 70
    assert not np.array_equal(first, demography.exits(f, dp, _key(0), 2))
    assert demography.exits(f, Params().replace(death_rate=0.0).demography, _key(0), 1).size == 0


@pytest.mark.parametrize(("capital", "extra", "leaves"), [
    (-29.9, 0.0, False), (-30.1, 0.0, True), (-49.0, 2.0, False), (-51.0, 2.0, True)])
def test_exit_on_the_debt_limit(capital, extra, leaves):
    # limit: (3 months + guarantee months) * revenue 10
    dp = Params().replace(exit_patience=12, debt_limit_months=3.0, death_rate=0.0).demography
    f = _firms(profit=[1.0], revenue=[10.0], capital=[capital], debt_extra_months=[extra])
    assert demography.exits(f, dp, _key(0), 1).size == int(leaves)


# --------------------------------------------------------------------------- entry


def _entry_model(make_world, make_params, counts, n_regions, n_sectors, **kw):
    world = make_world(counts, n_regions=n_regions, n_sectors=n_sectors)
    params = make_params("entry", spinoff_prob=0.0, **kw)
    return ClusterModel(params, world, rng=0, agents=False)


def _entry(m, seed):
    """This month's entrants of model ``m``, drawn with a generator of seed ``seed``."""
    return demography.entry(m, m.market, m.population.dartboard, np.random.default_rng(seed),
                            _key(seed), 1)


def test_copy_entry_copies_an_existing_firms_region_and_sector(make_world, make_params):
    m = _entry_model(make_world, make_params, {("R0", "S0"): 3, ("R1", "S1"): 7}, 2, 2,
                     entry_mode="copy", entrants_per_step=5000)
    new = _entry(m, 1)
    pairs = set(zip(new["region"].tolist(), new["sector"].tolist(), strict=True))
    assert pairs == {(0, 0), (1, 1)}
    np.testing.assert_array_equal(new["parent"], -1)
    # each entrant copies a uniformly random firm: P(R0) = 3 / 10; SE = 0.0065, tolerance 4 SE
    assert np.mean(new["region"] == 0) == pytest.approx(0.3, abs=0.026)


def test_dartboard_entry_uses_fixed_probabilities(make_world, make_params):
    m = _entry_model(make_world, make_params, {("R0", "S0"): 2, ("R1", "S0"): 6}, 2, 1,
                     entry_mode="dartboard", entrants_per_step=10_000)
    np.testing.assert_allclose(m.population.dartboard, [0.25, 0.75])
    m.firms.region[m.firms.alive] = 0  # where firms are now does not matter
    new = _entry(m, 2)
    # P(R0) = 0.25; SE = 0.0043, tolerance 4 SE
    assert np.mean(new["region"] == 0) == pytest.approx(0.25, abs=0.018)


@pytest.mark.parametrize("beta_sector", [0.0, 1.0, 2.0])
def test_attraction_entry_prefers_regions_with_more_firms_of_the_sector(
        make_world, make_params, beta_sector):
    # two identical regions; their suppliers alternate so each has two; 30 firms vs 3
    m = _entry_model(make_world, make_params, {("R0", "S0"): 30, ("R1", "S0"): 3}, 2, 1,
                     entry_mode="attraction", entrants_per_step=10_000, beta_sector=beta_sector)
    # logit on beta * log(1 + n): P(R0) = 1 / (1 + (4 / 31)^beta)
    p0 = 1.0 / (1.0 + (4.0 / 31.0) ** beta_sector)
    new = _entry(m, 3)
    se = math.sqrt(p0 * (1 - p0) / 10_000)
    assert np.mean(new["region"] == 0) == pytest.approx(p0, abs=4 * se)


def test_spinoffs_stay_in_their_parents_region_and_sector(make_world, make_params):
    m = _entry_model(make_world, make_params, {("R0", "S0"): 4, ("R1", "S1"): 4}, 2, 2,
                     entry_mode="copy", entrants_per_step=0)
    m.params = m.params.replace(spinoff_prob=1.0)
    f = m.firms
    f.profit[:8] = (1.0, -1.0, 1.0, 0.0, 1.0, 1.0, -1.0, 1.0)  # profitable: 0, 2, 4, 5, 7
    new = _entry(m, 4)
    np.testing.assert_array_equal(new["parent"], [0, 2, 4, 5, 7])
    np.testing.assert_array_equal(new["region"], f.region[[0, 2, 4, 5, 7]])
    np.testing.assert_array_equal(new["sector"], f.sector[[0, 2, 4, 5, 7]])


# --------------------------------------------------------------------------- model exit, entry


def test_model_exit_removes_the_firm_its_ties_and_its_agent(make_world, make_params):
    world = make_world({("R0", "S0"): 5}, n_regions=1)
    m = ClusterModel(make_params("exit", debt_limit_months=3.0, interest_rate=0.01), world,
                     rng=0)
    cooperation.add_tie(m.ties, np.array([0, 0]), np.array([1, 2]), 0.5, 0.5)
    m.firms.capital[0] = -1e6  # far beyond 3 months of revenue
    m.step()
    row = m.series().iloc[-1]
    assert not m.firms.alive[0]
    assert m.firms.firm_id[0] == -1  # the slot is cleared for reuse
    assert (row["exits"], row["firms"]) == (1, 4)
    # its capital leaves the books, after this month's profit: 1% interest on the debt, plus
    # an operating profit of a few units
    assert row["exit_capital"] == pytest.approx(-1e6 - 0.01 * 1e6, abs=10.0)
    assert np.all(m.ties.partner[:5] == -1)  # its partners' rows no longer name it
    slots = sorted(a.slot for a in m.agents_by_type[FirmAgent])
    assert slots == [1, 2, 3, 4]


def test_model_entry_creates_firms_with_starting_capital(make_world, make_params):
    world = make_world({("R0", "S0"): 5}, n_regions=1)
    m = ClusterModel(make_params("entry", entry_mode="copy", entrants_per_step=3,
                                 spinoff_prob=0.0, initial_capital_months=3.0), world, rng=0)
    m.step()
    f = m.firms
    new = np.flatnonzero(f.alive & (f.born == 1))
    np.testing.assert_array_equal(new, [5, 6, 7])  # the lowest free slots
    np.testing.assert_array_equal(f.firm_id[new], [5, 6, 7])
    # starting capital: 3 months of revenue at the base price (1) and access (1)
    theta = m.params.market.labour_elasticity
    np.testing.assert_allclose(f.capital[new], 3.0 * f.productivity[new] * f.talent[new]
                               * f.employees[new] ** theta)
    row = m.series().iloc[-1]
    assert (row["entries"], row["firms"]) == (3, 8)
    assert row["entry_capital"] == pytest.approx(f.capital[new].sum())
    assert len(m.agents_by_type[FirmAgent]) == 8
