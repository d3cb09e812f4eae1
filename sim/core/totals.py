"""Totals over firms that do not depend on the number of threads, and lists of slots.

A parallel loop that adds floats into one accumulator splits the sum by thread, so its last bits
would change with the thread count. Every total over firm slots in the model is instead added
within fixed chunks of :data:`CHUNK` slots (in parallel, one chunk per task), then chunk by
chunk in order: the same bits whatever the number of threads or machines.

Lists of slots (who exits, who meets, who can pledge...) come from the same chunks: a kernel
marks the slots in parallel, and :func:`slots_where` counts the marks of each chunk, then
writes each chunk's slots from its offset, in parallel, so that a month has no serial pass over
the whole table.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.core.parallel import parallel_kernel

__all__ = ["CHUNK", "add_chunks", "slots_where"]

#: Slots per chunk of every chunked total. A kernel adds within each chunk (in parallel, one
#: chunk per task), then the chunks' partial sums in chunk order; sums over several columns of
#: live firms at once: :func:`sim.measure.metrics.alive_totals`.
CHUNK = 4096


@numba.njit(cache=True)
def add_chunks(part):
    """A kernel's per-chunk partial results ``part[c, ...]`` added chunk by chunk, in chunk
    order: the last step of every chunked total (an array of shape ``part.shape[1:]``, the dtype
    of ``part``; zeros when there are no chunks)."""
    out = np.zeros(part.shape[1:], dtype=part.dtype)
    for c in range(part.shape[0]):
        out += part[c]
    return out


@parallel_kernel
def slots_where(mask, value):
    """The slots i with ``mask[i] == value`` (bool[N], bool), ascending: ``np.flatnonzero``
    (of ``mask`` or of ``~mask``) as a parallel pass, counted and listed chunk by chunk.
    Returns int64[M]."""
    n = mask.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    start = np.zeros(n_chunks + 1, dtype=np.int64)
    for c in numba.prange(n_chunks):
        m = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if mask[i] == value:
                m += 1
        start[c + 1] = m
    for c in range(n_chunks):
        start[c + 1] += start[c]
    out = np.empty(start[n_chunks], dtype=np.int64)
    for c in numba.prange(n_chunks):
        a = start[c]
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if mask[i] == value:
                out[a] = i
                a += 1
    return out
