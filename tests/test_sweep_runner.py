"""Running sweeps in this process: storage, resuming, refusing, failures, killing, querying."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.cli import main
from sim.studies.sweep import load_experiment, models, run_sweep
from sim.studies.sweep.ishigami import ishigami
from sim.studies.sweep.store import SweepStore

PI = math.pi
CLI = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())"]

GRID = """
[experiment]
model = "ishigami"
steps = 5

[design]
method = "grid"
replicates = 2
seed = 11

[overrides]
noise = 0.5
{extra}

[[factors]]
path = "x1"
levels = [-1.0, 0.0, 1.0]

[[factors]]
path = "x3"
range = [-2.0, 2.0]
num = 3

[outputs]
final = ["y"]
series = ["y"]
every = 2
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def grid(tmp_path: Path, extra: str = "", name: str = "exp.toml") -> Path:
    return write(tmp_path, GRID.format(extra=extra), name)


def expected_y(runs: pd.DataFrame) -> np.ndarray:
    """The stand-in's value with its seeded noise, computed independently of the sweep."""
    noise = np.array([np.random.default_rng(s).standard_normal() for s in runs["seed"]])
    return ishigami(runs["x1"].to_numpy(), 0.0, runs["x3"].to_numpy()) + 0.5 * noise


def check_complete(out: Path, n_runs: int) -> pd.DataFrame:
    """Every planned run present once, readable, with the right value; no temporary files."""
    store = SweepStore(out)
    runs = pd.read_parquet(out / "runs.parquet")
    planned = store.design()
    assert len(runs) == n_runs
    assert runs["id"].is_unique
    assert set(runs["id"]) == set(planned["id"])
    assert (runs["status"] == "ok").all()
    np.testing.assert_allclose(runs["y"], expected_y(runs), rtol=1e-12)
    for path in (out / "runs").iterdir():
        json.loads(path.read_text())  # none corrupt
    return runs


# -- a sweep in this process ---------------------------------------------------------------------
def test_sequential_sweep_stores_every_run_and_its_series(tmp_path):
    out = tmp_path / "out"
    summary = run_sweep(grid(tmp_path), out, workers=1, progress=False)
    assert (summary.ok, summary.failed, summary.total, summary.exit_code) == (18, 0, 18, 0)
    runs = check_complete(out, 18)
    assert list(runs[["point", "replicate"]].itertuples(index=False)) == [
        (p, r) for p in range(9) for r in range(2)]
    assert runs["wall_time"].gt(0).all()
    series = pd.read_parquet(out / "series" / f"{runs['id'][0]}.parquet")
    assert list(series.columns) == ["run_id", "point", "replicate", "step", "y"]
    assert list(series["step"]) == [0, 2, 4, 5]  # every 2 steps, and the last
    assert series["y"].eq(runs["y"][0]).all()
    meta = json.loads((out / "experiment.json").read_text())
    assert meta["n_runs"] == 18
    assert meta["provenance"]["base_seed"] == 11
    assert meta["experiment_file"]["sha256"] == load_experiment(grid(tmp_path)).sha256
    assert (out / "experiment.toml").read_text() == GRID.format(extra="")


def test_replicates_differ_by_seed_and_equal_seeds_give_equal_results(tmp_path):
    out = tmp_path / "out"
    run_sweep(grid(tmp_path), out, workers=1, progress=False)
    runs = pd.read_parquet(out / "runs.parquet")
    a, b = runs[runs.replicate == 0], runs[runs.replicate == 1]
    assert not np.allclose(a["y"].to_numpy(), b["y"].to_numpy())
    # common random numbers: replicate r has one seed in every point
    assert a["seed"].nunique() == 1
    assert b["seed"].nunique() == 1


def test_rerunning_a_finished_sweep_does_nothing_and_says_so(tmp_path, capsys):
    exp, out = grid(tmp_path), tmp_path / "out"
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    stamp = (out / "runs.parquet").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert capsys.readouterr().out == (
        f"sweep 'exp': nothing to do: all 18 runs are already in {out} (0 failed)\n")
    assert (out / "runs.parquet").stat().st_mtime_ns == stamp


def test_an_interrupted_sweep_resumes_with_the_missing_runs_only(tmp_path):
    exp, out = grid(tmp_path), tmp_path / "out"
    run_sweep(exp, out, workers=1, progress=False)
    before = pd.read_parquet(out / "runs.parquet").drop(columns="wall_time")
    # as if killed: five runs never finished, one temporary file left, no consolidation
    for row in before.itertuples():
        if row.point in (1, 4, 7) or (row.point == 2 and row.replicate == 0):
            (out / "runs" / f"{row.id}.json").unlink()
    (out / "runs.parquet").unlink()
    (out / "runs" / ".x.json.123.abc.tmp").write_text("{half")
    summary = run_sweep(exp, out, workers=1, progress=False)
    assert (summary.already, summary.ran) == (11, 7)
    after = check_complete(out, 18).drop(columns="wall_time")
    pd.testing.assert_frame_equal(after, before)
    assert not list((out / "runs").glob(".*.tmp"))


