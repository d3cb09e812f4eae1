"""Every step at once: the recorder's fast paths over the firm arrays (firm indicators, totals
and counts over live firms), equal to the single metrics up to the order of summation.

Part of :mod:`sim.measure.metrics` (its docstring gives the sources and conventions).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from sim.core.parallel import parallel_kernel
from sim.core.totals import CHUNK, add_chunks
from sim.measure.metrics.agglomeration import (
    MORAN_GRID_CELLS,
    eg_of_table,
    ellison_glaeser,
    grid_morans_i,
    lq_of_table,
    morans_i_of_grid,
    table_indicators,
    world_size_of,
)
from sim.measure.metrics.checks import NAN, alive_mask, as_vector, check_count
from sim.measure.metrics.inequality import (
    gini_of_sorted,
    herfindahl,
    productivity_stats,
    size_bounds,
    size_bounds_once,
    size_class_shares,
    sorted_values,
)


@parallel_kernel
def _firm_sums(alive, emp, prod, bounds):
    """Alive firms, their employment and productivity totals and their size classes.

    Parameters
    ----------
    alive : bool[N]
    emp, prod : float64[N]
        Employees and productivity per slot.
    bounds : float64[B]
        Strictly increasing size-class bounds (class k: ``bounds[k-1] <= emp < bounds[k]``).

    Returns
    -------
    (int, float, float, int64[B + 1], bool)
        Alive firms, total employment, total productivity, firms per size class, and whether an
        alive firm has a non-finite or negative employment or a non-finite productivity. The
        totals are summed over chunks of ``CHUNK`` slots in parallel, then over chunks in
        order.
    """
    n = alive.shape[0]
    n_bounds = bounds.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    classes = np.zeros((n_chunks, n_bounds + 1), dtype=np.int64)
    sums = np.zeros((n_chunks, 2))
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in numba.prange(n_chunks):
        emp_total = 0.0
        prod_total = 0.0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not alive[i]:
                continue
            e = emp[i]
            if not (np.isfinite(e) and e >= 0.0 and np.isfinite(prod[i])):
                bad[c] = True
            k = 0
            while k < n_bounds and bounds[k] <= e:  # emp == bound goes into the upper class
                k += 1
            classes[c, k] += 1
            emp_total += e
            prod_total += prod[i]
        sums[c, 0] = emp_total
        sums[c, 1] = prod_total
    emp_sum, prod_sum = add_chunks(sums)
    per_class = add_chunks(classes)
    return per_class.sum(), emp_sum, prod_sum, per_class, bad.any()


@parallel_kernel
def _squared_deviations(alive, x, mean):
    """``sum (x_i - mean)^2`` over alive slots (bool[N], float64[N]), summed over chunks of
    ``CHUNK`` slots in parallel, then over chunks in order."""
    n = x.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, 1))
    for c in numba.prange(n_chunks):
        total = 0.0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                total += (x[i] - mean) ** 2
        part[c, 0] = total
    return add_chunks(part)[0]


@parallel_kernel
def _table_sums(alive, emp, region, sector, n_sectors, n_regions):
    """The sector x region employment table and per-sector plant sums of the alive firms.

    Parameters
    ----------
    alive : bool[N]
    emp : float64[N]
    region, sector : int64[N]
        Codes; an alive firm's code outside ``0..n-1`` is skipped and reported.
    n_sectors, n_regions : int

    Returns
    -------
    e : float64[n_sectors, n_regions]
        Employment of sector i in region r.
    sq : float64[n_sectors]
        Sum of squared plant employment per sector.
    plants : int64[n_sectors]
        Plants with positive employment per sector.
    bad : bool
        Whether an alive firm has a code out of range.
    """
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    e_part = np.zeros((n_chunks, n_sectors, n_regions))
    sq_part = np.zeros((n_chunks, n_sectors))
    plants = np.zeros((n_chunks, n_sectors), dtype=np.int64)
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not alive[i]:
                continue
            r = region[i]
            s = sector[i]
            if r < 0 or r >= n_regions or s < 0 or s >= n_sectors:
                bad[c] = True
                continue
            v = emp[i]
            e_part[c, s, r] += v
            sq_part[c, s] += v * v
            if v > 0.0:
                plants[c, s] += 1
    return add_chunks(e_part), add_chunks(sq_part), add_chunks(plants), bad.any()


@parallel_kernel
def _grid_sums(alive, x, y, values, size, n_cells):
    """Sum of ``values`` over the alive firms in each cell of an ``n_cells``-square grid.

    Parameters
    ----------
    alive : bool[N]
    x, y : float64[N]
        Locations in ``[0, size]``; an alive firm outside is skipped and reported.
    values : float64[N]
    size : float
        Side of the square world (> 0).
    n_cells : int

    Returns
    -------
    grid : float64[n_cells, n_cells]
        ``grid[iy, ix]``; a firm on the far edge counts in the last cell.
    bad : bool
        Whether an alive firm lies outside the world or has a non-finite value.
    """
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    scale = n_cells / size
    part = np.zeros((n_chunks, n_cells, n_cells))
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not alive[i]:
                continue
            if not (0.0 <= x[i] <= size and 0.0 <= y[i] <= size and np.isfinite(values[i])):
                bad[c] = True
                continue
            ix = min(int(x[i] * scale), n_cells - 1)
            iy = min(int(y[i] * scale), n_cells - 1)
            part[c, iy, ix] += values[i]
    return add_chunks(part), bad.any()


def _codes_of(name: str, codes: npt.ArrayLike, n: int) -> np.ndarray:
    """Integer codes of every slot as int64, of length ``n`` (their range is checked later)."""
    c = np.asarray(codes)
    if c.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},), got {c.shape}")
    if n and not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"{name}: expected integer codes, got dtype {c.dtype}")
    return np.ascontiguousarray(c, dtype=np.int64)


def firm_indicators(emp: npt.ArrayLike, prod: npt.ArrayLike, region: npt.ArrayLike,
                    sector: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike,
                    alive: npt.ArrayLike, n_regions: int, n_sectors: int, world_size: float,
                    n_cells: int = MORAN_GRID_CELLS, bounds: tuple[float, ...] = (5.0, 50.0, 250.0)
                    ) -> dict[str, Any]:
    """Every indicator of this module that reads only the firm arrays, in a few parallel passes.

    Equal to the single functions below up to the order of summation (relative differences of
    order 1e-15), and bit-identical for any number of numba threads (see the module notes).
    Invalid input raises the error the first failing single function would raise.

    Parameters
    ----------
    emp, prod : array_like of float, shape (N,)
        Employees and productivity per firm slot.
    region, sector, alive, n_regions, n_sectors
        As in :func:`location_quotients`.
    x, y, world_size, n_cells
        As in :func:`grid_morans_i`.
    bounds
        As in :func:`size_class_shares`.

    Returns
    -------
    dict
        ``productivity``
            ``productivity_stats(prod, alive)``
        ``size_classes``
            ``size_class_shares(emp, alive, bounds)``
        ``gini_size``
            ``gini(emp[alive])``
        ``eg_gamma``
            ``ellison_glaeser(emp, region, sector, alive, n_regions, n_sectors)``
        ``lq``
            ``location_quotients(emp, region, sector, alive, n_regions, n_sectors)``
        ``herfindahl_regions``
            ``herfindahl`` of the regions' employment over alive firms
        ``morans_i``
            ``grid_morans_i(x, y, emp, alive, world_size, n_cells)``
    """
    emp = np.ascontiguousarray(as_vector("emp", emp))
    n = emp.shape[0]
    prod = as_vector("prod", prod, n)
    x = as_vector("x", x, n)
    y = as_vector("y", y, n)
    alive = alive_mask(alive, n)
    n_regions = check_count("n_regions", n_regions)
    n_sectors = check_count("n_sectors", n_sectors)
    n_cells = check_count("n_cells", n_cells, minimum=2)
    size = world_size_of(world_size)
    b = size_bounds_once(bounds) if isinstance(bounds, tuple) else size_bounds(bounds)
    region = _codes_of("region", region, n)
    sector = _codes_of("sector", sector, n)

    firms, emp_total, prod_total, classes, bad_values = _firm_sums(alive, emp, prod, b)
    e, sq, plants, bad_codes = _table_sums(alive, emp, region, sector, n_sectors, n_regions)
    grid, bad_places = _grid_sums(alive, x, y, emp, size, n_cells)
    if bad_values or bad_codes or bad_places:
        # the single functions, in the order the recorder used to call them, name the error
        productivity_stats(prod, alive)
        size_class_shares(emp, alive, b)
        ellison_glaeser(emp, region, sector, alive, n_regions, n_sectors)
        grid_morans_i(x, y, emp, alive, size, n_cells)
        raise ValueError("firm arrays: invalid values")  # not reached: one of them raised

    out: dict[str, Any] = {}
    if firms:
        mean = prod_total / firms
        # two passes rather than E[p^2] - E[p]^2, which cancels badly when sd << mean
        out["productivity"] = (mean, float(np.sqrt(_squared_deviations(alive, prod, mean)
                                                   / firms)))
        out["size_classes"] = classes / firms
    else:
        out["productivity"] = (NAN, NAN)
        out["size_classes"] = np.full(b.size + 1, np.nan)
    out["gini_size"] = gini_of_sorted(sorted_values(emp, alive))
    if np.isfinite(e).all() and np.isfinite(sq).all() and np.isfinite(grid).all():
        gamma, lq, herf, moran = table_indicators(e, sq, plants, grid)
        out["eg_gamma"], out["lq"] = gamma, lq
        out["herfindahl_regions"], out["morans_i"] = float(herf), float(moran)
    else:  # totals that overflowed: the numpy twins say what they say of them
        out["eg_gamma"] = eg_of_table(e, sq, plants)
        out["lq"] = lq_of_table(e)
        out["herfindahl_regions"] = herfindahl(e.sum(axis=0))
        out["morans_i"] = morans_i_of_grid(grid)
    return out


@numba.njit(cache=True)
def _sum_alive(x, alive, lo, hi):
    """Sum of ``x[i]`` over alive ``i`` in ``lo..hi-1`` (float64[N], bool[N]).

    Slot ``lo + 4q + r`` goes to partial sum r, and the four are added as ``(s0 + s1) + (s2 +
    s3)``: four independent chains of additions, where one chain would wait for each addition
    to finish before the next (about 1.3x faster over the 5 sums of a recorded row).
    """
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    i = lo
    while i + 4 <= hi:
        if alive[i]:
            s0 += x[i]
        if alive[i + 1]:
            s1 += x[i + 1]
        if alive[i + 2]:
            s2 += x[i + 2]
        if alive[i + 3]:
            s3 += x[i + 3]
        i += 4
    while i < hi:
        if alive[i]:
            s0 += x[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


@parallel_kernel
def _alive_sums(alive, values):
    """Sum of each array of ``values`` (a tuple of float64[N]) over alive slots (bool[N]), over
    chunks of ``CHUNK`` slots in parallel (:func:`_sum_alive`), then over chunks in order
    (float64[len(values)])."""
    n = alive.shape[0]
    m = len(values)
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, m))
    for c in numba.prange(n_chunks):
        for j in range(m):
            part[c, j] = _sum_alive(values[j], alive, c * CHUNK, min(n, (c + 1) * CHUNK))
    return add_chunks(part)


@parallel_kernel
def _alive_holders(alive, codes):
    """For each array of ``codes`` (a tuple of int64[N]), the alive slots (bool[N]) whose code is
    >= 0 (int64[len(codes)])."""
    n = alive.shape[0]
    m = len(codes)
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, m), dtype=np.int64)
    for c in numba.prange(n_chunks):
        for j in range(m):
            code = codes[j]
            held = 0
            for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
                held += alive[i] & (code[i] >= 0)  # no branch: the compiler vectorises it
            part[c, j] = held
    return add_chunks(part)


def alive_totals(alive: npt.ArrayLike, *values: npt.ArrayLike) -> np.ndarray:
    """Sums of firm variables over alive firms, e.g. total employment and output.

    Bit-identical for any number of numba threads; equal to ``v[alive].sum()`` up to the order
    of summation.

    Parameters
    ----------
    alive : array_like of bool, shape (N,)
    *values : array_like of float, shape (N,)
        Variables per firm slot (dead slots may hold anything).

    Returns
    -------
    numpy.ndarray of float64, shape (len(values),)
    """
    alive = alive_mask(alive)
    n = alive.shape[0]
    if not values:
        return np.zeros(0)
    cols = tuple(np.ascontiguousarray(as_vector(f"values[{j}]", v, n))
                 for j, v in enumerate(values))
    return _alive_sums(alive, cols)


def alive_holders(alive: npt.ArrayLike, *codes: npt.ArrayLike) -> np.ndarray:
    """Alive firms holding a code >= 0 in each of ``codes`` (-1 meaning none), e.g. the members
    of purchasing groups or of facility SPVs.

    Parameters
    ----------
    alive : array_like of bool, shape (N,)
    *codes : array_like of int, shape (N,)

    Returns
    -------
    numpy.ndarray of int64, shape (len(codes),)
    """
    alive = alive_mask(alive)
    n = alive.shape[0]
    if not codes:
        return np.zeros(0, dtype=np.int64)
    return _alive_holders(alive, tuple(_codes_of(f"codes[{j}]", c, n)
                                       for j, c in enumerate(codes)))
