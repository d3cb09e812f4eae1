"""One set of caps for every command that runs the model: months, replicates, futures, seeds,
workers, design size and the memory a design needs, checked before the design is built.

``run``, ``compare``, ``robust``, ``sweep`` and ``calibrate`` call these functions, so that a value
refused by one is refused by all, with the same words. A number past a cap gets one
:class:`~sim.core.errors.InputError` line naming the option (or the file and key) and what is
allowed, before anything is laid out, run or written: a billion months, a billion futures or a
design larger than the machine's memory would otherwise hang the command or exhaust memory.
"""

from __future__ import annotations

import math
import os

from sim.core.errors import InputError
from sim.io.scenario import META_FIELDS

__all__ = ["MAX_STEPS", "MAX_REPS", "MAX_FUTURES", "MAX_RUNS", "MAX_SEED", "RUN_PLAN_BYTES",
           "max_workers", "check_steps", "check_reps", "check_futures", "check_seed",
           "check_workers", "check_threads", "check_positive", "check_design", "memory_bytes"]

#: Most months of one run: the cap of a scenario file's ``steps`` (``run --steps`` had it first).
MAX_STEPS: int = META_FIELDS["steps"].metadata["hi"]
#: Most replicates per scenario (compare), per policy and future (robust) or per point.
MAX_REPS = 10_000
#: Most futures of a robustness study.
MAX_FUTURES = 10_000
#: Most runs of one design (points x replicates; policies x futures x replicates).
MAX_RUNS = 1_000_000
#: Largest seed: seeds are stored as 64-bit integers.
MAX_SEED = 2**63 - 1
#: Memory a planned run takes while its sweep runs (its spec and its row).
RUN_PLAN_BYTES = 2_500
#: Share of this machine's memory a design may plan to use.
MEMORY_SHARE = 0.5


def max_workers() -> int:
    """Most local worker processes: four per core (each holds a model and its kernels)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(8, 4 * cores)


def _integer(option: str, value, lo: int, hi: int, what: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InputError(option, "", f"got {value!r}; allowed: an integer from {lo:,} to "
                         f"{hi:,}{what}")
    return value


def check_steps(steps: int | None, option: str = "--steps", lo: int = 1) -> int | None:
    """Months: ``lo`` to :data:`MAX_STEPS` (None: the scenario's own, capped by its file)."""
    return None if steps is None else _integer(option, steps, lo, MAX_STEPS)


def check_reps(reps: int, option: str = "--reps", lo: int = 1) -> int:
    """Replicates: ``lo`` to :data:`MAX_REPS`."""
    return _integer(option, reps, lo, MAX_REPS)


def check_futures(futures: int, option: str = "--futures") -> int:
    """Futures of a robustness study: 2 to :data:`MAX_FUTURES`."""
    return _integer(option, futures, 2, MAX_FUTURES)


def check_seed(seed: int, option: str = "--seed") -> int:
    """A root seed: 0 to :data:`MAX_SEED`."""
    return _integer(option, seed, 0, MAX_SEED)


def check_workers(workers: int | None, option: str = "--workers") -> int | None:
    """Local worker processes: 1 to :func:`max_workers` (None: one per core)."""
    return None if workers is None else _integer(option, workers, 1, max_workers(),
                                                  " (four per core)")


def check_threads(threads: int, option: str = "--threads") -> int:
    """Numba threads of one run: 1 to numba's own cap (``NUMBA_NUM_THREADS``, the cores)."""
    import numba

    return _integer(option, threads, 1, numba.config.NUMBA_NUM_THREADS,
                    " (numba's threads on this machine)")


def check_positive(value: float | None, option: str, what: str = "") -> float | None:
    """A finite number > 0 (None passes: the caller decides whether it is needed)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value <= 0:
        raise InputError(option, "", f"got {value!r}; allowed: a finite number > 0{what}")
    return float(value)


def memory_bytes() -> int:
    """This machine's memory (0 when it cannot be told)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return 0


def check_design(runs: int, steps: int = 0, series: int = 0, *, source: str = "design",
                 key: str = "", held: bool = False) -> None:
    """Refuse a design of more than :data:`MAX_RUNS` runs, or one whose plan (and, with
    ``held``, every run's ``series`` outcomes over ``steps + 1`` months, as a comparison holds
    them for its report) would take more than half this machine's memory.

    Raises
    ------
    InputError
        Naming ``source`` and ``key``, the size and what is allowed.
    """
    if runs > MAX_RUNS:
        raise InputError(source, key, f"{runs:,} runs; allowed: at most {MAX_RUNS:,} runs in "
                         "one study (split it into several)")
    need = runs * RUN_PLAN_BYTES + (runs * (steps + 1) * (series + 4) * 8 if held else 0)
    have = memory_bytes()
    if have and need > MEMORY_SHARE * have:
        raise InputError(source, key, f"{runs:,} runs of {steps:,} months would need about "
                         f"{need / 2**30:,.1f} GiB of memory; allowed: at most "
                         f"{MEMORY_SHARE * have / 2**30:,.1f} GiB (half of this machine's): "
                         "fewer runs, months or outcomes kept")