def test_a_changed_experiment_is_refused_in_the_same_directory(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(grid(tmp_path)), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    files = sorted(p.name for p in (out / "runs").iterdir())
    changed = write(tmp_path, GRID.format(extra="").replace("replicates = 2", "replicates = 3"),
                    "exp.toml")
    capsys.readouterr()
    assert main(["sweep", str(changed), "--out", str(out), "--workers", "1"]) == 2
    assert capsys.readouterr().err == (
        f"clustersim sweep: error: {changed.resolve()}: {out} holds a sweep of a different "
        f"design (changed: design); give another --out directory, or delete {out} to start "
        "again\n")
    assert sorted(p.name for p in (out / "runs").iterdir()) == files


def test_a_foreign_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["sweep", str(grid(tmp_path)), "--out", str(out), "--workers", "1"]) == 2
    assert capsys.readouterr().err == (
        f"clustersim sweep: error: {out}: exists and is not a sweep directory (no "
        "experiment.json); give a new or empty --out directory\n")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_bad_worker_options_are_input_errors(tmp_path, capsys):
    exp = grid(tmp_path)
    assert main(["sweep", str(exp), "--out", str(tmp_path / "a"), "--workers", "0"]) == 2
    assert capsys.readouterr().err.startswith(
        "clustersim sweep: error: --workers: got 0; allowed: an integer from 1 to ")
    assert main(["sweep", str(exp), "--out", str(tmp_path / "a"), "--workers", "2",
                 "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--workers: not used with --scheduler" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_a_run_that_raises_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path, monkeypatch):
    model = models.get("ishigami")
    real = model.simulate

    def flaky(scenario, *, steps, seed, overrides):
        if overrides["x1"] == 0.0:
            raise FloatingPointError("the model diverged")
        return real(scenario, steps=steps, seed=seed, overrides=overrides)

    monkeypatch.setattr(model, "simulate", flaky)
    out = tmp_path / "out"
    summary = run_sweep(grid(tmp_path), out, workers=1, progress=False)
    assert (summary.ok, summary.failed, summary.exit_code) == (12, 6, 0)
    assert "failed: run " in str(summary)
    assert "FloatingPointError: the model diverged" in str(summary)
    runs = pd.read_parquet(out / "runs.parquet")
    failed = runs[runs["status"] == "failed"]
    assert set(failed["x1"]) == {0.0}
    assert (failed["error"] == "FloatingPointError: the model diverged").all()
    assert failed["y"].isna().all()
    assert failed["traceback"].str.contains("flaky").all()
    assert not list((out / "series").glob(f"{failed['id'].iloc[0]}*"))
    # a plain re-run keeps them; --retry-failed runs them again
    assert run_sweep(grid(tmp_path), out, workers=1, progress=False).nothing_to_do
    monkeypatch.setattr(model, "simulate", real)
    summary = run_sweep(grid(tmp_path), out, workers=1, progress=False, retry_failed=True)
    assert (summary.ran, summary.failed_total) == (6, 0)
    check_complete(out, 18)


def test_an_outcome_the_model_does_not_report_fails_the_run_clearly(tmp_path, monkeypatch):
    model = models.get("ishigami")  # a model that declares more than it reports
    opened = model.open(None)
    monkeypatch.setattr(model, "open", lambda scenario: dataclasses.replace(
        opened, final=("y", "z")))
    text = GRID.format(extra="").replace('final = ["y"]', 'final = ["y", "z"]')
    run_sweep(write(tmp_path, text), tmp_path / "out", workers=1, progress=False)
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert (runs["error"] == "KeyError: \"the model reported no outcome 'z'; it reports: y\"").all()


def test_a_directory_in_use_is_refused(tmp_path):
    exp, out = grid(tmp_path), tmp_path / "out"
    run_sweep(exp, out, workers=1, progress=False)
    with SweepStore(out).lock(), pytest.raises(Exception, match="another sweep is writing"):
        run_sweep(exp, out, workers=1, progress=False)


def test_nested_override_tables_are_flattened_to_paths(tmp_path):
    text = GRID.format(extra="").replace("noise = 0.5", "noise = 0.5\n\n[overrides.more]\n"
                                         "deep = 1")
    exp = write(tmp_path, text)
    with pytest.raises(Exception, match=r"overrides: more\.deep: unknown parameter"):
        load_experiment(exp)
    exp = write(tmp_path, GRID.format(extra='"b" = 0.2'), "b.toml")
    assert load_experiment(exp).overrides == {"b": 0.2, "noise": 0.5}


@pytest.mark.slow
def test_ctrl_c_keeps_finished_runs_and_consolidates(tmp_path):
    exp, out = grid(tmp_path, extra="cost_ms = 40.0"), tmp_path / "out"
    proc = subprocess.Popen([*CLI, "sweep", str(exp), "--out", str(out), "--workers", "1",
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _wait_for_runs(out / "runs", 3, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.endswith("clustersim sweep: interrupted; finished work is kept\n")
    n = len(list((out / "runs").glob("*.json")))
    assert pq.read_metadata(out / "runs.parquet").num_rows == n
    assert 3 <= n < 18


# -- querying ------------------------------------------------------------------------------------
def test_results_sql_csv_and_summary(tmp_path, capsys):
    exp, out = grid(tmp_path), tmp_path / "out"
    run_sweep(exp, out, workers=1, progress=False)
    capsys.readouterr()
    sql = "select x1, count(*) as n, avg(y) as y from runs group by x1 order by x1"
    csv = tmp_path / "q.csv"
    assert main(["results", str(out), "--sql", sql, "--csv", str(csv)]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(csv)
    runs = pd.read_parquet(out / "runs.parquet")
    np.testing.assert_allclose(table["y"], runs.groupby("x1")["y"].mean().to_numpy())
    assert list(table["n"]) == [6, 6, 6]
    assert printed.endswith(f"wrote 3 rows to {csv}\n")
    assert main(["results", str(out), "--sql",
                 "select count(*) as n, max(step) as last from series"]) == 0
    assert capsys.readouterr().out.split() == ["n", "last", "72", "5"]
    assert main(["results", str(out)]) == 0
    text = capsys.readouterr().out
    assert "runs: 18 ok, 0 failed, 0 missing" in text
    assert "series(run_id, point, replicate, step, y)" in text


def test_results_reads_run_files_when_the_consolidated_table_is_stale(tmp_path, capsys):
    out = tmp_path / "out"
    run_sweep(grid(tmp_path), out, workers=1, progress=False)
    (out / "runs.parquet").unlink()
    capsys.readouterr()
    assert main(["results", str(out), "--sql", "select count(*) as n from runs"]) == 0
    assert capsys.readouterr().out.split() == ["n", "18"]
    assert not (out / "runs.parquet").exists()  # a query writes nothing


def test_results_errors_are_one_line_with_exit_2(tmp_path, capsys):
    out = tmp_path / "out"
    run_sweep(grid(tmp_path), out, workers=1, progress=False)
    capsys.readouterr()
    assert main(["results", str(out), "--sql", "select nope from runs"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("clustersim results: error: --sql: Binder Error: Referenced column "
                          "\"nope\" not found")
    assert err.count("\n") == 1
    assert main(["results", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"clustersim results: error: {tmp_path}: not a sweep directory (no experiment.json); "
        "run `clustersim sweep EXPERIMENT.toml --out DIR` first\n")


# -- kill -9 -------------------------------------------------------------------------------------
def _wait_for_runs(folder: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = len(list(folder.glob("*.json"))) if folder.is_dir() else 0
        if done >= n:
            return done
        if proc.poll() is not None:
            raise AssertionError(f"sweep ended early: {proc.communicate()}")
        time.sleep(0.02)
    raise AssertionError(f"fewer than {n} runs written in {timeout} s")


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_partway_then_the_same_command_finishes_every_run_once(tmp_path, workers):
    exp, out = grid(tmp_path, extra="cost_ms = 40.0"), tmp_path / "out"
    cmd = [*CLI, "sweep", str(exp), "--out", str(out), "--workers", str(workers),
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _wait_for_runs(out / "runs", 5, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        try:  # the local cluster's worker processes, orphaned by the kill
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate(timeout=30)
    done = len(list((out / "runs").glob("*.json")))
    assert 5 <= done < 18
    assert not (out / "runs.parquet").exists()  # killed before consolidating
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    # nothing finished before the kill is run again
    assert re.search(rf": {18 - done} runs in .*; {done} were already done\n", again.stdout)
    runs = check_complete(out, 18)
    for run_id in runs["id"]:
        s = pq.read_table(out / "series" / f"{run_id}.parquet").to_pandas()
        assert list(s["step"]) == [0, 2, 4, 5]


def test_the_first_run_of_each_scenario_runs_before_the_workers_start():
    from types import SimpleNamespace

    from sim.studies.sweep import runner

    runs = [SimpleNamespace(id=i, model="cluster", scenario=s)
            for i, s in enumerate(["a", "a", "b", "a", "c", "b"])]
    assert [r.id for r in runner._first_of_each_scenario(runs)] == [0, 2, 4]
    many = [SimpleNamespace(id=i, model="cluster", scenario=str(i)) for i in range(20)]
    assert len(runner._first_of_each_scenario(many)) == runner.AHEAD_MAX
