"""Replicated comparisons as experiments on the sweep runner: confidence intervals against scipy,
paired differences with common random numbers (exactly 0 for identical scenarios), costs,
ranking, resuming after kill -9, Dask, querying with `clustersim results`, --reps auto, the
report and the command. Nothing here depends on the model's numbers: runs are compared with
direct runs of the same seed, with each other, or with constructed data."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.cli import main
from sim.core.errors import InputError
from sim.studies import compare as cmp
from sim.studies import costeff
from sim.studies.compare import Comparison, load_comparison, public_costs, ranking, summarise
from sim.studies.paired import effect_over_time, paired_difference, t_interval
from sim.studies.report import effect_class
from sim.studies.sweep.experiment import run_seed
from sim.studies.sweep.results import query

SMALL = """
[scenario]
name = "{name}"
description = "a small test cluster"
currency = "thousand USD"
steps = 10

[[regions]]
name = "A"
x = 10.0
y = 10.0

[[regions]]
name = "B"
x = 25.0
y = 20.0

[[sectors]]
name = "metal"
input = "steel"

[[firms]]
region = "A"
sector = "metal"
count = 40

[[firms]]
region = "B"
sector = "metal"
count = 20
"""

TRAINING = """
[[interventions]]
kind = "training"
name = "training"
regions = ["A"]
firms_per_month = 2
cost_per_firm = 2.0
productivity_gain = 0.2
"""


def small(folder: Path, name: str, extra: str = "") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(SMALL.format(name=name)) + textwrap.dedent(extra))
    return path


# -- statistics -----------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 8, 30])
def test_t_interval_matches_scipy(n):
    x = np.random.default_rng(n).normal(3.0, 2.0, n)
    got = t_interval(x)
    lo, hi = stats.t.interval(0.95, n - 1, loc=x.mean(), scale=stats.sem(x))
    assert got["n"] == n
    assert got["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert got["sd"] == pytest.approx(x.std(ddof=1), rel=1e-12)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((lo, hi), rel=1e-12)


def test_t_interval_edge_cases():
    assert t_interval([])["n"] == 0
    assert np.isnan(t_interval([])["mean"])
    one = t_interval([4.0])
    assert one["mean"] == 4.0
    assert np.isnan(one["ci_low"])
    assert np.isnan(one["sd"])
    flat = t_interval([2.5, 2.5, 2.5])
    assert (flat["sd"], flat["ci_low"], flat["ci_high"]) == (0.0, 2.5, 2.5)
    nan = t_interval([1.0, np.nan, 3.0])  # missing values are left out
    assert nan["n"] == 2
    assert nan["mean"] == 2.0


@pytest.mark.parametrize("n", [3, 10])
def test_paired_difference_matches_ttest_rel(n):
    rng = np.random.default_rng(100 + n)
    base = rng.normal(10.0, 3.0, n)
    alt = base + rng.normal(0.5, 1.0, n)
    got = paired_difference(alt, base)
    res = stats.ttest_rel(alt, base)
    d = alt - base
    lo, hi = stats.t.interval(0.95, n - 1, loc=d.mean(), scale=stats.sem(d))
    assert got["mean"] == pytest.approx(d.mean(), rel=1e-12)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((lo, hi), rel=1e-12)
    assert got["p"] == pytest.approx(res.pvalue, rel=1e-9)


def test_paired_difference_of_identical_runs_is_exactly_zero():
    x = np.array([1.0, 5.0, 2.0, np.nan])
    got = paired_difference(x, x.copy())
    assert got["n"] == 3
    assert (got["mean"], got["sd"], got["ci_low"], got["ci_high"], got["p"]) == (0, 0, 0, 0, 1)


def synthetic(values: dict[str, list[float]], jobs: dict[str, list[float]] | None = None,
              firms: dict[str, list[float]] | None = None) -> Comparison:
    """A comparison assembled from given public spending (and jobs, firms) per replicate."""
    rows = []
    for label, pub in values.items():
        for r, v in enumerate(pub):
            rows.append({"scenario": label, "replicate": r, "seed": r, "public_spending_total": v,
                         "employment": (jobs or {}).get(label, [0.0] * len(pub))[r],
                         "firms": (firms or {}).get(label, [0.0] * len(pub))[r]})
    labels = list(values)
    return Comparison(labels=labels, scenarios=[], steps=1, seed=0,
                      seeds=list(range(len(next(iter(values.values()))))),
                      runs=pd.DataFrame(rows), series=pd.DataFrame())


def test_summarise_against_scipy():
    base = [1.0, 2.0, 4.0, 3.0]
    alt = [2.0, 2.5, 6.0, 3.5]
    comp = synthetic({"base": base, "alt": alt})
    s = summarise(comp, ("public_spending_total",)).set_index("scenario")
    assert list(s.index) == ["base", "alt"]
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(alt), scale=stats.sem(alt))
    assert (s.loc["alt", "ci_low"], s.loc["alt", "ci_high"]) == pytest.approx((lo, hi))
    d = np.subtract(alt, base)
    lo, hi = stats.t.interval(0.95, 3, loc=d.mean(), scale=stats.sem(d))
    assert (s.loc["alt", "diff_ci_low"], s.loc["alt", "diff_ci_high"]) == pytest.approx((lo, hi))
    assert s.loc["alt", "diff_p"] == pytest.approx(stats.ttest_rel(alt, base).pvalue)
    assert np.isnan(s.loc["base", "diff_mean"])  # the base is the reference
    assert (s["base"] == "base").all()


def test_public_costs_from_paired_replicates():
    comp = synthetic({"base": [0.0, 0.0, 0.0, 0.0], "alt": [100.0, 120.0, 80.0, 100.0]},
                     jobs={"base": [50.0, 60.0, 40.0, 50.0], "alt": [60.0, 70.0, 52.0, 58.0]},
                     firms={"base": [10.0, 10.0, 10.0, 10.0], "alt": [10.0, 9.0, 11.0, 10.0]})
    costs = public_costs(comp).set_index("outcome")
    assert list(costs.index) == ["employment", "firms"]  # one row per outcome
    row = costs.loc["employment"]
    assert (row["scenario"], row["against"], row["unit"]) == ("alt", "base", "job")
    assert row["d_public"] == 100.0
    assert row["gain"] == 10.0
    assert row["status"] == costeff.COST_PER_UNIT
    assert row["ratio"] == pytest.approx(10.0)
    lo, hi = costeff.fieller_interval([100.0, 120.0, 80.0, 100.0], [10.0, 10.0, 12.0, 8.0])
    assert (row["ratio_ci_low"], row["ratio_ci_high"]) == pytest.approx((lo, hi))
    # no firm gained on average: no cost per firm, and no point estimate
    row = costs.loc["firms"]
    assert row["gain"] == 0.0
    assert row["status"] == costeff.NO_GAIN
    assert np.isnan(row["ratio"])


def test_cost_per_unit_of_any_outcome():
    comp = synthetic({"base": [0.0, 0.0, 0.0], "alt": [30.0, 36.0, 24.0]})
    comp.runs["waste_treated"] = [0.0, 0.0, 0.0, 3.0, 3.0, 3.0]
    costs = public_costs(comp, units=[("waste_treated", "tonne treated")])
    row = costs.iloc[0]
    assert (row["outcome"], row["unit"]) == ("waste_treated", "tonne treated")
    assert row["status"] == costeff.COST_PER_UNIT  # 30 a replicate for 3 tonnes: 10 a tonne
    assert row["ratio"] == pytest.approx(10.0)


def test_ranking_and_its_robustness():
    comp = synthetic({"base": [0.0] * 6, "a": [0.0] * 6, "b": [0.0] * 6},
                     jobs={"base": [10.0, 11.0, 9.0, 10.0, 12.0, 10.0],
                           "a": [20.0, 22.0, 19.0, 21.0, 20.0, 23.0],
                           "b": [10.5, 11.0, 9.5, 10.0, 12.5, 10.0]})
    rank = ranking(comp, "employment")
    assert list(rank["scenario"]) == ["a", "b", "base"]
    assert rank.loc[0, "p_best"] == 1.0  # a is first in every resample
    assert rank.loc[0, "wins_vs_base"] == 1.0
    assert bool(rank.loc[0, "settled"]) is True
    assert bool(rank.loc[1, "settled"]) is False  # b vs base: not significant
    assert rank["p_best"].sum() == pytest.approx(1.0)
    # an outcome where less is better ranks the other way
    comp.runs["exits_total"] = comp.runs["employment"]
    assert list(ranking(comp, "exits_total")["scenario"]) == ["base", "b", "a"]


def test_many_outcomes_are_adjusted_for_multiplicity():
    rng = np.random.default_rng(7)
    comp = synthetic({"base": list(rng.normal(0, 1, 8)), "alt": list(rng.normal(1, 1, 8))},
                     jobs={"base": list(rng.normal(0, 1, 8)), "alt": list(rng.normal(0, 1, 8))},
                     firms={"base": list(rng.normal(0, 1, 8)),
                            "alt": list(rng.normal(2, 1, 8))})
    s = summarise(comp, ("public_spending_total", "employment", "firms"))
    alt = s[s["scenario"] == "alt"]
    expected = stats.false_discovery_control(alt["diff_p"].to_numpy())
    assert alt["diff_q"].to_numpy() == pytest.approx(expected)
    assert (alt["diff_q"] >= alt["diff_p"]).all()
    assert s.loc[s["scenario"] == "base", "diff_q"].isna().all()


def decision_lines(comp, **rule):
    comp.rule = rule
    an = cmp.analyse(comp)
    from sim.studies.report import decision_summary

    return decision_summary(comp, an)["lines"]


def test_the_summary_knows_what_reps_auto_reached():
    jobs = {"base": [10.0, 11.0, 9.0, 10.0], "a": [10.5, 10.0, 9.5, 10.5]}  # a tie
    comp = synthetic({"base": [0.0] * 4, "a": [1.0] * 4}, jobs=jobs)
    plain = " ".join(decision_lines(comp)["robustness"])
    assert "add replicates" in plain
    met = " ".join(decision_lines(comp, target="employment", width=5.0, met=True, reps=4,
                                  cap=40, widest=2.0)["robustness"])
    assert "add replicates" not in met
    assert "reached its target width" in met
    capped = " ".join(decision_lines(comp, target="employment", width=0.1, met=False, reps=4,
                                     cap=4, widest=2.0)["robustness"])
    assert "add replicates" not in capped
    assert "raise --max-reps" in capped


def test_the_summary_states_how_many_outcomes_were_tested():
    comp = synthetic({"base": [0.0] * 4, "a": [1.0] * 4},
                     jobs={"base": [10.0, 11.0, 9.0, 10.0], "a": [20.0, 21.0, 19.0, 22.0]})
    caveats = " ".join(decision_lines(comp)["caveats"])
    assert "paired differences were tested" in caveats
    assert "Benjamini-Hochberg" in caveats
    assert "docs/validation.md" in caveats


def test_the_summary_says_who_gains_and_when_a_policy_changed_nothing():
    rng = np.random.default_rng(3)
    jobs = {"base": [10.0, 11.0, 9.0, 10.0], "a": [20.0, 21.0, 19.0, 22.0],
            "none": [10.0, 11.0, 9.0, 10.0]}
    comp = synthetic({"base": [0.0] * 4, "a": [1.0] * 4, "none": [0.0] * 4}, jobs=jobs)
    for name in ("value_added", "wages"):  # a gains value added and wages, "none" is the base
        base = rng.normal(100.0, 5.0, 4)
        comp.runs[name] = np.concatenate([base, base + [30.0, 31.0, 29.0, 30.5], base])
    effects = decision_lines(comp)["effects"]
    gains = [line for line in effects if line.startswith("a vs base, who gains")]
    assert len(gains) == 1
    assert "Value added +30" in gains[0]
    assert "not significant" not in gains[0]
    assert not any("n.s." in line or line.endswith("..") for line in effects)
    assert [line for line in effects if line.startswith("none")] == [
        "none is identical to base in every replicate: the policy changed nothing (for example "
        "an offer no group took up)."]


def test_colours_follow_the_desirable_direction():
    assert effect_class("employment", 1.0, 3.0) == "good"
    assert effect_class("employment", -3.0, -1.0) == "bad"
    assert effect_class("exits_total", 1.0, 3.0) == "bad"  # more exits is not green
    assert effect_class("exits_total", -3.0, -1.0) == "good"
    assert effect_class("eg_gamma_mean", 1.0, 3.0) == "sig"  # no better direction
    assert effect_class("employment", -1.0, 3.0) == "ns"
    assert effect_class("employment", float("nan"), float("nan")) == "ns"


# -- running ---------------------------------------------------------------------------------------
def run_cmp(tmp_path, paths, out="out", **kw):
    kw.setdefault("reps", 3)
    kw.setdefault("workers", 1)
    kw.setdefault("progress", False)
    return cmp.compare(paths, out=tmp_path / out, **kw)


@pytest.fixture
def pair(tmp_path):
    """A small base and an identical copy under another name."""
    return small(tmp_path, "base"), small(tmp_path, "copy")


def test_identical_scenarios_differ_by_exactly_zero(tmp_path, pair):
    res = run_cmp(tmp_path, pair, seed=11)
    comp = res.comparison
    summary = summarise(comp)
    alt = summary[summary["scenario"] == "copy"]
    assert len(alt) >= 25  # with the breakdowns by sector and town
    assert {"employment_sector_metal", "firms_town_A", "employment_town_B"} <= set(
        alt["outcome"])
    finite = alt[np.isfinite(alt["diff_mean"])]
    assert (finite["diff_mean"] == 0).all()
    assert (finite["diff_ci_low"] == 0).all()
    assert (finite["diff_ci_high"] == 0).all()
    # the runs themselves are identical, replicate by replicate, and so are the series
    runs = comp.runs.drop(columns="scenario")
    a = runs[comp.runs["scenario"] == "base"].reset_index(drop=True)
    b = runs[comp.runs["scenario"] == "copy"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    s = comp.series.drop(columns=["scenario", "run_id", "point"])
    sa = s[comp.series["scenario"] == "base"].reset_index(drop=True)
    sb = s[comp.series["scenario"] == "copy"].reset_index(drop=True)
    pd.testing.assert_frame_equal(sa, sb)
    steps, mean, lo, hi = effect_over_time(comp, "copy", "employment")
    assert (mean == 0).all()
    assert (lo == 0).all()
    assert (hi == 0).all()
    costs = pd.read_csv(tmp_path / "out" / "costs.csv")
    assert (costs["status"] == costeff.NO_GAIN).all()


def test_a_scenario_against_itself_under_another_label(tmp_path, pair):
    res = run_cmp(tmp_path, [pair[0], pair[0]], reps=2, steps=3)
    assert res.comparison.labels == ["base", "base#2"]
    summary = summarise(res.comparison)
    alt = summary[summary["scenario"] == "base#2"]
    assert (alt["diff_mean"].dropna() == 0).all()


def test_common_random_numbers_and_seeds(tmp_path):
    base = small(tmp_path, "base")
    alt = small(tmp_path, "alt", TRAINING)
    comp = run_cmp(tmp_path, [base, alt], seed=5).comparison
    expected = [run_seed(5, "common", 0, r) for r in range(3)]
    assert comp.seeds == expected
    runs = comp.runs.sort_values(["scenario", "replicate"])
    assert list(runs[runs["scenario"] == "alt"]["seed"]) == expected
    assert list(runs[runs["scenario"] == "base"]["seed"]) == expected
    assert set(comp.series["step"]) == set(range(11))
    # one replicate equals a direct run with its seed
    from sim.studies.simulate import simulate

    direct = simulate(alt, seed=expected[1])
    got = runs[(runs["scenario"] == "alt") & (runs["replicate"] == 1)].iloc[0]
    assert got["employment"] == direct.final["employment"]
    assert got["public_spending_total"] == direct.final["public_spending_total"]
    assert got["employment_sector_metal"] == direct.firms["employees"].sum()


def test_local_workers_give_the_sequential_results(tmp_path):
    paths = [small(tmp_path, "base"), small(tmp_path, "alt", TRAINING)]
    one = run_cmp(tmp_path, paths, out="one", reps=2, seed=3).comparison
    two = run_cmp(tmp_path, paths, out="two", reps=2, seed=3, workers=2).comparison
    pd.testing.assert_frame_equal(one.runs, two.runs)
    pd.testing.assert_frame_equal(one.series, two.series)


def test_queryable_with_clustersim_results(tmp_path, pair, capsys):
    run_cmp(tmp_path, pair, reps=2, steps=3)
    got = query(tmp_path / "out", "select scenario, count(*) as n from runs "
                "group by scenario order by scenario")
    assert got.to_dict("list") == {"scenario": ["base", "copy"], "n": [2, 2]}
    assert main(["results", str(tmp_path / "out")]) == 0
    assert "2 points x 2 replicates = 4 runs" in capsys.readouterr().out


def test_bad_arguments(pair, tmp_path):
    with pytest.raises(InputError, match="--reps: got 1; allowed: an integer >= 2"):
        run_cmp(tmp_path, pair, reps=1)
    with pytest.raises(InputError, match="needs a base scenario and at least one"):
        run_cmp(tmp_path, pair[:1], reps=2)
    other = small(tmp_path, "other").read_text().replace("steps = 10", "steps = 5")
    (tmp_path / "other.toml").write_text(other)
    with pytest.raises(InputError, match="horizons differ .*give --steps"):
        run_cmp(tmp_path, [pair[0], tmp_path / "other.toml"], reps=2)
    with pytest.raises(InputError, match="--width"):
        run_cmp(tmp_path, pair, reps="auto")
    with pytest.raises(InputError, match="--target"):
        run_cmp(tmp_path, pair, reps=2, target="jobz")
    assert not (tmp_path / "out").exists()
    # an explicit horizon settles it
    res = run_cmp(tmp_path, [pair[0], tmp_path / "other.toml"], reps=2, steps=3)
    assert res.comparison.steps == 3


def test_not_a_comparison(tmp_path):
    with pytest.raises(InputError, match="not a sweep directory"):
        load_comparison(tmp_path)


# -- resuming --------------------------------------------------------------------------------------
CLI = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())"]


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_store(tmp_path):
    base = small(tmp_path, "base")
    alt = small(tmp_path, "alt", TRAINING)
    args = [str(base), str(alt), "--reps", "6", "--steps", "120", "--seed", "4",
            "--workers", "1", "--no-progress"]
    out = tmp_path / "killed"
    cmd = [*CLI, "compare", *args, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "runs").glob("*.json"))) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    done = len(list((out / "runs").glob("*.json")))
    assert 2 <= done < 12
    assert not (out / "report.html").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{12 - done} runs now, {done} already done" in again.stdout
    whole = tmp_path / "whole"
    assert main(["compare", *args, "--out", str(whole)]) == 0
    drop = ["wall_time"]
    a = pd.read_parquet(out / "runs.parquet").drop(columns=drop)
    b = pd.read_parquet(whole / "runs.parquet").drop(columns=drop)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"),
                                  pd.read_csv(whole / "summary.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(out / "costs.csv"),
                                  pd.read_csv(whole / "costs.csv"))


@pytest.mark.slow
def test_on_a_dask_scheduler(tmp_path, pair):
    from test_sweep_dask import dask_cluster

    seq = run_cmp(tmp_path, pair, out="seq", reps=2, steps=4).comparison
    with dask_cluster(tmp_path) as (address, _):
        res = run_cmp(tmp_path, pair, out="dask", reps=2, steps=4, workers=None,
                      scheduler=address)
    assert res.mode == f"Dask cluster at {address}"
    pd.testing.assert_frame_equal(seq.runs, res.comparison.runs)


# -- --reps auto ---------------------------------------------------------------------------------
def test_reps_auto_stops_at_once_for_identical_scenarios(tmp_path, pair):
    res = run_cmp(tmp_path, pair, reps="auto", width=1.0, steps=3)
    rule = res.comparison.rule
    assert rule["met"] is True
    assert rule["reps"] == cmp.AUTO_START == res.comparison.reps
    assert rule["widest"] == 0.0


def test_reps_auto_adds_replicates_up_to_the_cap(tmp_path):
    paths = [small(tmp_path, "base"), small(tmp_path, "alt", TRAINING)]
    res = run_cmp(tmp_path, paths, reps="auto", width=1e-9, max_reps=7, steps=6,
                  target="output")
    rule = res.comparison.rule
    assert rule["reps"] == 7 == res.comparison.reps
    assert rule["met"] is False
    assert [h["reps"] for h in rule["history"]][0] == cmp.AUTO_START
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert sorted(set(runs["replicate"])) == list(range(7))
    page = (tmp_path / "out" / "report.html").read_text()
    assert "NOT reached" in page
    # the same command again: nothing to run, the same answer
    again = run_cmp(tmp_path, paths, reps="auto", width=1e-9, max_reps=7, steps=6,
                    target="output")
    assert again.ran == 0
    assert again.comparison.rule["reps"] == 7


# -- the results folder ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cmp")
    base = small(folder, "base")
    alt = small(folder, "alt", TRAINING)
    out = folder / "out"
    res = cmp.compare([base, alt], reps=3, out=out, seed=2, workers=1, progress=False)
    return out, res.report, res.comparison


def test_folder_contents(written):
    out, report, comp = written
    assert report == out / "report.html"
    names = {p.name for p in out.iterdir()}
    assert {"summary.csv", "costs.csv", "ranking.csv", "runs.parquet", "series",
            "design.parquet", "experiment.json", "report.html", "comparison.json",
            "figures"} <= names
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    summary = pd.read_csv(out / "summary.csv")
    for col in ("scenario", "outcome", "n", "mean", "sd", "ci_low", "ci_high", "diff_mean",
                "diff_ci_low", "diff_ci_high", "diff_p"):
        assert col in summary
    for outcome in ("firms", "employment", "output", "mean_productivity", "cooperation_rate",
                    "facilities_operating", "eg_gamma_mean", "public_spending_total",
                    "employment_sector_metal", "firms_town_A"):
        assert outcome in set(summary["outcome"])
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 6
    assert {"scenario", "replicate", "seed"} <= set(runs)
    # one sector: its Ellison-Glaeser gamma is undefined (no other sector to compare with), so
    # it has no figure
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(
        f"{n}.png" for n in cmp.FIGURE_OUTCOMES if n != "eg_gamma_mean")
    assert (out / "figures" / "firms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_provenance_keys_in_every_file(written):
    import pyarrow.parquet as pq

    out, _, comp = written
    run = json.loads((out / "comparison.json").read_text())
    assert run["seeds"] == comp.seeds
    assert run["seed"] == 2
    assert run["reps"] == 3
    assert run["base"] == "base"
    assert [s["hash"] for s in run["scenarios"]] == [sc.hash for sc in comp.scenarios]
    files = [out / "design.parquet", out / "runs.parquet",
             *sorted((out / "series").glob("*.parquet"))[:1]]
    for f in files:
        meta = json.loads(pq.read_schema(f).metadata[b"clustersim.provenance"])
        for key in ("version", "git_commit", "scenario_hash", "seed"):
            assert key in meta, (f.name, key)
        assert meta["scenario_hash"] == {sc.name: sc.hash for sc in comp.scenarios}
    for key in ("version", "git_commit", "scenario_hash", "seed"):
        assert key in run


def test_sql_shows_an_undefined_outcome_as_null(written):
    out, _, comp = written
    # no facility forms in these small runs: the time to the first one is undefined
    assert comp.runs["time_to_first_facility"].isna().all()
    raw = query(out, "select count(*) n, count(time_to_first_facility) k from runs_raw")
    assert (raw.loc[0, "n"], raw.loc[0, "k"]) == (6, 6)  # NaN is a value to SQL
    view = query(out, "select count(*) n, count(time_to_first_facility) k from runs")
    assert (view.loc[0, "n"], view.loc[0, "k"]) == (6, 0)  # NULL is not
    # one run with the outcome in a group: avg() is its value, not NaN
    sql = ("select avg(x) a from (select time_to_first_facility x from {} "
           "union all select 7.0)")
    assert query(out, sql.format("runs")).loc[0, "a"] == 7.0
    assert np.isnan(query(out, sql.format("runs_raw")).loc[0, "a"])
    assert query(out, "select count(*) n from series").loc[0, "n"] == \
        query(out, "select count(*) n from series_raw").loc[0, "n"]


def test_report_is_self_contained_and_opens_with_the_decision(written):
    out, _, comp = written
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<script" not in page
    assert "<link" not in page
    assert "@import" not in page
    assert page.count("src='data:image/png;base64,") == len(cmp.FIGURE_OUTCOMES) - 1  # no gamma
    first = page.index("<h2>")
    assert page[first:].startswith("<h2>Decision summary</h2>")
    for words in ("Ranking", "Effect on jobs and firms", "Cost per job and per unit of purpose",
                  "How robust the ranking is", "Caveats"):
        assert f"<b>{words}</b>" in page
    for sc in comp.scenarios:
        assert sc.hash in page  # provenance
    assert "By sector" in page
    assert "By town" in page
    assert "kind = &quot;training&quot;" in page  # the scenario texts, escaped
    assert str(comp.seeds[0]) in page


def test_every_file_the_report_cites_is_in_the_repository(written):
    out, _, _ = written
    page = (out / "report.html").read_text()
    cited = set(re.findall(r"\b((?:docs|scenarios|experiments|sim)/[\w./-]+\.(?:md|toml|py))",
                           page))
    assert "docs/validation.md" in cited
    root = Path(__file__).resolve().parents[1]
    assert [c for c in cited if not (root / c).is_file()] == []


def test_a_report_at_an_earlier_month(written, tmp_path):
    out, _, comp = written
    folder = tmp_path / "early"
    shutil.copytree(out, folder)
    cmp.write_comparison(comp, folder, horizon=5)
    summary = pd.read_csv(folder / "summary.csv")
    # only outcomes with a monthly series can be seen in month 5
    assert set(summary["outcome"]) <= set(comp.series.columns)
    assert "employment" in set(summary["outcome"])
    assert "survival" not in set(summary["outcome"])
    at5 = comp.series[comp.series["step"] == 5]
    mean = at5[at5["scenario"] == "alt"]["employment"].mean()
    row = summary[(summary["scenario"] == "alt") & (summary["outcome"] == "employment")]
    assert row["mean"].iloc[0] == pytest.approx(mean)
    costs = pd.read_csv(folder / "costs.csv")
    assert set(costs["measure"]) == {"at month 5"}
    run = json.loads((folder / "comparison.json").read_text())
    assert (run["horizon"], run["discount"]) == (5, None)
    assert "Order by mean employment (workers) at month 5" in " ".join(
        run["decision"]["lines"]["ranking"])


def test_existing_folder_is_refused_then_forced(written, tmp_path):
    out, _, _ = written
    other = small(tmp_path, "other", TRAINING.replace("2.0", "3.0"))
    with pytest.raises(InputError, match="already holds other results.*--force"):
        cmp.compare([other, other], reps=2, out=out, workers=1, progress=False)
    target = tmp_path / "target"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="already holds other results"):
        cmp.compare([other, other], reps=2, out=target, workers=1, progress=False)
    assert (target / "notes.txt").read_text() == "mine"
    # --force replaces only clustersim's own results, never a folder of the user's
    with pytest.raises(InputError, match="--force refused: it is not a clustersim results"):
        cmp.compare([other, other], reps=2, out=target, workers=1, progress=False, force=True)
    assert (target / "notes.txt").read_text() == "mine"
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    res = cmp.compare([other, other], reps=2, out=copy, workers=1, progress=False,
                      force=True)
    assert res.report.is_file()
    assert res.comparison.labels == ["other", "other#2"]


def test_same_comparison_again_runs_nothing(written, tmp_path):
    out, _, comp = written
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    paths = [sc.path for sc in comp.scenarios]
    res = cmp.compare(paths, reps=3, out=copy, seed=2, workers=1, progress=False)
    assert res.ran == 0
    assert res.already == 6
    pd.testing.assert_frame_equal(res.comparison.runs, comp.runs)
    # a different seed is a different comparison
    with pytest.raises(InputError, match="already holds other results"):
        cmp.compare(paths, reps=3, out=copy, seed=3, workers=1, progress=False)


# -- the command -----------------------------------------------------------------------------------
def test_command(tmp_path, capsys):
    base = small(tmp_path, "base")
    alt = small(tmp_path, "alt", TRAINING)
    out = tmp_path / "res"
    code = main(["compare", str(base), str(alt), "--reps", "2", "--steps", "4", "--seed", "1",
                 "--out", str(out), "--workers", "1", "--no-progress",
                 "--set", "interventions.training.cost_per_firm=3.0"])
    stdout = capsys.readouterr().out
    assert code == 0
    assert stdout.strip().splitlines()[-1] == f"report: {out / 'report.html'}"
    run = json.loads((out / "comparison.json").read_text())
    assert run["overrides"] == {"interventions.training.cost_per_firm": 3.0}
    assert run["steps"] == 4
    # the intervention override reached the scenario that has the intervention, only
    from sim.studies.simulate import simulate

    direct = simulate(alt, steps=4, seed=run["seeds"][0],
                      overrides={"interventions.training.cost_per_firm": 3.0})
    runs = pd.read_parquet(out / "runs.parquet")
    got = runs[(runs["scenario"] == "alt") & (runs["replicate"] == 0)].iloc[0]
    assert got["public_spending_total"] == direct.final["public_spending_total"]


@pytest.mark.parametrize(("args", "fragment"), [
    (["--set", "coop_benfit=0.1"], "--set: coop_benfit: unknown key (did you mean"),
    (["--set", "interventions.trainin.cost_per_firm=1"],
     "--set: interventions.trainin.cost_per_firm: no scenario has an intervention named "
     "'trainin' (did you mean 'training'?); allowed: 'training'"),
    (["--set", "n_firms=300"], "--set: n_firms: the scenario lists its initial firms"),
    (["--reps", "1"], "--reps: got 1; allowed: an integer from 2 to 10,000"),
    (["--reps", "many"], "--reps"),
    (["--reps", "auto"], "--width: got None; allowed: a number > 0"),
    (["--reps", "3", "--width", "2"], "--width: only used with --reps auto"),
    (["--steps", "0"], "--steps: got 0; allowed: an integer from 1 to 100,000"),
    (["--workers", "0"], "--workers: got 0; allowed: an integer from 1 to "),
    (["--horizon", "0"], "--horizon: got 0; allowed: a month from 1 to 10"),
    (["--horizon", "11"], "--horizon: got 11; allowed: a month from 1 to 10"),
    (["--discount", "-0.1"], "--discount: got -0.1; allowed: an annual rate from 0 to 1"),
])
def test_command_bad_input_exit_2(tmp_path, capsys, args, fragment):
    base = small(tmp_path, "base")
    alt = small(tmp_path, "alt", TRAINING)
    out = tmp_path / "res"
    code = main(["compare", str(base), str(alt), "--out", str(out), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert fragment in err
    assert "Traceback" not in err
    assert not out.exists()


def test_command_bad_scenario_exit_2(tmp_path, capsys):
    base = small(tmp_path, "base")
    bad = tmp_path / "bad.toml"
    bad.write_text("[params]\ntrust_gain = 3\n")
    assert main(["compare", str(base), str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "bad.toml: params.trust_gain: got 3" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_report_words_for_each_cost_case():
    from sim.studies.costeff import classify
    from sim.studies.report import cost_text

    gain = np.array([10.0, 12.0, 11.0, 9.0, 10.0])
    cases = {
        "cost": (np.array([100.0, 130.0, 105.0, 95.0, 101.0]), gain,
                 "thousand USD per extra job (95% CI ["),
        "dominates": (-np.ones(5), gain, "dominates: more at no extra public cost (per job)"),
        "dominated": (np.ones(5), -gain, "dominated: fewer at no saving (per job)"),
        "none": (np.ones(5), np.array([1.0, -1.0, 2.0, -2.0, 0.0]),
                 "no significant gain: no cost per job"),
    }
    for cost, jobs, words in cases.values():
        row = pd.Series({**classify(cost, jobs), "unit": "job"})
        _, text = cost_text(row, "thousand USD")
        assert words in text
        assert "-" not in text.split("(")[0]  # no negative cost printed as a cost
