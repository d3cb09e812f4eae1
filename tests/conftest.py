"""Shared fixtures of the model's tests: tiny worlds, quiet parameter sets, tie tables.

Every fixture here is a session-scoped *factory* (a function), so tests build exactly the small
state they need and hypothesis tests can use them without re-running a function-scoped fixture.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.core import compiling
from sim.core.params import Params
from sim.core.world import FirmGroup, Region, Sector, World

compiling.configure()  # the process settings of every entry point (sim.core.compiling)
# tests that check a command's stderr line by line must not see the one-off "compiling kernels"
# notice when the cache is cold (tests/test_compiling.py checks it in fresh interpreters)
compiling.silence()

#: Every mechanism switch, in the order of :class:`sim.core.params.Switches`.
SWITCHES = ("cooperation", "suppliers", "joint_purchasing", "facilities", "market", "growth",
            "exit", "entry")


def tiny_world(counts: dict[tuple[str, str], int] | None = None, n_regions: int = 2,
               n_sectors: int = 1, same_regions: bool = True, **region_kw) -> World:
    """Regions ``R0, R1, ...`` far apart on a 60 km map, sectors ``S0, S1, ...`` with inputs
    ``I0, I1, ...``, and initial firms by ``{(region, sector): count}``.

    With ``same_regions`` every region has the same land cost, access, infrastructure and wages
    (``region_kw`` overrides them), so regions differ only by where they are.
    """
    centres = [(15.0, 15.0), (45.0, 45.0), (15.0, 45.0), (45.0, 15.0), (30.0, 30.0)]
    regions = []
    for r in range(n_regions):
        x, y = centres[r % len(centres)]
        extra = {} if same_regions else {"land_cost": 0.02 + 0.01 * r}
        regions.append(Region(f"R{r}", x, y, radius=2.0, **{**extra, **region_kw}))
    sectors = tuple(Sector(f"S{s}", f"I{s}") for s in range(n_sectors))
    firms = tuple(FirmGroup(r, s, c) for (r, s), c in (counts or {}).items())
    return World(regions=tuple(regions), sectors=sectors, firms=firms)


def one_town_toml(name: str, steps: int, count: int = 30) -> str:
    """A minimal scenario file: one town, one sector, ``count`` metal firms, ``steps`` months
    (for tests of the commands, where the model hardly matters)."""
    return f"""
[scenario]
name = "{name}"
steps = {steps}

[[regions]]
name = "A"
x = 10.0
y = 10.0

[[sectors]]
name = "metal"
input = "steel"

