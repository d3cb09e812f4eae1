"""Experiment files: strict validation (exact messages, exit 2, nothing written) and designs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.core.errors import InputError
from sim.studies.sweep import build_design, load_experiment
from sim.studies.sweep import experiment as experiment_mod
from sim.studies.sweep.experiment import run_seed

ROOT = Path(__file__).resolve().parents[1]
PI = math.pi

BASE = f"""
[experiment]
model = "ishigami"
steps = 4

[design]
method = "grid"
replicates = 2
seed = 7

[[factors]]
path = "x1"
levels = [-1.0, 0.0, 1.0]

[[factors]]
path = "x2"
range = [{-PI!r}, {PI!r}]
num = 3

[outputs]
final = ["y"]
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def sampled(method: str, design: str = "", factors: str = "", overrides: str = "") -> str:
    """An Ishigami experiment of a sampled design; ``factors`` replaces the default three."""
    if not factors:
        factors = "".join(f'[[factors]]\npath = "x{i}"\nrange = [{-PI!r}, {PI!r}]\n\n'
                          for i in (1, 2, 3))
    return (f'[experiment]\nmodel = "ishigami"\n\n[design]\nmethod = "{method}"\nseed = 3\n'
            f"{design}\n{overrides}\n{factors}[outputs]\nfinal = [\"y\"]\n")


