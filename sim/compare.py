"""Replicated comparison of scenarios with common random numbers and confidence intervals.

The question a policy analyst asks: what does an intervention do for this cluster compared with
another, or with nothing, and at what public cost? :func:`run_comparison` runs ``R``
replicates of every scenario, replicate ``i`` of each with the same seed (the ``i``-th child of
``numpy.random.SeedSequence(seed)``: common random numbers), so that the differences from the
base scenario are paired and, for two identical scenarios, exactly zero. :func:`summarise`
gives per scenario and outcome the mean, standard deviation and t-based 95% confidence
interval, and the paired difference from the base with its own t interval and p-value (the
paired t-test). :func:`public_costs` puts the difference in public spending over the
differences in jobs and in firms in business. :func:`write_comparison` writes the results
folder (CSV, Parquet, figures, a self-contained HTML report, provenance) atomically.

Runs are spread over local cores with :class:`concurrent.futures.ProcessPoolExecutor`; a run's
result depends only on its scenario, steps and seed, never on the worker that ran it.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.errors import InputError
from sim.output import move_into_place, new_temp_dir

__all__ = [
    "OUTCOMES",
    "FIGURE_OUTCOMES",
    "Comparison",
    "replicate_seeds",
    "t_interval",
    "paired_difference",
    "run_comparison",
    "summarise",
    "public_costs",
    "write_comparison",
    "check_destination",
    "apply_overrides",
    "compare",
]

#: Final outcomes summarised by default (from :func:`sim.collect.final_outcomes`).
OUTCOMES: tuple[str, ...] = (
    "firms", "employment", "jobs_created", "output", "mean_productivity", "survival",
    "entries_total", "exits_total", "cooperation_rate", "mean_trust", "jp_share",
    "facilities_built", "facilities_operating", "public_facilities_built",
    "public_facilities_operating", "facility_users", "spv_members", "time_to_first_facility",
    "eg_gamma_mean", "herfindahl_regions", "public_spending_total",
)
#: Per-step outputs drawn as time series with confidence bands.
FIGURE_OUTCOMES: tuple[str, ...] = (
    "firms", "employment", "mean_productivity", "cooperation_rate", "mean_trust",
    "facilities_operating", "eg_gamma_mean", "public_spending_total",
)
LEVEL = 0.95
#: Keys of run.json that identify a comparison: same values, same results.
SAME_KEYS = ("version", "git_commit", "scenarios", "reps", "steps", "seed", "overrides",
             "outcomes")


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

    @property
    def base(self) -> str:
        return self.labels[0]

    @property
    def reps(self) -> int:
        return len(self.seeds)


# -- statistics -----------------------------------------------------------------------------------
def replicate_seeds(seed: int, reps: int) -> list[int]:
    """One integer seed per replicate: the children of ``SeedSequence(seed)``."""
    return [int(child.generate_state(1, dtype=np.uint32)[0])
            for child in np.random.SeedSequence(seed).spawn(reps)]


def t_interval(values, level: float = LEVEL) -> dict[str, float]:
    """Mean, standard deviation and t-based confidence interval of the finite ``values``.

    Returns a dict with ``n``, ``mean``, ``sd`` (ddof 1), ``ci_low``, ``ci_high``. With one
    value the interval is undefined (NaN); with no spread it is the mean itself.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    nan = float("nan")
    if n == 0:
        return {"n": 0, "mean": nan, "sd": nan, "ci_low": nan, "ci_high": nan}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "sd": nan, "ci_low": nan, "ci_high": nan}
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return {"n": n, "mean": mean, "sd": 0.0, "ci_low": mean, "ci_high": mean}
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def paired_difference(alt, base, level: float = LEVEL) -> dict[str, float]:
    """The paired difference ``alt - base`` over replicates where both are finite.

    Returns ``n``, ``mean``, ``sd``, ``ci_low``, ``ci_high`` (as :func:`t_interval`) and ``p``,
    the two-sided p-value of the paired t-test (1 when every difference is 0).
    """
    a = np.asarray(alt, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    out = t_interval(a[both] - b[both], level)
    n, sd = out["n"], out["sd"]
    if n < 2:
        out["p"] = float("nan")
    elif sd == 0.0:
        out["p"] = 1.0 if out["mean"] == 0.0 else 0.0
    else:
        tstat = out["mean"] / (sd / math.sqrt(n))
        out["p"] = float(2.0 * stats.t.sf(abs(tstat), n - 1))
    return out


def summarise(comp: Comparison, outcomes: tuple[str, ...] = OUTCOMES) -> pd.DataFrame:
    """Per scenario and outcome: mean, sd, 95% CI; for non-base scenarios the paired difference
    from the base with its 95% CI and p-value. One row per (scenario, outcome)."""
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
    return df


def public_costs(comp: Comparison, n_boot: int = 2000) -> pd.DataFrame:
    """Public cost per job created and per firm kept in business, relative to the base.

    For each non-base scenario: the paired differences (with 95% CIs) in cumulative public
    spending, employment and firms in business at the end, and the ratios
    ``d_public / d_jobs`` and ``d_public / d_firms`` (ratios of mean differences). A ratio is
    only reported when its denominator is positive, and its 95% interval (paired bootstrap,
    percentile) only when the denominator's interval excludes zero: a cost per job is
    meaningless when the policy does not clearly create jobs.
    """
    runs = comp.runs
    base = runs[runs["scenario"] == comp.base].set_index("replicate")
    rng = np.random.default_rng(np.random.SeedSequence(comp.seed, spawn_key=(1,)))
    rows = []
    for label in comp.labels[1:]:
        mine = runs[runs["scenario"] == label].set_index("replicate")
        d = {k: (mine[k] - base[k]).dropna() for k in ("public_spending_total", "employment",
                                                       "firms")}
        row: dict[str, Any] = {"scenario": label, "base": comp.base}
        for key, name in (("public_spending_total", "public"), ("employment", "jobs"),
                          ("firms", "firms")):
            iv = t_interval(d[key].to_numpy())
            row.update({f"d_{name}": iv["mean"], f"d_{name}_ci_low": iv["ci_low"],
                        f"d_{name}_ci_high": iv["ci_high"]})
        for name in ("jobs", "firms"):
            key = "employment" if name == "jobs" else "firms"
            pub, den = d["public_spending_total"].align(d[key], join="inner")
            ratio = lo = hi = float("nan")
            if den.size and den.mean() > 0:
                ratio = float(pub.mean() / den.mean())
                if row[f"d_{name}_ci_low"] > 0:
                    idx = rng.integers(0, den.size, size=(n_boot, den.size))
                    num_b = pub.to_numpy()[idx].mean(axis=1)
                    den_b = den.to_numpy()[idx].mean(axis=1)
                    ok = den_b > 0
                    if ok.all():
                        lo, hi = (float(v) for v in np.quantile(num_b / den_b, [0.025, 0.975]))
            row.update({f"cost_per_{name[:-1]}": ratio, f"cost_per_{name[:-1]}_ci_low": lo,
                        f"cost_per_{name[:-1]}_ci_high": hi})
        rows.append(row)
    return pd.DataFrame(rows)


# -- running --------------------------------------------------------------------------------------
_WORKER_SCENARIOS: list[Any] = []


def _init_worker(scenarios: list[Any], threads: int | None = None) -> None:
    """Hold the scenarios; in a pool, share the cores between processes rather than give each
    process a numba thread per core (results do not depend on the thread count)."""
    global _WORKER_SCENARIOS
    _WORKER_SCENARIOS = scenarios
    if threads is not None:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def _run_one(i: int, rep: int, seed: int, steps: int):
    from sim.api import simulate

    result = simulate(_WORKER_SCENARIOS[i], steps=steps, seed=seed, agents=False)
    return i, rep, result.final, result.series


def _unique_labels(scenarios) -> list[str]:
    labels: list[str] = []
    for sc in scenarios:
        label, k = sc.name, 2
        while label in labels:
            label, k = f"{sc.name}#{k}", k + 1
        labels.append(label)
    return labels


def run_comparison(scenarios, reps: int, *, steps: int | None = None, seed: int = 0,
                   workers: int | None = None, progress: bool = True,
                   overrides: dict[str, Any] | None = None) -> Comparison:
    """Run ``reps`` replicates of every scenario with common random numbers.

    Parameters
    ----------
    scenarios : sequence of Scenario
        The first is the base; all are run for the same number of months.
    reps : int
        Replicates per scenario (>= 2 for confidence intervals).
    steps : int, optional
        Months; default: the scenarios' own ``steps``, which must then agree.
    seed : int
        Root of the replicate seeds (:func:`replicate_seeds`).
    workers : int, optional
        Processes (default ``os.cpu_count()``); 1 runs in this process.
    progress : bool
        Show a tqdm progress bar on stderr.
    overrides : dict, optional
        Recorded in the provenance (apply them to the scenarios beforehand).
    """
    scenarios = list(scenarios)
    if len(scenarios) < 2:
        raise InputError("compare", "", "needs a base scenario and at least one alternative")
    if reps < 2:
        raise InputError("--reps", "", f"got {reps}; allowed: an integer >= 2 (confidence "
                         "intervals need at least two replicates)")
    if steps is None:
        horizons = {sc.steps for sc in scenarios}
        if len(horizons) > 1:
            which = ", ".join(f"{sc.name}: {sc.steps}" for sc in scenarios)
            raise InputError("--steps", "", f"the scenarios' own horizons differ ({which}); "
                             "allowed: give --steps so that all run the same months")
        steps = scenarios[0].steps
    if steps < 1:
        raise InputError("--steps", "", f"got {steps}; allowed: an integer >= 1")
    workers = max(1, int(workers or os.cpu_count() or 1))
    seeds = replicate_seeds(seed, reps)
    labels = _unique_labels(scenarios)
    tasks = [(i, r, s) for r, s in enumerate(seeds) for i in range(len(scenarios))]
    results: dict[tuple[int, int], tuple[dict, pd.DataFrame]] = {}

    from tqdm import tqdm

    t0 = time.perf_counter()
    with tqdm(total=len(tasks), desc="compare", unit="run", disable=not progress,
              leave=False) as bar:
        if workers == 1:
            _init_worker(scenarios)
            try:
                for i, r, s in tasks:
                    _, _, final, series = _run_one(i, r, s, steps)
                    results[(i, r)] = (final, series)
                    bar.update(1)
            finally:
                _init_worker([])
        else:
            procs = min(workers, len(tasks))
            threads = max(1, (os.cpu_count() or 1) // procs)
            with ProcessPoolExecutor(max_workers=procs, mp_context=_context(),
                                     initializer=_init_worker,
                                     initargs=(scenarios, threads)) as pool:
                futures = [pool.submit(_run_one, i, r, s, steps) for i, r, s in tasks]
                try:
                    for fut in as_completed(futures):
                        i, r, final, series = fut.result()
                        results[(i, r)] = (final, series)
                        bar.update(1)
                except BaseException:  # an interruption or a failed run: drop the rest
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    wall = time.perf_counter() - t0

    run_rows, series_parts = [], []
    for i, label in enumerate(labels):
        for r, s in enumerate(seeds):
            final, series = results[(i, r)]
            run_rows.append({"scenario": label, "replicate": r, "seed": s, **final})
            part = series.copy()
            part.insert(0, "seed", s)
            part.insert(0, "replicate", r)
            part.insert(0, "scenario", label)
            series_parts.append(part)
    runs = pd.DataFrame(run_rows)
    series = pd.concat(series_parts, ignore_index=True, sort=False)
    return Comparison(labels=labels, scenarios=scenarios, steps=int(steps), seed=int(seed),
                      seeds=seeds, runs=runs, series=series, overrides=dict(overrides or {}),
                      workers=workers, wall_time_s=wall)


def _context():
    """Worker processes start from a clean server process where available: no threads (or
    numba thread pools) of this process are inherited by a fork."""
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["sim.api", "sim.model", "sim.scenario"])
    return ctx


# -- writing --------------------------------------------------------------------------------------
def _identity(comp_or_scenarios, reps, steps, seed, overrides, outcomes) -> dict[str, Any]:
    """What decides a comparison's results (see :data:`SAME_KEYS`)."""
    from sim import __version__
    from sim.provenance import git_commit

    scenarios = comp_or_scenarios
    labels = _unique_labels(scenarios)
    return {
        "version": __version__,
        "git_commit": git_commit(),
        "scenarios": [{"label": lab, "name": sc.name, "file": str(sc.path or ""),
                       "hash": sc.hash} for lab, sc in zip(labels, scenarios, strict=True)],
        "reps": int(reps),
        "steps": int(steps),
        "seed": int(seed),
        "overrides": dict(overrides or {}),
        "outcomes": list(outcomes),
    }


def check_destination(out: Path, identity: dict[str, Any], force: bool) -> bool:
    """May a comparison be written to ``out``?

    Returns True when it may be written (a new or empty folder, or ``force``); False when
    ``out`` already holds this very comparison (same inputs and code, from a clean checkout):
    nothing to do. Raises InputError when it holds something else and ``force`` is not set.
    """
    out = Path(out)
    if not out.exists():
        return True
    if not out.is_dir():
        raise InputError(str(out), "", "exists and is not a folder; allowed: a new or empty "
                         "folder")
    if force or not any(out.iterdir()):
        return True
    try:
        old = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        old = {}
    same = all(_norm(old.get(k)) == _norm(identity.get(k)) for k in SAME_KEYS)
    if same and (out / "report.html").is_file() and not str(
            identity.get("git_commit", "")).endswith("+dirty"):
        return False
    raise InputError(str(out), "", "already holds other results; allowed: a new or empty "
                     "folder, or --force to replace it")


def _norm(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def write_comparison(comp: Comparison, out: str | Path, *, force: bool = False,
                     outcomes: tuple[str, ...] = OUTCOMES) -> Path:
    """Write the results folder ``out``; returns the path of ``report.html``.

    Files: ``summary.csv`` (per scenario and outcome: mean, sd, CI, paired difference from the
    base with CI and p), ``costs.csv`` (public cost per job and per firm), ``runs.parquet``
    (final outcomes of every replicate), ``series.parquet`` (every per-step output),
    ``figures/*.png`` (time series with confidence bands), ``report.html`` (self-contained)
    and ``run.json`` (provenance). Everything is written into a temporary folder beside
    ``out`` and moved into place in one rename, so an interruption leaves nothing
    half-written; an existing ``out`` with other content is replaced only with ``force``.
    """
    from sim import report
    from sim.provenance import provenance, write_parquet

    out = Path(out)
    identity = _identity(comp.scenarios, comp.reps, comp.steps, comp.seed, comp.overrides,
                         outcomes)
    check_destination(out, identity, force)
    summary = summarise(comp, outcomes)
    costs = public_costs(comp)
    prov = provenance(steps=comp.steps, overrides=comp.overrides,
                      wall_time_s=comp.wall_time_s)
    prov.pop("seed", None)
    run = {**prov, **identity, "base": comp.base, "seeds": comp.seeds,
           "workers": comp.workers, "level": LEVEL,
           "seeding": "common random numbers: replicate i of every scenario uses seeds[i], "
                      "child i of numpy.random.SeedSequence(seed)"}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temp_dir(out)
    try:
        summary.to_csv(tmp / "summary.csv", index=False)
        costs.to_csv(tmp / "costs.csv", index=False)
        write_parquet(comp.runs, tmp / "runs.parquet", run)
        write_parquet(comp.series, tmp / "series.parquet", run)
        figures = report.series_figures(comp, FIGURE_OUTCOMES)
        (tmp / "figures").mkdir()
        for name, png in figures.items():
            (tmp / "figures" / f"{name}.png").write_bytes(png)
        html = report.render_html(comp, summary, costs, figures, run)
        (tmp / "report.html").write_text(html, encoding="utf-8")
        run["files"] = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        (tmp / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
        move_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out / "report.html"


def apply_overrides(scenarios, overrides: dict[str, Any]) -> list[Any]:
    """Apply ``--set`` overrides to every scenario of a comparison.

    Parameter overrides apply to all; an ``interventions.NAME.FIELD`` override applies to the
    scenarios that have an intervention NAME, and at least one must have it.
    """
    import difflib

    names = [{iv.name for iv in sc.interventions} for sc in scenarios]
    for key in overrides:
        if key.startswith("interventions.") and key.count(".") >= 2:
            name = key.split(".")[1]
            if not any(name in n for n in names):
                every = sorted(set().union(*names))
                close = difflib.get_close_matches(name, every, n=1, cutoff=0.6)
                raise InputError("--set", key, f"no scenario has an intervention named "
                                 f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                                 + "; allowed: " + (", ".join(map(repr, every)) or "(none)"))
    out = []
    for sc, mine in zip(scenarios, names, strict=True):
        own = {k: v for k, v in overrides.items()
               if not (k.startswith("interventions.") and k.count(".") >= 2
                       and k.split(".")[1] not in mine)}
        out.append(sc.with_overrides(own) if own else sc)
    return out


def compare(paths, *, reps: int, out: str | Path, steps: int | None = None, seed: int = 0,
            workers: int | None = None, overrides: dict[str, Any] | None = None,
            force: bool = False, progress: bool = True) -> tuple[Path, Comparison | None]:
    """Load, run and write a comparison: what ``clustersim compare`` does.

    Returns (report path, comparison); the comparison is None when ``out`` already held this
    very comparison and nothing was run.
    """
    from sim.scenario import load_scenario

    scenarios = [load_scenario(p) for p in paths]
    if overrides:
        scenarios = apply_overrides(scenarios, overrides)
    if reps < 2:
        raise InputError("--reps", "", f"got {reps}; allowed: an integer >= 2 (confidence "
                         "intervals need at least two replicates)")
    if workers is not None and workers < 1:
        raise InputError("--workers", "", f"got {workers}; allowed: an integer >= 1")
    horizon = steps if steps is not None else scenarios[0].steps
    if steps is None and len({sc.steps for sc in scenarios}) > 1:
        horizon = -1  # run_comparison raises the error
    # refuse early, before computing, if the destination holds something else
    out = Path(out)
    if horizon >= 1 and not check_destination(
            out, _identity(scenarios, reps, horizon, seed, overrides, OUTCOMES), force):
        return out / "report.html", None
    comp = run_comparison(scenarios, reps, steps=steps, seed=seed, workers=workers,
                          progress=progress, overrides=overrides)
    return write_comparison(comp, out, force=force), comp
