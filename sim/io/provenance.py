"""Provenance recorded with every result: package version, git commit, scenario hash, seed."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import mesa
import numba
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim import __version__

__all__ = ["provenance", "git_commit", "file_hash", "text_hash", "write_parquet",
           "with_provenance", "PARQUET_KEY"]

#: Key of the Parquet schema metadata entry that holds a file's provenance (JSON).
PARQUET_KEY = b"clustersim.provenance"


def text_hash(text: str | bytes) -> str:
    """SHA-256 of a text, hex."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def file_hash(path: str | Path) -> str:
    return text_hash(Path(path).read_bytes())


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the source tree this package runs from ('unknown' outside a checkout);
    '+dirty' is appended when tracked files have uncommitted changes."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def provenance(*, scenario=None, seed: int | None = None, params=None, steps: int | None = None,
               overrides: dict[str, Any] | None = None, wall_time_s: float | None = None,
               **extra: Any) -> dict[str, Any]:
    """Everything needed to reproduce a result, as a JSON-ready dict."""
    out: dict[str, Any] = {
        "package": "msme-clustersim",
        "version": __version__,
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "mesa": mesa.__version__,
        "seed": seed,
        "steps": steps,
    }
    if scenario is not None:
        out["scenario"] = getattr(scenario, "name", None)
        out["scenario_file"] = str(getattr(scenario, "path", "") or "")
        out["scenario_hash"] = getattr(scenario, "hash", None)
    if overrides:
        out["overrides"] = dict(overrides)
    if params is not None:
        out["params"] = params.to_dict()
    if wall_time_s is not None:
        out["wall_time_s"] = round(wall_time_s, 4)
    out.update(extra)
    return out


def write_parquet(df, path, prov: dict[str, Any]) -> None:
    """Write a DataFrame as Parquet with ``prov`` (JSON) in the file's schema metadata, so the
    file carries its own version, commit, scenario hash and seed wherever it is copied to.
    Read it back with ``pyarrow.parquet.read_schema(path).metadata[PARQUET_KEY]``."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(with_provenance(table, prov), path)


def with_provenance(table: pa.Table, prov: dict[str, Any]) -> pa.Table:
    """``table`` with ``prov`` (JSON) in its schema metadata, under :data:`PARQUET_KEY`."""
    meta = dict(table.schema.metadata or {})
    meta[PARQUET_KEY] = json.dumps(prov, default=str).encode()
    return table.replace_schema_metadata(meta)
