"""Purpose outcomes: what each intervention is for, recorded by the model and declared with units.

A waste-treatment facility is judged on the waste it treats (the sector's waste per unit of
output, times its users' output, times effect and level of service: what the market takes off
their waste bill) and the firms whose waste it treats; other facilities on the firms they serve;
training on the firms trained; credit on the firms it supports. The outcomes read the state and
draw nothing; a scenario declares in what unit each is reported (``purpose_outcomes``).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.core.errors import InputError
from sim.core.totals import CHUNK
from sim.interventions.cfc import PURPOSES, CommonFacilityCentre
from sim.interventions.credit import Credit
from sim.interventions.training import Training
from sim.io.scenario import load_scenario
from sim.measure import collect, outputs
from sim.measure.collect import Recording
from sim.measure.metrics import purpose_totals
from sim.measure.metrics.purpose import WASTE_SERVICE, _purpose_sums
from sim.measure.outputs import PURPOSE_SERIES, PURPOSE_TOTALS, purpose_outcomes
from sim.model import ClusterModel
from tests.conftest import one_town_toml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def _random_state(rng, n, n_fac=3, n_sectors=2, short=0):
    alive = rng.random(n) < 0.8
    sector = rng.integers(0, n_sectors, n)
    output = np.where(rng.random(n) < 0.1, 0.0, rng.random(n) * 5)
    f_service = rng.integers(0, 3, n_fac)
    uses = np.where(rng.random(n) < 0.5, rng.integers(0, n_fac, n), -1)
    m = n - short
    effect, level = rng.random(m), rng.random(m)
    w = np.array([0.0, 0.4, 0.2][:n_sectors])
    trained = rng.random(n) < 0.3
    subsidy = np.where(rng.random(n) < 0.2, 0.5, 0.0)
    extra = np.where(rng.random(n) < 0.2, 3.0, 0.0)
    return alive, sector, output, uses, f_service, effect, level, w, trained, subsidy, extra


# -- the metric on hand-built states -----------------------------------------------------------
def test_waste_treated_is_intensity_times_users_output_times_service():
    # four firms: 0 uses the waste plant (facility 1) at level 0.5; 1 uses the tool room
    # (facility 0); 2 makes waste untreated; 3 is dead and uses the plant
    alive = np.array([True, True, True, False])
    sector = np.array([1, 0, 1, 1])
    output = np.array([10.0, 4.0, 6.0, 100.0])
    uses = np.array([1, 0, -1, 1])
    f_service = np.array([0, WASTE_SERVICE])
    effect, level = np.array([0.8, 0.1, 0.0, 0.8]), np.array([0.5, 1.0, 0.0, 1.0])
    w = np.array([0.0, 0.4])
    got = purpose_totals(alive, sector, output, uses, f_service, effect, level, w,
                         np.array([True, False, True, True]), np.array([0.0, 0.5, 0.0, 0.0]),
                         np.array([0.0, 0.0, 3.0, 0.0]))
    assert got["waste_generated"] == pytest.approx(0.4 * (10 + 6), rel=1e-15)
    assert got["waste_treated"] == pytest.approx(0.4 * 10 * 0.8 * 0.5, rel=1e-15)
    assert got["waste_treated_share"] == pytest.approx(1.6 / 6.4, rel=1e-15)
    assert got["firms_compliant"] == 1
    assert got["compliance_share"] == 0.5
    assert got["services_delivered"] == 1
    assert got["trained_firms"] == 2
    assert got["credit_supported"] == 2


def test_a_state_with_nothing_to_measure_gives_zeros_not_nan():
    n = 5
    got = purpose_totals(np.ones(n, bool), np.zeros(n, np.int64), np.ones(n),
                         np.full(n, -1), np.zeros(0, np.int64), np.zeros(0), np.zeros(0),
                         np.zeros(1), np.zeros(n, bool), np.zeros(n), np.zeros(n))
    assert got == dict.fromkeys(PURPOSE_SERIES, 0) | {
        "waste_generated": 0.0, "waste_treated": 0.0}
    assert all(np.isfinite(v) for v in got.values())


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("n", "short"), [(40, 0), (40, 7), (2 * CHUNK + 13, 5)])
def test_purpose_sums_equal_their_py_func_and_numpy(seed, n, short):
    args = _random_state(np.random.default_rng(seed), n, short=short)
    fast = _purpose_sums(*copy.deepcopy(args))
    slow = _purpose_sums.py_func(*copy.deepcopy(args))
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(fast[1], slow[1])
    alive, sector, output, uses, f_service, effect, level, w, trained, subsidy, extra = args
    waste = np.where(alive, output * w[sector], 0.0)
    pad = np.zeros(n - effect.size)
    served = np.concatenate([effect * level, pad])
    on_plant = alive & (uses >= 0) & (f_service[np.maximum(uses, 0)] == WASTE_SERVICE)
    treated = np.where(on_plant, waste * served, 0.0)
    np.testing.assert_allclose(fast[0], [waste.sum(), treated.sum()], rtol=1e-12)
    np.testing.assert_array_equal(fast[1], [
        np.count_nonzero(waste > 0), np.count_nonzero(treated > 0),
        np.count_nonzero(alive & (uses >= 0) & ~on_plant), np.count_nonzero(alive & trained),
        np.count_nonzero(alive & ((subsidy > 0) | (extra > 0)))])


# -- the model ----------------------------------------------------------------------------------
def _plant_model(seed=3, capacity=5.0, **kw):
    """The default world with a slurry plant for the stone firms of Core that forms at once and
    costs next to nothing to use (so it is used, beyond its capacity), training and credit."""
    plant = CommonFacilityCentre(name="plant", region="Core", sectors=("stone",), service="waste",
                                 purpose="slurry_treatment", effect=0.8, project_cost=10.0,
                                 grant_share=0.9, spv_min_members=3, capacity=capacity,
                                 operating_cost=0.01, start=0)
    policies = (plant, Training(name="train", start=2, firms_per_month=5),
                Credit(name="loans", start=1, sectors=("metal",)))
    return ClusterModel(rng=seed, n_firms=300, burn_in=2, build_months=0,
                        pledge_threshold_mean=-1.0, interventions=policies, **kw)


def test_a_waste_plant_treats_intensity_times_its_users_output_shared_by_congestion():
    model = _plant_model()
    w = model.world_arrays["sector_wpo"]
    seen_users = 0
    for _ in range(12):
        fac = model.facilities  # the quality it serves with this month: 1 if it opens now
        quality = fac.quality[0] if fac.n and fac.operating()[0] else 1.0
        model.step()
        row, f = model.recorder.latest, model.firms
        waste = np.where(f.alive, f.output * w[f.sector], 0.0)
        assert row["waste_generated"] == pytest.approx(waste.sum(), rel=1e-12)
        if not fac.n or fac.users[0] == 0:
            assert row["waste_treated"] == 0.0
            continue
        # the plant's level this month from its own state: quality times capacity over users
        level = quality * min(1.0, fac.capacity[0] / fac.users[0])
        users = f.alive & (f.uses == 0)  # those still in business (some users left)
        assert np.count_nonzero(users) <= fac.users[0]
        assert row["waste_treated"] == pytest.approx(0.8 * level * waste[users].sum(),
                                                     rel=1e-12)
        assert row["firms_compliant"] == np.count_nonzero(users & (waste > 0))
        seen_users = max(seen_users, fac.users[0])
        assert row["trained_firms"] == np.count_nonzero(f.alive & f.trained)
        assert row["credit_supported"] == np.count_nonzero(
            f.alive & (f.interest_subsidy > 0))
    assert seen_users > 5, "the plant was never used beyond its capacity: the test is void"


@pytest.mark.parametrize("seed", [0, 1])
def test_purpose_accounting_identities_hold_every_month(seed):
    model = _plant_model(seed)
    for _ in range(18):
        model.step()
    s = model.series()
    for name in PURPOSE_SERIES:
        assert s[name].notna().all(), name
        assert (s[name] >= 0).all(), name
    assert (s["waste_treated"] <= s["waste_generated"] * (1 + 1e-12)).all()
    for share in ("waste_treated_share", "compliance_share"):
        assert s[share].between(0.0, 1.0).all(), share
    for count in ("firms_compliant", "services_delivered", "trained_firms", "credit_supported"):
        assert (s[count] <= s["firms"]).all(), count
    assert s["waste_treated"].iloc[-1] > 0, "no waste was treated: the test is void"
    final = model.final_outcomes()
    months = s[s["step"] > 0]
    for total in PURPOSE_TOTALS:
        per_month = total.removesuffix("_total")
        assert final[total] == pytest.approx(months[per_month].sum(), rel=1e-12), total


def test_totals_do_not_depend_on_what_is_recorded():
    full = _plant_model(2)
    sparse = _plant_model(2, recording=Recording(outputs=("firms",), every=None,
                                                  burn_in=False, mesa=False))
    for _ in range(10):
        full.step()
        sparse.step()
    a, b = collect.final_outcomes(full), collect.final_outcomes(sparse)
    for name in (*PURPOSE_SERIES, *PURPOSE_TOTALS):
        assert a[name] == b[name], name


def test_a_model_without_waste_training_credit_or_facility_records_zeros():
    sc_path = SCENARIOS / "classroom_cluster_formation.toml"
    sc = load_scenario(sc_path)
    assert not any(s.waste_per_output for s in sc.world.sectors)
    model = sc.build(rng=0, agents=False)
    for _ in range(3):
        model.step()
    final = collect.final_outcomes(model)
    for name in (*PURPOSE_SERIES, *PURPOSE_TOTALS):
        if name not in ("services_delivered", "services_delivered_total"):
            assert final[name] == 0, name
    assert purpose_outcomes(sc) == []


# -- declarations -------------------------------------------------------------------------------
def test_hebron_and_tirupur_are_judged_on_their_purpose_in_physical_units():
    hebron = purpose_outcomes(load_scenario(SCENARIOS / "hebron_stone.toml"))
    assert [(p.name, p.unit) for p in hebron] == [
        ("waste_treated_total", "tonne of stone waste treated"),
        ("firms_compliant_total", "firm-month of slurry treated")]
    assert hebron[0].scale == 16.3
    assert hebron[0].interventions == ("slurry_cfc",)
    assert hebron[0].value(2.0) == pytest.approx(32.6)
    grant90 = purpose_outcomes(load_scenario(SCENARIOS / "hebron_stone_grant90.toml"))
    assert grant90 == hebron  # inherited through extends
    assert purpose_outcomes(load_scenario(SCENARIOS / "hebron_stone_no_cfc.toml")) == []
    tirupur = purpose_outcomes(load_scenario(SCENARIOS / "tirupur_cetp.toml"))
    assert [(p.name, p.unit, p.scale, p.interventions) for p in tirupur] == [
        ("waste_treated_total", "million litres of effluent treated", 1.39,
         ("cetp_town", "cetp_noyyal")),
        ("firms_compliant_total", "firm-month of effluent treated", 1.0,
         ("cetp_town", "cetp_noyyal")),
        ("credit_supported_total", "firm-month of credit support", 1.0,
         ("interest_free_loans",))]


def test_every_shipped_scenario_declares_outcomes_the_model_records():
    for path in sorted(SCENARIOS.glob("*.toml")):
        sc = load_scenario(path)
        names = set(outputs.final_names(sc.world))
        for p in purpose_outcomes(sc):
            assert p.name in names, (path.name, p.name)
            assert p.unit, p.name
            assert p.scale > 0, p.name
            assert outputs.direction(p.name) == +1, p.name
            assert outputs.unit(p.name), p.name


def test_default_cfc_keeps_its_hash_and_declares_services():
    cfc = CommonFacilityCentre(name="c", region="Core")
    assert not {"purpose", "purpose_unit", "purpose_scale"} & set(cfc.to_dict())
    assert [(p.name, p.unit) for p in cfc.purpose_outcomes()] == [
        ("services_delivered_total", "firm-month of productivity service")]
    lab = CommonFacilityCentre(name="c", region="Core", purpose="testing", purpose_unit="tests",
                               purpose_scale=4.0)
    assert lab.to_dict()["purpose"] == "testing"
    assert [(p.name, p.unit, p.scale) for p in lab.purpose_outcomes()] == [
        ("services_delivered_total", "tests", 4.0)]


def test_two_plants_in_different_units_are_refused_by_purpose_outcomes(tmp_path):
    text = (SCENARIOS / "tirupur_cetp.toml").read_text()
    path = tmp_path / "tirupur.toml"
    path.write_text(text.replace('purpose_unit = "million litres of effluent"  # as cetp_town',
                                 'purpose_unit = "kilolitres"  #'))
    with pytest.raises(InputError, match="cetp_noyyal.purpose_unit.*the same purpose_unit"):
        purpose_outcomes(load_scenario(path))


def _cfc_scenario(tmp_path, **fields) -> Path:
    lines = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in fields.items())
    path = tmp_path / "bad.toml"
    path.write_text(one_town_toml("bad", 2) + f"""
