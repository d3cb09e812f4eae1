"""The fixed cost of a month, and runs per hour of the baseline (docs/performance.md, "Fixed cost
of a month").

Measures, on one numba thread, in one warm process:

- milliseconds per month of a 500-firm model (the default world, ``ClusterModel(n_firms=500)``),
  timed over 120 months after its burn-in, with the default recording and with the lean one a
  calibration needs (firms, entries, exits, facility use: no indicators, no burn-in rows);
- seconds per run of ``simulate("scenarios/baseline.toml", steps=120)`` (about 400-500 firms,
  24 burn-in months, set-up and results included), with the default recording and the lean
  one (alone, and as one batch through ``simulate_many``), and the runs per hour they make on
  one core.

Each figure is the median over ``--reps`` seeds, as CPU time of the process (``process_time``:
on a shared machine it moves much less than wall time, which is also reported). The script runs
on older checkouts too (the lean figures are then left out), so before and after can be measured
with the same code: ``PYTHONPATH=<checkout> python experiments/month_cost.py``.

    python experiments/month_cost.py [--reps 7] [--json results/bench/month_cost.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

LEAN_OUTPUTS = ("firms", "entries", "exits", "facility_use_rate", "facilities_operating")


def _timed(fn) -> tuple[float, float]:
    gc.collect()
    c, w = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c, time.perf_counter() - w


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--months", type=int, default=120)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.reps < 1 or args.months < 1:
        print("month_cost: --reps and --months must be at least 1", file=sys.stderr)
        return 2

    import numba

    numba.set_num_threads(1)
    from sim.model import ClusterModel
    from sim.studies import simulate as api

    try:
        from sim.measure.collect import Recording
    except ImportError:  # a checkout from before recordings
        Recording = None
    lean = (Recording(outputs=LEAN_OUTPUTS, burn_in=False, mesa=False)
            if Recording is not None else None)
    scenario = "scenarios/baseline.toml"
    api.simulate(scenario, steps=12)  # load (or compile) the kernels before timing
    ClusterModel(n_firms=500, rng=0, agents=False).step()

    out: dict[str, object] = {"reps": args.reps, "months": args.months}

    def months(label, **kw):
        cpu, wall = [], []
        for seed in range(args.reps):
            m = ClusterModel(n_firms=500, rng=seed, agents=False, **kw)

            def run(m=m):
                for _ in range(args.months):
                    m.step()

            c, w = _timed(run)
            cpu.append(c / args.months * 1e3)
            wall.append(w / args.months * 1e3)
        out[f"ms_per_month_500_{label}"] = statistics.median(cpu)
        out[f"ms_per_month_500_{label}_wall"] = statistics.median(wall)

    def runs(label, fn):
        cpu, wall = [], []
        for seed in range(args.reps):
            c, w = _timed(lambda seed=seed: fn(seed))
            cpu.append(c)
            wall.append(w)
        out[f"baseline_run_s_{label}"] = statistics.median(cpu)
        out[f"baseline_run_s_{label}_wall"] = statistics.median(wall)
        out[f"baseline_runs_per_hour_{label}"] = 3600.0 / statistics.median(cpu)

    months("default")
    if lean is not None:
        months("lean", recording=lean)
    runs("default", lambda seed: api.simulate(scenario, steps=120, seed=seed))
    if lean is not None:
        runs("lean", lambda seed: api.simulate(scenario, steps=120, seed=seed, recording=lean,
                                               firms=False))
        # a batch in one call, as a sweep's worker would hand it: the mean per run
        c, w = _timed(lambda: list(api.simulate_many(scenario, range(args.reps), steps=120,
                                                     recording=lean, firms=False)))
        out["baseline_run_s_lean_batch"] = c / args.reps
        out["baseline_run_s_lean_batch_wall"] = w / args.reps
        out["baseline_runs_per_hour_lean_batch"] = 3600.0 * args.reps / c
    text = json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()})
    print(text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
