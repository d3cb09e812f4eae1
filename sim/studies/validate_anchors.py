"""The model against the policy anchors: each anchor's band, the model's 90% predictive
interval over replicates, and whether it is covered (``clustersim validate --anchors``).

Each anchor of ``sim/data/policy_anchors.toml`` is wired here to the scenario run(s) that
express it (:data:`WIRING`) and measured on each replicate with the estimators of
:mod:`sim.measure.anchors` (through :mod:`sim.studies.anchors`):

- ``cfc``: ``scenarios/cfc.toml`` with its firms month by month: the users' before/after
  (productivity, turnover), the offer's completion, the employment spillover on
  non-participants (a difference in differences) and the gross public cost per job;
- ``sfurti``: the same cluster offered a facility on SFURTI's terms (:data:`SFURTI`): its
  completion and its gross cost per worker supported;
- ``tirupur``: ``scenarios/tirupur_cetp.toml`` run to 166 months after its court order: the
  CETPs' capacity use, the dyeing units and the knitwear revenue after the order;
- ``hebron`` and ``hebron_open``: ``scenarios/hebron_stone.toml`` with and without its
  movement restrictions (paired seeds): the stone firms and workers, and the Area C ratio.

How a band and replicates make a verdict (:func:`judge`):

- a figure anchor is *covered* when the model's 90% predictive interval (the 5% and 95%
  quantiles of the replicates' values) overlaps the anchor's band;
- a completion share is a count of many projects (227 MSE-CDP CFCs, 498 SFURTI clusters):
  the replicates give the chance that one offer is complete (Jeffreys' Beta posterior of the
  offers complete over the offers made), and the predictive interval is that of the share
  complete among the source's number of projects (a beta-binomial, ``scipy.stats.betabinom``);
- a sign anchor is covered when more than half of the replicates give an estimate of the right
  sign, significant at 5%, while the same estimate with the event put a year earlier (a
  placebo: the facility is not there yet) does not; a sign the placebo shows too is a
  difference in trends, not an effect. The table gives the shares right and wrong;
- an anchor marked ``expressible = false`` is listed and not judged.

Parameters: by default every run takes its scenario's own values (a *point estimate*). With
posteriors (``--posterior CAL``, :func:`posterior_plan`) a calibration's draws apply to the
wirings run on the scenario it was calibrated on (matched by the resolved scenario's content
hash): replicate ``r`` of those wirings takes the draw picked for it from the validation's seed
(:func:`sim.studies.compare.posterior_draws`, as ``clustersim compare --posterior``), the same
draw and seed in every wiring of that scenario, so the predictive interval includes parameter
uncertainty.

Every replicate's values are written to ``OUT/replicates/`` as it finishes (atomically), so an
interrupted validation resumes where it stopped; ``OUT/anchors.csv`` and
``OUT/anchors.json`` (with provenance) hold the table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.core.errors import InputError
from sim.io.anchors import Anchor
from sim.io.output import atomic_write, write_marker
from sim.io.provenance import provenance
from sim.io.scenario import Scenario, load_scenario
from sim.measure.anchors import capacity_use, path_ratio, sector_total
from sim.studies.anchors import (
    Panel,
    cfc_spillover,
    cfc_user_change,
    firm_panel,
    gross_cost_per_job,
    public_completion,
    sector_path,
)

__all__ = ["WIRING", "SFURTI", "RUPEES_PER_MODEL_MONEY", "PROJECTS", "Verdict", "judge",
           "measure_replicate", "validate_anchors", "verdicts_frame", "summary_line",
           "table_markdown", "EXPERIMENTS", "POINT_LABEL", "posterior_plan",
           "parameters_line"]

#: Rupees per unit of the Indian scenarios' money (thousand USD), at Rs 1 crore ~ 120 thousand
#: USD (docs/sources.md#tirupur): 10^7 / 120.
RUPEES_PER_MODEL_MONEY = 1e7 / 120.0

#: The cluster of scenarios/cfc.toml offered a facility on SFURTI's terms for hard
#: interventions (docs/sources.md#mse-cdp-outcomes): 75% grant, a mini cluster's project of
#: up to Rs 1.5 crore (180 thousand USD), an SPV of at least 10 members (an assumption:
#: artisan SPVs are smaller than MSE-CDP's 20).
SFURTI = {"interventions.cfc.grant_share": 0.75, "interventions.cfc.project_cost": 180.0,
          "interventions.cfc.spv_min_members": 10}

#: completion anchor -> the number of projects its source counted (the predictive interval is
#: that of a share of so many projects)
PROJECTS = {"cfc_completion": 227, "sfurti_functional": 498}

#: cost anchor -> the experiment whose paired difference in employment from baseline.toml
#: gives the net cost per extra job, shown beside the gross one (not judged: the anchors are
#: gross, as the schemes report them)
NET = {"pmegp_cost_per_job": "cfc", "sfurti_cost_per_artisan": "sfurti"}

#: months simulated by default: the CFC opens its drive at month 18 and may start operating at
#: about month 30; its users are compared 36-60 months after that
CFC_STEPS = 96
#: months of the Tirupur anchors after its court order: the last is 165 (late 2024)
TIRUPUR_AFTER = 166
#: months before the facility operates at which the spillover's placebo puts the event
PLACEBO_LEAD = 12
#: the format of the replicates' files (a folder of another format is not resumed)
FORMAT = 3


@dataclass(frozen=True)
class Wire:
    """How one anchor is measured: the experiment (a scenario run per replicate) and the
    kind of verdict (``band``, ``share`` or ``sign``)."""

    experiment: str
    kind: str
    what: str


#: anchor key -> its wiring (the anchors not listed, or not expressible, are not judged)
WIRING: dict[str, Wire] = {
    "cfc_users_productivity": Wire("cfc", "band", "cfc.toml: users' output per worker, "
                                   "months 36-60 after opening over the 12 before"),
    "cfc_users_turnover": Wire("cfc", "band", "cfc.toml: users' revenue, as above"),
    "cfc_completion": Wire("cfc", "share", "cfc.toml: offers whose facility operates by the "
                           "end"),
    "sfurti_functional": Wire("sfurti", "share", "cfc.toml on SFURTI's terms: as above"),
    "tirupur_cetp_use_2012": Wire("tirupur", "band", "tirupur_cetp.toml: CETP users over "
                                  "capacity, the 12 months to December 2012 (23 months after "
                                  "the order)"),
    "tirupur_cetp_use_2016": Wire("tirupur", "band", "tirupur_cetp.toml: as above, the 12 "
                                  "months to June 2016 (65 months after)"),
    "tirupur_units_after_10_years": Wire("tirupur", "band", "tirupur_cetp.toml: dyeing units "
                                         "120 months after the order over the month before"),
    "tirupur_units_now": Wire("tirupur", "band", "tirupur_cetp.toml: as above, 165 months"),
    "tirupur_exports_year_1": Wire("tirupur", "band", "tirupur_cetp.toml: knitwear revenue, "
                                   "year after the order over the year before"),
    "tirupur_exports_year_3": Wire("tirupur", "band", "tirupur_cetp.toml: as above, months "
                                   "24-36 after"),
    "hebron_stone_firms": Wire("hebron", "band", "hebron_stone.toml: live stone firms, "
                               "month 120"),
    "hebron_stone_workers": Wire("hebron", "band", "hebron_stone.toml: their workers"),
    "hebron_area_c_output": Wire("hebron_open", "band", "hebron_stone.toml without its "
                                 "movement restrictions over with them, stone output, month "
                                 "120, paired seeds"),
    "apl_spillover_employment": Wire("cfc", "sign", "cfc.toml: DiD of log employment, "
                                     "non-users of the CFC's cluster against other regions, "
                                     "reweighted on size, trend and age before"),
    "pmegp_cost_per_job": Wire("cfc", "band", "cfc.toml: public spending over the users' "
                               "workers (gross), in rupees"),
    "sfurti_cost_per_artisan": Wire("sfurti", "band", "cfc.toml on SFURTI's terms: as above"),
}


# ---------------------------------------------------------------------------- measuring

def _sign(did) -> float:
    return float(did.sign) if math.isfinite(did.estimate) else float("nan")


def _cfc_values(panel: Panel) -> dict[str, float]:
    did = cfc_spillover(panel)
    placebo = cfc_spillover(panel, lead=PLACEBO_LEAD)
    public = panel.facilities[panel.facilities["public"]]
    done = public_completion(panel)
    return {"cfc_users_productivity": cfc_user_change(panel),
            "cfc_users_turnover": cfc_user_change(panel, outcome="revenue"),
            "cfc_completion": done, "cfc_completion.offers": float(len(public)),
            "apl_spillover_employment": _sign(did),
            "apl_spillover_employment.estimate": did.estimate,
            "apl_spillover_employment.pvalue": did.pvalue,
            "apl_spillover_employment.placebo": _sign(placebo),
            "apl_spillover_employment.placebo_estimate": placebo.estimate,
            "pmegp_cost_per_job": gross_cost_per_job(panel) * RUPEES_PER_MODEL_MONEY,
            **_totals(panel, "cfc")}


def _totals(panel: Panel, experiment: str) -> dict[str, float]:
    """The run's employment and public spending in its last month (for the net cost)."""
    last = panel.series.iloc[-1]
    return {f"{experiment}.employment": float(last["employment"]),
            f"{experiment}.spending": float(last["public_spending_total"])}


