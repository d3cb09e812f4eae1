"""Robustness criteria (sim.studies.robust.criteria) on a constructed case whose right answers
are known by hand: wins and ties counted apart, futures where no policy differs reported and not
counted as failures, regret, satisficing, the probability of beating the reference, money, and a
headline that names its criterion and agrees with its table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.studies import robust as rb

N = 20  # futures; p = (f + 0.5) / N


def constructed(reps: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three policies in 20 futures, replicate noise shared by all (common random numbers).

    - none (the reference): 100 jobs, public cost 0;
    - grant: +50 jobs where p > 0.75 (5 futures), the same as none elsewhere; cost 90;
    - loan: +20 where p <= 0.6 (12 futures), the same as none where 0.6 < p <= 0.75 (3),
      -10 where p > 0.75 (5); cost 30.

    So: maximum regret none 50, grant 20, loan 60 (minimax regret: grant); beats none: grant
    25%, loan 60% (probability of beating: loan); no clear loss: grant 100%, loan 75%
    (satisficing: grant); best alone: grant 25%, loan 60%, three-way ties 15%; in 3 futures no
    policy differs from none.
    """
    futures = pd.DataFrame({"p": (np.arange(N) + 0.5) / N,
                            "q": np.random.default_rng(5).uniform(0, 1, N)})
    rows = []
    for f, x in futures.iterrows():
        p = x["p"]
        grant = 50.0 if p > 0.75 else 0.0
        loan = 20.0 if p <= 0.6 else (0.0 if p <= 0.75 else -10.0)
        for r in range(reps):
            noise = 3.0 * r  # the same for every policy: a common random number
            for lab, gain, cost in (("none", 0.0, 0.0), ("grant", grant, 90.0),
                                    ("loan", loan, 30.0)):
                rows.append({"future": f, "replicate": r, "scenario": lab,
                             "employment": 100.0 + noise + gain,
                             "public_spending_total": cost})
    return pd.DataFrame(rows), futures


LABELS = ["none", "grant", "loan"]
RANGES = [("p", 0.0, 1.0), ("q", 0.0, 1.0)]


@pytest.fixture(scope="module")
def by_regret():
    runs, futures = constructed()
    return rb.analyse(runs, futures, LABELS, "employment", RANGES)


def test_the_constructed_table_is_right(by_regret):
    t = by_regret["table"].set_index("policy")
    assert t["max_regret"].to_dict() == {"none": 50.0, "grant": 20.0, "loan": 60.0}
    assert t.loc["grant", "mean_regret"] == pytest.approx(12 * 20 / N)
    assert t.loc["grant", "beats"] == pytest.approx(0.25)
    assert t.loc["loan", "beats"] == pytest.approx(0.60)
    assert t.loc["grant", "no_difference"] == pytest.approx(0.75)
    assert t.loc["loan", "worse"] == pytest.approx(0.25)
    assert t.loc["grant", "satisficing"] == 1.0
    assert t.loc["loan", "satisficing"] == pytest.approx(0.75)
    # money: mean extra cost over mean extra jobs
    assert t.loc["grant", "extra_cost"] == 90.0
    assert t.loc["grant", "cost_per_unit"] == pytest.approx(90.0 / (50 * 5 / N))
    assert t.loc["loan", "cost_per_unit"] == pytest.approx(30.0 / ((20 * 12 - 10 * 5) / N))
    assert np.isnan(t.loc["none", "cost_per_unit"])
    # ranked by minimax regret
    assert by_regret["table"]["policy"].tolist() == ["grant", "none", "loan"]


def test_wins_and_ties_add_to_one_hundred_percent(by_regret):
    t = by_regret["table"].set_index("policy")
    assert t["best_alone"].to_dict() == pytest.approx({"none": 0.0, "grant": 0.25,
                                                       "loan": 0.60})
    assert by_regret["tied_futures"] == 3
    assert t["best_tied"].to_dict() == pytest.approx({"none": 0.15, "grant": 0.15,
                                                      "loan": 0.15})
    assert t["best_alone"].sum() + by_regret["tied_futures"] / N == pytest.approx(1.0)
    # every policy's beats, no difference and worse add to 100% too
    for lab in ("grant", "loan"):
        assert t.loc[lab, ["beats", "no_difference", "worse"]].sum() == pytest.approx(1.0)


