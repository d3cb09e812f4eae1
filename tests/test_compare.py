"""Replicated comparisons: seeds, confidence intervals against scipy, paired differences with
common random numbers, public cost, the results folder and the report, the command."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim import compare as cmp
from sim.cli import main
from sim.compare import (
    Comparison,
    paired_difference,
    public_costs,
    replicate_seeds,
    run_comparison,
    summarise,
    t_interval,
    write_comparison,
)
from sim.errors import InputError
from sim.scenario import load_scenario

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
def test_replicate_seeds_are_spawned_children():
    seeds = replicate_seeds(7, 5)
    assert seeds == replicate_seeds(7, 5)
    assert len(set(seeds)) == 5
    children = np.random.SeedSequence(7).spawn(5)
    assert seeds == [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]
    assert replicate_seeds(7, 3) == seeds[:3]  # more replicates extend, never reshuffle
    assert replicate_seeds(8, 5) != seeds


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


def test_public_costs_by_hand():
    comp = synthetic({"base": [0.0, 0.0, 0.0, 0.0], "alt": [100.0, 120.0, 80.0, 100.0]},
                     jobs={"base": [50.0, 60.0, 40.0, 50.0], "alt": [60.0, 70.0, 52.0, 58.0]},
                     firms={"base": [10.0, 10.0, 10.0, 10.0], "alt": [10.0, 9.0, 11.0, 10.0]})
    row = public_costs(comp).iloc[0]
    assert row["d_public"] == 100.0
    assert row["d_jobs"] == 10.0
    assert row["cost_per_job"] == pytest.approx(10.0)
    assert row["cost_per_job_ci_low"] <= 10.0 <= row["cost_per_job_ci_high"]
    # no firm gained on average: no cost per firm
    assert row["d_firms"] == 0.0
    assert np.isnan(row["cost_per_firm"])


# -- running ---------------------------------------------------------------------------------------
@pytest.fixture
def pair(tmp_path):
    """A small base and an identical copy under another name."""
    return small(tmp_path, "base"), small(tmp_path, "copy")


def test_identical_scenarios_differ_by_exactly_zero(pair):
    comp = run_comparison([load_scenario(p) for p in pair], reps=3, seed=11, workers=1,
                          progress=False)
    summary = summarise(comp)
    alt = summary[summary["scenario"] == "copy"]
    assert len(alt) >= 15
    finite = alt[np.isfinite(alt["diff_mean"])]
    assert (finite["diff_mean"] == 0).all()
    assert (finite["diff_ci_low"] == 0).all()
    assert (finite["diff_ci_high"] == 0).all()
    assert (finite["diff_ci_low"] <= 0).all()
    assert (finite["diff_ci_high"] >= 0).all()
    # and the runs themselves are identical, replicate by replicate
    runs = comp.runs.drop(columns="scenario")
    a = runs[comp.runs["scenario"] == "base"].reset_index(drop=True)
    b = runs[comp.runs["scenario"] == "copy"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_common_random_numbers_and_seeds(tmp_path):
    base = load_scenario(small(tmp_path, "base"))
    alt = load_scenario(small(tmp_path, "alt", TRAINING))
    comp = run_comparison([base, alt], reps=3, seed=5, workers=1, progress=False)
    assert comp.seeds == replicate_seeds(5, 3)
    assert list(comp.runs["seed"]) == comp.seeds * 2
    assert list(comp.runs["replicate"]) == [0, 1, 2] * 2
    assert comp.runs.shape[0] == 6
    assert set(comp.series["step"]) == set(range(11))
    # the training programme costs 2 per trained firm, 2 firms a month for 10 months
    spend = comp.runs.set_index(["scenario", "replicate"])["public_spending_total"]
    assert (spend["alt"] == 40.0).all()
    assert (spend["base"] == 0.0).all()
    # one replicate equals a direct run with its seed
    from sim.api import simulate

    direct = simulate(alt, seed=comp.seeds[1])
    got = comp.runs[(comp.runs["scenario"] == "alt") & (comp.runs["replicate"] == 1)].iloc[0]
    assert got["employment"] == direct.final["employment"]


def test_workers_do_not_change_results(tmp_path):
    scs = [load_scenario(small(tmp_path, "base")), load_scenario(small(tmp_path, "alt",
                                                                       TRAINING))]
    one = run_comparison(scs, reps=2, seed=3, workers=1, progress=False)
    two = run_comparison(scs, reps=2, seed=3, workers=2, progress=False)
    pd.testing.assert_frame_equal(one.runs, two.runs)
    pd.testing.assert_frame_equal(one.series, two.series)


def test_bad_arguments(pair, tmp_path):
    scs = [load_scenario(p) for p in pair]
    with pytest.raises(InputError, match="--reps: got 1; allowed: an integer >= 2"):
        run_comparison(scs, reps=1, workers=1, progress=False)
    with pytest.raises(InputError, match="needs a base scenario and at least one"):
        run_comparison(scs[:1], reps=2, workers=1, progress=False)
    other = load_scenario(pair[1]).with_overrides({"steps": 5})
    with pytest.raises(InputError, match="horizons differ .*give --steps"):
        run_comparison([scs[0], other], reps=2, workers=1, progress=False)
    # an explicit horizon settles it
    comp = run_comparison([scs[0], other], reps=2, steps=3, workers=1, progress=False)
    assert comp.steps == 3


def test_duplicate_names_get_unique_labels(pair):
    sc = load_scenario(pair[0])
    comp = run_comparison([sc, sc], reps=2, steps=2, workers=1, progress=False)
    assert comp.labels == ["base", "base#2"]


# -- the results folder ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cmp")
    base = small(folder, "base")
    alt = small(folder, "alt", TRAINING)
    out = folder / "out"
    report, comp = cmp.compare([base, alt], reps=3, out=out, seed=2, workers=1,
                               progress=False)
    return out, report, comp


def test_folder_contents(written):
    out, report, comp = written
    assert report == out / "report.html"
    names = {p.name for p in out.iterdir()}
    assert {"summary.csv", "costs.csv", "runs.parquet", "series.parquet", "report.html",
            "run.json", "figures"} <= names
    assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    summary = pd.read_csv(out / "summary.csv")
    for col in ("scenario", "outcome", "n", "mean", "sd", "ci_low", "ci_high", "diff_mean",
                "diff_ci_low", "diff_ci_high", "diff_p"):
        assert col in summary
    for outcome in ("firms", "employment", "output", "mean_productivity", "cooperation_rate",
                    "facilities_operating", "eg_gamma_mean", "public_spending_total"):
        assert outcome in set(summary["outcome"])
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 6
    assert {"scenario", "replicate", "seed"} <= set(runs)
    series = pd.read_parquet(out / "series.parquet")
    assert len(series) == 2 * 3 * 11
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(
        f"{n}.png" for n in cmp.FIGURE_OUTCOMES)
    assert (out / "figures" / "firms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    costs = pd.read_csv(out / "costs.csv")
    assert costs.loc[0, "d_public"] == 40.0


def test_run_json_provenance(written):
    out, _, comp = written
    run = json.loads((out / "run.json").read_text())
    assert run["seeds"] == comp.seeds
    assert run["seed"] == 2
    assert run["reps"] == 3
    assert run["base"] == "base"
    assert [s["hash"] for s in run["scenarios"]] == [sc.hash for sc in comp.scenarios]
    for key in ("version", "git_commit", "created", "python", "numpy", "numba", "mesa",
                "steps", "files"):
        assert key in run
    assert "report.html" in run["files"]


def test_report_is_self_contained(written):
    out, _, comp = written
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<script" not in page
    assert "<link" not in page
    assert "@import" not in page
    assert page.count("src='data:image/png;base64,") == len(cmp.FIGURE_OUTCOMES)
    for sc in comp.scenarios:
        assert sc.hash in page  # provenance
    assert "public cost per job" in page
    assert "kind = &quot;training&quot;" in page  # the scenario texts, escaped
    assert comp.runs["seed"].astype(str).iloc[0] in page


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
    report, comp = cmp.compare([other, other], reps=2, out=target, workers=1, progress=False,
                               force=True)
    assert comp is not None
    assert report.is_file()
    assert not (target / "notes.txt").exists()


def test_same_comparison_again_is_nothing_to_do(written, monkeypatch, tmp_path):
    out, _, comp = written
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    run = json.loads((copy / "run.json").read_text())
    run["git_commit"] = "abc"  # as if from a clean checkout
    (copy / "run.json").write_text(json.dumps(run))
    real = cmp._identity
    monkeypatch.setattr(cmp, "_identity", lambda *a: {**real(*a), "git_commit": "abc"})
    paths = [sc.path for sc in comp.scenarios]
    report, again = cmp.compare(paths, reps=3, out=copy, seed=2, workers=1, progress=False)
    assert again is None
    assert report == copy / "report.html"
    # a different seed is a different comparison
    with pytest.raises(InputError, match="already holds other results"):
        cmp.compare(paths, reps=3, out=copy, seed=3, workers=1, progress=False)


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    base = load_scenario(small(tmp_path, "base"))
    comp = run_comparison([base, base], reps=2, steps=2, workers=1, progress=False)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    from sim import report

    monkeypatch.setattr(report, "render_html", boom)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        write_comparison(comp, out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.toml"]


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
    run = json.loads((out / "run.json").read_text())
    assert run["overrides"] == {"interventions.training.cost_per_firm": 3.0}
    assert run["steps"] == 4
    # the intervention override reached the scenario that has the intervention
    costs = pd.read_csv(out / "costs.csv")
    assert costs.loc[0, "d_public"] == 4 * 2 * 3.0


@pytest.mark.parametrize(("args", "fragment"), [
    (["--set", "coop_benfit=0.1"], "--set: coop_benfit: unknown key (did you mean"),
    (["--set", "interventions.trainin.cost_per_firm=1"],
     "--set: interventions.trainin.cost_per_firm: no scenario has an intervention named "
     "'trainin' (did you mean 'training'?); allowed: 'training'"),
    (["--set", "n_firms=300"], "--set: n_firms: the scenario lists its initial firms"),
    (["--reps", "1"], "--reps: got 1; allowed: an integer >= 2"),
    (["--steps", "0"], "--steps: got 0; allowed: an integer >= 1"),
    (["--workers", "0"], "--workers: got 0; allowed: an integer >= 1"),
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
