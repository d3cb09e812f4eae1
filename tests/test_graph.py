"""Twin, reference and hand-built tests of :mod:`sim.core.graph`, the parallel connected
components.

Every numba kernel of the module is run against its own pure-Python ``kernel.py_func`` on the
same small inputs (integers exactly, including every array it writes). The components are
checked against scipy's ``connected_components`` on random valid tie tables, against cases
whose answer is known by hand (chains and stars across many chunks, isolated and dead firms,
empty tables), for the same result with 1 and 2 threads, and against scipy on the tie table of
a model run, through the joint-purchasing rule as :func:`sim.mechanisms.suppliers.purchasing_groups`
applies it.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from scipy.sparse.csgraph import connected_components

from sim.core import graph
from sim.core.graph import CHUNK, components, largest_component
from sim.mechanisms import suppliers
from sim.model import ClusterModel

# pytest puts tests/ on sys.path: the shared builders live in conftest.py
from conftest import (  # isort: skip
    assert_identical, on_1_and_2_threads, random_ties, reverse_slots, ties_from_edges)

SEEDS = range(4)
#: Target chunk sizes: one slot per chunk (a merge tree as deep as it gets), odd sizes whose
#: chunks do not align with anything, and the default (one chunk for the small tables here).
CHUNKS = (1, 2, 3, 7, 16, CHUNK)


# --------------------------------------------------------------------------- helpers


def trusted_mask(partner: np.ndarray, trust: np.ndarray, threshold: float,
                 group: np.ndarray | None = None) -> np.ndarray:
    """Ties trusted both ways at ``threshold`` or above (and between firms of one ``group``, if
    given): a symmetric eligible mask, made with numpy."""
    back = reverse_slots(partner).astype(np.int64)
    j = np.maximum(partner, 0)
    mask = (partner >= 0) & (trust >= threshold) & (trust[j, np.maximum(back, 0)] >= threshold)
    return mask if group is None else mask & (group[j] == group[:, None])


def reference(partner: np.ndarray, alive: np.ndarray, eligible: np.ndarray | None = None):
    """Roots (lowest slot, -1 if dead) and component sizes (0 if dead) by scipy."""
    n = partner.shape[0]
    i, s = np.nonzero(partner >= 0)
    if eligible is not None:
        keep = eligible[i, s] != 0
        i, s = i[keep], s[keep]
    adjacency = scipy.sparse.coo_matrix((np.ones(i.size), (i, partner[i, s])), shape=(n, n))
    _, label = connected_components(adjacency, directed=False)
    lowest = np.full(n, n, dtype=np.int64)
    np.minimum.at(lowest, label, np.arange(n))
    count = np.bincount(label, weights=alive, minlength=label.max() + 1 if n else 0)
    root = np.where(alive, lowest[label], -1)
    size = np.where(alive, count[label], 0).astype(np.int64)
    return root, size


def table(seed: int, n: int = 80, k: int = 4, p_dead: float = 0.2, dtype=np.int32):
    """A random valid tie table: partner, trust, alive."""
    rng = np.random.default_rng([11, seed, n])
    partner, trust, alive = random_ties(rng, n, k, n_tries=int(rng.integers(0, 2 * n)),
                                        p_dead=p_dead)
    return partner.astype(dtype), trust, alive


def eligible_variant(partner: np.ndarray, trust: np.ndarray, kind: str):
    """None, or a trusted-both-ways mask as bool or int8."""
    if kind == "all":
        return None
    mask = trusted_mask(partner, trust, 0.4)
    return mask if kind == "bool" else mask.astype(np.int8)


def ways(partner: np.ndarray, trust: np.ndarray, kind: str):
    """``(eligible, trusted)`` arguments of the kernels: every tie ("all"), a mask ("bool",
    "int8") or joint purchasing's rule ("rule", with a group of firms by slot parity)."""
    if kind == "rule":
        return None, (reverse_slots(partner), trust, 0.4, np.arange(partner.shape[0]) % 2)
    return eligible_variant(partner, trust, kind), None


