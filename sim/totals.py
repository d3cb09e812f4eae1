"""Totals over firms that do not depend on the number of threads.

A parallel loop that adds floats into one accumulator splits the sum by thread, so its last bits
would change with the thread count. Every total over firm slots in the model is instead added
within fixed chunks of :data:`CHUNK` slots (in parallel, one chunk per task), then chunk by
chunk in order: the same bits whatever the number of threads or machines.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.parallel import PRANGE_ONLY, parallel_kernel

__all__ = ["CHUNK", "PRANGE_ONLY", "live_total"]

#: Slots per chunk of every chunked total.
CHUNK = 4096


@parallel_kernel
def live_total(alive, values):
    """Sum of ``values[i]`` over live firms i (bool[N], float64[N]), added in chunks."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros(n_chunks)
    for c in numba.prange(n_chunks):
        acc = 0.0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                acc += values[i]
        part[c] = acc
    total = 0.0
    for c in range(n_chunks):
        total += part[c]
    return total
