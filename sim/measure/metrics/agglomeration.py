"""Agglomeration: location quotients, the Ellison-Glaeser index, and Moran's I of spatial
autocorrelation; the small region-by-sector tables' indicators in one kernel.

Part of :mod:`sim.measure.metrics` (its docstring gives the sources and conventions).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt
import scipy.sparse

from sim.measure.metrics.checks import (
    NAN,
    alive_mask,
    as_vector,
    check_count,
    check_finite,
    dot,
    firm_table,
)

#: Cells per side of the grid on which :func:`grid_morans_i` (and the data collector, through
#: :func:`sim.measure.metrics.firm_indicators`) sums employment: 16 x 16 = 256 cells. A choice of
#: scale, not a figure from a source: on the default 60 km landscape a cell is 3.75 km across,
#: about ``tie_radius`` (3 km), the distance at which firms meet partners, so the index asks
#: whether employment clumps at the scale of a firm's neighbourhood. Moran's I depends on the
#: cell size (the modifiable areal unit problem); pass ``n_cells`` to measure at another scale.
MORAN_GRID_CELLS = 16


def location_quotients(emp: npt.ArrayLike, region: npt.ArrayLike, sector: npt.ArrayLike,
                       alive: npt.ArrayLike, n_regions: int, n_sectors: int) -> np.ndarray:
    """Location quotients ``LQ_ir = (e_ir / e_r) / (E_i / E)`` by employment.

    ``e_ir`` is sector i's employment in region r, ``e_r`` region r's, ``E_i`` sector i's and
    ``E`` the total, all over alive firms. LQ > 1: the sector is over-represented in the region.

    Parameters
    ----------
    emp : array_like of float, shape (N,)
        Employees per firm slot; finite and >= 0 for alive firms.
    region : array_like of int, shape (N,)
        Region codes, ``0..n_regions-1`` for alive firms.
    sector : array_like of int, shape (N,)
        Sector codes, ``0..n_sectors-1`` for alive firms.
    alive : array_like of bool, shape (N,)
    n_regions, n_sectors : int
        Number of regions and sectors (>= 1).

    Returns
    -------
    numpy.ndarray of float64, shape (n_sectors, n_regions)
        ``nan`` where the region or the sector has no employment.
    """
    e, _, _ = firm_table(emp, region, sector, alive, n_regions, n_sectors)
    return lq_of_table(e)


def lq_of_table(e: np.ndarray) -> np.ndarray:
    """Location quotients from the sector x region employment table (float64[S, R])."""
    e_sector = e.sum(axis=1)
    e_region = e.sum(axis=0)
    total = e_sector.sum()
    # LQ_ir = e_ir * E / (E_i * e_r): one division, defined exactly where E_i > 0 and e_r > 0
    denom = np.outer(e_sector, e_region)
    out = np.full(e.shape, np.nan)
    np.divide(e * total, denom, out=out, where=denom > 0)
    return out


def ellison_glaeser_parts(emp: npt.ArrayLike, region: npt.ArrayLike, sector: npt.ArrayLike,
                          alive: npt.ArrayLike, n_regions: int, n_sectors: int
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ingredients of the Ellison-Glaeser index of each sector i: raw concentration G_i,
    plant Herfindahl H_i, and the reference distribution x^(-i) with its plant Herfindahl.

    The reference of sector i is the employment of all *other* sectors (leave-one-out), so
    that under the dartboard it is independent of sector i's own plant locations.

    Parameters
    ----------
    emp, region, sector, alive, n_regions, n_sectors
        As in :func:`location_quotients`.

    Returns
    -------
    G : numpy.ndarray of float64, shape (n_sectors,)
        ``G_i = sum_r (s_ir - x_r^(-i))^2``, ``s_ir`` region r's share of sector i's employment;
        ``nan`` for a sector without employment or when no other sector has any.
    H : numpy.ndarray of float64, shape (n_sectors,)
        Plant Herfindahl ``H_i = sum_k z_ik^2`` of employment shares within the sector;
        ``nan`` for a sector without employment.
    x : numpy.ndarray of float64, shape (n_sectors, n_regions)
        ``x[i, r] = x_r^(-i) = (E_r - e_ir) / (E - E_i)``: region r's share of the employment
        of all sectors but i; ``nan`` rows when the other sectors have no employment.
    H_other : numpy.ndarray of float64, shape (n_sectors,)
        Plant Herfindahl of all sectors but i together, ``sum_{k not in i} (e_k / (E - E_i))^2``
        (the sampling variance of ``x^(-i)``); ``nan`` as ``x``.
    """
    e, sq, _ = firm_table(emp, region, sector, alive, n_regions, n_sectors)
    return _eg_parts(e, sq)


