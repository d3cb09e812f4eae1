"""``clustersim sweep`` (run an experiment file's runs) and ``clustersim sweep-bench``."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="run a parameter sweep described by an experiment file (resumable)",
        description="Run every run of EXPERIMENT that DIR does not hold yet: in this process "
        "(--workers 1), on local worker processes (default: one per core) or on a running "
        "Dask cluster (--scheduler). Start the same command again to finish an interrupted "
        "sweep. See docs/sweeps.md.")
    p.add_argument("experiment", metavar="EXPERIMENT.toml", help="the experiment file")
    p.add_argument("--out", required=True, metavar="DIR", help="the sweep directory")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: this machine's cores; 1 = in this "
                   "process, one run after another)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="submit the runs to this running Dask scheduler")
    p.add_argument("--retry-failed", action="store_true",
                   help="run again the runs recorded as failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_sweep, on_interrupt="finished work is kept")

    b = subparsers.add_parser(
        "sweep-bench", help="measure sweep throughput, parallel efficiency and per-run overhead",
        description="Time a small sweep sequentially and on local workers, and the overhead "
        "per run of the storage and scheduling layer (a no-op model); write the figures as "
        "JSON.")
    b.add_argument("--json", required=True, metavar="PATH", help="where to write the figures")
    b.add_argument("--workers", type=int, default=2, metavar="N",
                   help="worker processes for the parallel measurement (default 2)")
    b.add_argument("--runs", type=int, default=40, metavar="N",
                   help="runs of the timed workload (default 40)")
    b.add_argument("--cost-ms", type=float, default=100.0, metavar="MS",
                   help="CPU time of one run of the synthetic workload (default 100)")
    b.add_argument("--noop-runs", type=int, default=400, metavar="N",
                   help="runs of the no-op model for the overhead (default 400)")
    b.add_argument("--experiment", metavar="EXPERIMENT.toml",
                   help="time this experiment instead of the synthetic workload")
    b.set_defaults(func=_bench)


def _sweep(args: argparse.Namespace) -> int:
    from sim.core.errors import printable
    from sim.studies.sweep import run_sweep

    summary = run_sweep(args.experiment, args.out, workers=args.workers,
                        scheduler=args.scheduler, retry_failed=args.retry_failed,
                        progress=not args.no_progress)
    print(printable(summary, lines=True))  # names and paths are the user's text
    return summary.exit_code


def _bench(args: argparse.Namespace) -> int:
    from sim.bench.sweep import bench_sweep

    report = bench_sweep(args.json, workers=args.workers, runs=args.runs, cost_ms=args.cost_ms,
                         noop_runs=args.noop_runs, experiment=args.experiment)
    print(report.text())
    return 0
