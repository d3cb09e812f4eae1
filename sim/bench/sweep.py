"""How fast sweeps go: throughput, parallel efficiency and the overhead of the sweep layer.

Three measurements, each a real sweep through :func:`~sim.studies.sweep.runner.run_sweep` into a
temporary directory:

1. a workload (by default the Ishigami stand-in made to burn ``cost_ms`` of CPU per run; or any
   experiment file) run sequentially in this process, then on ``workers`` local Dask workers:
   runs per minute of each, and the parallel efficiency ``rate_parallel / (workers x
   rate_sequential)`` (steady state, after the workers have started);
2. a no-op model (Ishigami, microseconds per run) run sequentially: the overhead per run of
   building, storing (two Parquet files moved into place) and book-keeping;
3. the same no-op sweep on the local workers: the overhead per run with Dask scheduling and
   result transfer, and the time to start the local cluster.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim import __version__
from sim.core.errors import InputError
from sim.studies.sweep.runner import default_workers, run_sweep

__all__ = ["BenchReport", "bench_sweep"]

_PI = 3.141592653589793


def _ishigami_toml(n: int, cost_ms: float, seed: int = 1) -> str:
    factors = "".join(f'[[factors]]\npath = "x{i}"\nrange = [{-_PI!r}, {_PI!r}]\n'
                      for i in (1, 2, 3))
    return (f'[experiment]\nname = "bench"\nmodel = "ishigami"\n'
            f'[design]\nmethod = "lhs"\nsamples = {n}\nseed = {seed}\n'
            f"[overrides]\ncost_ms = {float(cost_ms)!r}\n{factors}"
            f'[outputs]\nfinal = ["y"]\n')


@dataclass
class BenchReport:
    """The figures of :func:`bench_sweep` (``data``) and where they were written."""

    data: dict[str, Any]
    path: Path

    def text(self) -> str:
        d = self.data
        w, o = d["workload"], d["overhead"]
        return "\n".join([
            f"workload: {w['description']}, {w['runs']} runs",
            f"  sequential:        {w['sequential_runs_per_min']:9.1f} runs/min",
            f"  {d['workers']} workers:         {w['parallel_runs_per_min']:9.1f} runs/min "
            f"(steady state; {w['parallel_runs_per_min_with_startup']:.1f} with startup)",
            f"  parallel efficiency: {w['parallel_efficiency']:.2f}",
            f"overhead per run (no-op model, {o['runs']} runs):",
            f"  sequential, storage and book-keeping: {o['sequential_ms_per_run']:.2f} ms",
            f"  {d['workers']} Dask workers, with scheduling:    "
            f"{o['dask_ms_per_run']:.2f} ms (wall / runs)",
            f"  local cluster start-up: {o['cluster_startup_s']:.2f} s",
            f"wrote {self.path}",
        ])


def _timed_sweep(experiment: Path, out: Path, workers: int) -> tuple[float, float, int]:
    """(wall, start-up, runs) of one sweep."""
    summary = run_sweep(experiment, out, workers=workers, progress=False)
    if summary.lost or summary.failed:
        raise RuntimeError(f"benchmark sweep did not run cleanly:\n{summary}")
    return summary.wall, summary.startup, summary.ran


def bench_sweep(json_path: str | Path, *, workers: int = 2, runs: int = 40,
                cost_ms: float = 100.0, noop_runs: int = 400,
                experiment: str | Path | None = None) -> BenchReport:
    """Measure the sweep layer and write the figures to ``json_path`` (JSON).

    Parameters
    ----------
    json_path : str or Path
        Output file; its folder is created.
    workers : int
        Local worker processes of the parallel measurements (>= 2).
    runs, cost_ms : int, float
        Size of the synthetic workload: ``runs`` runs of ``cost_ms`` CPU milliseconds.
    noop_runs : int
        Runs of the no-op model for the overhead.
    experiment : str or Path, optional
        Time this experiment as the workload instead (e.g. a small cluster-model sweep).
    """
    if workers < 2:
        raise InputError("--workers", "", f"got {workers}; allowed: an integer >= 2")
    if runs < 2 or noop_runs < 2:
        raise InputError("--runs", "", "allowed: at least 2 runs of each workload")
    json_path = Path(json_path)
    with tempfile.TemporaryDirectory(prefix="clustersim-bench-") as tmp:
        tmp = Path(tmp)
        if experiment is None:
            work = tmp / "workload.toml"
            work.write_text(_ishigami_toml(runs, cost_ms))
            description = f"Ishigami stand-in burning {cost_ms:g} ms CPU per run"
        else:
            work = Path(experiment)
            description = f"experiment {work}"
        seq_wall, _, n = _timed_sweep(work, tmp / "seq", 1)
        par_wall, par_start, n_par = _timed_sweep(work, tmp / "par", workers)
        noop = tmp / "noop.toml"
        noop.write_text(_ishigami_toml(noop_runs, 0.0))
        noop_seq, _, n_noop = _timed_sweep(noop, tmp / "noop-seq", 1)
        noop_par, noop_start, _ = _timed_sweep(noop, tmp / "noop-par", workers)

    rate_seq = n / seq_wall * 60
    rate_par = n_par / (par_wall - par_start) * 60
    data = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "version": __version__,
        "machine": {"cores": default_workers(), "cpu_count": os.cpu_count(),
                    "platform": platform.platform(), "python": platform.python_version()},
        "workers": workers,
        "workload": {
            "description": description, "runs": n,
            "sequential_wall_s": seq_wall, "parallel_wall_s": par_wall,
            "parallel_startup_s": par_start,
            "sequential_runs_per_min": rate_seq,
            "parallel_runs_per_min": rate_par,
            "parallel_runs_per_min_with_startup": n_par / par_wall * 60,
            "parallel_efficiency": rate_par / (workers * rate_seq),
        },
        "overhead": {
            "runs": n_noop,
            "sequential_ms_per_run": noop_seq / n_noop * 1e3,
            "dask_ms_per_run": (noop_par - noop_start) / n_noop * 1e3,
            "cluster_startup_s": noop_start,
        },
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    return BenchReport(data=data, path=json_path)