def _sfurti_values(panel: Panel) -> dict[str, float]:
    public = panel.facilities[panel.facilities["public"]]
    return {"sfurti_functional": public_completion(panel),
            "sfurti_functional.offers": float(len(public)),
            "sfurti_cost_per_artisan": gross_cost_per_job(panel) * RUPEES_PER_MODEL_MONEY,
            **_totals(panel, "sfurti")}


def _facility_use(panel: Panel, lo: int, hi: int) -> float:
    """Users over capacity of the public facilities operating in months ``lo <= t < hi``."""
    fac = panel.facilities[panel.facilities["public"] & panel.facilities["ready_at"].notna()]
    f = panel.firms
    months = np.arange(lo, hi)
    users, capacity = [], []
    for t in months:
        on = fac[fac["ready_at"] <= t]
        capacity.append(float(on["capacity"].sum()))
        users.append(float(((f["step"] == t) & f["uses_facility"].isin(on["facility"])).sum()))
    return capacity_use(users, capacity)


def _tirupur_values(panel: Panel, event: int) -> dict[str, float]:
    steps, units = sector_path(panel, "dyeing")
    _, revenue = sector_path(panel, "knitwear", "revenue")
    return {"tirupur_cetp_use_2012": _facility_use(panel, event + 12, event + 24),
            "tirupur_cetp_use_2016": _facility_use(panel, event + 54, event + 66),
            "tirupur_units_after_10_years": path_ratio(units, steps, event, 120),
            "tirupur_units_now": path_ratio(units, steps, event, 165),
            "tirupur_exports_year_1": path_ratio(revenue, steps, event, 0, window=12),
            "tirupur_exports_year_3": path_ratio(revenue, steps, event, 24, window=12)}