def forest_inputs(partner: np.ndarray, alive: np.ndarray, chunk: int):
    """Everything :func:`sim.core.graph._forest` sets up before phase 1, for the phase's
    twins."""
    n, k = partner.shape
    n_chunks, width, shift, chunk_of = graph._layout(n, chunk)
    levels, table_ = graph._levels(n_chunks)
    bounds = np.zeros((n_chunks, levels + 1), dtype=np.int64)
    room = 0
    for c in range(n_chunks):
        bounds[c, 0] = room
        room += graph._count_above(partner, c * width, min(n, (c + 1) * width))
    return dict(n_chunks=n_chunks, width=width, shift=shift, chunk_of=chunk_of, table=table_,
                parent=np.full(n, -7, dtype=partner.dtype), size=np.full(n, -7, partner.dtype),
                cross_i=np.full(room, -7, partner.dtype), cross_j=np.full(room, -7, partner.dtype),
                bounds=bounds)


# --------------------------------------------------------------------------- against scipy


@pytest.mark.parametrize("kind", ["all", "bool", "int8"])
@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("seed", SEEDS)
def test_components_match_scipy(seed, chunk, kind):
    partner, trust, alive = table(seed)
    eligible = eligible_variant(partner, trust, kind)
    root, size = graph._components(partner, eligible, None, alive, chunk)
    want_root, want_size = reference(partner, alive, eligible)
    assert_identical((root, size), (want_root, want_size))
    assert graph._largest_component(partner, eligible, None, alive, chunk) == want_size.max()


@pytest.mark.parametrize("chunk", [1, 5, CHUNK])
@pytest.mark.parametrize("seed", SEEDS)
def test_components_of_int64_tables_and_large_degrees(seed, chunk):
    # int64 slots (the other compiled signature), K = 9, few dead firms, dense ties
    partner, _, alive = table(seed, n=150, k=9, p_dead=0.05, dtype=np.int64)
    root, size = graph._components(partner, None, None, alive, chunk)
    assert_identical((root, size), reference(partner, alive))
    assert graph._largest_component(partner, None, None, alive, chunk) == size.max()


@pytest.mark.parametrize("chunk", [1, 3, 16, CHUNK])
@pytest.mark.parametrize("seed", SEEDS)
def test_trusted_rule_equals_its_mask(seed, chunk):
    # joint purchasing's rule, tested as the ties are met, gives the components of its mask
    partner, trust, alive = table(seed, n=120, k=5)
    group = np.random.default_rng([12, seed]).integers(0, 3, partner.shape[0])
    rule = (reverse_slots(partner), trust, 0.35, group)
    mask = trusted_mask(partner, trust, 0.35, group)
    want = reference(partner, alive, mask)
    assert_identical(graph._components(partner, None, rule, alive, chunk), want)
    assert graph._largest_component(partner, None, rule, alive, chunk) == want[1].max()
    # with a mask as well, a tie must pass both
    other = trusted_mask(partner, trust, 0.2) & (np.random.default_rng(seed).random(
        partner.shape) < 0.8)
    other &= other[np.maximum(partner, 0), np.maximum(reverse_slots(partner), 0)]  # symmetric
    assert_identical(graph._components(partner, other, rule, alive, chunk),
                     reference(partner, alive, mask & other))