# -- validation: one case per kind of mistake ----------------------------------------------------
# (name, text of the file, the message after "clustersim sweep: error: <file>: ")
CASES = [
    ("toml_syntax", BASE.replace("steps = 4", "steps = "),
     "not valid TOML: Invalid value (at line 4, column 9)"),
    ("unknown_table", BASE.replace("[outputs]", "[output]"),
     "output: unknown key (did you mean 'outputs'?); allowed: experiment, design, overrides, "
     "factors, outputs"),
    ("unknown_key", BASE.replace("replicates = 2", "replicats = 2"),
     "design.replicats: unknown key (did you mean 'replicates'?); allowed: method, replicates, "
     "seed, seeding"),
    ("missing_table", BASE.replace("[design]", "[desing]"),
     "desing: unknown key (did you mean 'design'?); allowed: experiment, design, overrides, "
     "factors, outputs"),
    ("missing_design_table", BASE.replace('[design]\nmethod = "grid"\nreplicates = 2\nseed = 7',
                                          ""),
     "design: missing; this table holds method, replicates, seed, seeding and the method's own "
     "keys"),
    ("missing_method", BASE.replace('method = "grid"\n', ""),
     "design.method: missing; allowed: one of 'grid', 'lhs', 'sobol', 'morris'"),
    ("bad_choice", BASE.replace('method = "grid"', 'method = "sobl"'),
     "design.method: got 'sobl'; allowed: one of 'grid', 'lhs', 'sobol', 'morris' (did you mean "
     "'sobol'?)"),
    ("key_of_other_method", BASE.replace("seed = 7", "seed = 7\nsamples = 64"),
     "design.samples: not used by method 'grid'; allowed for 'grid': method, replicates, seed, "
     "seeding"),
    ("wrong_type", BASE.replace("replicates = 2", 'replicates = "two"'),
     "design.replicates: got 'two'; allowed: an integer >= 1"),
    ("out_of_range", BASE.replace("replicates = 2", "replicates = 0"),
     "design.replicates: got 0; allowed: an integer >= 1"),
    ("missing_seed", BASE.replace("seed = 7\n", ""),
     "design.seed: missing; allowed: an integer >= 0 (the sweep's base seed)"),
    ("sobol_not_power_of_two", sampled("sobol", "samples = 100"),
     "design.samples: got 100; allowed: a power of two (Sobol' sequences are balanced only "
     "there), e.g. 64 or 128"),
    ("morris_odd_levels", sampled("morris", "trajectories = 4\nlevels = 5"),
     "design.levels: got 5; allowed: an even integer >= 2 (Morris' step of levels/(2 "
     "(levels-1)) needs an even grid)"),
    ("morris_unbounded", sampled("morris", "trajectories = 4", factors=(
        '[[factors]]\npath = "x1"\ndistribution = "normal"\nmean = 0.0\nsd = 1.0\n\n'
        '[[factors]]\npath = "x2"\nrange = [0.0, 1.0]\n\n')),
     "factors[0].distribution: got 'normal'; allowed for method 'morris': one of 'uniform', "
     "'loguniform', 'triangular', 'truncnormal' (Morris points lie on the edges of the range)"),
    ("unknown_parameter", BASE.replace('path = "x1"', 'path = "x_1"'),
     "factors[0]: x_1: unknown parameter of the Ishigami model (did you mean 'x1'?); allowed: "
     "x1, x2, x3, a, b, noise, cost_ms"),
    ("reversed_range", BASE.replace(f"range = [{-PI!r}, {PI!r}]", "range = [1.0, -1.0]"),
     "factors[1].range: got [1.0, -1.0]; allowed: [low, high] with low < high"),
    ("missing_range", sampled("lhs", "samples = 8",
                              factors='[[factors]]\npath = "x1"\ndistribution = "uniform"\n\n'),
     "factors[0].range: missing; distribution 'uniform' takes range"),
    ("key_of_other_distribution", sampled(
        "lhs", "samples = 8", factors='[[factors]]\npath = "x1"\nrange = [0.0, 1.0]\n'
        'mode = 0.5\n\n'),
     "factors[0].mode: not used by distribution 'uniform', which takes range"),
    ("unknown_distribution", sampled(
        "lhs", "samples = 8", factors='[[factors]]\npath = "x1"\ndistribution = "gaussian"\n'
        'mean = 0.0\nsd = 1.0\n\n'),
     "factors[0].distribution: got 'gaussian'; allowed: one of 'uniform', 'loguniform', "
     "'triangular', 'normal', 'truncnormal', 'lognormal'"),
    ("grid_levels_and_range", BASE.replace("levels = [-1.0, 0.0, 1.0]",
                                           "levels = [-1.0, 0.0, 1.0]\nrange = [0.0, 1.0]"),
     "factors[0].range: give either levels = [...] or range = [low, high] with num = N, not "
     "both"),
    ("grid_missing_levels", BASE.replace("levels = [-1.0, 0.0, 1.0]", ""),
     "factors[0].levels: missing; a grid factor needs levels = [...] or range = [low, high] "
     "with num = N"),
    ("duplicate_factor", BASE.replace('path = "x2"', 'path = "x1"'),
     "factors[1].path: got 'x1' again (factors[0]); vary each parameter once"),
    ("fixed_and_varied", BASE.replace("[[factors]]", "[overrides]\nx1 = 0.5\n\n[[factors]]", 1),
     "overrides.x1: also varied by factors[0]; a parameter is either fixed or varied"),
    ("bad_override", BASE.replace("[[factors]]", "[overrides]\ncost_ms = -1\n\n[[factors]]", 1),
     "overrides: cost_ms: got -1.0; allowed: a number >= 0"),
    ("steps_twice", BASE.replace("[[factors]]", "[overrides]\nsteps = 3\n\n[[factors]]", 1),
     "overrides.steps: also set by experiment.steps; give one of them"),
    ("unknown_output", BASE.replace('final = ["y"]', 'final = ["z"]'),
     "outputs.final[0]: got 'z'; model 'ishigami' reports one of 'y'"),
    ("missing_final", BASE.replace('final = ["y"]', ""),
     "outputs.final: missing; allowed: a non-empty list of outcome names"),
    ("every_without_series", BASE.replace('final = ["y"]', 'final = ["y"]\nevery = 2'),
     "outputs.every: only used with outputs.series; add the series to keep"),
    ("reserved_name", BASE.replace('path = "x1"', 'path = "x1"\nname = "seed"'),
     "factors[0].name: got 'seed', a reserved column name; set another name"),
    ("scenario_for_ishigami", BASE.replace('model = "ishigami"',
                                           'model = "ishigami"\nscenario = "s.toml"'),
     "experiment.scenario: not used by model 'ishigami'; remove it"),
    ("missing_scenario_file", BASE.replace('model = "ishigami"',
                                           'model = "cluster"\nscenario = "nope.toml"'),
     "experiment.scenario: got 'nope.toml'; no such file ({dir}/nope.toml)"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_experiment_is_refused_with_exact_message(tmp_path, capsys, text, message):
    path = write(tmp_path, text)
    out = tmp_path / "out"
    code = main(["sweep", str(path), "--out", str(out), "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    expected = message.format(dir=tmp_path.resolve())
    assert err == f"clustersim sweep: error: {path}: {expected}\n"
    assert not out.exists()  # nothing written


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read the experiment file: no such file"):
        load_experiment(tmp_path / "none.toml")


def test_base_experiment_is_valid(tmp_path):
    exp = load_experiment(write(tmp_path, BASE))
    assert exp.model == "ishigami"
    assert exp.steps == 4
    assert exp.replicates == 2
    assert [f.name for f in exp.factors] == ["x1", "x2"]
    assert exp.factors[1].levels == pytest.approx((-PI, 0.0, PI))


def test_comments_and_description_do_not_change_the_design(tmp_path):
    a = load_experiment(write(tmp_path, BASE, "a.toml"))
    b = load_experiment(write(tmp_path, "# a comment\n" + BASE.replace(
        'model = "ishigami"', 'model = "ishigami"\ndescription = "same runs"'), "b.toml"))
    c = load_experiment(write(tmp_path, BASE.replace("seed = 7", "seed = 8"), "c.toml"))
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()


# -- designs -------------------------------------------------------------------------------------
def test_grid_is_the_product_of_levels_first_factor_slowest(tmp_path):
    design = build_design(load_experiment(write(tmp_path, BASE)))
    assert design.n_points == 9
    assert len(design.runs) == 18
    assert list(design.points["x1"]) == [-1.0] * 3 + [0.0] * 3 + [1.0] * 3
    assert list(design.points["x2"]) == pytest.approx([-PI, 0.0, PI] * 3)
    r = design.runs[5]  # point 2, replicate 1
    assert (r.point, r.replicate) == (2, 1)
    assert r.overrides == {"x1": -1.0, "x2": pytest.approx(PI)}


def test_grid_accepts_integer_boolean_and_string_levels(tmp_path):
    text = BASE.replace('levels = [-1.0, 0.0, 1.0]', "range = [0, 10]\nnum = 3\ninteger = true")
    design = build_design(load_experiment(write(tmp_path, text, "a.toml"), check_model=False))
    assert list(design.points["x1"].unique()) == [0, 5, 10]
    assert all(isinstance(r.factors["x1"], int) for r in design.runs)
    text = BASE.replace('levels = [-1.0, 0.0, 1.0]', 'levels = ["a", "b"]')
    exp = load_experiment(write(tmp_path, text, "b.toml"), check_model=False)
    assert exp.factors[0].levels == ("a", "b")


@pytest.mark.parametrize(("method", "design", "n_points"), [
    ("lhs", "samples = 16", 16),
    ("sobol", "samples = 16", 16 * (3 + 2)),
    ("sobol", "samples = 16\nsecond_order = true", 16 * (2 * 3 + 2)),
    ("morris", "trajectories = 6", 6 * (3 + 1)),
    ("morris", "trajectories = 12\noptimal_trajectories = 4", 4 * (3 + 1)),
])
def test_sampled_design_sizes(tmp_path, method, design, n_points):
    d = build_design(load_experiment(write(tmp_path, sampled(method, design))))
    assert d.n_points == n_points
    assert len(d.runs) == n_points
    x = d.points.to_numpy()
    assert np.all((x >= -PI) & (x <= PI))


def test_latin_hypercube_hits_every_stratum_once(tmp_path):
    d = build_design(load_experiment(write(tmp_path, sampled("lhs", "samples = 20"))))
    strata = np.floor((d.points.to_numpy() + PI) / (2 * PI) * 20).astype(int)
    for j in range(3):
        assert sorted(strata[:, j]) == list(range(20))


def test_distributions_are_applied(tmp_path):
    factors = ('[[factors]]\npath = "x1"\ndistribution = "triangular"\nrange = [0.0, 4.0]\n'
               'mode = 1.0\n\n[[factors]]\npath = "x2"\ndistribution = "normal"\nmean = 2.0\n'
               'sd = 0.5\n\n[[factors]]\npath = "x3"\ndistribution = "loguniform"\n'
               'range = [0.01, 1.0]\n\n[[factors]]\npath = "a"\nrange = [1, 9]\n'
               'integer = true\n\n')
    d = build_design(load_experiment(write(tmp_path, sampled("lhs", "samples = 2000",
                                                             factors=factors))))
    p = d.points
    assert p["x1"].between(0, 4).all()
    assert p["x1"].mean() == pytest.approx(5 / 3, abs=0.02)
    assert p["x2"].mean() == pytest.approx(2.0, abs=0.01)
    assert p["x2"].std() == pytest.approx(0.5, abs=0.01)
    assert np.log10(p["x3"]).mean() == pytest.approx(-1.0, abs=0.01)  # uniform in log
    assert p["a"].dtype == np.int64
    assert set(p["a"]) == set(range(1, 10))


def test_run_seeds_follow_seed_sequence_spawn():
    """The documented derivation, checked against numpy's own spawn (a twin test)."""
    common = np.random.SeedSequence(42).spawn(2)[1].spawn(3)[2]
    independent = np.random.SeedSequence(42).spawn(2)[1].spawn(5)[4].spawn(3)[2]
    assert run_seed(42, "common", 4, 2) == int(common.generate_state(1, np.uint64)[0] >> 1)
    assert run_seed(42, "independent", 4, 2) == int(
        independent.generate_state(1, np.uint64)[0] >> 1)


def test_common_seeds_repeat_across_points_independent_ones_do_not(tmp_path):
    d = build_design(load_experiment(write(tmp_path, BASE, "a.toml")))
    seeds = {(r.point, r.replicate): r.seed for r in d.runs}
    assert seeds[(0, 0)] == seeds[(5, 0)] != seeds[(0, 1)]
    text = BASE.replace("seed = 7", 'seed = 7\nseeding = "independent"')
    d = build_design(load_experiment(write(tmp_path, text, "b.toml")))
    assert len({r.seed for r in d.runs}) == len(d.runs)
    assert all(0 <= r.seed < 2**63 for r in d.runs)


def test_run_ids_are_unique_stable_and_depend_on_what_decides_the_result(tmp_path, monkeypatch):
    exp = load_experiment(write(tmp_path, BASE))
    ids = [r.id for r in build_design(exp).runs]
    assert len(set(ids)) == len(ids)
    assert ids == [r.id for r in build_design(load_experiment(exp.source)).runs]
    more = load_experiment(write(tmp_path, BASE.replace("replicates = 2", "replicates = 3"),
                                 "more.toml"))
    kept = {(r.point, r.replicate): r.id for r in build_design(more).runs}
    assert [kept[(r.point, r.replicate)] for r in build_design(exp).runs] == ids
    other = load_experiment(write(tmp_path, BASE.replace("[[factors]]", "[overrides]\nb = 0.2\n"
                                                         "\n[[factors]]", 1), "b.toml"))
    assert not set(ids) & {r.id for r in build_design(other).runs}
    monkeypatch.setattr(type(experiment_mod.models.get("ishigami")), "version", "ishigami-2")
    assert not set(ids) & {r.id for r in build_design(exp).runs}


def test_sampled_design_is_reproducible_and_seeded(tmp_path):
    a = build_design(load_experiment(write(tmp_path, sampled("sobol", "samples = 8"), "a.toml")))
    b = build_design(load_experiment(write(tmp_path, sampled("sobol", "samples = 8"), "b.toml")))
    c = build_design(load_experiment(write(tmp_path, sampled("sobol", "samples = 8").replace(
        "seed = 3", "seed = 4"), "c.toml")))
    assert a.points.equals(b.points)
    assert not a.points.equals(c.points)


# calibrate_*.toml are calibration files (clustersim calibrate), checked in tests/test_calibrate.py
@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "experiments").glob("*.toml")
                                        if not p.name.startswith("calibrate_")),
                         ids=lambda p: p.name)
def test_shipped_experiments_are_valid(path):
    text = path.read_text()
    if 'model = "ishigami"' not in text:
        scen = next(line.split('"')[1] for line in text.splitlines()
                    if line.startswith("scenario"))
        if not (path.parent / scen).is_file():
            pytest.skip(f"scenario {scen} not written yet")
    exp = load_experiment(path)
    design = build_design(exp)
    assert 0 < len(design.runs) <= 6000  # modest by default


PINNED = """
[experiment]
name = "pin"
model = "ishigami"

[design]
method = "grid"
replicates = 2
seed = 11

[overrides]
b = 0.2

[[factors]]
path = "x1"
levels = [0.0, 1.5]

[[factors]]
path = "x2"
range = [-1.0, 1.0]
num = 3

[outputs]
final = ["y"]
"""


def test_run_ids_and_the_design_fingerprint_are_a_stored_format(tmp_path):
    """Sweep folders on disk are resumed by their design's fingerprint and their runs' ids:
    both must stay what earlier versions computed (these values were computed before the
    experiment got its explicit fields), or every existing folder would be refused or rerun."""
    exp = load_experiment(write(tmp_path, PINNED))
    assert exp.fingerprint() == ("fc068ebf0c2379a9eca62515d655f7f8"
                                 "0ec7cc3580bb5f09a24d518aef6dc004")
    ids = [r.id for r in exp.design.runs]
    assert len(ids) == 12
    assert ids[:3] == ["0ad0786339e9f75f", "7098f2c514eafed9", "6bea65bbc7a2e969"]
