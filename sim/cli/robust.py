"""``clustersim robust POLICY.toml ...``: rank policies across uncertain futures by a named
robustness criterion (regret, satisficing, the probability of beating the reference, shown
together with wins, ties and money) and find by PRIM when the chosen policy fails or gains."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.core.errors import printable

__all__ = ["register"]


def register(sub) -> None:
    from sim.cli.compare import add_run_arguments

    p = sub.add_parser(
        "robust", help="rank policies (scenario files) across uncertain futures: regret, "
        "satisficing, probability of beating the reference, money; PRIM scenario discovery",
        description="Sample FUTURES futures of the uncertain parameters (Latin hypercube over "
        "documented ranges), run every policy in every future with common random numbers "
        "(resumable, on local workers or a Dask cluster), and write, per policy, maximum and "
        "mean regret, the satisficing share, the shares of futures in which it beats, does not "
        "differ from or does worse than the reference (the first file, normally no policy), "
        "wins and ties for best, public cost and cost per extra unit; a headline that names "
        "its criterion; PRIM boxes (EMA Workbench) of when the chosen policy fails and when it "
        "gains; and robust.html. See docs/robustness.md.")
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
                   "coop_benefit, trust_gain, willingness_mean, meet_prob, supplier_capacity, "
                   "supply_elasticity, import_cost, "
                   "wage_density_elasticity, rent_density_elasticity, localisation_elasticity);"
                   " without a range, its documented range (docs/robustness.md) or else its "
                   "default +-50%% within the table's allowed range")
    p.add_argument("--target", default="employment",
                   help="the outcome to do well on (default employment)")
    p.add_argument("--steps", type=int, default=None, help="months (default: the scenarios')")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument("--peel-alpha", type=float, default=0.05,
                   help="share of the box peeled at each PRIM step (default 0.05)")
    p.add_argument("--criterion", choices=("regret", "satisficing", "beat"), default="regret",
                   help="what the headline ranks by: minimax regret (default), the "
                   "satisficing share, or the probability of beating the reference; the table "
                   "shows all three")
    p.add_argument("--tolerance", type=float, default=0.0, metavar="X",
                   help="two policies do not clearly differ in a future when their mean "
                   "difference is at most X (in the target's units; default 0), or when its "
                   "paired 95%% interval over the replicates includes zero")
    p.add_argument("--satisfice", type=float, default=None, metavar="LEVEL",
                   help="a policy satisfices in a future when its target reaches LEVEL (at "
                   "least, or at most for an outcome where less is better); default: when it "
                   "is not clearly worse than the reference")
    p.add_argument("--budget", type=float, default=None, metavar="COST",
                   help="a policy satisfices only where its public cost (public_spending_total) "
                   "is at most COST")
    p.add_argument("--min-coverage", type=float, default=0.5, metavar="C",
                   help="PRIM reports the densest box that covers at least this share of the "
                   "futures of interest (default 0.5)")
    add_run_arguments(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from sim.io import limits
    from sim.io.inputs import check_not_varied
    from sim.io.scenario import parse_set
    from sim.studies.robust import robust, uncertain_ranges
    from sim.studies.robust.page import describe

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
                 progress=not args.no_progress, alpha=args.peel_alpha,
                 criterion=args.criterion, tolerance=args.tolerance, satisfice=args.satisfice,
                 budget=args.budget, min_coverage=args.min_coverage,
                 posterior=args.posterior)
    print(f"{res.futures} futures: {res.ran} runs now, {res.already} already done "
          f"({res.mode})")
    shown = {"rank": "rank", "policy": "policy", "max_regret": "max regret",
             "mean_regret": "mean regret", "satisficing": "satisficing", "beats": "beats ref",
             "no_difference": "no clear diff", "worse": "worse", "best_alone": "best alone",
             "mean_effect": "mean effect", "extra_cost": "extra cost",
             "cost_per_unit": "cost per unit"}
    # the policies' names are the user's text: no terminal codes
    print(printable(res.table[list(shown)].rename(columns=shown).to_string(
        index=False, na_rep="", float_format=lambda v: f"{v:.4g}"), lines=True))
    for sentence in res.headline:
        print(printable(sentence))
    for d in res.discoveries.values():
        print(printable(describe(d), lines=True))
    for note in res.notes:
        print(printable(note))
    print(f"report: {printable(res.report)}")
    return 0 if res.complete else 1