@pytest.mark.parametrize("chunk", [1, 7, CHUNK])
@pytest.mark.parametrize("seed", SEEDS)
def test_eligible_is_read_at_the_lower_end_only(seed, chunk):
    # a mask set only at each tie's lower end (a caller may build just that half) gives the
    # same components; so does one with anything at all in the upper ends' slots
    partner, trust, alive = table(seed, n=120, k=5)
    eligible = trusted_mask(partner, trust, 0.4)
    lower = partner > np.arange(partner.shape[0])[:, None]
    want = reference(partner, alive, eligible)
    assert_identical(graph._components(partner, eligible & lower, None, alive, chunk), want)
    noise = np.random.default_rng(seed).random(partner.shape) < 0.5
    assert_identical(
        graph._components(partner, np.where(lower, eligible, noise), None, alive, chunk), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_result_does_not_depend_on_the_chunks(seed):
    partner, trust, alive = table(seed, n=300, k=5)
    eligible = trusted_mask(partner, trust, 0.3)
    results = {chunk: graph._components(partner, eligible, None, alive, chunk)
               for chunk in (1, 2, 3, 4, 8, 13, 64, 100, 299, 300, 301, CHUNK)}
    for chunk, result in results.items():
        assert_identical(result, results[CHUNK], f"chunk {chunk}")


@pytest.mark.parametrize("seed", SEEDS)
def test_public_wrappers(seed):
    partner, trust, alive = table(seed)
    eligible = trusted_mask(partner, trust, 0.5)
    assert_identical(components(partner, alive), reference(partner, alive))
    assert_identical(components(partner, alive, eligible), reference(partner, alive, eligible))
    assert largest_component(partner, alive) == reference(partner, alive)[1].max()
    assert isinstance(largest_component(partner, alive, eligible), int)
    # other integer dtypes, lists and non-contiguous tables are converted
    assert_identical(components(partner.astype(np.int16), alive), components(partner, alive))
    assert_identical(components(partner.tolist(), alive.tolist()), components(partner, alive))
    wide = np.repeat(partner, 2, axis=1)[:, ::2]  # a strided view with the same values
    assert_identical(components(wide, alive, eligible), components(partner, alive, eligible))
    # joint purchasing's rule, with lists and any integer dtypes
    group = np.arange(partner.shape[0]) % 2
    rule = (reverse_slots(partner), trust, 0.5, group)
    want = reference(partner, alive, trusted_mask(partner, trust, 0.5, group))
    assert_identical(components(partner, alive, trusted=rule), want)
    assert_identical(components(partner, alive, trusted=(rule[0].astype(np.int64),
                                                         rule[1].tolist(), 0.5, group.tolist())),
                     want)
    assert largest_component(partner, alive, trusted=rule) == want[1].max()


@pytest.mark.parametrize(
    ("partner", "alive", "eligible", "message"),
    [
        (np.zeros(3, np.int32), np.ones(3, bool), None, "partner: expected a 2-D"),
        (np.zeros((3, 2)), np.ones(3, bool), None, "partner: expected integer"),
        (np.full((3, 2), -1), np.ones(3, np.int8), None, "alive: expected bool"),
        (np.full((3, 2), -1), np.ones(4, bool), None, "alive: expected bool of shape"),
        (np.full((3, 2), -1), np.ones(3, bool), np.ones((3, 3), bool), "eligible: expected"),
        (np.full((3, 2), -1), np.ones(3, bool), np.ones((3, 2)), "eligible: expected"),
    ],
)
def test_wrappers_reject_bad_arguments(partner, alive, eligible, message):
    with pytest.raises(ValueError, match=message):
        components(partner, alive, eligible)
    with pytest.raises(ValueError, match=message):
        largest_component(partner, alive, eligible)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ((np.zeros((3, 2), np.int8), np.zeros((3, 2)), 0.5), "expected \\(back, trust"),
        ((np.zeros((3, 3), np.int8), np.zeros((3, 2)), 0.5, np.zeros(3, int)), "back must be"),
        ((np.zeros((3, 2)), np.zeros((3, 2)), 0.5, np.zeros(3, int)), "back must be"),
        ((np.zeros((3, 2), np.int8), np.zeros((3, 2), int), 0.5, np.zeros(3, int)),
         "trust must be"),
        ((np.zeros((3, 2), np.int8), np.zeros((3, 2)), 0.5, np.zeros(4, int)), "group must be"),
        ((np.zeros((3, 2), np.int8), np.zeros((3, 2)), 0.5, np.zeros(3)), "group must be"),
    ],
)
def test_wrappers_reject_bad_trust_rules(rule, message):
    partner, alive = np.full((3, 2), -1), np.ones(3, bool)
    with pytest.raises(ValueError, match="trusted: " + message):
        components(partner, alive, trusted=rule)


