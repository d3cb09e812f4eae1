"""The burn-in: its months are recorded at negative steps and flagged, no intervention acts during
it, and its draws differ from the months after it."""

from __future__ import annotations

import pytest

from sim.model import ClusterModel

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