def test_futures_where_no_policy_differs_are_ties_not_failures(by_regret):
    middle = (np.arange(N) + 0.5) / N
    middle = (middle > 0.6) & (middle <= 0.75)
    assert by_regret["no_difference"].to_numpy().tolist() == middle.tolist()
    assert (by_regret["best"][middle] == "tie").all()
    assert not by_regret["fails"].any()  # grant never does worse than none
    text = " ".join(by_regret["headline"])
    assert "In 3 of the 20 futures no policy clearly differs from none" in text


def test_the_headline_names_its_criterion_and_agrees_with_the_table(by_regret):
    first, record, *rest = by_regret["headline"]
    assert first.startswith("By minimax regret on employment")
    assert "grant is the most robust policy" in first
    # the policy chosen by regret beats the reference in only a quarter of the futures,
    # and the headline says so
    assert "it beats none in only 25% of the 20 futures" in record
    assert "does not clearly differ from it in 75% and does worse in 0%" in record
    assert "maximum regret 20" in record
    assert "its effect is +12.5 (95% interval +2." in record
    assert "extra public cost 90 on average, 7.2 per extra job" in record
    assert any("by probability of beating the reference, loan ranks first" in s for s in rest)


@pytest.mark.parametrize(("criterion", "first"), [
    ("regret", "grant"), ("satisficing", "grant"), ("beat", "loan")])
def test_each_criterion_picks_the_known_policy(criterion, first):
    runs, futures = constructed()
    res = rb.analyse(runs, futures, LABELS, "employment", RANGES, criterion=criterion)
    assert rb.leaders(res, criterion) == [first]
    assert f"{first} is the most robust policy" in res["headline"][0]
    assert rb.CRITERIA[criterion] in res["headline"][0]
    candidates = res["table"][res["table"]["policy"] != "none"]
    assert candidates.iloc[0]["policy"] == first  # the table is ranked by the same criterion


def test_a_reference_with_least_regret_is_not_called_a_policy_success():
    runs, futures = constructed()
    runs = runs[runs["scenario"] != "grant"]
    res = rb.analyse(runs, futures, ["none", "loan"], "employment", RANGES)
    # none's maximum regret is 20 (where loan gains), loan's 10 (where it loses)
    assert rb.leaders(res, "regret") == ["loan"]
    runs.loc[runs["scenario"] == "loan", "employment"] -= 25.0  # now loan loses everywhere
    res = rb.analyse(runs, futures, ["none", "loan"], "employment", RANGES)
    assert res["headline"][0].startswith("By minimax regret on employment, no policy is more "
                                         "robust than the reference, none")
    assert res["headline"][1].startswith("none: maximum regret 0")
    assert res["headline"][2].startswith("loan: maximum regret 35")
    assert "it beats none in none of the 20 futures" in res["headline"][2]
    assert "for no significant gain on average" in res["headline"][2]
    assert np.isnan(res["table"].set_index("policy").loc["loan", "cost_per_unit"])
    # one other policy only: the criteria relative to the reference have nothing to rank
    assert not any(s.startswith("By the other criteria") for s in res["headline"])
    res = rb.analyse(runs, futures, ["none", "loan"], "employment", RANGES, criterion="beat")
    assert rb.leaders(res, "beat") == []
    assert res["headline"][0] == ("By probability of beating the reference on employment, no "
                                  "policy is robust: none beats none in any of the 20 futures.")
    assert res["headline"][1].startswith("loan: maximum regret 35")


def test_an_outcome_level_and_a_budget_make_the_satisficing_threshold():
    runs, futures = constructed()
    res = rb.analyse(runs, futures, LABELS, "employment", RANGES, satisfice=120.0,
                     criterion="satisficing")
    t = res["table"].set_index("policy")
    # mean over the two replicates is 101.5 + gain
    assert t.loc["grant", "satisficing"] == pytest.approx(5 / N)
    assert t.loc["loan", "satisficing"] == pytest.approx(12 / N)
    assert t.loc["none", "satisficing"] == 0.0
    res = rb.analyse(runs, futures, LABELS, "employment", RANGES, satisfice=120.0,
                     budget=50.0, criterion="satisficing")
    t = res["table"].set_index("policy")
    assert t.loc["grant", "satisficing"] == 0.0  # over budget everywhere
    assert rb.leaders(res, "satisficing") == ["loan"]