# --------------------------------------------------------------------------- by hand


@pytest.mark.parametrize("chunk", CHUNKS)
def test_chain_across_every_chunk_boundary(chunk):
    # a path through all 50 firms in a shuffled order: its ties cross chunk boundaries at every
    # level of the merge tree, in both directions
    n = 50
    order = np.random.default_rng(3).permutation(n)
    partner = ties_from_edges(n, zip(order[:-1], order[1:], strict=True), k=3)
    alive = np.ones(n, dtype=bool)
    root, size = graph._components(partner, None, None, alive, chunk)
    np.testing.assert_array_equal(root, np.zeros(n))
    np.testing.assert_array_equal(size, np.full(n, n))
    assert graph._largest_component(partner, None, None, alive, chunk) == n
    # the path in slot order, and cut in two by one ineligible tie (both of its slots)
    partner = ties_from_edges(n, [(i, i + 1) for i in range(n - 1)], k=2)
    eligible = np.ones(partner.shape, dtype=bool)
    eligible[29, partner[29] == 30] = False
    eligible[30, partner[30] == 29] = False
    root, size = graph._components(partner, eligible, None, alive, chunk)
    np.testing.assert_array_equal(root, np.where(np.arange(n) < 30, 0, 30))
    np.testing.assert_array_equal(size, np.where(np.arange(n) < 30, 30, 20))


@pytest.mark.parametrize("chunk", CHUNKS)
def test_star_centred_on_the_last_slot(chunk):
    n = 9
    partner = ties_from_edges(n, [(n - 1, j) for j in range(n - 1)], k=n - 1)
    alive = np.ones(n, dtype=bool)
    root, size = graph._components(partner, None, None, alive, chunk)
    np.testing.assert_array_equal(root, np.zeros(n))
    np.testing.assert_array_equal(size, np.full(n, n))


@pytest.mark.parametrize("chunk", CHUNKS)
def test_isolated_and_dead_firms(chunk):
    n = 12
    alive = np.ones(n, dtype=bool)
    alive[[0, 5, 11]] = False  # dead firms have no ties
    partner = ties_from_edges(n, [(1, 4), (4, 9), (6, 7)], k=2)
    root, size = graph._components(partner, None, None, alive, chunk)
    np.testing.assert_array_equal(root, [-1, 1, 2, 3, 1, -1, 6, 6, 8, 1, 10, -1])
    np.testing.assert_array_equal(size, [0, 3, 1, 1, 3, 0, 2, 2, 1, 3, 1, 0])
    assert graph._largest_component(partner, None, None, alive, chunk) == 3
    # no ties at all: every alive firm is its own component of size 1
    empty = np.full((n, 3), -1, dtype=np.int32)
    root, size = graph._components(empty, None, None, alive, chunk)
    np.testing.assert_array_equal(root, np.where(alive, np.arange(n), -1))
    np.testing.assert_array_equal(size, alive.astype(np.int64))
    assert graph._largest_component(empty, None, None, alive, chunk) == 1


@pytest.mark.parametrize("chunk", CHUNKS)
def test_all_dead_and_empty_tables(chunk):
    for n, k in ((0, 4), (5, 4), (5, 0), (0, 0)):
        partner = np.full((n, k), -1, dtype=np.int32)
        alive = np.zeros(n, dtype=bool)
        root, size = graph._components(partner, None, None, alive, chunk)
        assert_identical((root, size), (np.full(n, -1, np.int64), np.zeros(n, np.int64)))
        assert graph._largest_component(partner, None, None, alive, chunk) == 0
    # alive firms and no tie slots at all
    root, size = graph._components(np.zeros((4, 0), np.int32), None, None, np.ones(4, bool),
                                   chunk)
    assert_identical((root, size), (np.arange(4, dtype=np.int64), np.ones(4, np.int64)))


