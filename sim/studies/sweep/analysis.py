"""Analysis of a finished sweep, read from its directory (never from live models).

- Sobol'/Saltelli designs: first-order and total indices (S1, ST) with bootstrap confidence
  intervals, and the second-order indices (S2) when the design asks for them, from
  ``SALib.analyze.sobol`` (Saltelli 2002; Saltelli et al. 2010);
- Morris designs: mu*, mu and sigma of the elementary effects, from ``SALib.analyze.morris``
  (Morris 1991; Campolongo, Cariboni & Saltelli 2007);
- grids and Latin hypercubes: main effects (mean outcome and its 95% interval by factor level,
  or by quantile bin of a sampled factor); for a grid of two factors, a phase diagram (heat map)
  of each outcome's mean.

Outcomes are averaged over a point's replicates before the indices are computed, so a stochastic
model's noise does not count as sensitivity. An outcome that is missing at some points (a time
to an event that never happened) is analysed on the runs that have it: main effects and phase
cells count what they average; Sobol' and Morris drop the design's blocks (a base sample with
its cross-sampled points, or a trajectory) that miss it, which keeps their estimators valid on
fewer samples, and say how many they dropped. Small samples and indices outside [0, 1] get a
note, since both mean the estimates are still mostly sampling noise.

Tables go to ``DIR/analysis/*.csv`` (``sobol_s2.csv`` for the second-order indices) and figures
to ``DIR/analysis/*.png`` (matplotlib, Agg, without touching pyplot's global state).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.core.errors import InputError
from sim.core.fields import suggest
from sim.studies.sweep.store import SweepStore

__all__ = ["Analysis", "analyze", "sobol_table", "sobol_indices", "morris_table", "main_effects",
           "phase_table", "complete_blocks", "range_notes"]

#: Most bootstrap resamples ``analyze`` accepts (each costs a pass over the runs).
MAX_RESAMPLES = 100_000

_Z95 = 1.959963984540054
#: Fewer base samples (Sobol') or trajectories (Morris) than this get a note: the intervals of
#: the indices are then too wide to rank factors (Saltelli et al. 2010 use hundreds to thousands).
SMALL_SOBOL = 256
SMALL_MORRIS = 10
#: How far outside [0, 1] an index may fall before the note calls it out (sampling error of a
#: near-zero index is routinely a few hundredths).
RANGE_SLACK = 0.05


@dataclass
class Analysis:
    """Tables and figures of one analysis."""

    method: str
    outputs: list[str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = list(self.notes)
        for name, table in self.tables.items():
            parts.append(f"== {name} ==")
            if name == "phase":
                for outcome, t in table.groupby("outcome", sort=False):
                    f1, f2 = (c for c in t.columns if c not in ("outcome", "mean", "sd", "n"))
                    pivot = t.pivot(index=f2, columns=f1, values="mean").sort_index(
                        ascending=False)
                    parts.append(f"{outcome} (mean; rows {f2}, columns {f1})")
                    parts.append(pivot.to_string(float_format=lambda v: f"{v:.4g}"))
            else:
                parts.append(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if self.files:
            parts.append("wrote: " + ", ".join(str(p) for p in self.files))
        return "\n".join(parts)


# -- the numbers -----------------------------------------------------------------------------------
def sobol_indices(problem: dict, y_by_outcome: dict[str, np.ndarray], *, second_order: bool,
                  conf_level: float = 0.95, num_resamples: int = 1000,
                  seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Sobol' S1 and ST (one row per outcome and factor) and, with ``second_order``, S2 (one row
    per outcome and pair of factors), each with its confidence interval: SALib's own numbers.

    Parameters
    ----------
    problem : dict
        SALib problem of the sampled design.
    y_by_outcome : dict of str to numpy.ndarray
        Each outcome's value at every point, in design order (length ``N (D + 2)`` or
        ``N (2 D + 2)``). A constant outcome gets SALib's indices (zeros).
    """
    import warnings

    from SALib.analyze import sobol

    rows, pairs = [], []
    names = problem["names"]
    for outcome, y in y_by_outcome.items():
        y = np.asarray(y, dtype=float)
        with warnings.catch_warnings():
            if np.var(y) == 0:  # SALib divides by the variance and returns zeros; quietly
                warnings.simplefilter("ignore", RuntimeWarning)
            si = sobol.analyze(copy.deepcopy(problem), y, calc_second_order=second_order,
                               num_resamples=num_resamples, conf_level=conf_level, seed=seed)
        for j, name in enumerate(names):
            rows.append({"outcome": outcome, "factor": name, "S1": si["S1"][j],
                         "S1_conf": si["S1_conf"][j], "ST": si["ST"][j],
                         "ST_conf": si["ST_conf"][j]})
        if second_order:
            for j in range(len(names)):
                for k in range(j + 1, len(names)):
                    pairs.append({"outcome": outcome, "factor": names[j], "factor_2": names[k],
                                  "S2": si["S2"][j, k], "S2_conf": si["S2_conf"][j, k]})
    return pd.DataFrame(rows), (pd.DataFrame(pairs) if second_order else None)