# -- when two policies differ in a future ---------------------------------------------------------
def test_a_difference_counts_only_beyond_the_tolerance_and_outside_its_interval():
    base = pd.DataFrame([[10.0, 11.0, 12.0]] * 4)
    alt = base + pd.DataFrame([[2.0, 2.0, 2.0],     # clear: no spread, mean 2
                               [5.0, -3.0, 1.0],    # mean 1, interval includes 0
                               [0.0, 0.0, 0.0],     # identical
                               [-4.0, -5.0, -6.0]])  # clearly worse
    v = rb.verdicts(alt, base, +1)
    assert v["verdict"].tolist() == [1, 0, 0, -1]
    assert v["mean"].tolist() == pytest.approx([2.0, 1.0, 0.0, -5.0])
    assert rb.verdicts(alt, base, +1, tolerance=2.0)["verdict"].tolist() == [0, 0, 0, -1]
    assert rb.verdicts(alt, base, -1)["verdict"].tolist() == [-1, 0, 0, 1]  # less is better
    # one replicate: only the tolerance decides
    assert rb.verdicts(alt[[1]], base[[1]], +1)["verdict"].tolist() == [1, -1, 0, -1]


def test_regret_by_hand():
    v = pd.DataFrame({"none": [10.0, 10.0], "a": [12.0, 8.0], "b": [11.0, 11.0]})
    up = rb.regret_table(v, +1)
    assert up.to_dict("list") == {"none": [2.0, 1.0], "a": [0.0, 3.0], "b": [1.0, 0.0]}
    down = rb.regret_table(v, -1)  # less is better
    assert down.to_dict("list") == {"none": [0.0, 2.0], "a": [2.0, 0.0], "b": [1.0, 3.0]}


def test_a_shortfall_that_chance_explains_is_no_regret_and_the_headline_says_tie():
    # b differs from a by +6 or -4 jobs in alternate replicates: a mean lead of 1 whose
    # paired interval includes zero, in every future
    rows = [{"future": f, "replicate": r, "scenario": lab, "employment": 100.0 + bump,
             "public_spending_total": 0.0}
            for f in range(6) for r in range(4)
            for lab, bump in (("a", 0.0), ("b", 6.0 if r % 2 else -4.0))]
    futures = pd.DataFrame({"p": np.linspace(0.05, 0.95, 6), "q": np.linspace(0.9, 0.1, 6)})
    res = rb.analyse(pd.DataFrame(rows), futures, ["a", "b"], "employment", RANGES)
    t = res["table"].set_index("policy")
    assert t["max_regret"].tolist() == [0.0, 0.0]
    assert (res["best"] == "tie").all()
    assert res["headline"][0] == ("By minimax regret on employment, no policy is most robust: "
                                  "a, b tie for the least maximum regret.")
    # with one replicate only the tolerance (0) decides: b's lead of 6 is clear, a's regret 6
    res = rb.analyse(pd.DataFrame(rows).query("replicate == 1"), futures, ["a", "b"],
                     "employment", RANGES)
    assert res["table"].set_index("policy")["max_regret"].to_dict() == {"a": 6.0, "b": 0.0}


def test_scenario_discovery_finds_the_known_conditions():
    runs, futures = constructed()
    res = rb.analyse(runs, futures, LABELS, "employment", RANGES)
    assert res["policy"] == "grant"
    assert res["discoveries"]["fails"].status == "none"  # grant is never clearly worse
    gains = res["discoveries"]["gains"]  # where p > 0.75
    assert gains.status == "box"
    (p,) = gains.limits
    assert p["parameter"] == "p"
    assert p["low"] == pytest.approx(0.75, abs=0.03)
    assert p["high"] is None
    assert p["restricts"] == pytest.approx(0.75, abs=0.03)
    assert gains.stat("coverage") == 1.0
    assert gains.stat("density") == 1.0
    res = rb.analyse(runs, futures, LABELS, "employment", RANGES, criterion="beat")
    assert res["policy"] == "loan"
    (fails,) = res["discoveries"]["fails"].limits  # loan loses where p > 0.75
    assert (fails["parameter"], fails["high"]) == ("p", None)
    assert fails["low"] == pytest.approx(0.75, abs=0.03)
    (gains,) = res["discoveries"]["gains"].limits  # and gains where p <= 0.6
    assert (gains["parameter"], gains["low"]) == ("p", None)
    assert gains["high"] == pytest.approx(0.6, abs=0.03)