def _eg_parts(e, sq):
    """G, H, x and H_other of :func:`ellison_glaeser_parts` from the sector x region employment
    table ``e`` (float64[S, R]) and each sector's sum of squared plant employment ``sq``
    (float64[S])."""
    e = np.asarray(e, dtype=np.float64)
    n_sectors, n_regions = e.shape
    e_sector = e.sum(axis=1)
    has = e_sector > 0
    # the other sectors' employment by region; a region where only sector i has employment
    # gets exactly 0 (E_r is then e_ir plus exact zeros)
    e_other = e.sum(axis=0)[None, :] - e
    other = e_sector.sum() - e_sector
    has_other = other > 0
    x = np.full((n_sectors, n_regions), np.nan)
    np.divide(e_other, other[:, None], out=x, where=has_other[:, None])
    s = np.zeros_like(e)
    np.divide(e, e_sector[:, None], out=s, where=has[:, None])
    g = np.where(has & has_other, ((s - np.where(has_other[:, None], x, 0.0)) ** 2).sum(axis=1),
                 np.nan)
    # H_i = sum_k emp_k^2 / E_i^2, and the same over the other sectors' plants
    h = np.full(n_sectors, np.nan)
    np.divide(sq, e_sector * e_sector, out=h, where=has)
    h_other = np.full(n_sectors, np.nan)
    np.divide(sq.sum() - sq, other * other, out=h_other, where=has_other)
    return g, h, x, h_other


def ellison_glaeser(emp: npt.ArrayLike, region: npt.ArrayLike, sector: npt.ArrayLike,
                    alive: npt.ArrayLike, n_regions: int, n_sectors: int) -> np.ndarray:
    """Ellison-Glaeser index of geographic concentration of each sector, unbiased at the null
    with few sectors.

    Ellison & Glaeser (1997, eq. 5) measure sector i's raw concentration
    ``G_i = sum_r (s_ir - x_r)^2`` against x_r, the regions' shares of aggregate activity, and
    net out what independent plant locations with probabilities x_r (the "dartboard") would
    give: ``gamma_i = [G_i - (1 - sum x^2) H_i] / [(1 - sum x^2)(1 - H_i)]``, with E[gamma] = 0
    when x_r are those probabilities. Measured on the model's few sectors, x_r taken from all
    employment contains sector i itself, which pulls x towards s_i and biases gamma down
    (about -0.011 with four sectors and ~500 firms). Here x is, for each sector, the other
    sectors' employment, ``x_r^(-i) = (E_r - e_ir) / (E - E_i)`` (:func:`ellison_glaeser_parts`),
    independent of sector i's plants under the dartboard; being itself a sample of H^(-i)-sized
    plants (``H_other``), it adds its sampling variance to G and to ``sum x^2``, which is netted
    out exactly:

    ``c_i = (1 - sum_r (x_r^(-i))^2) / (1 - H^(-i))``   (unbiased for ``1 - sum_r p_r^2``)

    ``gamma_i = [G_i - c_i (H_i + H^(-i))] / [c_i (1 - H_i)]``

    Under the dartboard (every plant in region r with probability p_r, independently; sizes
    given) ``E[G_i] = (1 - sum p^2)(H_i + H^(-i))`` and ``E[c_i] = 1 - sum p^2``, so the
    numerator has expectation exactly 0 and gamma's mean is 0 up to the second-order bias of a
    ratio (measured, mean and standard error: -0.0001 +- 0.0004 for four sectors of 100
    lognormal plants in three regions, where x from all employment gives -0.0065; +0.004 +-
    0.003 for the default world at set-up, against -0.011 +- 0.005). With many sectors and
    plants (H^(-i) -> 0, x^(-i) -> p) it is EG's eq. 5.
    gamma > 0 signals agglomeration beyond chance, gamma < 0 dispersion.

    Parameters
    ----------
    emp, region, sector, alive, n_regions, n_sectors
        As in :func:`location_quotients`.

    Returns
    -------
    numpy.ndarray of float64, shape (n_sectors,)
        ``nan`` for a sector without employment or with fewer than two plants of positive
        employment (H = 1), and when the other sectors have fewer than two such plants or all
        their employment lies in one region (``c_i = 0``): there is then no reference.
    """
    return eg_of_table(*firm_table(emp, region, sector, alive, n_regions, n_sectors))


