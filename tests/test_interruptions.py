"""Stopping a study at any moment loses nothing finished: SIGTERM (a service manager, a closed
session), SIGINT (Ctrl-C) and kill -9 to compare, robust, calibrate and sweep, then the same
command again, gives the store an uninterrupted command gives. SIGTERM and SIGINT print one line
and release the local Dask cluster (no leaked-semaphore warnings). Sweep's own kill -9 tests are in
tests/test_sweep_runner.py and tests/test_sweep_safety.py."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from tests.conftest import one_town_toml

CLI = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())"]

ISHIGAMI = """
[experiment]
model = "ishigami"
steps = 6

[design]
method = "grid"
replicates = 12
seed = 5

[overrides]
cost_ms = 60.0

[[factors]]
path = "x1"
range = [-3.0, 3.0]
num = 3

[outputs]
final = ["y"]
"""


def command_args(kind: str, tmp_path: Path) -> tuple[list[str], str]:
    """The arguments (all but --out and --workers) of a small study of ``kind``, and the folder
    under ``--out`` its run rows are written to."""
    if kind in ("compare", "robust"):
        a, b = tmp_path / "a.toml", tmp_path / "b.toml"
        # ten years a run: long enough that the study is still running when the signal comes
        # (with two-year runs a loaded machine could let it finish between polls)
        a.write_text(one_town_toml("a", 120, count=60))
        b.write_text(one_town_toml("b", 120, count=80))
        extra = (["--reps", "12"] if kind == "compare"
                 else ["--futures", "6", "--reps", "3"])
        return [kind, str(a), str(b), *extra, "--no-progress"], "runs"
    if kind == "sweep":
        exp = tmp_path / "exp.toml"
        exp.write_text(ISHIGAMI)
        return ["sweep", str(exp), "--no-progress"], "runs"
    from tests.test_calibrate import TOY

    cal = tmp_path / "cal.toml"
    cal.write_text(TOY.replace("samples = 240", "samples = 32")
                   .replace("noise = 0.2", "noise = 0.2\ncost_ms = 60.0"))
    return ["calibrate", str(cal), "--no-progress"], "sweep/runs"


def rows(out: Path, runs: str) -> pd.DataFrame:
    table = pd.read_parquet(out / Path(runs).parent / "runs.parquet")
    return table.drop(columns=["wall_time"]).sort_values("id").reset_index(drop=True)


def stop_partway(cmd: list[str], runs: Path, how: signal.Signals, at: int = 3) -> tuple[int, str]:
    """Start ``cmd``, send ``how`` to it (not its workers) once ``at`` runs are stored; its exit
    code and stderr."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not runs.is_dir() or len(list(runs.glob("*.json"))) < at:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command stored no runs"
            time.sleep(0.02)
        os.kill(proc.pid, how)
        _, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.communicate(timeout=30)
    return proc.returncode, err


CASES = [(kind, how) for kind in ("compare", "robust", "calibrate", "sweep")
         for how in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL)]


def check_stop_then_resume(tmp_path: Path, kind: str, how: signal.Signals, workers: str):
    args, runs = command_args(kind, tmp_path)
    out = tmp_path / "stopped"
    cmd = [*CLI, *args, "--out", str(out), "--workers", workers]
    code, err = stop_partway(cmd, out / runs, how)
    kept = len(list((out / runs).glob("*.json")))
    if how == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:
        word = "terminated" if how == signal.SIGTERM else "interrupted"
        assert code == 128 + how, err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err  # no traceback, no leaked-semaphore warning
        assert lines[0].startswith(f"clustersim {kind}: {word}; finished"), err
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "leaked" not in again.stderr
    whole = tmp_path / "whole"
    assert main([*args, "--out", str(whole), "--workers", "1"]) == 0
    pd.testing.assert_frame_equal(rows(out, runs), rows(whole, runs))
    assert kept >= 3


def test_sigterm_stops_a_study_with_one_line_and_keeps_its_finished_runs(tmp_path, capsys,
                                                                         monkeypatch):
    from sim.studies.sweep.store import SweepStore

    write = SweepStore.write_run
    stored = []

    def then_terminated(self, row, series):
        write(self, row, series)
        stored.append(row["id"])
        if len(stored) == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # as a service manager stopping the command

    monkeypatch.setattr(SweepStore, "write_run", then_terminated)
    args, runs = command_args("compare", tmp_path)
    out = tmp_path / "stopped"
    before = signal.getsignal(signal.SIGTERM)
    assert main([*args, "--out", str(out), "--workers", "1"]) == 128 + signal.SIGTERM
    assert capsys.readouterr().err.splitlines() == [
        "clustersim compare: terminated; finished runs are kept; run the same command again "
        "to resume"]
    assert sorted(p.stem for p in (out / runs).glob("*.json")) == sorted(stored)
    assert signal.getsignal(signal.SIGTERM) is before  # put back


def test_an_interrupt_a_library_swallows_still_stops_the_study(tmp_path, capsys, monkeypatch):
    """Ctrl-C inside a run whose code turns the KeyboardInterrupt into an ordinary error (as a
    clean-up or a dispatcher can): the run is not stored as failed, the study stops with 130,
    and the runs finished before are kept."""
    from sim.studies.sweep import models

    many = models.ClusterModel.simulate_many
    made = []

    def swallowed(self, *a, **kw):
        for result in many(self, *a, **kw):
            made.append(result)
            if len(made) == 3:  # the third run of the study, whatever the batches
                with contextlib.suppress(KeyboardInterrupt):
                    os.kill(os.getpid(), signal.SIGINT)  # the handler raises; a library catches
                result = RuntimeError("something the interrupt broke")
            yield result

    monkeypatch.setattr(models.ClusterModel, "simulate_many", swallowed)
    args, runs = command_args("compare", tmp_path)
    out = tmp_path / "stopped"
    # what was there before: Python's default_int_handler, or SIG_IGN where the tests were
    # started in the background by a shell (which ignores Ctrl-C for background jobs)
    before = signal.getsignal(signal.SIGINT)
    assert main([*args, "--out", str(out), "--workers", "1"]) == 128 + signal.SIGINT
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("clustersim compare: interrupted; finished runs are kept"), err
    assert len(list((out / runs).glob("*.json"))) == 2  # the two finished, not the third
    assert signal.getsignal(signal.SIGINT) is before  # put back


@pytest.mark.slow
def test_sigterm_to_a_comparison_on_local_workers_releases_them_and_loses_nothing(tmp_path):
    check_stop_then_resume(tmp_path, "compare", signal.SIGTERM, "2")


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "how"), CASES, ids=[f"{k}-{h.name}" for k, h in CASES])
def test_a_study_stopped_partway_resumes_to_the_uninterrupted_result(tmp_path, kind, how):
    check_stop_then_resume(tmp_path, kind, how, "2" if how == signal.SIGTERM else "1")
