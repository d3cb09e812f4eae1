"""The economics of issue 11: an open market, congestion, financed growth with decreasing returns,
productivity that falls as well as rises, strategic cooperation, a burn-in and a steady state,
clusters that form and lock in, and results per firm that do not depend on how many firms are
simulated.

Mechanism tests use hand-built states; the statistical ones are seeded and state their
tolerances (and are marked slow where they run the model for years).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.params import Params
from sim.core.state import SupplierState
from sim.core.world import FirmGroup, Region, Sector, World
from sim.mechanisms import cooperation, demography, market, suppliers
from sim.model import ClusterModel
from tests.conftest import quiet_params, tiny_world

# ---------------------------------------------------------------------------- open market


def test_price_never_falls_below_the_outside_markets():
    base = np.array([1.0, 2.0])
    demand = np.array([10.0, 10.0])
    one = np.ones(2)
    # output far above local demand: the local price would be (10/40)^(1/2) = 0.5 of base
    q = np.array([40.0, 40.0])
    np.testing.assert_allclose(market.sector_prices(q, demand, base, 2.0, True, one, 0.9, 3.0),
                               0.9 * base)
    # a closed market (outside price 0) gives the local inverse demand curve
    np.testing.assert_allclose(market.sector_prices(q, demand, base, 2.0, True, one, 0.0, 3.0),
                               0.5 * base)
    # scarcity raises the price above the outside price, up to the cap
    q = np.array([2.5, 0.0])
    np.testing.assert_allclose(market.sector_prices(q, demand, base, 2.0, True, one, 0.9, 3.0),
                               [2.0 * 1.0, 3.0 * 2.0])
    # demand shocks move both markets, by m^(1/elasticity)
    half = np.array([0.5, 0.5])
    q = np.array([40.0, 40.0])
    np.testing.assert_allclose(market.sector_prices(q, demand, base, 2.0, True, half, 0.9, 3.0),
                               0.9 * 0.5 ** 0.5 * base)


def test_more_output_from_some_firms_leaves_the_others_price_alone():
    """In the open cluster a productivity gain of some firms does not lower the price the
    others get (the closed-market artefact of the issue): their revenue is unchanged."""
    p = quiet_params("market", burn_in=0, demand_growth=0.0)
    m = ClusterModel(p, tiny_world({("R0", "S0"): 40, ("R1", "S0"): 40}), rng=3)
    m.step()
    price_before = m.sector_price.copy()
    users = np.flatnonzero(m.firms.alive & (m.firms.region == 0))
    m.firms.productivity[users] *= 1.5
    m.step()
    np.testing.assert_array_equal(m.sector_price, price_before)


def test_congestion_and_localisation_are_powers_of_employment_against_the_start():
    mp = Params().market
    emp0 = np.array([[10.0, 20.0], [5.0, 5.0]])
    emp = np.array([[20.0, 20.0], [5.0, 10.0]])
    local, wage, rent = market.congestion(emp, emp0, emp0.sum(axis=0), mp)
    np.testing.assert_allclose(local, (emp / emp0) ** mp.localisation_elasticity)
    density = np.array([25.0 / 15.0, 30.0 / 25.0])
    np.testing.assert_allclose(wage, density ** mp.wage_density_elasticity)
    np.testing.assert_allclose(rent, density ** mp.rent_density_elasticity)
    # at the start nothing moves
    local, wage, rent = market.congestion(emp0, emp0, emp0.sum(axis=0), mp)
    np.testing.assert_allclose([local.max(), wage.max(), rent.max()], 1.0)


def test_a_firm_starts_at_the_size_where_a_worker_is_worth_what_it_costs():
    """Talent is calibrated so that a firm of its sector's mean productivity starts with a labour
    gap of 0 at base prices: in a quiet first month (no congestion, no shocks) its gap is 0."""
    p = quiet_params("market", burn_in=0, productivity_reversion=0.0, demand_growth=0.0)
    world = tiny_world({("R0", "S0"): 30})
    world = World(regions=world.regions, sectors=(Sector("S0", "I0", productivity_sd=0.0),),
                  firms=world.firms)
    m = ClusterModel(p, world, rng=5)
    m.step()
    alive = m.firms.alive
    np.testing.assert_allclose(m.tmp["labour_gap"][alive], 0.0, atol=1e-9)


# ---------------------------------------------------------------------------- growth


def test_growth_is_financed_from_capital_or_credit():
    """A firm that wants to double but has no capital and may not borrow stays as it is; with
    capital for five workers it hires five and pays for them."""
    n = 3
    alive = np.ones(n, dtype=np.bool_)
    emp = np.array([10.0, 10.0, 10.0])
    capital = np.array([0.0, 5.0, 1e6])
    revenue = np.full(n, 10.0)
    gap = np.ones(n)  # wants to grow by exp(0.7) ~ 2x
    prod = np.ones(n)
    out, new_prod = np.empty(n), np.empty(n)
    spent = demography._grow(alive, emp, emp.copy(), capital, revenue, gap, prod, np.ones(n),
                             np.zeros(n), np.zeros(n, np.int64), np.ones(1), np.zeros(1), 0.7,
                             0.0, 0.0, 1.0, 1e6, 1.0, 0.0, np.zeros(n), 0.0, 0.0, 0.65, 0.0, 0.0,
                             np.arange(n),
                             np.zeros(2, np.uint64), 1, out, new_prod)
    np.testing.assert_allclose(out, [10.0, 15.0, 10.0 * np.exp(0.7)])
    np.testing.assert_allclose(capital, [0.0, 0.0, 1e6 - 10.0 * (np.exp(0.7) - 1.0)])
    assert spent == pytest.approx(5.0 + 10.0 * (np.exp(0.7) - 1.0))


def test_productivity_falls_as_well_as_rises_and_keeps_its_sector_spread():
    """The AR(1) in logs: over many firms and months, the log productivity's spread settles at
    the sector's productivity_sd and its mean at the sector's (tolerances: 5% of the spread,
    0.01 in the mean, with 20,000 firms)."""
    n = 20_000
    rng = np.random.default_rng(11)
    alive = np.ones(n, dtype=np.bool_)
    prod = np.exp(rng.normal(0.0, 0.5, n))  # start far from the stationary law
    fell = rose = 0
    for month in range(400):
        out, new_prod = np.empty(n), np.empty(n)
        demography._grow(alive, np.ones(n), np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n),
                         prod, np.ones(n), np.zeros(n), np.zeros(n, np.int64), np.ones(1),
                         np.array([0.2]), 0.0, 0.0, 0.0, 1.0, 10.0, 0.0, 0.0, np.zeros(n), 0.05,
                         0.0, 0.65, 0.0, 0.0,
                         np.arange(n, dtype=np.int64), np.array([7, 9], dtype=np.uint64), month,
                         out, new_prod)
        fell += int((new_prod < prod).sum())
        rose += int((new_prod > prod).sum())
        prod = new_prod
    logp = np.log(prod)
    assert logp.std() == pytest.approx(0.2, rel=0.05)
    assert abs(logp.mean()) < 0.01
    assert fell > 0.4 * (fell + rose)
    assert rose > 0.4 * (fell + rose)


# ---------------------------------------------------------------------------- suppliers


def _one_input_suppliers(volumes):
    m = len(volumes)
    return SupplierState(x=np.zeros(m), y=np.zeros(m), region=np.zeros(m, np.int64),
                         input=np.zeros(m, np.int64), base_price=np.ones(m),
                         volume=np.asarray(volumes, float), price=np.ones(m),
                         ref_volume=np.full(m, 10.0))


def test_supplier_prices_fall_with_volume_but_rise_beyond_capacity():
    sp = Params().suppliers
    sup = _one_input_suppliers([0.0, 5.0, 10.0, 15.0, 40.0])
    price = suppliers.gate_prices(sup, sp, np.ones(1))
    eta, cap = sp.scale_elasticity, sp.supplier_capacity
    want = [1.0, 1.0, 1.0, 1.5 ** -eta, 4.0 ** -eta * (4.0 / cap) ** 2]
    np.testing.assert_allclose(price, want)
    assert price[0] < price[-1]  # an idle supplier is an alternative to a crowded one


@pytest.mark.slow
@pytest.mark.statistical
def test_purchases_do_not_end_with_one_supplier_per_input():
    """Issue 11 found one supplier taking each input. With capacity, after ten years at the
    defaults no supplier has more than 60% of its input's volume (seeds 1-3)."""
    for seed in (1, 2, 3):
        m = ClusterModel(n_firms=600, rng=seed)
        for _ in range(120):
            m.step()
        sup = m.suppliers
        for c in np.unique(sup.input):
            v = sup.volume[sup.input == c]
            assert v.max() / v.sum() < 0.6, (seed, c, v)


