"""Before and after on one machine: this tree's small-run figures against another checkout's.

A shared machine's speed drifts by tens of percent over minutes, so figures measured an hour
apart cannot be compared. :func:`against` measures this tree and another checkout of the project
(the commit before a change, say) alternately, each round in two fresh interpreters, and reports
the medians of each side and their ratio. Each side runs :data:`SCRIPT`, which reads only what
every version of the model since the first throughput work has (a pattern run of the default
calibration, ``ClusterModel`` months at 500, 5,000 and 100,000 firms), so the work is the same
on both sides; CPU time (``time.process_time``), which other tenants' load disturbs far less
than wall time, is reported next to wall time.

    clustersim bench --throughput --against ../main
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SCRIPT", "against", "measure_here"]

#: What each side runs, in a fresh interpreter whose ``sim`` is the side's checkout. It prints one
#: JSON line of figures; every module of ``sim`` it loaded must come from that checkout (an
#: editable install of another tree would otherwise fill in modules the checkout lacks).
SCRIPT = r'''
import gc, json, os, statistics, sys, time
import sim
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(sim.__file__)))
def has(rel):
    return os.path.isfile(os.path.join(ROOT, "sim", *rel.split("/")))
if has("core/compiling.py"):
    from sim.core.compiling import configure
    configure()
else:
    os.environ.setdefault("GOMP_SPINCOUNT", "30000")
import numba
numba.set_num_threads(1)
if has("studies/sweep/patterns.py"):
    from sim.studies.sweep.patterns import simulate as patterns
else:
    from sim.calibrate.model import simulate as patterns
from sim.model import ClusterModel
REPEATS = int(sys.argv[1])
BIG = int(sys.argv[2])
SCENARIO = os.path.join(ROOT, "scenarios", "baseline.toml")
CAL = {"talent_sd": 0.0, "patterns.burn_in": 60, "patterns.growth_window": 12}

def timed(fn):
    gc.collect()
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c, time.perf_counter() - w, out

def months(n, seed, k):
    m = ClusterModel(n_firms=n, rng=seed, agents=False, threads=1)
    def run():
        live = 0
        for _ in range(k):
            m.step()
            live += int(m.firms.alive.sum())
        return live
    return timed(run)

patterns(SCENARIO, steps=240, seed=0, overrides=CAL)  # kernels loaded, caches warm
months(500, 0, 2)
out = {"calibration_cpu_s": [], "calibration_wall_s": [], "month": {}}
for seed in range(1, REPEATS + 1):
    c, w, _ = timed(lambda: patterns(SCENARIO, steps=240, seed=seed, overrides=CAL))
    out["calibration_cpu_s"].append(c)
    out["calibration_wall_s"].append(w)
for n, k, reps in ((500, 120, REPEATS), (5000, 120, REPEATS), (BIG, 10, 1 if BIG else 0)):
    rows = []
    for seed in range(1, reps + 1):
        c, w, live = months(n, seed, k)
        rows.append((c / k, w / k, live / k))
    if rows:
        out["month"][str(n)] = {"cpu_s": statistics.median(r[0] for r in rows),
                                "wall_s": statistics.median(r[1] for r in rows),
                                "live": statistics.median(r[2] for r in rows)}
foreign = sorted(m.__file__ for name, m in list(sys.modules.items())
                 if name.split(".")[0] == "sim" and getattr(m, "__file__", None)
                 and not os.path.abspath(m.__file__).startswith(ROOT + os.sep))
out["foreign_modules"] = foreign
print(json.dumps(out))
'''


def _side(root: Path, repeats: int, big: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(repeats), str(big)], cwd=root,
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"bench --against: the run in {root} failed: {tail}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if res["foreign_modules"]:
        raise RuntimeError(f"bench --against: {root} lacks modules it needed (loaded "
                           f"{res['foreign_modules'][0]} from another tree)")
    return res


def _figures(res: dict[str, Any]) -> dict[str, float]:
    """The side's figures of one round: seconds a calibration run (CPU, wall), milliseconds a
    month at 500 firms and its fixed part (CPU), firm-steps a second at the large size."""
    month = res["month"]
    out = {"calibration_cpu_s": statistics.median(res["calibration_cpu_s"]),
           "calibration_wall_s": statistics.median(res["calibration_wall_s"])}
    small, large = month["500"], month["5000"]
    per_firm = (large["cpu_s"] - small["cpu_s"]) / (large["live"] - small["live"])
    out["ms_per_month_500_cpu"] = 1e3 * small["cpu_s"]
    out["fixed_ms_per_month_cpu"] = 1e3 * (small["cpu_s"] - per_firm * small["live"])
    for n, row in month.items():
        if n not in ("500", "5000"):
            out[f"firm_steps_per_s_{n}_cpu"] = row["live"] / row["cpu_s"]
    return out


def measure_here(repeats: int = 5, big: int = 0) -> dict[str, float]:
    """This tree's figures of :data:`SCRIPT`, in a fresh interpreter."""
    return _figures(_side(Path(__file__).resolve().parents[2], repeats, big))


def against(checkout: str | Path, rounds: int = 3, repeats: int = 5, big: int = 100_000,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """This tree ("after") and ``checkout`` ("before") measured alternately, ``rounds`` times.

    Returns ``{"before": {...}, "after": {...}, "ratio": {...}, "rounds": ...}``: for each
    figure the median over rounds of each side, and before / after for costs (a ratio above 1
    is faster now), after / before for rates (firm-steps a second)."""
    here = Path(__file__).resolve().parents[2]
    other = Path(checkout).resolve()
    if not (other / "sim" / "model.py").is_file():
        raise FileNotFoundError(f"bench --against: {checkout} is not a checkout of the model "
                                "(no sim/model.py)")
    sides: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for r in range(rounds):
        for side, root in (("before", other), ("after", here)):
            if progress:
                progress(f"round {r + 1} of {rounds}: {side} ({root.name})")
            sides[side].append(_figures(_side(root, repeats, big)))
    med = {side: {k: statistics.median(f[k] for f in rows) for k in rows[0]}
           for side, rows in sides.items()}
    ratio = {k: (med["after"][k] / med["before"][k] if k.startswith("firm_steps")
                 else med["before"][k] / med["after"][k])
             for k in med["after"] if k in med["before"]}
    return {"before": med["before"], "after": med["after"], "ratio": ratio, "rounds": rounds,
            "repeats": repeats, "checkout": str(checkout)}
