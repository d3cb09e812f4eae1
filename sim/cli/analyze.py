"""``clustersim analyze``: sensitivity indices, main effects and phase diagrams of a sweep."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze", help="Sobol' indices, Morris screening, main effects or phase diagrams of a "
        "sweep", description="Analyse the sweep in DIR according to its design and write "
        "tables (CSV) and figures (PNG) to DIR/analysis/.")
    p.add_argument("dir", metavar="DIR", help="a sweep directory")
    p.add_argument("--output", action="append", metavar="NAME",
                   help="an outcome to analyse (repeatable; default: every final outcome)")
    p.add_argument("--conf-level", type=float, default=0.95, metavar="P",
                   help="confidence level of the intervals (default 0.95)")
    p.add_argument("--resamples", type=int, default=1000, metavar="N",
                   help="bootstrap resamples for Sobol'/Morris intervals (default 1000)")
    p.add_argument("--no-figures", action="store_true", help="tables only")
    p.set_defaults(func=_analyze)


def _analyze(args: argparse.Namespace) -> int:
    from sim.studies.sweep.analysis import analyze

    print(analyze(args.dir, outputs=args.output, conf_level=args.conf_level,
                  num_resamples=args.resamples, figures=not args.no_figures))
    return 0
