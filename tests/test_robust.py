"""Robust decisions (sim.studies.robust): PRIM recovers a known box, regret and shares on
constructed data, Latin hypercube futures over ranges from the parameter table, and a tiny study of
the shipped Hebron scenarios end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.core.errors import InputError
from sim.studies import robust as rb

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


# -- PRIM ----------------------------------------------------------------------------------------
def known_box(n=1000, seed=7):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.uniform(0.0, 1.0, size=(n, 3)), columns=["a", "b", "c"])
    y = (x["a"] > 0.6) & (x["b"] < 0.4)
    return x, y.to_numpy()


def test_prim_recovers_a_known_box():
    x, y = known_box()
    traj = rb.prim(x, y, alpha=0.05)
    i = rb.choose_box(traj, min_coverage=0.8)
    box = traj.loc[i]
    assert box["density"] >= 0.9
    assert box["coverage"] >= 0.8
    assert box["a_low"] == pytest.approx(0.6, abs=0.05)
    assert box["b_high"] == pytest.approx(0.4, abs=0.05)
    limits = {b["parameter"] for b in rb.box_limits(traj, i, [("a", 0, 1), ("b", 0, 1),
                                                              ("c", 0, 1)])}
    assert {"a", "b"} <= limits
    # c does not matter: at most a sliver of it is peeled
    assert box["c_high"] - box["c_low"] >= 0.85


def test_prim_trajectory_trades_coverage_for_density():
    x, y = known_box(500, seed=3)
    traj = rb.prim(x, y, alpha=0.1)
    assert traj.loc[0, "coverage"] == 1.0
    assert traj.loc[0, "mass"] == 1.0
    assert traj.loc[0, "density"] == pytest.approx(y.mean())
    assert (np.diff(traj["density"]) > 0).all()  # each peel raises the density
    assert (np.diff(traj["mass"]) < 0).all()
    assert (np.diff(traj["coverage"]) <= 0).all()
    assert traj["mass"].iloc[-1] >= 0.05 - 1e-12


# -- regret and the analysis ---------------------------------------------------------------------
def test_regret_by_hand():
    v = pd.DataFrame({"none": [10.0, 10.0], "a": [12.0, 8.0], "b": [11.0, 11.0]})
    up = rb.regret_table(v, +1)
    assert up.to_dict("list") == {"none": [2.0, 1.0], "a": [0.0, 3.0], "b": [1.0, 0.0]}
    down = rb.regret_table(v, -1)  # less is better
    assert down.to_dict("list") == {"none": [0.0, 2.0], "a": [2.0, 0.0], "b": [1.0, 3.0]}


def test_analyse_finds_where_the_robust_policy_fails():
    rng = np.random.default_rng(11)
    futures = pd.DataFrame({"p": rng.uniform(0, 1, 200), "q": rng.uniform(0, 1, 200)})
    rows = []
    for f, r in futures.iterrows():
        rows.append({"future": f, "scenario": "none", "employment": 100.0})
        # policy a gains 10 jobs except where p < 0.3, where it loses 5
        rows.append({"future": f, "scenario": "a",
                     "employment": 95.0 if r["p"] < 0.3 else 110.0})
        rows.append({"future": f, "scenario": "b", "employment": 90.0})  # always worse
    runs = pd.DataFrame(rows)
    res = rb.analyse(runs, futures, ["none", "a", "b"], "employment",
                     [("p", 0.0, 1.0), ("q", 0.0, 1.0)])
    t = res["table"].set_index("policy")
    assert res["policy"] == "a"
    assert t.loc["a", "max_regret"] == 5.0
    assert t.loc["b", "max_regret"] == 20.0
    assert t.loc["a", "share_beats_reference"] == pytest.approx((futures["p"] >= 0.3).mean())
    assert t.loc["b", "share_beats_reference"] == 0.0
    assert res["fails"].sum() == (futures["p"] < 0.3).sum()
    (limit,) = [b for b in res["box"] if b["parameter"] == "p"]
    assert limit["high"] == pytest.approx(0.3, abs=0.05)
    assert all(b["parameter"] != "q" or b["high"] - b["low"] > 0.8 for b in res["box"])


# -- futures -------------------------------------------------------------------------------------
def test_uncertain_ranges_from_the_parameter_table():
    from sim.core.params import Params

    p = Params()
    ranges = dict((n, (lo, hi)) for n, lo, hi in rb.uncertain_ranges(["coop_benefit"]))
    d = p.cooperation.coop_benefit
    assert ranges["coop_benefit"] == pytest.approx((0.5 * d, 1.5 * d))
    # clipped to the allowed range [0, 1]
    (name, lo, hi), = rb.uncertain_ranges(["willingness_mean"])
    assert hi == 1.0
    assert lo == pytest.approx(0.5 * p.cooperation.willingness_mean)
    assert rb.uncertain_ranges(["initial_trust=0.2:0.6"]) == [("initial_trust", 0.2, 0.6)]
    assert [r[0] for r in rb.uncertain_ranges()] == list(rb.DEFAULT_UNCERTAIN)
    with pytest.raises(InputError, match="did you mean 'coop_benefit'"):
        rb.uncertain_ranges(["coop_benfit"])
    with pytest.raises(InputError, match=r"within the table's range \[0, 1\]"):
        rb.uncertain_ranges(["initial_trust=0.5:1.5"])
    with pytest.raises(InputError, match="NAME=LOW:HIGH"):
        rb.uncertain_ranges(["initial_trust=a:b"])


def test_futures_are_a_latin_hypercube():
    ranges = [("a", 0.0, 1.0), ("b", 10.0, 20.0)]
    f = rb.sample_futures(ranges, 8, seed=3)
    assert f.equals(rb.sample_futures(ranges, 8, seed=3))
    assert not f.equals(rb.sample_futures(ranges, 8, seed=4))
    for name, lo, hi in ranges:  # each of the 8 strata of each range is used once
        strata = np.floor((f[name] - lo) / (hi - lo) * 8).astype(int)
        assert sorted(strata) == list(range(8))


# -- a tiny study on the shipped Hebron scenarios --------------------------------------------------
def test_robust_on_the_hebron_scenarios(tmp_path, capsys):
    out = tmp_path / "rob"
    files = [SCENARIOS / "hebron_stone_no_cfc.toml", SCENARIOS / "hebron_stone.toml",
             SCENARIOS / "hebron_stone_grant90.toml"]
    code = main(["robust", *map(str, files), "--out", str(out), "--futures", "3", "--reps",
                 "1", "--steps", "3", "--workers", "1", "--no-progress",
                 "--uncertain", "initial_trust", "--uncertain", "coop_benefit=0.01:0.03"])
    text = capsys.readouterr().out
    assert code == 0, text
    for name in ("robust.csv", "regret.csv", "futures.csv", "prim_box.json", "robust.json",
                 "robust.html", "runs.parquet", "design.parquet"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "robust.csv")
    assert set(table["policy"]) == {"hebron_stone_no_cfc", "hebron_stone",
                                    "hebron_stone_grant90"}
    regret = pd.read_csv(out / "regret.csv", index_col="future")
    assert len(regret) == 3
    assert (regret.to_numpy() >= 0).all()
    assert (regret.min(axis=1) == 0).all()  # the best policy of each future has no regret
    box = json.loads((out / "prim_box.json").read_text())
    assert box["reference"] == "hebron_stone_no_cfc"
    assert box["policy"] in {"hebron_stone", "hebron_stone_grant90"}
    futures = pd.read_csv(out / "futures.csv")
    assert futures["coop_benefit"].between(0.01, 0.03).all()
    page = (out / "robust.html").read_text()
    assert "<script" not in page
    assert "minimax regret" in page
    # queryable, and every policy ran in every future with the same seeds
    from sim.studies.sweep.results import query

    got = query(out, "select future, count(*) as n, count(distinct seed) as seeds from runs "
                "group by future order by future")
    assert got["n"].tolist() == [3, 3, 3]
    assert got["seeds"].tolist() == [1, 1, 1]


@pytest.mark.parametrize(("args", "fragment"), [
    (["--futures", "1"], "--futures: got 1; allowed: an integer from 2 to 10,000"),
    (["--futures", "1000000000"], "--futures: got 1000000000; allowed: an integer from 2"),
    (["--seed", "-1"], "--seed: got -1; allowed: an integer from 0"),
    (["--set", "coop_benefit=0.03"], "--set: coop_benefit: also varied as an uncertain"),
    (["--uncertain", "trust_gian"], "did you mean 'trust_gain'"),
    (["--target", "jobz"], "--target: got 'jobz'"),
    (["--peel-alpha", "0.7"], "--peel-alpha: got 0.7"),
])
def test_robust_bad_input_exit_2(tmp_path, capsys, args, fragment):
    out = tmp_path / "rob"
    code = main(["robust", str(SCENARIOS / "hebron_stone_no_cfc.toml"),
                 str(SCENARIOS / "hebron_stone.toml"), "--out", str(out), "--no-progress",
                 *args])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
