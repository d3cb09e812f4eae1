"""Sweeps of the cluster model itself (through sim.studies.simulate.simulate and
sim.io.scenario)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.studies.sweep import load_experiment, run_sweep

pytest.importorskip("sim.studies.simulate")
pytest.importorskip("sim.io.scenario")

ROOT = Path(__file__).resolve().parents[1]
CFC = ROOT / "scenarios" / "cfc.toml"
pytestmark = pytest.mark.skipif(not CFC.is_file(), reason="scenarios/cfc.toml not written yet")

SMALL = f"""
[experiment]
scenario = "{CFC}"
steps = 6

[design]
method = "grid"
replicates = 2
seed = 4

[overrides]
coop_benefit = 0.03

[[factors]]
path = "interventions.cfc.grant_share"
name = "grant_share"
levels = [0.3, 0.8]

[outputs]
final = ["firms", "cooperation_rate", "mean_trust", "public_spending_total"]
series = ["firms", "mean_trust"]
every = 3
"""


@pytest.mark.parametrize(("key", "bad", "message"), [
    ("final", "employmnet", "did you mean 'employment'?"),
    ("series", "mean_trsut", "did you mean 'mean_trust'?"),
    ("final", "employment_sector_nowhere", "reports"),  # a breakdown of no sector of the world
])
def test_an_outcome_the_model_does_not_report_is_refused_before_any_run(
        tmp_path, capsys, monkeypatch, key, bad, message):
    """A misspelt outcome used to pass validation, run every run and then fail each with a
    KeyError: the cluster model declares its outcomes (for the scenario's world), so the file is
    refused at once, in one line naming the file and the key, with exit code 2."""
    from sim.studies.sweep import models

    def no_runs(*args, **kwargs):
        raise AssertionError("a run started")

    monkeypatch.setattr(models.get("cluster"), "simulate", no_runs)
    exp = tmp_path / "typo.toml"
    first = {"final": '"firms"', "series": '"firms"'}[key]
    exp.write_text(SMALL.replace(f"{key} = [{first}", f'{key} = ["{bad}"', 1))
    assert main(["sweep", str(exp), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"clustersim sweep: error: {exp}: outputs.{key}[0]: got {bad!r}; "
                               "model 'cluster' reports")
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("factor", "message"), [
    ('path = "initial_trust"\nlevels = [0.5, 1.5]', "initial_trust: got 1.5"),
    # the scenario lists its firms: n_firms would be ignored
    ('path = "n_firms"\nlevels = [100, 300]', "n_firms: the scenario lists its initial firms"),
])
def test_a_bad_factor_fails_at_once_with_the_model_s_own_message(tmp_path, capsys, factor,
                                                                 message):
    exp = tmp_path / "bad.toml"
    exp.write_text(SMALL.replace("[[factors]]", f"[[factors]]\n{factor}\n\n[[factors]]", 1))
    assert main(["sweep", str(exp), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"clustersim sweep: error: {exp}: factors[0]: {message}")
    assert not (tmp_path / "out").exists()


def test_a_change_in_a_parent_scenario_changes_the_design(tmp_path, capsys):
    """The run ids use the resolved scenario's hash, so editing the file a scenario extends is
    a different sweep, refused in the old directory."""
    parent = tmp_path / "baseline.toml"
    parent.write_text((ROOT / "scenarios" / "baseline.toml").read_text())
    (tmp_path / "cfc.toml").write_text(CFC.read_text())
    exp = tmp_path / "exp.toml"
    exp.write_text(SMALL.replace(str(CFC), "cfc.toml").replace("steps = 6", "steps = 1"))
    before = load_experiment(exp)
    assert main(["sweep", str(exp), "--out", str(tmp_path / "out"), "--workers", "1",
                 "--no-progress"]) == 0
    parent.write_text(parent.read_text().replace("x = 20.0", "x = 21.0", 1))
    after = load_experiment(exp)
    assert after.scenario_hash != before.scenario_hash
    assert not {r.id for r in before.design.runs} & {r.id for r in after.design.runs}
    capsys.readouterr()
    assert main(["sweep", str(exp), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    assert "holds a sweep of a different design (changed: scenario_hash)" in (
        capsys.readouterr().err)


@pytest.mark.slow
def test_cluster_sweep_is_the_same_sequentially_and_on_local_workers(tmp_path):
    exp = tmp_path / "small.toml"
    exp.write_text(SMALL)
    a = run_sweep(exp, tmp_path / "seq", workers=1, progress=False)
    b = run_sweep(exp, tmp_path / "par", workers=2, progress=False)
    assert (a.ok, b.ok) == (4, 4)
    runs_a = pd.read_parquet(tmp_path / "seq" / "runs.parquet").drop(columns="wall_time")
    runs_b = pd.read_parquet(tmp_path / "par" / "runs.parquet").drop(columns="wall_time")
    pd.testing.assert_frame_equal(runs_a, runs_b)
    assert runs_a["firms"].gt(0).all()
    # replicates differ (different seeds), points share them (common random numbers)
    assert runs_a.groupby("replicate")["seed"].nunique().eq(1).all()
    for rid in runs_a["id"]:
        sa = pd.read_parquet(tmp_path / "seq" / "series" / f"{rid}.parquet")
        sb = pd.read_parquet(tmp_path / "par" / "series" / f"{rid}.parquet")
        pd.testing.assert_frame_equal(sa, sb)
        assert list(sa["step"]) == [0, 3, 6]