def _final_firms(scenario: Scenario, seed: int, steps: int) -> pd.DataFrame:
    from sim.studies.simulate import simulate

    return simulate(scenario, steps=steps, seed=seed).firms


def _court_order(scenario: Scenario) -> int:
    for item in scenario.interventions:
        if getattr(item, "name", "") == "court_order":
            return int(item.start)
    raise InputError(str(scenario.path), "interventions", "no intervention named "
                     "'court_order'; the Tirupur anchors are measured around it")


#: experiment -> (scenario file under scenarios/, its overrides)
EXPERIMENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "cfc": ("cfc.toml", {}),
    "base": ("baseline.toml", {}),
    "sfurti": ("cfc.toml", SFURTI),
    "tirupur": ("tirupur_cetp.toml", {}),
    "hebron": ("hebron_stone.toml", {}),
    "hebron_open": ("hebron_stone.toml", {"interventions.checkpoints.enabled": False}),
}


#: experiment -> the scenario file whose posterior it takes although it runs another file: the
#: baseline is the counterfactual of the CFC and SFURTI runs (the net cost per extra job is a
#: paired difference), so replicate r runs it with the parameters of the CFC's replicate r
#: (those it has: it has no CFC, so no interventions.cfc.* value applies to it)
COUNTERFACTUAL = {"base": "cfc.toml"}

