"""Births and deaths of firms (sim.mechanisms.population), hand-built: what a firm is born with,
where spin-offs start, how owners' talent is set, and that leavers free their slots."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.month import Books
from sim.mechanisms import cooperation, facilities, population
from sim.mechanisms.population import Population, talent
from sim.model import ClusterModel


@pytest.fixture
def town(make_world, make_params):
    """20 firms of one sector in region R0, 10 in R1; no mechanism on, no burn-in."""
    world = make_world({("R0", "S0"): 20, ("R1", "S0"): 10})
    return ClusterModel(make_params(), world, rng=4, agents=False)


def test_the_initial_firms_are_the_world_s_groups_with_ids_in_order(town):
    f = town.firms
    assert f.n_alive == 30
    assert np.bincount(f.region[f.alive]).tolist() == [20, 10]
    assert sorted(f.firm_id[f.alive].tolist()) == list(range(30))
    assert town.population.next_id == 30
    np.testing.assert_allclose(town.population.dartboard, [20 / 30, 10 / 30])
    # sizes at or above the sector's floor (and min_size), below the cap
    dp = town.params.demography
    assert np.all(f.employees[f.alive] >= max(dp.min_size, 1.0))
    assert np.all(f.employees[f.alive] <= dp.max_size)


def test_entrants_take_the_lowest_free_slots_with_the_fields_they_are_born_with(town):
    m, books = town, Books()
    pop, f = m.population, m.firms
    m._remove_firms(np.array([3, 7]))
    slots = pop.create(f, m.ties, region=np.array([1, 0, 1]), sector=np.array([0, 0, 0]),
                       sizes=np.array([2.0, 5.0, 3.0]), parent=np.full(3, -1), t=9, books=books)
    assert slots.tolist() == [3, 7, 30]  # two freed slots, then the first never used
    assert f.firm_id[slots].tolist() == [30, 31, 32]  # ids are never reused
    assert f.alive[slots].all()
    assert f.region[slots].tolist() == [1, 0, 1]
    np.testing.assert_array_equal(f.employees[slots], [2.0, 5.0, 3.0])
    np.testing.assert_array_equal(f.desired[slots], [2.0, 5.0, 3.0])
    assert f.born[slots].tolist() == [9, 9, 9]
    assert f.age[slots].tolist() == [0, 0, 0]
    np.testing.assert_array_equal(f.reputation[slots], f.willingness[slots])
    assert np.all((f.willingness[slots] >= 0) & (f.willingness[slots] <= 1))
    # newcomers sit around their region's centre (radius 2 km)
    cx = m.world_arrays["region_x"][f.region[slots]]
    cy = m.world_arrays["region_y"][f.region[slots]]
    assert np.all(np.hypot(f.x[slots] - cx, f.y[slots] - cy) < 5 * 2.0)
    # starting capital: initial_capital_months of revenue at the base price, booked as entry
    p, w = m.params, m.world_arrays
    rev = (f.productivity[slots] * f.talent[slots] * f.employees[slots]
           ** p.market.labour_elasticity * w["sector_price"][0]
           * w["market_access"][f.region[slots]])
    np.testing.assert_allclose(f.revenue[slots], rev, rtol=1e-12)
    np.testing.assert_allclose(f.capital[slots], p.demography.initial_capital_months * rev,
                               rtol=1e-12)
    assert books.private.entry_capital == pytest.approx(f.capital[slots].sum(), rel=1e-12)


def test_a_spin_off_starts_next_to_its_parent_with_its_attitude(town):
    m = town
    f = m.firms
    parent = 5
    f.willingness[parent] = 0.123
    slot = m.population.create(f, m.ties, np.array([f.region[parent]]), np.array([0]),
                               np.array([1.0]), parent=np.array([parent]), t=1, books=Books())
    spread = m.params.demography.spinoff_spread
    assert f.willingness[slot[0]] == 0.123
    assert np.hypot(f.x[slot[0]] - f.x[parent], f.y[slot[0]] - f.y[parent]) < 6 * spread
    # efficiency: the parent's, times a lognormal of spread spinoff_productivity_sd
    ratio = np.log(f.productivity[slot[0]] / f.productivity[parent])
    assert abs(ratio) < 6 * m.params.demography.spinoff_productivity_sd


def test_owners_talent_makes_the_drawn_size_the_one_where_a_worker_pays_for_itself():
    # one sector, one region: price 1, access 1, transport share 0.05, infrastructure factor
    # 0.5, inputs 0.3 per unit at price 1, no waste; a worker costs wage 0.4 + land 0.1
    class MP:
        labour_elasticity, transport_share, wage, waste_cost = 0.8, 0.05, 0.4, 0.0
    wa = {"sector_price": np.array([1.0]), "market_access": np.array([1.0]),
          "infra_factor": np.array([0.5]), "sector_ipo": np.array([0.3]),
          "sector_input_price": np.array([1.0]), "sector_wpo": np.array([0.0]),
          "wage_index": np.array([1.0]), "land_cost": np.array([0.1])}
    sizes, prod = np.array([1.0, 8.0]), np.array([2.0, 2.0])
    t = talent(wa, MP, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64), prod, sizes)
    u = 1.0 * (1 - 0.05 * 0.5) - 0.3  # value added per unit of output
    np.testing.assert_allclose(t, 0.5 * sizes ** 0.2 / (0.8 * u * 2.0), rtol=1e-12)
    # at that talent the marginal value product of a worker is what a worker costs
    mvp = 0.8 * u * prod * t * sizes ** (0.8 - 1.0)
    np.testing.assert_allclose(mvp, 0.5, rtol=1e-12)
    # a sector that cannot cover its inputs: no calibration
    wa["sector_input_price"] = np.array([5.0])
    t = talent(wa, MP, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64), prod, sizes)
    np.testing.assert_allclose(t, sizes ** 0.2)


def test_leavers_free_their_slots_drop_their_ties_and_take_their_capital_with_them(town):
    m = town
    f, ties = m.firms, m.ties
    cooperation.add_tie(ties, np.array([0, 0]), np.array([1, 2]), 0.5, 0.5)
    f.capital[[0, 4]] = (12.0, -2.0)
    books = Books()
    Population.remove(f, ties, np.array([0, 4]), books)
    assert not f.alive[[0, 4]].any()
    assert f.firm_id[[0, 4]].tolist() == [-1, -1]
    assert (ties.partner[0] == -1).all()
    assert 0 not in ties.partner[[1, 2]]
    assert books.private.exit_capital == pytest.approx(10.0)
    assert f.n_alive == 28


def test_a_model_month_counts_entrants_and_leavers_in_its_row(make_world, make_params):
    world = make_world({("R0", "S0"): 60})
    params = make_params("market", "growth", "exit", "entry", entrants_per_step=3,
                         spinoff_prob=0.0, entry_mode="copy")
    m = ClusterModel(params, world, rng=2, agents=False)
    ids_before = set(m.firms.firm_id[m.firms.alive].tolist())
    m.step()
    row = m.recorder.latest
    ids_after = set(m.firms.firm_id[m.firms.alive].tolist())
    assert row["entries"] == 3 == len(ids_after - ids_before)
    assert row["exits"] == len(ids_before - ids_after)
    assert row["firms"] == 60 + 3 - row["exits"]


def create_as_arrays(pop, f, region, sector, sizes, parent, t, rng):
    """What :meth:`Population.create` writes, as numpy array expressions, one draw per trait (the
    formulation it had before its kernel): the second formulation the kernel must equal to the
    bit."""
    p, w = pop.params, pop.world_arrays
    dp, cp, fp, size = p.demography, p.cooperation, p.facilities, p.world.world_size
    n = region.size
    has = parent >= 0
    k = int(has.sum())
    x = np.clip(w["region_x"][region] + rng.standard_normal(n) * w["region_radius"][region],
                0.0, size)
    y = np.clip(w["region_y"][region] + rng.standard_normal(n) * w["region_radius"][region],
                0.0, size)
    x[has] = np.clip(f.x[parent[has]] + dp.spinoff_spread * rng.standard_normal(k), 0.0, size)
    y[has] = np.clip(f.y[parent[has]] + dp.spinoff_spread * rng.standard_normal(k), 0.0, size)
    mu = w["sector_productivity"][sector]
    sd = w["sector_productivity_sd"][sector]
    prod = mu * np.exp(sd * rng.standard_normal(n) - 0.5 * sd * sd)
    prod[has] = f.productivity[parent[has]] * np.exp(
        dp.spinoff_productivity_sd * rng.standard_normal(k))
    owner = talent(w, p.market, region, sector, mu, sizes)
    gap = (dp.talent_uncertainty * rng.standard_normal(n) if dp.talent_uncertainty > 0
           else np.zeros(n))
    will = np.clip(cp.willingness_mean + cp.willingness_sd * rng.standard_normal(n), 0, 1)
    will[has] = f.willingness[parent[has]]
    theta = fp.pledge_threshold_mean + fp.pledge_threshold_sd * rng.standard_normal(n)
    rev = (prod * owner * sizes ** p.market.labour_elasticity * w["sector_price"][sector]
           * w["market_access"][region])
    return {"x": x, "y": y, "productivity": prod, "talent": owner, "talent_gap": gap,
            "willingness": will, "reputation": will, "pledge_threshold": theta,
            "capital": dp.initial_capital_months * rev, "revenue": rev,
            "employees": sizes, "desired": sizes, "born": np.full(n, t)}


@pytest.mark.parametrize("python", [False, True], ids=["kernel", "py_func"])
@pytest.mark.parametrize("uncertainty", [0.0, 0.3])
def test_births_are_the_array_formulation_to_the_bit(make_params, uncertainty, python,
                                                      monkeypatch):
    if python:  # the kernel's own Python twin, through the same wrapper
        monkeypatch.setattr(population, "_born", population._born.py_func)
    m = ClusterModel(make_params(talent_uncertainty=uncertainty, n_firms=60), rng=4,
                     agents=False)  # the default world: several regions and sectors
    pop, f = m.population, m.firms
    region, sector = np.array([1, 0, 1, 0, 1]), np.array([0, 1, 1, 0, 0])
    sizes = np.array([2.0, 5.0, 3.0, 40.0, 1.5])
    parent = np.array([-1, 4, -1, 11, -1])  # two spin-offs, in the middle
    state = pop.rng.bit_generator.state
    twin = np.random.Generator(type(pop.rng.bit_generator)())
    twin.bit_generator.state = state
    want = create_as_arrays(pop, f, region, sector, sizes, parent, 7, twin)
    slots = pop.create(f, m.ties, region, sector, sizes, parent, t=7, books=Books())
    assert pop.rng.bit_generator.state == twin.bit_generator.state  # as many draws
    for name, values in want.items():
        np.testing.assert_array_equal(getattr(f, name)[slots], values, err_msg=name)
    assert f.talent_gap[slots].any() == (uncertainty > 0)


@pytest.mark.parametrize("theta", [0.5, 0.65])
def test_many_births_are_the_array_formulation_to_the_bit(make_params, theta):
    """Hundreds of entrants (numpy's exp and power against the kernel's, on many values; theta
    0.5 takes numpy's square root)."""
    m = ClusterModel(make_params(talent_uncertainty=0.4, n_firms=60, labour_elasticity=theta),
                     rng=3, agents=False)
    pop, f = m.population, m.firms
    rng = np.random.default_rng(9)
    n = 300
    region = rng.integers(0, len(m.world.regions), n)
    sector = rng.integers(0, len(m.world.sectors), n)
    sizes = rng.pareto(1.2, n) + 1.0
    parent = np.where(rng.random(n) < 0.3, rng.integers(0, 60, n), -1)
    twin = np.random.Generator(type(pop.rng.bit_generator)())
    twin.bit_generator.state = pop.rng.bit_generator.state
    want = create_as_arrays(pop, f, region, sector, sizes, parent, 3, twin)
    slots = pop.create(f, m.ties, region, sector, sizes, parent, t=3, books=Books())
    for name, values in want.items():
        np.testing.assert_array_equal(getattr(f, name)[slots], values, err_msg=name)


@pytest.mark.parametrize("python", [False, True], ids=["kernel", "py_func"])
def test_logit_choices_are_the_row_by_row_formulation(python, monkeypatch):
    from sim.mechanisms import demography

    if python:
        monkeypatch.setattr(demography, "_inverse_cdf", demography._inverse_cdf.py_func)
    def choices(utility, rows, u):
        out = np.empty(u.size, dtype=np.int64)
        demography._inverse_cdf(utility, rows, u, out)
        return out

    rng = np.random.default_rng(11)
    utility = rng.normal(size=(5, 6)) * 3.0
    utility[2] = 0.5  # a row of ties
    utility[3, 4] = np.nan  # a row whose weights are all NaN: the first option, as in numpy
    utility[4] = rng.normal(size=6) * 30.0  # weights far apart: exp's last bits matter
    rows = rng.integers(0, 5, size=2000)
    u = rng.random(2000)
    u[:3] = (0.0, 1.0 - 1e-16, 0.999999)
    got = choices(utility, rows, u)
    np.testing.assert_array_equal(got, demography._logit_choice(utility[rows], u))
    assert set(got.tolist()) <= set(range(6))
    # the hand-computed case: equal weights on 4 options, u in the third quarter -> option 2
    assert choices(np.zeros((1, 4)), np.zeros(1, dtype=np.int64), np.array([0.6]))[0] == 2


def viable_as_arrays(model, market, region, sector, sizes):
    """Free entry's test as numpy arrays (the formulation the kernels must equal, bit for bit)."""
    mp, w = model.params.market, model.world_arrays
    theta = mp.labour_elasticity
    base = mp.wage * w["wage_index"][region] + w["land_cost"][region]
    now = (mp.wage * w["wage_index"][region] * market.wage_mult[region]
           + w["land_cost"][region] * model.mods.land_mult[region] * market.rent_mult[region])
    value = (market.sector_price[sector] / w["sector_price"][sector]
             * market.localisation[sector, region])
    if theta >= 1.0:
        return value >= now / base
    best = sizes * (value * base / np.maximum(now, 1e-12)) ** (1.0 / (1.0 - theta))
    return (1.0 - theta) / theta * now * best > mp.fixed_cost


@pytest.mark.parametrize("python", [False, True], ids=["kernel", "py_func"])
@pytest.mark.parametrize("theta", [0.7, 1.0])
def test_free_entry_is_the_array_formulation_to_the_bit(make_params, python, theta,
                                                        monkeypatch):
    from sim.mechanisms import demography

    if python:
        for name in ("_viable", "_earns", "numpy_power"):
            monkeypatch.setattr(demography, name, getattr(demography, name).py_func)
    m = ClusterModel(make_params(n_firms=80, labour_elasticity=theta), rng=5, agents=False)
    for _ in range(3):
        m.step()
    rng = np.random.default_rng(3)
    n_regions, n_sectors = len(m.world.regions), len(m.world.sectors)
    region = rng.integers(0, n_regions, 400)
    sector = rng.integers(0, n_sectors, 400)
    sizes = rng.pareto(1.2, 400) + 1.0
    m.market.rent_mult[:] = rng.uniform(0.5, 30.0, n_regions)  # congestion, so that both answers
    want = viable_as_arrays(m, m.market, region, sector, sizes)
    got = demography.viable(m, m.market, region, sector, sizes)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, want)
    assert 0 < got.sum() < got.size or theta >= 1.0