# ---------------------------------------------------------------------------- cooperation


def _two_firms(acted_01: int, acted_10: int, willingness: float, b=0.02, c=0.008,
               aspiration=0.5, learning=0.1):
    partner = np.array([[1], [0]])
    back = np.array([[0], [0]])
    trust = np.full((2, 1), 0.5)
    acted = np.array([[acted_01], [acted_10]], dtype=np.int8)
    out = [np.empty((2, 1)), *(np.empty(2) for _ in range(5)), np.empty(2, dtype=np.bool_)]
    cooperation._outcomes(partner, back, trust, acted, np.ones(2, np.bool_), np.full(2, 10.0),
                          np.ones(2), np.full(2, 0.5), np.full(2, willingness), b, c, 0.1,
                          0.2, 0.0, 0.1, 0.0, learning, aspiration, *out)
    return out[3][0]  # firm 0's new willingness


@pytest.mark.parametrize(("mine", "theirs", "direction"), [
    (1, 1, +1),   # mutual cooperation beats the aspiration: cooperate more
    (1, 0, -1),   # cheated: cooperate less
    (0, 1, -1),   # defecting on a cooperator pays: defect more
    (0, 0, +1),   # mutual defection falls short: cooperate more
])
def test_learning_reinforces_what_pays(mine, theirs, direction):
    """Bush-Mosteller with an aspiration between mutual defection and mutual cooperation (Macy &
    Flache 2002): the four outcomes of the dilemma move willingness the four expected ways."""
    after = _two_firms(mine, theirs, 0.5)
    assert np.sign(after - 0.5) == direction