#: how a scenario run at its own parameter values is labelled (table and anchors.json)
POINT_LABEL = "point estimate"


def _scenario(folder: Path, experiment: str, draw: dict[str, Any] | None = None) -> Scenario:
    file, overrides = EXPERIMENTS[experiment]
    if draw:  # the wiring's own overrides (SFURTI's terms, no checkpoints) win over a draw
        overrides = {**draw, **overrides}
    return load_scenario(folder / file).with_overrides(overrides)


def measure_replicate(experiment: str, seed: int, folder: str | Path,
                      steps: dict[str, int], draw: dict[str, Any] | None = None
                      ) -> dict[str, float]:
    """The anchors' values of one replicate of one experiment (NaN where a run gives nothing
    to measure, e.g. no facility built). ``steps``: months per experiment; ``draw``: a
    posterior draw's parameter values (:func:`posterior_plan`), on top of the scenario's."""
    folder = Path(folder)
    sc = _scenario(folder, experiment, draw)
    n = steps[experiment]
    if experiment == "cfc":
        return _cfc_values(firm_panel(sc, seed=seed, steps=n))
    if experiment == "sfurti":
        return _sfurti_values(firm_panel(sc, seed=seed, steps=n))
    if experiment == "tirupur":
        return _tirupur_values(firm_panel(sc, seed=seed, steps=n), _court_order(sc))
    if experiment == "hebron":
        firms = _final_firms(sc, seed, n)
        return {"hebron_stone_firms": sector_total(firms, "stone"),
                "hebron_stone_workers": sector_total(firms, "stone", "employees"),
                "hebron.output": sector_total(firms, "stone", "output")}
    if experiment == "base":
        from sim.studies.simulate import simulate

        last = simulate(sc, steps=n, seed=seed, firms=False).series.iloc[-1]
        return {"base.employment": float(last["employment"])}
    if experiment == "hebron_open":
        firms = _final_firms(sc, seed, n)
        return {"hebron_open.output": sector_total(firms, "stone", "output")}
    raise ValueError(f"experiment: got {experiment!r}; allowed: {', '.join(EXPERIMENTS)}")


def default_steps(folder: str | Path) -> dict[str, int]:
    """Months per experiment: enough for every window its anchors measure."""
    tirupur = load_scenario(Path(folder) / "tirupur_cetp.toml")
    hebron = load_scenario(Path(folder) / "hebron_stone.toml").steps
    return {"cfc": CFC_STEPS, "sfurti": CFC_STEPS, "base": CFC_STEPS,
            "tirupur": _court_order(tirupur) + TIRUPUR_AFTER,
            "hebron": hebron, "hebron_open": hebron}


# ---------------------------------------------------------------------------- judging

@dataclass(frozen=True)
class Verdict:
    """One row of the validation table."""

    key: str
    role: str
    band: str
    model: str
    covered: bool | None  # None: not judged (not expressible, not wired or nothing measured)
    n: int  # replicates with a value
    low: float = math.nan  # the model's 90% interval (or the share right, for a sign)
    high: float = math.nan
    median: float = math.nan
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in self.__dict__.items()}


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _band(a: Anchor) -> str:
    if a.sign:
        return ("negative" if a.sign < 0 else "positive") + " (sign)"
    return f"{_fmt(a.low)} to {_fmt(a.high)}"


