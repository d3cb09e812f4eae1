"""Replicated comparison of scenarios: an experiment on the sweep runner and store.

The question a policy analyst asks: what does an intervention do for this cluster compared with
another, or with nothing, and at what public cost? A comparison is an experiment whose one
factor is the list of scenario files (:func:`sim.studies.sweep.experiment.comparison_experiment`),
crossed with replicates: replicate ``r`` of every scenario gets the same seed (common random
numbers), so differences from the base scenario are paired and, for identical scenarios,
exactly zero. It runs on the sweep runner (:func:`sim.studies.sweep.runner.run_sweep`: in this
process, on local worker processes or on a Dask cluster) into a sweep directory, so that it resumes
after any interruption and ``clustersim results DIR --sql ...`` queries it.

Everything reported is computed from that directory (:func:`load_comparison`): per scenario
and outcome the mean and t-based 95% interval, the paired difference from the base with its
interval and p-value (:func:`summarise`), the cost per extra job and per firm kept
(:func:`public_costs`, Fieller intervals, :mod:`sim.studies.costeff`), a ranking with its robustness
over resampled replicates (:func:`ranking`) and the report (:mod:`sim.studies.report`).

``--reps auto`` (:func:`compare` with ``reps="auto"``) adds replicates until the paired 95%
interval of a chosen outcome is narrower than a stated width for every alternative, or a cap
is reached.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.core.errors import InputError
from sim.core.fields import names as _quoted
from sim.core.fields import suggest
from sim.io.limits import check_design
from sim.io.output import atomic_write, claims_out
from sim.io.provenance import git_commit, provenance
from sim.io.scenario import load_scenario
from sim.measure import outputs
from sim.measure.outputs import final_names
from sim.studies import contrasts, report, why
from sim.studies.costeff import (
    cost_rows,
    cost_units,
    measure_text,
    measured_unit,
    unit_scales,
)
from sim.studies.paired import (
    FIGURE_OUTCOMES,
    LEVEL,
    OUTCOMES,
    SERIES_KEPT,
    effects_over_time,
    measured,
    paired_difference,
    t_interval,
)
from sim.studies.posterior_mode import parameters_label, posterior_answer, posterior_draws
from sim.studies.replicates import AUTO_CAP, AUTO_START, replicates_rule, until_narrow
from sim.studies.sweep.comparison import comparison_experiment
from sim.studies.sweep.experiment import Policy
from sim.studies.sweep.runner import run_sweep
from sim.studies.sweep.store import SweepStore

__all__ = [
    "OUTCOMES",
    "FIGURE_OUTCOMES",
    "SERIES_KEPT",
    "Comparison",
    "t_interval",
    "paired_difference",
    "summarise",
    "public_costs",
    "incremental_costs",
    "shock_effects",
    "at_horizon",
    "headline_outcomes",
    "Analysis",
    "analyse",
    "ranking",
    "load_comparison",
    "write_comparison",
    "apply_overrides",
    "compare",
    "explain",
]

#: Replicates ``--reps auto`` starts with, and its default cap.


@dataclass
class Comparison:
    """The replicates of a comparison, in a fixed order (scenario, then replicate).

    Attributes
    ----------
    labels : list of str
        One unique label per scenario; the first is the base.
    scenarios : list of Scenario
    runs : DataFrame
        One row per replicate: ``scenario``, ``replicate``, ``seed`` and every final outcome.
    series : DataFrame
        Every per-step output of every replicate, with ``scenario``, ``replicate``, ``seed``.
    seeds : list of int
        Replicate ``i`` of every scenario used ``seeds[i]``.
    """

    labels: list[str]
    scenarios: list[Any]
    steps: int
    seed: int
    seeds: list[int]
    runs: pd.DataFrame
    series: pd.DataFrame
    overrides: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    wall_time_s: float = 0.0
    mode: str = ""
    #: How the replicates were chosen (``--reps auto``): target, width, cap, widths reached.
    rule: dict[str, Any] = field(default_factory=dict)
    #: The outcome the ranking and the decision summary are about.
    target: str = "employment"
    #: ``--posterior``: the record of the posterior the replicates drew their parameters from
    #: (:meth:`sim.io.posterior.Posterior.record`, with ``values``); empty in point mode.
    posterior: dict[str, Any] = field(default_factory=dict)

    @property
    def draws(self) -> pd.DataFrame:
        """``--posterior``: per replicate (index), the values of its draw (one column per
        parameter) and ``draw``, the draw's number; empty in point mode."""
        post = self.posterior
        if not post:
            return pd.DataFrame()
        n = self.reps
        df = pd.DataFrame(post["values"][:n], columns=post["parameters"])
        df.insert(0, "draw", post["draws"][:n])
        df.index.name = "replicate"
        return df

    @property
    def base(self) -> str:
        return self.labels[0]

    @property
    def reps(self) -> int:
        return len(self.seeds)


