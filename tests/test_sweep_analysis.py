"""Analysis of stored sweeps: Sobol' (against Ishigami's analytic indices), Morris, main effects
and phase diagrams, each checked against SALib or pandas applied directly to the same numbers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from SALib.analyze import morris as salib_morris
from SALib.analyze import sobol as salib_sobol

from sim.cli import main
from sim.core.errors import InputError
from sim.studies.sweep import SweepStore, analyze, run_sweep
from sim.studies.sweep.ishigami import ishigami, sobol_indices

ROOT = Path(__file__).resolve().parents[1]
PI = math.pi
PNG = b"\x89PNG\r\n\x1a\n"


def sampled(tmp_path: Path, method: str, design: str, overrides: str = "") -> Path:
    factors = "".join(f'[[factors]]\npath = "x{i}"\nrange = [{-PI!r}, {PI!r}]\n\n'
                      for i in (1, 2, 3))
    path = tmp_path / f"{method}.toml"
    path.write_text(f'[experiment]\nmodel = "ishigami"\n\n[design]\nmethod = "{method}"\n'
                    f'seed = 21\n{design}\n\n[overrides]\n{overrides}\n\n{factors}'
                    '[outputs]\nfinal = ["y"]\n')
    return path


def swept(tmp_path: Path, *args, **kwargs) -> Path:
    out = tmp_path / "out"
    summary = run_sweep(sampled(tmp_path, *args, **kwargs), out, workers=1, progress=False)
    assert summary.ok == summary.total
    return out


def point_means(out: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Factor values and the mean of y over replicates at every point, straight from the runs."""
    runs = pd.read_parquet(out / "runs.parquet")
    by_point = runs.groupby("point")
    return by_point[["x1", "x2", "x3"]].first(), by_point["y"].mean().to_numpy()


# -- Sobol' --------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.statistical
def test_ishigami_sobol_indices_match_the_analytic_values(tmp_path):
    """The shipped experiment (N = 1024, 5120 runs): every index within 0.05 of its analytic
    value (over 20 seeds of the design the largest error at N = 1024 was 0.031)."""
    out = tmp_path / "out"
    run_sweep(ROOT / "experiments" / "ishigami_sobol.toml", out, workers=1, progress=False)
    table = analyze(out, num_resamples=200, figures=False).tables["sobol"]
    s1, st = sobol_indices(7.0, 0.1)
    np.testing.assert_allclose(s1, [0.3139, 0.4424, 0.0], atol=5e-4)  # the known values
    np.testing.assert_allclose(st, [0.5576, 0.4424, 0.2437], atol=5e-4)
    np.testing.assert_allclose(table["S1"], s1, atol=0.05)
    np.testing.assert_allclose(table["ST"], st, atol=0.05)
    assert (table["S1_conf"] > 0).all()
    assert (table["S1_conf"] < 0.1).all()


def test_sobol_analysis_is_salib_on_the_stored_points_averaged_over_replicates(tmp_path):
    out = swept(tmp_path, "sobol", "samples = 16\nreplicates = 2", "noise = 0.3")
    result = analyze(out, num_resamples=50)
    x, y = point_means(out)
    direct_free = ishigami(x["x1"], x["x2"], x["x3"]).to_numpy()
    assert not np.allclose(y, direct_free)  # the noise is there and is averaged
    meta = SweepStore(out).metadata()
    ref = salib_sobol.analyze(meta["problem"], y, calc_second_order=False, num_resamples=50,
                              seed=meta["analysis_seed"])
    table = result.tables["sobol"]
    np.testing.assert_array_equal(table["S1"], ref["S1"])
    np.testing.assert_array_equal(table["ST_conf"], ref["ST_conf"])
    assert list(table["factor"]) == ["x1", "x2", "x3"]
    csv = pd.read_csv(out / "analysis" / "sobol.csv")
    np.testing.assert_allclose(csv["ST"], table["ST"])
    assert (out / "analysis" / "sobol_y.png").read_bytes().startswith(PNG)


def test_an_incomplete_sobol_sweep_is_refused(tmp_path):
    out = swept(tmp_path, "sobol", "samples = 8")
    victim = next((out / "runs").iterdir())
    victim.unlink()
    with pytest.raises(InputError, match=r"1 of 40 points have no successful run; sobol "
                                         r"analysis needs every point \(finish the sweep"):
        analyze(out, figures=False)