def test_when_cooperation_only_costs_learning_turns_away_from_it():
    # benefit 0: mutual cooperation pays -c, below the aspiration; defecting pays 0, above it
    assert _two_firms(1, 1, 0.5, b=0.0) < 0.5
    assert _two_firms(0, 0, 0.5, b=0.0) < 0.5


def _cooperation_rate(seeds, **kw) -> float:
    rates = []
    for seed in seeds:
        m = ClusterModel(n_firms=400, rng=seed, burn_in=0, **kw)
        for _ in range(60):
            m.step()
        rates.append(m.series()["cooperation_rate"].iloc[-24:].mean())
    return float(np.mean(rates))


@pytest.mark.slow
@pytest.mark.statistical
def test_cooperation_rate_rises_with_benefit_and_falls_with_cost():
    """The issue found the rate at 0.70 when cooperating is pure cost and 0.73 at five times the
    benefit. Now it follows the payoffs: mean over the last two years of five years, three
    seeds; each step must move the rate by at least 0.05."""
    seeds = (1, 2, 3)
    pure_cost = _cooperation_rate(seeds, coop_benefit=0.0, coop_cost=0.008)
    default = _cooperation_rate(seeds)
    rich = _cooperation_rate(seeds, coop_benefit=0.10, coop_cost=0.008)
    costly = _cooperation_rate(seeds, coop_benefit=0.02, coop_cost=0.02)
    assert pure_cost + 0.05 < default < rich - 0.05
    assert costly < default - 0.05


