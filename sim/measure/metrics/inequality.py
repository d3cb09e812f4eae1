"""Inequality and size: the Gini coefficient, Herfindahl index, size classes and productivity
statistics of a firm population.

Part of :mod:`sim.measure.metrics` (its docstring gives the sources and conventions).
"""

from __future__ import annotations

import functools

import numba
import numpy as np
import numpy.typing as npt

from sim.core.parallel import parallel_kernel
from sim.core.totals import CHUNK, add_chunks
from sim.measure.metrics.checks import (
    NAN,
    SMALL_SORT,
    SORT_CHUNK,
    alive_mask,
    as_vector,
    check_finite,
    dot,
)


def gini(x: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> float:
    """Gini coefficient of nonnegative values.

    Uses the mean-difference definition ``G = sum_ij w_i w_j |x_i - x_j| / (2 W^2 mu)`` with
    ``W = sum w`` and ``mu = sum w x / W``, so n equal values give 0 and one holder of everything
    among n gives ``(n - 1) / n`` (no small-sample correction). Integer weights give the same
    value as repeating each observation that many times. Without weights the values are sorted
    by a parallel radix sort, O(n); with weights by ``np.argsort``, O(n log n).

    Parameters
    ----------
    x : array_like of float, shape (n,)
        Values, finite and >= 0 (for firms: pass ``emp[alive]``).
    weights : array_like of float, shape (n,), optional
        Frequency weights, finite and >= 0. Default: all 1.

    Returns
    -------
    float
        In [0, 1). ``nan`` if ``x`` is empty or its (weighted) total is 0.
    """
    x = as_vector("x", x)
    check_finite("x", x, nonnegative=True)
    n = x.shape[0]
    if weights is None:
        return gini_of_sorted(sorted_values(x, np.ones(n, dtype=np.bool_)))
    w = as_vector("weights", weights, n)
    check_finite("weights", w, nonnegative=True)
    total = dot(w, x)
    if n == 0 or total <= 0:
        return NAN
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    cum = np.cumsum(ws)
    big_w = cum[-1]
    # weighted version of the rank identity: the weight below x_(i) minus the weight above it
    g = dot(ws * xs, (cum - ws) - (big_w - cum)) / (big_w * total)
    return max(g, 0.0)


def sorted_values(x: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """The entries of finite ``x >= 0`` (float64[N]) where ``alive``, ascending (float64[n])."""
    keys = _radix_sort(_compact_keys(np.ascontiguousarray(x), alive))
    return keys.view(np.float64)


def gini_of_sorted(xs: np.ndarray) -> float:
    """Unweighted Gini coefficient of ascending values ``xs`` (float64[n]); see :func:`gini`."""
    n = xs.shape[0]
    if n == 0:
        return NAN
    # sum_ij |x_i - x_j| = 2 sum_i (2i - n - 1) x_(i) for ascending x_(i), i = 1..n
    ranked, total = _gini_sums(xs)
    if total <= 0:
        return NAN
    return max(ranked / (n * total), 0.0)  # rounding can leave -1e-17 for equal values


@parallel_kernel
def _compact_keys(x, alive):
    """Sort keys of the entries of ``x`` where ``alive``, in slot order.

    For finite ``x >= 0`` the IEEE-754 bit patterns, read as unsigned integers, order like the
    values; -0.0 (sign bit set) is mapped to the key of +0.0.

    Parameters
    ----------
    x : float64[N], C-contiguous
        Finite values >= 0 where ``alive``.
    alive : bool[N]

    Returns
    -------
    uint64[n]
        One key per alive entry.
    """
    n = x.shape[0]
    bits = x.view(np.uint64)
    n_chunks = (n + CHUNK - 1) // CHUNK
    start = np.zeros(n_chunks + 1, dtype=np.int64)
    for c in numba.prange(n_chunks):
        m = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                m += 1
        start[c + 1] = m
    for c in range(n_chunks):
        start[c + 1] += start[c]
    keys = np.empty(start[n_chunks], dtype=np.uint64)
    for c in numba.prange(n_chunks):
        j = start[c]
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                keys[j] = bits[i] if x[i] != 0.0 else np.uint64(0)
                j += 1
    return keys


@parallel_kernel
def _radix_sort(keys):
    """Sort unsigned keys ascending: an LSD radix sort with 8-bit digits, parallel over chunks
    (up to :data:`SMALL_SORT` keys, numba's quicksort).

    Keys are sorted by their offset from the smallest key, so the digits above the range
    ``max - min`` (all zero) need no pass. Each pass counts the digits of every chunk of
    :data:`SORT_CHUNK` keys in parallel, turns the counts into each chunk's first output slot per
    digit (digit-major, then chunk order, which keeps the pass stable) and scatters the chunks in
    parallel. The sorted sequence is unique, so it cannot depend on the number of threads.

    Parameters
    ----------
    keys : uint64[n]
        Used as scratch space.

    Returns
    -------
    uint64[n]
        The keys in ascending order (``keys`` itself or a new array).
    """
    n = keys.shape[0]
    if n < 2:
        return keys
    if n <= SMALL_SORT:  # a cluster's few hundred firms: a comparison sort in place is faster
        keys.sort()
        return keys
    n_chunks = (n + SORT_CHUNK - 1) // SORT_CHUNK
    lows = np.empty(n_chunks, dtype=np.uint64)
    highs = np.empty(n_chunks, dtype=np.uint64)
    for c in numba.prange(n_chunks):
        lo = keys[c * SORT_CHUNK]
        hi = lo
        for i in range(c * SORT_CHUNK, min(n, (c + 1) * SORT_CHUNK)):
            lo = min(lo, keys[i])
            hi = max(hi, keys[i])
        lows[c] = lo
        highs[c] = hi
    base = lows.min()
    span = highs.max() - base
    src = keys
    dst = np.empty_like(keys)
    slot = np.empty((n_chunks, 256), dtype=np.int64)
    shift = np.uint64(0)
    while shift < 64 and (span >> shift) != 0:
        for c in numba.prange(n_chunks):
            slot[c, :] = 0
            for i in range(c * SORT_CHUNK, min(n, (c + 1) * SORT_CHUNK)):
                slot[c, ((src[i] - base) >> shift) & 255] += 1
        first = 0
        for d in range(256):
            for c in range(n_chunks):
                count = slot[c, d]
                slot[c, d] = first
                first += count
        for c in numba.prange(n_chunks):
            for i in range(c * SORT_CHUNK, min(n, (c + 1) * SORT_CHUNK)):
                d = ((src[i] - base) >> shift) & 255
                dst[slot[c, d]] = src[i]
                slot[c, d] += 1
        src, dst = dst, src
        shift += np.uint64(8)
    return src


@parallel_kernel
def _gini_sums(xs):
    """The rank-weighted sum ``sum_i (2i - n - 1) xs[i-1]`` (i = 1..n) and the total of ``xs``.

    Parameters
    ----------
    xs : float64[n]
        Values in ascending order.

    Returns
    -------
    (float, float)
        Each summed within chunks of ``CHUNK`` in parallel, then over chunks in order.
    """
    n = xs.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, 2))
    for c in numba.prange(n_chunks):
        ranked = 0.0
        total = 0.0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            ranked += (2.0 * i + 1.0 - n) * xs[i]  # 2 (i + 1) - n - 1 for 0-based i
            total += xs[i]
        part[c, 0] = ranked
        part[c, 1] = total
    ranked_sum, total_sum = add_chunks(part)
    return ranked_sum, total_sum


