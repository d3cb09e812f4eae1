"""The outputs of a calibration: ``calibration.json``, ``patterns.csv`` and the figures.

Each pattern gets a histogram of its simulated values (all design points and the accepted
ones) against the observed value and interval; each free parameter its prior and accepted
(posterior) values; the posterior draws (``posterior_draws.csv``) their marginals over the prior
(``posterior.png``) and, for NPE, the held-out truths' ranks (``sbc_ranks.png``). Every file is
written whole or not at all (:func:`sim.io.output.atomic_write`).
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


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _posterior_figure(cal, draws: pd.DataFrame, report: dict[str, Any]) -> bytes:
    """Each parameter's draws in 30 bins of equal prior mass (equal widths on the log scale for
    a log-uniform prior), as shares of the draws: the prior is the flat line at 1/30. An
    integer parameter gets one bar per value, beside the prior's share of that value."""
    from matplotlib.ticker import MaxNLocator

    from sim.studies.calibrate.posterior import from_unit, to_unit

    n = len(cal.parameters)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = _figure(3.4 * cols, 2.6 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    method = report["posterior_draws"]["method"]
    for ax, p in zip(axes, cal.parameters, strict=False):
        v = draws[p.name].to_numpy(dtype=np.float64)
        if p.integer and p.high - p.low <= 60:
            # one bar per value; the prior's share of a value is its rounding cell's
            k = np.arange(int(np.ceil(p.low)), int(np.floor(p.high)) + 1, dtype=np.float64)
            prior = (to_unit(p, np.minimum(k + 0.5, p.high))
                     - to_unit(p, np.maximum(k - 0.5, p.low)))
            ax.bar(k, [(v == x).mean() for x in k], width=0.8, color="tab:blue",
                   label=f"{method} draws ({v.size})")
            ax.plot(k, prior, "_", color="0.3", markersize=14, mew=2, label="prior")
            ax.set_xlim(p.low - 0.6, p.high + 0.6)
        else:
            edges = from_unit(p, np.linspace(0, 1, 31))
            ax.hist(v, bins=edges, weights=np.full(v.size, 1.0 / v.size), color="tab:blue",
                    label=f"{method} draws ({v.size})")
            ax.axhline(1 / 30, color="0.4", ls="--", lw=1, label="prior")
            if p.distribution == "loguniform":
                ax.set_xscale("log")
            else:
                ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.set_xlim(p.low, p.high)
        post = report["posterior"][p.name]
        for q in ("q05", "median", "q95"):
            if post.get(q) is not None:
                ax.axvline(post[q], color="k", lw=1.5 if q == "median" else 0.8,
                           ls="-" if q == "median" else ":")
        edge = " (at prior edge)" if post.get("at_prior_edge") else ""
        ax.set_title(f"{p.name}{edge}", fontsize=9, color="tab:red" if edge else "k")
        ax.set_ylabel("share of draws", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{cal.name}: posterior marginals ({method}); lines: median, 5% and 95%",
                 fontsize=10)
    return _png(fig)


def _sbc_figure(cal, ranks: np.ndarray, report: dict[str, Any]) -> bytes:
    """Histograms of the held-out truths' ranks among their posterior draws, with the 99%
    band of a uniform histogram (binomial): a calibrated posterior stays inside it; a U shape
    means too narrow, a hump too wide, a slope a bias."""
    from scipy.stats import binom

    n = len(cal.parameters)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = _figure(3.4 * cols, 2.6 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    draws = report["inference"]["checks"]["draws_per_truth"]
    truths = ranks.shape[0]
    bins = int(min(20, max(5, truths // 10)))
    lo, hi = binom.ppf([0.005, 0.995], truths, 1 / bins)
    for j, (ax, p) in enumerate(zip(axes, cal.parameters, strict=False)):
        ax.axhspan(lo, hi, color="0.85", label="99% band if uniform")
        ax.axhline(truths / bins, color="0.4", lw=1)
        ax.hist(ranks[:, j], bins=np.linspace(0, draws, bins + 1), color="tab:blue",
                histtype="step", lw=1.5, label=f"{truths} held-out truths")
        post = report["posterior"][p.name]
        ks = (post.get("sbc") or {}).get("ks_pvalue")
        ax.set_title(f"{p.name}" + (f" (KS p = {ks:.2g})" if ks is not None else ""),
                     fontsize=9)
        ax.set_xlabel(f"rank among {draws} draws", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{cal.name}: simulation-based calibration (Talts et al. 2018)", fontsize=10)
    return _png(fig)


def _parameter_figure(cal, report: dict[str, Any]) -> bytes:
    n = len(cal.parameters)
    npe = (report.get("inference") or {}).get("method") == "npe"
    what = "NPE posterior" if npe else "accepted"
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
                    solid_capstyle="butt", label=f"{what} 5-95%" if i == 0 else None)
            ax.plot(scale(post["median"]), i, "o", color="k",
                    label=f"{what} median" if i == 0 else None)
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
    ax.set_title(f"{cal.name}: NPE posterior ranges" if npe else
                 f"{cal.name}: accepted parameter ranges ({report['accepted']} of "
                 f"{report['runs']['points']} points)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def write_outputs(out: Path, cal, table: pd.DataFrame, report: dict[str, Any],
                  draws: pd.DataFrame | None = None, ranks: np.ndarray | None = None
                  ) -> list[Path]:
    """``calibration.json``, ``patterns.csv``, ``posterior_draws.csv`` (with ``draws``) and the
    figures of calibration ``cal`` (a :class:`sim.studies.calibrate.run.Calibration`); returns
    the figure paths. Without draws, a draws file and figures left by an earlier analysis of
    the same runs are removed, so that the folder never mixes two analyses."""
    from sim.studies.calibrate.posterior import DRAWS_FILE

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for t, fitted in [*((t, True) for t in cal.fit), *((t, False) for t in cal.hold_out)]:
        path = out / f"pattern_{_safe(t.key)}.png"
        atomic_write(path, _pattern_figure(table, t, fitted))
        files.append(path)
    path = out / "parameters.png"
    atomic_write(path, _parameter_figure(cal, report))
    files.append(path)
    stale = [DRAWS_FILE, "posterior.png", "sbc_ranks.png"]
    if draws is not None and len(draws):
        path = out / "posterior.png"
        atomic_write(path, _posterior_figure(cal, draws, report))
        files.append(path)
        stale.remove("posterior.png")
        if ranks is not None:
            path = out / "sbc_ranks.png"
            atomic_write(path, _sbc_figure(cal, ranks, report))
            files.append(path)
            stale.remove("sbc_ranks.png")
        atomic_write(out / DRAWS_FILE, draws.to_csv(index=False))
        stale.remove(DRAWS_FILE)
    for name in stale:
        (out / name).unlink(missing_ok=True)
    report = {**report, "figures": [p.name for p in files]}
    atomic_write(out / "patterns.csv", table.to_csv(index=False))
    atomic_write(out / "calibration.json",
                  json.dumps(_clean(report), indent=2, allow_nan=False) + "\n")
    return files