def test_without_learning_and_imitation_willingness_does_not_move():
    m = ClusterModel(n_firms=200, rng=2, burn_in=0, learning_rate=0.0, imitation_rate=0.0)
    ids0 = m.firms.firm_id.copy()
    will0 = m.firms.willingness.copy()
    for _ in range(6):
        m.step()
    n0 = ids0.size  # the same firms, not newcomers in a slot (nor in slots added since)
    both = m.firms.alive[:n0] & (m.firms.firm_id[:n0] == ids0)
    np.testing.assert_array_equal(m.firms.willingness[:n0][both], will0[both])


# ---------------------------------------------------------------------------- burn-in


def test_burn_in_is_recorded_at_negative_steps_and_flagged():
    m = ClusterModel(n_firms=100, rng=1, burn_in=6)
    assert m.series()["step"].tolist() == [0]
    s = m.series(burn_in=True)
    assert s["step"].tolist() == list(range(-7, 1))
    assert s["burn_in"].tolist() == [True] * 7 + [False]
    # month 0 is a start: the state after the burn-in, with no flows of its own
    assert s["entries"].iloc[-1] == s["exits"].iloc[-1] == 0
    assert s["firms"].iloc[-1] == s["firms"].iloc[-2]
    assert m.steps == 0
    m.step()
    assert m.series()["step"].tolist() == [0, 1]
    assert not m.series()["burn_in"].any()
    # survival and jobs created count from month 0, after the burn-in
    assert m.initial_employment == pytest.approx(float(s["employment"].iloc[-1]))


def test_no_intervention_acts_during_the_burn_in():
    from sim.io.scenario import load_scenario

    sc = load_scenario("scenarios/cfc.toml").with_overrides({"burn_in": 12})
    m = sc.build(rng=1)
    burn = m.series(burn_in=True)
    assert (burn["public_spending"] == 0).all()
    assert all(not s.active and not s.ended for s in m.schedules)


def test_burn_in_draws_differ_from_the_months_after_it():
    """The burn-in's months are keyed by their own clock, so month 1 after a burn-in does not
    replay the burn-in's first month."""
    a = ClusterModel(n_firms=150, rng=4, burn_in=0)
    b = ClusterModel(n_firms=150, rng=4, burn_in=3)
    assert b.clock == 3
    a.step()
    assert a.clock == 1


# ---------------------------------------------------------------------------- entry


def test_outsiders_do_not_enter_where_they_would_lose_money():
    m = ClusterModel(n_firms=200, rng=1, burn_in=0)
    region = np.zeros(500, dtype=np.int64)
    sector = np.zeros(500, dtype=np.int64)
    sizes = np.full(500, 2.0)
    assert demography.viable(m, region, sector, sizes).all()
    m.wage_mult[:] = 3.0  # a region whose workers cost three times what they did
    assert not demography.viable(m, region, sector, sizes).any()
    m.wage_mult[:] = 1.0
    m.localisation[:] = 1.2  # where the sector's cluster makes firms more productive
    assert demography.viable(m, region, sector, np.full(500, 0.05)).mean() == 0.0
    assert demography.viable(m, region, sector, sizes).all()


# ---------------------------------------------------------------------------- steady state


@pytest.mark.slow
@pytest.mark.statistical
def test_defaults_reach_a_steady_state_where_entry_balances_exit():
    """Over years 5-20 at the defaults (1,000 firms, seeds 1-3) the annual entry and exit rates
    agree within 1.5 percentage points and the number of firms at month 240 is within 15% of
    month 60's. The cluster sells at the outside market's price at the defaults (local demand
    never lifts the price above it), so its size is set by free entry, selection and
    congestion, not by local demand's growth; and the owners' exogenous closures
    (``death_rate``) keep even the ablest firms mortal, so the population's talent settles
    instead of rising without end."""
    for seed in (1, 2, 3):
        m = ClusterModel(n_firms=1000, rng=seed)
        for _ in range(240):
            m.step()
        outside = m.params.market.outside_price * m.world_arrays["sector_price"]
        np.testing.assert_allclose(m.sector_price, outside, rtol=1e-12)
        s = m.series().set_index("step").loc[60:]
        entry = 12 * (s["entries"] / s["firms"]).mean()
        exit_ = 12 * (s["exits"] / s["firms"]).mean()
        assert abs(entry - exit_) < 0.015, (seed, entry, exit_)
        assert s["firms"].iloc[-1] / s["firms"].iloc[0] == pytest.approx(1.0, abs=0.15), seed


