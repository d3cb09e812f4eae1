"""``clustersim run SCENARIO.toml``: one run, written to a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from sim.core.errors import printable

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("run", help="run one scenario and write its results",
                       description="Run one scenario once and write timeseries.parquet/.csv, "
                       "firms.parquet, run.json (provenance) and summary.png into --out.")
    p.add_argument("scenario", type=Path, help="scenario file (TOML)")
    p.add_argument("--steps", type=int, default=None, help="months (default: the scenario's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=None,
                   help="output folder (default results/run-NAME-seedS)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter or intervention field, e.g. coop_benefit=0.03 "
                   "or interventions.cfc.grant_share=0.8 (repeatable)")
    p.add_argument("--threads", type=int, default=1,
                   help="numba threads for a large cluster (default 1; 2 run a 100,000-firm "
                   "month about 1.8x faster on two cores; results are identical)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from sim.io import limits
    from sim.io.output import check_out_folder, claim_folder, safe_component
    from sim.io.scenario import load_scenario, parse_set

    limits.check_steps(args.steps, lo=0)  # the cap of a scenario's steps, as for every command
    limits.check_seed(args.seed)
    limits.check_threads(args.threads)
    if args.out is not None:
        check_out_folder(args.out)
    scenario = load_scenario(args.scenario)
    overrides = parse_set(args.sets)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    # a scenario's name is free text: the default folder stays one name inside results/
    out = (Path(args.out) if args.out is not None
           else Path("results") / safe_component(f"run-{scenario.name}-seed{args.seed}"))
    with claim_folder(out):
        return _run(args, scenario, overrides, out)


def _run(args: argparse.Namespace, scenario, overrides, out: Path) -> int:
    from sim.io.output import check_destination, write_run
    from sim.studies.simulate import simulate

    steps = scenario.steps if args.steps is None else args.steps
    # refuse early, before computing, if the destination holds something else
    if out.exists() and out.is_dir() and any(out.iterdir()) and not args.force:
        from sim.io.provenance import provenance

        probe = provenance(scenario=scenario, seed=args.seed, steps=steps, overrides=overrides)
        if not check_destination(out, probe, force=False):
            print(f"{printable(out)} already holds this run; nothing to do")
            return 0
    name = printable(scenario.name)  # a scenario's name is the user's text: no terminal codes
    with tqdm(total=steps, desc=name, unit="month", delay=2.0, leave=False) as bar:
        result = simulate(scenario, steps=steps, seed=args.seed, threads=args.threads,
                          progress=bar.update)
    folder, written = write_run(result, out, force=args.force)
    final = result.final
    print(f"{name}: {steps} months, seed {args.seed}, "
          f"{result.provenance['wall_time_s']:.2f} s; firms {final['firms']:.0f}, "
          f"employment {final['employment']:.0f}, cooperation {final['cooperation_rate']:.2f}, "
          f"facilities {final['facilities_operating']:.0f}")
    print(f"results: {printable(folder)}" + ("" if written else " (unchanged)"))
    return 0