def judge(anchor: Anchor, values: np.ndarray, *, kind: str = "band",
          offers: np.ndarray | None = None, projects: int | None = None,
          placebo: np.ndarray | None = None, level: float = 0.90) -> Verdict:
    """The verdict on one anchor from its replicates' values (NaN: nothing measured).

    ``kind``: ``band`` (quantiles of the values against the band), ``share`` (``values`` the
    share of ``offers`` complete in each replicate; the predictive share of ``projects``) or
    ``sign`` (``values`` -1, 0 or +1: the estimate's sign when significant at 5%; with
    ``placebo``, the same for the placebo a year earlier, and a replicate is right only if its
    placebo does not show the sign too: a difference in trends is not a spillover)."""
    role = "fitted" if anchor.role == "fit" else "held out"
    band = _band(anchor)
    if not anchor.expressible:
        return Verdict(anchor.key, role, band, "not expressible", None, 0,
                       note="the model cannot express it (docs/anchors.md)")
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    n = int(ok.sum())
    if n == 0:
        return Verdict(anchor.key, role, band, "nothing measured", None, 0,
                       note="no replicate gave a value")
    tail = (1.0 - level) / 2
    if kind == "sign":
        raw = float(np.mean(v[ok] == anchor.sign))
        hit = v[ok] == anchor.sign
        note = f"{n} replicates"
        if placebo is not None:
            p = np.asarray(placebo, dtype=np.float64)[ok]
            hit &= p != anchor.sign
            note += (f"; {raw:.0%} with the sign, {np.mean(p == anchor.sign):.0%} with it in "
                     f"the placebo {PLACEBO_LEAD} months earlier")
        right = float(np.mean(hit))
        wrong = float(np.mean(v[ok] == -anchor.sign))
        return Verdict(anchor.key, role, band, f"right {right:.0%}, wrong {wrong:.0%}",
                       right > 0.5, n, right, wrong, note=note)
    if kind == "share":
        m = np.ones_like(v) if offers is None else np.asarray(offers, dtype=np.float64)
        k = float(np.sum(v[ok] * m[ok]))
        total = float(np.sum(m[ok]))
        a, b = k + 0.5, total - k + 0.5  # Jeffreys' prior
        n_proj = int(projects or 1)
        dist = stats.betabinom(n_proj, a, b)
        lo, hi = dist.ppf(tail) / n_proj, dist.ppf(1 - tail) / n_proj
        med = k / total if total else math.nan
        covered = bool(lo <= anchor.high and hi >= anchor.low)
        return Verdict(anchor.key, role, band, f"{_fmt(lo)} to {_fmt(hi)}", covered, n, lo, hi,
                       med, note=f"{k:g} of {total:g} offers complete; share of "
                       f"{n_proj} projects")
    lo, med, hi = np.quantile(v[ok], [tail, 0.5, 1 - tail])
    covered = bool(lo <= anchor.high and hi >= anchor.low)
    inside = float(np.mean((v[ok] >= anchor.low) & (v[ok] <= anchor.high)))
    note = f"median {_fmt(med)}; {inside:.0%} of {n} replicates in the band"
    return Verdict(anchor.key, role, band, f"{_fmt(lo)} to {_fmt(hi)}", covered, n,
                   float(lo), float(hi), float(med), note)


def verdicts_frame(verdicts: list[Verdict]) -> pd.DataFrame:
    return pd.DataFrame([v.to_dict() for v in verdicts])


def summary_line(verdicts: list[Verdict], signs: set[str] | None = None) -> str:
    """'fitted: k of n covered; held out: k of n covered; signs: k of n right; not judged: ...'"""
    judged = [v for v in verdicts if v.covered is not None]
    parts = []
    for role in ("fitted", "held out"):
        mine = [v for v in judged if v.role == role]
        parts.append(f"{role}: {sum(v.covered for v in mine)} of {len(mine)} covered")
    sign_rows = [v for v in judged if v.band.endswith("(sign)")]
    right = sum(v.covered for v in sign_rows)
    parts.append(f"signs: {right} of {len(sign_rows)} right"
                 + (" (every sign right)" if sign_rows and right == len(sign_rows) else ""))
    left = [v.key for v in verdicts if v.covered is None]
    if left:
        parts.append(f"not judged: {', '.join(left)}")
    return "; ".join(parts)


