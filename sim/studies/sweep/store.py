"""The results of a sweep on disk: resumable, append-only, queryable with DuckDB.

Layout of a sweep directory ``DIR``::

    DIR/experiment.json      the resolved design and its provenance (written once, first)
    DIR/experiment.toml      a copy of the experiment file as it was at the start
    DIR/design.parquet       one row per planned run: id, point, replicate, seed, factor values
    DIR/runs/<id>.json       one finished run (ok or failed): its row, written atomically
    DIR/series/<id>.parquet  the run's series every k steps, written before its run row
    DIR/runs.parquet         the run rows consolidated, rewritten at the end of every sweep
    DIR/.clustersim-output   the mark of clustersim's results (``--force`` removes only these)

Every file is written to a temporary name and moved into place with ``os.replace``, so a reader
(or a sweep started again after ``kill -9``) sees a run either complete or not at all. A run is
finished when ``runs/<id>.json`` exists; its series is written first, so an existing run row
implies its series. The per-run rows are small JSON files because they are written and read
once each (a fifth of the cost of a one-row Parquet file); the tables anyone queries,
``runs.parquet`` and ``series/*.parquet``, are Parquet. A lock (``.DIR.lock`` beside ``DIR``,
``flock``; see :func:`sim.io.output.claim_folder`) keeps two sweeps from writing to one DIR. A new
DIR is prepared in a temporary folder beside it and renamed into place complete, so a sweep
killed while preparing leaves no half-made DIR to refuse.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shutil
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from sim import __version__
from sim.core.errors import InputError
from sim.io.output import (
    atomic_write,
    claim_folder,
    held_elsewhere,
    holds_folder,
    lock_path,
    new_temp_dir,
    remove_ours,
    write_marker,
)
from sim.io.provenance import git_commit, with_provenance
from sim.studies.sweep.experiment import Design, Experiment

__all__ = ["FORMAT", "SweepStore", "run_schema", "series_schema"]

FORMAT = "clustersim-sweep/1"
_BUSY = "another sweep is writing to this directory"


def _factor_type(levels, integer: bool) -> pa.DataType:
    if levels is None:
        return pa.int64() if integer else pa.float64()
    first = levels[0]
    if isinstance(first, bool):
        return pa.bool_()
    if isinstance(first, str):
        return pa.string()
    return pa.int64() if all(isinstance(v, int) for v in levels) else pa.float64()


def run_schema(meta: dict[str, Any]) -> pa.Schema:
    """Arrow schema of a run row, from the ``columns`` entry of ``experiment.json``."""
    cols = meta["columns"]
    fields = [("id", pa.string()), ("point", pa.int64()), ("replicate", pa.int64()),
              ("seed", pa.int64()), ("status", pa.string()), ("error", pa.string()),
              ("wall_time", pa.float64())]
    fields += [(f["name"], _factor_type(f["levels"], f["integer"])) for f in cols["factors"]]
    fields += [(n, pa.float64()) for n in cols["final"]]
    fields += [("traceback", pa.string())]
    return pa.schema(fields)


def series_schema(meta: dict[str, Any]) -> pa.Schema:
    """Arrow schema of a series file."""
    fields = [("run_id", pa.string()), ("point", pa.int64()), ("replicate", pa.int64()),
              ("step", pa.int64())]
    fields += [(n, pa.float64()) for n in meta["columns"]["series"]]
    return pa.schema(fields)


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover
        return None


def _write_table(table: pa.Table, path: Path, provenance: dict[str, Any] | None = None) -> None:
    """Write ``table`` as Parquet atomically, with ``provenance`` in its schema metadata (see
    :mod:`sim.io.provenance`)."""
    if provenance is not None:
        table = with_provenance(table, provenance)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


class SweepStore:
    """The files of one sweep directory.

    Parameters
    ----------
    out : str or Path
        The sweep directory. Nothing is written until :meth:`prepare`.
    """

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.experiment_json = self.out / "experiment.json"
        self.experiment_copy = self.out / "experiment.toml"
        self.design_parquet = self.out / "design.parquet"
        self.runs_dir = self.out / "runs"
        self.series_dir = self.out / "series"
        self.runs_parquet = self.out / "runs.parquet"
        self.lock_file = lock_path(self.out)
        self._holding = False
        self._meta: dict[str, Any] | None = None
        self._schema: pa.Schema | None = None
        self._series_schema: pa.Schema | None = None

    # -- setting up ---------------------------------------------------------------------------
    @staticmethod
    def describe(exp: Experiment, design: Design) -> dict[str, Any]:
        """The content of ``experiment.json`` for a new sweep: the resolved design, the SALib
        problem, the columns of the run table and the provenance."""
        sampled = exp.method != "grid"
        return {
            "format": FORMAT,
            "name": exp.name,
            "description": exp.description,
            "fingerprint": exp.fingerprint(),
            "resolved": exp.resolved(),
            "problem": exp.problem() if sampled else None,
            "analysis_seed": exp.analysis_seed(),
            "n_points": design.n_points,
            "n_runs": len(design.runs),
            "columns": {
                "factors": [{"name": f.name, "path": f.path,
                             "levels": list(f.levels) if f.levels is not None else None,
                             "integer": f.integer} for f in exp.factors],
                "final": list(exp.final), "series": list(exp.series),
            },
            "experiment_file": {"path": str(exp.source), "sha256": exp.sha256},
            "scenario": ({"path": str(exp.scenario), "hash": exp.scenario_hash}
                         if exp.scenario is not None else None),
            "model_checked": exp.checked,
            "provenance": {
                "package_version": __version__,
                "git_commit": git_commit(),
                "python": platform.python_version(),
                "numpy": _version("numpy"), "SALib": _version("SALib"),
                "dask": _version("dask"), "distributed": _version("distributed"),
                "host": platform.node(),
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "base_seed": exp.seed,
            },
        }

    def check(self, exp: Experiment) -> bool:
        """Can ``exp`` run into ``DIR``? Writes nothing.

        Returns
        -------
        bool
            ``True`` if ``DIR`` already holds this design (a resumed sweep).

        Raises
        ------
        InputError
            If another sweep is writing to ``DIR``, if ``DIR`` holds another design, or is a
            non-empty directory that is not a sweep.
        """
        if not self._holding and self.busy():
            raise InputError(str(self.out), "", _BUSY + "; wait for it to finish, or give "
                             "another --out")
        if self.experiment_json.exists():
            old = self.metadata()
            if old.get("fingerprint") != exp.fingerprint():
                new = exp.resolved()
                before = old.get("resolved", {})
                changed = sorted(k for k in set(new) | set(before)
                                 if new.get(k) != before.get(k))
                raise InputError(str(exp.source), "", (
                    f"{self.out} holds a sweep of a different design (changed: "
                    f"{', '.join(changed) or 'format'}); give another --out directory, or "
                    f"delete {self.out} to start again"))
            return True
        if self.out.exists() and (not self.out.is_dir() or any(
                p.name != ".lock" for p in self.out.iterdir())):  # .lock: of older versions
            raise InputError(str(self.out), "", "exists and is not a sweep directory (no "
                             "experiment.json); give a new or empty --out directory")
        return False

    def make_room(self, exp: Experiment, force: bool, what: str) -> None:
        """Refuse, before anything runs, a ``DIR`` that ``exp`` may not run into: a folder
        another command is writing to, or one holding anything but this very ``exp`` (which
        resumes). With ``force`` a folder of other results is removed first. ``what`` names the
        study in the message (``comparison``, ``study``).

        Raises
        ------
        InputError
            ``DIR`` is busy, or holds other results and ``force`` is not set.
        """
        if self.busy():  # another command holds the folder (sim.io.output.claim_folder)
            raise InputError(str(self.out), "", "another clustersim command is writing to it; "
                             "wait for it to finish, or give another --out")
        try:
            self.check(exp)
        except InputError:
            if not force:
                raise InputError(str(self.out), "", "already holds other results; allowed: a "
                                 f"new or empty folder, the same {what} (to resume it), or "
                                 "--force to replace it") from None
            remove_ours(self.out)  # only clustersim's own results, held by no other command

    def prepare(self, exp: Experiment, design: Design) -> bool:
        """Make ``DIR`` ready for ``design`` (call under :meth:`lock`).

        Returns
        -------
        bool
            ``True`` if the sweep is new (``experiment.json`` written now), ``False`` if resumed.

        Raises
        ------
        InputError
            As :meth:`check`.
        """
        self._clean_preparations()
        if self.check(exp):
            self._clean_temporaries()
            return False
        meta = self.describe(exp, design)
        # everything in a temporary folder beside DIR, renamed into place when complete
        tmp = new_temp_dir(self.out)
        try:
            (tmp / self.runs_dir.name).mkdir()
            (tmp / self.series_dir.name).mkdir()
            _write_table(pa.Table.from_pandas(design.table(), preserve_index=False),
                                tmp / self.design_parquet.name, self._file_provenance(meta))
            if exp.text is not None:  # made in code (a comparison): its own description
                atomic_write(tmp / self.experiment_copy.name, exp.text)
            else:
                shutil.copyfile(exp.source, tmp / self.experiment_copy.name)
            atomic_write(tmp / self.experiment_json.name, json.dumps(meta, indent=2) + "\n")
            write_marker(tmp, "sweep")
            if self.out.is_dir():  # an empty folder (check() allows no more) is replaced
                with contextlib.suppress(FileNotFoundError):
                    (self.out / ".lock").unlink()
                self.out.rmdir()
            os.rename(tmp, self.out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._meta = meta
        return True

    def busy(self) -> bool:
        """Is another command holding this directory's lock (writing to it)? Not when this
        process holds it for a study around this sweep (:func:`sim.io.output.holds_folder`)."""
        return not holds_folder(self.out) and held_elsewhere(self.out)

    def _clean_preparations(self) -> None:
        """Remove folders left by a sweep killed while it prepared DIR (call under the lock)."""
        parent = self.out.parent
        if parent.is_dir():
            for p in parent.glob(f".{self.out.name}.tmp-*"):
                shutil.rmtree(p, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the lock of ``DIR`` so that only one sweep writes here at a time."""
        with claim_folder(self.out, busy=_BUSY):
            self._holding = True
            try:
                yield
            finally:
                self._holding = False

    def _clean_temporaries(self) -> None:
        for folder in (self.out, self.runs_dir, self.series_dir):
            if folder.is_dir():
                for p in folder.glob(".*.tmp"):
                    with contextlib.suppress(OSError):
                        p.unlink()

    # -- reading ------------------------------------------------------------------------------
    def is_sweep(self) -> bool:
        return self.experiment_json.is_file()

    def metadata(self) -> dict[str, Any]:
        """The content of ``experiment.json``."""
        if self._meta is None:
            if not self.is_sweep():
                raise InputError(str(self.out), "", "not a sweep directory (no experiment.json)"
                                 "; run `clustersim sweep EXPERIMENT.toml --out DIR` first")
            try:
                self._meta = json.loads(self.experiment_json.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(str(self.experiment_json), "", f"unreadable: {exc}") from None
            if self._meta.get("format") != FORMAT:
                raise InputError(str(self.experiment_json), "format",
                                 f"got {self._meta.get('format')!r}; allowed: {FORMAT!r}")
        return self._meta

    @property
    def schema(self) -> pa.Schema:
        if self._schema is None:
            self._schema = run_schema(self.metadata())
        return self._schema

    def design(self) -> pd.DataFrame:
        """The planned runs (``design.parquet``)."""
        return pd.read_parquet(self.design_parquet)

    def run_files(self) -> dict[str, Path]:
        """Finished runs: id -> file."""
        if not self.runs_dir.is_dir():
            return {}
        return {e.name[:-5]: Path(e.path) for e in os.scandir(self.runs_dir)
                if e.name.endswith(".json") and not e.name.startswith(".")}

    def failed_ids(self) -> set[str]:
        """Ids of finished runs whose status is ``failed``."""
        runs = self.read_runs()
        return set(runs.loc[runs["status"] == "failed", "id"])

    def _fresh(self) -> bool:
        """Is ``runs.parquet`` up to date with ``runs/``?"""
        if not self.runs_parquet.exists():
            return False
        files = self.run_files()
        if pq.read_metadata(self.runs_parquet).num_rows != len(files):
            return False
        stamp = self.runs_parquet.stat().st_mtime_ns
        return all(p.stat().st_mtime_ns <= stamp for p in files.values())

    def _gather(self) -> pa.Table:
        files = self.run_files()
        if not files:
            return self.schema.empty_table()
        rows = []
        for p in files.values():
            with open(p, encoding="utf-8") as fh:
                rows.append(json.load(fh))
        table = pa.Table.from_pylist(rows, schema=self.schema)
        return table.sort_by([("point", "ascending"), ("replicate", "ascending")])

    def read_runs(self) -> pd.DataFrame:
        """All finished runs, one row each, in design order (``runs.parquet`` if up to date)."""
        if self._fresh():
            return pd.read_parquet(self.runs_parquet)
        return self._gather().to_pandas()

    # -- writing ------------------------------------------------------------------------------
    def write_run(self, row: dict[str, Any], series: pd.DataFrame | None) -> None:
        """Store one finished run: its series first, then its row (the mark of completion)."""
        meta = self.metadata()
        if series is not None and meta["columns"]["series"]:
            if self._series_schema is None:
                self._series_schema = series_schema(meta)
            table = pa.Table.from_pandas(series, schema=self._series_schema,
                                         preserve_index=False)
            _write_table(table, self.series_dir / f"{row['id']}.parquet",
                                {**self._file_provenance(meta), "run_id": row.get("id"),
                                 "seed": row.get("seed")})
        atomic_write(self.runs_dir / f"{row['id']}.json",
                     json.dumps({k: row.get(k) for k in self.schema.names}))

    def consolidate(self) -> int:
        """Rewrite ``runs.parquet`` from ``runs/`` (atomically); return its number of rows."""
        if self._fresh():
            return pq.read_metadata(self.runs_parquet).num_rows
        table = self._gather()
        _write_table(table, self.runs_parquet, self._file_provenance(self.metadata()))
        return table.num_rows

    @staticmethod
    def _file_provenance(meta: dict[str, Any]) -> dict[str, Any]:
        """What a Parquet file of this sweep records about where it came from: the same keys
        as every other result file (``version``, ``git_commit``, ``scenario_hash``, ``seed``)
        and the sweep's own."""
        prov = meta.get("provenance", {})
        scenario = meta.get("scenario") or {}
        levels = meta.get("resolved", {}).get("design", {}).get("scenarios") or []
        hashes = {lv["label"]: lv["hash"] for lv in levels}
        return {**prov, "experiment": meta.get("name"), "scenario": meta.get("scenario"),
                "version": prov.get("package_version"), "git_commit": prov.get("git_commit"),
                "scenario_hash": scenario.get("hash") or hashes or None,
                "seed": prov.get("base_seed")}

    # -- querying -----------------------------------------------------------------------------
    def connect(self):
        """A DuckDB connection with the views ``runs``, ``design`` and (if any) ``series``.

        An outcome that is undefined in a run is stored as NaN (``time_to_first_facility``
        when no facility formed, a facility's users when there is none); ``runs`` and
        ``series`` show it as NULL, so ``avg()`` and the other aggregates skip it and
        ``count(column)`` counts the runs that have it (NaN would make the whole group's
        average NaN). ``runs_raw`` and ``series_raw`` keep the stored values.

        ``runs`` reads ``runs.parquet`` when it is up to date; after a sweep was killed before
        it could consolidate, it reads the per-run files instead (without writing anything).

        The connection is read-only for the files: the tables are handed to DuckDB as Arrow
        datasets, and DuckDB itself gets no file access at all (``enable_external_access``
        off, the configuration locked), so a query can neither write (``COPY``, ``ATTACH``,
        ``EXPORT``), nor read anything but these views, nor load extensions.
        """
        meta = self.metadata()
        con = duckdb.connect(config={"enable_external_access": False,
                                     "autoinstall_known_extensions": False,
                                     "autoload_known_extensions": False,
                                     "lock_configuration": True})
        runs = (ds.dataset(self.runs_parquet, format="parquet") if self._fresh()
                else self._gather())
        con.register("_runs_frame", runs)
        con.execute("create view runs_raw as select * from _runs_frame")
        con.execute(f"create view runs as select {_nan_as_null(runs)} from runs_raw")
        con.register("_design_frame", ds.dataset(self.design_parquet, format="parquet"))
        con.execute("create view design as select * from _design_frame")
        files = sorted(str(p) for p in self.series_dir.glob("*.parquet")) \
            if self.series_dir.is_dir() else []
        if files and meta["columns"]["series"]:
            series = ds.dataset(files, format="parquet", schema=series_schema(meta))
            con.register("_series_frame", series)
            # a series file without its run row is left over from a kill: not part of the data
            con.execute("create view series_raw as select * from _series_frame "
                        "where run_id in (select id from runs)")
            con.execute(f"create view series as select {_nan_as_null(series)} "
                        "from series_raw")
        return con


def _nan_as_null(table) -> str:
    """The select list of ``table`` (an Arrow table or dataset) with NaN read as NULL in its
    floating-point columns."""
    cols = []
    for f in table.schema:
        name = '"' + f.name.replace('"', '""') + '"'
        cols.append(f"case when isnan({name}) then null else {name} end as {name}"
                    if pa.types.is_floating(f.type) else name)
    return ", ".join(cols)
