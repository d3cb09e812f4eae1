"""The report's "why": which mechanism carries a significant effect (the comparison rerun with one
mechanism at a time at its textbook limit) and what the policy displaces.

The statistics are checked on comparisons assembled from given replicate values; one small
comparison runs ``explain`` for real with a single limit, to check it runs on the sweep
runner, resumes, and applies the limit.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.studies import compare as cmp
from sim.studies import why
from sim.studies.compare import Comparison


def assembled(values: dict[str, list[float]], column: str = "employment", **extra) -> Comparison:
    rows = []
    for label, xs in values.items():
        for r, x in enumerate(xs):
            row = {"scenario": label, "replicate": r, "seed": r, column: x}
            row.update({k: v[label][r] for k, v in extra.items()})
            rows.append(row)
    n = len(next(iter(values.values())))
    return Comparison(labels=list(values), scenarios=[], steps=1, seed=0, seeds=list(range(n)),
                      runs=pd.DataFrame(rows), series=pd.DataFrame())


FULL = assembled({"base": [10.0, 12.0, 11.0, 9.0, 10.0], "cfc": [20.0, 23.0, 21.0, 18.0, 20.0]})
#: Under "closed market" the effect is gone; under "no learning" it barely moves.
VARIANTS = {
    "closed market": assembled({"base": [10.0, 12.0, 11.0, 9.0, 10.0],
                                "cfc": [10.5, 11.5, 11.0, 9.5, 10.0]}),
    "no learning": assembled({"base": [10.0, 12.0, 11.0, 9.0, 10.0],
                              "cfc": [21.0, 22.0, 21.5, 18.0, 19.0]}),
}


def test_every_limit_names_the_mechanism_it_switches_off():
    assert set(why.MECHANISMS) == set(why.LIMITS)


def test_the_change_from_the_full_model_is_a_paired_interval():
    mech = why.mechanism_effects(FULL, VARIANTS, [("cfc", "employment")]).set_index("variant")
    assert list(mech.index) == ["full model", "closed market", "no learning"]
    assert mech.loc["full model", "effect"] == pytest.approx(10.0)
    d_full = np.array([10.0, 11.0, 10.0, 9.0, 10.0])
    d_closed = np.array([0.5, -0.5, 0.0, 0.5, 0.0])
    change = d_closed - d_full
    lo, hi = stats.t.interval(0.95, 4, loc=change.mean(), scale=stats.sem(change))
    row = mech.loc["closed market"]
    assert row["change"] == pytest.approx(change.mean())
    assert (row["change_ci_low"], row["change_ci_high"]) == pytest.approx((lo, hi))
    assert row["effect"] == pytest.approx(d_closed.mean())


def test_the_summary_names_the_mechanism_that_carries_the_effect():
    mech = why.mechanism_effects(FULL, VARIANTS, [("cfc", "employment")])
    lines = why.why_lines(FULL, mech, why.displacement(FULL))
    assert len(lines) == 1
    assert "is carried by sales outside the cluster: with closed market the effect is" \
        in lines[0]
    # without the carrying mechanism among the limits, nothing is claimed
    only = why.mechanism_effects(FULL, {"no learning": VARIANTS["no learning"]},
                                 [("cfc", "employment")])
    line = why.why_lines(FULL, only, why.displacement(FULL))[0]
    assert line.startswith("cfc: no single mechanism is shown to carry")
    assert "'no learning'" in line


def test_without_why_the_summary_says_how_to_find_out():
    lines = why.why_lines(FULL, None, why.displacement(FULL), [("cfc", "employment")])
    assert lines == ["Which mechanism carries each significant effect is not computed: "
                     "rerun the same command with --why."]
    assert why.why_lines(FULL, None, why.displacement(FULL), []) == []


def test_with_why_and_nothing_significant_the_summary_says_so():
    nothing = why.mechanism_effects(FULL, VARIANTS, [])
    assert nothing.empty
    lines = why.why_lines(FULL, nothing, why.displacement(FULL))
    assert lines[0].startswith("No policy's effect on jobs or firms in business is significant "
                               f"with {len(FULL.seeds)} replicates")


def test_displacement_counts_private_facilities_not_formed_and_exits():
    built = {"base": [2.0, 2.0, 3.0, 2.0], "cfc": [1.0, 1.0, 1.0, 1.0]}  # 1 public among them
    public = {"base": [0.0] * 4, "cfc": [1.0] * 4}
    exits = {"base": [5.0, 6.0, 5.0, 4.0], "cfc": [7.0, 8.0, 7.0, 6.0]}
    entries = {"base": [3.0] * 4, "cfc": [3.0] * 4}
    users = {"base": [20.0] * 4, "cfc": [30.0] * 4}
    comp = assembled({"base": [1.0] * 4, "cfc": [1.0] * 4}, facilities_built=built,
                     public_facilities_built=public, exits_total=exits, entries_total=entries,
                     facility_users=users)
    disp = why.displacement(comp).set_index("term")
    # private facilities: base 2, 2, 3, 2; with the CFC 0: 2.25 not formed on average
    assert disp.loc["private facilities not formed", "mean"] == pytest.approx(2.25)
    assert disp.loc["firms squeezed out (extra exits)", "mean"] == pytest.approx(2.0)
    assert disp.loc["entry forgone", "mean"] == 0.0
    assert disp.loc["facility users", "mean"] == 10.0
    line = why.why_lines(comp, None, why.displacement(comp))[-1]
    assert "private facilities not formed +2.25" in line
    assert "suppliers' margin" not in line  # not in the runs: no term, nothing guessed


def test_only_significant_effects_of_policies_are_explained():
    summary = cmp.summarise(FULL, ("employment",))
    assert why.pairs_to_explain(FULL, summary) == [("cfc", "employment")]
    assert why.pairs_to_explain(FULL, summary, skip={"cfc"}) == []
    flat = assembled({"base": [10.0, 12.0, 11.0], "cfc": [10.0, 12.5, 10.5]})
    assert why.pairs_to_explain(flat, cmp.summarise(flat, ("employment",))) == []


def test_explain_runs_each_limit_on_the_sweep_runner_and_resumes(tmp_path):
    from test_compare import TRAINING, small

    # a strong programme and six replicates, so that its effect is significant
    strong = TRAINING.replace("productivity_gain = 0.2", "productivity_gain = 0.5").replace(
        "firms_per_month = 2", "firms_per_month = 8")
    base, alt = small(tmp_path, "base"), small(tmp_path, "alt", strong)
    res = cmp.compare([base, alt], reps=6, out=tmp_path / "out", seed=0, workers=1,
                      progress=False)
    comp = res.comparison
    assert why.pairs_to_explain(comp, cmp.summarise(comp))  # something to explain
    limits = {"no learning": {"learning_rate": 0.0}}
    mech = cmp.explain(comp, [base, alt], tmp_path / "out", workers=1, progress=False,
                       limits=limits)
    folder = tmp_path / "out" / "why" / "no_learning"
    meta = json.loads((folder / "experiment.json").read_text())
    assert meta["resolved"]["overrides"] == {"learning_rate": 0.0}
    assert set(mech["variant"]) == {"full model", "no learning"}
    stamp = (folder / "runs.parquet").stat().st_mtime_ns
    again = cmp.explain(comp, [base, alt], tmp_path / "out", workers=1, progress=False,
                        limits=limits)
    pd.testing.assert_frame_equal(mech, again)
    assert (folder / "runs.parquet").stat().st_mtime_ns == stamp  # resumed: nothing rerun


def test_a_chained_policy_is_split_into_its_first_stage_and_what_the_later_stage_adds():
    """trust_then_cfc is trust_only plus a CFC chained after the trust programme: the first
    stage of a chained policy. cfc is not (its CFC starts at month 18, not after trust), nor is
    the base ever a first stage. On hand-built runs the split is exact: trust alone +1 job in
    every replicate over the base, the CFC after it +2 over trust alone."""
    from pathlib import Path

    from sim.io.scenario import load_scenario

    root = Path(__file__).resolve().parents[1] / "scenarios"
    labels = ["baseline", "cfc", "trust_only", "trust_then_cfc"]
    scenarios = [load_scenario(root / f"{name}.toml") for name in labels]
    pairs = why.stage_pairs(labels, scenarios)
    assert pairs == [("trust_then_cfc", "trust_only", ["cfc"])]
    base = [10.0, 12.0, 11.0, 9.0]
    comp = assembled({"baseline": base, "cfc": [x + 5 for x in base],
                      "trust_only": [x + 1 for x in base],
                      "trust_then_cfc": [x + 3 for x in base]})
    comp.scenarios = scenarios
    stages = why.stage_effects(comp)
    got = stages.set_index("contrast")["mean"]
    assert got["first stage alone"] == pytest.approx(1.0)
    assert got["added after it"] == pytest.approx(2.0)
    assert set(stages["scenario"]) == {"trust_then_cfc"}
    line = why.why_lines(comp, None, pd.DataFrame(columns=["scenario"]), stages=stages)[0]
    assert line.startswith("trust_then_cfc, by stage: trust_only alone")
    assert "what cfc adds after it" in line
    assert "trust_only alone" in why.why_html(None, pd.DataFrame(columns=["scenario", "term",
                                                                          "unit", "mean"]),
                                              ran=False, stages=stages)
