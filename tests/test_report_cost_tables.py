"""The cost tables an official reads: every funded policy, what a dearer grant buys over a
cheaper one, shocks kept apart, effects and costs at a chosen month or discounted.

Comparisons are assembled from given replicate values (no model runs), with the shipped
Hebron scenarios loaded for what tells them apart: 70% and 90% grants differ only in funding,
tighter closures are a shock to the 70% scenario.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.core.errors import InputError
from sim.io.scenario import load_scenario
from sim.measure.outputs import PurposeOutcome
from sim.studies import contrasts, costeff
from sim.studies.compare import (
    Comparison,
    analyse,
    incremental_costs,
    public_costs,
    shock_effects,
)
from sim.studies.paired import discount_factors, measured

ROOT = Path(__file__).resolve().parents[1]
HEBRON = ("hebron_stone_no_cfc", "hebron_stone", "hebron_stone_grant90",
          "hebron_stone_restrictions")


def hebron():
    return [load_scenario(ROOT / "scenarios" / f"{n}.toml") for n in HEBRON]


def assembled(labels, scenarios, spend, jobs, steps=12) -> Comparison:
    """A comparison whose every scenario spends ``spend[label][r]`` in month 1 and keeps
    ``jobs[label][r]`` jobs (and as many firms) in every month 1..steps."""
    runs, series = [], []
    for label in labels:
        for r, (c, e) in enumerate(zip(spend[label], jobs[label], strict=True)):
            runs.append({"scenario": label, "replicate": r, "seed": r,
                         "public_spending_total": c, "employment": e, "firms": e})
            for t in range(steps + 1):
                series.append({"scenario": label, "replicate": r, "step": t,
                               "public_spending_total": c if t >= 1 else 0.0,
                               "employment": e if t >= 1 else 0.0,
                               "firms": e if t >= 1 else 0.0})
    return Comparison(labels=list(labels), scenarios=list(scenarios), steps=steps, seed=0,
                      seeds=list(range(len(spend[labels[0]]))), runs=pd.DataFrame(runs),
                      series=pd.DataFrame(series))


def test_scenarios_that_differ_only_in_funding_or_by_a_shock():
    none, g70, g90, closures = hebron()
    assert contrasts.funding_only(g90, g70) == [("slurry_cfc", "grant_share", 0.9, 0.7)]
    assert contrasts.funding_only(g70, none) == []  # the CFC itself is more than funding
    assert contrasts.shock_only(closures, g70) == ["checkpoints"]
    assert contrasts.shock_only(closures, none) == []  # a CFC and a shock
    assert contrasts.shock_only(g70, g70) == []  # no difference at all
    labels = ["none", "70%", "90%", "closures"]
    assert contrasts.shocks_of(labels, [none, g70, g90, closures]) == {
        "closures": ("70%", ["checkpoints"])}
    assert contrasts.funding_pairs(labels, [none, g70, g90, closures]) == [
        ("90%", "70%", [("slurry_cfc", "grant_share", 0.9, 0.7)])]


def hebron_like():
    labels = ["none", "70%", "90%", "closures"]
    spend = {"none": [0.0] * 4, "70%": [100.0, 110.0, 90.0, 100.0],
             "90%": [150.0, 160.0, 140.0, 150.0], "closures": [100.0, 110.0, 90.0, 100.0]}
    jobs = {"none": [50.0, 60.0, 40.0, 50.0], "70%": [60.0, 71.0, 49.0, 60.0],
            "90%": [60.5, 70.0, 50.0, 59.5], "closures": [40.0, 52.0, 31.0, 41.0]}
    return assembled(labels, hebron(), spend, jobs)


def test_every_funded_policy_has_a_cost_row_and_the_shock_none():
    costs = public_costs(hebron_like())
    assert sorted(set(costs["scenario"])) == ["70%", "90%"]  # closures is a shock
    assert set(costs["outcome"]) == {"employment", "firms"}
    row = costs[(costs["scenario"] == "70%") & (costs["outcome"] == "employment")].iloc[0]
    assert row["status"] == costeff.COST_PER_UNIT
    assert row["ratio"] == pytest.approx(100.0 / 10.0)


def test_the_shock_is_reported_against_the_scenario_it_changes():
    shocks = shock_effects(hebron_like()).set_index("outcome")
    assert set(shocks["against"]) == {"70%"}
    assert shocks.loc["employment", "mean"] == pytest.approx(-19.0)  # 40-60, 52-71, ...
    assert shocks.loc["public_spending_total", "mean"] == 0.0


def test_what_the_dearer_grant_buys_over_the_cheaper():
    inc = incremental_costs(hebron_like()).set_index("outcome")
    row = inc.loc["employment"]
    assert (row["scenario"], row["against"]) == ("90%", "70%")
    assert row["change"] == "slurry_cfc.grant_share 0.7 \u2192 0.9"
    assert row["d_public"] == pytest.approx(50.0)
    d = np.array([0.5, -1.0, 1.0, -0.5])  # 90% minus 70%, replicate by replicate
    assert row["gain"] == pytest.approx(d.mean())
    assert row["status"] == costeff.NO_GAIN  # 50 more buys no significant job


def test_effects_and_costs_at_a_chosen_month():
    comp = hebron_like()
    comp.series.loc[(comp.series["scenario"] == "70%") & (comp.series["step"] > 6),
                    "employment"] -= 10.0  # the gain is gone after month 6
    at6 = measured(comp, "employment", horizon=6)
    assert (at6["70%"] - at6["none"]).tolist() == [10.0, 11.0, 9.0, 10.0]
    at11 = measured(comp, "employment", horizon=11)
    assert (at11["70%"] - at11["none"]).tolist() == [0.0, 1.0, -1.0, 0.0]
    early = public_costs(comp, horizon=6)
    assert early.iloc[0]["measure"] == "at month 6"
    assert early.iloc[0]["status"] == costeff.COST_PER_UNIT
    # an outcome recorded only at the end cannot be measured in month 6
    comp.runs["survival"] = 1.0
    assert measured(comp, "survival", horizon=6) is None
    assert measured(comp, "survival") is not None


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.35])
def test_discounted_sums_of_the_monthly_streams(rate):
    comp = hebron_like()
    costs = public_costs(comp, discount=rate).set_index(["scenario", "outcome"])
    row = costs.loc[("70%", "employment")]
    months = np.arange(1, 13)
    f = discount_factors(months, rate)
    assert f == pytest.approx((1 + rate) ** (-months / 12))
    cost = np.array([100.0, 110.0, 90.0, 100.0]) * f[0]  # all spent in month 1
    years = np.array([10.0, 11.0, 9.0, 10.0]) * f.sum() / 12  # jobs in every month
    assert row["unit"] == "job-year"
    assert costs.loc[("70%", "firms"), "unit"] == "firm-year in business"
    assert costs.loc[("70%", "firms"), "measure"].startswith(
        "as discounted sums over months 1 to 12 at ")
    assert row["d_public"] == pytest.approx(cost.mean())
    assert row["gain"] == pytest.approx(years.mean())
    assert row["ratio"] == pytest.approx(cost.mean() / years.mean())
    lo, hi = costeff.fieller_interval(cost, years)
    assert (row["ratio_ci_low"], row["ratio_ci_high"]) == pytest.approx((lo, hi))
    if rate == 0.0:  # undiscounted: a job kept 12 months is one job-year
        assert row["gain"] == pytest.approx(10.0)


def test_horizon_and_discount_are_checked():
    comp = hebron_like()
    for horizon in (0, 13, 2.5):
        with pytest.raises(InputError, match="--horizon"):
            analyse(comp, horizon=horizon)
    for rate in (-0.01, 1.5):
        with pytest.raises(InputError, match="--discount"):
            analyse(comp, discount=rate)


def test_purpose_outcomes_get_a_cost_per_unit_when_the_model_declares_them(monkeypatch):
    from sim.measure import outputs

    comp = hebron_like()
    comp.runs["slurry_treated"] = comp.runs["employment"] / 10.0
    monkeypatch.setattr(outputs, "purpose_outcomes",
                        lambda sc: [PurposeOutcome("slurry_treated", "tonne treated")])
    costs = public_costs(comp)
    row = costs[(costs["scenario"] == "70%") & (costs["outcome"] == "slurry_treated")].iloc[0]
    assert row["unit"] == "tonne treated"
    assert row["ratio"] == pytest.approx(100.0)  # 100 for 1 tonne more
    # a unit of 4 tonnes per model unit: four times the gain, a quarter of the cost per tonne
    monkeypatch.setattr(outputs, "purpose_outcomes",
                        lambda sc: [PurposeOutcome("slurry_treated", "tonne treated", 4.0)])
    costs = public_costs(comp)
    row = costs[(costs["scenario"] == "70%") & (costs["outcome"] == "slurry_treated")].iloc[0]
    assert row["ratio"] == pytest.approx(25.0)
    monkeypatch.setattr(outputs, "purpose_outcomes", lambda sc: [])  # nothing declared
    assert set(public_costs(comp)["outcome"]) == {"employment", "firms"}


def test_every_headline_outcome_is_drawn_over_time(monkeypatch):
    from sim.measure import outputs
    from sim.studies.compare import headline_outcomes
    from sim.studies.paired import effects_over_time

    comp = hebron_like()
    comp.series["slurry_treated"] = comp.series["employment"] / 10.0
    comp.target = "firms"
    monkeypatch.setattr(outputs, "purpose_outcomes",
                        lambda sc: [PurposeOutcome("slurry_treated", "tonne treated")])
    names = headline_outcomes(comp)
    assert {"employment", "firms", "public_spending_total", "slurry_treated"} <= set(names)
    over = effects_over_time(comp, names)
    part = over[(over["scenario"] == "70%") & (over["outcome"] == "slurry_treated")]
    assert list(part["step"]) == list(range(13))
    assert part["mean"].iloc[-1] == pytest.approx(1.0)  # 10 jobs more / 10
