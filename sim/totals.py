"""Totals over firms that do not depend on the number of threads.

A parallel loop that adds floats into one accumulator splits the sum by thread, so its last bits
would change with the thread count. Every total over firm slots in the model is instead added
within fixed chunks of :data:`CHUNK` slots (in parallel, one chunk per task), then chunk by
chunk in order: the same bits whatever the number of threads or machines.
"""

from __future__ import annotations

__all__ = ["CHUNK"]

#: Slots per chunk of every chunked total. A kernel adds within each chunk (in parallel, one
#: chunk per task), then the chunks' partial sums in chunk order; sums over several columns of
#: live firms at once: :func:`sim.metrics.alive_totals`.
CHUNK = 4096
