"""``clustersim compare BASE.toml ALT.toml ...``: replicated comparison with confidence
intervals, run as a resumable experiment on the sweep runner."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.core.errors import InputError, printable

__all__ = ["register", "add_run_arguments"]


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="compare scenarios over replicates, with confidence intervals",
        description="Run R replicates of each scenario with common random numbers (replicate r "
        "of every scenario uses the same seed) as an experiment on the sweep runner: resumable "
        "(start the same command again after an interruption), on local workers or a Dask "
        "cluster, and queryable with `clustersim results DIR`. Writes summary.csv (means, "
        "95%% confidence intervals, paired differences from BASE), costs.csv (cost per extra "
        "job, per firm kept and per unit of purpose, every funded policy), incremental.csv "
        "(what a dearer grant buys over a cheaper one), shocks.csv, ranking.csv, "
        "effects_over_time.csv, figures and a self-contained report.html that opens with a "
        "decision summary.")
    p.add_argument("base", type=Path, metavar="BASE.toml", help="the reference scenario")
    p.add_argument("alternatives", type=Path, nargs="+", metavar="ALT.toml",
                   help="scenarios compared with BASE")
    p.add_argument("--reps", default="10",
                   help="replicates per scenario (default 10), or auto: add replicates until "
                   "the paired 95%% interval of --target is at most --width wide")
    p.add_argument("--width", type=float, default=None,
                   help="with --reps auto: the widest paired 95%% interval accepted, in the "
                   "target's units (e.g. 20 workers)")
    p.add_argument("--max-reps", type=int, default=40,
                   help="with --reps auto: the most replicates per scenario (default 40)")
    p.add_argument("--target", default="employment",
                   help="the outcome the ranking, the decision summary and --reps auto are "
                   "about (default employment)")
    p.add_argument("--steps", type=int, default=None,
                   help="months (default: the scenarios' own, which must agree)")
    p.add_argument("--seed", type=int, default=0, help="root seed of the replicates (default 0)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--horizon", type=int, default=None, metavar="MONTHS",
                   help="measure effects and costs in this month (default: the run's end)")
    p.add_argument("--discount", type=float, default=None, metavar="RATE",
                   help="annual discount rate, e.g. 0.05: costs per unit become present values "
                   "of the monthly spending and outcome streams up to --horizon (jobs in "
                   "discounted job-years); default: no discounting")
    p.add_argument("--why", action="store_true",
                   help="say what carries each significant effect: rerun it with one mechanism "
                   "at a time at its textbook limit (7 more comparisons of the scenarios "
                   "concerned, in OUT/why/, resumable)")
    add_run_arguments(p)
    p.set_defaults(func=main)


def add_run_arguments(p) -> None:
    """The options every experiment on the sweep runner shares (compare, robust)."""
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: the number of cores; 1 = in this "
                   "process)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="submit the runs to this running Dask scheduler")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter or intervention field in every scenario, e.g. "
                   "coop_benefit=0.03 or interventions.cfc.grant_share=0.8 (repeatable)")
    p.add_argument("--posterior", metavar="CALIBRATION", default=None,
                   help="draw the parameters from the posterior of this calibration (the "
                   "folder `clustersim calibrate` wrote, or its calibration.json): each "
                   "replicate takes one draw, the same in every scenario (and the same seed), "
                   "so the intervals include parameter uncertainty and the report gives each "
                   "policy's chance of being best and the parameter that drives the answer "
                   "most; default: a point estimate at the scenarios' own values")
    p.add_argument("--force", action="store_true",
                   help="replace an output folder that holds something else")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(on_interrupt="finished runs are kept; run the same command again to resume")


def main(args: argparse.Namespace) -> int:
    from sim.io import limits

    # the caps every command that runs the model shares (sim.io.limits)
    limits.check_seed(args.seed)
    if args.reps != "auto":
        try:
            args.reps = int(args.reps)
        except ValueError:
            raise InputError("--reps", "", f"got {args.reps!r}; allowed: an integer from 2 to "
                             f"{limits.MAX_REPS:,} or auto") from None
        limits.check_reps(args.reps, lo=2)
    else:
        limits.check_positive(args.width, "--width", " (with --reps auto: the widest paired "
                              "95% interval of --target accepted)")
    limits.check_reps(args.max_reps, "--max-reps", lo=2)
    limits.check_steps(args.steps)
    limits.check_workers(args.workers)
    # the comparison holds its folder (sim.io.output.claims_out) from its first check to its
    # report's last file: a second command into the same folder is told another is writing
    return _main(args)


def _main(args: argparse.Namespace) -> int:
    from sim.io.scenario import parse_set
    from sim.studies.compare import compare

    reps = args.reps  # an int (checked by main) or "auto"
    res = compare([args.base, *args.alternatives], reps=reps, out=args.out,
                  steps=args.steps, seed=args.seed, workers=args.workers,
                  scheduler=args.scheduler, overrides=parse_set(args.sets), force=args.force,
                  progress=not args.no_progress, target=args.target, width=args.width,
                  max_reps=args.max_reps, horizon=args.horizon, discount=args.discount,
                  explain_effects=args.why, posterior=args.posterior)
    comp = res.comparison
    done = (f"{res.ran} runs now, {res.already} already done" if res.already
            else f"{res.ran} runs")
    print(f"{len(comp.labels)} scenarios x {comp.reps} replicates, {comp.steps} months: "
          f"{done}, {comp.wall_time_s:.1f} s ({res.mode})")
    if comp.rule.get("target"):
        rule = comp.rule
        print(f"--reps auto: {rule['reps']} replicates; widest paired 95% interval of "
              f"{rule['target']} {rule['widest']:.4g} (target {rule['width']:g}): "
              + ("reached" if rule["met"] else f"NOT reached at the cap of {rule['cap']}"))
    for line in _decision(res):
        print(printable(line))
    for line in comp_lines(res):
        print(printable(line))
    print(f"report: {printable(res.report)}")
    return 0 if res.complete else 1


def _decision(res) -> list[str]:
    """The parameters lines of the decision summary: the point-estimate label, or P(best) and
    the drivers with --posterior."""
    import json

    path = res.report.parent / "comparison.json"
    try:
        decision = json.loads(path.read_text(encoding="utf-8")).get("decision", {})
    except (OSError, ValueError):
        return []
    return [t for t in decision.get("lines", {}).get("parameters", [])
            if not t.startswith("Variance shares:")]  # the estimator: in the report


def comp_lines(res) -> list[str]:
    out = []
    if res.failed:
        out.append(f"{res.failed} runs failed (see `clustersim results {res.report.parent} "
                   "--sql \"select id, scenario, error from runs where status = 'failed'\"`); "
                   "the report uses the runs that finished")
    if res.lost:
        out.append(f"{res.lost} runs could not be completed; run the same command again to "
                   "finish them")
    return out
