"""``clustersim bench``: how fast the model and its kernels run on this machine."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark the model and its kernels",
                       description="Firm-steps per second of the default model at several "
                       "sizes, and the speed-up of the numba kernels over their Python twins. "
                       "Medians of several repeats after a warm-up.")
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                   default=[2_000, 20_000, 200_000], help="comma-separated firm counts")
    p.add_argument("--threads", type=int, default=1, help="numba threads (default 1)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3, help="repeats (the median is reported)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from sim.bench import run_benchmarks
    from sim.errors import InputError
    from sim.provenance import provenance

    if any(n < 1 for n in args.sizes):
        raise InputError("--sizes", "", "allowed: positive integers separated by commas")
    if args.threads < 1 or args.steps < 1 or args.repeats < 1:
        raise InputError("--threads/--steps/--repeats", "", "allowed: integers >= 1")
    res = run_benchmarks(args.sizes, threads=args.threads, steps=args.steps,
                         repeats=args.repeats,
                         progress=lambda m: print(f"  timing {m} ...", file=sys.stderr))
    print(f"clustersim bench on {platform.machine()} ({res['threads']} thread(s))")
    print(f"{'firms':>10}  {'firm-steps/s':>14}  {'ms/step':>9}")
    for n, rate in res["firm_steps_per_s"].items():
        print(f"{int(n):>10,}  {rate:>14,.0f}  {1e3 * res['seconds_per_step'][n]:>9.2f}")
    print(f"numba kernels vs pure-Python twins at 2,000 firms: {res['numba_vs_python']:,.0f}x")
    for name, row in res["kernels"].items():
        print(f"  {name:<18} {row['ratio']:>8,.0f}x  ({1e6 * row['numba_s']:,.0f} us)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {**res, "provenance": provenance(machine=platform.machine())}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"written: {args.json}")
    return 0
