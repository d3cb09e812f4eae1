"""Robust decisions: which policy does well across uncertain futures, and when does it fail?

The policies are scenario files (the first is the reference, normally "no policy"); the
futures are a Latin hypercube over uncertain parameters, as EMA Workbench samples them
(McKay et al. 1979; Kwakkel 2017): each parameter's range is divided into as many equal strata
as there are futures and every stratum is used once. The ranges come from the parameter table
(:mod:`sim.core.params`): by default the parameter's default value +-50%, clipped to the range the
table allows; ``NAME=LOW:HIGH`` gives a range, checked against the table.

Every policy is run in every future, with replicates under common random numbers (the same
seeds in every future and for every policy), on the sweep runner and store, so a robustness
study resumes after an interruption and is queryable with ``clustersim results``. From the
target outcome (mean over replicates, per future and policy) it reports:

- **regret**: in each future, how far a policy falls short of the best policy of that future
  (Savage 1951); per policy its mean, 90th percentile and maximum over the futures, and the
  policy with the least maximum regret (minimax regret);
- **the share of futures in which each policy beats the reference**;
- **scenario discovery**: PRIM boxes (Friedman and Fisher 1999; Bryant and Lempert 2010) of the
  uncertain conditions under which the most robust policy fails to beat the reference, with
  the coverage/density trade-off of the peeling trajectory.

PRIM is implemented here (:func:`prim`) rather than taken from ``ema_workbench``: the current
release (3.0) needs Python 3.12, and the last release for Python 3.11 (2.5) brings
scikit-learn, statsmodels, seaborn and platypus-opt with it, for one peeling loop of thirty
lines that is tested here on data whose true box is known. The Latin hypercube is
``scipy.stats.qmc.LatinHypercube``, as in :mod:`sim.studies.sweep.experiment`.

References: M. D. McKay, R. J. Beckman, W. J. Conover (1979), Technometrics 21(2) 239-245;
J. H. Friedman, N. I. Fisher (1999), Bump hunting in high-dimensional data, Statistics and
Computing 9 123-143; B. P. Bryant, R. J. Lempert (2010), Thinking inside the box,
Technological Forecasting and Social Change 77(1) 34-49; J. H. Kwakkel (2017), The Exploratory
Modeling Workbench, Environmental Modelling & Software 96 239-250; L. J. Savage (1951), The
theory of statistical decision, JASA 46(253) 55-67.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.core.errors import InputError
from sim.core.fields import suggest
from sim.core.params import FIELD_INFO
from sim.io.output import atomic_write, claims_out
from sim.io.provenance import provenance
from sim.measure import outputs
from sim.studies.compare import comparison_of
from sim.studies.paired import OUTCOMES
from sim.studies.report import CSS, fmt
from sim.studies.sweep.runner import run_sweep
from sim.studies.sweep.store import SweepStore

__all__ = ["DEFAULT_UNCERTAIN", "uncertain_ranges", "sample_futures", "prim", "regret_table",
           "analyse", "robust"]

#: Uncertain parameters when none are given: what decides whether firms cooperate and pledge.
DEFAULT_UNCERTAIN: tuple[str, ...] = ("initial_trust", "coop_benefit", "trust_gain",
                                      "willingness_mean", "meet_prob")
#: Default half-width of a range around the parameter's default value, as a share of it.
SPREAD = 0.5


# -- futures -------------------------------------------------------------------------------------
def _field(name: str):
    for group, infos in FIELD_INFO.items():
        if name in infos:
            return group, infos[name]
    every = sorted(n for infos in FIELD_INFO.values() for n in infos)
    raise InputError("--uncertain", name, f"not a parameter{suggest(name, every)}; allowed: a "
                     "parameter of `clustersim params`")


def uncertain_ranges(specs=None) -> list[tuple[str, float, float]]:
    """``(name, low, high)`` for each uncertain parameter.

    ``specs``: names (default range: the default +-50%, clipped to the table's allowed range)
    or ``NAME=LOW:HIGH``; default :data:`DEFAULT_UNCERTAIN`.
    """
    out: list[tuple[str, float, float]] = []
    for spec in (specs or DEFAULT_UNCERTAIN):
        name, _, rng = str(spec).partition("=")
        name = name.strip()
        _, f = _field(name)
        meta = f.metadata
        default = f.default
        if isinstance(default, bool) or not isinstance(default, int | float):
            raise InputError("--uncertain", name, f"is not a number (default {default!r}); "
                             "allowed: a numeric parameter")
        lo_ok = meta["lo"] if meta["lo"] is not None else -math.inf
        hi_ok = meta["hi"] if meta["hi"] is not None else math.inf
        if rng:
            try:
                lo, hi = (float(v) for v in rng.split(":"))
            except ValueError:
                raise InputError("--uncertain", spec, "allowed: NAME or NAME=LOW:HIGH, e.g. "
                                 "coop_benefit=0.01:0.04") from None
        else:
            if default == 0:
                raise InputError("--uncertain", name, "its default is 0, so +-50% is no range;"
                                 " allowed: NAME=LOW:HIGH")
            lo, hi = sorted((default * (1 - SPREAD), default * (1 + SPREAD)))
            lo, hi = max(lo, lo_ok), min(hi, hi_ok)
        if not (lo < hi and lo >= lo_ok and hi <= hi_ok):
            raise InputError("--uncertain", str(spec), f"got [{lo:g}, {hi:g}]; allowed: LOW < "
                             f"HIGH within the table's range [{lo_ok:g}, {hi_ok:g}]")
        if name in [n for n, _, _ in out]:
            raise InputError("--uncertain", name, "given twice; allowed: each parameter once")
        out.append((name, float(lo), float(hi)))
    return out


def sample_futures(ranges, n: int, seed: int) -> pd.DataFrame:
    """A Latin hypercube of ``n`` futures over ``ranges`` (one column per parameter); the
    generator is child 0 of ``SeedSequence(seed)``, as for the sweeps' samplers."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    unit = qmc.LatinHypercube(d=len(ranges), rng=rng).random(n)
    lo = np.array([r[1] for r in ranges])
    hi = np.array([r[2] for r in ranges])
    x = qmc.scale(unit, lo, hi)
    return pd.DataFrame(x, columns=[r[0] for r in ranges])


# -- PRIM ----------------------------------------------------------------------------------------
def prim(x: pd.DataFrame, y, *, alpha: float = 0.05, min_mass: float = 0.05) -> pd.DataFrame:
    """Patient Rule Induction Method, peeling phase (Friedman and Fisher 1999).

    Starting from the box that holds every point, each step removes the ``alpha`` share of the
    points in the box from the low or high end of one variable, whichever leaves the highest
    share of cases of interest (``y`` true) in the box; it stops when the box would hold less
    than ``min_mass`` of the points or no peel can raise that share.

    Returns
    -------
    DataFrame
        The peeling trajectory, one row per box: ``coverage`` (share of all cases of interest
        inside the box), ``density`` (share of the box's points that are cases), ``mass``
        (share of all points inside), ``n``, and for each variable ``LOW``/``HIGH`` columns
        named ``<var>_low`` and ``<var>_high`` (the box's limits; the data's own for a variable
        not restricted).
    """
    cols = list(x.columns)
    xv = x.to_numpy(dtype=np.float64)
    yv = np.asarray(y, dtype=bool)
    n, d = xv.shape
    total = max(int(yv.sum()), 1)
    lo = xv.min(axis=0).copy()
    hi = xv.max(axis=0).copy()
    inside = np.ones(n, dtype=bool)

    def row():
        k = int(inside.sum())
        r = {"coverage": float(yv[inside].sum() / total), "density": float(yv[inside].mean())
             if k else 0.0, "mass": k / n, "n": k}
        for j, c in enumerate(cols):
            r[f"{c}_low"], r[f"{c}_high"] = float(lo[j]), float(hi[j])
        return r

    rows = [row()]
    while True:
        best = None
        current = yv[inside].mean() if inside.any() else 0.0
        for j in range(d):
            v = xv[inside, j]
            for side in ("low", "high"):
                # remove the points at or beyond the alpha quantile at this end
                if side == "low":
                    keep = inside & (xv[:, j] > np.quantile(v, alpha))
                else:
                    keep = inside & (xv[:, j] < np.quantile(v, 1 - alpha))
                k = int(keep.sum())
                if k < max(1, math.ceil(min_mass * n)) or k == int(inside.sum()):
                    continue
                dens = yv[keep].mean()
                if best is None or dens > best[0] or (dens == best[0] and k > best[1]):
                    best = (dens, k, j, side, keep)
        if best is None or best[0] <= current:
            break
        _, _, j, side, keep = best
        inside = keep
        if side == "low":
            lo[j] = xv[inside, j].min()
        else:
            hi[j] = xv[inside, j].max()
        rows.append(row())
    return pd.DataFrame(rows)


def choose_box(trajectory: pd.DataFrame, min_coverage: float = 0.5) -> int:
    """The box to report: the densest box of the trajectory that still covers at least
    ``min_coverage`` of the cases (the first box if none does)."""
    ok = trajectory[trajectory["coverage"] >= min_coverage]
    if ok.empty:
        return 0
    return int(ok["density"].idxmax())


def box_limits(trajectory: pd.DataFrame, i: int, ranges) -> list[dict[str, Any]]:
    """The restricted variables of box ``i``: name, low, high and the sampled range."""
    row = trajectory.loc[i]
    first = trajectory.loc[0]
    out = []
    for name, lo, hi in ranges:
        blo, bhi = row[f"{name}_low"], row[f"{name}_high"]
        if blo > first[f"{name}_low"] or bhi < first[f"{name}_high"]:
            out.append({"parameter": name, "low": float(blo), "high": float(bhi),
                        "range_low": lo, "range_high": hi})
    return out


# -- regret ----------------------------------------------------------------------------------------
def regret_table(values: pd.DataFrame, direction: int) -> pd.DataFrame:
    """Regret of each policy (column) in each future (row): the distance to the best policy
    of that future, in the outcome's units, >= 0. ``direction`` +1 when more is better."""
    v = values.to_numpy(dtype=np.float64) * (1 if direction >= 0 else -1)
    best = v.max(axis=1, keepdims=True)
    return pd.DataFrame(best - v, index=values.index, columns=values.columns)


def analyse(runs: pd.DataFrame, futures: pd.DataFrame, labels: list[str], target: str,
            ranges, *, alpha: float = 0.05) -> dict[str, Any]:
    """Regret, shares of futures beating the reference, and PRIM boxes of failure.

    ``runs``: one row per run with ``future``, ``scenario`` and ``target``; ``futures``: one
    row per future (index = future number) with the uncertain parameters.
    """
    way = outputs.direction(target) or 1
    means = (runs.groupby(["future", "scenario"])[target].mean()
             .unstack("scenario").reindex(columns=labels).sort_index())
    regret = regret_table(means, way)
    ref = labels[0]
    rows = []
    for lab in labels:
        r = regret[lab]
        better = (means[lab] - means[ref]) * way
        rows.append({"policy": lab, "mean_regret": float(r.mean()),
                     "p90_regret": float(r.quantile(0.9)), "max_regret": float(r.max()),
                     "share_best": float((r == 0).mean()),
                     "share_beats_reference": (float((better > 0).mean()) if lab != ref
                                               else float("nan")),
                     "mean_effect": float((means[lab] - means[ref]).mean())})
    table = pd.DataFrame(rows).sort_values(["max_regret", "mean_regret"], kind="stable")
    table.insert(0, "rank", range(1, len(table) + 1))
    candidates = table[table["policy"] != ref]
    chosen = str(candidates.iloc[0]["policy"]) if len(candidates) else ref
    fails = ((means[chosen] - means[ref]) * way <= 0).to_numpy()
    x = futures.loc[means.index, [r[0] for r in ranges]]
    result: dict[str, Any] = {"means": means, "regret": regret, "table": table,
                              "policy": chosen, "fails": fails, "trajectory": None,
                              "box": None, "box_index": None}
    if fails.any() and not fails.all():
        traj = prim(x, fails, alpha=alpha)
        i = choose_box(traj)
        result.update(trajectory=traj, box_index=i, box=box_limits(traj, i, ranges))
    return result


# -- the study -------------------------------------------------------------------------------------
@dataclass
class RobustResult:
    out: Path
    report: Path
    policy: str
    table: pd.DataFrame
    box: list[dict[str, Any]] | None
    fails: int
    futures: int
    ran: int
    already: int
    failed: int
    lost: int
    mode: str
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.failed == 0 and self.lost == 0


@claims_out  # held until the report's last file is written
def robust(paths, *, out: str | Path, futures: int = 16, reps: int = 2,
           steps: int | None = None, seed: int = 0, uncertain=None,
           target: str = "employment", workers: int | None = None,
           scheduler: str | None = None, overrides: dict[str, Any] | None = None,
           force: bool = False, progress: bool = True, alpha: float = 0.05) -> RobustResult:
    """Run every policy in every future (resumable) and write the robustness analysis.

    Files in ``out`` besides the sweep's: ``futures.csv`` (the sampled futures and each
    policy's mean ``target``), ``regret.csv`` (per future and policy), ``robust.csv`` (per
    policy: regret, share of futures beating the reference), ``prim_trajectory.csv``,
    ``prim_box.json``, ``robust.json`` (provenance) and ``robust.html``.
    """
    if not isinstance(futures, int) or futures < 2:
        raise InputError("--futures", "", f"got {futures}; allowed: an integer >= 2")
    if not isinstance(reps, int) or reps < 1:
        raise InputError("--reps", "", f"got {reps}; allowed: an integer >= 1")
    if target not in OUTCOMES:
        raise InputError("--target", "", f"got {target!r}; allowed: one of "
                         + ", ".join(OUTCOMES))
    if not 0 < alpha < 0.5:
        raise InputError("--peel-alpha", "", f"got {alpha}; allowed: a number in (0, 0.5)")
    ranges = uncertain_ranges(uncertain)
    table = sample_futures(ranges, futures, seed)
    fut = [{k: float(v) for k, v in row.items()} for row in table.to_dict("records")]
    exp = comparison_of(paths, reps=reps, steps=steps, seed=seed, overrides=overrides,
                        futures=fut, uncertain=ranges, prefix="robust: ", series=())
    out = Path(out)
    store = SweepStore(out)
    store.make_room(exp, force, "study")
    summary = run_sweep(exp, out, workers=workers, scheduler=scheduler, progress=progress)
    runs = store.read_runs()
    runs = runs[runs["status"] == "ok"]
    labels = [p.label for p in exp.policies]
    res = analyse(runs, table, labels, target, ranges, alpha=alpha)
    notes = []
    if len(runs) < len(exp.design.runs):
        notes.append(f"{len(exp.design.runs) - len(runs)} runs are missing or failed; the "
                     "analysis uses the others")
    report = _write(out, exp, res, table, ranges, target, labels, reps, seed, notes)
    return RobustResult(out=out, report=report, policy=res["policy"], table=res["table"],
                        box=res["box"], fails=int(res["fails"].sum()), futures=futures,
                        ran=summary.ran, already=summary.already,
                        failed=summary.failed_total, lost=summary.lost, mode=summary.mode,
                        notes=notes)


def _write(out: Path, exp, res, table, ranges, target, labels, reps, seed, notes) -> Path:
    fut = table.copy()
    fut.index.name = "future"
    fut = fut.join(res["means"].add_prefix(f"{target}__"))
    fut["best_policy_fails"] = res["fails"]
    atomic_write(out / "futures.csv", fut.to_csv())
    reg = res["regret"].copy()
    reg.index.name = "future"
    atomic_write(out / "regret.csv", reg.to_csv())
    atomic_write(out / "robust.csv", res["table"].to_csv(index=False))
    traj = res["trajectory"]
    if traj is not None:
        atomic_write(out / "prim_trajectory.csv", traj.to_csv(index_label="box"))
    box = {"policy": res["policy"], "reference": labels[0], "target": target,
           "condition": f"{res['policy']} does not beat {labels[0]} on {target}",
           "cases": int(res["fails"].sum()), "futures": int(len(res["fails"])),
           "box": res["box"], "box_index": res["box_index"],
           "coverage": (float(traj.loc[res["box_index"], "coverage"]) if traj is not None
                        else None),
           "density": (float(traj.loc[res["box_index"], "density"]) if traj is not None
                       else None)}
    atomic_write(out / "prim_box.json", json.dumps(box, indent=2) + "\n")
    hashes = {p.label: p.hash for p in exp.policies}
    prov = provenance(steps=exp.steps, seed=seed)
    meta = {**prov, "seed": seed, "scenario_hash": hashes, "reps": reps, "target": target,
            "uncertain": [list(r) for r in ranges], "futures": len(table),
            "sampling": "Latin hypercube (scipy.stats.qmc), child 0 of SeedSequence(seed)",
            "prim": box, "notes": notes}
    atomic_write(out / "robust.json", json.dumps(meta, indent=2, default=str) + "\n")
    page = render_html(res, table, ranges, target, labels, meta)
    atomic_write(out / "robust.html", page)
    return out / "robust.html"


def render_html(res, table, ranges, target, labels, meta) -> str:
    """The robustness report: one self-contained page (no scripts, no outside resources)."""

    esc = html.escape
    tl = outputs.label(target).lower()
    t = res["table"]
    rows = "".join(
        f"<tr><td>{int(r['rank'])}</td><th class='l'>{esc(r['policy'])}</th>"
        f"<td>{fmt(r['mean_regret'])}</td><td>{fmt(r['p90_regret'])}</td>"
        f"<td>{fmt(r['max_regret'])}</td><td>{r['share_best']:.0%}</td>"
        f"<td>{'' if not np.isfinite(r['share_beats_reference']) else format(r['share_beats_reference'], '.0%')}</td>"  # noqa: E501
        f"<td>{fmt(r['mean_effect'])}</td></tr>" for _, r in t.iterrows())
    unc = "".join(f"<tr><th class='l'>{esc(n)}</th><td>{fmt(lo)}</td><td>{fmt(hi)}</td></tr>"
                  for n, lo, hi in ranges)
    n_fail, n_all = int(res["fails"].sum()), len(res["fails"])
    chosen, ref = res["policy"], labels[0]
    if res["box"]:
        traj = res["trajectory"]
        i = res["box_index"]
        lims = "; ".join(f"{b['parameter']} from {fmt(b['low'])} to {fmt(b['high'])} "
                         f"(sampled {fmt(b['range_low'])}-{fmt(b['range_high'])})"
                         for b in res["box"])
        box = (f"<p>{esc(chosen)} fails to beat {esc(ref)} in {n_fail} of {n_all} futures. "
               f"PRIM finds them mostly where <b>{esc(lims)}</b>: the box holds "
               f"{traj.loc[i, 'coverage']:.0%} of the failures (coverage), and "
               f"{traj.loc[i, 'density']:.0%} of the futures in it are failures (density).</p>")
        if n_fail < 10:
            box += (f"<p class='warn'>With {n_fail} failures the box is a hint, not a finding: "
                    "PRIM fits a box around few points easily. Sample more futures "
                    "(--futures) before reading it as a condition.</p>")
        trows = "".join(f"<tr><td>{k}</td><td>{r['coverage']:.0%}</td><td>{r['density']:.0%}"
                        f"</td><td>{r['mass']:.0%}</td></tr>" for k, r in traj.iterrows())
        box += ("<details><summary>peeling trajectory (coverage against density)</summary>"
                "<table><tr><th>box</th><th>coverage</th><th>density</th><th>mass</th></tr>"
                + trows + "</table></details>")
    elif n_fail == 0:
        box = f"<p>{esc(chosen)} beats {esc(ref)} in every sampled future: no box to find.</p>"
    else:
        box = (f"<p>{esc(chosen)} fails to beat {esc(ref)} in every sampled future: no "
               "condition separates failure from success.</p>")
    notes = "".join(f"<li>{esc(n)}</li>" for n in meta.get("notes", []))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clustersim robustness: {esc(', '.join(labels))}</title>
<style>{CSS}</style></head>
<body>
<h1>Robust decision: {esc(', '.join(labels[1:]))} against {esc(ref)}</h1>
<div class="decision"><h2>Summary</h2><ul>
<li>Across {n_all} futures, <b>{esc(chosen)}</b> has the least maximum regret on {esc(tl)}
(minimax regret).</li>
<li>It beats {esc(ref)} in {1 - n_fail / max(n_all, 1):.0%} of the futures.</li>
<li>Each future is the mean of {meta['reps']} replicate(s) with common random numbers; a
handful of futures is a screening, not a settled answer.</li>{notes}
</ul></div>
<h2>Regret</h2>
<p>Regret of a policy in a future: how far its {esc(tl)} falls short of the best policy in
that future (0 for the best). Ranked by maximum, then mean regret.</p>
<table><tr><th>rank</th><th class='l'>policy</th><th>mean regret</th><th>90th pct</th>
<th>max regret</th><th>best in</th><th>beats {esc(ref)} in</th><th>mean effect vs
{esc(ref)}</th></tr>{rows}</table>
<h2>When the most robust policy fails</h2>
{box}
<h2>Uncertain parameters</h2>
<p>Latin hypercube over these ranges (from the parameter table: the default +-50% within the
allowed range, unless given).</p>
<table><tr><th class='l'>parameter</th><th>low</th><th>high</th></tr>{unc}</table>
<h2>Provenance</h2>
<p class="small">version {esc(str(meta.get('version')))}, commit
{esc(str(meta.get('git_commit')))}, seed {meta['seed']}, scenario hashes
{esc(json.dumps(meta['scenario_hash']))}. Files: robust.csv, regret.csv, futures.csv,
prim_trajectory.csv, prim_box.json, robust.json; the runs as a sweep directory that
<code>clustersim results</code> queries.</p>
</body></html>
"""