def herfindahl(x: npt.ArrayLike) -> float:
    """Herfindahl index: the sum of squared shares ``sum_k (x_k / sum x)^2``.

    Parameters
    ----------
    x : array_like of float, shape (n,)
        Finite values >= 0 (sizes, sales, volumes).

    Returns
    -------
    float
        In [1/n, 1]. ``nan`` if ``x`` is empty or sums to 0.
    """
    x = as_vector("x", x)
    check_finite("x", x, nonnegative=True)
    total = x.sum()
    if x.size == 0 or total <= 0:
        return NAN
    s = x / total  # shares first: squaring raw sizes could overflow for huge totals
    return dot(s, s)


def size_class_shares(emp: npt.ArrayLike, alive: npt.ArrayLike,
                      bounds: tuple[float, ...] = (5.0, 50.0, 250.0)) -> np.ndarray:
    """Shares of alive firms in employee size classes.

    With the default ``bounds`` the classes are micro (emp < 5), small (5 <= emp < 50), medium
    (50 <= emp < 250) and large (emp >= 250): class k holds ``bounds[k-1] <= emp < bounds[k]``.

    Parameters
    ----------
    emp : array_like of float, shape (N,)
        Employees per firm slot; finite and >= 0 for alive firms.
    alive : array_like of bool, shape (N,)
    bounds : sequence of float, length B
        Strictly increasing class boundaries.

    Returns
    -------
    numpy.ndarray of float64, shape (B + 1,)
        Shares summing to 1; all ``nan`` if no firm is alive.
    """
    emp = as_vector("emp", emp)
    alive = alive_mask(alive, emp.shape[0])
    b = size_bounds(bounds)
    emp_a = emp[alive]
    check_finite("emp", emp_a, nonnegative=True)
    n = emp_a.shape[0]
    if n == 0:
        return np.full(b.size + 1, np.nan)
    # side="right" puts emp == bound into the upper class (5 employees is "small")
    cls = np.searchsorted(b, emp_a, side="right")
    return np.bincount(cls, minlength=b.size + 1).astype(np.float64) / n