def sobol_table(problem: dict, y_by_outcome: dict[str, np.ndarray], *, second_order: bool,
                conf_level: float = 0.95, num_resamples: int = 1000,
                seed: int = 1) -> pd.DataFrame:
    """Sobol' S1 and ST with confidence intervals, one row per outcome and factor (the first
    table of :func:`sobol_indices`)."""
    return sobol_indices(problem, y_by_outcome, second_order=second_order, conf_level=conf_level,
                         num_resamples=num_resamples, seed=seed)[0]


def complete_blocks(y: np.ndarray, block: int) -> np.ndarray:
    """Indices of the points of every block of ``block`` consecutive points with no NaN.

    Saltelli's and Morris's designs are made of such blocks (a base sample with its
    cross-sampled points; a trajectory), and their estimators average over blocks, so keeping
    whole blocks gives the same estimators on fewer samples.
    """
    ok = ~np.isnan(np.asarray(y, dtype=float)).reshape(-1, block).any(axis=1)
    return (np.flatnonzero(ok)[:, None] * block + np.arange(block)).ravel()


def morris_table(problem: dict, x: np.ndarray, y_by_outcome: dict[str, np.ndarray], *,
                 num_levels: int, conf_level: float = 0.95, num_resamples: int = 1000,
                 seed: int = 1) -> pd.DataFrame:
    """Morris mu*, its confidence interval, mu and sigma, one row per outcome and factor."""
    from SALib.analyze import morris

    rows = []
    for outcome, y in y_by_outcome.items():
        si = morris.analyze(copy.deepcopy(problem), np.asarray(x, dtype=float),
                            np.asarray(y, dtype=float), num_resamples=num_resamples,
                            conf_level=conf_level, num_levels=num_levels, seed=seed)
        for j, name in enumerate(problem["names"]):
            rows.append({"outcome": outcome, "factor": name,
                         "mu_star": float(si["mu_star"][j]),
                         "mu_star_conf": float(si["mu_star_conf"][j]),
                         "mu": float(si["mu"][j]), "sigma": float(si["sigma"][j])})
    return pd.DataFrame(rows)


def main_effects(runs: pd.DataFrame, factors: list[dict], outputs: list[str],
                 bins: int = 5) -> pd.DataFrame:
    """Mean outcome, its spread and a normal 95% interval at each level of each factor.

    Factors with ``levels`` (grids) are grouped by level; sampled factors by quantile bin
    (``level`` is then the mean factor value within the bin).
    """
    rows = []
    for f in factors:
        name = f["name"]
        if f["levels"] is not None:
            key = runs[name]
            level_of = {v: v for v in f["levels"]}
        else:
            n_bins = int(min(bins, max(1, runs[name].nunique())))
            key = pd.qcut(runs[name], q=n_bins, duplicates="drop")
            level_of = runs.groupby(key, observed=True)[name].mean().to_dict()
        grouped = runs.groupby(key, observed=True, sort=True)
        for outcome in outputs:
            stats = grouped[outcome].agg(["mean", "std", "count"])
            for lvl, s in stats.iterrows():
                half = _Z95 * s["std"] / np.sqrt(s["count"]) if s["count"] > 1 else np.nan
                rows.append({"outcome": outcome, "factor": name, "level": level_of[lvl],
                             "mean": s["mean"], "sd": s["std"], "n": int(s["count"]),
                             "ci_low": s["mean"] - half, "ci_high": s["mean"] + half})
    return pd.DataFrame(rows)


