"""Connected components of the tie network, in parallel and the same for any thread count.

Two mechanisms need the components of the fixed-width tie table: joint purchasing (ties trusted
both ways between firms buying the same input, :mod:`sim.mechanisms.suppliers`) and the
giant-component share of the tie statistics (all ties, :mod:`sim.measure.metrics`). Both run every
step on up to a million firms, so the union-find runs in parallel over chunks of firm slots. A tie
counts if it is in an ``eligible`` mask, if any, and passes joint purchasing's rule (``trusted``),
if given, which is tested as the ties are met: a mask made beforehand costs a pass of its own.

Algorithm
---------
Union-find (Galler & Fischer 1964) with union by lower root and path halving (Tarjan & van
Leeuwen 1984), so a component's root is its lowest slot and ``parent[i] <= i`` always. The firm
slots are cut into equal chunks (:func:`_layout`), a power of two of them: their boundaries
depend only on N and the chunk size, never on the number of threads.

1. In parallel over chunks, each chunk unites the ties with both ends inside it, writing only
   its own range of the forest, and lists its ties to higher chunks by *level*: the highest bit
   in which the two chunk numbers differ.
2. The chunks are merged pairwise up a binary tree: at level L, in parallel over aligned groups
   of ``2**(L+1)`` chunks, each group unites the ties of level L between its two halves. Every
   union and every halving step stays inside the group's range, so no two threads ever write
   the same element. The top level (the ties across the middle of the table) is serial.
3. In parallel over chunks, each firm's root and its component's size, reading the forest only.
   The largest component needs no phase 3: sizes only grow, so its size is the largest that
   any union made.

Firms are stored in spatial order and ties are mostly local, so most ties are united in phase 1
and few reach the top level (at 100,000 firms, one in ten). Each chunk or group runs a fixed
serial computation on data no other thread touches, so the forest itself, not only the roots
(which are unique), is the same for any thread count and any schedule.

Tests: ``tests/test_graph.py``.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from sim.core.parallel import PRANGE_ONLY

__all__ = ["CHUNK", "SERIAL_BELOW", "components", "largest_component", "find_components",
           "find_largest"]

#: Largest chunk wanted, in firm slots (:func:`_layout`). Every chunk is work for one thread
#: and every level of the merge tree a parallel region, whose start wakes the other threads
#: (tens of microseconds); ties that cross chunks cost more than ties inside one. So chunks are
#: as large as the cache allows: a chunk's forest (8 bytes a firm) stays in a core's L2 cache.
#: 100,000 firms make 2 chunks, a million 16.
CHUNK = 65536
#: Tables of at least this many firm slots are cut into at least two chunks, so two threads
#: share them.
SPLIT = 8192
#: Rows per block of a chunk's scan: the block's gathered slot positions stay in the L1 cache.
BLOCK = 256


@numba.njit(cache=True)
def _find(parent, i):
    """Root of ``i`` in the forest ``parent`` ([N]), halving the path on the way."""
    p = parent[i]
    while p != i:
        g = parent[p]
        parent[i] = g
        i = g
        p = parent[i]
    return i


@numba.njit(cache=True)
def _root_of(parent, i):
    """Root of ``i`` in the forest ``parent`` ([N]), without writing to it."""
    p = parent[i]
    while p != i:
        i = p
        p = parent[i]
    return i


@numba.njit(cache=True)
def _unite(parent, size, i, j):
    """Unite the trees of ``i`` and ``j``: the lower root becomes the root of both and adds the
    other's ``size`` ([N]) to its own, which is returned. Writes only along the two paths
    and at the roots.

    Branch-free on which root is lower (a coin flip the predictor would miss half the time): a
    root united with itself is written its own parent and has 0 added to its size.
    """
    a = _find(parent, i)
    b = _find(parent, j)
    low = min(a, b)
    high = max(a, b)
    parent[high] = low
    size[low] += size[high] * (low != high)
    return size[low]


@numba.njit(cache=True)
def _layout(n, chunk):
    """Cut N firm slots into equal chunks.

    Parameters
    ----------
    n : int
        Number of firm slots, >= 0.
    chunk : int
        Largest chunk wanted, in slots, >= 1 (chunks are equal, rounded up to a 64th of one).

    Returns
    -------
    n_chunks : int
        Number of chunks: at most the smallest power of two ``2**q`` with ``2**q * chunk >= n``
        and, if ``n >= SPLIT``, ``q >= 1`` (fewer when rounding ``width`` up leaves the last
        ones empty); 0 if ``n == 0``.
    width : int
        Slots per chunk (the last chunk may have fewer): chunk c holds slots
        ``c * width .. min(n, (c + 1) * width) - 1``. A multiple of ``2**shift``.
    shift : int
        ``2**shift`` is at most ``width / 64`` before ``width`` is rounded up to it, so all
        chunks but the last are equal and the last is shorter by at most ``n_chunks / 64``
        chunks: the halves of the table that two threads share differ by at most 3%.
    chunk_of : int64 [(n - 1 >> shift) + 1]
        ``chunk_of[j >> shift]`` is the chunk of slot j (a table, not a division, per tie).
    """
    parts = 2 if n >= SPLIT else 1
    while parts * chunk < n:
        parts *= 2
    width = max(1, (n + parts - 1) // parts)
    shift = 0
    while (width >> (shift + 7)) > 0:
        shift += 1
    width = ((width + (1 << shift) - 1) >> shift) << shift
    n_chunks = (n + width - 1) // width
    chunk_of = np.empty(((n - 1) >> shift) + 1 if n > 0 else 0, dtype=np.int64)
    for b in range(chunk_of.size):
        chunk_of[b] = (b << shift) // width
    return n_chunks, width, shift, chunk_of


@numba.njit(cache=True)
def _levels(n_chunks):
    """Levels of the merge tree over ``n_chunks`` chunks and the level of a tie between chunks
    ``ci != cj``, ``table[ci ^ cj]``: the highest bit in which they differ, so that both lie in
    one aligned group of ``2**(level+1)`` chunks, in different halves.

    Returns
    -------
    levels : int
        0 for one chunk or none.
    table : int8 [2**levels]
        ``table[0]`` is unused.
    """
    levels = 0
    while (1 << levels) < n_chunks:
        levels += 1
    table = np.zeros(1 << levels, dtype=np.int8)
    for level in range(levels):
        table[1 << level:2 << level] = level
    return levels, table


@numba.njit(cache=True)
def _count_above(partner, lo, hi):
    """Number of tie slots of firms ``lo..hi-1`` whose partner is ``hi`` or above (a flat count
    that vectorises)."""
    k = partner.shape[1]
    flat = partner.reshape(partner.size)[lo * k:hi * k]
    count = 0
    for e in range(flat.size):
        count += flat[e] >= hi
    return count


@numba.njit(cache=True)
def _gather(slots, row, picked):
    """Positions ``x`` of the ``slots`` (int[M]) that hold a partner above ``row[x]`` (the firm
    of slot x, int[>= M]), written to the front of ``picked`` (int64[>= M]); returns how many.

    Branch-free: each position is written and the count advanced by the test's outcome. Tied
    and empty slots alternate at random, and a branch per slot, mispredicted often, would cost
    more than the union-find itself. (A function of its own because numba compiles the loop
    slower when it is inlined into its caller's.)
    """
    q = 0
    for x in range(slots.size):
        picked[q] = x
        q += slots[x] > row[x]
    return q


@numba.njit(cache=True)
def _gather_eligible(slots, eligible, row, picked):
    """:func:`_gather` of the slots whose ``eligible`` (bool or int8[M]) is set."""
    q = 0
    for x in range(slots.size):
        picked[q] = x
        q += (slots[x] > row[x]) & (eligible[x] != 0)
    return q


@numba.njit(cache=True)
def _keep_trusted(picked, q, slots, row, back, trust_slots, trust, trust_min, group):
    """Keep, in place at the front of ``picked``, those of its first ``q`` positions whose tie
    is trusted both ways and joins firms of one group; returns how many (see :func:`_forest`,
    ``trusted``). ``slots``, ``back`` and ``trust_slots`` are the block's flat partner, reverse
    slot and trust entries, ``row`` the firm of each, ``trust`` the whole trust table."""
    r = 0
    for y in range(q):
        x = picked[y]
        i = row[x]
        j = slots[x]
        # the cheap test first, the partner's data after (in a model step this branching
        # version ran 1.4x faster than a branch-free one)
        if trust_slots[x] >= trust_min and group[j] == group[i] and trust[j, back[x]] >= trust_min:
            picked[r] = x
            r += 1
    return r


@numba.njit(cache=True)
def _chunk_forest(partner, eligible, trusted, alive, c, lo, hi, shift, chunk_of, table, parent,
                  size, cross_i, cross_j, bounds):
    """Phase 1 for chunk ``c``, firms ``lo..hi-1``.

    Initialises ``parent`` and ``size`` on the range, unites the eligible ties with both ends
    inside it, and lists the eligible ties ``(i, j)``, ``i < j``, to higher chunks in
    ``cross_i``, ``cross_j`` from position ``bounds[c, 0]`` on (set by the caller, with room
    for :func:`_count_above` ties), sorted by level: those of level L at positions
    ``bounds[c, L]`` to ``bounds[c, L + 1] - 1``. The chunk of a slot j is
    ``chunk_of[j >> shift]`` (:func:`_layout`), the level of a tie ``table[c ^ cj]``
    (:func:`_levels`). Writes only elements ``lo..hi-1`` of ``parent`` and ``size``, the
    chunk's room in the tie lists and row ``c`` of ``bounds``. See :func:`_forest`
    for the other arguments.

    Returns
    -------
    int
        The largest ``size`` of a tree of the chunk (0 if no firm of the chunk is alive).
    """
    n, k = partner.shape
    levels = bounds.shape[1] - 1
    best = 0
    for i in range(lo, hi):
        parent[i] = i
        size[i] = 1 if alive[i] else 0
        best = max(best, size[i])
    m = bounds[c, 0]
    # the chunk's slots, flat, in blocks of BLOCK rows: the positions of the slots holding an
    # eligible tie to a higher firm are gathered, then those few ties are united or listed
    flat = partner.reshape(n * k)
    span = BLOCK * k
    row = np.empty(span, dtype=partner.dtype)  # row[x]: the firm of the block's slot x
    for x in range(span):
        row[x] = lo + x // k
    picked = np.empty(span, dtype=np.int64)
    inner = np.empty(span, dtype=np.int64)
    outer = np.empty(span, dtype=np.int64)
    for base in range(lo * k, hi * k, max(span, 1)):  # (no slots at all if K == 0)
        end = min(hi * k, base + span)
        if eligible is None:
            q = _gather(flat[base:end], row, picked)
        else:
            q = _gather_eligible(flat[base:end], eligible.reshape(n * k)[base:end], row,
                                 picked)
        if trusted is not None:
            back, trust, trust_min, group = trusted
            q = _keep_trusted(picked, q, flat[base:end], row, back.reshape(n * k)[base:end],
                              trust.reshape(n * k)[base:end], trust, trust_min, group)
        # each tie once, from its lower end, split branch-free (again a coin flip) into ties
        # inside the chunk and ties to higher chunks
        n_in = 0
        n_out = 0
        for y in range(q):
            x = picked[y]
            out = flat[base + x] >= hi
            inner[n_in] = x
            n_in += not out
            outer[n_out] = x
            n_out += out
        for y in range(n_in):
            x = inner[y]
            best = max(best, _unite(parent, size, row[x], flat[base + x]))
        for y in range(n_out):
            x = outer[y]
            cross_i[m] = row[x]
            cross_j[m] = flat[base + x]
            m += 1
        for x in range(span):
            row[x] += BLOCK
    # sort the listed ties by level in place (American flag sort: one swap per misplaced tie)
    count = np.zeros(levels + 1, dtype=np.int64)
    for e in range(bounds[c, 0], m):
        count[table[c ^ chunk_of[cross_j[e] >> shift]]] += 1
    for level in range(levels):
        bounds[c, level + 1] = bounds[c, level] + count[level]
    nxt = bounds[c, :levels].copy()
    for level in range(levels):
        while nxt[level] < bounds[c, level + 1]:
            e = nxt[level]
            other = table[c ^ chunk_of[cross_j[e] >> shift]]
            if other != level:
                f = nxt[other]
                cross_i[e], cross_i[f] = cross_i[f], cross_i[e]
                cross_j[e], cross_j[f] = cross_j[f], cross_j[e]
                nxt[other] += 1
            else:
                nxt[level] += 1
    return best


@numba.njit(cache=True)
def _merge_group(parent, size, cross_i, cross_j, bounds, level, c0, c1):
    """Phase 2 for one group at ``level``: unite the ties of that level listed by chunks
    ``c0..c1-1`` (the lower half of the group); returns the largest size so made (0 if none).
    Arguments as in :func:`_chunk_forest`."""
    best = 0
    for c in range(c0, c1):
        for e in range(bounds[c, level], bounds[c, level + 1]):
            best = max(best, _unite(parent, size, cross_i[e], cross_j[e]))
    return best


@numba.njit(cache=True, parallel=PRANGE_ONLY)
def _forest(partner, eligible, trusted, alive, chunk):
    """Union-find forest of the eligible ties (phases 1 and 2 of the module docstring).

    Parameters
    ----------
    partner : int32 or int64 [N, K], C-contiguous
        ``partner[i, s]``: slot of firm i's s-th partner, or -1. Symmetric.
    eligible : bool or int8 [N, K], C-contiguous, or None
        Which ties count as edges, symmetric (``eligible[i, s] == eligible[j, back[i, s]]``) or
        at least right at each tie's lower end, the only slot read (``eligible[i, s]`` for
        ``partner[i, s] > i``). None: every tie counts.
    trusted : tuple (back, trust, trust_min, group), or None
        If given, a tie ``(i, j)`` at slot s of firm i counts only if it is trusted both ways,
        ``trust[i, s] >= trust_min`` and ``trust[j, back[i, s]] >= trust_min``, and joins firms
        of one group, ``group[i] == group[j]`` (with ``eligible``, if given, too): joint
        purchasing's groups, tested as the ties are met rather than as a mask made beforehand.
        ``back`` int8 [N, K] and ``trust`` float64 [N, K] C-contiguous, the tie table's reverse
        slots and trust; ``trust_min`` float; ``group`` int [N].
    alive : bool [N]
        Dead firms must have all -1 rows.
    chunk : int
        Largest chunk wanted, in firm slots, >= 1 (:data:`CHUNK`; see :func:`_layout`). The
        forest does not depend on the thread count; it does depend on ``chunk`` (the roots do
        not).

    Returns
    -------
    parent : [N], the dtype of ``partner``
        ``parent[i] <= i``; ``parent[i] == i`` at roots, which are the lowest slot of their
        component (a dead firm is its own root).
    size : [N], the dtype of ``partner``
        At a root, the number of alive firms in its component (0 for a dead firm); elsewhere
        meaningless.
    largest : int
        The largest component's size (0 if no firm is alive): sizes only grow, so it is the
        largest size any union made, or 1.
    """
    n, k = partner.shape
    n_chunks, width, shift, chunk_of = _layout(n, chunk)
    levels, table = _levels(n_chunks)
    parent = np.empty(n, dtype=partner.dtype)
    size = np.empty(n, dtype=partner.dtype)
    # Every parallel region wakes the other threads (tens of microseconds): only the prange
    # loops are regions (PRANGE_ONLY), and as few as can be. Room for each chunk's ties to
    # higher chunks is counted first, so that the lists are no larger than they need be (fresh
    # memory costs a page fault per 4 kB written); on two chunks the count, a vectorised pass,
    # costs less than a parallel region.
    room = np.empty(n_chunks + 1, dtype=np.int64)
    room[0] = 0
    room[n_chunks] = 0
    if n_chunks > 2:
        for c in numba.prange(n_chunks - 1):  # (the last chunk has no higher chunk)
            room[c + 1] = _count_above(partner, c * width, (c + 1) * width)
    else:
        for c in range(n_chunks - 1):
            room[c + 1] = _count_above(partner, c * width, (c + 1) * width)
    bounds = np.empty((n_chunks, levels + 1), dtype=np.int64)
    for c in range(n_chunks):
        room[c + 1] += room[c]
        bounds[c, 0] = room[c]
    cross_i = np.empty(room[n_chunks], dtype=partner.dtype)
    cross_j = np.empty(room[n_chunks], dtype=partner.dtype)
    best = np.empty(n_chunks, dtype=np.int64)
    for c in numba.prange(n_chunks):
        best[c] = _chunk_forest(partner, eligible, trusted, alive, c, c * width,
                                min(n, (c + 1) * width), shift, chunk_of, table, parent, size,
                                cross_i, cross_j, bounds)
    largest = 0
    for c in range(n_chunks):
        largest = max(largest, best[c])
    # a level with a single group (always the top one) runs without a parallel region
    for level in range(levels):
        half = 1 << level  # chunks in each half of a group
        n_groups = (n_chunks + 2 * half - 1) // (2 * half)
        if n_groups == 1:
            largest = max(largest, _merge_group(parent, size, cross_i, cross_j, bounds, level,
                                                0, min(half, n_chunks)))
            continue
        for g in numba.prange(n_groups):
            best[g] = _merge_group(parent, size, cross_i, cross_j, bounds, level, 2 * g * half,
                                   min(2 * g * half + half, n_chunks))
        for g in range(n_groups):
            largest = max(largest, best[g])
    return parent, size, largest


@numba.njit(cache=True, parallel=PRANGE_ONLY)
def _resolve(parent, size, alive, chunk):
    """Each firm's root and component size from a forest of :func:`_forest` (phase 3).

    Parameters
    ----------
    parent, size : int32 or int64 [N]
        The forest and the sizes at its roots.
    alive : bool [N]
    chunk : int
        Largest chunk wanted, in firm slots, >= 1; any value gives the same result.

    Returns
    -------
    root : int64 [N]
        Lowest slot of the firm's component; -1 for a dead firm.
    comp_size : int64 [N]
        Number of alive firms in the firm's component; 0 for a dead firm.
    """
    n = parent.shape[0]
    n_chunks, width, _, _ = _layout(n, chunk)
    root = np.empty(n, dtype=np.int64)
    comp_size = np.empty(n, dtype=np.int64)
    for c in numba.prange(n_chunks):
        lo = c * width
        for i in range(lo, min(n, lo + width)):
            # ascending, so root[q] is final for lo <= q < i; and parent[i] <= i
            p = parent[i]
            if p < lo:  # a chunk-local root united with a lower chunk, or a halved path
                r = _root_of(parent, p)
            else:
                root[i] = i  # so that a root (p == i) reads itself
                r = root[p]
            root[i] = r if alive[i] else -1  # a dead firm is its own root, of size 0
            comp_size[i] = size[r]
    return root, comp_size


@numba.njit(cache=True)
def _components(partner, eligible, trusted, alive, chunk):
    """Connected components of the eligible ties among alive firms.

    Parameters
    ----------
    partner : int32 or int64 [N, K], C-contiguous
        Symmetric partner slots, -1 for an empty slot; dead firms have all -1 rows.
    eligible : bool or int8 [N, K], C-contiguous, or None
        Which tie slots count as edges; None: every tie. Only the slot at each tie's lower end
        (``eligible[i, s]`` for ``partner[i, s] > i``) is read, so a symmetric mask or one set
        at the lower ends only give the same result.
    trusted : tuple (back, trust, trust_min, group), or None
        Count only ties trusted both ways at ``trust_min`` or above between firms of one group
        (see :func:`_forest`); None: no such test.
    alive : bool [N]
    chunk : int
        Largest chunk wanted, in firm slots, >= 1 (:data:`CHUNK`); the result does not depend
        on it, nor on the number of threads.

    Returns
    -------
    root : int64 [N]
        Lowest slot of each alive firm's component (itself if isolated); -1 for dead firms.
    size : int64 [N]
        Number of firms in each alive firm's component (1 if isolated); 0 for dead firms.
    """
    parent, size, _ = _forest(partner, eligible, trusted, alive, chunk)
    return _resolve(parent, size, alive, chunk)


@numba.njit(cache=True)
def _largest_component(partner, eligible, trusted, alive, chunk):
    """Number of alive firms in the largest component of the eligible ties (isolated alive
    firms are components of size 1; 0 if no firm is alive). Arguments as in
    :func:`_components`."""
    return _forest(partner, eligible, trusted, alive, chunk)[2]


@numba.njit(cache=True)
def _small_components(partner, eligible, trusted, alive):
    """:func:`_components` and the largest size in one serial union-find, for small tables.

    The parallel path pays for itself only on tables too large for one chunk, and its kernels
    take seconds to compile; a small model (a classroom run) never needs them. Same arguments
    and rules as :func:`_components` (``chunk`` aside), same results: returns ``(root, size,
    largest)``.
    """
    n, k = partner.shape
    parent = np.empty(n, dtype=np.int64)
    size = np.empty(n, dtype=np.int64)
    largest = 0
    for i in range(n):
        parent[i] = i
        size[i] = 1 if alive[i] else 0
        if alive[i]:
            largest = 1
    for i in range(n):
        for s in range(k):
            j = partner[i, s]
            if j <= i:
                continue
            if eligible is not None and not eligible[i, s]:
                continue
            if trusted is not None:
                back, trust, trust_min, group = trusted
                if (trust[i, s] < trust_min or group[j] != group[i]
                        or trust[j, back[i, s]] < trust_min):
                    continue
            largest = max(largest, _unite(parent, size, i, j))
    root = np.empty(n, dtype=np.int64)
    comp_size = np.empty(n, dtype=np.int64)
    for i in range(n):
        r = _find(parent, i)
        root[i] = r if alive[i] else -1
        comp_size[i] = size[r] if alive[i] else 0
    return root, comp_size, largest


#: Tables with fewer firm slots than this take the serial path (:func:`_small_components`):
#: the model runs its kernels on one thread below the same size (sim.model.PARALLEL_MIN_FIRMS).
SERIAL_BELOW = 20_000


def find_components(partner, eligible, trusted, alive):
    """``(root, size)`` of :func:`_components` for arguments already checked (the model's own
    arrays), by the serial path on small tables and the parallel one on large ones."""
    if partner.shape[0] < SERIAL_BELOW:
        root, size, _ = _small_components(partner, eligible, trusted, alive)
        return root, size
    return _components(partner, eligible, trusted, alive, CHUNK)


def find_largest(partner, eligible, trusted, alive) -> int:
    """:func:`_largest_component` for checked arguments, serial on small tables."""
    if partner.shape[0] < SERIAL_BELOW:
        return int(_small_components(partner, eligible, trusted, alive)[2])
    return int(_largest_component(partner, eligible, trusted, alive, CHUNK))


def partner_table(partner: npt.ArrayLike) -> np.ndarray:
    """``partner`` as an int32 or int64 (N, K) array, or ValueError saying what is wrong with
    it (the kernels are compiled for these two integer types only)."""
    p = np.asarray(partner)
    if p.ndim != 2:
        raise ValueError(f"partner: expected a 2-D array (N, K), got shape {p.shape}")
    if p.size and not np.issubdtype(p.dtype, np.integer):
        raise ValueError(f"partner: expected integer slots, got dtype {p.dtype}")
    if p.dtype not in (np.int32, np.int64):
        p = p.astype(np.int64)
    return p


def _check(partner: npt.ArrayLike, alive: npt.ArrayLike, eligible: npt.ArrayLike | None,
           trusted: tuple | None):
    """The arguments as the kernels take them, or ValueError naming the bad one."""
    p = np.ascontiguousarray(partner_table(partner))
    a = np.asarray(alive)
    if a.dtype != np.bool_ or a.shape != (p.shape[0],):
        raise ValueError(f"alive: expected bool of shape ({p.shape[0]},), "
                         f"got {a.dtype} of shape {a.shape}")
    if eligible is not None:
        eligible = np.asarray(eligible)
        if eligible.shape != p.shape or eligible.dtype not in (np.bool_, np.int8):
            raise ValueError(f"eligible: expected bool or int8 of shape {p.shape}, "
                             f"got {eligible.dtype} of shape {eligible.shape}")
        eligible = np.ascontiguousarray(eligible)
    if trusted is not None:
        if len(trusted) != 4:
            raise ValueError("trusted: expected (back, trust, trust_min, group)")
        back, trust, trust_min, group = (np.asarray(x) for x in trusted)
        if back.shape != p.shape or not np.issubdtype(back.dtype, np.integer):
            raise ValueError(f"trusted: back must be integer of shape {p.shape}, "
                             f"got {back.dtype} of shape {back.shape}")
        if trust.shape != p.shape or not np.issubdtype(trust.dtype, np.floating):
            raise ValueError(f"trusted: trust must be float of shape {p.shape}, "
                             f"got {trust.dtype} of shape {trust.shape}")
        if group.shape != (p.shape[0],) or not np.issubdtype(group.dtype, np.integer):
            raise ValueError(f"trusted: group must be integer of shape ({p.shape[0]},), "
                             f"got {group.dtype} of shape {group.shape}")
        trusted = (np.ascontiguousarray(back, dtype=np.int8),
                   np.ascontiguousarray(trust, dtype=np.float64), float(trust_min),
                   np.ascontiguousarray(group, dtype=np.int64))
    return p, a, eligible, trusted


def components(partner: npt.ArrayLike, alive: npt.ArrayLike,
               eligible: npt.ArrayLike | None = None,
               trusted: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the tie network among alive firms.

    Parameters
    ----------
    partner : array_like of int, shape (N, K)
        ``partner[i, s]``: slot of firm i's s-th partner or -1. Must be symmetric, with dead
        firms' rows all -1 (not checked here; :func:`sim.measure.metrics.tie_stats` checks tables).
    alive : array_like of bool, shape (N,)
    eligible : array_like of bool or int8, shape (N, K), optional
        Which ties count as edges: symmetric across each tie, or at least right at each tie's
        lower end (``eligible[i, s]`` for ``partner[i, s] > i``), the only slot read; not
        checked. By default every tie counts.
    trusted : tuple (back, trust, trust_min, group), optional
        Count only ties trusted both ways, ``trust[i, s] >= trust_min`` and
        ``trust[j, back[i, s]] >= trust_min`` for ``j = partner[i, s]``, between firms of one
        group, ``group[i] == group[j]`` (joint purchasing's rule, tested as the ties are met:
        no mask to make first). ``back``: int8 (N, K) reverse slots; ``trust``: float (N, K);
        ``group``: int (N,).

    Returns
    -------
    root : ndarray of int64, shape (N,)
        Lowest slot of each alive firm's component (itself if isolated); -1 for dead firms.
    size : ndarray of int64, shape (N,)
        Number of firms in each alive firm's component (1 if isolated); 0 for dead firms.
    """
    p, a, e, t = _check(partner, alive, eligible, trusted)
    return find_components(p, e, t, a)


def largest_component(partner: npt.ArrayLike, alive: npt.ArrayLike,
                      eligible: npt.ArrayLike | None = None, trusted: tuple | None = None) -> int:
    """Number of alive firms in the largest connected component, isolated alive firms counting
    as components of size 1; 0 if no firm is alive. Arguments as in :func:`components`."""
    p, a, e, t = _check(partner, alive, eligible, trusted)
    return find_largest(p, e, t, a)