# -- summaries ------------------------------------------------------------------------------------
def summarise(comp: Comparison, outcomes: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Per scenario and outcome: mean, sd, 95% CI; for non-base scenarios the paired difference
    from the base with its 95% CI, p-value and ``diff_q``, the p-value adjusted for testing
    all of the alternative's outcomes at once (Benjamini-Hochberg, false discovery rate). One
    row per (scenario, outcome). ``outcomes`` default: :data:`OUTCOMES`, the purpose outcomes
    and the by-sector and by-town breakdowns in the runs."""
    if outcomes is None:
        outcomes = outcomes_of(comp)
    runs = comp.runs
    base = runs[runs["scenario"] == comp.base].set_index("replicate")
    rows = []
    for label in comp.labels:
        mine = runs[runs["scenario"] == label].set_index("replicate")
        for name in outcomes:
            if name not in mine:
                continue
            row: dict[str, Any] = {"scenario": label, "outcome": name}
            row.update(t_interval(mine[name].to_numpy()))
            if label != comp.base and name in base:
                a, b = mine[name].align(base[name], join="inner")
                d = paired_difference(a.to_numpy(), b.to_numpy())
                row.update({f"diff_{k}": v for k, v in d.items()})
            else:
                row.update({f"diff_{k}": float("nan")
                            for k in ("n", "mean", "sd", "ci_low", "ci_high", "p")})
            rows.append(row)
    df = pd.DataFrame(rows)
    df.insert(2, "base", comp.base)
    df["level"] = LEVEL
    df["diff_q"] = float("nan")
    for label in comp.labels[1:]:  # Benjamini-Hochberg over each alternative's outcomes
        mine = (df["scenario"] == label) & np.isfinite(df["diff_p"])
        if mine.any():
            df.loc[mine, "diff_q"] = stats.false_discovery_control(df.loc[mine, "diff_p"])
    return df


def outcomes_of(comp: Comparison) -> tuple[str, ...]:
    """The outcomes a comparison summarises: :data:`OUTCOMES`, then the breakdowns."""
    extra = [c for c in comp.runs.columns
             if c.startswith(("employment_sector_", "firms_sector_", "employment_town_",
                              "firms_town_"))]
    purpose = [name for name, _ in cost_units(comp)
               if name in comp.runs and name not in OUTCOMES]
    return (*OUTCOMES, *purpose, *extra)


def public_costs(comp: Comparison, units=None, horizon: int | None = None,
                 discount: float | None = None) -> pd.DataFrame:
    """Extra public spending per extra unit of each outcome, every funded alternative against
    the base: one row per (alternative, outcome), as :func:`sim.studies.costeff.cost_rows`.

    ``units``: (outcome, unit label) pairs, default :func:`sim.studies.costeff.cost_units`
    (jobs, firms in business, then the scenarios' purpose outcomes). An alternative that is a
    shock to another scenario (:func:`sim.studies.contrasts.shocks_of`) is not a funded policy
    and is left out (:func:`shock_effects` reports it). For each outcome what
    :func:`sim.studies.costeff.classify` says: a cost per unit with its Fieller interval only
    when the gain is significant, "dominates"/"dominated" where the signs make a ratio
    meaningless, "no significant gain" otherwise.
    """
    units = cost_units(comp) if units is None else list(units)
    shocks = contrasts.shocks_of(comp.labels, comp.scenarios) if comp.scenarios else {}
    rows = [row for label in comp.labels[1:] if label not in shocks
            for row in cost_rows(comp, label, comp.base, units, horizon, discount)]
    return _cost_frame(rows)


def incremental_costs(comp: Comparison, units=None, horizon: int | None = None,
                      discount: float | None = None) -> pd.DataFrame:
    """What the dearer of two scenarios that differ only in funding buys over the other
    (:func:`sim.studies.contrasts.funding_pairs`): the paired difference of their public
    spending and of each outcome, replicate by replicate, and the incremental cost per unit,
    as :func:`public_costs` (``against`` is the cheaper one), with a ``change`` column naming
    the funding fields that differ."""
    units = cost_units(comp) if units is None else list(units)
    rows = []
    pairs = contrasts.funding_pairs(comp.labels, comp.scenarios) if comp.scenarios else []
    for a, b, changed in pairs:
        spend = measured(comp, "public_spending_total", horizon, discount)
        if spend is not None and a in spend and b in spend \
                and spend[a].mean() < spend[b].mean():
            a, b = b, a
            changed = [(n, f, y, x) for n, f, x, y in changed]
        change = "; ".join(f"{n}.{f} {_value(y)} \u2192 {_value(x)}"
                           for n, f, x, y in changed)
        rows += [{**row, "change": change}
                 for row in cost_rows(comp, a, b, units, horizon, discount)]
    return _cost_frame(rows)


def _value(v: Any) -> str:
    """A field's value as a scenario file writes it (0.7, not 0.700)."""
    return f"{v:,g}" if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


def _cost_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if rows:
        return pd.DataFrame(rows)
    return pd.DataFrame(columns=["scenario", "against", "outcome", "unit", "measure",
                                 "d_public", "status", "gain", "ratio"])


def shock_effects(comp: Comparison, horizon: int | None = None,
                  discount: float | None = None) -> pd.DataFrame:
    """For each alternative that is a shock to another scenario: the paired difference from
    that scenario of public spending and of each cost outcome (jobs, firms, purpose), one row
    per (alternative, outcome): ``scenario``, ``against``, ``shocks``, ``outcome``, ``mean``,
    ``ci_low``, ``ci_high``, ``p``, ``n``."""
    shocks = contrasts.shocks_of(comp.labels, comp.scenarios) if comp.scenarios else {}
    units = [("public_spending_total", "money"), *cost_units(comp)]
    scales = unit_scales(comp)
    rows = []
    for label, (ref, which) in shocks.items():
        for name, unit in units:
            values = measured(comp, name, horizon, discount)
            if values is None or label not in values or ref not in values:
                continue
            d = paired_difference(values[label] * scales.get(name, 1.0),
                                  values[ref] * scales.get(name, 1.0))
            rows.append({"scenario": label, "against": ref, "shocks": ", ".join(which),
                         "outcome": name, "unit": measured_unit(unit, name, discount), **d})
    return pd.DataFrame(rows, columns=["scenario", "against", "shocks", "outcome", "unit", "n",
                                       "mean", "sd", "ci_low", "ci_high", "p"])


def at_horizon(comp: Comparison, horizon: int | None) -> Comparison:
    """The comparison as seen in month ``horizon``: every outcome with a monthly series takes
    its value in that month, outcomes recorded only at the end are left out. The comparison
    itself when ``horizon`` is None or the end."""
    if horizon is None or horizon >= comp.steps:
        return comp
    s = comp.series[comp.series["step"] == horizon]
    keep = [c for c in s.columns if c not in ("run_id", "point", "step")]
    runs = s[keep].merge(comp.runs[["scenario", "replicate", "seed"]],
                         on=["scenario", "replicate"], how="left")
    return dataclasses.replace(comp, runs=runs.reset_index(drop=True))


def headline_outcomes(comp: Comparison) -> list[str]:
    """The outcomes drawn over time: :data:`FIGURE_OUTCOMES`, the target and the purpose
    outcomes that have a monthly series."""
    names = [*FIGURE_OUTCOMES, comp.target, *(n for n, _ in cost_units(comp))]
    return [n for n in dict.fromkeys(names) if n in comp.series]


@dataclass
class Analysis:
    """Everything the report shows, computed from a comparison."""

    summary: pd.DataFrame
    costs: pd.DataFrame
    incremental: pd.DataFrame
    shocks: pd.DataFrame
    rank: pd.DataFrame
    over_time: pd.DataFrame
    horizon: int | None = None
    discount: float | None = None
    measure: str = ""
    run: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=dict)
    #: Displacement terms (:func:`sim.studies.why.displacement`) and, with ``--why``, the
    #: effects with one mechanism at a time at its limit (:func:`explain`).
    displacement: pd.DataFrame = field(default_factory=pd.DataFrame)
    mechanisms: pd.DataFrame | None = None
    #: ``--posterior``: P(best) per scenario (:func:`sim.studies.paired.p_best`) and the
    #: variance shares of each alternative's effect (:func:`parameter_shares`).
    best: pd.DataFrame = field(default_factory=pd.DataFrame)
    shares: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Chained policies split by stage (:func:`sim.studies.why.stage_effects`).
    stages: pd.DataFrame = field(default_factory=pd.DataFrame)
    why_lines: list[str] = field(default_factory=list)
    why_html: str = ""


def analyse(comp: Comparison, horizon: int | None = None,
            discount: float | None = None) -> Analysis:
    """The summary, cost tables, shocks, ranking and effects over time of ``comp``, with
    effects and costs measured in month ``horizon`` (default the end) or, with ``discount``,
    as discounted sums up to it (:func:`sim.studies.paired.measured`)."""
    check_measure(horizon, discount, comp.steps)
    seen = at_horizon(comp, horizon)
    summary = summarise(seen)
    shocks = shock_effects(comp, horizon, discount)
    skip = set(shocks["scenario"])
    disp = why.displacement(comp, [lab for lab in comp.labels[1:] if lab not in skip])
    pairs = why.pairs_to_explain(seen, summary, skip=skip)
    stages = why.stage_effects(seen)
    best, shares = posterior_answer(seen)
    return Analysis(best=best, shares=shares, summary=summary,
                    costs=public_costs(comp, None, horizon, discount),
                    incremental=incremental_costs(comp, None, horizon, discount),
                    shocks=shocks, rank=ranking(seen),
                    over_time=effects_over_time(comp, headline_outcomes(comp)),
                    horizon=horizon, discount=discount,
                    measure=measure_text(horizon, discount, comp.steps), displacement=disp,
                    stages=stages, why_lines=why.why_lines(comp, None, disp, pairs, stages),
                    why_html=why.why_html(None, disp, ran=False, stages=stages))


def explain(comp: Comparison, paths, out: str | Path, *, workers: int | None = None,
            scheduler: str | None = None, progress: bool = True,
            limits: dict[str, dict[str, float]] | None = None,
            posterior=None) -> pd.DataFrame:
    """``--why``: the comparison's significant effects (:func:`sim.studies.why.pairs_to_explain`)
    rerun with one mechanism at a time at its textbook limit (:data:`sim.studies.why.LIMITS`):
    the base and the alternatives concerned, the same replicates, seeds and ``--set``
    overrides, each limit a comparison of its own in ``out/why/NAME`` on the sweep runner
    (resumable like any comparison). Returns :func:`sim.studies.why.mechanism_effects`."""
    limits = why.LIMITS if limits is None else limits
    shocks = contrasts.shocks_of(comp.labels, comp.scenarios) if comp.scenarios else {}
    pairs = why.pairs_to_explain(comp, summarise(comp), skip=shocks)
    if not pairs:
        return why.mechanism_effects(comp, {}, [])
    wanted = {label for label, _ in pairs}
    chosen = [p for p, label in zip(paths, comp.labels, strict=True)
              if label == comp.base or label in wanted]
    variants = {}
    for name, overrides in limits.items():
        exp = comparison_of(chosen, reps=comp.reps, steps=comp.steps, seed=comp.seed,
                            overrides={**comp.overrides, **overrides}, prefix=f"why, {name}: ",
                            titles=True, posterior=posterior, fixed_wins=True)
        folder = Path(out) / "why" / name.replace(" ", "_")
        SweepStore(folder).make_room(exp, True, "comparison")  # derived: replaced if stale
        run_sweep(exp, folder, workers=workers, scheduler=scheduler, progress=progress)
        variants[name] = load_comparison(folder)
    return why.mechanism_effects(comp, variants, pairs)


def check_measure(horizon: int | None, discount: float | None, steps: int) -> None:
    """Refuse a ``--horizon`` outside the run or a ``--discount`` outside [0, 1]."""
    if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, int)
                                or not 1 <= horizon <= steps):
        raise InputError("--horizon", "", f"got {horizon}; allowed: a month from 1 to {steps} "
                         "(the run's length)")
    if discount is not None and not (isinstance(discount, int | float)
                                     and 0.0 <= discount <= 1.0):
        raise InputError("--discount", "", f"got {discount}; allowed: an annual rate from 0 "
                         "to 1 (e.g. 0.05 for 5% a year)")