[[firms]]
region = "A"
sector = "metal"
count = {count}
"""


def quiet_params(*on: str, **overrides) -> Params:
    """Params with every mechanism switched off except those named in ``on``, and no burn-in
    (a hand-built state is tested as built), unless ``burn_in`` is given."""
    unknown = set(on) - set(SWITCHES)
    if unknown:
        raise ValueError(f"unknown switches {sorted(unknown)}")
    switches = {f"switches.{s}": s in on for s in SWITCHES}
    return Params().replace({**switches, "burn_in": 0, **overrides})


def random_ties(rng: np.random.Generator, n: int, k: int, n_tries: int, p_dead: float = 0.2):
    """A random valid tie table: dead firms isolated, ties symmetric, trust in [0, 1] both ways,
    rows shuffled so empty slots (-1) sit anywhere in a row.

    Returns partner int32[n, k] (the model's dtype), trust float64[n, k] (0 on empty slots),
    alive bool[n].
    """
    alive = rng.random(n) > p_dead
    live = np.flatnonzero(alive)
    partner = np.full((n, k), -1, dtype=np.int32)
    fill = np.zeros(n, dtype=np.int64)
    if live.size >= 2:
        for _ in range(n_tries):
            i, j = rng.choice(live, size=2, replace=False)
            if fill[i] < k and fill[j] < k and j not in partner[i]:
                partner[i, fill[i]] = j
                partner[j, fill[j]] = i
                fill[i] += 1
                fill[j] += 1
    for row in partner:
        rng.shuffle(row)
    trust = np.where(partner >= 0, rng.random((n, k)), 0.0)
    return partner, trust, alive


def ties_from_edges(n: int, edges, k: int = 4, dtype=np.int32) -> np.ndarray:
    """Symmetric fixed-width partner table from an edge list (slots filled in edge order)."""
    partner = np.full((n, k), -1, dtype=dtype)
    fill = np.zeros(n, dtype=np.int64)
    for i, j in edges:
        partner[i, fill[i]] = j
        partner[j, fill[j]] = i
        fill[i] += 1
        fill[j] += 1
    return partner


def on_1_and_2_threads(fn):
    """``(fn() on 1 numba thread, fn() on 2)``; skips the test if numba has fewer than 2."""
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = fn()
        numba.set_num_threads(2)
        two = fn()
    finally:
        numba.set_num_threads(before)
    return one, two


def assert_identical(a, b, what: str = "result") -> None:
    """``a`` and ``b`` are bit-identical: same kinds, shapes, values (nan equal to nan)."""
    if isinstance(a, dict):
        assert isinstance(b, dict), what
        assert a.keys() == b.keys(), what
        for key in a:
            assert_identical(a[key], b[key], f"{what}[{key!r}]")
    elif isinstance(a, tuple | list):
        assert type(a) is type(b), what
        assert len(a) == len(b), what
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{what}[{n}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), what
        assert a.dtype == b.dtype, what
        np.testing.assert_array_equal(a, b, err_msg=what, strict=True)
    else:  # scalars: the pure-Python twins return numpy scalars where numba returns Python's
        assert np.asarray(a).dtype.kind == np.asarray(b).dtype.kind, what
        assert a == b or (a != a and b != b), f"{what}: {a!r} != {b!r}"


def edge_set(partner: np.ndarray) -> set[tuple[int, int]]:
    """Undirected ties as ``{(min, max)}`` pairs."""
    i, s = np.nonzero(partner >= 0)
    j = partner[i, s]
    return {(int(min(a, b)), int(max(a, b))) for a, b in zip(i, j, strict=True)}


def count_triangles(partner: np.ndarray) -> np.ndarray:
    """Triangles through each firm, by brute force over pairs of its partners (int64[n])."""
    edges = edge_set(partner)
    out = np.zeros(partner.shape[0], dtype=np.int64)
    for i, row in enumerate(partner.tolist()):
        mates = sorted(j for j in row if j >= 0)
        out[i] = sum((a, b) in edges for n, a in enumerate(mates) for b in mates[n + 1:])
    return out


def reverse_slots(partner: np.ndarray) -> np.ndarray:
    """``back[i, s]``: the slot firm i holds in the row of its partner ``partner[i, s]``, or -1
    on an empty slot (int8[n, k]), by a scan of each partner's row."""
    back = np.full(partner.shape, -1, dtype=np.int8)
    for i, s in zip(*np.nonzero(partner >= 0), strict=True):
        back[i, s] = list(partner[partner[i, s]]).index(i)
    return back


def check_ties(partner: np.ndarray, trust: np.ndarray | None = None,
               alive: np.ndarray | None = None) -> None:
    """Assert a tie table is valid: symmetric, no self-ties, no duplicate partners, ties only
    between live firms (if ``alive`` is given), trust in [0, 1] on ties (if ``trust`` is given).
    """
    n = partner.shape[0]
    i, s = np.nonzero(partner >= 0)
    j = partner[i, s]
    assert np.all(j < n), "partner index out of range"
    assert np.all(i != j), "self-tie"
    rows = np.sort(partner, axis=1)
    assert not np.any((rows[:, 1:] == rows[:, :-1]) & (rows[:, 1:] >= 0)), (
        "duplicate partner in a row")
    back = (partner[j] == i[:, None]).any(axis=1)  # vectorised: runs at every step of long runs
    assert back.all(), (f"asymmetric ties (j in i's row but not i in j's): "
                        f"{list(zip(i[~back][:5].tolist(), j[~back][:5].tolist(), strict=True))}")
    if alive is not None:
        assert np.all(alive[i]), "tie held by a dead firm"
        assert np.all(alive[j]), "tie to a dead firm"
    if trust is not None:
        t = trust[i, s]
        assert np.all((t >= 0.0) & (t <= 1.0)), "trust outside [0, 1]"


@pytest.fixture(scope="session")
def make_world():
    """Factory of tiny worlds; see :func:`tiny_world`."""
    return tiny_world


@pytest.fixture(scope="session")
def make_params():
    """Factory of Params with all mechanisms off except those named; see :func:`quiet_params`."""
    return quiet_params


@pytest.fixture(scope="session")
def make_ties():
    """Factory of random valid tie tables; see :func:`random_ties`."""
    return random_ties


@pytest.fixture(scope="session")
def assert_ties_valid():
    """The tie-table validity check; see :func:`check_ties`."""
    return check_ties


@pytest.fixture(scope="session")
def ties_as_set():
    """Undirected tie set of a partner table; see :func:`edge_set`."""
    return edge_set
