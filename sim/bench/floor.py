"""How much of a small run is compiled kernels, and so how fast it could get without changing them.

A calibration run costs its kernels' own work plus the Python around them (numpy calls on
small arrays, kernel dispatch, the model's objects). Removing Python can make a run no faster
than its kernels: :func:`kernel_floor` measures both parts of the calibration's pattern run
(``scenarios/baseline.toml``, 240 months, as ``clustersim bench --throughput`` times it), so a
speed target can be checked against what the kernels, unchanged to the bit, allow.

Every numba kernel reachable as a module attribute of ``sim`` (a ``@numba.njit`` dispatcher or a
:class:`sim.core.parallel.ParallelKernel`) is replaced, for the timed runs only, by a proxy that
adds the time of each call to a total; kernels that other kernels call are compiled into their
callers and counted there. The time charged to kernels includes numba's dispatch (typing the
arguments, about a microsecond a call), which is overhead, not the kernels' work: the figure
slightly overstates what the kernels themselves cost. The run is timed once more without
proxies for its total. Both on ``time.perf_counter``: run it on a quiet machine.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["kernel_floor", "CALIBRATION_RUN"]

#: The calibration run of ``clustersim bench --throughput`` (experiments/calibrate_default.toml's
#: run at its scenario's values): scenario, months, overrides.
CALIBRATION_RUN = ("baseline.toml", 240,
                   {"talent_sd": 0.0, "patterns.burn_in": 60, "patterns.growth_window": 12})


class _Timed:
    """A kernel that adds the time of each call to ``seconds`` and counts its calls."""

    __slots__ = ("kernel", "seconds", "calls")

    def __init__(self, kernel):
        self.kernel = kernel
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, *args):
        t0 = time.perf_counter()
        try:
            return self.kernel(*args)
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1


def _kernels() -> dict[int, Any]:
    """Every kernel object held by a loaded ``sim`` module, by id."""
    import numba

    from sim.core.parallel import ParallelKernel

    kinds = (numba.core.registry.CPUDispatcher, ParallelKernel)
    found: dict[int, Any] = {}
    for name, mod in list(sys.modules.items()):
        if name.split(".")[0] != "sim" or mod is None:
            continue
        for obj in vars(mod).values():
            if isinstance(obj, kinds):
                found[id(obj)] = obj
    return found


def _label(kernel) -> str:
    """A kernel's ``module.name``."""
    return f"{kernel.__module__}.{kernel.__name__}"


def _kernel_names(kernels: dict[int, Any]) -> set[str]:
    """``module.name`` of each kernel of :func:`_kernels`."""
    return {_label(k) for k in kernels.values()}


def _patched(proxies: dict[int, _Timed]) -> list[tuple[dict, str, Any]]:
    """Put the proxies in every ``sim`` module's namespace in place of their kernels; returns
    what to put back."""
    undo = []
    for name, mod in list(sys.modules.items()):
        if name.split(".")[0] != "sim" or mod is None:
            continue
        space = vars(mod)
        for attr, obj in list(space.items()):
            proxy = proxies.get(id(obj))
            if proxy is not None and proxy.kernel is obj:
                undo.append((space, attr, obj))
                space[attr] = proxy
    return undo


def kernel_floor(repeats: int = 5, run: tuple = CALIBRATION_RUN,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Seconds of a calibration run on one thread, and how many of them its kernels take.

    Returns medians over seeds 1..``repeats`` (after one untimed run that loads the kernels):
    ``run_s`` (the run without proxies), ``kernel_s`` (time inside kernel calls, dispatch
    included), ``python_s`` (the difference), ``kernel_share``, ``kernel_calls`` per run and
    ``by_kernel`` (seconds per run of the ten costliest kernels)."""
    import numba

    from sim.bench.model import _scenario_path
    from sim.studies.sweep.patterns import simulate as patterns

    scenario, steps, overrides = run
    path = _scenario_path(scenario)

    def once(seed: int) -> None:
        patterns(path, steps=steps, seed=seed, overrides=overrides)

    outer = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        once(0)  # kernels loaded, caches warm
        totals, inside, calls = [], [], []
        per_kernel: dict[str, list[float]] = {}
        for seed in range(1, repeats + 1):
            if progress:
                progress(f"calibration run {seed} of {repeats}, with and without timing")
            t0 = time.perf_counter()
            once(seed)
            totals.append(time.perf_counter() - t0)
            proxies = {k: _Timed(obj) for k, obj in _kernels().items()}
            undo = _patched(proxies)
            try:
                once(seed)
            finally:
                for space, attr, obj in undo:
                    space[attr] = obj
            inside.append(sum(p.seconds for p in proxies.values()))
            calls.append(sum(p.calls for p in proxies.values()))
            for p in proxies.values():
                if p.calls:
                    per_kernel.setdefault(_label(p.kernel), []).append(p.seconds)
    finally:
        numba.set_num_threads(outer)
    run_s, kernel_s = statistics.median(totals), statistics.median(inside)
    by_kernel = {k: statistics.median(v) for k, v in per_kernel.items()}
    top = dict(sorted(by_kernel.items(), key=lambda kv: -kv[1])[:10])
    return {"repeats": repeats, "months": steps, "run_s": run_s, "kernel_s": kernel_s,
            "python_s": run_s - kernel_s, "kernel_share": kernel_s / run_s,
            "kernel_calls": statistics.median(calls), "by_kernel": top}