def ranking(comp: Comparison, target: str | None = None, n_boot: int = 2000) -> pd.DataFrame:
    """Scenarios ranked by the mean of ``target`` (higher is better when the outcome's declared
    direction is +1, lower when -1), with how robust the ranking is over the replicates.

    Columns: ``rank``, ``scenario``, ``mean``, the paired difference from the base with its
    interval, ``p_best`` (the share of bootstrap resamples of the replicates, the same
    replicates for every scenario, in which the scenario ranks first), ``wins_vs_base`` (the
    share of replicates in which it does better than the base with the same seed) and
    ``settled`` (whether its paired difference from the next-ranked scenario excludes zero).
    The bootstrap's generator derives from the comparison's seed.
    """
    target = target or comp.target
    sign = outputs.direction(target) or 1
    runs = comp.runs
    wide = runs.pivot(index="replicate", columns="scenario", values=target)[comp.labels]
    wide = wide.dropna()
    x = wide.to_numpy(dtype=np.float64) * sign
    n = x.shape[0]
    order = np.argsort(-x.mean(axis=0), kind="stable")
    rng = np.random.default_rng(np.random.SeedSequence(comp.seed, spawn_key=(3,)))
    best = np.zeros(len(comp.labels))
    if n:
        idx = rng.integers(0, n, size=(n_boot, n))
        means = x[idx].mean(axis=1)  # (n_boot, scenarios)
        top = means.max(axis=1, keepdims=True)
        ties = (means == top)
        best = (ties / ties.sum(axis=1, keepdims=True)).mean(axis=0)
    rows = []
    for k, j in enumerate(order):
        label = comp.labels[j]
        d = paired_difference(wide[label], wide[comp.base])
        nxt = order[k + 1] if k + 1 < len(order) else None
        settled = float("nan")
        if nxt is not None:
            dn = paired_difference(x[:, j], x[:, nxt])
            settled = bool(np.isfinite(dn["ci_low"]) and dn["ci_low"] > 0)
        rows.append({"rank": k + 1, "scenario": label, "outcome": target,
                     "mean": float(wide[label].mean()) if n else float("nan"),
                     "diff_mean": d["mean"], "diff_ci_low": d["ci_low"],
                     "diff_ci_high": d["ci_high"], "p_best": float(best[j]),
                     "wins_vs_base": (float(np.mean(x[:, j] > x[:, comp.labels.index(
                         comp.base)])) if n and label != comp.base else float("nan")),
                     "settled": settled})
    return pd.DataFrame(rows)


