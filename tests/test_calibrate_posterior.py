"""The posterior of ``clustersim calibrate`` (sim.studies.calibrate.posterior and .npe): neural
posterior estimation with sbi on a toy simulator and on the cluster model, its checks
(coverage, SBC, recovery), determinism, the draws files of both methods, the ``[posterior]``
table's validation, the regression adjustment's rule and targets of kind "requirement".
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.core.errors import InputError
from sim.studies.calibrate import abc, npe
from sim.studies.calibrate.run import calibrate, load_calibration
from sim.studies.calibrate.targets import load_targets, parse_targets

# -- the NPE machinery on a toy simulator ---------------------------------------------------------


def _toy(theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """x = theta + Gaussian noise (sd 0.05): each parameter is read off its own pattern."""
    return theta + rng.normal(0.0, 0.05, theta.shape)


@pytest.mark.statistical
def test_npe_recovers_a_known_truth_and_covers_held_out_truths():
    rng = np.random.default_rng(11)
    n = 1000
    theta = rng.uniform(0.0, 1.0, (n, 2))
    x = _toy(theta, rng)
    truth = np.array([0.3, 0.7])
    x_obs = _toy(truth[None, :], rng)[0]
    noise = np.array([0.05, 0.05])  # measurement error, added by infer to every x
    r = npe.infer(theta, x, np.arange(n), x_obs, noise, draws=2000, holdout=0.1, seed=1)
    assert r.draws.shape == (2000, 2)
    assert ((r.draws >= 0) & (r.draws <= 1)).all()
    # the posterior of theta given x is about N(x_obs, 0.05^2 + 0.05^2): sd 0.07
    q05, med, q95 = np.quantile(r.draws, [0.05, 0.5, 0.95], axis=0)
    assert (q05 < truth).all()
    assert (truth < q95).all()
    np.testing.assert_allclose(med, truth, atol=0.1)
    assert ((q95 - q05) < 0.5).all()  # informative: a flat posterior's 90% range is 0.9
    c = r.checks
    assert c["truths"] == 100
    assert r.training["held_out_points"] == 100
    assert r.training["pairs"] == 900
    # 100 held-out truths: nominal 0.9 with binomial sd 0.03; stated tolerance 0.75-1.0
    assert ((c["coverage"]["0.9"] >= 0.75) & (c["coverage"]["0.9"] <= 1.0)).all()
    assert ((c["coverage"]["0.5"] >= 0.3) & (c["coverage"]["0.5"] <= 0.7)).all()
    assert (c["r2"] > 0.8).all()
    assert [npe.verdict(v) for v in c["r2"]] == ["identified", "identified"]
    assert c["ranks"].shape == (100, 2)
    assert ((c["ranks"] >= 0) & (c["ranks"] <= npe.CHECK_DRAWS)).all()
    assert (c["ks_pvalue"] > 0.001).all()


@pytest.mark.statistical
def test_npe_says_not_identified_when_no_pattern_informs_a_parameter():
    rng = np.random.default_rng(12)
    n = 800
    theta = rng.uniform(0.0, 1.0, (n, 2))
    x = theta[:, :1] + rng.normal(0.0, 0.05, (n, 1))  # the second parameter does nothing
    r = npe.infer(theta, x, np.arange(n) // 2, np.array([0.5]), np.array([0.02]), draws=1000,
                  holdout=0.2, seed=3)
    c = r.checks
    assert r.training["held_out_points"] == 80  # whole points (two runs each) held out
    assert c["truths"] == 160
    assert npe.verdict(c["r2"][0]) == "identified"
    assert npe.verdict(c["r2"][1]) == "not identified"
    # its posterior is its flat prior: 90% of held-out truths in the central 90%, within 0.1
    assert abs(c["coverage"]["0.9"][1] - 0.9) < 0.1
    q05, q95 = np.quantile(r.draws[:, 1], [0.05, 0.95])
    assert q05 < 0.15
    assert q95 > 0.85


def test_check_helpers_on_hand_made_numbers():
    assert npe.verdict(0.5) == "identified"
    assert npe.verdict(0.49) == "weakly identified"
    assert npe.verdict(0.2) == "weakly identified"
    assert npe.verdict(0.19) == "not identified"
    assert npe.verdict(float("nan")) is None
    assert npe.at_prior_edge(0.02, 0.5)
    assert npe.at_prior_edge(0.3, 0.981)
    assert not npe.at_prior_edge(0.021, 0.979)
    samples = np.linspace(0, 1, 101)[:, None, None] * np.ones((1, 4, 1))  # (draws, truths, 1)
    truth = np.array([[0.5], [0.04], [0.3], [0.99]])
    np.testing.assert_allclose(npe.coverage(samples, truth, 0.9), [0.5])  # 0.5 and 0.3 inside
    np.testing.assert_allclose(npe.r_squared(np.array([[1.0], [2.0], [3.0]]),
                                             np.array([[1.0], [2.0], [4.0]])),
                               [1 - 1 / (14 / 3)])
    groups = np.repeat(np.arange(10), 3)
    held = npe.split_points(groups, 0.2, 5)
    assert held.sum() == 6
    assert np.unique(groups[held]).size == 2
    np.testing.assert_array_equal(held, npe.split_points(groups, 0.2, 5))
    assert not npe.split_points(groups, 0.0, 5).any()
    assert npe.split_points(groups, 0.01, 5).sum() == 3  # at least one point


# -- the regression adjustment's rule -------------------------------------------------------------
def test_missing_patterns_marked_below_every_measured_value():
    from sim.studies.calibrate.posterior import _mark_missing

    fit = list(parse_targets({"g": {"pattern": "g", "value": 0.125, "interval": [0.1, 0.15],
                                    "source": "docs/sources.md#mse-cdp-evaluation"},
                              "c": {"pattern": "c", "value": 0.4, "interval": [0.3, 0.5],
                                    "source": "docs/sources.md#mse-cdp-completion"}},
                             "t.toml", prefix="").values())
    x = np.array([[0.05, 0.0], [np.nan, 0.0], [0.2, 0.5], [np.nan, np.inf]])
    marked, info = _mark_missing(x, fit)
    assert marked[1, 0] == pytest.approx(0.05 - 4 * 0.05)
    assert marked[3, 0] == marked[1, 0]
    assert np.isinf(marked[3, 1])  # only a missing value (NaN) is marked; inf stays dropped
    assert info == {"g": {"pairs": 2, "value": pytest.approx(-0.15)}}
    assert np.isnan(x[1, 0])  # the input is not changed
    np.testing.assert_array_equal(marked[[0, 2]], x[[0, 2]])


def test_regression_adjustment_needs_ten_points_per_statistic_and_stays_in_the_prior():
    rng = np.random.default_rng(4)
    z = rng.uniform(-1, 1, (60, 2))
    theta = 0.5 + 0.2 * z[:, :1] + rng.normal(0, 0.01, (60, 1))
    d = np.sqrt((z**2).mean(axis=1))
    # 2 statistics: at least 10 x 3 = 30 accepted points
    few = abc.adjusted_summary(theta[:29], z[:29], d[:29], {"a": (0.0, 1.0)})
    assert "needs at least 10 x (fitted patterns + 1) = 30" in few["a"]["refused"]
    np.testing.assert_array_equal(abc.regression_adjust(theta[:29], z[:29], d[:29]),
                                  theta[:29])
    ok = abc.adjusted_summary(theta[:30], z[:30], d[:30], {"a": (0.0, 1.0)})["a"]
    assert ok["n"] == 30
    assert ok["median"] == pytest.approx(0.5, abs=0.01)
    assert ok["q95"] - ok["q05"] < 0.05
    # the observed summaries lie beyond every accepted point: theta at z = 0 is 1.2, outside
    # the prior [0, 1]; the adjusted values leave it, and the adjustment is refused
    z1 = rng.uniform(-1.0, -0.4, (40, 1))
    theta1 = 1.2 + 0.5 * z1 + rng.normal(0, 0.01, (40, 1))
    assert theta1.max() <= 1.0
    out = abc.adjusted_summary(theta1, z1, np.abs(z1[:, 0]), {"b": (0.0, 1.0)})
    assert "leaves the prior range" in out["b"]["refused"]
    assert "b" in out["b"]["refused"]


# -- requirements ---------------------------------------------------------------------------------
def test_net_entry_is_a_requirement_and_kinds_are_checked():
    targets = load_targets()
    assert targets["net_entry_rate"].kind == "requirement"
    assert {t.kind for k, t in targets.items() if k != "net_entry_rate"} == {"observation"}
    assert targets["net_entry_rate"].to_dict()["kind"] == "requirement"
    with pytest.raises(InputError) as err:
        parse_targets({"a": {"pattern": "p", "value": 1, "tolerance": 0.1,
                             "source": "docs/sources.md#x", "kind": "wish"}}, "f.toml")
    assert err.value.key == "targets.a.kind"
    assert "observation" in err.value.message


# -- the pipeline on the Ishigami stand-in --------------------------------------------------------
ISHIGAMI = """
[calibration]
name = "ishi"
model = "ishigami"

