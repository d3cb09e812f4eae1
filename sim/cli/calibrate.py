"""``clustersim calibrate``: fit free parameters to observed patterns (ABC rejection)."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate", help="calibrate parameters against observed patterns (pattern-oriented "
        "modelling, ABC rejection; resumable)",
        description="Run the design of a calibration file through the sweep engine, compare "
        "each point's patterns with the observed targets, accept the points that reproduce "
        "them, and write calibration.json, patterns.csv and one figure per pattern to DIR. "
        "Start the same command again to finish an interrupted calibration. See "
        "docs/calibration.md.")
    p.add_argument("calibration", metavar="EXPERIMENT.toml", help="the calibration file")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default: results/calibrate/NAME)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: this machine's cores; 1 = in this "
                   "process, one run after another)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="submit the runs to this running Dask scheduler")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_calibrate, on_interrupt="finished runs are kept")


def _calibrate(args: argparse.Namespace) -> int:
    from sim.core.errors import printable
    from sim.studies.calibrate.run import calibrate

    result = calibrate(args.calibration, args.out, workers=args.workers,
                       scheduler=args.scheduler, progress=not args.no_progress)
    print(printable(result, lines=True))  # names and paths are the user's text
    return 0 if result.complete else 1
