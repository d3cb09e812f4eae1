"""``clustersim animate SCENARIO.toml --steps N --out FILE.gif|.mp4``: a run as an animation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from sim.core.errors import InputError

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("animate", help="animate a run: the map and the charts, month by month",
                       description="Run a scenario and write an animation of it: the map of "
                       "the cluster and the main series side by side, one frame a month. "
                       "A .gif needs nothing more; an .mp4 needs the imageio-ffmpeg package.")
    p.add_argument("scenario", type=Path, help="scenario file (TOML)")
    p.add_argument("--out", type=Path, required=True, help="output file, .gif or .mp4")
    p.add_argument("--steps", type=int, default=None, help="months (default: the scenario's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--fps", type=int, default=8, help="frames (months) per second (default 8)")
    p.add_argument("--color-by", choices=("sector", "cooperation"), default="sector",
                   help="what the firms' colour shows (default sector)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter or intervention field (repeatable)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(func=main, on_interrupt="nothing was written")


def main(args: argparse.Namespace) -> int:
    from sim.io.scenario import load_scenario, parse_set
    from sim.views.animate import animate, check_output

    if args.steps is not None and not 1 <= args.steps <= 100_000:
        raise InputError("--steps", "", f"got {args.steps}; allowed: an integer 1-100000")
    if not 1 <= args.fps <= 60:
        raise InputError("--fps", "", f"got {args.fps}; allowed: an integer 1-60")
    check_output(args.out, args.force)
    scenario = load_scenario(args.scenario)
    overrides = parse_set(args.sets)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    steps = scenario.steps if args.steps is None else args.steps
    with tqdm(total=steps, desc=scenario.name, unit="month", leave=False,
              disable=not sys.stderr.isatty()) as bar:
        out = animate(scenario, args.out, steps=steps, seed=args.seed, fps=args.fps,
                      color_by=args.color_by, force=args.force, progress=bar.update)
    print(f"{scenario.name}: {steps} months, seed {args.seed}; animation: {out}")
    return 0