# -- Morris --------------------------------------------------------------------------------------
def test_morris_factors_outside_the_model_have_no_effect(tmp_path):
    """With a = b = 0 the function is sin(x1): x2 and x3 have mu* = sigma = 0 exactly."""
    out = swept(tmp_path, "morris", "trajectories = 8", "a = 0.0\nb = 0.0")
    table = analyze(out, num_resamples=50).tables["morris"].set_index("factor")
    assert table.loc["x1", "mu_star"] > 0.5
    assert table.loc[["x2", "x3"], ["mu_star", "sigma"]].abs().to_numpy().max() < 1e-12
    assert (out / "analysis" / "morris_y.png").read_bytes().startswith(PNG)


def test_morris_analysis_is_salib_on_the_stored_trajectories(tmp_path):
    out = swept(tmp_path, "morris", "trajectories = 6\nlevels = 6")
    x, y = point_means(out)
    meta = SweepStore(out).metadata()
    ref = salib_morris.analyze(meta["problem"], x.to_numpy(), y, num_resamples=50,
                               num_levels=6, seed=meta["analysis_seed"])
    table = analyze(out, num_resamples=50, figures=False).tables["morris"]
    np.testing.assert_allclose(table["mu_star"], ref["mu_star"], rtol=1e-12)
    np.testing.assert_allclose(table["sigma"], ref["sigma"], rtol=1e-12)


# -- what SALib gives, in the cases a researcher hits ----------------------------------------------
def test_second_order_indices_are_reported_when_the_design_asks_for_them(tmp_path):
    out = swept(tmp_path, "sobol", "samples = 16\nsecond_order = true")
    x, y = point_means(out)
    meta = SweepStore(out).metadata()
    ref = salib_sobol.analyze(meta["problem"], y, calc_second_order=True, num_resamples=50,
                              seed=meta["analysis_seed"])
    result = analyze(out, num_resamples=50)
    s2 = result.tables["sobol_s2"]
    assert list(zip(s2["factor"], s2["factor_2"], strict=True)) == [
        ("x1", "x2"), ("x1", "x3"), ("x2", "x3")]
    np.testing.assert_allclose(s2["S2"], [ref["S2"][0, 1], ref["S2"][0, 2], ref["S2"][1, 2]],
                               rtol=1e-12)
    np.testing.assert_allclose(s2["S2_conf"], [ref["S2_conf"][0, 1], ref["S2_conf"][0, 2],
                                               ref["S2_conf"][1, 2]], rtol=1e-12)
    assert (out / "analysis" / "sobol_s2.csv").is_file()
    # 16 base samples: the note says the indices are rough
    assert any("rests on 16 base samples" in n for n in result.notes)


