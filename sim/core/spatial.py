"""Neighbour search in O(N): a cell list (counting sort of firms into square cells).

Firms meet partners within ``radius``. The landscape is cut into square cells at least
``radius`` wide, so every neighbour of a firm lies in the 3 x 3 block of cells around it. To draw
a random neighbour we draw a random firm from that block (cell chosen with probability
proportional to its count, then a member uniformly) and accept it if it is within the radius:
this samples uniformly among the neighbours in O(1) expected time per draw, whatever the density,
instead of scanning the block.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from sim.core.parallel import parallel_kernel
from sim.core.totals import CHUNK

__all__ = ["CellList", "build_cell_list", "random_neighbour", "spatial_order"]

#: At most this many cells along a side: bounds memory for tiny radii in large landscapes.
MAX_CELLS_PER_SIDE = 2048
#: The parallel cell-list build keeps a chunk x cell table of counts; above this many entries it
#: counts in one chunk instead.
MAX_TABLE = 4_000_000


class CellList(NamedTuple):
    """Firms sorted by cell (a named tuple: made every month, and a tuple is made in a fraction
    of the time a frozen dataclass takes).

    start : int64[n_cells + 1]  members of cell c are ``members[start[c]:start[c+1]]``
    members : int64[n_alive]    firm slots, grouped by cell, in increasing slot order within a cell
    cell_size : float           km
    side : int                  cells along each side
    """

    start: np.ndarray
    members: np.ndarray
    cell_size: float
    side: int


def spatial_order(x: np.ndarray, y: np.ndarray, world_size: float) -> np.ndarray:
    """Indices that sort points along a Z-order (Morton) curve over ``[0, world_size]^2``:
    points close in space end up close in the order."""
    scale = 65535.0 / max(world_size, 1e-12)
    qx = np.clip(x * scale, 0, 65535).astype(np.uint64)
    qy = np.clip(y * scale, 0, 65535).astype(np.uint64)
    return np.argsort(_spread_bits(qx) | (_spread_bits(qy) << np.uint64(1)), kind="stable")


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Insert a zero bit between each of the low 16 bits of ``v`` (uint64)."""
    v = v & np.uint64(0xFFFF)
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def build_cell_list(x: np.ndarray, y: np.ndarray, alive: np.ndarray, world_size: float,
                    radius: float) -> CellList:
    """Sort live firms into square cells of side >= ``radius`` covering ``[0, world_size]^2``."""
    side = int(max(1, min(MAX_CELLS_PER_SIDE, world_size // max(radius, 1e-9))))
    cell_size = world_size / side
    start, members = _cell_list(x, y, alive, cell_size, side)
    return CellList(start, members, cell_size, side)


@numba.njit(cache=True)
def _cell_of(x, y, cell_size, side):
    cx = min(max(int(x / cell_size), 0), side - 1)
    cy = min(max(int(y / cell_size), 0), side - 1)
    return cy * side + cx


@parallel_kernel
def _cell_list(x, y, alive, cell_size, side):
    """Counting sort of live firms into cells, in parallel over fixed chunks of slots.

    Each chunk counts its firms per cell; a serial pass turns the counts into each chunk's first
    position within each cell (chunks in slot order); each chunk then places its firms. Members
    of a cell come out in increasing slot order, as in a serial counting sort. With a single
    chunk of slots, or when the chunk x cell table would be large (many cells), the serial
    counting sort (:func:`_counting_sort`) runs instead: the same result.

    Parameters
    ----------
    x, y : float64[N]
    alive : bool[N]
    cell_size : float
    side : int

    Returns
    -------
    start : int64[side*side + 1]
    members : int64[n_alive]
    """
    n = x.shape[0]
    n_cells = side * side
    n_chunks = max(1, (n + CHUNK - 1) // CHUNK)
    if n_chunks == 1 or n_chunks * n_cells > MAX_TABLE:
        return _counting_sort(x, y, alive, cell_size, side)
    size = (n + n_chunks - 1) // n_chunks
    count = np.zeros((n_chunks, n_cells), dtype=np.int64)
    cell = np.empty(n, dtype=np.int64)
    for c in numba.prange(n_chunks):
        for i in range(c * size, min(n, (c + 1) * size)):
            if alive[i]:
                k = _cell_of(x[i], y[i], cell_size, side)
                cell[i] = k
                count[c, k] += 1
    start = np.zeros(n_cells + 1, dtype=np.int64)
    fill = np.empty((n_chunks, n_cells), dtype=np.int64)
    pos = 0
    for k in range(n_cells):
        start[k] = pos
        for c in range(n_chunks):
            fill[c, k] = pos
            pos += count[c, k]
    start[n_cells] = pos
    members = np.empty(pos, dtype=np.int64)
    for c in numba.prange(n_chunks):
        for i in range(c * size, min(n, (c + 1) * size)):
            if alive[i]:
                k = cell[i]
                members[fill[c, k]] = i
                fill[c, k] += 1
    return start, members


@numba.njit(cache=True)
def _counting_sort(x, y, alive, cell_size, side):
    """:func:`_cell_list` in one serial pass of counting and one of placing, without the
    chunk x cell tables (a model of a few hundred firms builds its cell list every month)."""
    n = x.shape[0]
    n_cells = side * side
    start = np.zeros(n_cells + 1, dtype=np.int64)
    cell = np.empty(n, dtype=np.int64)
    for i in range(n):
        if alive[i]:
            k = _cell_of(x[i], y[i], cell_size, side)
            cell[i] = k
            start[k + 1] += 1
    for k in range(n_cells):
        start[k + 1] += start[k]
    fill = start[:n_cells].copy()  # the next free position in each cell
    members = np.empty(start[n_cells], dtype=np.int64)
    for i in range(n):
        if alive[i]:
            members[fill[cell[i]]] = i
            fill[cell[i]] += 1
    return start, members


@numba.njit(cache=True)
def random_neighbour(i, x, y, start, members, cell_size, side, radius, u):
    """A uniformly random other firm within ``radius`` of firm i, or -1 after len(u) tries.

    u : T uniforms (an array or a tuple), one per try: which member of the 3 x 3 block to
        look at, counting the block's members row of cells by row of cells, each row's cells
        left to right. A row's cells are consecutive, so their members are one run of
        ``members``: the block is three runs (fewer at the edges), and a draw is found without
        any array of its own.
    """
    cx = min(max(int(x[i] / cell_size), 0), side - 1)
    cy = min(max(int(y[i] / cell_size), 0), side - 1)
    x0 = max(cx - 1, 0)
    x1 = min(cx + 1, side - 1)
    y0 = max(cy - 1, 0)
    y1 = min(cy + 1, side - 1)
    total = 0
    for gy in range(y0, y1 + 1):
        total += start[gy * side + x1 + 1] - start[gy * side + x0]
    if total <= 1:
        return -1
    r2 = radius * radius
    for t in range(len(u)):
        pick = min(int(u[t] * total), total - 1)
        gy = y0  # the row of cells holding the pick-th member
        while pick >= start[gy * side + x1 + 1] - start[gy * side + x0]:
            pick -= start[gy * side + x1 + 1] - start[gy * side + x0]
            gy += 1
        j = members[start[gy * side + x0] + pick]
        if j == i:
            continue
        ddx = x[j] - x[i]
        ddy = y[j] - y[i]
        if ddx * ddx + ddy * ddy <= r2:
            return j
    return -1