def phase_table(runs: pd.DataFrame, f1: str, f2: str, outputs: list[str]) -> pd.DataFrame:
    """Mean, sd and count of each outcome in every cell of a two-factor grid."""
    parts = []
    for outcome in outputs:
        t = runs.groupby([f1, f2])[outcome].agg(["mean", "std", "count"]).reset_index()
        t = t.rename(columns={"std": "sd", "count": "n"})
        t.insert(0, "outcome", outcome)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def _check_arguments(finals, outputs, conf_level, num_resamples) -> list[str]:
    """The outcomes to analyse (default: every final outcome kept); the other options."""
    outputs = list(outputs or finals)
    for name in outputs:
        if name not in finals:
            raise InputError("--output", "", f"got {name!r}{suggest(name, finals)}; this sweep "
                             f"kept: {', '.join(finals)}")
    if not 0 < conf_level < 1:
        raise InputError("--conf-level", "", f"got {conf_level}; allowed: a number between 0 "
                         "and 1")
    if isinstance(num_resamples, bool) or not 2 <= num_resamples <= MAX_RESAMPLES:
        raise InputError("--resamples", "", f"got {num_resamples}; allowed: an integer from 2 "
                         f"to {MAX_RESAMPLES:,} (bootstrap resamples of the intervals)")
    return outputs


def _point_means(ok: pd.DataFrame, outputs, n_points: int, method: str,
                 where: Path) -> dict[str, np.ndarray]:
    """Each outcome's mean over the replicates of every point (NaN where no replicate has it);
    Sobol' and Morris need a successful run at every point."""
    holes = n_points - ok["point"].nunique()
    if holes:
        raise InputError(str(where), "", (
            f"{holes} of {n_points} points have no successful run; {method} analysis needs "
            "every point (finish the sweep; see status and error in runs.parquet)"))
    means = ok.groupby("point")[outputs].mean().reindex(range(n_points))
    return {name: means[name].to_numpy(dtype=float) for name in outputs}


def _indices(meta: dict, design: dict, means: dict[str, np.ndarray], x: np.ndarray | None,
             conf_level: float, num_resamples: int, notes: list[str]) -> dict[str, pd.DataFrame]:
    """Sobol' (and S2) or Morris tables of every outcome, each on the design's blocks that have
    it (:func:`complete_blocks`); what was dropped or is rough goes to ``notes``."""
    method, d, n_points = design["method"], len(meta["problem"]["names"]), meta["n_points"]
    if method == "sobol":
        block = 2 * d + 2 if design["second_order"] else d + 2
    else:
        block = d + 1
    tables: dict[str, list[pd.DataFrame]] = {}
    for name, y in means.items():
        keep = complete_blocks(y, block)
        n_blocks, kept = n_points // block, keep.size // block
        notes += _coverage_notes(name, y, method, n_blocks, kept)
        if kept < 2:
            continue
        if method == "sobol":
            first, second = sobol_indices(
                meta["problem"], {name: y[keep]}, second_order=design["second_order"],
                conf_level=conf_level, num_resamples=num_resamples, seed=meta["analysis_seed"])
            tables.setdefault("sobol", []).append(first)
            if second is not None:
                tables.setdefault("sobol_s2", []).append(second)
        else:
            tables.setdefault("morris", []).append(morris_table(
                meta["problem"], x[keep], {name: y[keep]}, num_levels=design["levels"],
                conf_level=conf_level, num_resamples=num_resamples, seed=meta["analysis_seed"]))
    if not tables:
        raise InputError("--output", "", "no outcome has a value in enough of the design to "
                         "analyse; choose other outcomes with --output")
    out = {key: pd.concat(parts, ignore_index=True) for key, parts in tables.items()}
    notes += range_notes(out)
    return out


def _coverage_notes(name: str, y: np.ndarray, method: str, n_blocks: int,
                    kept: int) -> list[str]:
    """Notes on an outcome missing at some points, or resting on few blocks."""
    unit, notes = _BLOCK[method], []
    if kept < n_blocks:
        notes.append(f"note: {name!r} is missing at {int(np.isnan(y).sum())} of {y.size} points "
                     f"(say, a time to an event that never happened); analysed on the {kept} of "
                     f"{n_blocks} {unit} that have it")
    small = SMALL_SOBOL if method == "sobol" else SMALL_MORRIS
    if kept < 2:
        notes.append(f"note: {name!r} is not analysed: fewer than two {unit} have it")
    elif kept < small:
        notes.append(f"note: {name!r} rests on {kept} {unit} (fewer than {small}): the indices "
                     "are rough; their intervals say how rough")
    return notes


