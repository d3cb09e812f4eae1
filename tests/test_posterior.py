"""Carrying a calibration's posterior into compare and robust (``--posterior``): the strict
reader, the seeded choice of draws, pairing (the same draw and seed in every scenario of a
replicate), bit-identical reruns, P(best) and variance shares on constructed data where the
answer is known, intervention-field parameters, the point-estimate label, robust on a tiny
study, and bad input at the command line (exit 2, nothing written). Small scenarios, a few
months, ``workers=1``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.cli import main
from sim.core.errors import InputError
from sim.io.posterior import choose_draws, load_posterior
from sim.studies import compare as cmp
from sim.studies.compare import Comparison, posterior_answer
from sim.studies.paired import jeffreys_interval, p_best
from sim.studies.posterior_mode import POINT_LABEL
from sim.studies.robust import robust
from tests.test_compare import TRAINING, small

DRAWS = ("draw,coop_benefit,interventions.training.productivity_gain\n"
         "0,0.01,0.05\n1,0.02,0.1\n2,0.03,0.15\n3,0.04,0.2\n4,0.05,0.25\n")


def calibration(folder: Path, text: str = DRAWS, n: int | None = None,
                meta: dict | None = None, name: str = "cal") -> Path:
    """A calibration folder built by hand: calibration.json and posterior_draws.csv."""
    cal = folder / name
    cal.mkdir(parents=True, exist_ok=True)
    if n is None:
        n = len(text.strip().splitlines()) - 1
    body = meta if meta is not None else {
        "posterior_draws": {"file": "posterior_draws.csv", "n": n, "method": "rejection"},
        "provenance": {"version": "test"}}
    (cal / "calibration.json").write_text(json.dumps(body))
    (cal / "posterior_draws.csv").write_text(text)
    return cal


# -- the reader -----------------------------------------------------------------------------------
def test_reader_reads_a_folder_or_its_json(tmp_path):
    cal = calibration(tmp_path)
    a = load_posterior(cal)
    b = load_posterior(cal / "calibration.json")
    assert a.names == b.names == ("coop_benefit", "interventions.training.productivity_gain")
    assert a.n == 5
    assert a.method == "rejection"
    assert a.sha256 == hashlib.sha256((cal / "posterior_draws.csv").read_bytes()).hexdigest()
    np.testing.assert_array_equal(a.values[:, 0], [0.01, 0.02, 0.03, 0.04, 0.05])
    assert a.draw(2) == {"coop_benefit": 0.03, "interventions.training.productivity_gain": 0.15}


def test_reader_accepts_grouped_names(tmp_path):
    cal = calibration(tmp_path, "draw,cooperation.coop_benefit,demography.growth_sd\n"
                      "0,0.02,0.04\n1,0.03,0.05\n")
    assert load_posterior(cal).names == ("cooperation.coop_benefit", "demography.growth_sd")


@pytest.mark.parametrize(("text", "n", "meta", "fragment"), [
    (DRAWS, None, {"provenance": {}}, "posterior_draws: missing"),
    (DRAWS, None, {"posterior_draws": {"file": "posterior_draws.csv", "n": 5}},
     "posterior_draws.method: missing"),
    (DRAWS, None, {"posterior_draws": {"file": "posterior_draws.csv", "n": 5,
                                       "method": "mcmc"}}, "allowed: npe or rejection"),
    (DRAWS, None, {"posterior_draws": {"file": "gone.csv", "n": 5, "method": "npe"}},
     "gone.csv: no such file"),
    (DRAWS, 6, None, "5 draws, but calibration.json says n = 6"),
    ("draw,coop_benefit\n0,0.02\n1,nan\n", None, None,
     "coop_benefit (draw 1): got nan; allowed: a finite number"),
    ("draw,coop_benefit\n0,inf\n", None, None, "got inf; allowed: a finite number"),
    ("draw,coop_benefit\n0,abc\n", None, None, "got 'abc'; allowed: a number"),
    ("draw,coop_benfit\n0,0.02\n", None, None, "coop_benfit: unknown parameter"),
    ("draw,coop_benefit\n0,1.5\n", None, None,
     "coop_benefit (draw 0): got 1.5; allowed: a number from 0.0 to 1.0"),
    ("draw,interventions.cfc\n0,1\n", None, None, "allowed: interventions.NAME.FIELD"),
    ("id,coop_benefit\n0,0.02\n", None, None, "the first column is 'id'; allowed: draw"),
    ("draw,coop_benefit\n1,0.02\n", None, None, "draw '1'; allowed: 0"),
    ("draw,coop_benefit,cooperation.coop_benefit\n0,0.02,0.02\n", None, None,
     "a parameter named twice"),
])
def test_reader_refuses_bad_input(tmp_path, text, n, meta, fragment):
    cal = calibration(tmp_path, text, n, meta)
    with pytest.raises(InputError) as exc:
        load_posterior(cal)
    assert fragment in str(exc.value)
    assert "posterior_draws.csv" in str(exc.value) or "calibration.json" in str(exc.value)


def test_reader_refuses_a_missing_folder_and_bad_json(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_posterior(tmp_path / "nowhere")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "calibration.json").write_text("{not json")
    with pytest.raises(InputError, match="not readable as JSON"):
        load_posterior(tmp_path / "bad")


# -- choosing the draws ---------------------------------------------------------------------------
def test_draws_are_a_seeded_permutation_then_reused_evenly():
    a, reused = choose_draws(10, 10, seed=3)
    assert sorted(a) == list(range(10))
    assert not reused
    b, _ = choose_draws(10, 10, seed=3)
    np.testing.assert_array_equal(a, b)  # deterministic in the seed
    assert not np.array_equal(a, choose_draws(10, 10, seed=4)[0])
    # replicate r keeps its draw whatever the number of replicates (--reps auto adds some)
    np.testing.assert_array_equal(choose_draws(10, 4, seed=3)[0], a[:4])
    many, reused = choose_draws(4, 10, seed=1)
    assert reused
    assert np.bincount(many, minlength=4).tolist() in ([3, 3, 2, 2], [3, 2, 3, 2],
                                                       [3, 2, 2, 3], [2, 3, 3, 2],
                                                       [2, 3, 2, 3], [2, 2, 3, 3])
    assert sorted(many[:4]) == [0, 1, 2, 3]  # every draw once before any twice


# -- pairing --------------------------------------------------------------------------------------
def test_same_draw_and_seed_in_every_scenario_of_a_replicate(tmp_path):
    base, alt = small(tmp_path, "base"), small(tmp_path, "alt", TRAINING)
    post = load_posterior(calibration(tmp_path))
    exp = cmp.comparison_of([base, alt], reps=4, steps=3, seed=5, posterior=post)
    runs = exp.design.runs
    chosen, _ = post.choose(4, 5)
    assert exp.posterior["draws"] == chosen.tolist()
    for r in range(4):
        b, a = [x for x in runs if x.replicate == r]
        assert a.seed == b.seed
        want = post.draw(int(chosen[r]))
        assert b.overrides == {"coop_benefit": want["coop_benefit"]}  # no training in base
        assert a.overrides == want  # the intervention field reaches the scenario that has it
    again = cmp.comparison_of([base, alt], reps=4, steps=3, seed=5, posterior=post)
    assert again.fingerprint() == exp.fingerprint()
    point = cmp.comparison_of([base, alt], reps=4, steps=3, seed=5)
    assert point.fingerprint() != exp.fingerprint()
    assert all(x.overrides == {} for x in point.design.runs)  # point mode as before


def test_intervention_nobody_has_and_set_clash_are_refused(tmp_path):
    base, alt = small(tmp_path, "base"), small(tmp_path, "alt", TRAINING)
    cal = calibration(tmp_path, "draw,interventions.cfc.grant_share\n0,0.5\n", name="c1")
    with pytest.raises(InputError, match="no scenario has an intervention named 'cfc'"):
        cmp.comparison_of([base, alt], reps=2, steps=3, posterior=load_posterior(cal))
    post = load_posterior(calibration(tmp_path))
    with pytest.raises(InputError, match="also given with --set"):
        cmp.comparison_of([base, alt], reps=2, steps=3, posterior=post,
                          overrides={"cooperation.coop_benefit": 0.02})
    bad = calibration(tmp_path, "draw,interventions.training.productivity_gain\n0,-3\n",
                      name="c2")
    with pytest.raises(InputError, match="draw 0: not valid for scenario alt"):
        cmp.comparison_of([base, alt], reps=2, steps=3, posterior=load_posterior(bad))


def test_compare_with_posterior_runs_paired_and_reruns_bit_identical(tmp_path):
    base, alt = small(tmp_path, "base"), small(tmp_path, "alt", TRAINING)
    cal = calibration(tmp_path)
    kw = dict(reps=3, steps=3, seed=2, workers=1, progress=False, posterior=cal)
    one = cmp.compare([base, alt], out=tmp_path / "one", **kw)
    two = cmp.compare([base, alt], out=tmp_path / "two", **kw)
    cols = [c for c in one.comparison.runs.columns if c != "wall_time"]
    pd.testing.assert_frame_equal(one.comparison.runs[cols], two.comparison.runs[cols])
    # a run is the model at its draw and seed: the same as a direct run
    from sim.studies.simulate import simulate

    comp = one.comparison
    draws = comp.draws
    post = load_posterior(cal)
    got = comp.runs[(comp.runs["scenario"] == "alt") & (comp.runs["replicate"] == 1)].iloc[0]
    direct = simulate(alt, steps=3, seed=comp.seeds[1], overrides=post.draw(
        int(draws.loc[1, "draw"])))
    assert got["employment"] == direct.final["employment"]
    run = json.loads((tmp_path / "one" / "comparison.json").read_text())
    assert run["posterior"]["sha256"] == post.sha256
    assert run["posterior"]["draws"] == draws["draw"].tolist()
    assert run["parameters"].startswith("parameters drawn from the posterior")
    assert run["decision"]["lines"]["parameters"][1].startswith("Chance of being best")
    assert set(run["decision"]["p_best_posterior"]) == {"base", "alt"}
    for name in ("p_best.csv", "variance_shares.csv", "posterior_draws_used.csv"):
        assert (tmp_path / "one" / name).is_file()
    assert "posterior draws" in (tmp_path / "one" / "report.html").read_text()


def test_point_mode_is_labelled(tmp_path):
    base, alt = small(tmp_path, "base"), small(tmp_path, "alt", TRAINING)
    res = cmp.compare([base, alt], out=tmp_path / "out", reps=2, steps=2, workers=1,
                      progress=False)
    run = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert run["parameters"] == POINT_LABEL
    assert run["decision"]["parameters"].startswith(
        "Point estimate: parameters fixed at the scenario's values")
    assert "posterior" not in run
    assert not (tmp_path / "out" / "p_best.csv").exists()
    assert res.comparison.draws.empty
    assert "Point estimate: parameters fixed" in (tmp_path / "out" / "report.html").read_text()


# -- P(best) and variance shares on constructed data ----------------------------------------------
def test_p_best_splits_ties_with_jeffreys_interval():
    v = pd.DataFrame({"a": [1.0, 2.0, 3.0, 0.0], "b": [0.0, 2.0, 1.0, 5.0]})
    got = p_best(v, ["a", "b"]).set_index("scenario")
    assert got.loc["a", "best"] == 2.5
    assert got.loc["b", "best"] == 1.5
    assert got.loc["a", "p_best"] == 2.5 / 4
    lo, hi = stats.beta.ppf([0.025, 0.975], 3.0, 2.0)
    assert (got.loc["a", "ci_low"], got.loc["a", "ci_high"]) == pytest.approx((lo, hi))
    low = p_best(v, ["a", "b"], direction=-1).set_index("scenario")
    assert (low.loc["a", "best"], low.loc["b", "best"]) == (1.5, 2.5)  # less is better
    assert jeffreys_interval(0, 10)[0] == 0.0
    assert jeffreys_interval(10, 10)[1] == 1.0


def test_p_best_and_driver_known_from_construction():
    """The policy helps where parameter a is high and hurts where it is low; b and c are
    irrelevant. P(best) is the share of replicates with a > 0.5 and a's share dominates."""
    n = 60
    rng = np.random.default_rng(42)
    x = rng.uniform(size=(n, 3))
    base = 100.0 + rng.normal(0.0, 1.0, n)
    effect = np.where(x[:, 0] > 0.5, 10.0, -10.0) + rng.normal(0.0, 1.0, n)
    rows = [{"scenario": lab, "replicate": r, "seed": r, "employment": v[r]}
            for lab, v in (("base", base), ("policy", base + effect)) for r in range(n)]
    comp = Comparison(labels=["base", "policy"], scenarios=[], steps=1, seed=0,
                      seeds=list(range(n)), runs=pd.DataFrame(rows), series=pd.DataFrame(),
                      posterior={"draws": list(range(n)), "parameters": ["a", "b", "c"],
                                 "values": x.tolist(), "n": n, "method": "npe",
                                 "calibration": "cal/calibration.json"})
    best, shares = posterior_answer(comp)
    best = best.set_index("scenario")
    assert best.loc["policy", "p_best"] == pytest.approx(np.mean(x[:, 0] > 0.5))
    shares = shares.set_index("parameter")
    assert shares["s1"].idxmax() == "a"
    assert shares.loc["a", "s1"] > 0.6  # near 1 up to the noise; b and c near 0
    assert max(shares.loc["b", "s1"], shares.loc["c", "s1"]) < 0.3
    # the decision summary names a as the driver, with the policy's chance of being best
    from types import SimpleNamespace

    from sim.studies.report.summary import _parameter_lines

    best, shares = posterior_answer(comp)
    lines = _parameter_lines(comp, SimpleNamespace(best=best, shares=shares), "jobs")
    assert lines[0].startswith("Parameters drawn from the posterior of cal/calibration.json")
    assert f"policy {np.mean(x[:, 0] > 0.5):.0%}" in lines[1]
    assert lines[2].startswith("What drives the effect of policy on jobs most: a, about")