@functools.lru_cache(maxsize=16)
def size_bounds_once(bounds: tuple) -> np.ndarray:
    """:func:`size_bounds` of a tuple, checked once per process (the recorder passes the same
    tuple every month). Private: callers must not write to the array."""
    return size_bounds(bounds)


def size_bounds(bounds) -> np.ndarray:
    """Size-class bounds as a float64 array, checked to be finite and strictly increasing."""
    b = as_vector("bounds", bounds)
    check_finite("bounds", b)
    if b.size > 1 and not (np.diff(b) > 0).all():
        raise ValueError(f"bounds: must be strictly increasing, got {tuple(b)}")
    return b


def productivity_stats(prod: npt.ArrayLike, alive: npt.ArrayLike,
                       weights: npt.ArrayLike | None = None) -> tuple[float, float]:
    """Mean and standard deviation of productivity over alive firms.

    The standard deviation is the population one (divisor ``sum w``, i.e. ddof = 0): the firms
    are the whole population of the model, not a sample from it.

    Parameters
    ----------
    prod : array_like of float, shape (N,)
        Productivity per firm slot; finite for alive firms.
    alive : array_like of bool, shape (N,)
    weights : array_like of float, shape (N,), optional
        Weights (e.g. employees), finite and >= 0 for alive firms. Default: all 1.

    Returns
    -------
    (float, float)
        ``(mean, sd)``; ``(nan, nan)`` if no firm is alive or the weights sum to 0.
    """
    prod = as_vector("prod", prod)
    alive = alive_mask(alive, prod.shape[0])
    p = prod[alive]
    check_finite("prod", p)
    if weights is None:
        if p.size == 0:
            return NAN, NAN
        mean = p.mean()
        # two passes rather than E[p^2] - E[p]^2, which cancels badly when sd << mean
        return float(mean), float(np.sqrt(np.mean((p - mean) ** 2)))
    w = as_vector("weights", weights, prod.shape[0])[alive]
    check_finite("weights", w, nonnegative=True)
    big_w = w.sum()
    if p.size == 0 or big_w <= 0:
        return NAN, NAN
    mean = dot(w, p) / big_w
    return float(mean), float(np.sqrt(dot(w, (p - mean) ** 2) / big_w))
