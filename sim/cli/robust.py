"""``clustersim robust POLICY.toml ...``: rank policies across uncertain futures (regret,
share of futures beating the reference, PRIM boxes of failure)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.core.errors import printable

__all__ = ["register"]


def register(sub) -> None:
    from sim.cli.compare import add_run_arguments

    p = sub.add_parser(
        "robust", help="rank policies (scenario files) across uncertain futures: regret and "
        "PRIM scenario discovery",
        description="Sample FUTURES futures of the uncertain parameters (Latin hypercube over "
        "ranges from the parameter table), run every policy in every future with common "
        "random numbers (resumable, on local workers or a Dask cluster), and write regret "
        "tables, the share of futures in which each policy beats the reference (the first "
        "file, normally no policy), PRIM boxes of the conditions under which the most robust "
        "policy fails, and robust.html. See docs/scenarios.md.")
    p.add_argument("reference", type=Path, metavar="REFERENCE.toml",
                   help="the reference, normally the scenario without the policy")
    p.add_argument("policies", type=Path, nargs="+", metavar="POLICY.toml",
                   help="the policies compared with it")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--futures", type=int, default=16, help="futures sampled (default 16)")
    p.add_argument("--reps", type=int, default=2,
                   help="replicates per policy and future (default 2)")
    p.add_argument("--uncertain", action="append", default=None, metavar="NAME[=LOW:HIGH]",
                   help="an uncertain parameter (repeatable; default: initial_trust, "
                   "coop_benefit, trust_gain, willingness_mean, meet_prob); without a range, "
                   "its default +-50%% within the table's allowed range")
    p.add_argument("--target", default="employment",
                   help="the outcome to do well on (default employment)")
    p.add_argument("--steps", type=int, default=None, help="months (default: the scenarios')")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument("--peel-alpha", type=float, default=0.05,
                   help="share of the box peeled at each PRIM step (default 0.05)")
    add_run_arguments(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from sim.io import limits
    from sim.io.inputs import check_not_varied
    from sim.io.scenario import parse_set
    from sim.studies.robust import robust, uncertain_ranges

    # the caps every command that runs the model shares (sim.io.limits), before any future is
    # sampled: a billion futures would hang building the design
    limits.check_seed(args.seed)
    limits.check_futures(args.futures)
    limits.check_reps(args.reps)
    limits.check_steps(args.steps)
    limits.check_workers(args.workers)
    limits.check_design(args.futures * args.reps * (1 + len(args.policies)), source="--futures")
    overrides = parse_set(args.sets)
    varied = [n for n, _, _ in uncertain_ranges(args.uncertain)]
    check_not_varied(overrides, varied, "an uncertain parameter (" + ", ".join(varied) + ")")
    res = robust([args.reference, *args.policies], out=args.out, futures=args.futures,
                 reps=args.reps, steps=args.steps, seed=args.seed, uncertain=args.uncertain,
                 target=args.target, workers=args.workers, scheduler=args.scheduler,
                 overrides=overrides, force=args.force,
                 progress=not args.no_progress, alpha=args.peel_alpha)
    print(f"{res.futures} futures: {res.ran} runs now, {res.already} already done "
          f"({res.mode})")
    print(printable(res.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                    lines=True))  # the policies' names are the user's text: no terminal codes
    print(f"most robust (minimax regret): {printable(res.policy)}; it fails to beat the "
          f"reference in {res.fails} of {res.futures} futures")
    if res.box:
        print("PRIM box of those futures: " + "; ".join(
            f"{b['parameter']} in [{b['low']:.4g}, {b['high']:.4g}]" for b in res.box))
    for note in res.notes:
        print(printable(note))
    print(f"report: {printable(res.report)}")
    return 0 if res.complete else 1
