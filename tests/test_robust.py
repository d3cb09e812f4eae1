"""Robust decisions (sim.studies.robust): Latin hypercube futures over documented ranges checked
against the parameter table, and a tiny study of the shipped Hebron scenarios end to end whose
headline agrees with its own table. The criteria are specified in test_robust_criteria.py,
scenario discovery in test_scenario_discovery.py."""

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
    # documented ranges, also when named without one
    assert rb.uncertain_ranges(["localisation_elasticity"]) == [
        ("localisation_elasticity", 0.02, 0.15)]
    with pytest.raises(InputError, match="did you mean 'coop_benefit'"):
        rb.uncertain_ranges(["coop_benfit"])
    with pytest.raises(InputError, match=r"within the table's range \[0, 1\]"):
        rb.uncertain_ranges(["initial_trust=0.5:1.5"])
    with pytest.raises(InputError, match="NAME=LOW:HIGH"):
        rb.uncertain_ranges(["initial_trust=a:b"])


def test_default_uncertainties_cover_supply_congestion_and_localisation():
    from sim.core.params import Params

    p = Params()
    ranges = {n: (lo, hi) for n, lo, hi in rb.uncertain_ranges()}
    for name in ("supplier_capacity", "wage_density_elasticity", "rent_density_elasticity",
                 "localisation_elasticity"):
        assert name in ranges
        group = next(g for g in ("suppliers", "market") if hasattr(getattr(p, g), name))
        default = getattr(getattr(p, group), name)
        lo, hi = ranges[name]
        assert lo <= default <= hi, name  # the calibrated defaults are among the futures
    # published estimates inside: Rosenthal & Strange 2004, Combes, Duranton & Gobillon 2008
    assert ranges["localisation_elasticity"][0] <= 0.02
    assert ranges["localisation_elasticity"][1] >= 0.08
    assert ranges["wage_density_elasticity"][0] <= 0.02


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
    assert box["criterion"] == "regret"
    assert {box["fails"]["status"], box["gains"]["status"]} <= {
        "box", "no clear condition", "none", "all"}
    futures = pd.read_csv(out / "futures.csv")
    assert futures["coop_benefit"].between(0.01, 0.03).all()
    # the headline names its criterion and agrees with the table
    meta = json.loads((out / "robust.json").read_text())
    first, *_ = meta["headline"]
    assert first.startswith("By minimax regret on employment")
    best = table.sort_values(["max_regret", "mean_regret"]).iloc[0]
    assert table["rank"].tolist() == [1, 2, 3]
    assert table.iloc[0]["max_regret"] == best["max_regret"]
    leaders = table[(table["max_regret"] == best["max_regret"])
                    & (table["mean_regret"] == best["mean_regret"])]["policy"].tolist()
    if len(leaders) > 1:
        assert "no policy is most robust" in first
    elif leaders[0] == "hebron_stone_no_cfc":
        assert "no policy is more robust than the reference" in first
    else:
        assert f"{leaders[0]} is the most robust policy" in first
    for _, row in table[table["policy"] != "hebron_stone_no_cfc"].iterrows():
        assert row[["beats", "no_difference", "worse"]].sum() == pytest.approx(1.0)
        if row["policy"] in leaders:
            share = ("none" if row["beats"] == 0 else
                     ("only " if row["beats"] < 0.5 else "") + f"{row['beats']:.0%}")
            assert f"beats hebron_stone_no_cfc in {share} of the 3 futures" in \
                " ".join(meta["headline"])
    assert table["best_alone"].sum() <= 1.0
    assert first in text  # printed as well
    page = (out / "robust.html").read_text()
    assert "<script" not in page
    assert "minimax regret" in page
    assert "Best in each future: wins and ties" in page
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
    (["--tolerance", "-1"], "--tolerance: got -1.0"),
    (["--min-coverage", "0"], "--min-coverage: got 0.0"),
    (["--satisfice", "nan"], "--satisfice: got nan"),
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