def eg_of_table(e, sq, plants):
    """gamma of :func:`ellison_glaeser` from the sector x region employment table ``e``
    (float64[S, R]), each sector's sum of squared plant employment ``sq`` (float64[S]) and its
    number of plants with positive employment ``plants`` (int64[S])."""
    g, h, x, h_other = _eg_parts(e, sq)
    out = np.full(e.shape[0], np.nan)
    plants_other = plants.sum() - plants
    # H = 1 exactly when a single plant has all the employment; counting plants avoids
    # trusting 1 - H to rounding. Other sectors all in one region: sum x^2 = 1, c = 0.
    ok = ((plants >= 2) & (plants_other >= 2)
          & (np.count_nonzero(np.nan_to_num(x) > 0, axis=1) >= 2))
    if not ok.any():
        return out
    xk, hk, hok = x[ok], h[ok], h_other[ok]
    c = (1.0 - np.einsum("ij,ij->i", xk, xk)) / (1.0 - hok)
    den = c * (1.0 - hk)
    good = den > 0
    gamma = np.full(xk.shape[0], np.nan)
    np.divide(g[ok] - c * (hk + hok), den, out=gamma, where=good)
    out[ok] = gamma
    return out


# ------------------------------------------------- the small tables' indicators in one kernel
#
# The recorder computes the Ellison-Glaeser gamma, the location quotients, the regions'
# Herfindahl index and Moran's I of the employment grid every month from tables of a few dozen
# cells (sectors x regions, and the grid). In numpy that is some sixty calls on tiny arrays, about
# 0.1 ms a month; :func:`table_indicators` does it in one compiled call. It adds in numpy's
# order, so that it gives the numpy functions above (its twins) to the bit: a sum over a
# contiguous row is numpy's pairwise sum (:func:`pairwise_sum`), a sum down a column adds the
# rows in order, and the squared norm of gamma's reference distribution is added as
# ``np.einsum`` adds it (:func:`_einsum_square`). tests/test_metrics.py checks both against
# numpy on random tables.


@numba.njit(cache=True)
def _pairwise_block(a, lo, n):
    """``a[lo:lo+n].sum()`` in numpy's order for ``n <= 128`` (float64[:], contiguous): fewer
    than 8 added in order, else eight interleaved partial sums, then the rest in order."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(cache=True)
def pairwise_sum(a, lo, n):
    """``a[lo:lo+n].sum()`` in numpy's order (float64[:], contiguous): numpy's ``pairwise_sum``,
    which splits a run longer than 128 in two at a multiple of 8 and adds the halves' sums,
    down to blocks of at most 128 (:func:`_pairwise_block`). Walked with a stack of its own:
    numba's cache cannot load a function that calls itself."""
    if n <= 128:
        return _pairwise_block(a, lo, n)
    at = np.empty(64, dtype=np.int64)  # the frames: first slot, length, left half's sum, stage
    length = np.empty(64, dtype=np.int64)
    left = np.empty(64)
    stage = np.empty(64, dtype=np.int64)  # 1: summing the left half, 2: the right half
    top = 0
    at[0] = lo
    length[0] = n
    while True:
        if length[top] > 128:  # split: the left half first
            half = length[top] // 2
            half -= half % 8
            stage[top] = 1
            top += 1
            at[top] = at[top - 1]
            length[top] = half
            continue
        val = _pairwise_block(a, at[top], length[top])
        top -= 1
        while top >= 0 and stage[top] == 2:  # a right half done: add it to its left half
            val = left[top] + val
            top -= 1
        if top < 0:
            return val
        left[top] = val  # a left half done: now its right half
        stage[top] = 2
        half = length[top] // 2
        half -= half % 8
        top += 1
        at[top] = at[top - 1] + half
        length[top] = length[top - 1] - half


@numba.njit(cache=True)
def _einsum_square(x):
    """``np.einsum("i,i->", x, x)`` in its order (float64[:]): two interleaved partial sums
    (numpy's 128-bit vectors of two lanes), four pairs at a time taken last pair first, the rest
    a pair at a time with a missing second lane counting 0, then the two lanes added."""
    n = x.shape[0]
    a0 = 0.0
    a1 = 0.0
    i = 0
    while n - i >= 8:
        for k in range(3, -1, -1):
            a0 = x[i + 2 * k] * x[i + 2 * k] + a0
            a1 = x[i + 2 * k + 1] * x[i + 2 * k + 1] + a1
        i += 8
    while i < n:
        a0 = x[i] * x[i] + a0
        if i + 1 < n:
            a1 = x[i + 1] * x[i + 1] + a1
        i += 2
    return 0.0 + (a0 + a1)


