"""``clustersim validate FILE...``: check scenario files without running them.

``clustersim validate --anchors [ANCHORS]``: run the scenarios that express the policy anchors
over replicates and report, for each anchor, its band, the model's 90% predictive interval and
whether it is covered (:mod:`sim.studies.validate_anchors`, docs/anchors.md). With
``--posterior CAL`` (repeatable, one calibration per scenario) the scenario CAL was calibrated on
runs with one posterior draw per replicate.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.core.errors import InputError, printable
from sim.core.params import ParameterError

__all__ = ["register"]

#: the --anchors value that stands for the shipped sim/data/policy_anchors.toml
SHIPPED = "shipped"


def register(sub) -> None:
    p = sub.add_parser("validate", help="check scenario files without running them, or the "
                       "model against the policy anchors (--anchors)",
                       description="Load and check each scenario file (TOML syntax, keys, "
                       "types, ranges, names, schedules, extends). Prints 'ok: FILE (name, N "
                       "interventions)' per good file and one error line per bad one; exit "
                       "code 2 if any file is bad. Nothing is run or written. With --anchors "
                       "(and no FILE): run the scenarios that express the policy anchors over "
                       "--reps replicates and print, for each anchor, its band, the model's "
                       "90%% predictive interval and whether it is covered; the table goes to "
                       "--out as anchors.csv and anchors.json (with provenance). An "
                       "interrupted validation resumes when started again with the same "
                       "options. With --posterior CAL (repeatable, one calibration per "
                       "scenario) the wirings run on the scenario CAL was calibrated on take "
                       "one posterior draw per replicate, so the intervals include parameter "
                       "uncertainty.")
    p.add_argument("files", nargs="*", type=Path, metavar="FILE", help="scenario files")
    p.add_argument("--anchors", nargs="?", const=SHIPPED, default=None, metavar="ANCHORS",
                   help="validate the model against the policy anchors (default: the shipped "
                   "sim/data/policy_anchors.toml, or this anchors file)")
    p.add_argument("--reps", type=int, default=20,
                   help="replicates per scenario with --anchors (default 20)")
    p.add_argument("--seed", type=int, default=0, help="first replicate's seed (default 0)")
    p.add_argument("--steps", type=int, default=None,
                   help="at most this many months per run (default: as long as the anchors' "
                   "windows need; shorter runs leave later anchors unmeasured)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes with --anchors (default 1)")
    p.add_argument("--scenarios", type=Path, default=Path("scenarios"),
                   help="folder of the shipped scenarios (default: scenarios)")
    p.add_argument("--posterior", type=Path, action="append", default=[], metavar="CAL",
                   help="with --anchors: a calibration folder (or its calibration.json) "
                   "with posterior draws; the wirings run on the scenario it was calibrated "
                   "on (same content hash) take one draw per replicate, the same draw in "
                   "every wiring of that scenario. Repeat for other scenarios (default: "
                   "none, every scenario at its own values: a point estimate)")
    p.add_argument("--out", type=Path, default=Path("results/validate_anchors"),
                   help="results folder with --anchors (default results/validate_anchors)")
    p.set_defaults(func=main, on_interrupt="finished replicates are kept in --out; run the "
                   "same command again to resume")


def main(args: argparse.Namespace) -> int:
    if args.anchors is not None:
        return _anchors(args)
    if args.posterior:
        raise InputError("clustersim validate", "--posterior", "only with --anchors; "
                         "allowed: --anchors --posterior CAL")
    if not args.files:
        raise InputError("clustersim validate", "FILE", "none given; allowed: one or more "
                         "scenario files, or --anchors")
    from sim.io.scenario import load_scenario

    bad = 0
    for path in args.files:
        try:
            sc = load_scenario(path)
        except (InputError, ParameterError) as exc:
            print(f"clustersim validate: error: {exc}", file=sys.stderr)
            bad += 1
            continue
        n = len(sc.interventions)
        print(f"ok: {printable(path)} ({printable(sc.name)}, {n} "
              f"intervention{'' if n == 1 else 's'})")
    return 2 if bad else 0


def _anchors(args: argparse.Namespace) -> int:
    from sim.io import limits
    from sim.io.anchors import load_anchors
    from sim.io.output import check_out_folder, claim_folder
    from sim.studies.validate_anchors import (
        default_steps,
        parameters_line,
        summary_line,
        validate_anchors,
    )

    if args.files:
        raise InputError("clustersim validate", "FILE", "scenario files and --anchors "
                         "together; allowed: one or the other")
    reps = limits.check_reps(args.reps, lo=2)
    seed = limits.check_seed(args.seed)
    cap = limits.check_steps(args.steps)
    workers = limits.check_workers(args.workers) or 1
    anchors = load_anchors(None if args.anchors == SHIPPED else args.anchors)
    from sim.io.posterior import load_posterior

    posteriors = [load_posterior(p) for p in args.posterior]
    if not args.scenarios.is_dir():
        raise InputError(str(args.scenarios), "--scenarios", "not a folder; allowed: the "
                         "folder of the shipped scenarios")
    steps = default_steps(args.scenarios)
    if cap is not None:
        steps = {e: min(n, cap) for e, n in steps.items()}
    out = check_out_folder(args.out)
    with claim_folder(out):
        verdicts = validate_anchors(anchors, out, reps=reps, seed=seed, workers=workers,
                                    steps=steps, folder=args.scenarios,
                                    progress=lambda msg: print(msg, file=sys.stderr),
                                    posteriors=posteriors)
    width = max(len(v.key) for v in verdicts)
    print(f"{'anchor':<{width}}  {'role':<8}  {'band':<22}  {'model (90%)':<22}  verdict")
    for v in verdicts:
        mark = {True: "covered", False: "MISSED", None: "not judged"}[v.covered]
        print(f"{v.key:<{width}}  {v.role:<8}  {v.band:<22}  {v.model:<22}  {mark}")
    print(summary_line(verdicts))
    prov = json.loads((out / "anchors.json").read_text(encoding="utf-8"))["provenance"]
    print(parameters_line(prov["parameters"]))
    print(f"table: {printable(out / 'anchors.csv')}, {printable(out / 'anchors.json')}")
    return 0
