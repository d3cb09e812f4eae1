"""Input checks shared by the metrics: every argument named in its error.

Part of :mod:`sim.measure.metrics` (its docstring gives the sources and conventions).
"""

from __future__ import annotations

import operator

import numpy as np
import numpy.typing as npt

NAN = float("nan")

#: Keys per chunk of the radix sort's parallel passes. The sorted output is unique, so this only
#: trades the per-chunk digit counts (256 each, added up serially) against parallel slack.
SORT_CHUNK = 16384
#: At most this many keys are sorted by numba's quicksort instead (a third of the radix sort's
#: time at 500 keys, whose eight passes each clear and scan 256 counters); the sorted sequence
#: is the same.
SMALL_SORT = 1024


# --------------------------------------------------------------------------- input checks


def as_vector(name: str, a: npt.ArrayLike, n: int | None = None) -> np.ndarray:
    """``a`` as a 1-D float64 array (no copy if it already is one), optionally of length ``n``."""
    v = np.asarray(a, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {v.shape}")
    if n is not None and v.shape[0] != n:
        raise ValueError(f"{name}: expected length {n}, got {v.shape[0]}")
    return v


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``sum(a * b)`` by numpy's pairwise summation, never through BLAS.

    ``np.dot`` hands long vectors to OpenBLAS, whose threaded ``ddot`` splits the sum by the
    machine's core count and CPU kernel (so the last bits depend on the machine) and whose
    worker threads then spin on the other core for milliseconds, starving numba's threads.
    """
    return float(np.multiply(a, b).sum())


def check_finite(name: str, v: np.ndarray, nonnegative: bool = False) -> None:
    """Raise unless every entry of ``v`` is finite (and >= 0 if ``nonnegative``)."""
    if v.size == 0:
        return
    if not np.isfinite(v).all():
        raise ValueError(f"{name}: values must be finite (found nan or inf)")
    if nonnegative and v.min() < 0:
        raise ValueError(f"{name}: values must be >= 0 (found {v.min()!r})")


def alive_mask(alive: npt.ArrayLike, n: int | None = None) -> np.ndarray:
    """``alive`` as a 1-D bool array. Integer arrays are refused: they would index, not mask."""
    m = np.asarray(alive)
    if m.dtype != np.bool_:
        raise ValueError(f"alive: expected a bool array, got dtype {m.dtype}")
    if m.ndim != 1:
        raise ValueError(f"alive: expected a 1-D array, got shape {m.shape}")
    if n is not None and m.shape[0] != n:
        raise ValueError(f"alive: expected length {n}, got {m.shape[0]}")
    return m


def check_count(name: str, value: int, minimum: int = 1) -> int:
    try:
        k = operator.index(value)
    except TypeError:
        raise ValueError(f"{name}: expected an integer, got {value!r}") from None
    if k < minimum:
        raise ValueError(f"{name}: got {k}; allowed: an integer >= {minimum}")
    return k


def check_codes(name: str, codes: npt.ArrayLike, n_codes: int) -> np.ndarray:
    """Integer codes as int64, checked to lie in ``0..n_codes-1``."""
    c = np.asarray(codes)
    if c.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {c.shape}")
    if c.size and not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"{name}: expected integer codes, got dtype {c.dtype}")
    c = c.astype(np.int64, copy=False)
    if c.size and (c.min() < 0 or c.max() >= n_codes):
        raise ValueError(f"{name}: codes must lie in 0..{n_codes - 1}, "
                         f"found {c.min()}..{c.max()}")
    return c


def firm_table(emp, region, sector, alive, n_regions, n_sectors):
    """The sector x region employment table of the alive firms, with per-sector plant sums.

    Returns
    -------
    e : float64[n_sectors, n_regions]
        ``e[i, r]``: employment of sector i in region r.
    sq : float64[n_sectors]
        Sum of squared plant employment in each sector.
    plants : int64[n_sectors]
        Plants with positive employment in each sector.
    """
    emp = as_vector("emp", emp)
    alive = alive_mask(alive, emp.shape[0])
    n_regions = check_count("n_regions", n_regions)
    n_sectors = check_count("n_sectors", n_sectors)
    region = np.asarray(region)
    sector = np.asarray(sector)
    for name, c in (("region", region), ("sector", sector)):
        if c.shape != emp.shape:
            raise ValueError(f"{name}: expected shape {emp.shape}, got {c.shape}")
    emp_a = emp[alive]
    check_finite("emp", emp_a, nonnegative=True)
    # dead slots may hold stale codes, so only alive firms' codes are checked
    reg_a = check_codes("region", region[alive], n_regions)
    sec_a = check_codes("sector", sector[alive], n_sectors)
    # one bincount over the flattened (sector, region) cell keeps this O(N)
    e = np.bincount(sec_a * n_regions + reg_a, weights=emp_a, minlength=n_sectors * n_regions)
    sq = np.bincount(sec_a, weights=emp_a * emp_a, minlength=n_sectors)
    plants = np.bincount(sec_a[emp_a > 0], minlength=n_sectors)
    return e.reshape(n_sectors, n_regions), sq, plants