def test_a_constant_outcome_gets_salibs_zeros_not_nan(tmp_path):
    path = tmp_path / "flat.toml"
    path.write_text('[experiment]\nmodel = "ishigami"\n\n[design]\nmethod = "sobol"\nseed = 3\n'
                    'samples = 8\n\n[overrides]\na = 0.0\nb = 0.0\n\n'  # y = sin(x1) = 0
                    + "".join(f'[[factors]]\npath = "x{i}"\nrange = [-1.0, 1.0]\n\n'
                              for i in (2, 3))
                    + '[outputs]\nfinal = ["y"]\n')
    out = tmp_path / "out"
    run_sweep(path, out, workers=1, progress=False)
    table = analyze(out, num_resamples=20, figures=False).tables["sobol"]
    assert table[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy().tolist() == [[0.0] * 4] * 2


def test_an_outcome_missing_at_some_points_is_analysed_on_the_blocks_that_have_it(
        tmp_path, monkeypatch):
    out = swept(tmp_path, "sobol", "samples = 8")  # blocks of d + 2 = 5 points
    x, y = point_means(out)
    read = SweepStore.read_runs

    def with_holes(self):
        runs = read(self)
        runs.loc[runs["point"].isin([7, 21]), "y"] = np.nan  # in blocks 1 and 4
        return runs

    monkeypatch.setattr(SweepStore, "read_runs", with_holes)
    result = analyze(out, num_resamples=30, figures=False)
    keep = np.r_[0:5, 10:20, 25:40]
    meta = SweepStore(out).metadata()
    ref = salib_sobol.analyze(meta["problem"], y[keep], calc_second_order=False,
                              num_resamples=30, seed=meta["analysis_seed"])
    np.testing.assert_allclose(result.tables["sobol"]["S1"], ref["S1"], rtol=1e-12)
    assert any("missing at 2 of 40 points" in n and "6 of 8 base samples" in n
               for n in result.notes)


def test_complete_blocks_keeps_whole_blocks_without_a_nan():
    from sim.studies.sweep.analysis import complete_blocks

    y = np.arange(12.0)
    y[[4, 11]] = np.nan
    assert complete_blocks(y, 3).tolist() == [0, 1, 2, 6, 7, 8]
    assert complete_blocks(np.full(4, np.nan), 2).size == 0


def test_indices_outside_zero_one_get_a_note():
    from sim.studies.sweep.analysis import range_notes

    t = pd.DataFrame({"outcome": ["y", "y"], "factor": ["a", "b"], "S1": [-0.2, 0.5],
                      "S1_conf": [0.1, 0.1], "ST": [0.3, 1.01], "ST_conf": [0.1, 0.1]})
    notes = range_notes({"sobol": t})
    assert len(notes) == 1
    assert "S1 of a for 'y' is -0.2, outside [0, 1]" in notes[0]


# -- grids and Latin hypercubes ------------------------------------------------------------------
PHASE = """
[experiment]
model = "ishigami"

[design]
method = "grid"
replicates = 3
seed = 2

[overrides]
noise = 0.2

[[factors]]
path = "x1"
range = [-1.5, 1.5]
num = 4

[[factors]]
path = "x2"
levels = [0.0, 0.5, 1.0]

[outputs]
final = ["y"]
"""


def test_two_factor_grid_gives_a_phase_diagram_and_main_effects(tmp_path, capsys):
    exp = tmp_path / "phase.toml"
    exp.write_text(PHASE)
    out = tmp_path / "out"
    run_sweep(exp, out, workers=1, progress=False)
    assert main(["analyze", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "== phase ==" in printed
    assert "y (mean; rows x2, columns x1)" in printed
    runs = pd.read_parquet(out / "runs.parquet")
    phase = pd.read_csv(out / "analysis" / "phase.csv")
    expect = runs.groupby(["x1", "x2"])["y"].mean().to_numpy()
    np.testing.assert_allclose(phase["mean"], expect)
    assert (phase["n"] == 3).all()
    effects = pd.read_csv(out / "analysis" / "main_effects.csv")
    x2 = effects[effects["factor"] == "x2"]
    np.testing.assert_allclose(x2["mean"], runs.groupby("x2")["y"].mean().to_numpy())
    sd = runs.groupby("x2")["y"].std().to_numpy()
    np.testing.assert_allclose(x2["ci_high"] - x2["mean"], 1.959964 * sd / np.sqrt(12),
                               rtol=1e-6)
    for name in ("phase_y.png", "main_effects_y.png"):
        assert (out / "analysis" / name).read_bytes().startswith(PNG)


def test_latin_hypercube_main_effects_use_quantile_bins(tmp_path):
    out = swept(tmp_path, "lhs", "samples = 50")
    table = analyze(out, figures=False).tables["main_effects"]
    assert set(table["factor"]) == {"x1", "x2", "x3"}
    assert (table.groupby("factor")["n"].apply(list) == pd.Series([[10] * 5] * 3,
                                                                  index=["x1", "x2", "x3"])).all()
    x1 = table[table["factor"] == "x1"]
    assert x1["level"].is_monotonic_increasing


def test_analyze_errors_are_input_errors(tmp_path, capsys):
    out = swept(tmp_path, "lhs", "samples = 10")
    assert main(["analyze", str(out), "--output", "yy"]) == 2
    assert capsys.readouterr().err == (
        "clustersim analyze: error: --output: got 'yy' (did you mean 'y'?); this sweep kept: "
        "y\n")
    assert main(["analyze", str(tmp_path)]) == 2
    assert "not a sweep directory (no experiment.json)" in capsys.readouterr().err