# -- robust ---------------------------------------------------------------------------------------
def test_robust_with_posterior_on_a_tiny_study(tmp_path):
    base, alt = small(tmp_path, "base"), small(tmp_path, "alt", TRAINING)
    cal = calibration(tmp_path)
    res = robust([base, alt], out=tmp_path / "rob", futures=2, reps=2, steps=2, workers=1,
                 progress=False, posterior=cal, uncertain=["growth_sd"])
    assert res.headline[-1].startswith("Chance of being best on")
    best = pd.read_csv(tmp_path / "rob" / "p_best.csv")
    assert best["n"].tolist() == [4, 4]
    assert best["best"].sum() == pytest.approx(4.0)
    used = pd.read_csv(tmp_path / "rob" / "posterior_draws_used.csv")
    assert sorted(used["draw"]) == sorted(load_posterior(cal).choose(4, 0)[0].tolist())
    meta = json.loads((tmp_path / "rob" / "robust.json").read_text())
    assert meta["posterior"]["sha256"] == load_posterior(cal).sha256
    assert load_posterior(cal).sha256 in (tmp_path / "rob" / "robust.html").read_text()
    assert set(res.table["policy"]) == {"base", "alt"}  # regret etc. still computed
    with pytest.raises(InputError, match="also varied by the futures"):
        robust([base, alt], out=tmp_path / "rob2", futures=2, reps=1, steps=2, workers=1,
               progress=False, posterior=cal, uncertain=["coop_benefit"])
    assert not (tmp_path / "rob2").exists()


