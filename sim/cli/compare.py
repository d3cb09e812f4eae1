"""``clustersim compare BASE.toml ALT.toml ...``: replicated comparison with confidence
intervals."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "MAX_REPS"]

#: Most replicates per scenario of a comparison.
MAX_REPS = 10_000


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="compare scenarios over replicates, with confidence intervals",
        description="Run R replicates of each scenario with common random numbers (replicate i "
        "of every scenario uses the same seed), and write summary.csv (means, 95%% confidence "
        "intervals, paired differences from BASE), costs.csv (public cost per job and per "
        "firm), runs.parquet, series.parquet, figures and a self-contained report.html.")
    p.add_argument("base", type=Path, metavar="BASE.toml", help="the reference scenario")
    p.add_argument("alternatives", type=Path, nargs="+", metavar="ALT.toml",
                   help="scenarios compared with BASE")
    p.add_argument("--reps", type=int, default=10, help="replicates per scenario (default 10)")
    p.add_argument("--steps", type=int, default=None,
                   help="months (default: the scenarios' own, which must agree)")
    p.add_argument("--seed", type=int, default=0, help="root seed of the replicates (default 0)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: the number of cores)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter or intervention field in every scenario, e.g. "
                   "coop_benefit=0.03 or interventions.cfc.grant_share=0.8 (repeatable)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=main, on_interrupt="nothing was written")


def main(args: argparse.Namespace) -> int:
    from sim.errors import InputError
    from sim.output import claim_folder

    if args.seed < 0:
        raise InputError("--seed", "", f"got {args.seed}; allowed: an integer >= 0")
    if args.reps > MAX_REPS:  # every replicate's series is held in memory
        raise InputError("--reps", "", f"got {args.reps}; allowed: an integer from 2 to "
                         f"{MAX_REPS:,}")
    with claim_folder(args.out):  # one command at a time writes a folder
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    from sim.compare import compare
    from sim.errors import InputError
    from sim.scenario import parse_set

    if args.steps is not None and args.steps < 1:
        raise InputError("--steps", "", f"got {args.steps}; allowed: an integer >= 1")
    report, comp = compare([args.base, *args.alternatives], reps=args.reps, out=args.out,
                           steps=args.steps, seed=args.seed, workers=args.workers,
                           overrides=parse_set(args.sets), force=args.force,
                           progress=not args.no_progress)
    if comp is None:
        print(f"{args.out} already holds this comparison; nothing to do")
    else:
        print(f"{len(comp.labels)} scenarios x {comp.reps} replicates, {comp.steps} months, "
              f"{comp.wall_time_s:.1f} s on {comp.workers} worker(s)")
    print(f"report: {report}")
    return 0
