"""Writing a run's results: series, firm table, provenance and a summary figure.

Results are first written to a temporary folder beside the destination and moved into place
in one rename, so an interrupted run leaves nothing half-written; an existing destination is
never replaced by different content unless the caller asks for it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.provenance import write_parquet

__all__ = ["write_run", "summary_figure", "check_destination", "move_into_place",
           "new_temp_dir", "SAME_RUN_KEYS"]

#: A destination holding a run with these provenance values is the same run.
SAME_RUN_KEYS = ("version", "git_commit", "scenario_hash", "seed", "steps", "overrides")

FIGURE_PANELS = (
    ("firms", "Firms"),
    ("employment", "Employment (workers)"),
    ("mean_productivity", "Mean productivity"),
    ("cooperation_rate", "Cooperation rate"),
    ("mean_trust", "Mean trust"),
    ("jp_share", "Joint-purchasing share"),
    ("facilities_operating", "Facilities operating"),
    ("eg_gamma_mean", "Ellison-Glaeser gamma (mean)"),
    ("public_spending_total", "Public spending (cumulative)"),
)


def check_destination(out: Path, prov: dict[str, Any], force: bool) -> bool:
    """Decide whether a run may be written to ``out``.

    Returns False if ``out`` already holds this very run (nothing to do), True if it may be
    written; raises InputError if ``out`` holds something else and ``force`` is not set.
    """
    if not out.exists():
        return True
    if out.is_file():
        raise InputError(str(out), "", "exists and is a file; allowed: a new or empty folder")
    if not any(out.iterdir()):
        return True
    old_file = out / "run.json"
    if old_file.is_file():
        try:
            old = json.loads(old_file.read_text())
        except (OSError, ValueError):
            old = {}
        same = all(_json_norm(old.get(k)) == _json_norm(prov.get(k)) for k in SAME_RUN_KEYS)
        if same and not str(prov.get("git_commit", "")).endswith("+dirty"):
            return False
    if force:
        return True
    raise InputError(str(out), "", "already holds different results; allowed: a new folder, "
                     "or --force to replace it")


def _json_norm(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def write_run(result, out: str | Path, force: bool = False) -> tuple[Path, bool]:
    """Write ``result`` (a :class:`sim.api.RunResult`) into folder ``out``.

    Returns (folder, written); written is False when ``out`` already held this exact run.
    """
    out = Path(out)
    if not check_destination(out, result.provenance, force):
        return out, False
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temp_dir(out)
    try:
        prov = {k: v for k, v in result.provenance.items() if k != "params"}
        write_parquet(result.series, tmp / "timeseries.parquet", prov)
        result.series.to_csv(tmp / "timeseries.csv", index=False)
        write_parquet(result.firms, tmp / "firms.parquet", prov)
        if result.burn_in is not None and len(result.burn_in):  # recorded, apart and flagged
            write_parquet(result.burn_in, tmp / "burn_in.parquet", prov)
        run = dict(result.provenance)
        run["final"] = {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                        for k, v in result.final.items()}
        (tmp / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
        summary_figure(result.series, tmp / "summary.png",
                       title=f"{run.get('scenario', '')} (seed {run.get('seed')})")
        move_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out, True


def new_temp_dir(out: Path) -> Path:
    """A temporary folder beside ``out`` with the permissions a new folder would get (mkdtemp
    makes private ones), to be filled and then moved into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    mask = os.umask(0o022)
    os.umask(mask)
    tmp.chmod(0o777 & ~mask)
    return tmp


def move_into_place(tmp: Path, out: Path) -> None:
    """Make the finished folder ``tmp`` (a sibling of ``out``) become ``out``, replacing any old
    ``out`` only once the new one is complete."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def summary_figure(series, path: str | Path, title: str = "") -> None:
    """A 3 x 3 grid of the headline series of one run, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 3, figsize=(12, 8.5), sharex=True)
    for ax, (col, label) in zip(axes.flat, FIGURE_PANELS, strict=True):
        if col in series:
            ax.plot(series["step"], series[col], color="#1f5f8b", lw=1.6)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("month")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
