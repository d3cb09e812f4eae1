"""Calibration by pattern-oriented modelling (sim.studies.calibrate): targets, ABC, the patterns
model, the calibration file, the pipeline and ``clustersim calibrate``.

The ABC recovery test uses the Ishigami stand-in with x1 = x3 = 0, where y = 7 sin^2(x2) is
monotone in x2 on [0, pi/2], so the parameter that produced an observed y is known exactly.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.core.errors import InputError
from sim.core.params import ParameterError
from sim.studies.calibrate import abc
from sim.studies.calibrate.run import calibrate, load_calibration, sweep_toml
from sim.studies.calibrate.targets import Target, load_targets, parse_targets
from sim.studies.sweep import patterns as pmodel

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "docs" / "sources.md"

TRUE_X2 = 1.0
TOY = f"""
[calibration]
name = "toy"
model = "ishigami"

[design]
method = "lhs"
samples = 240
seed = 3
seeding = "independent"

[overrides]
x1 = 0.0
x3 = 0.0
noise = 0.2

[[parameters]]
name = "x2"
range = [0.0, 1.5]

[patterns]
fit = ["y"]

[acceptance]
rule = "both"
quantile = 0.1

[targets.y]
pattern = "y"
value = {7 * math.sin(TRUE_X2) ** 2!r}
tolerance = 0.3
source = "docs/sources.md#calibration-methods"
"""

TINY_SCENARIO = """
[scenario]
name = "tiny"
steps = 24

[params]
n_firms = 60
"""

TINY = """
[calibration]
name = "tiny"
scenario = "tiny.toml"
steps = 14
burn_in = 2
growth_window = 12

[design]
method = "lhs"
samples = 2
seed = 5

[[parameters]]
name = "growth_sd"
range = [0.02, 0.2]

[[parameters]]
name = "exit_patience"
range = [3, 12]

[patterns]
fit = ["micro_share", "zipf_exponent", "growth_mad_sd", "entry_rate", "exit_rate"]
hold_out = ["mean_size", "growth_kurtosis"]

