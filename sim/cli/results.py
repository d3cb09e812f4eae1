"""``clustersim results``: query a sweep directory with DuckDB, or export it as CSV."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "results", help="query a sweep's results with SQL (DuckDB) or export them as CSV",
        description="Without --sql, print a summary of the sweep in DIR. The views runs (one "
        "row per run), design (one row per planned run) and series (if the sweep kept any) "
        "are available to --sql. --csv writes the query's result (default: the runs table).")
    p.add_argument("dir", metavar="DIR", help="a sweep directory")
    p.add_argument("--sql", metavar="QUERY", help="a query, e.g. \"select status, count(*) "
                   "from runs group by status\"")
    p.add_argument("--csv", metavar="OUT", help="write the result to this CSV file")
    p.add_argument("--force", action="store_true", help="replace an existing --csv file")
    p.add_argument("--max-rows", type=int, default=60, metavar="N",
                   help="print at most N rows (default 60)")
    p.set_defaults(func=_results)


def _results(args: argparse.Namespace) -> int:
    from sim.studies.sweep.results import query_results

    print(query_results(args.dir, sql=args.sql, csv=args.csv, max_rows=args.max_rows,
                        force=args.force))
    return 0
