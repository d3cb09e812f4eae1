"""The outputs of a calibration: ``calibration.json``, ``patterns.csv`` and the figures.

Each pattern gets a histogram of its simulated values (all design points and the accepted
ones) against the observed value and interval; each free parameter its prior and accepted
(posterior) values. Every file is written whole or not at all
(:func:`sim.io.output.atomic_write`).
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.io.output import atomic_write
from sim.studies.calibrate.targets import Target

__all__ = ["write_outputs"]


def _clean(obj):
    """JSON-ready: NaN and infinities become null."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _pattern_figure(table: pd.DataFrame, t: Target, fitted: bool) -> bytes:
    fig = _figure(5.5, 3.6)
    ax = fig.subplots()
    v = table[t.pattern].to_numpy(dtype=np.float64)
    acc = table["accepted"].to_numpy(dtype=bool)
    finite = np.isfinite(v)
    lo = min([t.low, *v[finite]]) if finite.any() else t.low
    hi = max([t.high, *v[finite]]) if finite.any() else t.high
    wide = lo > 0 and hi / lo > 20  # counts spanning more than an order of magnitude: log scale
    bins = (np.geomspace(lo, hi, 31) if wide else np.linspace(lo, hi, 31)) if hi > lo else 10
    if wide:
        ax.set_xscale("log")
    ax.axvspan(t.low, t.high, color="tab:green", alpha=0.15, label="observed interval")
    if finite.any():
        ax.hist(v[finite], bins=bins, color="0.6", label=f"all points ({finite.sum()})")
    if (finite & acc).any():
        ax.hist(v[finite & acc], bins=bins, color="tab:blue",
                label=f"accepted ({(finite & acc).sum()})")
    ax.axvline(t.value, color="tab:green", lw=2, label=f"observed {t.value:g}")
    ax.set_xlabel(f"{t.pattern} ({t.key})")
    ax.set_ylabel("design points")
    ax.set_title(f"{t.key}: {'fitted' if fitted else 'held out'}", fontsize=10)
    ax.legend(fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _parameter_figure(cal, report: dict[str, Any]) -> bytes:
    n = len(cal.parameters)
    fig = _figure(6.5, 1.0 + 0.55 * n)
    ax = fig.subplots()
    for i, p in enumerate(cal.parameters):
        post = report["posterior"][p.name]
        width = p.high - p.low

        def scale(x, p=p, width=width):
            return (x - p.low) / width

        ax.plot([0, 1], [i, i], color="0.8", lw=8, solid_capstyle="butt",
                label="prior range" if i == 0 else None)
        if post["median"] is not None:
            ax.plot([scale(post["q05"]), scale(post["q95"])], [i, i], color="tab:blue", lw=8,
                    solid_capstyle="butt", label="accepted 5-95%" if i == 0 else None)
            ax.plot(scale(post["median"]), i, "o", color="k",
                    label="accepted median" if i == 0 else None)
        smm_est = (report.get("smm") or {}).get("estimate")
        if smm_est:
            ax.plot(scale(smm_est[p.name]), i, "*", color="tab:orange", markersize=12,
                    label="SMM estimate" if i == 0 else None)
        best = report["best"]
        if best is not None:
            ax.plot(scale(best[p.column]) if p.column in best else np.nan, i, "D",
                    color="tab:red", label="best point" if i == 0 else None)
    ax.set_yticks(range(n), [f"{p.name}\n[{p.low:g}, {p.high:g}]" for p in cal.parameters],
                  fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.invert_yaxis()  # the first parameter on top
    ax.set_xlabel("position within the prior range")
    ax.set_title(f"{cal.name}: accepted parameter ranges ({report['accepted']} of "
                 f"{report['runs']['points']} points)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def write_outputs(out: Path, cal, table: pd.DataFrame, report: dict[str, Any]
                  ) -> list[Path]:
    """``calibration.json``, ``patterns.csv`` and the figures of calibration ``cal`` (a
    :class:`sim.studies.calibrate.run.Calibration`); returns the figure paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for t, fitted in [*((t, True) for t in cal.fit), *((t, False) for t in cal.hold_out)]:
        path = out / f"pattern_{_safe(t.key)}.png"
        atomic_write(path, _pattern_figure(table, t, fitted))
        files.append(path)
    path = out / "parameters.png"
    atomic_write(path, _parameter_figure(cal, report))
    files.append(path)
    report = {**report, "figures": [p.name for p in files]}
    atomic_write(out / "patterns.csv", table.to_csv(index=False))
    atomic_write(out / "calibration.json",
                  json.dumps(_clean(report), indent=2, allow_nan=False) + "\n")
    return files