@numba.njit(cache=True, error_model="numpy")  # x / 0 is inf or nan, as in numpy
def table_indicators(e, sq, plants, grid):
    """The Ellison-Glaeser gamma, location quotients, regions' Herfindahl index and Moran's I of
    :func:`firm_indicators` from its tables, as :func:`eg_of_table`,
    :func:`lq_of_table`, :func:`herfindahl` and :func:`morans_i_of_grid` compute them
    (to the bit).

    Parameters
    ----------
    e : float64[S, R], C-contiguous
        Employment of sector i in region r; finite and >= 0.
    sq : float64[S]
        Sum of squared plant employment per sector.
    plants : int64[S]
        Plants with positive employment per sector.
    grid : float64[m, m], C-contiguous
        Employment per grid cell.

    Returns
    -------
    (float64[S], float64[S, R], float, float)
        gamma (nan where undefined), LQ (nan where the sector or the region has no employment),
        the Herfindahl index of the regions' employment (nan if there is none) and Moran's I
        (nan for a constant grid).
    """
    n_s, n_r = e.shape
    nan = np.nan
    e_sector = np.empty(n_s)
    for i in range(n_s):
        e_sector[i] = pairwise_sum(e[i], 0, n_r)
    e_region = np.zeros(n_r)
    for i in range(n_s):
        for r in range(n_r):
            e_region[r] += e[i, r]
    total = pairwise_sum(e_sector, 0, n_s)
    sq_total = pairwise_sum(sq, 0, n_s)
    plants_total = 0
    for i in range(n_s):
        plants_total += plants[i]

    lq = np.full((n_s, n_r), nan)
    for i in range(n_s):
        for r in range(n_r):
            denom = e_sector[i] * e_region[r]
            if denom > 0:
                lq[i, r] = e[i, r] * total / denom

    gamma = np.full(n_s, nan)
    x = np.empty(n_r)
    d = np.empty(n_r)
    for i in range(n_s):
        other = total - e_sector[i]
        if not (plants[i] >= 2 and plants_total - plants[i] >= 2 and other > 0):
            continue
        positive = 0
        for r in range(n_r):
            x[r] = (e_region[r] - e[i, r]) / other
            if x[r] > 0:
                positive += 1
        if positive < 2:
            continue
        # plants >= 2 means positive employment: e_sector > 0
        for r in range(n_r):
            dev = e[i, r] / e_sector[i] - x[r]
            d[r] = dev * dev
        g = pairwise_sum(d, 0, n_r)
        h = sq[i] / (e_sector[i] * e_sector[i])
        h_other = (sq_total - sq[i]) / (other * other)
        c = (1.0 - _einsum_square(x)) / (1.0 - h_other)
        den = c * (1.0 - h)
        if den > 0:
            gamma[i] = (g - c * (h + h_other)) / den

    herf = nan
    region_total = pairwise_sum(e_region, 0, n_r)
    if n_r > 0 and region_total > 0:
        for r in range(n_r):
            share = e_region[r] / region_total
            d[r] = share * share
        herf = pairwise_sum(d, 0, n_r)

    m = grid.shape[0]
    flat = grid.ravel()
    if flat.min() == flat.max():
        return gamma, lq, herf, nan
    mean = pairwise_sum(flat, 0, m * m) / (m * m)
    z = grid - mean
    across = np.empty(m * (m - 1))
    down = np.empty(m * (m - 1))
    for a in range(m):
        for b in range(m - 1):
            across[a * (m - 1) + b] = z[a, b] * z[a, b + 1]
    for a in range(m - 1):
        for b in range(m):
            down[a * m + b] = z[a, b] * z[a + 1, b]
    zz = z.ravel() * z.ravel()
    cross = 2.0 * (pairwise_sum(across, 0, m * (m - 1)) + pairwise_sum(down, 0, m * (m - 1)))
    s0 = 4.0 * m * (m - 1)
    return gamma, lq, herf, m * m / s0 * cross / pairwise_sum(zz, 0, m * m)


# ------------------------------------------------------------------- spatial autocorrelation