@pytest.mark.parametrize("python", [False, True], ids=["kernel", "py_func"])
@pytest.mark.parametrize(("theta", "tail", "dear"),
                         [(0.7, 1.3, 4.0), (0.5, 1.0, 40.0), (1.0, 2.0, 4.0)])
def test_admitted_entrants_are_the_array_formulation_to_the_bit(make_params, python, theta, tail,
                                                                dear, monkeypatch):
    """Sizes drawn as numpy's Pareto above the sector's floor, outsiders kept where they would
    earn (``viable_as_arrays``): what demography.admit's one kernel must equal, bit for bit
    (theta 0.5 and tail 1 take numpy's square and reciprocal); workers up to ``dear`` times
    dearer, so that some outsiders stay and some do not."""
    from sim.mechanisms import demography

    if python:
        for name in ("_admit", "_earns", "numpy_power"):
            monkeypatch.setattr(demography, name, getattr(demography, name).py_func)
    m = ClusterModel(make_params(n_firms=80, labour_elasticity=theta, size_tail=tail), rng=5,
                     agents=False)
    for _ in range(3):
        m.step()
    rng = np.random.default_rng(4)
    dp, w = m.params.demography, m.world_arrays
    n, k = 400, 30
    new = {"region": rng.integers(0, len(m.world.regions), n),
           "sector": rng.integers(0, len(m.world.sectors), n),
           "parent": np.concatenate([rng.integers(0, 80, k), np.full(n - k, -1)])}
    m.market.rent_mult[:] = rng.uniform(0.5, 30.0, m.market.rent_mult.size)
    m.market.wage_mult[:] = rng.uniform(0.5, dear, m.market.wage_mult.size)  # both answers
    state = rng.bit_generator.state
    twin = np.random.default_rng()
    twin.bit_generator.state = state
    sizes = np.minimum(max(dp.min_size, 1.0) * (1.0 - twin.random(n)) ** (-1.0 / dp.size_tail),
                       dp.max_size)
    sizes = np.minimum(sizes * w["sector_size_floor"][new["sector"]], dp.max_size)
    keep = (new["parent"] >= 0) | viable_as_arrays(m, m.market, new["region"], new["sector"],
                                                   sizes)
    want = {**{key: v[keep] for key, v in new.items()}, "sizes": sizes[keep]}
    got = demography.admit(m, m.market, {key: v.copy() for key, v in new.items()}, rng)
    assert rng.bit_generator.state == twin.bit_generator.state  # as many draws
    assert set(got) == set(want)
    for key, values in want.items():
        np.testing.assert_array_equal(got[key], values, err_msg=key)
    assert k < keep.sum() < n or theta >= 1.0


