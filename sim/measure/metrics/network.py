"""The tie network: degree, density, giant component, clustering and mean trust.

Part of :mod:`sim.measure.metrics` (its docstring gives the sources and conventions).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from sim.core import graph
from sim.core.parallel import parallel_kernel
from sim.core.totals import CHUNK, add_chunks
from sim.measure.metrics.checks import NAN, alive_mask

# error codes of _degree_triangles, turned into messages by tie_stats
_TIE_ERRORS = {
    1: "dead firm {i} has a tie (dead firms must have all -1 rows)",
    2: "firm {i} has a partner index outside -1..N-1",
    3: "firm {i} is tied to itself",
    4: "firm {i} lists the same partner twice",
    5: "alive firm {i} is tied to a dead firm",
    6: "ties are not symmetric: firm {i} lists a partner that does not list it back",
}


@numba.njit(cache=True)
def _degree_triangles_range(partner, alive, degree, triangles, lo, hi, mark):
    """Validate firms ``lo..hi-1`` and count their ties and triangles (see
    :func:`_degree_triangles`); ``mark`` is an int64[N] scratch array filled with -1.
    Returns ``(code, firm)`` of the first error in the range, or ``(0, -1)``."""
    n, k = partner.shape
    for i in range(lo, hi):
        if not alive[i]:
            for a in range(k):
                if partner[i, a] != -1:
                    return 1, i
            continue
        d = 0
        for a in range(k):
            j = partner[i, a]
            if j == -1:
                continue
            if j < 0 or j >= n:
                return 2, i
            if j == i:
                return 3, i
            if mark[j] == i:
                return 4, i
            if not alive[j]:
                return 5, i
            mark[j] = i
            d += 1
        degree[i] = d
        t = 0
        for a in range(k):
            j = partner[i, a]
            if j < 0:
                continue
            back = False
            for b in range(k):
                m = partner[j, b]
                if m == i:
                    back = True
                elif 0 <= m < n and mark[m] == i:
                    t += 1
            if not back:
                return 6, i
        triangles[i] = t // 2
    return 0, -1


@parallel_kernel
def _degree_triangles(partner, alive, degree, triangles, chunks):
    """Validate the tie table and count each firm's ties and triangles.

    Marks firm i's partners with the stamp ``i`` in a scratch array, then for every partner j
    scans j's row for marked firms: each triangle (i, j, k) is seen once from j and once from k,
    so O(N K^2) in total. Symmetry is checked in the same scan (i must appear in j's row).
    Firms are split into contiguous chunks, one scratch array each, processed in parallel; each
    firm's counts depend only on the table, so the result is the same for any thread count.

    Parameters
    ----------
    partner : int[N, K]
        Partner slots, -1 for an empty slot.
    alive : bool[N]
    degree : int64[N]
        Output: number of ties of each alive firm (left untouched for dead firms).
    triangles : int64[N]
        Output: number of triangles through each alive firm (untouched for dead firms).
    chunks : int
        Number of chunks (the number of threads is a good choice); >= 1.

    Returns
    -------
    (int, int)
        ``(0, -1)`` if the table is valid, else an error code (see ``_TIE_ERRORS``) and the
        lowest firm at which one was found.
    """
    n = partner.shape[0]
    chunks = max(1, min(chunks, n))
    codes = np.zeros(chunks, dtype=np.int64)
    firms = np.full(chunks, -1, dtype=np.int64)
    for c in numba.prange(chunks):
        lo = n * c // chunks
        hi = n * (c + 1) // chunks
        mark = np.full(n, -1, dtype=np.int64)
        code, firm = _degree_triangles_range(partner, alive, degree, triangles, lo, hi, mark)
        codes[c] = code
        firms[c] = firm
    for c in range(chunks):  # chunks are in firm order: the first error is the lowest firm
        if codes[c] != 0:
            return codes[c], firms[c]
    return 0, -1


@parallel_kernel
def _tie_sums(partner, alive, triangles, trust):
    """Sums over alive firms and their ties for :func:`tie_stats` and :func:`mean_trust`, in one
    pass over the tie table; floats are summed over chunks of ``CHUNK`` firms in parallel,
    then over chunks in order.

    Parameters
    ----------
    partner : int[N, K]
        Partner slots, -1 for an empty slot.
    alive : bool[N]
    triangles : int64[N] or None
        Triangles through each firm; None skips the clustering (its sum is then 0).
    trust : float64[N, K] or None
        Trust placed in each partner; None skips the trust (its sum is then 0). (numba compiles
        a version per None-ness, with the skipped branch removed.)

    Returns
    -------
    (int, int, int, float, float)
        Alive firms; the sum of their degrees (occupied slots); how many have degree >= 2; the
        sum of those firms' local clustering ``triangles / (d (d - 1) / 2)``; the sum of the
        trust on the occupied slots.
    """
    n, k = partner.shape
    n_chunks = (n + CHUNK - 1) // CHUNK
    counts = np.zeros((n_chunks, 3), dtype=np.int64)
    sums = np.zeros((n_chunks, 2))
    for c in numba.prange(n_chunks):
        firms = 0
        slots = 0
        wedges = 0
        local = 0.0
        trusted = 0.0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not alive[i]:
                continue
            d = 0
            for a in range(k):
                if partner[i, a] >= 0:
                    d += 1
                    if trust is not None:
                        trusted += trust[i, a]
            firms += 1
            slots += d
            if d >= 2:
                wedges += 1
                if triangles is not None:
                    local += triangles[i] / (d * (d - 1.0) / 2.0)
        counts[c, 0] = firms
        counts[c, 1] = slots
        counts[c, 2] = wedges
        sums[c, 0] = local
        sums[c, 1] = trusted
    firms, slots, wedges = add_chunks(counts)
    clustering, trust_sum = add_chunks(sums)
    return firms, slots, wedges, clustering, trust_sum


def tie_stats(partner: npt.ArrayLike, alive: npt.ArrayLike,
              triangles: npt.ArrayLike | None = None) -> dict[str, float]:
    """Statistics of the inter-firm tie network.

    Parameters
    ----------
    partner : array_like of int, shape (N, K)
        ``partner[i, k]``: slot of firm i's k-th partner or -1. Must be symmetric, without
        self-ties or repeated partners, and dead firms must have all -1 rows (else ValueError).
    alive : array_like of bool, shape (N,)
    triangles : array_like of int, shape (N,), optional
        Triangles through each firm, if the caller keeps them up to date (the model does:
        :attr:`sim.core.state.TieState.triangles`). Counting them is the costly part (every
        partner's row is fetched), and that pass is also what checks the table, so with
        ``triangles`` given the table is trusted as valid; without, both are done here.

    Returns
    -------
    dict of str to float
        ``mean_degree``
            Mean number of ties per alive firm (``nan`` if none is alive).
        ``tie_density``
            Ties / (n (n - 1) / 2) for n alive firms (``nan`` if n < 2).
        ``giant_component_share``
            Share of alive firms in the largest connected component, isolated firms being
            components of size 1 (``nan`` if none is alive).
        ``clustering``
            Mean local clustering coefficient (Watts & Strogatz 1998), triangles through i over
            ``d_i (d_i - 1) / 2``, averaged over alive firms with degree >= 2 (``nan`` if none).
            Firms of degree 0 or 1 are left out, not counted as 0 as ``networkx`` does by default.
    """
    p, alive, triangles = _tie_table(partner, alive, triangles)
    n, slots, wedges, clustering, _ = _tie_sums(p, alive, triangles, None)
    return _tie_stats(p, alive, n, slots, wedges, clustering)


def _tie_table(partner, alive, triangles):
    """Checked ``partner`` (int32 or int64), ``alive`` and ``triangles`` (int64) of
    :func:`tie_stats`; the triangles are counted (and the table checked) if not given."""
    p = graph.partner_table(partner)
    alive = alive_mask(alive, p.shape[0])
    n_firms = p.shape[0]
    if triangles is None:
        triangles = np.zeros(n_firms, dtype=np.int64)
        degree = np.zeros(n_firms, dtype=np.int64)
        code, firm = _degree_triangles(p, alive, degree, triangles, numba.get_num_threads())
        if code:
            raise ValueError("partner: " + _TIE_ERRORS[code].format(i=firm))
    else:
        triangles = np.asarray(triangles)
        if triangles.shape != (n_firms,):
            raise ValueError(f"triangles: expected shape ({n_firms},), got {triangles.shape}")
        triangles = triangles.astype(np.int64, copy=False)
    return p, alive, triangles


def _tie_stats(p, alive, n, slots, wedges, clustering) -> dict[str, float]:
    """The dict of :func:`tie_stats` from the sums of :func:`_tie_sums`."""
    if n == 0:
        return {"mean_degree": NAN, "tie_density": NAN, "giant_component_share": NAN,
                "clustering": NAN}
    ties = slots / 2.0
    return {
        "mean_degree": float(slots / n),
        "tie_density": float(ties / (n * (n - 1) / 2.0)) if n >= 2 else NAN,
        "giant_component_share": float(graph.find_largest(p, None, None, alive) / n),
        "clustering": float(clustering / wedges) if wedges else NAN,
    }


def mean_trust(partner: npt.ArrayLike, trust: npt.ArrayLike,
               alive: npt.ArrayLike) -> tuple[int, float]:
    """Directed tie slots of alive firms and the mean trust placed along them.

    Parameters
    ----------
    partner : array_like of int, shape (N, K)
        Partner slots, -1 for an empty slot.
    trust : array_like of float, shape (N, K)
        Trust firm i places in its k-th partner.
    alive : array_like of bool, shape (N,)

    Returns
    -------
    (int, float)
        The number of occupied slots (twice the number of ties) and their mean trust
        (``nan`` if there is none).
    """
    p = np.asarray(partner)
    t = np.asarray(trust, dtype=np.float64)
    if p.ndim != 2 or t.shape != p.shape:
        raise ValueError(f"partner, trust: expected two arrays of one shape (N, K), got "
                         f"{p.shape} and {t.shape}")
    if p.dtype not in (np.int32, np.int64):
        p = p.astype(np.int64)
    _, slots, _, _, total = _tie_sums(p, alive_mask(alive, p.shape[0]), None, t)
    return _mean_trust(slots, total)


def _mean_trust(slots: int, total: float) -> tuple[int, float]:
    return int(slots), (float(total / slots) if slots else NAN)


def network_indicators(partner: npt.ArrayLike, trust: npt.ArrayLike, alive: npt.ArrayLike,
                       triangles: npt.ArrayLike) -> dict[str, Any]:
    """:func:`mean_trust` and :func:`tie_stats` in one pass over the tie table.

    Parameters
    ----------
    partner, trust, alive
        As in :func:`mean_trust`.
    triangles : array_like of int, shape (N,)
        As in :func:`tie_stats`; required here (the table is trusted as valid).

    Returns
    -------
    dict
        ``trust``: ``mean_trust(partner, trust, alive)``; ``ties``: ``tie_stats(partner, alive,
        triangles)``. Bit-identical to them, for any number of numba threads.
    """
    p, alive, triangles = _tie_table(partner, alive, triangles)
    t = np.asarray(trust, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"partner, trust: expected two arrays of one shape (N, K), got "
                         f"{p.shape} and {t.shape}")
    n, slots, wedges, clustering, total = _tie_sums(p, alive, triangles, t)
    return {"trust": _mean_trust(slots, total),
            "ties": _tie_stats(p, alive, n, slots, wedges, clustering)}