# -- the pipeline ---------------------------------------------------------------------------------
def _unique_labels(scenarios, titles: bool = False) -> list[str]:
    """Each scenario's name (with ``titles``, its own title, or its name when it has none),
    made unique with ``#2``..."""
    labels: list[str] = []
    for sc in scenarios:
        own = (sc.meta.get("title") if titles else None) or sc.name
        label, k = own, 2
        while label in labels:
            label, k = f"{own}#{k}", k + 1
        labels.append(label)
    return labels


def split_overrides(scenarios, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``--set`` overrides that apply to each scenario (see :func:`apply_overrides`)."""
    names = [{iv.name for iv in sc.interventions} for sc in scenarios]
    for key in overrides:
        if key.startswith("interventions.") and key.count(".") >= 2:
            name = key.split(".")[1]
            if not any(name in n for n in names):
                every = sorted(set().union(*names))
                raise InputError("--set", key, f"no scenario has an intervention named "
                                 f"{name!r}{suggest(name, every)}; allowed: {_quoted(every)}")
    return [{k: v for k, v in overrides.items()
             if not (k.startswith("interventions.") and k.count(".") >= 2
                     and k.split(".")[1] not in mine)} for mine in names]


def comparison_of(paths, *, reps: int, steps: int | None = None, seed: int = 0,
                  overrides: dict[str, Any] | None = None, rule: dict[str, Any] | None = None,
                  futures=(), uncertain=(), prefix: str = "", series=SERIES_KEPT,
                  titles: bool = False, posterior=None, fixed_wins: bool = False):
    """Load and check the scenarios of a comparison; returns its experiment, one
    :class:`~sim.studies.sweep.experiment.Policy` per scenario
    (:func:`sim.studies.sweep.experiment.comparison_experiment`; ``futures`` and ``uncertain``
    make it a robustness study, named ``prefix`` and the labels; with ``titles`` the labels
    are the scenarios' titles, as a comparison's report shows them). With ``posterior`` (a
    :class:`sim.io.posterior.Posterior`) replicate ``r`` of every scenario (in every future)
    takes the same posterior draw (:func:`posterior_draws`). Writes nothing, builds no
    model."""
    scenarios = [load_scenario(p) for p in paths]
    if len(scenarios) < 2:
        raise InputError("compare", "", "needs a base scenario and at least one alternative")
    overrides = dict(overrides or {})
    own = split_overrides(scenarios, overrides)
    checked = [sc.with_overrides(o) if o else sc for sc, o in zip(scenarios, own, strict=True)]
    if steps is None:
        horizons = {sc.steps for sc in checked}
        if len(horizons) > 1:
            which = ", ".join(f"{sc.name}: {sc.steps}" for sc in checked)
            raise InputError("--steps", "", f"the scenarios' own horizons differ ({which}); "
                             "allowed: give --steps so that all run the same months")
        steps = checked[0].steps
    if steps < 1:
        raise InputError("--steps", "", f"got {steps}; allowed: an integer >= 1")
    check_design(len(scenarios) * reps * max(1, len(futures)), steps, len(series),
                 source="--reps", held=bool(series))  # sim.io.limits: before it is built
    labels = _unique_labels(scenarios, titles)
    policies = [Policy(label=lab, path=str(Path(sc.path).resolve()), hash=sc.hash,
                       overrides=o, final=final_names(sc.world))
                for lab, sc, o in zip(labels, scenarios, own, strict=True)]
    for i, f in enumerate(futures):  # every future must be a valid parameter set
        try:
            scenarios[0].with_overrides(f)
        except InputError as exc:
            raise InputError("--uncertain", "", f"future {i} is not valid: {exc.message}") \
                from None
    draws, record = ((), None) if posterior is None else posterior_draws(
        posterior, scenarios, own, overrides, reps * max(1, len(futures)), seed, uncertain,
        fixed_wins)
    versus = " vs ".join(labels)
    return comparison_experiment(policies, replicates=reps, seed=seed, steps=steps,
                                 series=series, name=prefix + versus, overrides=overrides,
                                 rule=rule, code=git_commit(), futures=futures,
                                 uncertain=uncertain, draws=draws, posterior=record)


def load_comparison(out: str | Path, replicates: int | None = None) -> Comparison:
    """A comparison read back from its sweep directory ``out`` (finished runs only; with
    ``replicates``, only the replicates below it)."""
    store = SweepStore(out)
    meta = store.metadata()
    design = meta["resolved"]["design"]
    levels = design.get("scenarios")
    if not levels:
        raise InputError(str(out), "", "not a comparison (a sweep of another kind); run "
                         "`clustersim compare` into a new folder")
    labels = [lv["label"] for lv in levels]
    runs = store.read_runs()
    runs = runs[runs["status"] == "ok"]
    if replicates is not None:
        runs = runs[runs["replicate"] < replicates]
    keep = [c for c in runs.columns if c not in ("id", "point", "status", "error", "traceback",
                                                  "wall_time")]
    ids = list(runs["id"])
    runs = runs[["id", "point", *keep]].reset_index(drop=True)
    files = [store.series_dir / f"{i}.parquet" for i in ids]
    files = [f for f in files if f.is_file()]
    if files:
        series = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        series.insert(0, "scenario", [labels[p] for p in series["point"]])
    else:
        series = pd.DataFrame(columns=["scenario", "run_id", "point", "replicate", "step"])
    seeds = (runs[runs["point"] == 0].sort_values("replicate")["seed"].astype(int).tolist())
    scenarios = []
    for lv in levels:
        try:
            sc = load_scenario(lv["path"])
            scenarios.append(sc.with_overrides(lv["overrides"]) if lv["overrides"] else sc)
        except InputError:
            scenarios.append(None)  # moved or changed since: the report says so
    resolved = meta["resolved"]
    return Comparison(labels=labels, scenarios=scenarios, steps=int(resolved["steps"]),
                      seed=int(design["seed"]), seeds=seeds,
                      runs=runs.drop(columns=["id", "point"]), series=series,
                      overrides=dict(resolved.get("overrides") or {}),
                      rule=dict(design.get("replicates_rule") or {}),
                      posterior=dict(design.get("posterior") or {}))


def write_comparison(comp: Comparison, out: str | Path, horizon: int | None = None,
                     discount: float | None = None,
                     mechanisms: pd.DataFrame | None = None) -> Path:
    """Write the analysis of a comparison (:func:`analyse`) into its sweep directory ``out``;
    returns the path of ``report.html``.

    Files: ``summary.csv`` (per scenario and outcome: mean, sd, CI, paired difference from the
    base with CI, p and the multiplicity-adjusted q), ``costs.csv`` (cost per extra unit of
    each outcome, every funded alternative against the base), ``incremental.csv`` (what the
    dearer of two alternatives that differ only in funding buys over the cheaper),
    ``shocks.csv`` (alternatives that are a shock to another scenario), ``ranking.csv``,
    ``effects_over_time.csv`` and ``figures/*.png`` (paired effects month by month),
    ``comparison.json`` (provenance and the decision summary) and ``report.html``
    (self-contained), each written to a temporary name and moved into place; the runs
    themselves are the sweep's (``runs.parquet``, ``series/``, ``design.parquet``), queryable
    with ``clustersim results``.
    """
    out = Path(out)
    an = analyse(comp, horizon, discount)
    if mechanisms is not None:
        an.mechanisms = mechanisms
        an.why_lines = why.why_lines(comp, mechanisms, an.displacement, stages=an.stages)
        an.why_html = why.why_html(mechanisms, an.displacement, ran=True, stages=an.stages)
    prov = provenance(steps=comp.steps, overrides=comp.overrides,
                      wall_time_s=comp.wall_time_s)
    scen = [{"label": lab, "name": getattr(sc, "name", lab),
             "file": report.shown_path(getattr(sc, "path", None)),
             "hash": getattr(sc, "hash", None)}
            for lab, sc in zip(comp.labels, comp.scenarios, strict=True)]
    an.run = {**prov, "seed": comp.seed, "reps": comp.reps, "base": comp.base,
              "seeds": comp.seeds, "scenarios": scen,
              "scenario_hash": {s["label"]: s["hash"] for s in scen},
              "workers": comp.workers, "mode": comp.mode, "level": LEVEL,
              "target": comp.target, "replicates_rule": comp.rule,
              "horizon": horizon or comp.steps, "discount": discount,
              "measure": an.measure,
              "seeding": "common random numbers: replicate r of every scenario uses the same "
                         "seed (sim.studies.sweep.experiment.run_seed, seeding 'common')",
              "parameters": parameters_label(comp)}
    if comp.posterior:
        an.run["posterior"] = {k: v for k, v in comp.posterior.items() if k != "values"}
        an.run["posterior"]["draws"] = comp.posterior["draws"][:comp.reps]
        an.run["posterior"]["reused"] = (len(set(an.run["posterior"]["draws"]))
                                         < comp.reps)
    an.decision = report.decision_summary(comp, an)
    an.run["decision"] = an.decision
    if mechanisms is not None:
        atomic_write(out / "why.csv", mechanisms.to_csv(index=False))
    for name, frame in (("summary", an.summary), ("costs", an.costs), ("why_displacement",
                                                                        an.displacement),
                        ("why_stages", an.stages),
                        ("incremental", an.incremental), ("shocks", an.shocks),
                        ("ranking", an.rank), ("effects_over_time", an.over_time)):
        atomic_write(out / f"{name}.csv", frame.to_csv(index=False))
    if comp.posterior:
        for name, frame in (("p_best", an.best), ("variance_shares", an.shares)):
            atomic_write(out / f"{name}.csv", frame.to_csv(index=False))
        atomic_write(out / "posterior_draws_used.csv", comp.draws.to_csv())
    figures = report.effect_figures(comp, headline_outcomes(comp), horizon)
    (out / "figures").mkdir(exist_ok=True)
    for name, png in figures.items():
        atomic_write(out / "figures" / f"{name}.png", png)
    html = report.render_html(comp, an, figures)
    atomic_write(out / "comparison.json", json.dumps(an.run, indent=2, default=str) + "\n")
    atomic_write(out / "report.html", html)
    return out / "report.html"


def apply_overrides(scenarios, overrides: dict[str, Any]) -> list[Any]:
    """Apply ``--set`` overrides to every scenario of a comparison.

    Parameter overrides apply to all; an ``interventions.NAME.FIELD`` override applies to the
    scenarios that have an intervention NAME, and at least one must have it.
    """
    return [sc.with_overrides(o) if o else sc
            for sc, o in zip(scenarios, split_overrides(scenarios, overrides), strict=True)]


@dataclass
class CompareResult:
    """What :func:`compare` did: the report, the comparison, and how the runs went."""

    report: Path
    comparison: Comparison
    ran: int
    already: int
    failed: int
    lost: int
    mode: str

    @property
    def complete(self) -> bool:
        return self.failed == 0 and self.lost == 0


@claims_out  # held until the report's last file is written
def compare(paths, *, reps: int | str, out: str | Path, steps: int | None = None,
            seed: int = 0, workers: int | None = None, scheduler: str | None = None,
            overrides: dict[str, Any] | None = None, force: bool = False,
            progress: bool = True, target: str = "employment", width: float | None = None,
            max_reps: int = AUTO_CAP, horizon: int | None = None,
            discount: float | None = None, explain_effects: bool = False,
            posterior=None) -> CompareResult:
    """Load, run (or resume) and report a comparison: what ``clustersim compare`` does.

    Parameters
    ----------
    paths : sequence of paths
        Scenario files; the first is the base.
    reps : int or "auto"
        Replicates per scenario (>= 2); ``"auto"``: from :data:`AUTO_START` up, until the paired
        95% interval of ``target`` is at most ``width`` wide for every alternative, or
        ``max_reps`` is reached.
    out : path
        The comparison's folder (a sweep directory): created, or resumed if it holds the same
        comparison. With ``force``, a folder holding anything else is replaced.
    workers, scheduler
        As for :func:`sim.studies.sweep.runner.run_sweep`.
    target : str
        The outcome the ranking, the decision summary and ``--reps auto`` are about.
    horizon, discount
        Effects and costs measured in month ``horizon`` (default the end) or, with an annual
        ``discount`` rate, as discounted sums of the monthly streams up to it
        (:func:`sim.studies.paired.measured`).
    explain_effects : bool
        ``--why``: rerun the significant effects with one mechanism at a time at its limit
        (:func:`explain`), and say in the report what carries each.
    posterior : path or Posterior, optional
        ``--posterior``: a calibration folder (or its ``calibration.json``,
        :func:`sim.io.posterior.load_posterior`); replicate ``r`` of every scenario takes the
        same posterior draw (:func:`posterior_draws`), so effects include parameter
        uncertainty and the report gives P(best) and variance shares.
    """
    from sim.io.posterior import Posterior, load_posterior

    auto = reps == "auto"
    rule = replicates_rule(reps, workers, target, width, max_reps)
    if posterior is not None and not isinstance(posterior, Posterior):
        posterior = load_posterior(posterior)
    exp = comparison_of(paths, reps=max_reps if auto else reps, steps=steps, seed=seed,
                        overrides=overrides, rule=rule, titles=True, posterior=posterior)
    check_measure(horizon, discount, exp.steps)
    out = Path(out)
    SweepStore(out).make_room(exp, force, "comparison")

    def run(limit):
        return run_sweep(exp, out, workers=workers, scheduler=scheduler, progress=progress,
                         replicates=limit)

    totals = {"ran": 0, "already": 0, "failed": 0, "lost": 0, "wall": 0.0}

    def account(summary):
        totals["ran"] += summary.ran
        totals["already"] = max(totals["already"], summary.already)
        totals["failed"] = summary.failed_total
        totals["lost"] = summary.lost
        totals["wall"] += summary.wall
        return summary

    n = reps if not auto else AUTO_START
    summary = account(run(None if not auto else n))
    comp = load_comparison(out, n)
    if auto:
        comp, summary = until_narrow(comp, summary, rule, n, lambda k: account(run(k)),
                                      lambda k: load_comparison(out, k))
    comp.target = target
    comp.mode = summary.mode
    comp.workers = workers or 0
    comp.wall_time_s = totals["wall"]
    mechanisms = (explain(comp, paths, out, workers=workers, scheduler=scheduler,
                          progress=progress, posterior=posterior)
                  if explain_effects else None)
    report = write_comparison(comp, out, horizon, discount, mechanisms)
    return CompareResult(report=report, comparison=comp, ran=totals["ran"],
                         already=totals["already"], failed=totals["failed"],
                         lost=totals["lost"], mode=summary.mode)
