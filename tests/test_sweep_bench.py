"""The sweep benchmark runs end to end and writes its figures (a smoke test, not a timing)."""

from __future__ import annotations

import json

import pytest

from sim.cli import main


@pytest.mark.slow
def test_sweep_bench_writes_its_figures(tmp_path, capsys):
    path = tmp_path / "bench" / "sweep.json"
    assert main(["sweep-bench", "--json", str(path), "--runs", "6", "--cost-ms", "20",
                 "--noop-runs", "30"]) == 0
    data = json.loads(path.read_text())
    w, o = data["workload"], data["overhead"]
    assert w["runs"] == 6
    assert data["workers"] == 2
    assert w["sequential_runs_per_min"] > 0
    assert w["parallel_runs_per_min"] > 0
    assert w["parallel_efficiency"] > 0
    assert o["runs"] == 30
    assert o["sequential_ms_per_run"] > 0
    assert o["dask_ms_per_run"] > 0
    # a run burning 20 ms cannot go faster than 3000 runs/min on one core
    assert w["sequential_runs_per_min"] < 3000
    assert f"wrote {path}" in capsys.readouterr().out


def test_sweep_bench_needs_two_workers(tmp_path, capsys):
    assert main(["sweep-bench", "--json", str(tmp_path / "b.json"), "--workers", "1"]) == 2
    assert capsys.readouterr().err == (
        "clustersim sweep-bench: error: --workers: got 1; allowed: an integer >= 2\n")
    assert not (tmp_path / "b.json").exists()
