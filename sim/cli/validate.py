"""``clustersim validate FILE...``: check scenario files without running them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.core.errors import InputError, printable
from sim.core.params import ParameterError

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("validate", help="check scenario files without running them",
                       description="Load and check each scenario file (TOML syntax, keys, "
                       "types, ranges, names, schedules, extends). Prints 'ok: FILE (name, N "
                       "interventions)' per good file and one error line per bad one; exit "
                       "code 2 if any file is bad. Nothing is run or written.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="scenario files")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
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
