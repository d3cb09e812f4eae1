"""Querying a sweep directory: SQL through DuckDB over the run, design and series tables."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from sim.core.errors import InputError
from sim.io.output import atomic_write, check_out_path
from sim.studies.sweep.store import SweepStore

__all__ = ["query", "query_results", "summary_text"]


def _one_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith("LINE ") and set(ln) != {"^"}]
    return " ".join(keep) or type(exc).__name__


def query(out: str | Path, sql: str) -> pd.DataFrame:
    """Run ``sql`` against the views ``runs``, ``design`` and ``series`` of the sweep in ``out``.

    Raises
    ------
    InputError
        Not a sweep directory, or a query DuckDB rejects (its message, on one line).
    """
    con = SweepStore(out).connect()
    try:
        rel = con.sql(sql)
        return rel.df() if rel is not None else pd.DataFrame()
    except duckdb.Error as exc:
        raise InputError("--sql", "", _one_line(exc)) from None
    finally:
        con.close()


def summary_text(out: str | Path) -> str:
    """What the sweep in ``out`` is and how far it got."""
    store = SweepStore(out)
    meta = store.metadata()
    runs = store.read_runs()
    design = meta["resolved"]["design"]
    counts = runs["status"].value_counts()
    cols = meta["columns"]
    lines = [
        f"sweep {meta['name']!r} in {store.out}",
        f"design: {design['method']}, {meta['n_points']} points x {design['replicates']} "
        f"replicates = {meta['n_runs']} runs; model {meta['resolved']['model']}",
        f"runs: {int(counts.get('ok', 0))} ok, {int(counts.get('failed', 0))} failed, "
        f"{meta['n_runs'] - len(runs)} missing",
        "views for --sql: runs(id, point, replicate, seed, status, error, wall_time, "
        + ", ".join([f["name"] for f in cols["factors"]] + cols["final"]) + ", traceback)",
        "                 design(id, point, replicate, seed, "
        + ", ".join(f["name"] for f in cols["factors"]) + ")",
    ]
    if cols["series"]:
        lines.append("                 series(run_id, point, replicate, step, "
                     + ", ".join(cols["series"]) + ")")
    lines.append("an undefined outcome (e.g. time_to_first_facility in a run without a "
                 "facility) is NULL: avg() skips it, count(column) counts the runs that have "
                 "it; runs_raw" + (" and series_raw keep" if cols["series"] else " keeps")
                 + " the stored NaN")
    return "\n".join(lines)


def query_results(out: str | Path, *, sql: str | None = None, csv: str | Path | None = None,
                  max_rows: int = 60, force: bool = False) -> str:
    """The text ``clustersim results`` prints; with ``csv``, also write the result there.

    Without ``sql`` the text is :func:`summary_text` and the CSV holds the ``runs`` table. An
    existing ``csv`` is replaced only with ``force``; the file is written whole or not at all.
    """
    if csv is not None:
        _check_csv(Path(csv), force)
    if sql is None:
        text = summary_text(out)
        if csv is None:
            return text
        frame = query(out, "select * from runs order by point, replicate")
    else:
        frame = query(out, sql)
        text = frame.to_string(index=False, max_rows=max_rows)
    if csv is not None:
        _write_csv(frame, Path(csv))
        text += f"\nwrote {len(frame)} rows to {csv}"
    return text


def _check_csv(path: Path, force: bool) -> None:
    """Refuse, before any query runs, a CSV destination that cannot or may not be written."""
    if path.is_dir():
        raise InputError(str(path), "", "is a folder; allowed: the path of a CSV file")
    if path.exists() and not force:
        raise InputError(str(path), "", "already exists; allowed: a new file, or --force to "
                         "replace it")
    check_out_path(path)
    if not path.parent.is_dir():
        raise InputError(str(path), "", f"no folder {path.parent}; allowed: a file in an "
                         "existing folder")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` whole or not at all (:func:`sim.io.output.atomic_write`)."""
    try:
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    except OSError as exc:
        raise InputError(str(path), "", f"cannot be written ({exc.strerror or exc}); allowed: "
                         "a file in a folder you can write to") from None