def test_entrants_are_the_spin_offs_then_the_outsiders():
    from sim.mechanisms import demography

    f_region, f_sector = np.array([2, 0, 1, 1, 0]), np.array([3, 3, 0, 1, 2])
    region = np.array([9, 9, 2, 2, 0])  # the outsiders' already written
    sector = np.array([9, 9, 1, 0, 0])
    parent = np.zeros(5, dtype=np.int64)
    demography._entrants(np.array([1, 3]), f_region, f_sector, region, sector, parent)
    np.testing.assert_array_equal(region, [0, 1, 2, 2, 0])
    np.testing.assert_array_equal(sector, [3, 1, 1, 0, 0])
    np.testing.assert_array_equal(parent, [1, 3, -1, -1, -1])


@pytest.mark.parametrize("python", [False, True], ids=["kernel", "py_func"])
def test_outsiders_sectors_are_the_array_formulation(python, monkeypatch):
    from sim.mechanisms import demography

    if python:
        for name in ("_choose_sectors", "_inverse_cdf"):
            monkeypatch.setattr(demography, name, getattr(demography, name).py_func)
    rng = np.random.default_rng(12)
    log_weight = np.log(rng.uniform(0.01, 1.0, 5))
    price, base = rng.uniform(0.5, 2.0, 5), rng.uniform(0.5, 2.0, 5)
    u = rng.random(300)
    util = log_weight + 1.7 * (price / base - 1.0)
    want = demography._logit_choice(np.repeat(util[None, :], u.size, axis=0), u)
    got = np.zeros(u.size, dtype=np.int64)
    demography._choose_sectors(log_weight, 1.7, price, base, u, got)
    np.testing.assert_array_equal(got, want)
    assert len(set(got.tolist())) > 2


