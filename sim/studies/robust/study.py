"""A robustness study: every policy in every future, on the sweep engine, analysed by every
criterion together (:mod:`.criteria`) with scenario discovery by PRIM (:mod:`.discovery`).

The policies are scenario files (the first is the reference, normally "no policy"); the
futures are a Latin hypercube over uncertain parameters (:mod:`.futures`). Every policy is run
in every future, with replicates under common random numbers (the same seeds in every future and
for every policy), on the sweep runner and store, so a robustness study resumes after an
interruption and is queryable with ``clustersim results``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.errors import InputError
from sim.io.output import atomic_write, claims_out
from sim.io.provenance import provenance
from sim.studies.compare import comparison_of
from sim.studies.paired import OUTCOMES
from sim.studies.robust.criteria import CRITERIA, criteria_table, headline, leaders
from sim.studies.robust.discovery import Discovery, discover
from sim.studies.robust.futures import sample_futures, uncertain_ranges
from sim.studies.robust.page import render_html
from sim.studies.sweep.runner import run_sweep
from sim.studies.sweep.store import SweepStore

__all__ = ["RobustResult", "analyse", "robust"]


def analyse(runs: pd.DataFrame, futures: pd.DataFrame, labels: list[str], target: str,
            ranges, *, criterion: str = "regret", tolerance: float = 0.0,
            satisfice: float | None = None, budget: float | None = None,
            alpha: float = 0.05, min_coverage: float = 0.5) -> dict[str, Any]:
    """Every criterion (:func:`.criteria.criteria_table`), the headline, and PRIM boxes of the
    futures in which the policy the headline names (or, when it names the reference, the best
    ranked other policy) misses the satisficing threshold (``fails``) and beats the reference
    (``gains``).

    ``runs``: one row per run with ``future``, ``replicate``, ``scenario``, ``target`` and,
    for money, ``public_spending_total``; ``futures``: one row per future (index = future
    number) with the uncertain parameters.
    """
    res = criteria_table(runs, labels, target, tolerance=tolerance, satisfice=satisfice,
                         budget=budget, criterion=criterion)
    ref = labels[0]
    top = leaders(res, criterion)
    others = [p for p in res["table"]["policy"] if p != ref]
    policy = top[0] if top and top[0] != ref else (others[0] if others else ref)
    x = futures.loc[res["means"].index, [r[0] for r in ranges]]
    fails = ~res["satisfies"][policy].to_numpy()
    gains = (res["versus"][policy]["verdict"] > 0).to_numpy()
    res.update(policy=policy, fails=fails, headline=headline(res), peel_alpha=alpha,
               min_coverage=min_coverage, discoveries={
        "fails": discover(x, fails, ranges, f"{policy} misses the satisficing threshold",
                          peel_alpha=alpha, min_coverage=min_coverage),
        "gains": discover(x, gains, ranges, f"{policy} beats {ref}", peel_alpha=alpha,
                          min_coverage=min_coverage)})
    return res


@dataclass
class RobustResult:
    out: Path
    report: Path
    policy: str
    criterion: str
    headline: list[str]
    table: pd.DataFrame
    discoveries: dict[str, Discovery]
    fails: int
    futures: int
    ran: int
    already: int
    failed: int
    lost: int
    mode: str
    notes: list[str] = field(default_factory=list)

    @property
    def box(self) -> list[dict[str, Any]] | None:
        """The conditions under which the policy fails, if PRIM found a clear one."""
        return self.discoveries["fails"].limits or None

    @property
    def complete(self) -> bool:
        return self.failed == 0 and self.lost == 0


@claims_out  # held until the report's last file is written
def robust(paths, *, out: str | Path, futures: int = 16, reps: int = 2,
           steps: int | None = None, seed: int = 0, uncertain=None,
           target: str = "employment", workers: int | None = None,
           scheduler: str | None = None, overrides: dict[str, Any] | None = None,
           force: bool = False, progress: bool = True, alpha: float = 0.05,
           criterion: str = "regret", tolerance: float = 0.0,
           satisfice: float | None = None, budget: float | None = None,
           min_coverage: float = 0.5, posterior=None) -> RobustResult:
    """Run every policy in every future (resumable) and write the robustness analysis.

    Files in ``out`` besides the sweep's: ``futures.csv`` (the sampled futures, each policy's
    mean ``target`` and its verdict against the reference), ``regret.csv`` (per future and
    policy), ``robust.csv`` (per policy: every criterion and money), ``prim_box.json`` and
    ``prim_trajectory.csv`` (scenario discovery), ``robust.json`` (provenance and the headline)
    and ``robust.html``.

    With ``posterior`` (a calibration folder, its ``calibration.json`` or a loaded
    :class:`sim.io.posterior.Posterior`) each (future, replicate) takes a posterior draw of the
    calibrated parameters, the same for every policy (with the same seed); a parameter the
    futures also vary is refused. The analysis then adds P(best) over futures x draws
    (:func:`posterior_best`, ``p_best.csv``) and the draws used (``posterior_draws_used.csv``).
    """
    from sim.io.posterior import Posterior, load_posterior

    if not isinstance(futures, int) or futures < 2:
        raise InputError("--futures", "", f"got {futures}; allowed: an integer >= 2")
    if not isinstance(reps, int) or reps < 1:
        raise InputError("--reps", "", f"got {reps}; allowed: an integer >= 1")
    if target not in OUTCOMES:
        raise InputError("--target", "", f"got {target!r}; allowed: one of "
                         + ", ".join(OUTCOMES))
    if not 0 < alpha < 0.5:
        raise InputError("--peel-alpha", "", f"got {alpha}; allowed: a number in (0, 0.5)")
    if criterion not in CRITERIA:
        raise InputError("--criterion", "", f"got {criterion!r}; allowed: one of "
                         + ", ".join(CRITERIA))
    if not tolerance >= 0:
        raise InputError("--tolerance", "", f"got {tolerance}; allowed: a number >= 0")
    for flag, value in (("--satisfice", satisfice), ("--budget", budget)):
        if value is not None and not np.isfinite(value):
            raise InputError(flag, "", f"got {value}; allowed: a finite number")
    if not 0 < min_coverage <= 1:
        raise InputError("--min-coverage", "", f"got {min_coverage}; allowed: a number in "
                         "(0, 1]")
    ranges = uncertain_ranges(uncertain)
    if posterior is not None and not isinstance(posterior, Posterior):
        posterior = load_posterior(posterior)
    table = sample_futures(ranges, futures, seed)
    fut = [{k: float(v) for k, v in row.items()} for row in table.to_dict("records")]
    exp = comparison_of(paths, reps=reps, steps=steps, seed=seed, overrides=overrides,
                        futures=fut, uncertain=ranges, prefix="robust: ", series=(),
                        posterior=posterior)
    out = Path(out)
    store = SweepStore(out)
    store.make_room(exp, force, "study")
    summary = run_sweep(exp, out, workers=workers, scheduler=scheduler, progress=progress)
    runs = store.read_runs()
    runs = runs[runs["status"] == "ok"]
    labels = [p.label for p in exp.policies]
    res = analyse(runs, table, labels, target, ranges, criterion=criterion,
                  tolerance=tolerance, satisfice=satisfice, budget=budget, alpha=alpha,
                  min_coverage=min_coverage)
    if exp.posterior is not None:
        res["p_best"] = posterior_best(runs, labels, target)
        res["posterior"] = {k: v for k, v in exp.posterior.items() if k != "values"}
        res["headline"] = [*res["headline"], _best_line(res["p_best"], target)]
    notes = []
    if len(runs) < len(exp.design.runs):
        notes.append(f"{len(exp.design.runs) - len(runs)} runs are missing or failed; the "
                     "analysis uses the others")
    if any(d.status == "unavailable" for d in res["discoveries"].values()):
        notes.append("scenario discovery skipped: EMA Workbench is not installed; "
                     "pip install 'msme-clustersim[robust]'")
    report = _write(out, exp, res, table, ranges, labels, reps, seed, notes)
    return RobustResult(out=out, report=report, policy=res["policy"], criterion=criterion,
                        headline=res["headline"], table=res["table"],
                        discoveries=res["discoveries"], fails=int(res["fails"].sum()),
                        futures=futures, ran=summary.ran, already=summary.already,
                        failed=summary.failed_total, lost=summary.lost, mode=summary.mode,
                        notes=notes)


def posterior_best(runs: pd.DataFrame, labels: list[str], target: str) -> pd.DataFrame:
    """``--posterior``: P(best) of each policy over every (future, replicate), each with its
    own posterior draw and seed (:func:`sim.studies.paired.p_best`: the share of those cells
    in which the policy has the best ``target``, ties split, Jeffreys 95% interval)."""
    from sim.measure import outputs
    from sim.studies.paired import p_best

    wide = runs.pivot_table(index=["future", "replicate"], columns="scenario", values=target,
                            aggfunc="first")
    best = p_best(wide, labels, outputs.direction(target) or 1)
    best.insert(1, "outcome", target)
    return best


def _best_line(best: pd.DataFrame, target: str) -> str:
    from sim.studies.robust.criteria import name_of

    n = int(best["n"].iloc[0]) if len(best) else 0
    parts = [f"{r['scenario']} {r['p_best']:.0%} ({r['ci_low']:.0%} to {r['ci_high']:.0%})"
             for _, r in best.sort_values("p_best", ascending=False, kind="stable").iterrows()]
    return (f"Chance of being best on {name_of(target)} (P(best)): the share of the {n} "
            "runs of each policy (futures x replicates, each with its own parameter draw and "
            "the same for every policy) in which the policy has the best value, ties split, "
            "with its Jeffreys 95% interval: " + "; ".join(parts) + ".")


def _write(out: Path, exp, res, table, ranges, labels, reps, seed, notes) -> Path:
    target = res["target"]
    fut = table.copy()
    fut.index.name = "future"
    fut = fut.join(res["means"].add_prefix(f"{target}__"))
    for lab in labels[1:]:
        fut[f"verdict__{lab}"] = res["versus"][lab]["verdict"].map(
            {1: "beats", 0: "no clear difference", -1: "worse"})
    fut["best"] = res["best"]
    fut["no_policy_differs"] = res["no_difference"]
    fut[f"{res['policy']}__satisfices"] = pd.Series(~res["fails"], index=res["means"].index)
    atomic_write(out / "futures.csv", fut.to_csv())
    reg = res["regret"].copy()
    reg.index.name = "future"
    atomic_write(out / "regret.csv", reg.to_csv())
    atomic_write(out / "robust.csv", res["table"].to_csv(index=False))
    trajectories = [d.trajectory.assign(question=key) for key, d in
                    res["discoveries"].items() if d.trajectory is not None]
    if trajectories:
        atomic_write(out / "prim_trajectory.csv",
                     pd.concat(trajectories).to_csv(index_label="box"))
    box = {"policy": res["policy"], "reference": labels[0], "target": target,
           "criterion": res["criterion"],
           **{key: d.as_dict() for key, d in res["discoveries"].items()}}
    atomic_write(out / "prim_box.json", json.dumps(box, indent=2) + "\n")
    hashes = {p.label: p.hash for p in exp.policies}
    prov = provenance(steps=exp.steps, seed=seed)
    meta = {**prov, "seed": seed, "scenario_hash": hashes, "reps": reps, "target": target,
            "criterion": res["criterion"], "tolerance": res["tolerance"],
            "satisfice": res["satisfice"], "budget": res["budget"],
            "peel_alpha": res["peel_alpha"], "min_coverage": res["min_coverage"],
            "uncertain": [list(r) for r in ranges], "futures": len(table),
            "sampling": "Latin hypercube (scipy.stats.qmc), child 0 of SeedSequence(seed)",
            "headline": res["headline"], "prim": box, "notes": notes,
            "parameters": ("parameters drawn from a posterior: each (future, replicate) takes "
                           "one draw, the same for every policy" if exp.posterior is not None
                           else "point estimate: parameters outside the futures fixed at the "
                           "scenario's values")}
    if exp.posterior is not None:
        meta["posterior"] = res["posterior"]
        meta["p_best"] = res["p_best"].to_dict("records")
        atomic_write(out / "p_best.csv", res["p_best"].to_csv(index=False))
        post = exp.posterior
        used = pd.DataFrame(post["values"], columns=post["parameters"])
        used.insert(0, "draw", post["draws"])
        r = len(used) // max(len(table), 1)
        used.insert(0, "replicate", [i % r for i in range(len(used))])
        used.insert(0, "future", [i // r for i in range(len(used))])
        atomic_write(out / "posterior_draws_used.csv", used.to_csv(index=False))
    atomic_write(out / "robust.json", json.dumps(meta, indent=2, default=str) + "\n")
    page = render_html(res, ranges, labels, meta)
    atomic_write(out / "robust.html", page)
    return out / "robust.html"