[design]
method = "lhs"
samples = 200
seed = 8

[overrides]
x3 = 0.0
noise = 0.2

[[parameters]]
name = "x1"
range = [0.0, 1.5]

[[parameters]]
name = "x2"
range = [0.0, 1.5]

[patterns]
fit = ["y"]

[acceptance]
rule = "both"
quantile = 0.2

[targets.y]
pattern = "y"
value = 4.0
tolerance = 0.5
source = "docs/sources.md#calibration-methods"
"""

NPE_TABLE = """
[posterior]
method = "npe"
draws = 500
holdout = 0.2
seed = 4
"""


def test_the_same_npe_calibration_twice_gives_the_same_draws_and_resumes(tmp_path):
    f = tmp_path / "ishi.toml"
    f.write_text(ISHIGAMI + NPE_TABLE)
    a = calibrate(f, tmp_path / "a", workers=1, progress=False)
    b = calibrate(f, tmp_path / "b", workers=1, progress=False)
    da = (tmp_path / "a" / "posterior_draws.csv").read_bytes()
    assert da == (tmp_path / "b" / "posterior_draws.csv").read_bytes()
    draws = pd.read_csv(tmp_path / "a" / "posterior_draws.csv")
    assert list(draws.columns) == ["draw", "x1", "x2"]
    assert list(draws["draw"]) == list(range(500))
    assert draws[["x1", "x2"]].ge(0).all().all()
    assert draws[["x1", "x2"]].le(1.5).all().all()
    assert a.report["posterior_draws"] == {"file": "posterior_draws.csv", "n": 500,
                                           "method": "npe"}
    assert a.report["posterior"] == b.report["posterior"]
    # started again: no run is made, the training is redone from the runs, same draws
    again = calibrate(f, tmp_path / "a", workers=1, progress=False)
    assert (again.summary.already, again.summary.ran) == (200, 0)
    assert (tmp_path / "a" / "posterior_draws.csv").read_bytes() == da
    assert not list((tmp_path / "a").glob(".*.tmp"))
    assert not (tmp_path / "sbi-logs").exists()


def test_npe_on_design_points_trains_on_the_means_of_their_replicates(tmp_path):
    f = tmp_path / "ishi.toml"
    f.write_text(ISHIGAMI.replace("samples = 200\nseed = 8",
                                  "samples = 100\nseed = 8\nreplicates = 2")
                 + NPE_TABLE + 'pairs = "points"\n')
    rep = calibrate(f, tmp_path / "out", workers=1, progress=False).report
    assert rep["runs"]["total"] == 200
    pairs = rep["inference"]["pairs"]
    assert (pairs["unit"], pairs["runs_ok"], pairs["used"]) == ("points", 200, 100)
    assert rep["inference"]["training"]["held_out_points"] == 20
    assert rep["posterior_draws"]["n"] == 500
    # the same runs trained one by one: twice the pairs, other draws
    f.write_text(f.read_text().replace('pairs = "points"', 'pairs = "runs"'))
    runs = calibrate(f, tmp_path / "out", workers=1, progress=False).report
    assert runs["inference"]["pairs"]["used"] == 200


def test_rejection_writes_the_accepted_points_as_draws(tmp_path):
    f = tmp_path / "ishi.toml"
    f.write_text(ISHIGAMI + '\n[posterior]\nmethod = "rejection"\n')
    rep = calibrate(f, tmp_path / "out", workers=1, progress=False).report
    draws = pd.read_csv(tmp_path / "out" / "posterior_draws.csv")
    table = pd.read_csv(tmp_path / "out" / "patterns.csv")
    acc = table[table["accepted"]]
    assert rep["accepted"] == len(acc) == len(draws) > 0
    assert rep["posterior_draws"] == {"file": "posterior_draws.csv", "n": len(draws),
                                      "method": "rejection"}
    np.testing.assert_array_equal(draws["x1"].to_numpy(), acc["x1"].to_numpy())
    np.testing.assert_array_equal(draws["x2"].to_numpy(), acc["x2"].to_numpy())
    assert (tmp_path / "out" / "posterior.png").is_file()
    assert not (tmp_path / "out" / "sbc_ranks.png").exists()
    for p in rep["posterior"].values():
        assert isinstance(p["at_prior_edge"], bool)
        assert "refused" in p["adjusted"] or "median" in p["adjusted"]
    # without [posterior] the same: rejection, and its draws
    f.write_text(ISHIGAMI)
    same = calibrate(f, tmp_path / "out", workers=1, progress=False).report
    assert same["posterior_draws"]["method"] == "rejection"
    # nothing accepted: no draws file (an earlier one is removed), and calibration.json says so
    f.write_text(ISHIGAMI.replace("value = 4.0", "value = 40.0").replace(
        'rule = "both"\nquantile = 0.2', 'rule = "tolerance"'))
    none = calibrate(f, tmp_path / "out", workers=1, progress=False).report
    assert none["accepted"] == 0
    assert none["posterior_draws"]["file"] is None
    assert none["posterior_draws"]["n"] == 0
    assert "no accepted points" in none["posterior_draws"]["note"]
    assert not (tmp_path / "out" / "posterior_draws.csv").exists()
    assert not (tmp_path / "out" / "posterior.png").exists()
    rep = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert rep["posterior_draws"]["file"] is None


BAD_POSTERIOR = [
    ('[posterior]\nmethod = "npee"\n', "posterior.method", "did you mean 'npe'"),
    ("[posterior]\ndraw = 10\n", "posterior.draw", "unknown key"),
    ("[posterior]\ndraws = 0\n", "posterior.draws", "an integer >= 1"),
    ("[posterior]\ndraws = 2000000\n", "posterior.draws", "an integer from 1 to"),
    ("[posterior]\ndraws = 2.5\n", "posterior.draws", "an integer"),
    ("[posterior]\nholdout = 0.9\n", "posterior.holdout", "from 0 to 0.5"),
    ('[posterior]\nholdout = "a tenth"\n', "posterior.holdout", "from 0 to 0.5"),
    ("[posterior]\nseed = -1\n", "posterior.seed", "an integer"),
    ('[posterior]\nmethod = "rejection"\ndraws = 100\n', "posterior.draws",
     "not used by method 'rejection'"),
    ("posterior = 3\n", "posterior", ""),
]


@pytest.mark.parametrize(("text", "key", "what"), BAD_POSTERIOR,
                         ids=[b[1] + "-" + str(i) for i, b in enumerate(BAD_POSTERIOR)])
def test_bad_posterior_tables_exit_2_with_one_line(tmp_path, capsys, text, key, what):
    f = tmp_path / "ishi.toml"
    # a top-level key must come before the first table
    f.write_text(text + ISHIGAMI if not text.startswith("[") else ISHIGAMI + text)
    out = tmp_path / "out"
    assert main(["calibrate", str(f), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert err.startswith(f"clustersim calibrate: error: {f}: {key}")
    assert what in err
    assert not out.exists()


def test_the_posterior_table_defaults():
    from sim.core.fields import FileCheck
    from sim.studies.calibrate.run import _posterior_table

    chk = FileCheck("f.toml")
    assert _posterior_table(chk, {}, 9) is None
    assert _posterior_table(chk, {"posterior": {}}, 9) == {"method": "npe", "draws": 4000,
                                                            "holdout": 0.1, "seed": 9,
                                                            "pairs": "runs",
                                                            "missing": "drop"}


# -- end to end on the cluster model --------------------------------------------------------------
SMALL_SCENARIO = """
[scenario]
name = "small"
steps = 36