def _missing_notes(ok: pd.DataFrame, outputs: list[str]) -> list[str]:
    """Notes on outcomes missing in some runs of a grid or Latin hypercube."""
    notes = []
    for name in outputs:
        missing = int(ok[name].isna().sum())
        if missing:
            notes.append(f"note: {name!r} is missing in {missing} of {len(ok)} runs (say, a time "
                         "to an event that never happened); each mean is over the runs that "
                         "have it (column n)")
    return notes


# -- the command -----------------------------------------------------------------------------------
def analyze(out: str | Path, *, outputs: list[str] | None = None, conf_level: float = 0.95,
            num_resamples: int = 1000, figures: bool = True) -> Analysis:
    """Analyse the sweep in ``out`` according to its design; write CSV tables and PNG figures.

    Parameters
    ----------
    out : str or Path
        A sweep directory.
    outputs : list of str, optional
        Outcomes to analyse; default: every final outcome of the experiment.
    conf_level : float
        Level of the confidence intervals.
    num_resamples : int
        Bootstrap resamples for the Sobol' and Morris intervals.
    figures : bool
        Also draw the figures.

    Raises
    ------
    InputError
        Not a sweep directory, an unknown outcome, or (Sobol', Morris) points without a
        successful run.
    """
    store = SweepStore(out)
    meta = store.metadata()
    outputs = _check_arguments(meta["columns"]["final"], outputs, conf_level, num_resamples)
    design = meta["resolved"]["design"]
    method = design["method"]
    factors = meta["columns"]["factors"]
    runs = store.read_runs()
    ok = runs[runs["status"] == "ok"]
    result = Analysis(method=method, outputs=outputs)
    missing = meta["n_runs"] - len(runs)
    failed = len(runs) - len(ok)
    if missing or failed:
        result.notes.append(f"note: {missing} of {meta['n_runs']} runs missing and {failed} "
                            "failed; the analysis uses the successful runs present")
    folder = store.out / "analysis"
    folder.mkdir(exist_ok=True)

    if method in ("sobol", "morris"):
        means = _point_means(ok, outputs, meta["n_points"], method, store.out)
        x = None
        if method == "morris":
            x = (store.design().groupby("point")[[f["name"] for f in factors]].first()
                 .reindex(range(meta["n_points"])).to_numpy(dtype=float))
        result.tables.update(_indices(meta, design, means, x, conf_level, num_resamples,
                                      result.notes))
    else:
        result.notes += _missing_notes(ok, outputs)
        result.tables["main_effects"] = main_effects(ok, factors, outputs)
        if len(factors) == 2 and method == "grid":
            result.tables["phase"] = phase_table(ok, factors[0]["name"], factors[1]["name"],
                                                 outputs)

    for name, table in result.tables.items():
        path = folder / f"{name}.csv"
        table.to_csv(path, index=False)
        result.files.append(path)
    if figures:
        result.files += _figures(result, folder, factors, conf_level)
    return result


_BLOCK = {"sobol": "base samples", "morris": "trajectories"}