# ---------------------------------------------------------------------------- scale


def _per_firm(n_firms: int, seeds) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for seed in seeds:
        m = ClusterModel(n_firms=n_firms, rng=seed)
        for _ in range(120):
            m.step()
        s = m.series()
        last = s.iloc[-24:]
        f = m.firms
        vals = {
            # the geometric mean: the arithmetic mean of a Pareto tail with exponent 1.5 has no
            # variance, so small samples understate it whatever the model does
            "typical_size": float(np.exp(np.log(f.employees[f.alive]).mean())),
            "share_micro": float(last["share_micro"].mean()),
            "firms_growth": float(s["firms"].iloc[-1] / s.set_index("step").loc[0, "firms"]),
            "entry_rate": float((last["entries"] / last["firms"]).mean() * 12),
            "input_price": float(np.mean(m.tmp["unit_input_cost"][f.alive])),
            "cooperation_rate": float(last["cooperation_rate"].mean()),
        }
        for k, v in vals.items():
            out.setdefault(k, []).append(v)
    return {k: float(np.mean(v)) for k, v in out.items()}


@pytest.mark.slow
@pytest.mark.statistical
def test_results_per_firm_do_not_depend_on_how_many_firms_are_simulated():
    """The issue found the input price at month 120 at 1.07 with 250 firms and 0.63 with 5,000.
    Per-firm results at 1,000 firms (seeds 1-3) agree with the 5,000-firm run (seeds 1-2)
    within 10% for the typical (geometric mean) firm size, the input price and the firm
    count's growth, 0.03 for the micro share and the cooperation rate and 2 points a year for
    the entry rate. At 250 firms (seeds 1-6) the tolerances are 15% and 0.04: there the typical
    firm is about 10% larger and the micro share about 3 points lower than at 5,000 (measured
    over 10 seeds), because each input still has its four suppliers, who then serve 60 buyers
    each instead of 1,250, and their crowding prices move in coarser steps (docs/validation.md)."""
    big = _per_firm(5000, (1, 2))
    for n, seeds, rel, share in ((250, range(1, 7), 0.15, 0.04), (1000, (1, 2, 3), 0.10, 0.03)):
        small = _per_firm(n, seeds)
        for key in ("typical_size", "input_price", "firms_growth"):
            assert small[key] == pytest.approx(big[key], rel=rel), (n, key, small, big)
        for key in ("share_micro", "cooperation_rate"):
            assert small[key] == pytest.approx(big[key], abs=share), (n, key, small, big)
        assert small["entry_rate"] == pytest.approx(big["entry_rate"], abs=0.02), (n, small)


# ---------------------------------------------------------------------------- clusters


def symmetric_world(per_cell: int = 25, n_regions: int = 3, n_sectors: int = 4) -> World:
    """Identical towns, an even start: the same number of firms of every sector in every town,
    so that any cluster that forms is made by the model, not by the map."""
    centres = [(15.0, 20.0), (45.0, 20.0), (30.0, 46.0)]
    regions = tuple(Region(f"T{r}", *centres[r], radius=3.0) for r in range(n_regions))
    sectors = tuple(Sector(f"S{s}", f"I{s}") for s in range(n_sectors))
    firms = tuple(FirmGroup(r.name, s.name, per_cell) for r in regions for s in sectors)
    return World(regions=regions, sectors=sectors, firms=firms)


def _winners(model) -> np.ndarray:
    """The town with most employment of each sector, int[S]."""
    emp = market.employment_by(model.firms, len(model.world.sectors), len(model.world.regions))
    return emp.argmax(axis=1)