def test_table_smaller_than_one_chunk():
    partner = ties_from_edges(10, [(2, 3), (3, 8), (0, 9)], k=2)
    alive = np.ones(10, dtype=bool)
    assert graph._layout(10, CHUNK)[0] == 1
    root, size = graph._components(partner, None, None, alive, CHUNK)
    np.testing.assert_array_equal(root, [0, 1, 2, 2, 4, 5, 6, 7, 2, 0])
    np.testing.assert_array_equal(size, [2, 1, 3, 3, 1, 1, 1, 1, 3, 2])


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 5])
def test_component_rooted_in_the_last_chunk(chunk):
    # {17, 18, 19} lives wholly in the last chunk(s); {3, 19} would join it to a lower root
    n = 20
    alive = np.ones(n, dtype=bool)
    partner = ties_from_edges(n, [(19, 17), (18, 19), (0, 1), (10, 2)], k=2)
    root, size = graph._components(partner, None, None, alive, chunk)
    assert root[17:].tolist() == [17, 17, 17]
    assert size[17:].tolist() == [3, 3, 3]
    assert_identical((root, size), reference(partner, alive))
    partner = ties_from_edges(n, [(19, 17), (18, 19), (3, 19)], k=3)
    root, _ = graph._components(partner, None, None, alive, chunk)
    assert root[[3, 17, 18, 19]].tolist() == [3, 3, 3, 3]


# --------------------------------------------------------------------------- threads


def same_for_1_and_2_threads(fn):
    """``fn()`` with 1 and with 2 numba threads (skips if numba has fewer than 2)."""
    one, two = on_1_and_2_threads(fn)
    assert_identical(one, two, "1 thread vs 2 threads")
    return one


@pytest.mark.parametrize("chunk", [1, 3, 64, CHUNK])
@pytest.mark.parametrize("seed", SEEDS)
def test_same_forest_for_1_and_2_threads(seed, chunk):
    # not only the roots (unique whatever the order of unions) but the whole forest
    partner, trust, alive = table(seed, n=2000, k=6)
    eligible = trusted_mask(partner, trust, 0.3)
    rule = (reverse_slots(partner), trust, 0.3, np.arange(partner.shape[0]) % 3)
    for mask, tr in ((None, None), (eligible, None), (None, rule)):
        same_for_1_and_2_threads(lambda m=mask, r=tr: graph._forest(partner, m, r, alive, chunk))
        same_for_1_and_2_threads(
            lambda m=mask, r=tr: graph._components(partner, m, r, alive, chunk))


# --------------------------------------------------------------------------- twins


def test_find_root_of_and_unite_kernel_twins():
    rng = np.random.default_rng(5)
    n = 40
    base = np.arange(n)
    for i in range(1, n):  # a random forest with parent[i] <= i
        base[i] = rng.integers(0, i + 1) if rng.random() < 0.7 else i
    size = np.ones(n, dtype=np.int64)
    for i in range(n):
        fast, slow = base.copy(), base.copy()
        root = graph._root_of(base, i)
        assert root == graph._root_of.py_func(base, i)
        assert graph._find(fast, i) == graph._find.py_func(slow, i) == root
        np.testing.assert_array_equal(fast, slow)  # the same halving
    for _ in range(60):
        i, j = rng.integers(0, n, 2)
        fast, slow = (base.copy(), size.copy()), (base.copy(), size.copy())
        assert graph._unite(*fast, i, j) == graph._unite.py_func(*slow, i, j)
        assert_identical(fast, slow, "unite")
        a, b = graph._root_of(base, i), graph._root_of(base, j)
        assert graph._root_of(fast[0], i) == graph._root_of(fast[0], j) == min(a, b)
        base, size = fast