def range_notes(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Notes on Sobol' indices outside [0, 1] by more than :data:`RANGE_SLACK`."""
    notes = []
    for key, cols in (("sobol", ("S1", "ST")), ("sobol_s2", ("S2",))):
        t = tables.get(key)
        if t is None:
            continue
        for col in cols:
            bad = t[(t[col] < -RANGE_SLACK) | (t[col] > 1 + RANGE_SLACK)]
            for _, r in bad.iterrows():
                who = r["factor"] + (f" x {r['factor_2']}" if col == "S2" else "")
                notes.append(f"note: {col} of {who} for {r['outcome']!r} is {r[col]:.3g}, "
                             "outside [0, 1]: sampling error; more samples would narrow it")
    return notes


# -- figures ---------------------------------------------------------------------------------------
def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _figures(result: Analysis, folder: Path, factors: list[dict],
             conf_level: float) -> list[Path]:
    files = []
    pct = f"{conf_level:.0%}"
    for outcome in result.outputs:
        path = folder / f"{result.method}_{_safe(outcome)}.png"
        if "sobol" in result.tables:
            t = result.tables["sobol"].query("outcome == @outcome")
            fig = _figure(1.2 + 0.9 * len(t), 3.6)
            ax = fig.subplots()
            pos = np.arange(len(t))
            ax.bar(pos - 0.2, t["S1"], 0.4, yerr=t["S1_conf"], capsize=3, label="S1")
            ax.bar(pos + 0.2, t["ST"], 0.4, yerr=t["ST_conf"], capsize=3, label="ST")
            ax.set_xticks(pos, t["factor"], rotation=30, ha="right")
            ax.set_ylabel("Sobol' index")
            ax.set_title(f"{outcome}: Sobol' indices ({pct} intervals)")
            ax.legend()
        elif "morris" in result.tables:
            t = result.tables["morris"].query("outcome == @outcome")
            fig = _figure(5.5, 4.2)
            ax = fig.subplots()
            ax.errorbar(t["mu_star"], t["sigma"], xerr=t["mu_star_conf"], fmt="o", capsize=3)
            for _, r in t.iterrows():
                ax.annotate(r["factor"], (r["mu_star"], r["sigma"]), textcoords="offset points",
                            xytext=(4, 4), fontsize=8)
            ax.set_xlabel("mu* (mean absolute elementary effect)")
            ax.set_ylabel("sigma (interactions, non-linearity)")
            ax.set_title(f"{outcome}: Morris screening")
        else:
            path = folder / f"main_effects_{_safe(outcome)}.png"
            fig = _main_effects_figure(result.tables["main_effects"], outcome, factors)
        fig.savefig(path, dpi=110)
        files.append(path)
        if "phase" in result.tables:
            path = folder / f"phase_{_safe(outcome)}.png"
            _phase_figure(result.tables["phase"], outcome, factors).savefig(path, dpi=110)
            files.append(path)
    return files


def _main_effects_figure(table: pd.DataFrame, outcome: str, factors: list[dict]):
    fig = _figure(3.2 * len(factors), 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(factors), sharey=True))
    for ax, f in zip(axes, factors, strict=True):
        t = table[(table["outcome"] == outcome) & (table["factor"] == f["name"])]
        numeric = pd.api.types.is_numeric_dtype(t["level"]) and not pd.api.types.is_bool_dtype(
            t["level"])
        x = t["level"].to_numpy(dtype=float) if numeric else np.arange(len(t))
        ax.plot(x, t["mean"], marker="o")
        ax.fill_between(x, t["ci_low"], t["ci_high"], alpha=0.25)
        if not numeric:
            ax.set_xticks(x, [str(v) for v in t["level"]])
        ax.set_xlabel(f["name"])
    axes[0].set_ylabel(f"{outcome} (mean, 95% interval)")
    fig.suptitle(f"{outcome}: main effects")
    return fig


def _phase_figure(table: pd.DataFrame, outcome: str, factors: list[dict]):
    f1, f2 = factors[0]["name"], factors[1]["name"]
    t = table[table["outcome"] == outcome]
    pivot = t.pivot(index=f2, columns=f1, values="mean").sort_index().sort_index(axis=1)
    fig = _figure(5.5, 4.5)
    ax = fig.subplots()
    im = ax.imshow(pivot.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(pivot.shape[1]), [f"{v:.3g}" if isinstance(v, float) else str(v)
                                          for v in pivot.columns])
    ax.set_yticks(range(pivot.shape[0]), [f"{v:.3g}" if isinstance(v, float) else str(v)
                                          for v in pivot.index])
    if pivot.size <= 144:
        vals = pivot.to_numpy(dtype=float)
        mid = np.nanmean(vals)
        for i in range(pivot.shape[0]):
            for j in range(pivot.shape[1]):
                ax.text(j, i, f"{vals[i, j]:.3g}", ha="center", va="center", fontsize=7,
                        color="white" if vals[i, j] < mid else "black")
    ax.set_xlabel(f1)
    ax.set_ylabel(f2)
    ax.set_title(f"{outcome}: mean over replicates")
    fig.colorbar(im, ax=ax, label=outcome)
    return fig