# -- the command line -----------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["compare", "robust"])
def test_command_bad_posterior_exit_2(tmp_path, capsys, command):
    base, alt = small(tmp_path, "base"), small(tmp_path, "alt", TRAINING)
    cal = calibration(tmp_path, "draw,coop_benefit\n0,7\n")
    out = tmp_path / "res"
    code = main([command, str(base), str(alt), "--out", str(out), "--no-progress",
                 "--workers", "1", "--posterior", str(cal)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "posterior_draws.csv: coop_benefit (draw 0): got 7" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_command_compare_with_posterior(tmp_path, capsys):
    base, alt = small(tmp_path, "base"), small(tmp_path, "alt", TRAINING)
    cal = calibration(tmp_path)
    code = main(["compare", str(base), str(alt), "--out", str(tmp_path / "res"),
                 "--no-progress", "--workers", "1", "--reps", "2", "--steps", "2",
                 "--posterior", str(cal)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Parameters drawn from the posterior" in out
    assert "Chance of being best" in out


def test_docs_figures_renders_the_posterior_and_the_point_label():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
    import docs_figures

    rows = [{"scenario": "none", "cfc_built": 0.0, "cfc_operating": 0.0, "employment": 10.0,
             "firms": 2.0, "p_best": [0.25, 0.1, 0.5]},
            {"scenario": "cfc", "cfc_built": 1.0, "cfc_operating": 1.0, "employment": 12.0,
             "firms": 2.0, "d_employment": [2.0, 1.0, 3.0], "d_firms": [0.0, 0.0, 0.0],
             "d_output": [1.0, 0.5, 1.5], "d_facility_users": [1.0, 1.0, 1.0],
             "d_public_spending_total": [5.0, 5.0, 5.0],
             "cost_per_job": {"status": "no significant gain"}, "p_best": [0.75, 0.5, 0.9],
             "driver": {"parameter": "coop_benefit", "share": 0.61}}]
    point = {"x": {"files": ["a", "b"], "reps": 4, "seed": 0, "steps": 12, "base": "none",
                   "rows": rows}}
    assert "point estimate: parameters fixed at the scenario's values" in \
        docs_figures.render(point)
    post = {"x": {**point["x"], "posterior": {"calibration": "cal/calibration.json",
                                              "sha256": "ab" * 32, "method": "npe", "n": 50}}}
    text = docs_figures.render(post)
    assert "--posterior cal/calibration.json" in text
    assert "cfc 75% [50%, 90%]" in text
    assert "cfc: coop_benefit (61%)" in text


def test_reps_auto_with_posterior_keeps_each_replicates_draw(tmp_path):
    base, alt = small(tmp_path, "base"), small(tmp_path, "alt", TRAINING)
    cal = calibration(tmp_path)
    res = cmp.compare([base, alt], reps="auto", width=1e9, max_reps=8, out=tmp_path / "out",
                      steps=2, seed=4, workers=1, progress=False, posterior=cal)
    comp = res.comparison
    assert comp.reps == cmp.AUTO_START  # the huge width is met at once
    want = load_posterior(cal).choose(8, 4)[0][:comp.reps].tolist()
    assert comp.draws["draw"].tolist() == want
    run = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert run["posterior"]["draws"] == want
    assert run["replicates_rule"]["met"] is True


def test_the_summary_says_what_a_drawn_parameter_is():
    from sim.studies.report.summary import in_words

    assert in_words("death_rate").startswith("death_rate (chance a firm closes in a month")
    assert in_words("demography.death_rate") == in_words("death_rate").replace(
        "death_rate", "demography.death_rate", 1)
    assert in_words("interventions.cfc.effect") == (
        "interventions.cfc.effect (the field 'effect' of intervention 'cfc')")
    assert in_words("no_such_parameter") == "no_such_parameter"
