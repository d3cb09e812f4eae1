"""Benchmarks: speed of the model and of its kernels (never timed tests).

Figures are medians of several repeats after a warm-up, because these machines are shared and
noisy. ``firm_steps_per_s`` counts live firms summed over the timed steps, divided by wall time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["firm_steps_per_second", "paired_rates", "kernel_speedup", "run_benchmarks",
           "run_full_suite", "phase_breakdown", "start_times", "large_run", "in_process_run",
           "app_updates_per_s", "throughput", "month_cost", "WORKLOADS"]

#: A small run in a fresh interpreter: the classroom case of the start-up benchmarks.
_CLASSROOM = """
import time
t0 = time.perf_counter()
from sim.model import ClusterModel
model = ClusterModel(n_firms={n}, rng=1)
for _ in range({steps}):
    model.step()
print(time.perf_counter() - t0)
"""

#: A large run in a fresh interpreter, reporting its wall time; peak memory is read by the parent.
_LARGE = """
import time
t0 = time.perf_counter()
from sim.model import ClusterModel
model = ClusterModel(n_firms={n}, rng=1, threads={threads})
for _ in range({steps}):
    model.step()
print(time.perf_counter() - t0, model.firms.n_alive)
"""


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


#: Months run before timing: ties, groups and facilities take a couple of years to build up,
#: and the per-tie work with them, so the first months would flatter the model.
BURN_IN = 24


def firm_steps_per_second(n_firms: int, steps: int = 10, repeats: int = 3, seed: int = 1,
                          agents: bool = True, threads: int | None = None,
                          burn_in: int = BURN_IN) -> dict[str, Any]:
    """Firm-steps per second of the default model at ``n_firms`` firms (median of repeats),
    timed after ``burn_in`` months, with the seconds per step of each phase (from the run with
    the median rate), the mean number of live firms over the timed steps, and the process's CPU
    time over wall time (about 1 on one thread: more means some other thread of the process,
    such as a BLAS pool left spinning, is burning a core the model's threads could use)."""
    import gc

    from sim.model import ClusterModel

    runs = []
    for r in range(repeats):
        model = ClusterModel(rng=seed + r, n_firms=n_firms, agents=agents, threads=threads)
        for _ in range(max(burn_in, 1)):  # warm-up: kernels loaded, ties and groups built up
            model.step()
        gc.collect()  # the first full collection after building the agents is a one-off
        model.timings = {}  # a few clock reads per step: no measurable cost
        firm_steps = 0
        each = []
        cpu0, t0 = time.process_time(), time.perf_counter()
        for _ in range(steps):
            s0 = time.perf_counter()
            model.step()
            each.append(time.perf_counter() - s0)
            firm_steps += model.firms.n_alive
        dt = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        runs.append((firm_steps / dt, dt / steps, firm_steps / steps,
                     {k: v / steps for k, v in model.timings.items()}, cpu / dt, each))
    _, _, live, phases, _, each = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
    return {"firm_steps_per_s": statistics.median(run[0] for run in runs),
            "seconds_per_step": statistics.median(run[1] for run in runs),
            "live_firms": live, "phase_seconds_per_step": phases,
            "cpu_per_wall": statistics.median(run[4] for run in runs), "step_seconds": each}


def paired_rates(n_firms: int, threads: int, steps: int = 10, repeats: int = 3,
                 seed: int = 1) -> tuple[dict[str, Any], dict[str, Any], float]:
    """:func:`firm_steps_per_second` on one thread and on ``threads``, run in alternation (one
    repeat of each, same seed, then the next), and the speed-up.

    Results do not depend on the thread count, so the two runs of a repeat do the same work
    step for step: each step of the one-thread run is paired with the same step on ``threads``
    threads, and the speed-up is the median of these per-step ratios over all repeats. On a
    shared machine the other tenants' load comes in bursts that slow part of a run (the
    two-thread run more, as it needs both cores at once); a burst spoils the steps it hits,
    not the figure, and the slow drift of the machine's speed over minutes cancels within each
    pair. ``many`` also holds the quartiles of the per-step ratios (``speedup_quartiles``).
    """
    one, many, ratios = [], [], []
    for r in range(repeats):
        a = firm_steps_per_second(n_firms, steps=steps, repeats=1, seed=seed + r, threads=1)
        b = firm_steps_per_second(n_firms, steps=steps, repeats=1, seed=seed + r,
                                  threads=threads)
        one.append(a)
        many.append(b)
        ratios.extend(x / y for x, y in zip(a["step_seconds"], b["step_seconds"], strict=True))
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    out = _median_run(many)
    out["speedup_quartiles"] = (q1, q3)
    return _median_run(one), out, statistics.median(ratios)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, its rate and step time replaced by the medians."""
    mid = sorted(runs, key=lambda run: run["firm_steps_per_s"])[len(runs) // 2]
    return {**mid, "firm_steps_per_s": statistics.median(r["firm_steps_per_s"] for r in runs),
            "seconds_per_step": statistics.median(r["seconds_per_step"] for r in runs),
            "cpu_per_wall": statistics.median(r["cpu_per_wall"] for r in runs)}


def scaling_exponents(small: dict[str, Any], large: dict[str, Any]) -> dict[str, float]:
    """Exponent b of cost ~ firms^b between two :func:`firm_steps_per_second` results, for the
    whole step ("step") and for each phase: 1 is linear, above 1 grows faster than the firms."""
    import math

    ratio = math.log(large["live_firms"] / small["live_firms"])
    out = {"step": math.log(large["seconds_per_step"] / small["seconds_per_step"]) / ratio}
    for phase, sec in small["phase_seconds_per_step"].items():
        big = large["phase_seconds_per_step"].get(phase, 0.0)
        if sec > 0 and big > 0:
            out[phase] = math.log(big / sec) / ratio
    return out


def _kernel_cases(n_firms: int, seed: int):
    """(name, kernel, args) for the per-firm kernels, on the state of a warmed-up model."""
    from sim.core import spatial
    from sim.mechanisms import cooperation, demography, facilities, market, suppliers
    from sim.model import ClusterModel

    model = ClusterModel(rng=seed, n_firms=n_firms, agents=False)
    for _ in range(3):
        model.step()
    f, t, w, p = model.firms, model.ties, model.world_arrays, model.params
    n, k = t.partner.shape
    key, month = model.stream_key, model.steps
    acted = np.zeros((n, k), dtype=np.int8)
    cooperation._decide(t.partner, t.trust, f.alive, f.willingness, 0.5, f.firm_id, key, month,
                        acted)
    cells = model.cells
    out_nk = np.empty((n, k))
    out = [np.empty(n) for _ in range(6)]
    finput = w["sector_input"][f.sector]
    sup = model.suppliers
    chosen = np.empty(n, dtype=np.int64)
    unit = np.empty(n)
    met = np.empty(n, dtype=np.int64)
    service = np.full(n, -1, dtype=np.int64)
    zeros = np.zeros(n)
    m = model.mods
    cp = p.cooperation
    return [
        ("cell_list", spatial._cell_list, (f.x, f.y, f.alive, 3.0, 20)),
        ("decide", cooperation._decide,
         (t.partner, t.trust, f.alive, f.willingness, 0.5, f.firm_id, key, month, acted)),
        ("meet", cooperation._meet,
         (t.partner, f.alive, f.firm_id, f.x, f.y, cells.start, cells.members, cells.cell_size,
          cells.side, cp.tie_radius, 0.5, key, month, met)),
        ("outcomes", cooperation._outcomes,
         (t.partner, t.back, t.trust, acted, f.alive, f.revenue, f.productivity, f.reputation,
          f.willingness, f.aspiration, cp.coop_benefit, cp.coop_cost, cp.trust_gain,
          cp.trust_loss, cp.spillover, cp.reputation_memory, cp.trust_floor, cp.learning_rate,
          cp.aspiration_memory, out_nk, out[0], out[1], out[2], out[3], out[4], out[5],
          np.empty(n, dtype=np.bool_))),
        ("choose_supplier", suppliers._choose,
         (f.alive, f.x, f.y, f.region, finput, f.supplier, 0.5, f.firm_id, key, month, sup.x,
          sup.y, sup.region, w["by_input_start"], w["by_input"], sup.price, 0.004,
          m.within_mult, m.between_mult, w["infra_factor"],
          suppliers.import_prices(w, m.input_price_mult), p.suppliers.import_cost, 0.02, chosen,
          unit)),
        ("mean_trust", facilities._mean_trust, (t.partner, t.trust, out[0])),
        ("output", market._output,
         (f.alive, f.productivity, f.talent, f.employees, service, zeros, zeros, f.sector,
          len(model.world.sectors), f.region, model.market.localisation,
          p.market.labour_elasticity, out[0])),
        ("accounts", market._accounts,
         (f.alive, f.region, f.sector, f.output, f.employees, f.capital, unit,
          model.market.sector_price, w["market_access"], w["sector_ipo"], w["sector_wpo"], 0.05,
          m.waste_mult, 0.4, w["wage_index"], w["land_cost"], m.land_mult, 0.05,
          m.between_mult, w["infra_factor"], zeros, 0.05, 0.01, f.interest_subsidy,
          f.coop_income, service, zeros, zeros, p.market.labour_elasticity, out[0], out[1],
          out[2], out[3], np.empty(n), out[4], np.empty(n))),
        ("grow", demography._grow,
         (f.alive, f.employees, f.desired.copy(), f.capital.copy(), f.revenue,
          model.month.labour_gap, f.productivity, f.talent.copy(), f.talent_gap.copy(),
          f.sector, w["sector_productivity"], w["sector_productivity_sd"], 0.1, 0.04, 0.15, 1.0,
          2000.0, 1.0, 1.0, f.debt_extra_months, 0.02, 0.2, p.market.labour_elasticity, 0.01,
          0.05, f.firm_id, key, month, out[0], out[5])),
    ]


def kernel_speedup(n_firms: int = 2000, repeats: int = 3, seed: int = 1) -> dict[str, Any]:
    """Time of each kernel's pure-Python twin (``kernel.py_func``) over the compiled kernel."""
    rows = {}
    total_py = total_nb = 0.0
    for name, kernel, args in _kernel_cases(n_firms, seed):
        kernel(*args)  # compile / load from cache
        nb = _median_time(lambda k=kernel, a=args: k(*a), repeats)
        py = _median_time(lambda k=kernel, a=args: k.py_func(*a), max(1, repeats // 2))
        rows[name] = {"numba_s": nb, "python_s": py, "ratio": py / nb if nb > 0 else np.inf}
        total_py += py
        total_nb += nb
    return {"kernels": rows, "ratio": total_py / total_nb}


def run_benchmarks(sizes=(2_000, 20_000, 200_000), threads: int = 1, steps: int = 10,
                   repeats: int = 3, progress: Callable[[str], None] | None = None
                   ) -> dict[str, Any]:
    """The benchmark suite: firm-steps/s per size on ``threads`` threads, and kernel speed-up."""
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    out: dict[str, Any] = {"threads": numba.get_num_threads(), "firm_steps_per_s": {},
                           "seconds_per_step": {}}
    for n in sizes:
        if progress:
            progress(f"model at {n:,} firms")
        # fewer repeats and steps for the largest sizes keep the suite to a few minutes
        big = n >= 100_000
        r = firm_steps_per_second(n, steps=max(3, steps // 2) if big else steps,
                                  repeats=max(1, repeats - 1) if big else repeats,
                                  threads=threads)
        out["firm_steps_per_s"][str(n)] = r["firm_steps_per_s"]
        out["seconds_per_step"][str(n)] = r["seconds_per_step"]
    if progress:
        progress("kernels against their Python twins at 2,000 firms")
    sp = kernel_speedup(2_000, repeats=repeats)
    out["numba_vs_python"] = sp["ratio"]
    out["kernels"] = sp["kernels"]
    if progress:
        progress("the classroom app's step and redraw at 1,000 firms")
    out["app_1000"] = app_updates_per_s(1_000)
    return out


def app_updates_per_s(n_firms: int = 1_000, updates: int = 40, seed: int = 1
                      ) -> dict[str, float]:
    """The classroom app's play loop on the server: one month, then the map and the charts
    redrawn as PNG images (:mod:`sim.views.draw`, as :mod:`sim.views.app` does), ``updates`` times
    after a few warm-up updates; updates per second and the milliseconds of each part."""
    from sim.model import ClusterModel
    from sim.views.draw import ChartsView, FastFigure, MapView, charts_figure, map_figure

    model = ClusterModel(n_firms=n_firms, rng=seed, agents=False)
    fig_map, view_map = map_figure(model)
    fig_charts, view_charts = charts_figure(model)
    fast_map, fast_charts = FastFigure(fig_map), FastFigure(fig_charts)
    parts = {"step": 0.0, "map": 0.0, "charts": 0.0}

    def update(view: MapView | ChartsView, fast: FastFigure) -> None:
        if view.update(model):
            fast.invalidate()
        fast.artists = view.artists
        fast.png()

    for k in range(updates + 5):
        t0 = time.perf_counter()
        model.step()
        t1 = time.perf_counter()
        update(view_map, fast_map)
        t2 = time.perf_counter()
        update(view_charts, fast_charts)
        t3 = time.perf_counter()
        if k >= 5:  # warm-up: first draws, first growth of the charts' axes
            parts["step"] += t1 - t0
            parts["map"] += t2 - t1
            parts["charts"] += t3 - t2
    total = sum(parts.values())
    return {"updates_per_s": updates / total,
            **{f"{k}_ms": 1e3 * v / updates for k, v in parts.items()}}


def phase_breakdown(n_firms: int = 100_000, steps: int = 5, threads: int | None = 1
                    ) -> dict[str, float]:
    """Share of step time spent in each phase (the model's own timings)."""
    import gc

    from sim.model import ClusterModel

    model = ClusterModel(rng=1, n_firms=n_firms, threads=threads)
    for _ in range(BURN_IN):
        model.step()
    gc.collect()
    model.timings = {}
    t0 = time.perf_counter()
    for _ in range(steps):
        model.step()
    total = time.perf_counter() - t0
    shares = {k: v / total for k, v in model.timings.items()}
    shares["other"] = max(0.0, 1.0 - sum(shares.values()))
    shares["seconds_per_step"] = total / steps
    return shares


def in_process_run(n_firms: int = 1_000, steps: int = 120, repeats: int = 5) -> float:
    """Median wall time of building and running a small model inside a warm process."""
    from sim.model import ClusterModel

    ClusterModel(rng=0, n_firms=n_firms).step()  # load the kernels once

    def once():
        model = ClusterModel(rng=1, n_firms=n_firms)
        for _ in range(steps):
            model.step()

    return _median_time(once, repeats)


def _python(code: str, env: dict[str, str] | None = None, timeout: float = 1800):
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, **(env or {})}, check=True)
    return out.stdout.split()


def start_times(n_firms: int = 1_000, steps: int = 200) -> dict[str, float]:
    """End-to-end wall time of a small run in a fresh interpreter: cold (empty numba cache,
    so every kernel compiles) and warm (cache filled)."""
    import tempfile

    code = _CLASSROOM.format(n=n_firms, steps=steps)
    with tempfile.TemporaryDirectory(prefix="clustersim-numba-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        t0 = time.perf_counter()
        _python(code, env)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(3):
            t0 = time.perf_counter()
            _python(code, env)
            warm.append(time.perf_counter() - t0)
    return {"cold_s": cold, "warm_s": statistics.median(warm)}


def large_run(n_firms: int = 1_000_000, steps: int = 100, threads: int | None = None
              ) -> dict[str, float]:
    """A large run in a fresh interpreter: wall time (building included) and peak memory."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    inner, alive = _python(_LARGE.format(n=n_firms, steps=steps, threads=threads))
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib <= before:  # an earlier, larger child set the maximum: not measurable here
        peak_kib = float("nan")
    return {"firms": n_firms, "steps": steps, "wall_s": wall, "inner_s": float(inner),
            "final_firms": int(alive), "peak_rss_bytes": peak_kib * 1024.0,
            "peak_rss_bytes_per_firm": peak_kib * 1024.0 / n_firms}


def run_full_suite(progress: Callable[[str], None] | None = None, repeats: int = 3,
                   large_firms: int = 1_000_000, large_steps: int = 100) -> dict[str, Any]:
    """The whole benchmark suite of docs/performance.md."""
    import os

    import numba

    def say(msg):
        if progress:
            progress(msg)

    cores = min(os.cpu_count() or 1, numba.config.NUMBA_NUM_THREADS)
    out: dict[str, Any] = {"cores": cores}
    # start-up first, in fresh interpreters, before this process holds much memory
    say("peak memory and wall time of a large run")
    out["large_run"] = large_run(large_firms, large_steps)
    say("cold and warm start of a 1,000-firm, 200-step run")
    out["start"] = start_times()
    say("a 1,000-firm, 120-step run inside a warm process")
    out["in_process_1000x120_s"] = in_process_run()
    sizes = (1_000, 10_000, 100_000, 1_000_000)
    runs: dict[str, dict[str, dict[str, Any]]] = {"1": {}, "all": {}}
    out["parallel_speedup"], out["parallel_speedup_quartiles"] = {}, {}
    for n in sizes:
        say(f"model at {n:,} firms on 1 and {cores} threads, in alternation")
        big = n >= 1_000_000
        # the speed-up target is judged at 100,000 firms: more pairs there
        one, many, ratio = paired_rates(n, cores, steps=3 if big else 10,
                                        repeats=1 if big else (repeats + 2 if n == 100_000
                                                               else repeats))
        runs["1"][str(n)], runs["all"][str(n)] = one, many
        out["parallel_speedup"][str(n)] = ratio
        out["parallel_speedup_quartiles"][str(n)] = many["speedup_quartiles"]
    for label, detail in runs.items():
        rates = {n: r["firm_steps_per_s"] for n, r in detail.items()}
        per_step = {n: r["seconds_per_step"] for n, r in detail.items()}
        out[f"firm_steps_per_s_threads_{label}"] = rates
        out[f"seconds_per_step_threads_{label}"] = per_step
        out[f"phase_seconds_per_step_threads_{label}"] = {
            n: r["phase_seconds_per_step"] for n, r in detail.items()}
        out[f"cpu_per_wall_threads_{label}"] = {n: r["cpu_per_wall"] for n, r in detail.items()}
        if label == "1":
            out["live_firms"] = {n: r["live_firms"] for n, r in detail.items()}
            out["scaling_exponent_10k_1m"] = scaling_exponents(detail["10000"],
                                                               detail["1000000"])
            out["scaling_exponent_100k_1m"] = scaling_exponents(detail["100000"],
                                                                detail["1000000"])
    one = out["firm_steps_per_s_threads_1"]
    out["throughput"] = throughput(repeats=max(repeats, 5), progress=say)
    say("the cost of a month at 500 and 5,000 firms on one thread")
    out["month_cost"] = month_cost(repeats=max(repeats, 5))
    say("phase breakdown at 100,000 firms")
    out["phases_100k_1_thread"] = phase_breakdown(100_000, threads=1)
    say("kernels against their Python twins at 2,000 firms")
    sp = kernel_speedup(2_000, repeats=repeats)
    out["numba_vs_python"] = sp["ratio"]
    out["kernels"] = sp["kernels"]
    say("the classroom app's step and redraw at 1,000 firms")
    out["app_1000"] = app_updates_per_s(1_000)
    # the keys of the quick benchmark, for tools that read either
    out["firm_steps_per_s"] = one
    out["targets"] = check_targets(out)
    return out


def check_targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for these 2-core machines, each with the measured figure and whether
    it is met (``met`` is None where the suite could not measure it)."""
    one, speed = res["firm_steps_per_s_threads_1"], res["parallel_speedup"]
    every = res["firm_steps_per_s_threads_all"]
    big, start, ph = res["large_run"], res["start"], res["phases_100k_1_thread"]
    expo = res["scaling_exponent_10k_1m"]
    worst = max((k for k in expo if k != "step"), key=lambda k: expo[k])
    bookkeeping = ph.get("data collection", 0.0) + ph.get("agents", 0.0)
    peak = big["peak_rss_bytes"]
    rows = [
        ("firm-steps/s on 1 thread at 100,000 firms", ">= 1,500,000",
         f"{one['100000']:,.0f}", one["100000"] >= 1.5e6),
        # "at least 1.8x that on 2 cores" read both ways: 1.8 times the target rate, and 1.8
        # times the rate measured on one thread (the stricter, while that exceeds the target)
        ("firm-steps/s on all cores at 100,000 firms", ">= 2,700,000 (1.8 x 1,500,000)",
         f"{every['100000']:,.0f}", every["100000"] >= 1.8 * 1.5e6),
        ("speed-up on all cores at 100,000 firms", ">= 1.8x", f"{speed['100000']:.2f}x",
         speed["100000"] >= 1.8),
        ("1,000,000 firms x 100 steps: wall time", "< 120 s", f"{big['wall_s']:.0f} s",
         big["wall_s"] < 120),
        ("1,000,000 firms x 100 steps: peak memory", "< 4 GB",
         f"{peak / 1e9:.2f} GB", None if peak != peak else peak < 4e9),
        ("cost per step from 10,000 to 1,000,000 firms: exponent of the step",
         "linear (<= 1.1)", f"{expo['step']:.2f}", expo["step"] <= 1.1),
        ("... and of its fastest-growing phase", "linear (<= 1.1)",
         f"{worst} {expo[worst]:.2f}", expo[worst] <= 1.1),
        ("warm start, 1,000 firms x 200 steps", "< 3 s", f"{start['warm_s']:.1f} s",
         start["warm_s"] < 3),
        ("cold start, 1,000 firms x 200 steps", "< 30 s", f"{start['cold_s']:.1f} s",
         start["cold_s"] < 30),
        ("1,000 firms x 120 steps in a warm process", "< 0.3 s",
         f"{res['in_process_1000x120_s']:.3f} s", res["in_process_1000x120_s"] < 0.3),
        ("data collection + Mesa agents at 100,000 firms", "< 10% of the step",
         f"{100 * bookkeeping:.1f}%", bookkeeping < 0.10),
    ]
    app = res.get("app_1000")
    if app is not None:
        rows.append(("classroom app at 1,000 firms: step + redraw of map and charts",
                     ">= 10 updates/s", f"{app['updates_per_s']:.1f}/s",
                     app["updates_per_s"] >= 10))
    return [{"target": t, "wanted": w, "measured": m, "met": ok} for t, w, m, ok in rows]


# ----------------------------------------------------------------------------------------------
# Throughput: many small runs (issue 24)

#: The shipped small workloads: (name, what it is, scenario file, steps, pattern settings or None
#: for a plain run, overrides). The calibrations' runs go through the patterns model as
#: ``clustersim calibrate`` runs them; the others through :func:`sim.studies.simulate.simulate`.
WORKLOADS = (
    ("calibration", "a run of experiments/calibrate_default.toml: baseline, 240 months, patterns",
     "baseline.toml", 240, {"talent_sd": 0.0, "patterns.burn_in": 60,
                            "patterns.growth_window": 12}),
    ("classroom", "scenarios/classroom_cluster_formation.toml as shipped",
     "classroom_cluster_formation.toml", None, None),
    ("hebron", "a run of experiments/calibrate_hebron.toml: Hebron stone, 120 months, patterns",
     "hebron_stone.toml", 120, {"patterns.burn_in": 24, "patterns.sector": "stone"}),
    ("compare", "a compare replicate: baseline and cfc, 120 months each (one pair = one run)",
     ("baseline.toml", "cfc.toml"), None, None),
)


def _scenario_path(name: str):
    from pathlib import Path

    here = Path(__file__).resolve().parents[2] / "scenarios" / name
    return here if here.is_file() else Path("scenarios") / name


def _workload_run(spec, seed: int) -> None:
    _, _, files, steps, overrides = spec
    if overrides is not None and any(k.startswith("patterns.") for k in overrides):
        from sim.studies.sweep.patterns import simulate as patterns

        patterns(_scenario_path(files), steps=steps, seed=seed, overrides=overrides)
        return
    from sim.studies.simulate import simulate

    for name in (files,) if isinstance(files, str) else files:
        simulate(_scenario_path(name), steps=steps, seed=seed, overrides=overrides)


def throughput(repeats: int = 5, cores: int = 2, workloads=WORKLOADS,
               progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Runs per hour of each shipped small workload.

    Each run is timed end to end in this warm process, on one thread, as a sweep worker runs it
    (scenario read, model built, burn-in, months, outputs), after one untimed run that loads
    the kernels; seeds 1..repeats, median seconds. Runs per hour on ``cores`` cores is
    ``cores x 3600 / median``: one warm worker per core, as the sweep engine runs them."""
    import numba

    outer = numba.get_num_threads()
    numba.set_num_threads(1)
    out: dict[str, Any] = {"cores": cores, "repeats": repeats, "workloads": {}}
    try:
        for spec in workloads:
            if progress:
                progress(f"{spec[0]} runs ({spec[1]})")
            _workload_run(spec, seed=0)  # kernels loaded, caches warm
            times = []
            for r in range(repeats):
                t0 = time.perf_counter()
                _workload_run(spec, seed=1 + r)
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            out["workloads"][spec[0]] = {"what": spec[1], "seconds_per_run": med,
                                         "seconds_all": times,
                                         "runs_per_hour": cores * 3600.0 / med}
    finally:
        numba.set_num_threads(outer)
    return out


def month_cost(small: int = 500, large: int = 5_000, months: int = 120, repeats: int = 5,
               seed: int = 1) -> dict[str, Any]:
    """Milliseconds per month at ``small`` firms on one thread, split into a fixed part and a
    per-firm part by a straight line through the month's cost at ``small`` and ``large`` firms
    (cost = fixed + per_firm x live firms), with firm-steps per second at both sizes.

    Each repeat builds a model (burn-in untimed) and times ``months`` months; medians over the
    repeats, the two sizes in alternation so that the machine's drift hits both."""
    from sim.model import ClusterModel

    ClusterModel(n_firms=small, rng=0, agents=False, threads=1).step()  # kernels loaded

    def once(n: int, r: int) -> tuple[float, float]:
        model = ClusterModel(n_firms=n, rng=seed + r, agents=False, threads=1)
        live = 0
        t0 = time.perf_counter()
        for _ in range(months):
            model.step()
            live += model.firms.n_alive
        return (time.perf_counter() - t0) / months, live / months

    per = {small: [], large: []}
    for r in range(repeats):
        for n in (small, large):
            per[n].append(once(n, r))
    (t_s, n_s), (t_l, n_l) = ((statistics.median(x[0] for x in per[n]),
                               statistics.median(x[1] for x in per[n])) for n in (small, large))
    per_firm = (t_l - t_s) / (n_l - n_s) if n_l != n_s else float("nan")
    fixed = t_s - per_firm * n_s
    return {"firms": small, "live_firms": n_s, "ms_per_month": 1e3 * t_s,
            "fixed_ms_per_month": 1e3 * fixed, "per_firm_us": 1e6 * per_firm,
            "firm_steps_per_s": n_s / t_s, "large_firms": large, "large_live_firms": n_l,
            "large_ms_per_month": 1e3 * t_l, "large_firm_steps_per_s": n_l / t_l}