[acceptance]
rule = "quantile"
quantile = 0.5
"""


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors() -> set[str]:
    lines = SOURCES.read_text(encoding="utf-8").splitlines()
    return {_slug(line.lstrip("#")) for line in lines if line.startswith("#")}


# -- targets ---------------------------------------------------------------------------------------
def test_shipped_targets_cite_sections_of_sources_md():
    targets = load_targets()
    assert {"micro_share", "zipf_exponent", "growth_mad_sd", "entry_rate", "exit_rate",
            "facility_completion", "stone_employment", "stone_firms", "tirupur_dyeing_units",
            "tirupur_cetp_share", "tirupur_cetps_formed"} <= set(targets)
    anchors = _anchors()
    for t in targets.values():
        assert t.source.split("#", 1)[1] in anchors, t.key
        assert t.pattern in pmodel.PATTERNS, t.key
        assert t.low < t.value < t.high
    # the Laplace value of the growth-shape target excludes the normal one
    g = targets["growth_mad_sd"]
    assert g.within(1 / math.sqrt(2))
    assert not g.within(math.sqrt(2 / math.pi))


def test_target_z_is_in_half_intervals_on_each_side():
    t = Target("k", "p", value=1.0, low=0.5, high=3.0, source="docs/sources.md#x")
    np.testing.assert_allclose(t.z([1.0, 3.0, 5.0, 0.5, 0.0]), [0, 1, 2, -1, -2])
    np.testing.assert_array_equal(t.within([0.49, 0.5, 3.0, 3.01]), [False, True, True, False])
    assert math.isnan(t.z([np.nan])[0])


@pytest.mark.parametrize(("table", "key", "what"), [
    ({"a": {"pattern": "p", "value": 1, "source": "docs/sources.md#x"}}, "targets.a",
     "either interval"),
    ({"a": {"pattern": "p", "value": 1, "interval": [2, 3], "source": "docs/sources.md#x"}},
     "targets.a.interval", "low < value"),
    ({"a": {"pattern": "p", "value": 1, "tolerance": 0.1, "source": "https://example.org/facts"}},
     "targets.a.source", "docs/sources.md#ANCHOR"),
    ({"a": {"pattern": "p", "value": 1, "tolerance": 0.1, "source": "docs/sources.md#x",
            "sauce": 1}}, "targets.a.sauce", "unknown key"),
])
def test_bad_targets_are_refused(table, key, what):
    with pytest.raises(InputError) as err:
        parse_targets(table, "f.toml")
    assert err.value.key == key
    assert what in err.value.message


# -- ABC -------------------------------------------------------------------------------------------
def _targets():
    return [Target("a", "pa", 0.0, -1.0, 1.0, "docs/sources.md#x"),
            Target("b", "pb", 10.0, 8.0, 14.0, "docs/sources.md#x")]


def test_distance_accept_and_summary_on_a_hand_made_table():
    sim = pd.DataFrame({"pa": [0.0, 0.5, 2.0, np.nan, -0.5],
                        "pb": [10.0, 12.0, 10.0, 10.0, 9.0],
                        "theta": [1.0, 2.0, 3.0, 4.0, 5.0]})
    d = abc.distances(sim, _targets())
    # z: (0, 0), (0.5, 0.5), (2, 0), nan, (-0.5, -0.5)
    np.testing.assert_allclose(d, [0.0, 0.5, math.sqrt(2.0), np.inf, 0.5])
    inside = abc.within(sim, _targets())
    np.testing.assert_array_equal(inside, [True, True, False, False, True])
    np.testing.assert_array_equal(abc.accept(d, inside, "tolerance", 0.1),
                                  [True, True, False, False, True])
    np.testing.assert_array_equal(abc.accept(d, inside, "quantile", 0.4),
                                  [True, True, False, False, False])
    np.testing.assert_array_equal(abc.accept(d, inside, "both", 0.6),
                                  [True, True, False, False, True])
    weighted = abc.distances(sim, _targets(), {"b": 3.0})
    assert weighted[2] == pytest.approx(math.sqrt(4.0 / 4.0))
    s = abc.summarise(sim, abc.accept(d, inside, "tolerance", 0.1), d, {"theta": (0.0, 6.0)})
    assert s["accepted"] == 3
    assert s["points"] == 5
    assert s["parameters"]["theta"]["accepted_range"] == [1.0, 5.0]
    assert s["parameters"]["theta"]["median"] == 2.0
    assert s["best"]["theta"] == 1.0
    assert s["best"]["distance"] == 0.0
    none = abc.summarise(sim, np.zeros(5, dtype=bool), d, {"theta": (0.0, 6.0)})
    assert none["accepted"] == 0
    assert none["parameters"]["theta"]["median"] is None


@pytest.mark.statistical
def test_regression_adjustment_removes_the_linear_dependence_on_the_summary():
    rng = np.random.default_rng(5)
    n = 2_000
    z = rng.uniform(-1, 1, (n, 1))
    theta = 2.0 + 0.5 * z[:, 0] + rng.normal(0, 0.01, n)  # theta given s_obs (z = 0) is 2
    d = np.abs(z[:, 0])
    adj = abc.regression_adjust(theta[:, None], z, d)
    assert np.std(theta) > 0.25
    assert adj.mean() == pytest.approx(2.0, abs=0.005)
    assert np.std(adj) < 0.02
    # too few points: unchanged
    np.testing.assert_array_equal(abc.regression_adjust(theta[:2, None], z[:2], d[:2]),
                                  theta[:2, None])


@pytest.mark.statistical
@pytest.mark.slow
def test_abc_on_the_ishigami_toy_recovers_the_true_parameter(tmp_path):
    f = tmp_path / "toy.toml"
    # 400 points: enough accepted (>= 20) for the regression adjustment with one statistic
    f.write_text(TOY.replace("samples = 240", "samples = 400"))
    result = calibrate(f, tmp_path / "out", workers=1, progress=False)
    rep = json.loads((tmp_path / "out" / "calibration.json").read_text())
    post = rep["posterior"]["x2"]
    # y = 7 sin^2(x2), noise sd 0.2, tolerance 0.3: |dy/dx2| = 7 sin(2) = 6.4 at the truth, so
    # accepted x2 lie within about 0.3 / 6.4 = 0.05 of it, plus the noise's 0.2 / 6.4 = 0.03
    assert post["median"] == pytest.approx(TRUE_X2, abs=0.03)
    assert TRUE_X2 - 0.1 < post["q05"] <= TRUE_X2 <= post["q95"] < TRUE_X2 + 0.1
    assert rep["accepted"] == result.report["accepted"] >= 20
    assert rep["best"]["x2"] == pytest.approx(TRUE_X2, abs=0.06)
    assert abs(post["adjusted"]["median"] - TRUE_X2) < 0.03


@pytest.mark.statistical
@pytest.mark.slow
def test_smm_refinement_on_the_ishigami_toy(tmp_path):
    f = tmp_path / "toy.toml"
    f.write_text(TOY.replace("samples = 240", "samples = 120") + "\n[refine]\nreplicates = 8\n")
    rep = calibrate(f, tmp_path / "out", workers=1, progress=False).report
    smm = rep["smm"]
    # the quadratic metamodel of 7 sin^2(x2) near x2 = 1 is accurate; the noise (sd 0.2 per
    # run, 30 points in the fit) moves the estimate by about 0.2 / 6.4 / sqrt(30) = 0.006
    assert smm["estimate"]["x2"] == pytest.approx(TRUE_X2, abs=0.03)
    assert smm["metamodel"]["degree"] == 2
    assert smm["metamodel"]["r2"]["y"] > 0.8
    check = smm["check"]
    assert check["ok"] == 8
    assert check["patterns"]["y"]["within"]
    # 8 runs with noise sd 0.2: the mean is within 4 standard errors of the target
    assert abs(check["patterns"]["y"]["mean"] - 7 * math.sin(TRUE_X2) ** 2) < 4 * 0.2 / 8**0.5
    assert (tmp_path / "out" / check["folder"] / "runs.parquet").is_file()


def test_smm_metamodel_recovers_a_quadratic_exactly():
    from sim.studies.calibrate import smm

    rng = np.random.default_rng(1)
    theta = rng.uniform(0, 2, (60, 2))
    # pattern m = (theta1 - 1.2)^2 + theta2: zero-distance point theta1 = 1.2, theta2 = 0.5
    m = (theta[:, 0] - 1.2) ** 2 + theta[:, 1]
    t = Target("m", "m", 0.5, 0.0, 1.0, "docs/sources.md#x")
    t2 = Target("n", "n", 1.2, 1.0, 1.4, "docs/sources.md#x")
    sims = np.column_stack([m, theta[:, 0]])
    dist = abc.distances(pd.DataFrame({"m": m, "n": theta[:, 0]}), [t, t2])
    est = smm.estimate(theta, sims, dist, [(0, 2), (0, 2)], [t, t2], [1.0, 1.0], share=1.0)
    np.testing.assert_allclose(est["theta"], [1.2, 0.5], atol=1e-4)
    assert est["distance"] < 1e-4
    np.testing.assert_allclose(est["r2"], [1.0, 1.0])
    np.testing.assert_allclose(est["q2"], [1.0, 1.0])
    assert est["degree"] == 2
    assert smm.estimate(theta[:2], sims[:2], dist[:2], [(0, 2), (0, 2)], [t, t2],
                        [1.0, 1.0]) is None


# -- the patterns model ----------------------------------------------------------------------------
def test_measure_on_hand_made_outputs():
    series = pd.DataFrame({"step": [0, 1, 2, 3], "firms": [10, 10, 20, 20],
                           "entries": [0, 5, 1, 1], "exits": [0, 0, 2, 0],
                           "facility_use_rate": [0.0, 0.0, 0.5, 0.7],
                           "facilities_operating": [0, 0, 1, 1]})
    before = pd.DataFrame({"firm_id": [1, 2, 3], "employees": [2.0, 4.0, 10.0]})
    after = pd.DataFrame({"firm_id": [2, 3, 4], "employees": [4.0, 20.0, 1.0],
                          "sector": ["stone", "food", "stone"], "uses_facility": [3, 0, 0]})
    cfg = pmodel.settings({"burn_in": 1, "min_tail": 5, "sector": "stone"})
    out = pmodel.measure(series, before, after, [2, 3, 0, 2], [0, 0, 0, 0], cfg)
    assert out["micro_share"] == pytest.approx(2 / 3)
    assert out["mean_size"] == pytest.approx(25 / 3)
    assert math.isnan(out["zipf_exponent"])  # 3 firms < min_tail
    assert out["growth_n"] == 2
    assert out["annual_entry_rate"] == pytest.approx(12 * 2 / 40)
    assert out["annual_exit_rate"] == pytest.approx(12 * 2 / 40)
    assert out["facility_completion"] == pytest.approx(2 / 3)
    assert out["facility_utilisation"] == pytest.approx(0.6)
    assert (out["sector_firms"], out["sector_employment"]) == (2.0, 5.0)
    assert out["sector_facility_use"] == 1.0  # both stone firms use a facility (3 and 0)
    assert (out["firms"], out["employment"]) == (3.0, 25.0)
    # publicly sponsored drives, when there are any, are the ones counted
    out = pmodel.measure(series, before, after, [2, 3, 3, 2], [0, 1, 1, 0], cfg)
    assert out["facility_completion"] == 0.0
    assert out["sector_facility_use"] == 0.0  # facilities 3 and 0 are not sponsored
    out = pmodel.measure(series, before, after, [2, 3, 3, 2], [1, 0, 0, 0], cfg)
    assert out["sector_facility_use"] == 0.5  # one of the two stone firms uses facility 0
    assert set(out) == set(pmodel.PATTERNS)
    # without the use column, or without a sector, there is no facility-use share
    out = pmodel.measure(series, before, after.drop(columns="uses_facility"), [2], [0], cfg)
    assert math.isnan(out["sector_facility_use"])
    out = pmodel.measure(series, before, after, [2], [0], pmodel.settings({"burn_in": 1}))
    assert math.isnan(out["sector_facility_use"])


def test_the_patterns_model_is_registered_and_reproducible(tmp_path):
    from sim.studies.sweep import models

    model = models.get("patterns")
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY_SCENARIO)
    assert "patterns" in models.MODELS
    assert model.open(scenario).final == pmodel.PATTERNS
    assert model.version.endswith(pmodel.VERSION)
    kw = {"steps": 13, "overrides": {"patterns.burn_in": 1, "growth_sd": 0.1}}
    a = model.simulate(str(scenario), seed=9, **kw).final
    b = model.simulate(str(scenario), seed=9, **kw).final
    c = model.simulate(str(scenario), seed=10, **kw).final
    assert list(a) == list(pmodel.PATTERNS)
    assert np.array_equal(np.array(list(a.values())), np.array(list(b.values())),
                          equal_nan=True)
    assert a != c
    with pytest.raises(ParameterError, match="at least 13 months"):
        model.simulate(str(scenario), seed=9, steps=12, overrides={})


def test_a_batch_of_pattern_runs_equals_the_runs_one_by_one(tmp_path):
    from sim.studies.sweep import models

    model = models.get("patterns")
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY_SCENARIO)
    overrides = [{"patterns.burn_in": 1}, {"patterns.burn_in": 1, "growth_sd": 0.1},
                 {"patterns.burn_in": 1, "growth_sd": -1.0},  # out of range: this run fails
                 {"patterns.burn_in": 2, "growth_sd": 0.1}]
    seeds = [4, 4, 5, 6]
    batch = list(model.simulate_many(str(scenario), steps=13, seeds=seeds, overrides=overrides,
                                     final=pmodel.PATTERNS, series=(), every=1))
    assert len(batch) == 4
    assert isinstance(batch[2], InputError)
    for k in (0, 1, 3):
        alone = model.simulate(str(scenario), steps=13, seed=seeds[k], overrides=overrides[k])
        assert np.array_equal(np.array(list(batch[k].final.values())),
                              np.array(list(alone.final.values())), equal_nan=True)
        pd.testing.assert_frame_equal(batch[k].series, alone.series, check_exact=True)
        assert batch[k].provenance["overrides"] == alone.provenance["overrides"]
    assert batch[0].final != batch[1].final  # the overrides of each run are its own


def test_pattern_settings_are_checked():
    with pytest.raises(ParameterError, match="unknown setting"):
        pmodel.settings({"burnin": 3})
    with pytest.raises(ParameterError, match="allowed: an integer >= 0"):
        pmodel.settings({"burn_in": -1})
    with pytest.raises(ParameterError, match="stone, food"):
        pmodel.settings({"sector": "textiles"}, ("stone", "food"))
    own, rest = pmodel.split_overrides({"patterns.burn_in": 3, "growth_sd": 0.1})
    assert own == {"burn_in": 3}
    assert rest == {"growth_sd": 0.1}


# -- calibration files -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["calibrate_default.toml", "calibrate_hebron.toml",
                                  "calibrate_tirupur.toml"])
def test_shipped_calibration_files_are_valid(name):
    cal = load_calibration(ROOT / "experiments" / name)
    assert cal.fit
    assert cal.hold_out
    assert cal.scenario is not None
    assert cal.scenario.is_file()
    assert cal.settings["burn_in"] > 0
    text = sweep_toml(cal)
    assert 'model = "patterns"' in text
    assert f'"patterns.burn_in" = {cal.settings["burn_in"]}' in text


def test_the_tirupur_calibration_fits_the_tirupur_sources():
    cal = load_calibration(ROOT / "experiments" / "calibrate_tirupur.toml")
    assert cal.scenario.name == "tirupur_cetp.toml"
    assert cal.settings["sector"] == "dyeing"
    shipped = load_targets()
    for t in (*cal.fit, *cal.hold_out):
        assert shipped[t.key] == t  # the shipped targets, not the file's own
    tirupur = {t.key for t in (*cal.fit, *cal.hold_out)
               if t.source.startswith("docs/sources.md#tirupur")}
    assert {t.key for t in cal.fit} <= tirupur
    assert "tirupur_cetps_formed" in tirupur
    # the units' ratio to the month before the court order (month 24), the anchor
    # tirupur_units_now, measured 165 months after it: the run ends today
    assert "tirupur_units_ratio" in {t.key for t in cal.fit}
    assert cal.settings["burn_in"] == 24
    assert cal.steps == 24 + 166


def _write(tmp_path, text: str, scenario: bool = True) -> Path:
    if scenario:
        (tmp_path / "tiny.toml").write_text(TINY_SCENARIO)
    f = tmp_path / "cal.toml"
    f.write_text(text)
    return f


BAD = [
    ("unknown top-level key", TINY + "\n[extra]\nx = 1\n", "extra", "unknown key"),
    ("unknown parameter", TINY.replace('name = "growth_sd"', 'name = "growth_sdd"'),
     "parameters[0].name", "did you mean 'growth_sd'"),
    ("range beyond the table", TINY.replace("range = [0.02, 0.2]", "range = [0.02, 1.5]"),
     "parameters[0].range", "outside the parameter table's limits"),
    ("non-numeric parameter", TINY.replace('name = "growth_sd"', 'name = "entry_mode"'),
     "parameters[0].name", "a numeric parameter"),
    ("unknown pattern", TINY.replace('"zipf_exponent"', '"zipf_exponnt"'), "patterns.fit[1]",
     "did you mean"),
    ("fitted and held out", TINY.replace('hold_out = ["mean_size"', 'hold_out = ["micro_share"'),
     "patterns.hold_out[0]", "either fitted or held out"),
    ("too short for the burn-in", TINY.replace("steps = 14", "steps = 10"), "calibration.steps",
     "at least 13"),
    ("sector target without a sector", TINY.replace('"growth_kurtosis"]',
                                                    '"growth_kurtosis", "stone_firms"]'),
     "patterns.hold_out[2]", "needs calibration.sector"),
    ("facility-use target without a sector", TINY.replace(
        '"growth_kurtosis"]', '"growth_kurtosis", "tirupur_cetp_share"]'),
     "patterns.hold_out[2]", "needs calibration.sector"),
    ("unknown sector", TINY.replace("growth_window = 12", 'growth_window = 12\nsector = "x"'),
     "calibration.sector", "a sector name of the scenario"),
    ("bad rule", TINY.replace('rule = "quantile"', 'rule = "quantil"'), "acceptance.rule",
     "did you mean 'quantile'"),
    ("quantile with tolerance", TINY.replace('rule = "quantile"', 'rule = "tolerance"'),
     "acceptance.quantile", "not used by rule 'tolerance'"),
    ("sobol not a power of two", TINY.replace('method = "lhs"\nsamples = 2',
                                              'method = "sobol"\nsamples = 3'),
     "design.samples", "a power of two"),
    ("missing scenario", TINY.replace('scenario = "tiny.toml"', 'scenario = "nope.toml"'),
     "calibration.scenario", "no such file"),
    ("pattern setting in overrides", TINY + '\n[overrides]\n"patterns.burn_in" = 3\n',
     "overrides.patterns.burn_in", "set the pattern settings in [calibration]"),
    ("not TOML", "[calibration\n", "", "not valid TOML"),
    ("bad override", TINY + "\n[overrides]\ngrowth_sdd = 0.1\n", "overrides",
     "did you mean 'growth_sd'"),
    ("override out of range", TINY + "\n[overrides]\nspinoff_prob = 2.0\n", "overrides",
     "spinoff_prob: got 2.0"),
]


@pytest.mark.parametrize(("case", "text", "key", "what"), BAD, ids=[b[0] for b in BAD])
def test_bad_calibration_files_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, case,
                                                                      text, key, what):
    f = _write(tmp_path, text)
    out = tmp_path / "out"
    assert main(["calibrate", str(f), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert err.startswith(f"clustersim calibrate: error: {f}: {key}" if key
                          else f"clustersim calibrate: error: {f}: ")
    assert what in err
    assert not out.exists()


def test_missing_file_and_foreign_out_directory_exit_2(tmp_path, capsys):
    assert main(["calibrate", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "none.toml: no such file" in capsys.readouterr().err
    f = tmp_path / "toy.toml"
    f.write_text(TOY)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    assert main(["calibrate", str(f), "--out", str(foreign), "--workers", "1"]) == 2
    assert "not a calibration directory" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["keep.txt"]
    assert main(["calibrate", str(f), "--out", str(tmp_path / "o2"), "--workers", "0"]) == 2
    assert not (tmp_path / "o2").exists()


def test_analysis_and_figures_survive_failed_runs(tmp_path):
    from sim.studies.calibrate.run import analyse, write_outputs

    f = tmp_path / "toy.toml"
    f.write_text(TOY)
    cal = load_calibration(f)
    runs = pd.DataFrame({"id": ["a", "b", "c"], "point": [0, 1, 2], "replicate": [0, 0, 0],
                         "status": ["failed", "ok", "failed"], "x2": [0.2, 1.0, 1.4],
                         "y": [np.nan, 7 * math.sin(1.0) ** 2, np.nan],
                         "wall_time": [0.1, 0.1, 0.1]})
    table, report = analyse(cal, runs)
    assert list(table["runs_ok"]) == [0, 1, 0]
    assert np.isinf(table["distance"].to_numpy()[[0, 2]]).all()
    assert report["accepted"] == 1
    assert report["runs"]["failed"] == 2
    files = write_outputs(tmp_path / "out", cal, table, report)
    assert len(files) == 2
    rep = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert rep["best"]["x2"] == 1.0
    table, report = analyse(cal, runs.assign(status="failed"))
    assert report["accepted"] == 0
    assert report["best"] is None
    write_outputs(tmp_path / "none", cal, table, report)
    assert json.loads((tmp_path / "none" / "calibration.json").read_text())["accepted"] == 0


# -- resuming --------------------------------------------------------------------------------------
def test_resuming_runs_only_what_is_missing_and_a_new_design_is_refused(tmp_path, capsys):
    f = tmp_path / "toy.toml"
    f.write_text(TOY.replace("samples = 240", "samples = 20"))
    out = tmp_path / "out"
    first = calibrate(f, out, workers=1, progress=False)
    assert first.summary.ok == 20
    runs = sorted((out / "sweep" / "runs").glob("*.json"))
    for p in runs[:5]:  # as if the first calibration had been killed before these finished
        p.unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in runs[5:]}
    again = calibrate(f, out, workers=1, progress=False)
    assert (again.summary.already, again.summary.ran) == (15, 5)
    assert {p.name: p.stat().st_mtime_ns for p in runs[5:]} == kept
    assert again.report["accepted"] == first.report["accepted"]
    # another design in the same directory is refused, and nothing is rewritten
    before = (out / "calibration.json").read_bytes()
    f.write_text(TOY.replace("samples = 240", "samples = 24"))
    assert main(["calibrate", str(f), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"clustersim calibrate: error: {f}: ")
    assert "holds a sweep of a different design" in err
    assert (out / "calibration.json").read_bytes() == before


# -- end to end on the cluster model ---------------------------------------------------------------
@pytest.mark.slow
def test_cli_end_to_end_on_a_tiny_cluster(tmp_path, capsys):
    f = _write(tmp_path, TINY)
    out = tmp_path / "out"
    assert main(["calibrate", str(f), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    assert "design points accepted" in capsys.readouterr().out
    rep = json.loads((out / "calibration.json").read_text())
    assert rep["format"] == "clustersim-calibration/1"
    prov = rep["provenance"]
    assert prov["seed"] == 5
    assert prov["scenario"]["hash"]
    assert prov["package_version"]
    assert [t["key"] for t in rep["fitted"]] == ["micro_share", "zipf_exponent",
                                                 "growth_mad_sd", "entry_rate", "exit_rate"]
    assert [t["key"] for t in rep["held_out"]] == ["mean_size", "growth_kurtosis"]
    assert all(t["source"].startswith("docs/sources.md#") for t in rep["fitted"])
    assert rep["runs"] == {**rep["runs"], "total": 2, "ok": 2, "points": 2, "complete": True}
    assert rep["accepted"] == 1  # rule quantile 0.5 of 2 points
    assert set(rep["posterior"]) == {"growth_sd", "exit_patience"}
    assert rep["best"]["distance"] >= 0
    table = pd.read_csv(out / "patterns.csv")
    assert len(table) == 2
    assert table["accepted"].sum() == 1
    assert table["micro_share"].between(0, 1).all()
    assert pd.api.types.is_integer_dtype(table["exit_patience"])
    figures = sorted(p.name for p in out.glob("*.png"))
    assert len(figures) == 9  # with posterior.png of the accepted point
    assert "parameters.png" in figures
    assert all((out / n).read_bytes()[:4] == b"\x89PNG" for n in figures)