def morans_i(values: npt.ArrayLike, weights) -> float:
    """Moran's I of ``values`` under a spatial weight matrix.

    ``I = (n / S0) sum_ij w_ij z_i z_j / sum_i z_i^2`` with ``z = values - mean(values)`` and
    ``S0 = sum_ij w_ij`` (Moran 1950). I near +1: neighbours alike; near -1: neighbours opposite;
    under random permutation of the values ``E[I] = -1 / (n - 1)``. Costs one product with the
    matrix, so use a ``scipy.sparse`` matrix for anything but small n.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Finite values per unit.
    weights : array_like of float or scipy.sparse matrix/array, shape (n, n)
        Spatial weights; the diagonal is normally 0.

    Returns
    -------
    float
        ``nan`` if n < 2, all values are equal, or the weights sum to 0.
    """
    v = as_vector("values", values)
    check_finite("values", v)
    n = v.shape[0]
    if scipy.sparse.issparse(weights):
        # CSR gives one flat .data array for every input format (a no-op if already CSR)
        w = weights.tocsr()
        if w.shape != (n, n):
            raise ValueError(f"weights: expected shape {(n, n)}, got {w.shape}")
        check_finite("weights", np.asarray(w.data, dtype=np.float64))
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (n, n):
            raise ValueError(f"weights: expected shape {(n, n)}, got {w.shape}")
        check_finite("weights", w)
    if n < 2 or v.min() == v.max():  # equal values: z would be pure rounding noise
        return NAN
    s0 = float(w.sum())
    if s0 == 0:
        return NAN
    z = v - v.mean()
    wz = np.asarray(w @ z, dtype=np.float64).ravel()
    return float(n / s0 * dot(z, wz) / dot(z, z))


def morans_i_of_grid(grid: np.ndarray) -> float:
    """Moran's I of a 2-D grid with binary rook weights (shared edges, no wrap-around).

    Parameters
    ----------
    grid : float64[m, m]

    Returns
    -------
    float
        ``nan`` if the grid is constant.
    """
    m = grid.shape[0]
    if grid.min() == grid.max():
        return NAN
    z = grid - grid.mean()
    # each unordered rook pair appears twice in sum_ij w_ij z_i z_j (w symmetric)
    cross = 2.0 * (np.sum(z[:, :-1] * z[:, 1:]) + np.sum(z[:-1, :] * z[1:, :]))
    s0 = 4.0 * m * (m - 1)  # 2 m (m - 1) rook pairs, each counted twice
    return float(m * m / s0 * cross / np.sum(z * z))


def world_size_of(world_size) -> float:
    size = float(world_size)
    if not (np.isfinite(size) and size > 0):
        raise ValueError(f"world_size: got {world_size!r}; allowed: a finite number > 0")
    return size


def grid_morans_i(x: npt.ArrayLike, y: npt.ArrayLike, values: npt.ArrayLike,
                  alive: npt.ArrayLike, world_size: float,
                  n_cells: int = MORAN_GRID_CELLS) -> float:
    """Moran's I of a firm variable summed on a square grid, with rook contiguity.

    The square ``[0, world_size]^2`` is cut into ``n_cells x n_cells`` cells; each cell's value
    is the sum of ``values`` over the alive firms in it (0 for an empty cell, which still counts
    as a unit). Cells sharing an edge are neighbours with weight 1; the grid does not wrap. With
    ``values = emp`` this measures whether employment clumps in space. O(N + n_cells^2).

    Parameters
    ----------
    x, y : array_like of float, shape (N,)
        Firm locations, km; for alive firms within ``[0, world_size]``.
    values : array_like of float, shape (N,)
        Variable to aggregate; finite for alive firms.
    alive : array_like of bool, shape (N,)
    world_size : float
        Side of the square world, km (> 0).
    n_cells : int
        Cells per side (>= 2); default :data:`MORAN_GRID_CELLS` (16).

    Returns
    -------
    float
        ``nan`` if all cells hold the same total (e.g. no alive firms).
    """
    x = as_vector("x", x)
    n = x.shape[0]
    y = as_vector("y", y, n)
    values = as_vector("values", values, n)
    alive = alive_mask(alive, n)
    n_cells = check_count("n_cells", n_cells, minimum=2)
    size = world_size_of(world_size)
    xa, ya, va = x[alive], y[alive], values[alive]
    check_finite("values", va)
    for name, c in (("x", xa), ("y", ya)):
        check_finite(name, c)
        if c.size and (c.min() < 0 or c.max() > size):
            raise ValueError(f"{name}: alive firms must lie in [0, {size}], "
                             f"found {c.min()}..{c.max()}")
    scale = n_cells / size
    # a firm exactly on the far edge goes into the last cell, not a cell beyond the grid
    ix = np.minimum((xa * scale).astype(np.int64), n_cells - 1)
    iy = np.minimum((ya * scale).astype(np.int64), n_cells - 1)
    grid = np.bincount(iy * n_cells + ix, weights=va, minlength=n_cells * n_cells)
    return morans_i_of_grid(grid.reshape(n_cells, n_cells))
