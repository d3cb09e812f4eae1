"""What a model records, and how often (:class:`sim.measure.collect.Recording`).

A lean recording keeps some outputs at some months and computes only what they need; every value
it keeps must be the default recording's value for that month, to the bit, and a run's final
outcomes must not depend on the recording at all. An intervention's ``when_metric`` must still
see its metric every month.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from sim.core.state import FacilityState
from sim.interventions.training import Training
from sim.measure import collect, metrics, outputs
from sim.mechanisms import facilities
from sim.model import ClusterModel

STEPS = 20


def run(recording=None, steps=STEPS, interventions=(), seed=3):
    m = ClusterModel(n_firms=300, rng=seed, agents=False, recording=recording,
                     interventions=interventions, burn_in=6)
    for _ in range(steps):
        m.step()
    m.finish()
    return m


def same_outcomes(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


@pytest.fixture(scope="module")
def default():
    return run()


def test_default_recording_keeps_every_output_every_month(default):
    s = default.series(burn_in=True)
    assert list(s["step"]) == list(range(-7, STEPS + 1))
    assert len(default.datacollector.get_model_vars_dataframe()) == STEPS + 1


@pytest.mark.parametrize("recording", [
    collect.Recording(outputs=("firms", "entries", "exits", "facility_use_rate",
                               "facilities_operating"), burn_in=False, mesa=False),
    collect.Recording(outputs=("eg_gamma_mean", "mean_trust", "gini_size"), every=7),
    collect.Recording(every=6, burn_in=False),
    collect.Recording(outputs=(), every=None, burn_in=False, mesa=False),
])
def test_lean_values_are_the_default_values(default, recording):
    lean = run(recording)
    full = default.series(burn_in=True)
    got = lean.series(burn_in=True)
    every = recording.every
    want_steps = [t for t in range(-7, STEPS + 1)
                  if every and t % every == 0 and (t >= 0 or recording.burn_in)]
    if not want_steps or want_steps[-1] != STEPS:
        want_steps.append(STEPS)  # finish() keeps the last month
    assert list(got["step"]) == want_steps
    cols = list(full.columns) if recording.outputs is None else ["step", *recording.outputs]
    assert list(got.columns) == [c for c in full.columns if c in cols]
    want = full[full["step"].isin(want_steps)].reset_index(drop=True)[list(got.columns)]
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert same_outcomes(lean.final_outcomes(), default.final_outcomes())
    assert len(lean.datacollector.get_model_vars_dataframe()) == (
        STEPS + 1 if recording.mesa else 0)


def test_lean_recording_skips_the_indicators(monkeypatch):
    calls = []
    real = metrics.firm_indicators

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(metrics, "firm_indicators", counted)
    m = run(collect.Recording(outputs=("firms", "entries"), burn_in=False, mesa=False))
    assert calls == []
    m.final_outcomes()  # the final outcomes need every output of the last month: once
    assert calls == [1]
    run(collect.Recording(outputs=("gini_size",), every=10, burn_in=False, mesa=False))
    assert len(calls) == 1 + 3  # steps 0, 10, 20


def test_a_when_metric_is_watched_whatever_is_kept(default):
    # a network indicator (not kept below) that first reaches a new high after month 3
    metric, threshold = next(
        (name, float(v[t])) for name in ("mean_degree", "tie_density", "clustering")
        for v in [default.series()[name].to_numpy()]
        for t in range(4, STEPS - 2) if v[t] > v[:t].max())

    def started(recording):
        m = run(recording, interventions=(Training(name="t", when_metric=metric,
                                                   when_at_least=threshold),))
        return m.schedules[0].started_at, m.final_outcomes()

    start, outcomes = started(None)
    assert 1 <= start <= STEPS
    lean = started(collect.Recording(outputs=("firms",), every=5, burn_in=False, mesa=False))
    assert lean[0] == start
    assert same_outcomes(lean[1], outcomes)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"every": 0}, "Recording.every"),
    ({"every": 1.5}, "Recording.every"),
    ({"outputs": "firms"}, "Recording.outputs"),
    ({"outputs": ("firms", "no_such_output")}, "no_such_output"),
])
def test_bad_recordings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        collect.Recording(**kwargs)


def test_a_recording_that_is_not_one_is_named():
    with pytest.raises(TypeError, match="recording must be"):
        ClusterModel(n_firms=50, rng=0, recording={"every": 12})


def test_an_output_of_another_world_is_named():
    with pytest.raises(ValueError, match="eg_gamma_nowhere"):
        ClusterModel(n_firms=50, rng=0, recording=collect.Recording(outputs=("eg_gamma_nowhere",)))


def test_totals_do_not_depend_on_the_rows_kept(default):
    lean = run(collect.Recording(outputs=("firms",), every=20, burn_in=False, mesa=False))
    s = default.series()
    assert lean.recorder.entries_total == int(s.loc[s["step"] > 0, "entries"].sum())
    assert lean.recorder.exits_total == int(s.loc[s["step"] > 0, "exits"].sum())
    assert np.isfinite(lean.final_outcomes()["entries_total"])


def test_without_totals_no_purpose_pass_runs_and_only_the_totals_are_missing(default,
                                                                          monkeypatch):
    calls = []
    real = metrics.purpose_totals

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(metrics, "purpose_totals", counted)
    kept = ("firms", "entries", "exits", "facility_use_rate")
    lean = run(collect.Recording(outputs=kept, burn_in=False, mesa=False, totals=False))
    assert calls == []
    s = default.series()
    pd.testing.assert_frame_equal(lean.series()[["step", *kept]], s[["step", *kept]],
                                  check_exact=True)
    got, want = lean.final_outcomes(), default.final_outcomes()
    assert calls == [1]  # the last month's full row, for the final outcomes
    assert got.keys() == want.keys()
    assert all(math.isnan(got[k]) for k in outputs.PURPOSE_TOTALS)
    rest = [k for k in want if k not in outputs.PURPOSE_TOTALS]
    assert same_outcomes({k: got[k] for k in rest}, {k: want[k] for k in rest})


def test_facility_counts_count_every_status_once():
    m = ClusterModel(n_firms=60, rng=1, agents=False, burn_in=0)
    fac = m.facilities
    project = facilities.FacilityProject(
        name="p", region=0, sectors=np.array([0]), service=0, effect=0.1, cost=10.0,
        grant_share=0.0, capacity=4.0, operating_cost=1.0, spv_min=2, member_share=1.0,
        drive_months=1)
    statuses = [FacilityState.FAILED, FacilityState.OPERATING, FacilityState.CLOSED,
                FacilityState.DRIVE, FacilityState.OPERATING, FacilityState.BUILDING,
                FacilityState.FAILED, FacilityState.OPERATING]
    for f, status in enumerate(statuses):
        facilities.open_drive(fac, dataclasses.replace(project, sponsor="cfc" if f % 2 else "",
                                                       capacity=2.0 + f), t=0)
        fac.status[f] = status
        fac.users[f] = 10 * f + 1
    row = collect.snapshot(m, {}, frozenset({"facilities"}))
    operating = [f for f, s in enumerate(statuses) if s == FacilityState.OPERATING]
    built = [f for f, s in enumerate(statuses)
             if s in (FacilityState.BUILDING, FacilityState.OPERATING, FacilityState.CLOSED)]
    assert row["facilities_operating"] == 3
    assert row["facilities_built"] == len(built) == 5
    assert row["public_facilities_operating"] == sum(f % 2 for f in operating) == 2
    assert row["public_facilities_built"] == sum(f % 2 for f in built) == 3
    assert row["facility_users"] == sum(10 * f + 1 for f in operating)
    assert row["facility_use_rate"] == pytest.approx(
        sum(10 * f + 1 for f in operating) / sum(2.0 + f for f in operating), rel=1e-15)


def test_simulate_many_is_simulate_run_by_run():
    from sim.studies.simulate import simulate, simulate_many

    lean = collect.Recording(outputs=("firms", "entries"), every=5, burn_in=False, mesa=False)
    over = [None, {"coop_benefit": 0.05}, None]
    runs = list(simulate_many("scenarios/baseline.toml", [0, 1, 2], steps=12, overrides=over,
                              recording=lean, firms=False))
    assert [r.provenance["seed"] for r in runs] == [0, 1, 2]
    for seed, o, got in zip([0, 1, 2], over, runs, strict=True):
        alone = simulate("scenarios/baseline.toml", steps=12, seed=seed, overrides=o,
                         recording=lean, firms=False)
        pd.testing.assert_frame_equal(got.series, alone.series, check_exact=True)
        assert same_outcomes(got.final, alone.final)
        assert got.provenance.get("overrides") == alone.provenance.get("overrides")
        full = simulate("scenarios/baseline.toml", steps=12, seed=seed, overrides=o)
        assert same_outcomes(got.final, full.final)
        assert list(got.series["step"]) == [0, 5, 10, 12]
    with pytest.raises(ValueError, match="2 seeds but 3 sets"):
        simulate_many("scenarios/baseline.toml", [0, 1], overrides=over)
    with pytest.raises(ValueError, match="errors="):
        simulate_many("scenarios/baseline.toml", [0], errors="ignore")


def test_simulate_many_can_go_on_past_a_failed_run():
    from sim.core.errors import InputError
    from sim.studies.simulate import simulate_many

    over = [None, {"coop_benefit": -5.0}, None]
    runs = list(simulate_many("scenarios/baseline.toml", [0, 1, 2], steps=3, overrides=over,
                              firms=False, errors="return"))
    assert isinstance(runs[1], InputError)
    assert [r.provenance["seed"] for r in (runs[0], runs[2])] == [0, 2]
    with pytest.raises(InputError):
        list(simulate_many("scenarios/baseline.toml", [0, 1], steps=3, overrides=over[:2]))
