"""Sweeps on Dask: local worker processes and a real scheduler with two workers on 127.0.0.1.

Results must not depend on where a run ran, and a worker lost in the middle of a sweep must not
lose or duplicate a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.studies.sweep import run_sweep

CLI = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())"]
DASK = [sys.executable, "-m", "dask"]

GRID = """
[experiment]
model = "ishigami"
steps = 6

[design]
method = "grid"
replicates = 2
seed = 5
seeding = "independent"

[overrides]
noise = 1.0        # results depend on each run's seed
cost_ms = {cost}

[[factors]]
path = "x1"
range = [-3.0, 3.0]
num = 3

[[factors]]
path = "x2"
levels = [0.5, 1.5, 2.5]

[outputs]
final = ["y"]
series = ["y"]
every = 3
"""


def experiment(tmp_path: Path, cost: float = 0.0) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(GRID.format(cost=cost))
    return path


def contents(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs (without wall times) and all series of a sweep, in a canonical order."""
    runs = pd.read_parquet(out / "runs.parquet").drop(columns="wall_time")
    series = pd.concat([pd.read_parquet(p) for p in sorted((out / "series").glob("*.parquet"))])
    return runs, series.sort_values(["point", "replicate", "step"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sequential")
    summary = run_sweep(experiment(tmp), tmp / "out", workers=1, progress=False)
    assert summary.ok == 18
    return contents(tmp / "out")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=15)


@contextlib.contextmanager
def dask_cluster(tmp: Path, n_workers: int = 2):
    """A ``dask scheduler`` and ``n_workers`` single-threaded workers (no nanny, so a killed
    worker stays dead), all on 127.0.0.1; yields (address, worker processes)."""
    sched_file = tmp / "scheduler.json"
    logs = open(tmp / "dask.log", "w")  # noqa: SIM115 - closed below
    procs = [subprocess.Popen([*DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched_file)],
                              stdout=logs, stderr=subprocess.STDOUT)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        workers = [subprocess.Popen([*DASK, "worker", "--scheduler-file", str(sched_file),
                                     "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                                     "--no-dashboard", "--name", f"w{i}"],
                                    stdout=logs, stderr=subprocess.STDOUT)
                   for i in range(n_workers)]
        procs += workers
        address = json.loads(sched_file.read_text())["address"]
        _wait_for_workers(address, n_workers)
        yield address, workers
    finally:
        _stop(procs[::-1])
        logs.close()


def _wait_for_workers(address: str, n: int) -> None:
    code = ("import sys; from distributed import Client; c = Client(sys.argv[1], timeout=60); "
            "c.wait_for_workers(int(sys.argv[2]), timeout=60); c.close()")
    subprocess.run([sys.executable, "-c", code, address, str(n)], check=True, timeout=90,
                   capture_output=True)


# -- equal results wherever the runs run ---------------------------------------------------------
def test_local_workers_give_the_sequential_results(tmp_path, sequential):
    summary = run_sweep(experiment(tmp_path), tmp_path / "out", workers=2, progress=False)
    assert summary.mode == "2 local worker processes"
    assert summary.ok == 18
    runs, series = contents(tmp_path / "out")
    pd.testing.assert_frame_equal(runs, sequential[0])
    pd.testing.assert_frame_equal(series, sequential[1])


@pytest.mark.slow
def test_a_dask_cluster_gives_the_sequential_results(tmp_path, sequential):
    with dask_cluster(tmp_path) as (address, _):
        out = tmp_path / "out"
        done = subprocess.run([*CLI, "sweep", str(experiment(tmp_path)), "--out", str(out),
                               "--scheduler", address, "--no-progress"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"(Dask cluster at {address}): 18 runs" in done.stdout
    runs, series = contents(out)
    pd.testing.assert_frame_equal(runs, sequential[0])
    pd.testing.assert_frame_equal(series, sequential[1])


@pytest.mark.slow
def test_a_worker_killed_partway_does_not_stop_the_sweep(tmp_path, sequential):
    out = tmp_path / "out"
    with dask_cluster(tmp_path) as (address, workers):
        proc = subprocess.Popen([*CLI, "sweep", str(experiment(tmp_path, cost=200.0)), "--out",
                                 str(out), "--scheduler", address, "--no-progress"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while len(list((out / "runs").glob("*.json"))) < 4:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.02)
            os.kill(workers[0].pid, signal.SIGKILL)  # lost, with the run it was computing
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert workers[0].returncode == -signal.SIGKILL
    assert proc.returncode == 0, stderr
    assert "18 of 18 runs are in" in stdout
    runs, series = contents(out)
    assert runs["id"].is_unique
    # each run once, none lost or changed (cost_ms is an override, so the ids differ)
    pd.testing.assert_frame_equal(runs.drop(columns="id"), sequential[0].drop(columns="id"))
    pd.testing.assert_frame_equal(series.drop(columns="run_id"),
                                  sequential[1].drop(columns="run_id"))


def test_an_unreachable_scheduler_is_an_input_error(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["sweep", str(experiment(tmp_path)), "--out", str(out), "--scheduler",
                 "tcp://127.0.0.1:1"])
    assert code == 2
    assert capsys.readouterr().err.startswith(
        "clustersim sweep: error: --scheduler: cannot reach the Dask scheduler at "
        "tcp://127.0.0.1:1: ")
    assert not out.exists()