@pytest.mark.slow
@pytest.mark.statistical
def test_clusters_form_from_an_even_start_and_lock_in():
    """From an even start in identical towns, at the defaults (ten seeds):

    - the mean Ellison-Glaeser gamma rises by at least 0.02 over 20 years in at least eight
      seeds (clusters form);
    - by year 10 at least twelve (seed, sector) pairs have a leading town with 1.5 times the
      employment of the next, and at least 85% of those still lead at year 20 (lock-in; if
      leadership were reshuffled at random among the three towns, a third would);
    - the seeds do not all crown the same towns (which town wins is decided by history, not by
      the map: path dependence, Arthur 1990)."""
    rises, clear, kept, crowns = 0, 0, 0, set()
    for seed in range(1, 11):
        m = ClusterModel(world=symmetric_world(), rng=seed)
        for _ in range(120):
            m.step()
        emp = market.employment_by(m.firms, 4, 3)
        top = np.sort(emp, axis=1)
        lead = top[:, -1] >= 1.5 * top[:, -2]
        mid = _winners(m)
        for _ in range(120):
            m.step()
        end = _winners(m)
        s = m.series().set_index("step")["eg_gamma_mean"]
        rises += s.loc[240] - s.loc[0] >= 0.02
        clear += int(lead.sum())
        kept += int((lead & (mid == end)).sum())
        crowns.add(tuple(end))
    assert rises >= 8
    assert clear >= 12
    assert kept >= 0.85 * clear
    assert len(crowns) >= 2


# ---------------------------------------------------------------------------- selection by age


def _hazard_and_spread_by_age(**kw) -> tuple[float, float, float, float]:
    """Monthly exit hazard and the spread of annual log growth of young (< 2 years) and old
    (>= 5 years) firms over ten years at 1,000 firms, seeds 1-3."""
    exits = {"young": [0, 0], "old": [0, 0]}
    growth: dict[str, list[float]] = {"young": [], "old": []}
    for seed in (1, 2, 3):
        m = ClusterModel(n_firms=1000, rng=seed, **kw)
        year_before = {}
        for t in range(120):
            f = m.firms
            ids, ages = f.firm_id[f.alive].copy(), f.age[f.alive].copy()
            if t == 108:
                sizes = f.employees[f.alive].tolist()
                year_before = dict(zip(ids.tolist(), zip(ages.tolist(), sizes, strict=True),
                                       strict=True))
            m.step()
            left = ~np.isin(ids, m.firms.firm_id[m.firms.alive])
            for group, mask in (("young", ages < 24), ("old", ages >= 60)):
                exits[group][0] += int(left[mask].sum())
                exits[group][1] += int(mask.sum())
        now = dict(zip(m.firms.firm_id[m.firms.alive].tolist(),
                       m.firms.employees[m.firms.alive].tolist(), strict=True))
        for i, (age, size) in year_before.items():
            if i in now and (age < 24 or age >= 60):
                growth["young" if age < 24 else "old"].append(float(np.log(now[i] / size)))
    return (exits["young"][0] / exits["young"][1], exits["old"][0] / exits["old"][1],
            float(np.std(growth["young"])), float(np.std(growth["old"])))


@pytest.mark.slow
@pytest.mark.statistical
def test_young_firms_exit_more_and_grow_more_unevenly_because_owners_learn():
    """Jovanovic (1982) selection, the stylised facts of Evans (1987) and Dunne, Roberts &
    Samuelson (1989): at the defaults young firms' monthly exit hazard is at least twice old
    firms' (measured 2.0% against 0.7%) and the spread of their annual growth at least 1.3
    times (0.29 against 0.20). With owners who know their talent at birth
    (``talent_uncertainty = 0``) both ratios fall below 1.25 (measured 1.05 and 1.16): the
    learning is what makes them (thousands of firm-months behind each hazard)."""
    young, old, spread_young, spread_old = _hazard_and_spread_by_age()
    assert young > 2.0 * old
    assert spread_young > 1.3 * spread_old
    young, old, spread_young, spread_old = _hazard_and_spread_by_age(talent_uncertainty=0.0)
    assert young < 1.25 * old
    assert spread_young < 1.25 * spread_old