@pytest.mark.parametrize("python", [False, True], ids=["kernel", "py_func"])
def test_attractiveness_is_the_array_formulation_to_the_bit(make_params, python, monkeypatch):
    from sim.core.state import FacilityState
    from sim.mechanisms import demography

    if python:
        monkeypatch.setattr(demography, "_attraction", demography._attraction.py_func)
    m = ClusterModel(make_params(n_firms=120), rng=6, agents=False)
    for _ in range(2):
        m.step()
    rng = np.random.default_rng(8)
    m.market.rent_mult[:] = rng.uniform(0.5, 3.0, m.market.rent_mult.size)
    m.mods.land_mult[:] = rng.uniform(0.5, 1.5, m.mods.land_mult.size)
    fac = m.facilities
    for region in (1, 0):  # two operating facilities, one serving two sectors
        f = facilities.open_drive(fac, facilities.FacilityProject(
            name="f", region=region, sectors=np.array([0, 1][:2 - region]), service=0,
            effect=0.1, cost=10.0, grant_share=0.0, capacity=4.0, operating_cost=1.0,
            spv_min=2, member_share=1.0, drive_months=1), t=2)
        fac.status[f] = FacilityState.OPERATING
    dp, w, f = m.params.demography, m.world_arrays, m.firms
    n_sectors, n_regions = len(m.world.sectors), len(m.world.regions)
    counts = demography.firm_counts(f.alive, f.sector, f.region, n_sectors, n_regions)
    suppliers, access, land_scale, _ = demography._attraction_constants(m)
    fac_counts = np.zeros((n_sectors, n_regions))
    for g in range(fac.n):
        if fac.status[g] == FacilityState.OPERATING:
            fac_counts[fac.sectors[g], fac.region[g]] += 1.0
    land_norm = w["land_cost"] * m.mods.land_mult * m.market.rent_mult / land_scale
    want = (dp.beta_sector * np.log1p(counts) + suppliers + dp.beta_facility * fac_counts
            + access - dp.beta_land * land_norm[None, :])
    assert fac_counts.sum() == 3
    np.testing.assert_array_equal(demography.attractiveness(m, m.market), want)


def test_clearing_slots_and_finding_free_ones_are_the_array_formulation(town):
    """FirmState.clear's kernel resets every field as ``column[idx] = fill`` does; free_slots
    gives the lowest free slots, as the list of every free slot cut to n does."""
    from sim.core import state
    from sim.core.state import FIRM_FIELDS

    f = town.firms
    assert sum(len(columns(f)) for columns, _ in state._KINDS) == len(FIRM_FIELDS)
    idx = np.array([2, 9, 17])
    want = {}
    for name, (_, fill) in FIRM_FIELDS.items():
        want[name] = getattr(f, name).copy()
        want[name][idx] = fill
    f.clear(idx)
    for name in FIRM_FIELDS:
        np.testing.assert_array_equal(getattr(f, name), want[name], err_msg=name)
    assert f.free_slots(2).tolist() == [2, 9]
    assert f.free_slots(3).tolist() == np.flatnonzero(~f.alive)[:3].tolist()
    capacity = f.capacity
    free = f.free_slots(capacity)  # more than are free: the arrays grow
    assert f.capacity > capacity
    assert free.size == capacity
    np.testing.assert_array_equal(free, np.flatnonzero(~f.alive)[:capacity])