[[interventions]]
kind = "cfc"
name = "plant"
region = "A"
{lines}""")
    return path


@pytest.mark.parametrize(("fields", "says"), [
    ({"service": "waste", "purpose": "slury_treatment"},
     "interventions[0].purpose: got 'slury_treatment'; allowed: one of"),
    ({"service": "waste", "purpose": "slury_treatment"}, "(did you mean 'slurry_treatment'?)"),
    ({"purpose": "slurry_treatment"}, "a 'waste' service, but service is 'productivity'"),
    ({"service": "waste", "purpose_scale": 16.3}, "purpose_scale: set without purpose_unit"),
    ({"service": "waste", "purpose_unit": "t", "purpose_scale": 0.0},
     "purpose_scale: got 0.0; allowed: a number from 1e-12"),
])
def test_a_bad_purpose_is_refused_with_one_line_and_exit_2(tmp_path, capsys, fields, says):
    path = _cfc_scenario(tmp_path, **fields)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert says in err[0], err


def test_every_purpose_names_a_service_of_the_model():
    from sim.mechanisms.facilities import SERVICES

    assert {service for service, _ in PURPOSES.values()} <= set(SERVICES)


def test_cost_per_unit_of_purpose_is_cost_over_the_gain_in_its_unit():
    from sim.studies.costeff import COST_PER_UNIT, NO_GAIN
    from sim.studies.purpose import purpose_costs

    tonnes = outputs.PurposeOutcome("waste_treated_total", "tonnes treated", 16.0, ("plant",))
    firms = outputs.PurposeOutcome("firms_compliant_total", "firm-months")
    cost = np.array([100.0, 110.0, 90.0, 105.0])
    gains = {"waste_treated_total": np.array([10.0, 11.0, 9.0, 10.0]),
             "firms_compliant_total": np.array([5.0, -5.0, 4.0, -4.0])}
    rows = purpose_costs([tonnes, firms, outputs.PurposeOutcome("trained_firms", "firms")],
                         cost, gains)
    assert [r["outcome"] for r in rows] == ["waste_treated_total", "firms_compliant_total"]
    assert rows[0]["status"] == COST_PER_UNIT
    assert rows[0]["unit"] == "tonnes treated"
    assert rows[0]["gain"] == pytest.approx(16.0 * 10.0)
    assert rows[0]["ratio"] == pytest.approx(101.25 / 160.0)
    assert rows[0]["ratio_ci_low"] < rows[0]["ratio"] < rows[0]["ratio_ci_high"]
    assert rows[1]["status"] == NO_GAIN
    assert np.isnan(rows[1]["ratio"])