@pytest.mark.parametrize("n", [0, 1, 2, 5, 100, 1000, 100_000, 1_000_000])
@pytest.mark.parametrize("chunk", [1, 3, 64, 1000, CHUNK])
def test_layout_kernel_twin_and_properties(n, chunk):
    got = graph._layout(n, chunk)
    if n <= 100_000:  # the pure-Python twin fills a table of up to n entries
        assert_identical(tuple(got), tuple(graph._layout.py_func(n, chunk)))
    n_chunks, width, shift, chunk_of = got
    if n == 0:
        assert n_chunks == 0
        return
    assert width % (1 << shift) == 0
    assert (n_chunks - 1) * width < n <= n_chunks * width
    parts = 1 << int(np.ceil(np.log2(max(1, n / chunk))))  # a power of two, parts * chunk >= n
    if n >= graph.SPLIT:
        parts = max(parts, 2)
    assert n_chunks <= parts
    # all chunks but the last equal, and the last not much shorter
    assert n - (n_chunks - 1) * width >= width - n_chunks * max(1, width // 64)
    slots = np.arange(0, n, max(1, n // 5000))
    np.testing.assert_array_equal(chunk_of[slots >> shift], slots // width)


@pytest.mark.parametrize("n_chunks", [0, 1, 2, 3, 8, 9, 100])
def test_levels_kernel_twin(n_chunks):
    levels, table_ = graph._levels(n_chunks)
    assert_identical((levels, table_), graph._levels.py_func(n_chunks))
    assert (1 << levels) >= n_chunks
    assert levels == 0 or (1 << (levels - 1)) < n_chunks
    for ci in range(n_chunks):
        for cj in range(ci + 1, n_chunks):
            level = table_[ci ^ cj]
            assert ci >> (level + 1) == cj >> (level + 1)  # one group of 2^(level+1) chunks
            assert (ci >> level) & 1 == 0  # in the lower half
            assert (cj >> level) & 1 == 1  # in the upper half


@pytest.mark.parametrize("seed", SEEDS)
def test_count_above_and_gather_kernel_twins(seed):
    partner, trust, alive = table(seed, n=60, k=5)
    eligible = trusted_mask(partner, trust, 0.5)
    for lo, hi in ((0, 60), (7, 23), (59, 60), (30, 30)):
        want = int((partner[lo:hi] >= hi).sum())
        assert graph._count_above(partner, lo, hi) == graph._count_above.py_func(
            partner, lo, hi) == want
    flat = partner.reshape(-1)[10 * 5:40 * 5]
    row = np.repeat(np.arange(10, 40), 5).astype(np.int32)
    above = np.flatnonzero(flat > row)
    fast, slow = np.full(flat.size, -1), np.full(flat.size, -1)
    q = graph._gather(flat, row, fast)
    assert q == graph._gather.py_func(flat, row, slow) == above.size
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast[:q], above)
    for mask in (eligible.reshape(-1)[10 * 5:40 * 5], eligible.astype(np.int8).reshape(-1)[50:200]):
        want = np.flatnonzero((flat > row) & (mask != 0))
        fast, slow = np.full(flat.size, -1), np.full(flat.size, -1)
        q = graph._gather_eligible(flat, mask, row, fast)
        assert q == graph._gather_eligible.py_func(flat, mask, row, slow) == want.size
        np.testing.assert_array_equal(fast, slow)
        np.testing.assert_array_equal(fast[:q], want)


@pytest.mark.parametrize("kind", ["all", "bool", "rule"])
@pytest.mark.parametrize("chunk", [1, 3, 16])
@pytest.mark.parametrize("seed", SEEDS)
def test_chunk_forest_and_merge_group_kernel_twins(seed, chunk, kind):
    partner, trust, alive = table(seed, n=70, k=4)
    eligible, rule = ways(partner, trust, kind)
    n = partner.shape[0]
    state = forest_inputs(partner, alive, chunk)
    fast, slow = ({key: state[key].copy() for key in ("parent", "size", "cross_i", "cross_j",
                                                       "bounds")} for _ in range(2))
    width, n_chunks = state["width"], state["n_chunks"]
    for c in range(n_chunks):
        lo, hi = c * width, min(n, (c + 1) * width)
        before = {key: value.copy() for key, value in fast.items()}
        args = (partner, eligible, rule, alive, c, lo, hi, state["shift"], state["chunk_of"],
                state["table"])
        best = graph._chunk_forest(*args, *fast.values())
        assert best == graph._chunk_forest.py_func(*args, *slow.values())
        assert_identical(tuple(fast.values()), tuple(slow.values()), f"chunk {c}")
        # it writes only its own range of the forest and its own room in the tie lists
        outside = np.r_[0:lo, hi:n]
        np.testing.assert_array_equal(fast["parent"][outside], before["parent"][outside])
        np.testing.assert_array_equal(fast["size"][outside], before["size"][outside])
        end = state["bounds"][c + 1, 0] if c + 1 < n_chunks else fast["cross_i"].size
        room = np.r_[0:fast["bounds"][c, 0], end:fast["cross_i"].size]
        np.testing.assert_array_equal(fast["cross_i"][room], before["cross_i"][room])
        # its listed ties go to higher chunks, sorted by level
        ties = slice(fast["bounds"][c, 0], fast["bounds"][c, -1])
        cj = state["chunk_of"][fast["cross_j"][ties] >> state["shift"]]
        assert np.all(cj > c)
        assert np.all(np.diff(state["table"][c ^ cj]) >= 0)
    levels = fast["bounds"].shape[1] - 1
    for level in range(levels):
        half = 1 << level
        for c0 in range(0, n_chunks, 2 * half):
            args = (fast["bounds"], level, c0, min(c0 + half, n_chunks))
            got = graph._merge_group(fast["parent"], fast["size"], fast["cross_i"],
                                     fast["cross_j"], *args)
            assert got == graph._merge_group.py_func(slow["parent"], slow["size"],
                                                     slow["cross_i"], slow["cross_j"], *args)
            assert_identical(tuple(fast.values()), tuple(slow.values()), f"level {level}")
    # the same forest as the whole kernel builds
    parent, size, _ = graph._forest(partner, eligible, rule, alive, chunk)
    np.testing.assert_array_equal(fast["parent"], parent)


@pytest.mark.parametrize("kind", ["all", "bool", "int8", "rule"])
@pytest.mark.parametrize("chunk", [1, 3, 16, CHUNK])
@pytest.mark.parametrize("seed", SEEDS)
def test_forest_resolve_and_components_kernel_twins(seed, chunk, kind):
    partner, trust, alive = table(seed, n=70, k=4)
    args = (partner, *ways(partner, trust, kind), alive, chunk)
    fast = graph._forest(*args)
    assert_identical(fast, graph._forest.py_func(*args), "forest")
    parent, size, largest = fast
    assert np.all(parent <= np.arange(parent.size))
    assert_identical(graph._resolve(parent, size, alive, chunk),
                     graph._resolve.py_func(parent, size, alive, chunk), "resolve")
    assert_identical(graph._components(*args), graph._components.py_func(*args), "components")
    assert (graph._largest_component(*args) == graph._largest_component.py_func(*args)
            == largest)


@pytest.mark.parametrize("seed", SEEDS)
def test_keep_trusted_kernel_twin(seed):
    partner, trust, _ = table(seed, n=60, k=5)
    back = reverse_slots(partner)
    group = np.random.default_rng([13, seed]).integers(0, 2, 60)
    lo, hi = 10, 40
    slots = partner.reshape(-1)[lo * 5:hi * 5]
    row = np.repeat(np.arange(lo, hi), 5).astype(np.int32)
    picked = np.flatnonzero(slots > row)
    rule = (back.reshape(-1)[lo * 5:hi * 5], trust.reshape(-1)[lo * 5:hi * 5], trust, 0.3,
            group)
    fast, slow = picked.copy(), picked.copy()
    r = graph._keep_trusted(fast, picked.size, slots, row, *rule)
    assert r == graph._keep_trusted.py_func(slow, picked.size, slots, row, *rule)
    np.testing.assert_array_equal(fast, slow)
    keep = trusted_mask(partner, trust, 0.3, group).reshape(-1)[lo * 5:hi * 5]
    np.testing.assert_array_equal(fast[:r], picked[keep[picked]])


# --------------------------------------------------------------------------- a model's ties


@pytest.fixture(scope="module")
def model_ties():
    """The tie table of a 30,000-firm model after a year (about 0.4 ties per firm), and what
    purchasing groups use."""
    model = ClusterModel(n_firms=30_000, rng=1, agents=False)
    for _ in range(12):
        model.step()
    ties, firms = model.ties, model.firms
    finput = model.world_arrays["sector_input"][firms.sector]
    trust_min = model.params.suppliers.jp_trust_min - model.mods.jp_trust_shift
    return ties.partner, ties.back, ties.trust, firms.alive, finput, trust_min


def test_same_components_as_scipy_on_a_model(model_ties):
    partner, back, trust, alive, finput, trust_min = model_ties
    assert np.count_nonzero(partner >= 0) > 10_000  # a table worth testing
    assert graph._layout(partner.shape[0], CHUNK)[0] > 1  # more than one chunk
    # purchasing groups: ties trusted both ways between firms buying the same input
    j = np.maximum(partner, 0)
    eligible = ((partner >= 0) & (trust >= trust_min)
                & (trust[j, np.maximum(back, 0).astype(np.int64)] >= trust_min)
                & (finput[j] == finput[:, None]))
    want = reference(partner, alive, eligible)
    assert_identical(components(partner, alive, eligible), want, "purchasing groups")
    rule = (back, trust, trust_min, finput)
    assert_identical(components(partner, alive, trusted=rule), want, "purchasing rule")
    assert_identical(suppliers.purchasing_groups(partner, back, trust, alive, finput, trust_min),
                     want, "the suppliers' call")
    # the giant component, of all ties
    root, size = components(partner, alive)
    assert largest_component(partner, alive) == size.max()
    assert_identical((root, size), reference(partner, alive))
    for chunk in (1000, 4096):  # deeper merge trees give the same
        assert_identical(graph._components(partner, eligible, None, alive, chunk), want)
        assert_identical(graph._components(partner, None, rule, alive, chunk), want)
    same_for_1_and_2_threads(lambda: graph._forest(partner, eligible, None, alive, 1000))
    same_for_1_and_2_threads(lambda: graph._components(partner, None, rule, alive, CHUNK))


@pytest.mark.parametrize("kind", ["all", "bool", "int8", "rule"])
@pytest.mark.parametrize("seed", SEEDS)
def test_small_table_path_twin_and_equal_to_the_parallel_path(seed, kind):
    partner, trust, alive = table(seed, n=90, k=4)
    eligible, trusted = ways(partner, trust, kind)
    args = (partner, eligible, trusted, alive)
    fast = graph._small_components(*args)
    assert_identical(fast, graph._small_components.py_func(*args), "small components")
    root, size, largest = fast
    assert_identical((root, size), graph._components(*args, 3), "against the parallel path")
    assert largest == graph._largest_component(*args, 3)
    mask = (None if kind == "rule" else eligible)
    if kind != "rule":
        assert_identical((root, size), reference(partner, alive, mask), "against scipy")


def test_find_functions_take_the_serial_path_below_the_threshold_only(monkeypatch):
    partner, trust, alive = table(3, n=200, k=4)
    want = reference(partner, alive)
    calls = []
    monkeypatch.setattr(graph, "_components",
                        lambda *a: calls.append("parallel") or want)
    monkeypatch.setattr(graph, "SERIAL_BELOW", 201)
    assert_identical(graph.find_components(partner, None, None, alive), want)
    assert calls == []  # 200 slots < 201: the serial kernel
    monkeypatch.setattr(graph, "SERIAL_BELOW", 200)
    graph.find_components(partner, None, None, alive)
    assert calls == ["parallel"]
    assert graph.find_largest(partner, None, None, alive) == want[1].max()