def table_markdown(verdicts: list[Verdict]) -> str:
    """The table as docs/validation.md shows it."""
    lines = ["| anchor | role | band | model's 90% interval | covered | replicates, notes |",
             "|---|---|---|---|---|---|"]
    for v in verdicts:
        mark = {True: "covered", False: "**missed**", None: "not judged"}[v.covered]
        lines.append(f"| `{v.key}` | {v.role} | {v.band} | {v.model} | {mark} | {v.note} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- running

def _replicate_file(out: Path, experiment: str, seed: int) -> Path:
    return out / "replicates" / f"{experiment}_{seed}.json"


def _run_one(job: tuple[str, int, str, dict[str, int], dict[str, Any]]
             ) -> tuple[str, int, dict[str, float]]:
    experiment, seed, folder, steps, draw = job
    return experiment, seed, measure_replicate(experiment, seed, folder, steps, draw or None)


def posterior_plan(posteriors, folder: str | Path, needed, reps: int, seed: int
                   ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """Which posterior draw each replicate of each experiment takes.

    A calibration applies to the experiments run on the scenario it was calibrated on: the
    content hash of the scenario recorded in its ``calibration.json`` (``provenance.scenario
    .hash``, the resolved scenario: its ``extends`` chain and every parameter) must equal that
    of the scenario file an experiment runs, as it is now (before the experiment's own
    overrides). The hash, not the path: a path depends on the folder the calibration ran
    from, and a scenario (or a model default) changed since the calibration makes its draws
    those of another model. ``base`` (baseline.toml, the counterfactual of the net cost) takes
    the draws of cfc.toml's posterior (:data:`COUNTERFACTUAL`).

    The draws are picked as ``clustersim compare --posterior`` picks them
    (:func:`sim.studies.compare.posterior_draws`, from ``seed``): replicate ``r`` of every
    experiment of one scenario takes the same draw (and runs at the same seed), e.g. hebron
    and hebron_open; an ``interventions.NAME.FIELD`` applies to the experiments that have
    intervention NAME, and an experiment's own overrides win over a drawn value of the same
    field (:func:`_scenario`).

    Returns ``{experiment: [draw overrides of replicate r]}`` (the experiments with a
    posterior) and ``{scenario file: record}`` (:meth:`sim.io.posterior.Posterior.record`, with
    ``experiments`` and the draws' ``values``).

    Raises
    ------
    InputError
        Naming the calibration: no scenario recorded, a scenario no experiment runs (or one
        changed since the calibration), two posteriors for one scenario, a draw not valid for
        an experiment.
    """
    from sim.io.posterior import Posterior, load_posterior
    from sim.studies.compare import posterior_draws

    folder = Path(folder)
    files = sorted({EXPERIMENTS[e][0] for e in needed if e not in COUNTERFACTUAL})
    hashes = {f: load_scenario(folder / f).hash for f in files}
    chosen: dict[str, Posterior] = {}
    for post in posteriors:
        if not isinstance(post, Posterior):
            post = load_posterior(post)
        scen = post.provenance.get("scenario")
        if not isinstance(scen, dict) or not isinstance(scen.get("hash"), str):
            raise InputError(post.source, "provenance.scenario", "missing; allowed: the "
                             "calibration of a scenario (its calibration.json records the "
                             "scenario's path and hash)")
        match = [f for f in files if hashes[f] == scen["hash"]]
        if not match:
            named = Path(str(scen.get("path") or "")).name
            why = (f"calibrated on {named} as it was then (hash {scen['hash'][:12]}), not "
                   f"{named} as it is now ({hashes[named][:12]}): the scenario or a model "
                   "default changed since; recalibrate" if named in hashes else
                   f"calibrated on {scen.get('path')!r}, which none of these anchors' wirings "
                   "runs")
            raise InputError(post.source, "provenance.scenario", f"{why}; allowed: a "
                             f"calibration of {' or '.join(files)}")
        file = match[0]
        if file in chosen:
            raise InputError(post.source, "provenance.scenario", f"a second posterior for "
                             f"{file} (the first: {chosen[file].source}); allowed: one "
                             "posterior per scenario")
        chosen[file] = post
    plan: dict[str, list[dict[str, Any]]] = {}
    records: dict[str, dict[str, Any]] = {}
    for file, post in chosen.items():
        group = [e for e in needed if EXPERIMENTS[e][0] == file
                 and e not in COUNTERFACTUAL] + [e for e in needed
                                                 if COUNTERFACTUAL.get(e) == file]
        scenarios = [load_scenario(folder / EXPERIMENTS[e][0]) for e in group]
        own = [dict(EXPERIMENTS[e][1]) for e in group]
        draws, record = posterior_draws(post, scenarios, own, {}, int(reps), int(seed))
        for k, e in enumerate(group):
            plan[e] = [draws[r][k] for r in range(int(reps))]
        record["calibration_provenance"] = _no_machine_paths(record["calibration_provenance"])
        records[file] = {**record, "experiments": group}
    return plan, records


def _no_machine_paths(obj):
    """A calibration's provenance as recorded here: an absolute path (its scenario's, its
    calibration file's) shown relative to the working folder, or as its last two parts."""
    from sim.io.posterior import _shown

    if isinstance(obj, dict):
        return {k: _no_machine_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_no_machine_paths(v) for v in obj]
    if isinstance(obj, str) and Path(obj).is_absolute():
        return _shown(obj)
    return obj


def parameters_line(labels: dict[str, str]) -> str:
    """'Parameters: FILE: LABEL; ...', or 'Parameters: point estimate (...)' when no scenario
    took a posterior."""
    if set(labels.values()) <= {POINT_LABEL}:
        return f"Parameters: {POINT_LABEL} (every scenario at its own values)."
    return "Parameters: " + "; ".join(f"{f}: {lab}" for f, lab in labels.items()) + "."


def _label(record: dict[str, Any] | None) -> str:
    if record is None:
        return POINT_LABEL
    return (f"posterior of {record['calibration']} ({record['method']}, {record['n']:,} "
            f"draws; sha256 {record['sha256'][:12]}), one draw per replicate")


def _check_settings(out: Path, settings: dict[str, Any]) -> None:
    """Resume only the same validation: refuse a folder written with other settings."""
    path = out / "settings.json"
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != settings:
            changed = sorted(k for k in set(settings) | set(old)
                             if old.get(k) != settings.get(k))
            raise InputError(str(out), ", ".join(changed) or "settings",
                             "holds a validation with other settings; allowed: the same "
                             "--reps, --seed, --steps and --posterior (the same draws) to "
                             "resume, or another --out")
    elif out.exists() and any(out.iterdir()):
        raise InputError(str(out), "", "exists and is not a validation folder; allowed: a new "
                         "--out, or one written by clustersim validate --anchors")


def validate_anchors(anchors: dict[str, Anchor], out: str | Path, *, reps: int = 20,
                     seed: int = 0, workers: int = 1, steps: dict[str, int] | None = None,
                     folder: str | Path = "scenarios",
                     progress: Callable[[str], None] | None = None,
                     posteriors=()) -> list[Verdict]:
    """Run every experiment the anchors need over ``reps`` replicates (seeds ``seed`` to
    ``seed + reps - 1``), judge each anchor, and write the table to ``out``
    (``anchors.csv``, ``anchors.json`` with provenance). Replicates already in
    ``out/replicates`` (same settings) are not run again.

    ``posteriors``: calibration folders (or their ``calibration.json``, or
    :class:`sim.io.posterior.Posterior`), at most one per scenario file; each applies to the
    experiments run on its scenario (:func:`posterior_plan`). None: every run takes its
    scenario's values (a point estimate), exactly as before posteriors existed."""
    folder = Path(folder)
    steps = {**default_steps(folder), **(steps or {})}
    wired = [k for k, a in anchors.items() if a.expressible and k in WIRING]
    needed = sorted({WIRING[k].experiment for k in wired}
                    | ({"hebron"} if "hebron_area_c_output" in wired else set())
                    | ({"base"} if set(NET) & set(wired) else set()))
    scenarios = {e: _scenario(folder, e) for e in needed}
    plan, records = posterior_plan(posteriors, folder, needed, reps, seed)
    settings = {"format": FORMAT, "reps": int(reps), "seed": int(seed),
                "steps": {e: steps[e] for e in needed},
                "scenario_hash": {e: scenarios[e].hash for e in needed}}
    if records:  # the draws decide the runs: another posterior is another validation
        settings["posteriors"] = {f: {"sha256": r["sha256"], "method": r["method"],
                                      "draws": r["draws"], "experiments": r["experiments"]}
                                  for f, r in records.items()}
    out = Path(out)
    _check_settings(out, settings)
    (out / "replicates").mkdir(parents=True, exist_ok=True)
    write_marker(out, "validation")
    atomic_write(out / "settings.json", json.dumps(settings, indent=1, sort_keys=True) + "\n")
    values: dict[tuple[str, int], dict[str, float]] = {}
    jobs = []
    for e in needed:
        for s in range(seed, seed + reps):
            path = _replicate_file(out, e, s)
            if path.is_file():
                values[e, s] = json.loads(path.read_text(encoding="utf-8"))
            else:
                jobs.append((e, s, str(folder), steps,
                             plan[e][s - seed] if e in plan else {}))

    def keep(result: tuple[str, int, dict[str, float]]) -> None:
        e, s, vals = result
        values[e, s] = vals
        atomic_write(_replicate_file(out, e, s),
                     json.dumps({k: (None if not math.isfinite(x) else x)
                                 for k, x in vals.items()}) + "\n")
        if progress is not None:
            progress(f"{e} seed {s} done ({len(values)} of {len(needed) * reps})")

    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=int(workers)) as pool:
            for result in pool.map(_run_one, jobs):
                keep(result)
    else:
        for job in jobs:
            keep(_run_one(job))
    verdicts = _verdicts(anchors, values, range(seed, seed + reps))
    labels = {f: _label(records.get(f)) for f in dict.fromkeys(
        EXPERIMENTS[e][0] for e in needed if e not in COUNTERFACTUAL)}
    prov = provenance(seed=seed, reps=reps, steps_by_experiment=settings["steps"],
                      scenarios={e: {"file": EXPERIMENTS[e][0],
                                     "overrides": EXPERIMENTS[e][1], "hash": scenarios[e].hash}
                                 for e in needed},
                      seeds=list(range(seed, seed + reps)), anchors=len(anchors),
                      parameters=labels,
                      **({"posteriors": records} if records else {}))
    frame = verdicts_frame(verdicts)
    atomic_write(out / "anchors.csv", frame.to_csv(index=False))
    atomic_write(out / "anchors.json", json.dumps(
        {"provenance": prov, "summary": summary_line(verdicts),
         "anchors": [v.to_dict() for v in verdicts]}, indent=1, default=str) + "\n")
    return verdicts


def _get(values: dict[tuple[str, int], dict[str, float]], e: str, seeds, key: str) -> np.ndarray:
    return np.array([np.nan if values[e, s].get(key) is None else values[e, s][key]
                     for s in seeds], dtype=np.float64)


def _verdicts(anchors: dict[str, Anchor], values, seeds) -> list[Verdict]:
    out = []
    for key, a in anchors.items():
        wire = WIRING.get(key)
        if wire is None or not a.expressible:
            if a.expressible:
                out.append(Verdict(key, "fitted" if a.role == "fit" else "held out", _band(a),
                                   "not wired", None, 0, note="no scenario expresses it yet"))
            else:
                out.append(judge(a, np.array([])))
            continue
        if key == "hebron_area_c_output":
            v = (_get(values, "hebron_open", seeds, "hebron_open.output")
                 / _get(values, "hebron", seeds, "hebron.output"))
            out.append(judge(a, v))
            continue
        v = _get(values, wire.experiment, seeds, key)
        if wire.kind == "share":
            offers = _get(values, wire.experiment, seeds, f"{key}.offers")
            out.append(judge(a, v, kind="share", offers=offers, projects=PROJECTS.get(key)))
        elif wire.kind == "sign":
            placebo = _get(values, wire.experiment, seeds, f"{key}.placebo")
            out.append(judge(a, v, kind="sign", placebo=placebo))
        else:
            verdict = judge(a, v, kind=wire.kind)
            if key in NET and verdict.n:
                verdict = replace(verdict, note=verdict.note + "; " + _net(values, NET[key],
                                                                         seeds))
            out.append(verdict)
    return out


def _net(values, experiment: str, seeds) -> str:
    """The net cost per extra job: mean public spending over the mean paired difference in
    employment from baseline.toml at the same seeds (a ratio of means, as a comparison's)."""
    jobs = (_get(values, experiment, seeds, f"{experiment}.employment")
            - _get(values, "base", seeds, "base.employment"))
    spent = _get(values, experiment, seeds, f"{experiment}.spending")
    gain = float(np.nanmean(jobs))
    if not gain > 0:
        return f"net: no job gain against baseline.toml (mean {gain:+.1f} jobs)"
    return (f"net {_fmt(float(np.nanmean(spent)) / gain * RUPEES_PER_MODEL_MONEY)} per extra "
            f"job against baseline.toml (mean {gain:+.1f} jobs)")