[params]
n_firms = 100
"""

SMALL = """
[calibration]
name = "small"
scenario = "small.toml"
steps = 36
burn_in = 12
growth_window = 12

[design]
method = "lhs"
samples = 300
seed = 7

[[parameters]]
name = "growth_sd"
range = [0.02, 0.12]

[[parameters]]
name = "entry_rate"
range = [0.002, 0.02]

[patterns]
fit = ["entry_rate", "exit_rate", "micro_share", "mean_size", "net_entry_rate"]

[acceptance]
rule = "quantile"
quantile = 0.1

[posterior]
method = "npe"
draws = 2000
holdout = 0.2
seed = 1

[targets.entry_rate]
pattern = "annual_entry_rate"
value = 0.12
interval = [0.09, 0.15]
source = "docs/sources.md#entry-and-exit"
"""


@pytest.mark.statistical
@pytest.mark.slow
def test_npe_calibration_of_the_cluster_model_end_to_end(tmp_path, capsys):
    (tmp_path / "small.toml").write_text(SMALL_SCENARIO)
    f = tmp_path / "cal.toml"
    f.write_text(SMALL)
    out = tmp_path / "out"
    assert main(["calibrate", str(f), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "posterior by NPE (sbi) on" in printed
    assert "posterior_draws.csv (2000 npe draws)" in printed
    rep = json.loads((out / "calibration.json").read_text())
    assert rep["posterior_draws"] == {"file": "posterior_draws.csv", "n": 2000, "method": "npe"}
    draws = pd.read_csv(out / "posterior_draws.csv")
    assert list(draws.columns) == ["draw", "growth_sd", "entry_rate"]
    assert len(draws) == 2000
    assert draws["growth_sd"].between(0.02, 0.12).all()
    assert draws["entry_rate"].between(0.002, 0.02).all()
    info = rep["inference"]
    assert info["method"] == "npe"
    assert info["pairs"]["runs_ok"] == 300
    assert info["pairs"]["used"] + info["pairs"]["dropped_missing_pattern"] == 300
    assert info["training"]["held_out_points"] == 60
    assert info["checks"]["truths"] == info["training"]["held_out_runs"]
    # the requirement is conditioned on, and reported apart from the observations
    assert info["conditioned_on"]["requirements"] == {"net_entry_rate": 0.0}
    assert "net_entry_rate" not in info["conditioned_on"]["observations"]
    assert [t["key"] for t in rep["requirements"]] == ["net_entry_rate"]
    assert rep["requirements"][0]["kind"] == "requirement"
    assert "net_entry_rate" not in [t["key"] for t in rep["fitted"]]
    assert info["measurement_noise_sd"]["entry_rate"] == pytest.approx(0.015)
    for name in ("growth_sd", "entry_rate"):
        p = rep["posterior"][name]
        assert p["method"] == "npe"
        assert p["q05"] <= p["median"] <= p["q95"]
        assert isinstance(p["at_prior_edge"], bool)
        # 60 held-out truths: nominal 0.9 with binomial sd 0.04; stated tolerance 0.7-1.0
        assert 0.7 <= p["coverage"]["central_90"] <= 1.0
        assert 0 <= p["sbc"]["ks_pvalue"] <= 1
        assert p["recovery"]["verdict"] in ("identified", "weakly identified",
                                            "not identified")
        assert "median" in p["rejection"]
    # the entry-rate pattern pins the entry rate down
    assert rep["posterior"]["entry_rate"]["recovery"]["r2"] >= 0.5
    assert rep["posterior"]["entry_rate"]["recovery"]["verdict"] == "identified"
    for name in ("posterior.png", "sbc_ranks.png", "parameters.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
        assert name in rep["figures"]
    assert math.isfinite(rep["posterior"]["entry_rate"]["median"])

    # the posterior predictive check: the model run at posterior draws, the same whatever the
    # number of worker processes
    from sim.studies.calibrate.predictive import predictive_check, summarise

    runs, cal = predictive_check(out, draws=4, replicates=2, seed=3, workers=1)
    again, _ = predictive_check(out, draws=4, replicates=2, seed=3, workers=2)
    pd.testing.assert_frame_equal(runs, again)
    assert len(runs) == 8
    assert runs["seed"].nunique() == 8
    assert runs["growth_sd"].between(0.02, 0.12).all()
    assert set(runs["draw"]) <= set(draws["draw"])
    table = summarise(runs, cal)
    assert list(table["target"]) == ["entry_rate", "exit_rate", "micro_share", "mean_size",
                                     "net_entry_rate"]
    assert (table["draws_measured"] == 4).all()
    assert table["share_within"].between(0, 1).all()
    assert (table["q05"] <= table["median"]).all()
    assert (table["median"] <= table["q95"]).all()


def test_shipped_calibration_files_still_load_without_posterior():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cal = load_calibration(root / "experiments" / "calibrate_default.toml")
    assert cal.posterior_method in ("rejection", "npe")
    assert [t.key for t in cal.fit if t.kind == "requirement"] == ["net_entry_rate"]


def test_too_few_runs_for_npe_write_no_draws_and_say_why(tmp_path):
    f = tmp_path / "ishi.toml"
    f.write_text(ISHIGAMI.replace("samples = 200", "samples = 40") + NPE_TABLE)
    rep = calibrate(f, tmp_path / "out", workers=1, progress=False).report
    assert rep["posterior_draws"]["file"] is None
    assert rep["posterior_draws"]["n"] == 0
    assert "NPE needs at least 50" in rep["posterior_draws"]["note"]
    assert rep["posterior"]["x1"]["median"] is None
    assert "median" in rep["posterior"]["x1"]["rejection"]
    assert not (tmp_path / "out" / "posterior_draws.csv").exists()


def test_integer_parameters_are_spread_over_their_rounding_cells():
    from sim.studies.calibrate.posterior import dequantise
    from sim.studies.calibrate.run import FreeParameter

    p = FreeParameter("exit_patience", 4.0, 9.0, integer=True)
    rng = np.random.default_rng(2)
    # the design rounds a uniform value on [4, 9]: 4 and 9 get half cells
    v = np.rint(rng.uniform(4.0, 9.0, 20_000))
    u = dequantise(p, v, rng)
    assert ((u > 0) & (u < 1)).all()
    np.testing.assert_array_equal(np.rint(4.0 + 5.0 * u), v)
    # uniform again: each tenth of the box holds a tenth of the values (binomial sd 0.002)
    shares = np.histogram(u, bins=10, range=(0, 1))[0] / u.size
    np.testing.assert_allclose(shares, 0.1, atol=0.01)
