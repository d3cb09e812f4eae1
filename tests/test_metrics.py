"""Analytic, statistical and twin tests of :mod:`sim.measure.metrics`.

Each metric is checked against values computed by hand or known in closed form; the numba
kernels are checked against their own pure-Python ``py_func`` and against a second, simpler
formulation (dense adjacency algebra, scipy's connected components, networkx if installed).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse
from scipy.sparse.csgraph import connected_components

from sim.core.totals import CHUNK
from sim.measure import metrics
from sim.measure.metrics import agglomeration as m_agg
from sim.measure.metrics import (
    alive_holders,
    alive_totals,
    ellison_glaeser,
    ellison_glaeser_parts,
    firm_indicators,
    gini,
    grid_morans_i,
    herfindahl,
    location_quotients,
    mean_trust,
    morans_i,
    productivity_stats,
    size_class_shares,
    supplier_concentration,
    tie_stats,
)
from sim.measure.metrics import checks as m_chk
from sim.measure.metrics import indicators as m_ind
from sim.measure.metrics import inequality as m_ineq
from sim.measure.metrics import network as m_net
from sim.measure.metrics import suppliers as m_sup

# pytest puts tests/ on sys.path: the shared builders live in conftest.py
from conftest import assert_identical  # isort: skip
from conftest import count_triangles as count_triangles_of  # isort: skip
from conftest import on_1_and_2_threads, ties_from_edges  # isort: skip
from conftest import random_ties as random_ties_with_trust  # isort: skip

NAN_TIES = {"mean_degree", "tie_density", "giant_component_share", "clustering"}


# --------------------------------------------------------------------------- helpers


def assert_same_for_any_threads(fn) -> None:
    """``fn()`` gives a bit-identical result with 1 and with 2 numba threads."""
    one, two = on_1_and_2_threads(fn)
    assert_identical(one, two, "1 thread vs 2 threads")


def random_firms(rng: np.random.Generator, n: int, n_regions: int = 3, n_sectors: int = 4,
                 world: float = 20.0, p_dead: float = 0.2) -> dict[str, np.ndarray]:
    """Firm slots as the model holds them: employment with ties (a floor of 1, some 0, some
    repeated values), firms on the far edge of the world, and dead slots holding junk."""
    emp = np.maximum(1.0, rng.lognormal(0.5, 1.2, n))
    emp[rng.random(n) < 0.05] = 0.0
    emp[rng.random(n) < 0.1] = 7.0
    x, y = rng.uniform(0, world, n), rng.uniform(0, world, n)
    x[rng.random(n) < 0.02] = world
    alive = rng.random(n) > p_dead
    firms = dict(emp=emp, prod=rng.lognormal(0.0, 0.3, n), region=rng.integers(0, n_regions, n),
                 sector=rng.integers(0, n_sectors, n), x=x, y=y, alive=alive)
    for key, junk in (("emp", np.nan), ("prod", -np.inf), ("region", -1), ("sector", 99),
                      ("x", -99.0)):
        firms[key][~alive] = junk
    return firms


def gini_by_sorting(x) -> float:
    """The Gini coefficient as it was computed before the radix sort: np.sort and the rank
    identity, summed by numpy."""
    x = np.asarray(x, dtype=np.float64)
    n, total = x.size, x.sum()
    if n == 0 or total <= 0:
        return np.nan
    rank = np.arange(1, n + 1, dtype=np.float64)
    return max(float(np.sum((2.0 * rank - n - 1.0) * np.sort(x))) / (n * total), 0.0)





def random_ties(rng: np.random.Generator, n: int, k: int, n_tries: int, p_dead: float = 0.2):
    """A random valid tie table (conftest's builder, without the trust matrix)."""
    partner, _, alive = random_ties_with_trust(rng, n, k, n_tries, p_dead)
    return partner, alive


def reference_tie_stats(partner: np.ndarray, alive: np.ndarray) -> dict[str, float]:
    """tie_stats by dense adjacency algebra: triangles = diag(A^3) / 2, scipy components."""
    live = np.flatnonzero(alive)
    n = live.size
    pos = {s: a for a, s in enumerate(live)}
    adj = np.zeros((n, n))
    for s in live:
        for j in partner[s]:
            if j >= 0:
                adj[pos[s], pos[j]] = 1.0
    deg = adj.sum(axis=1)
    tri = np.diag(adj @ adj @ adj) / 2.0
    _, labels = connected_components(scipy.sparse.csr_array(adj), directed=False)
    wedge = deg >= 2
    return {
        "mean_degree": deg.mean(),
        "tie_density": deg.sum() / 2.0 / (n * (n - 1) / 2.0),
        "giant_component_share": np.bincount(labels).max() / n,
        "clustering": np.mean(tri[wedge] / (deg[wedge] * (deg[wedge] - 1) / 2.0))
        if wedge.any() else np.nan,
    }


def rook_weights(m: int) -> np.ndarray:
    """Dense binary rook weights of an m x m grid, cells numbered row-major (cell = iy*m + ix)."""
    w = np.zeros((m * m, m * m))
    for iy in range(m):
        for ix in range(m):
            c = iy * m + ix
            if ix + 1 < m:
                w[c, c + 1] = w[c + 1, c] = 1.0
            if iy + 1 < m:
                w[c, c + m] = w[c + m, c] = 1.0
    return w


def cell_centres(m: int, world: float):
    """x, y of the centres of an m x m grid over [0, world]^2, row-major."""
    c = (np.arange(m) + 0.5) * world / m
    yy, xx = np.meshgrid(c, c, indexing="ij")
    return xx.ravel(), yy.ravel()


# --------------------------------------------------------------------------- gini


def test_gini_hand_computed():
    # sum_ij |x_i - x_j| over ordered pairs of (1, 2, 3, 4) = 20; G = 20 / (2 * 4^2 * 2.5)
    assert gini([4.0, 1.0, 3.0, 2.0]) == pytest.approx(0.25, abs=1e-15)
    assert gini([5.0] * 7) == 0.0
    for n in (1, 2, 10):
        assert gini([0.0] * (n - 1) + [3.0]) == pytest.approx((n - 1) / n, abs=1e-15)


def test_gini_matches_all_pairs_definition():
    rng = np.random.default_rng(11)
    x = rng.lognormal(size=40)
    w = rng.random(40)
    pairs = np.abs(x[:, None] - x[None, :])
    assert gini(x) == pytest.approx(pairs.sum() / (2 * x.size**2 * x.mean()), rel=1e-12)
    weighted = (w[:, None] * w[None, :] * pairs).sum() / (2 * w.sum() * np.dot(w, x))
    assert gini(x, w) == pytest.approx(weighted, rel=1e-12)


@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        (lambda rng, n: rng.exponential(2.0, n), 0.5),
        (lambda rng, n: rng.uniform(0.0, 1.0, n), 1.0 / 3.0),
        # classical Pareto with shape a = 3 has G = 1 / (2a - 1)
        (lambda rng, n: 1.0 + rng.pareto(3.0, n), 0.2),
    ],
    ids=["exponential", "uniform", "pareto3"],
)
def test_gini_converges_to_population_value(draw, expected):
    # standard error of the sample Gini at n = 400,000 is ~0.001 for all three laws
    x = draw(np.random.default_rng(2024), 400_000)
    assert gini(x) == pytest.approx(expected, abs=0.005)


def test_gini_invariances():
    rng = np.random.default_rng(3)
    x = rng.lognormal(size=200)
    w = rng.integers(0, 5, size=200).astype(float)
    g = gini(x)
    assert gini(1e6 * x) == pytest.approx(g, rel=1e-12)
    assert gini(rng.permutation(x)) == pytest.approx(g, rel=1e-12)
    assert gini(x, np.ones_like(x)) == pytest.approx(g, rel=1e-12)
    # integer frequency weights are the same as repeating the observations
    assert gini(x, w) == pytest.approx(gini(np.repeat(x, w.astype(int))), rel=1e-12)
    assert gini(x, 7.5 * w) == pytest.approx(gini(x, w), rel=1e-12)


def test_gini_undefined_and_invalid():
    assert np.isnan(gini([]))
    assert np.isnan(gini([0.0, 0.0]))
    assert np.isnan(gini([1.0, 2.0], [0.0, 0.0]))
    assert isinstance(gini([1.0, 2.0]), float)
    with pytest.raises(ValueError, match="x: values must be >= 0"):
        gini([1.0, -1.0])
    with pytest.raises(ValueError, match="finite"):
        gini([1.0, np.nan])
    with pytest.raises(ValueError, match="weights: expected length 2"):
        gini([1.0, 2.0], [1.0])


# --------------------------------------------------------------------------- herfindahl


def test_herfindahl():
    assert herfindahl([1.0, 1.0, 2.0]) == pytest.approx(0.375)  # 1/16 + 1/16 + 1/4
    assert herfindahl(np.full(8, 3.0)) == pytest.approx(1 / 8)
    assert herfindahl([0.0, 5.0, 0.0]) == 1.0
    assert herfindahl([1e300, 1e300]) == pytest.approx(0.5)  # no overflow
    assert np.isnan(herfindahl([]))
    assert np.isnan(herfindahl([0.0]))
    with pytest.raises(ValueError, match=">= 0"):
        herfindahl([1.0, -0.5])


# --------------------------------------------------------------------------- size classes


def test_size_class_shares_boundaries_and_dead_firms():
    emp = np.array([0.0, 4.99, 5.0, 49.9, 50.0, 249.0, 250.0, 1e4, 3.0, -7.0])
    alive = np.ones(10, dtype=bool)
    alive[-2:] = False  # dead slots do not count, whatever they hold
    out = size_class_shares(emp, alive)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.25, 0.25, 0.25, 0.25])
    np.testing.assert_allclose(size_class_shares(emp, alive, bounds=(10.0,)), [3 / 8, 5 / 8])


def test_size_class_shares_empty_and_invalid():
    out = size_class_shares(np.zeros(3), np.zeros(3, dtype=bool))
    assert out.shape == (4,)
    assert np.isnan(out).all()
    assert size_class_shares(np.zeros(0), np.zeros(0, dtype=bool)).shape == (4,)
    with pytest.raises(ValueError, match="bounds: must be strictly increasing"):
        size_class_shares([1.0], [True], bounds=(5.0, 5.0))
    with pytest.raises(ValueError, match="alive: expected a bool array"):
        size_class_shares([1.0], [1])


# --------------------------------------------------------------------------- LQ and E-G


def three_region_case():
    """Two sectors, three regions, computed by hand in the tests below.

    sector 0: plants of 10, 10 (region 0) and 20 (region 1); E_0 = 40, s_0 = (1/2, 1/2, 0)
    sector 1: plants of 20 (region 1) and 40 (region 2);      E_1 = 60, s_1 = (0, 1/3, 2/3)
    E = 100, x = (0.2, 0.4, 0.4), sum x^2 = 0.36. A dead slot with junk codes is ignored.
    """
    emp = np.array([10.0, 10.0, 20.0, 20.0, 40.0, 99.0])
    region = np.array([0, 0, 1, 1, 2, -1])
    sector = np.array([0, 0, 0, 1, 1, 7])
    alive = np.array([True] * 5 + [False])
    return emp, region, sector, alive


def test_location_quotients_hand_computed():
    emp, region, sector, alive = three_region_case()
    lq = location_quotients(emp, region, sector, alive, 3, 2)
    assert lq.shape == (2, 3)
    assert lq.dtype == np.float64
    # LQ_ir = e_ir E / (e_r E_i)
    np.testing.assert_allclose(lq, [[2.5, 1.25, 0.0], [0.0, 5 / 6, 5 / 3]], rtol=1e-14)


def test_location_quotients_nan_where_undefined():
    emp, region, sector, alive = three_region_case()
    lq = location_quotients(emp, region, sector, alive, n_regions=4, n_sectors=3)
    assert np.isnan(lq[:, 3]).all()  # region 3 has no firms
    assert np.isnan(lq[2]).all()  # sector 2 has no firms
    assert np.isfinite(lq[:2, :3]).all()
    assert np.isnan(location_quotients(emp, region, sector, np.zeros(6, bool), 3, 2)).all()


def test_ellison_glaeser_hand_computed():
    # each sector is measured against the other: x^(-0) = s_1 = (0, 1/3, 2/3) and
    # x^(-1) = s_0 = (1/2, 1/2, 0); H_0 = 2 (1/4)^2 + (1/2)^2 = 3/8, H_1 = (1/3)^2 + (2/3)^2 = 5/9
    # and the other sector's plant Herfindahl is the other's H
    emp, region, sector, alive = three_region_case()
    g, h, x, h_other = ellison_glaeser_parts(emp, region, sector, alive, 3, 2)
    np.testing.assert_allclose(x, [[0.0, 1 / 3, 2 / 3], [0.5, 0.5, 0.0]], rtol=1e-14)
    # G_0 = (1/2)^2 + (1/2 - 1/3)^2 + (2/3)^2 = 13/18 = G_1
    np.testing.assert_allclose(g, [13 / 18, 13 / 18], rtol=1e-13)
    np.testing.assert_allclose(h, [0.375, 5 / 9], rtol=1e-14)
    np.testing.assert_allclose(h_other, [5 / 9, 0.375], rtol=1e-14)
    # c_0 = (1 - 5/9) / (1 - 5/9) = 1: gamma_0 = (13/18 - (3/8 + 5/9)) / (1 - 3/8) = -1/3
    # c_1 = (1 - 1/2) / (1 - 3/8) = 4/5: gamma_1 = (13/18 - 4/5 (5/9 + 3/8)) / (4/5 4/9) = -1/16
    gamma = ellison_glaeser(emp, region, sector, alive, 3, 2)
    assert gamma.dtype == np.float64
    c = [Fraction(1), Fraction(4, 5)]
    hf, hof = [Fraction(3, 8), Fraction(5, 9)], [Fraction(5, 9), Fraction(3, 8)]
    want = [(Fraction(13, 18) - c[i] * (hf[i] + hof[i])) / (c[i] * (1 - hf[i])) for i in (0, 1)]
    assert want == [Fraction(-1, 3), Fraction(-1, 16)]
    np.testing.assert_allclose(gamma, [float(w) for w in want], rtol=1e-12)


@pytest.mark.parametrize("n_plants", [10, 1000])
def test_ellison_glaeser_one_region_many_equal_plants(n_plants):
    # sector 0: n equal plants, 100 employees in all, all in region 0; sector 1 (the reference
    # of sector 0): 100 employees in region 1 and 200 in region 2, in plants of 50, 50, 120, 80.
    # x^(-0) = (0, 1/3, 2/3), 1 - sum x^2 = 4/9, H^(-0) = 25,800 / 90,000 = 43/150, so
    # c = (4/9) / (107/150) = 200/321; H_0 = 1/n, G_0 = 1 + 1/9 + 4/9 = 14/9
    emp = np.concatenate([np.full(n_plants, 100.0 / n_plants), [50.0, 50.0, 120.0, 80.0]])
    region = np.concatenate([np.zeros(n_plants, np.int64), [1, 1, 2, 2]])
    sector = np.concatenate([np.zeros(n_plants, np.int64), [1, 1, 1, 1]])
    alive = np.ones(emp.size, dtype=bool)
    gamma = ellison_glaeser(emp, region, sector, alive, 3, 2)
    n = Fraction(n_plants)
    c = Fraction(200, 321)
    expected = (Fraction(14, 9) - c * (1 / n + Fraction(43, 150))) / (c * (1 - 1 / n))
    assert gamma[0] == pytest.approx(float(expected), rel=1e-12)
    if n_plants == 1000:  # tends to (14/9 - c 43/150) / c = 2.21 as n grows
        assert gamma[0] == pytest.approx(2.21, abs=2e-3)


def test_ellison_glaeser_is_scale_invariant():
    rng = np.random.default_rng(5)
    emp = rng.lognormal(size=300)
    region = rng.integers(0, 6, 300)
    sector = rng.integers(0, 4, 300)
    alive = rng.random(300) < 0.9
    gamma = ellison_glaeser(emp, region, sector, alive, 6, 4)
    np.testing.assert_allclose(ellison_glaeser(37.0 * emp, region, sector, alive, 6, 4), gamma,
                               rtol=1e-10, atol=1e-13)


def test_ellison_glaeser_nan_cases():
    # sector 0: two plants over two regions (defined); sector 1: a single plant (H = 1);
    # sector 2: none; sector 3: one plant with employees and one with none (still H = 1)
    emp = np.array([10.0, 30.0, 5.0, 4.0, 0.0])
    region = np.array([0, 1, 0, 1, 0])
    sector = np.array([0, 0, 1, 3, 3])
    alive = np.ones(5, dtype=bool)
    gamma = ellison_glaeser(emp, region, sector, alive, 2, 4)
    assert np.isfinite(gamma[0])
    assert np.isnan(gamma[1:]).all()
    # the reference of a sector is the other sectors: none at all, one plant (H^(-i) = 1), or
    # all of them in one region (sum x^2 = 1) leaves it undefined
    two = np.array([10.0, 30.0])
    assert np.isnan(ellison_glaeser(two, np.array([0, 1]), np.zeros(2, np.int64),
                                    np.ones(2, bool), 2, 1)).all()
    three = np.array([10.0, 30.0, 7.0])
    gamma = ellison_glaeser(three, np.array([0, 1, 1]), np.array([0, 0, 1]), np.ones(3, bool),
                            2, 2)
    assert np.isnan(gamma).all()
    four = np.array([10.0, 30.0, 7.0, 8.0])
    gamma = ellison_glaeser(four, np.array([0, 1, 1, 1]), np.array([0, 0, 1, 1]),
                            np.ones(4, bool), 2, 2)
    assert np.isnan(gamma[0])  # sector 1, its reference, is all in region 1
    assert np.isfinite(gamma[1])
    # all employment in one region: sum x^2 = 1
    assert np.isnan(ellison_glaeser(emp, np.zeros(5, np.int64), sector, alive, 3, 4)).all()
    assert np.isnan(ellison_glaeser(emp, np.zeros(5, np.int64), sector, alive, 1, 4)).all()
    # no alive firms, and no firm slots at all
    none = np.zeros(5, dtype=bool)
    assert np.isnan(ellison_glaeser(emp, region, sector, none, 2, 4)).all()
    for part in ellison_glaeser_parts(emp, region, sector, none, 2, 4):
        assert np.isnan(part).all()
    empty_f, empty_i = np.zeros(0), np.zeros(0, np.int64)
    assert ellison_glaeser(empty_f, empty_i, empty_i, np.zeros(0, bool), 2, 4).shape == (4,)


def test_agglomeration_input_errors():
    emp, region, sector, alive = three_region_case()
    with pytest.raises(ValueError, match=r"region: codes must lie in 0\.\.1"):
        ellison_glaeser(emp, region, sector, alive, 2, 2)
    with pytest.raises(ValueError, match="n_sectors: got 0"):
        location_quotients(emp, region, sector, alive, 3, 0)
    with pytest.raises(ValueError, match="emp: values must be >= 0"):
        location_quotients(-emp, region, sector, alive, 3, 2)
    with pytest.raises(ValueError, match="sector: expected integer codes"):
        location_quotients(emp, region, sector.astype(float), alive, 3, 2)
    with pytest.raises(ValueError, match="region: expected shape"):
        location_quotients(emp, region[:3], sector, alive, 3, 2)


@pytest.mark.statistical
def test_ellison_glaeser_dartboard_mean_is_zero():
    """Reduction result 3 (docs/sources.md#reduction-results): independent plant locations give
    E[gamma] = 0.

    20 regions with probabilities x_r proportional to 1..20, industries of 60 lognormal plants,
    20 seeded runs of 1,000 industries each. Every industry in a run is an independent dartboard
    draw; the other industries' employment supplies each one's x^(-i) (within ~0.004 of the x_r
    used to draw). The sd of gamma is ~0.0145, so the standard error of the mean over 20,000
    industries is ~0.0001: the tolerance 0.0006 is about 6 standard errors, while forgetting
    the (1 - sum x^2) factor on H shifts the mean by ~0.003.
    """
    n_regions, n_industries, n_plants = 20, 1000, 60
    x_r = np.arange(1.0, n_regions + 1)
    x_r /= x_r.sum()
    sector = np.repeat(np.arange(n_industries), n_plants)
    alive = np.ones(sector.size, dtype=bool)
    gammas, g_minus_expected = [], []
    for seed in range(20):
        rng = np.random.default_rng([3, seed])
        region = rng.choice(n_regions, size=sector.size, p=x_r)
        emp = rng.lognormal(0.0, 1.0, size=sector.size)
        gammas.append(ellison_glaeser(emp, region, sector, alive, n_regions, n_industries))
        g, h, x, h_other = ellison_glaeser_parts(emp, region, sector, alive, n_regions,
                                                 n_industries)
        c = (1.0 - (x * x).sum(axis=1)) / (1.0 - h_other)
        g_minus_expected.append(g - c * (h + h_other))
    gamma = np.concatenate(gammas)
    assert np.isfinite(gamma).all()
    assert abs(gamma.mean()) < 0.0006
    assert abs(gamma.mean()) < 6 * gamma.std() / np.sqrt(gamma.size)
    # E[G] = (1 - sum x^2)(H + H^(-i)), with 1 - sum x^2 estimated without bias by c
    assert abs(np.concatenate(g_minus_expected).mean()) < 0.0006


def _few_sector_dartboard(n_runs: int, n_plants: int = 100):
    """Gammas of 4 sectors of ``n_plants`` lognormal plants each, located independently in 3
    regions with probabilities (0.5, 0.3, 0.2), over ``n_runs`` seeded runs."""
    p = np.array([0.5, 0.3, 0.2])
    sector = np.repeat(np.arange(4), n_plants)
    alive = np.ones(sector.size, dtype=bool)
    out = []
    for seed in range(n_runs):
        rng = np.random.default_rng([11, seed])
        region = rng.choice(3, size=sector.size, p=p)
        emp = rng.lognormal(0.0, 1.0, size=sector.size)
        out.append(ellison_glaeser(emp, region, sector, alive, 3, 4))
    return np.concatenate(out)


@pytest.mark.statistical
def test_ellison_glaeser_is_unbiased_with_few_sectors():
    """The dartboard with the model's few sectors: 4 sectors of 100 lognormal plants in 3
    regions, 2,000 seeded runs (8,000 gammas, sd ~0.036, standard error ~0.0004). The mean is
    0 within 0.0016 (4 standard errors). Measuring x on all employment, the sector's own
    included, gives -0.0065 here (28 standard errors)."""
    gamma = _few_sector_dartboard(2000)
    assert np.isfinite(gamma).all()
    se = gamma.std(ddof=1) / np.sqrt(gamma.size)
    assert se < 0.0005
    assert abs(gamma.mean()) < 0.0016


# --------------------------------------------------------------------------- Moran's I


def test_morans_i_hand_computed_path():
    # path 0-1-2-3 with values 1..4: z = (-1.5, -0.5, 0.5, 1.5), sum_ij w z z = 2 (0.75 - 0.25
    # + 0.75) = 2.5, S0 = 6, sum z^2 = 5: I = 4/6 * 2.5/5 = 1/3
    w = np.zeros((4, 4))
    for i in range(3):
        w[i, i + 1] = w[i + 1, i] = 1.0
    assert morans_i([1.0, 2.0, 3.0, 4.0], w) == pytest.approx(1 / 3, rel=1e-14)
    assert morans_i([1.0, 2.0, 3.0, 4.0], scipy.sparse.csr_array(w)) == pytest.approx(1 / 3)
    assert morans_i([1.0, 2.0, 3.0, 4.0], scipy.sparse.csr_matrix(w)) == pytest.approx(1 / 3)
    assert morans_i([1.0, 2.0, 3.0, 4.0], scipy.sparse.lil_array(w)) == pytest.approx(1 / 3)
    assert morans_i([1.0, 2.0, 3.0, 4.0], scipy.sparse.coo_array(w)) == pytest.approx(1 / 3)


def test_morans_i_undefined_and_invalid():
    w = rook_weights(2)
    assert np.isnan(morans_i([0.1, 0.1, 0.1, 0.1], w))  # constant values
    assert np.isnan(morans_i([1.0, 2.0, 3.0, 4.0], np.zeros((4, 4))))
    assert np.isnan(morans_i([1.0], np.zeros((1, 1))))
    assert np.isnan(morans_i([], np.zeros((0, 0))))
    with pytest.raises(ValueError, match=r"weights: expected shape \(3, 3\)"):
        morans_i([1.0, 2.0, 3.0], w)


def test_grid_morans_i_checkerboard_is_minus_one():
    m, world = 16, 50.0
    x, y = cell_centres(m, world)
    ix, iy = (x * m / world).astype(int), (y * m / world).astype(int)
    values = ((ix + iy) % 2).astype(float)
    alive = np.ones(x.size, dtype=bool)
    assert grid_morans_i(x, y, values, alive, world, n_cells=m) == pytest.approx(-1.0, abs=1e-12)
    assert morans_i(values, rook_weights(m)) == pytest.approx(-1.0, abs=1e-12)


@pytest.mark.parametrize("m", [4, 16])
def test_grid_morans_i_gradient_is_near_one(m):
    # a linear gradient in x, z_c = c - (m-1)/2 by column c, Q = sum_c z_c^2 = m(m^2-1)/12.
    # Vertical neighbours are equal: (m-1) Q; horizontal ones: m (Q - 3Q/m) per direction.
    # With S0 = 4m(m-1) and sum z^2 = mQ this gives I = (m-2)/(m-1) exactly (14/15 at m = 16)
    world = 10.0
    x, y = cell_centres(m, world)
    alive = np.ones(x.size, dtype=bool)
    i_grad = grid_morans_i(x, y, x, alive, world, n_cells=m)
    assert i_grad == pytest.approx((m - 2) / (m - 1), rel=1e-12)
    assert i_grad == pytest.approx(morans_i(x, rook_weights(m)), rel=1e-12)


@pytest.mark.statistical
def test_grid_morans_i_random_values_expectation():
    # random values on a 3 x 3 grid: E[I] = -1/(n-1) = -1/8 exactly under randomisation.
    # The sd of I is ~0.27 here, so 4,000 draws give a standard error of ~0.0043; the
    # tolerance 0.02 is ~5 standard errors and still far from 0 (no correction).
    m = 3
    x, y = cell_centres(m, 1.0)
    alive = np.ones(x.size, dtype=bool)
    rng = np.random.default_rng(17)
    draws = np.array([grid_morans_i(x, y, rng.random(x.size), alive, 1.0, n_cells=m)
                      for _ in range(4000)])
    assert draws.mean() == pytest.approx(-1 / 8, abs=0.02)


def test_grid_morans_i_agrees_with_explicit_weights():
    rng = np.random.default_rng(8)
    n, m, world = 500, 5, 20.0
    x, y = rng.uniform(0, world, n), rng.uniform(0, world, n)
    x[:3] = world  # the far edge belongs to the last cell
    values = rng.lognormal(size=n)
    alive = rng.random(n) < 0.8
    x[~alive] = -99.0  # dead firms may sit anywhere and hold anything
    values[~alive] = np.nan
    cell = np.minimum((y * m / world).astype(int), m - 1) * m + np.minimum(
        (x * m / world).astype(int), m - 1)
    totals = np.zeros(m * m)
    for c, v in zip(cell[alive], values[alive], strict=True):
        totals[c] += v
    w = rook_weights(m)
    expected = morans_i(totals, w)
    assert grid_morans_i(x, y, values, alive, world, n_cells=m) == pytest.approx(expected,
                                                                                 rel=1e-12)
    assert morans_i(totals, scipy.sparse.csr_array(w)) == pytest.approx(expected, rel=1e-12)


def test_grid_morans_i_empty_and_invalid():
    z = np.zeros(4)
    assert np.isnan(grid_morans_i(z, z, z, np.zeros(4, bool), 10.0))
    assert np.isnan(grid_morans_i([], [], [], np.zeros(0, bool), 10.0))
    with pytest.raises(ValueError, match=r"x: alive firms must lie in \[0, 10.0\]"):
        grid_morans_i([11.0], [1.0], [1.0], [True], 10.0)
    with pytest.raises(ValueError, match="world_size"):
        grid_morans_i([1.0], [1.0], [1.0], [True], 0.0)
    with pytest.raises(ValueError, match="n_cells: got 1"):
        grid_morans_i([1.0], [1.0], [1.0], [True], 10.0, n_cells=1)


# --------------------------------------------------------------------------- ties


def test_tie_stats_triangle_plus_isolated():
    partner = ties_from_edges(4, [(0, 1), (1, 2), (0, 2)])
    s = tie_stats(partner, np.ones(4, dtype=bool))
    assert set(s) == NAN_TIES
    assert all(isinstance(v, float) for v in s.values())
    assert s == pytest.approx({"mean_degree": 1.5, "tie_density": 0.5,
                               "giant_component_share": 0.75, "clustering": 1.0})


def test_tie_stats_star():
    partner = ties_from_edges(5, [(0, 1), (0, 2), (0, 3), (0, 4)])
    s = tie_stats(partner, np.ones(5, dtype=bool))
    # only the centre has degree >= 2, and none of its partners are tied: clustering 0
    assert s == pytest.approx({"mean_degree": 1.6, "tie_density": 0.4,
                               "giant_component_share": 1.0, "clustering": 0.0})


def test_tie_stats_four_cycle_and_chord():
    cycle = [(0, 1), (1, 2), (2, 3), (3, 0)]
    s = tie_stats(ties_from_edges(4, cycle), np.ones(4, dtype=bool))
    assert s == pytest.approx({"mean_degree": 2.0, "tie_density": 4 / 6,
                               "giant_component_share": 1.0, "clustering": 0.0})
    # the chord 0-2 makes triangles 012 and 023: C = (2/3, 1, 2/3, 1), mean 5/6
    s = tie_stats(ties_from_edges(4, [*cycle, (0, 2)]), np.ones(4, dtype=bool))
    assert s["clustering"] == pytest.approx(5 / 6)
    assert s["mean_degree"] == pytest.approx(2.5)


def test_tie_stats_two_components_with_dead_slots():
    # triangle {0, 2, 4} and 4-clique {5, 6, 7, 9}; slots 1, 3 and 8 are dead
    edges = [(0, 2), (2, 4), (0, 4), (5, 6), (5, 7), (5, 9), (6, 7), (6, 9), (7, 9)]
    partner = ties_from_edges(10, edges, k=3, dtype=np.int64)
    alive = np.ones(10, dtype=bool)
    alive[[1, 3, 8]] = False
    s = tie_stats(partner, alive)
    assert s == pytest.approx({"mean_degree": 18 / 7, "tie_density": 9 / 21,
                               "giant_component_share": 4 / 7, "clustering": 1.0})
    assert tie_stats(partner.astype(np.int32), alive) == s


@pytest.mark.parametrize("k", [2, 4, 6])
def test_tie_stats_ring_lattice(k):
    # Watts & Strogatz (1998): a ring where each node is tied to its k nearest neighbours has
    # C = 3(k - 2) / (4(k - 1)); here with a dead slot every fourth index, which must not matter
    n = 40
    slots = np.arange(n) * 4 // 3  # 40 live firms among 54 slots
    edges = [(slots[i], slots[(i + d) % n]) for i in range(n) for d in range(1, k // 2 + 1)]
    partner = ties_from_edges(54, edges, k=k + 1)
    alive = np.zeros(54, dtype=bool)
    alive[slots] = True
    s = tie_stats(partner, alive)
    assert s == pytest.approx({"mean_degree": k, "tie_density": k / (n - 1),
                               "giant_component_share": 1.0,
                               "clustering": 3 * (k - 2) / (4 * (k - 1))})


def test_tie_stats_degenerate():
    for n in (0, 3):
        s = tie_stats(np.full((n, 4), -1, dtype=np.int32), np.zeros(n, dtype=bool))
        assert set(s) == NAN_TIES
        assert all(np.isnan(v) for v in s.values())
    s = tie_stats(np.full((1, 2), -1), np.ones(1, dtype=bool))
    assert s["mean_degree"] == 0.0
    assert s["giant_component_share"] == 1.0
    assert np.isnan(s["tie_density"])
    assert np.isnan(s["clustering"])
    s = tie_stats(np.zeros((3, 0), dtype=np.int32), np.ones(3, dtype=bool))
    assert s["tie_density"] == 0.0
    assert s["giant_component_share"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("partner", "alive", "message"),
    [
        ([[1, -1], [-1, -1]], [True, True], "not symmetric"),
        ([[0, -1]], [True], "tied to itself"),
        ([[1, 1], [0, -1]], [True, True], "same partner twice"),
        ([[1, -1], [0, -1]], [False, True], "dead firm 0 has a tie"),
        ([[1, -1], [-1, -1]], [True, False], "tied to a dead firm"),
        ([[5, -1], [-1, -1]], [True, True], "outside -1..N-1"),
        ([[-2, -1]], [True], "outside -1..N-1"),
    ],
)
def test_tie_stats_rejects_invalid_tables(partner, alive, message):
    with pytest.raises(ValueError, match=message):
        tie_stats(np.array(partner), np.array(alive))


def test_tie_stats_matches_dense_reference():
    rng = np.random.default_rng(99)
    for _ in range(20):
        n, k = int(rng.integers(2, 40)), int(rng.integers(1, 7))
        partner, alive = random_ties(rng, n, k, n_tries=int(rng.integers(0, 3 * n)))
        if alive.sum() < 2:
            continue
        got = tie_stats(partner, alive)
        want = reference_tie_stats(partner, alive)
        assert got == pytest.approx(want, rel=1e-12, nan_ok=True)


def test_tie_stats_matches_networkx():
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(7)
    partner, alive = random_ties(rng, 300, 8, n_tries=900)
    graph = nx.Graph()
    graph.add_nodes_from(np.flatnonzero(alive).tolist())
    graph.add_edges_from((i, j) for i in range(300) for j in partner[i] if j > i)
    local = nx.clustering(graph)
    wedge = [v for v in graph if graph.degree(v) >= 2]
    s = tie_stats(partner, alive)
    assert s["tie_density"] == pytest.approx(nx.density(graph))
    assert s["giant_component_share"] == pytest.approx(
        max(len(c) for c in nx.connected_components(graph)) / graph.number_of_nodes())
    assert s["clustering"] == pytest.approx(np.mean([local[v] for v in wedge]))


def test_tie_stats_with_kept_triangles_equals_counting():
    # the model passes the triangle counts it keeps up to date; the result must be the same
    rng = np.random.default_rng(31)
    for _ in range(10):
        n, k = int(rng.integers(2, 40)), int(rng.integers(1, 7))
        partner, alive = random_ties(rng, n, k, n_tries=int(rng.integers(0, 3 * n)))
        degree, triangles = np.zeros(n, np.int64), np.zeros(n, np.int64)
        m_net._degree_triangles(partner, alive, degree, triangles, 1)
        assert tie_stats(partner, alive, triangles) == pytest.approx(
            tie_stats(partner, alive), nan_ok=True)
    with pytest.raises(ValueError, match="triangles: expected shape"):
        tie_stats(partner, alive, np.zeros(n + 1, np.int64))


# --------------------------------------------------------------------------- twin tests


@pytest.mark.parametrize("chunks", [1, 2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_degree_triangles_kernel_twin(seed, chunks):
    rng = np.random.default_rng([4, seed])
    partner, alive = random_ties(rng, 30, 5, n_tries=60)
    fast = np.zeros(30, np.int64), np.zeros(30, np.int64)
    slow = np.zeros(30, np.int64), np.zeros(30, np.int64)
    assert m_net._degree_triangles(partner, alive, *fast, chunks) == (0, -1)
    assert m_net._degree_triangles.py_func(partner, alive, *slow, 1) == (0, -1)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])
    # and on an invalid table both report the same error at the same (lowest) firm
    bad = np.flatnonzero(alive)[[0, -1]]
    partner[bad, 0] = bad
    assert (m_net._degree_triangles(partner, alive, *fast, chunks)
            == m_net._degree_triangles.py_func(partner, alive, *slow, 1))


@pytest.mark.parametrize("seed", range(3))
def test_degree_triangles_range_kernel_twin(seed):
    rng = np.random.default_rng([6, seed])
    partner, alive = random_ties(rng, 30, 5, n_tries=60)
    out = [(np.zeros(30, np.int64), np.zeros(30, np.int64)) for _ in range(2)]
    lo, hi = 7, 23
    fast = m_net._degree_triangles_range(partner, alive, *out[0], lo, hi,
                                           np.full(30, -1, np.int64))
    slow = m_net._degree_triangles_range.py_func(partner, alive, *out[1], lo, hi,
                                                   np.full(30, -1, np.int64))
    assert fast == slow == (0, -1)
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    assert not out[0][0][:lo].any()  # it touches only its own range
    assert not out[0][0][hi:].any()


@pytest.mark.parametrize("n", [0, 1, 30, 2 * CHUNK + 77])
def test_tie_sums_kernel_twin(n):
    rng = np.random.default_rng([5, n])
    partner, trust, alive = random_ties_with_trust(rng, n, 5, 2 * n)
    triangles = count_triangles_of(partner)
    # by numpy: degrees, wedges, local clustering and the trust on occupied slots
    deg = (partner[alive] >= 0).sum(axis=1)
    wedge = deg >= 2
    local = triangles[alive][wedge] / (deg[wedge] * (deg[wedge] - 1) / 2.0)
    trusted = trust[alive][partner[alive] >= 0].sum()
    for tri, tr in ((triangles, trust), (triangles, None), (None, trust), (None, None)):
        fast = m_net._tie_sums(partner, alive, tri, tr)
        if n <= 30:  # the pure-Python twin is slow on big tables
            assert fast == m_net._tie_sums.py_func(partner, alive, tri, tr)
        assert fast[:3] == (alive.sum(), deg.sum(), wedge.sum())
        assert fast[3] == (pytest.approx(local.sum(), rel=1e-12) if tri is not None else 0.0)
        assert fast[4] == (pytest.approx(trusted, rel=1e-12) if tr is not None else 0.0)
        assert_same_for_any_threads(lambda tri=tri, tr=tr: m_net._tie_sums(partner, alive,
                                                                              tri, tr))


def test_mean_trust_by_hand():
    partner = np.array([[1, -1], [0, 2], [1, -1], [-1, -1]])
    trust = np.array([[0.5, 0.9], [0.3, 0.7], [0.1, 0.0], [0.0, 0.0]])
    slots, mean = mean_trust(partner, trust, np.array([True, True, True, False]))
    assert slots == 4
    assert mean == pytest.approx((0.5 + 0.3 + 0.7 + 0.1) / 4)
    assert mean_trust(partner, trust, np.zeros(4, dtype=bool))[0] == 0
    assert np.isnan(mean_trust(partner, trust, np.zeros(4, dtype=bool))[1])


@pytest.mark.parametrize("n", [0, 30, 2 * CHUNK + 77])
def test_network_indicators_equal_mean_trust_and_tie_stats(n):
    rng = np.random.default_rng([7, n])
    partner, trust, alive = random_ties_with_trust(rng, n, 5, 2 * n)
    triangles = count_triangles_of(partner)
    got = metrics.network_indicators(partner, trust, alive, triangles)
    assert_identical(got, {"trust": mean_trust(partner, trust, alive),
                           "ties": tie_stats(partner, alive, triangles)})
    if n:
        assert got["trust"][1] == pytest.approx(trust[partner >= 0].mean(), rel=1e-12)
    assert_same_for_any_threads(lambda: metrics.network_indicators(partner, trust, alive,
                                                                   triangles))
    with pytest.raises(ValueError, match="partner, trust: expected two arrays of one shape"):
        metrics.network_indicators(partner, trust[:, :2], alive, triangles)


# ------------------------------------------------------------------ suppliers, productivity


def test_supplier_concentration():
    # input 0: volumes (1, 1) -> H = 1/2; input 1: one supplier -> 1; input 2: only a supplier
    # with zero volume -> left out; input 3: no supplier -> left out. Mean (1/2 + 1) / 2
    volume = np.array([1.0, 1.0, 3.0, 0.0])
    code = np.array([0, 0, 1, 2])
    assert supplier_concentration(volume, code, 4) == pytest.approx(0.75)
    assert supplier_concentration([3.0, 1.0], [0, 0], 1) == pytest.approx(0.625)
    assert np.isnan(supplier_concentration([], np.zeros(0, np.int64), 2))
    assert np.isnan(supplier_concentration([0.0], [0], 2))
    with pytest.raises(ValueError, match=r"supplier_input: codes must lie in 0\.\.1"):
        supplier_concentration([1.0], [2], 2)
    with pytest.raises(ValueError, match="volume: values must be >= 0"):
        supplier_concentration([-1.0], [0], 1)


def test_productivity_stats():
    prod = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    alive = np.array([True, True, True, True, False])
    mean, sd = productivity_stats(prod, alive)
    assert isinstance(mean, float)
    assert isinstance(sd, float)
    assert (mean, sd) == pytest.approx((2.5, np.sqrt(1.25)))
    # weights (1, 0, 0, 3): mean 13/4, sd^2 = (1 * 2.25^2 + 3 * 0.75^2) / 4 = 27/16
    w = np.array([1.0, 0.0, 0.0, 3.0, -5.0])
    assert productivity_stats(prod, alive, w) == pytest.approx((3.25, np.sqrt(27 / 16)))
    rng = np.random.default_rng(1)
    p, k = rng.normal(size=50), rng.integers(0, 4, size=50)
    reps = np.repeat(p, k)
    assert productivity_stats(p, np.ones(50, bool), k.astype(float)) == pytest.approx(
        (reps.mean(), reps.std()), rel=1e-12)
    # huge mean, tiny spread: no cancellation
    assert productivity_stats(1e9 + prod, alive)[1] == pytest.approx(np.sqrt(1.25), rel=1e-6)


def test_productivity_stats_undefined():
    none = np.zeros(3, dtype=bool)
    assert all(np.isnan(productivity_stats(np.ones(3), none)))
    assert all(np.isnan(productivity_stats(np.ones(3), np.ones(3, bool), np.zeros(3))))
    with pytest.raises(ValueError, match="prod: values must be finite"):
        productivity_stats([np.inf], [True])


# ------------------------------------------------------------- the radix sort behind gini

#: Slot counts for the kernels below: empty, tiny, and several chunks with a ragged end.
SIZES = [0, 1, 37, 2 * CHUNK + 77]


def tricky_values(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    if kind == "lognormal":
        return rng.lognormal(0.5, 1.2, n)
    if kind == "ties":  # few distinct values, each repeated many times
        return rng.choice([0.0, 1.0, 2.5, 1e3], size=n)
    if kind == "zeros":  # -0.0 is >= 0 too, and must sort with +0.0
        return np.where(rng.random(n) < 0.5, -0.0, 0.0) + np.where(rng.random(n) < 0.3, 1.0, 0.0)
    if kind == "span":  # subnormals to huge values: every digit of the keys differs
        return np.concatenate([[5e-324, 1e300, 0.0], rng.random(max(n - 3, 0)) * 1e-300])[:n]
    raise ValueError(kind)


KINDS = ["lognormal", "ties", "zeros", "span"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", SIZES)
def test_compact_keys_kernel_twin(kind, n):
    rng = np.random.default_rng([21, n])
    x = tricky_values(rng, kind, n)
    alive = rng.random(n) < 0.8
    keys = m_ineq._compact_keys(x, alive)
    assert keys.dtype == np.uint64
    np.testing.assert_array_equal(keys, m_ineq._compact_keys.py_func(x, alive), strict=True)
    # the keys are the bit patterns of the alive values, -0.0 read as +0.0
    np.testing.assert_array_equal(keys, (x[alive] + 0.0).view(np.uint64))
    assert_same_for_any_threads(lambda: m_ineq._compact_keys(x, alive))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [*SIZES, 3 * m_chk.SORT_CHUNK + 5])
def test_radix_sort_kernel_twin(kind, n):
    rng = np.random.default_rng([22, n])
    x = tricky_values(rng, kind, n) + 0.0
    keys = x.view(np.uint64)
    fast = m_ineq._radix_sort(keys.copy())
    np.testing.assert_array_equal(fast.view(np.float64), np.sort(x), strict=True)
    np.testing.assert_array_equal(fast, np.sort(keys), strict=True)  # as unsigned integers
    if n < m_chk.SORT_CHUNK:  # the pure-Python twin is slow
        np.testing.assert_array_equal(fast, m_ineq._radix_sort.py_func(keys.copy()))
    assert_same_for_any_threads(lambda: m_ineq._radix_sort(keys.copy()))


def test_radix_sort_all_equal_and_full_width_keys():
    same = np.full(50, 12345, dtype=np.uint64)
    np.testing.assert_array_equal(m_ineq._radix_sort(same.copy()), same)
    wide = np.array([2**64 - 1, 0, 2**63, 1, 2**63 - 1], dtype=np.uint64)
    np.testing.assert_array_equal(m_ineq._radix_sort(wide.copy()), np.sort(wide))


@pytest.mark.parametrize("n", SIZES)
def test_gini_sums_kernel_twin(n):
    xs = np.sort(np.random.default_rng([23, n]).lognormal(size=n))
    fast = m_ineq._gini_sums(xs)
    assert fast == m_ineq._gini_sums.py_func(xs)
    rank = np.arange(1, n + 1)
    assert fast[0] == pytest.approx(np.sum((2.0 * rank - n - 1.0) * xs), rel=1e-12, abs=1e-12)
    assert fast[1] == pytest.approx(xs.sum(), rel=1e-12)
    assert_same_for_any_threads(lambda: m_ineq._gini_sums(xs))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [2, 37, 2 * CHUNK + 77, 3 * m_chk.SORT_CHUNK + 5])
def test_gini_equals_the_sorting_formula(kind, n):
    x = tricky_values(np.random.default_rng([24, n]), kind, n)
    expected = gini_by_sorting(x)
    assert gini(x) == pytest.approx(expected, rel=1e-12, abs=1e-15, nan_ok=True)
    assert_same_for_any_threads(lambda: gini(x))


# ------------------------------------------------------------- firm indicators in one go


@pytest.mark.parametrize("n", SIZES)
def test_firm_sums_kernel_twin(n):
    f = random_firms(np.random.default_rng([25, n]), n)
    bounds = np.array([5.0, 50.0, 250.0])
    args = (f["alive"], f["emp"], f["prod"], bounds)
    fast = m_ind._firm_sums(*args)
    assert_identical(fast, m_ind._firm_sums.py_func(*args))
    alive = f["alive"]
    emp, prod = f["emp"][alive], f["prod"][alive]
    count, emp_total, prod_total, classes, bad = fast
    assert (count, bad) == (alive.sum(), False)
    assert emp_total == pytest.approx(emp.sum(), rel=1e-12)
    assert prod_total == pytest.approx(prod.sum(), rel=1e-12)
    np.testing.assert_array_equal(
        classes, np.bincount(np.searchsorted(bounds, emp, side="right"), minlength=4))
    assert_same_for_any_threads(lambda: m_ind._firm_sums(*args))
    if alive.any():  # an alive firm with a negative size, or a nan productivity, is reported
        for key, value in (("emp", -1.0), ("emp", np.inf), ("prod", np.nan)):
            bad_firms = {**f, key: f[key].copy()}
            bad_firms[key][np.flatnonzero(alive)[-1]] = value
            assert m_ind._firm_sums(alive, bad_firms["emp"], bad_firms["prod"], bounds)[4]


@pytest.mark.parametrize("n", SIZES)
def test_squared_deviations_kernel_twin(n):
    f = random_firms(np.random.default_rng([26, n]), n)
    args = (f["alive"], f["prod"], 1.1)
    fast = m_ind._squared_deviations(*args)
    assert fast == m_ind._squared_deviations.py_func(*args)
    assert fast == pytest.approx(np.sum((f["prod"][f["alive"]] - 1.1) ** 2), rel=1e-12)
    assert_same_for_any_threads(lambda: m_ind._squared_deviations(*args))


@pytest.mark.parametrize("n", SIZES)
def test_table_sums_kernel_twin(n):
    f = random_firms(np.random.default_rng([27, n]), n)
    args = (f["alive"], f["emp"], f["region"], f["sector"], 4, 3)
    fast = m_ind._table_sums(*args)
    assert_identical(fast, m_ind._table_sums.py_func(*args))
    e, sq, plants, bad = fast
    assert not bad
    # the same sums by numpy: the table of the public functions
    want = m_chk.firm_table(f["emp"], f["region"], f["sector"], f["alive"], 3, 4)
    np.testing.assert_allclose(e, want[0], rtol=1e-12)
    np.testing.assert_allclose(sq, want[1], rtol=1e-12)
    np.testing.assert_array_equal(plants, want[2])
    assert_same_for_any_threads(lambda: m_ind._table_sums(*args))
    if f["alive"].any():  # an alive firm's code out of range is skipped and reported
        region = f["region"].copy()
        region[np.flatnonzero(f["alive"])[0]] = 3
        assert m_ind._table_sums(f["alive"], f["emp"], region, f["sector"], 4, 3)[3]


@pytest.mark.parametrize("n", SIZES)
def test_grid_sums_kernel_twin(n):
    f = random_firms(np.random.default_rng([28, n]), n, world=20.0)
    args = (f["alive"], f["x"], f["y"], f["emp"], 20.0, 5)
    fast = m_ind._grid_sums(*args)
    assert_identical(fast, m_ind._grid_sums.py_func(*args))
    grid, bad = fast
    assert not bad
    # by hand: each alive firm's cell, the far edge in the last cell
    alive = f["alive"]
    ix = np.minimum((f["x"][alive] / 4.0).astype(int), 4)
    iy = np.minimum((f["y"][alive] / 4.0).astype(int), 4)
    want = np.zeros((5, 5))
    np.add.at(want, (iy, ix), f["emp"][alive])
    np.testing.assert_allclose(grid, want, rtol=1e-12)
    assert_same_for_any_threads(lambda: m_ind._grid_sums(*args))
    if alive.any():  # an alive firm off the map is skipped and reported
        y = f["y"].copy()
        y[np.flatnonzero(alive)[0]] = np.nan
        assert m_ind._grid_sums(alive, f["x"], y, f["emp"], 20.0, 5)[1]


def firm_indicators_one_by_one(f, n_regions=3, n_sectors=4, world=20.0, n_cells=16):
    """The reference: each single function of sim.measure.metrics, as the recorder used to call
    them."""
    emp, alive = f["emp"], f["alive"]
    args = (emp, f["region"], f["sector"], alive, n_regions, n_sectors)
    return {
        "productivity": productivity_stats(f["prod"], alive),
        "size_classes": size_class_shares(emp, alive),
        "gini_size": gini_by_sorting(emp[alive]),
        "eg_gamma": ellison_glaeser(*args),
        "lq": location_quotients(*args),
        "herfindahl_regions": herfindahl(np.bincount(f["region"][alive], weights=emp[alive],
                                                     minlength=n_regions)),
        "morans_i": grid_morans_i(f["x"], f["y"], emp, alive, world, n_cells),
    }


def call_firm_indicators(f, n_regions=3, n_sectors=4, world=20.0, n_cells=16):
    return firm_indicators(f["emp"], f["prod"], f["region"], f["sector"], f["x"], f["y"],
                           f["alive"], n_regions, n_sectors, world, n_cells)


def assert_close(got, want, what="result"):
    """Equal to 1e-12 relative (nan where nan), recursively over dicts and tuples."""
    if isinstance(want, dict):
        assert got.keys() == want.keys(), what
        for key in want:
            assert_close(got[key], want[key], f"{what}[{key!r}]")
    elif isinstance(want, tuple):
        for n, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_close(a, b, f"{what}[{n}]")
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=what)


@pytest.mark.parametrize("p_dead", [0.0, 0.2, 1.0])
@pytest.mark.parametrize("n", [0, 1, 37, 3 * CHUNK + 11])
def test_firm_indicators_equal_the_single_functions(n, p_dead):
    f = random_firms(np.random.default_rng([29, n]), n, p_dead=p_dead)
    got = call_firm_indicators(f)
    assert_close(got, firm_indicators_one_by_one(f))
    assert all(isinstance(v, float) for v in (got["gini_size"], got["herfindahl_regions"],
                                              got["morans_i"], *got["productivity"]))
    assert_same_for_any_threads(lambda: call_firm_indicators(f))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("prod", np.nan, "prod: values must be finite"),
        ("emp", -1.0, "emp: values must be >= 0"),
        ("region", 3, r"region: codes must lie in 0\.\.2"),
        ("sector", -1, r"sector: codes must lie in 0\.\.3"),
        ("x", 20.5, r"x: alive firms must lie in \[0, 20.0\]"),
        ("y", np.nan, "y: values must be finite"),
    ],
)
def test_firm_indicators_raise_the_single_functions_errors(key, value, message):
    f = random_firms(np.random.default_rng(30), 50)
    f[key][np.flatnonzero(f["alive"])[3]] = value
    with pytest.raises(ValueError, match=message):
        call_firm_indicators(f)


def test_firm_indicators_check_their_arguments():
    f = random_firms(np.random.default_rng(31), 20)
    with pytest.raises(ValueError, match="world_size"):
        call_firm_indicators(f, world=0.0)
    with pytest.raises(ValueError, match="n_cells: got 1"):
        call_firm_indicators(f, n_cells=1)
    with pytest.raises(ValueError, match="sector: expected integer codes"):
        call_firm_indicators({**f, "sector": f["sector"].astype(float)})
    with pytest.raises(ValueError, match=r"region: expected shape \(20,\)"):
        call_firm_indicators({**f, "region": f["region"][:5]})
    with pytest.raises(ValueError, match="alive: expected a bool array"):
        call_firm_indicators({**f, "alive": f["alive"].astype(int)})


@pytest.mark.parametrize("n", SIZES)
def test_alive_sums_and_holders_kernel_twins(n):
    rng = np.random.default_rng([32, n])
    alive = rng.random(n) < 0.8
    values = (rng.normal(size=n), rng.lognormal(size=n), np.where(alive, 1.0, np.nan))
    codes = (rng.integers(-1, 3, n), np.full(n, -1), rng.integers(0, 2, n))
    sums = m_ind._alive_sums(alive, values)
    held = m_ind._alive_holders(alive, codes)
    np.testing.assert_array_equal(sums, m_ind._alive_sums.py_func(alive, values), strict=True)
    np.testing.assert_array_equal(held, m_ind._alive_holders.py_func(alive, codes), strict=True)
    np.testing.assert_allclose(sums, [v[alive].sum() for v in values], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(held, [(c[alive] >= 0).sum() for c in codes])
    assert_same_for_any_threads(lambda: m_ind._alive_sums(alive, values))
    assert_same_for_any_threads(lambda: m_ind._alive_holders(alive, codes))


@pytest.mark.parametrize(("lo", "hi"), [(0, 0), (0, 3), (5, 6), (2, 37), (0, 40)])
def test_sum_alive_kernel_twin(lo, hi):
    rng = np.random.default_rng([33, lo, hi])
    x = rng.normal(size=40)
    alive = rng.random(40) < 0.7
    x[~alive] = np.nan  # dead slots are never read
    fast = m_ind._sum_alive(x, alive, lo, hi)
    assert fast == m_ind._sum_alive.py_func(x, alive, lo, hi)
    assert fast == pytest.approx(x[lo:hi][alive[lo:hi]].sum(), rel=1e-12, abs=1e-15)


def test_alive_totals_and_holders():
    alive = np.array([True, False, True, True])
    total = alive_totals(alive, [1.0, np.nan, 2.0, 4.0], np.arange(4))
    assert total.dtype == np.float64
    np.testing.assert_array_equal(total, [7.0, 5.0])
    held = alive_holders(alive, [0, 3, -1, 2], np.array([-1, 0, -1, -1], dtype=np.int32))
    assert held.dtype == np.int64
    np.testing.assert_array_equal(held, [2, 0])
    assert alive_totals(alive).shape == alive_holders(alive).shape == (0,)
    with pytest.raises(ValueError, match=r"values\[1\]: expected length 4"):
        alive_totals(alive, np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError, match=r"codes\[0\]: expected integer codes"):
        alive_holders(alive, np.zeros(4))


# ------------------------------------------------------ the small tables' indicators kernel


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 300, 1031, 9999])
def test_pairwise_sum_adds_in_numpys_order(n):
    rng = np.random.default_rng([31, n])
    a = rng.lognormal(0.0, 3.0, n + 5)
    for lo in (0, 5):
        got = m_agg.pairwise_sum(a, lo, n)
        assert got == a[lo:lo + n].sum()  # bit for bit, where a plain loop is not
        assert got == m_agg.pairwise_sum.py_func(a, lo, n)
        if n <= 128:
            assert m_agg._pairwise_block(a, lo, n) == m_agg._pairwise_block.py_func(a, lo, n)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 9, 16, 17, 31, 64])
def test_einsum_square_adds_in_einsums_order(n):
    rng = np.random.default_rng([32, n])
    for _ in range(50):
        x = rng.random(n) * rng.choice([1e-3, 1.0, 1e3])
        got = m_agg._einsum_square(x)
        assert got == np.einsum("i,i->", x, x)
        assert got == m_agg._einsum_square.py_func(x)


def _random_tables(rng):
    """Random sector x region tables, plant sums and grids, with empty sectors and regions,
    single plants, a constant grid now and then, and sizes on both sides of numpy's blocks."""
    n_s, n_r = int(rng.integers(1, 7)), int(rng.integers(1, 20))
    m = int(rng.choice([2, 3, 16, 17, 40]))
    e = rng.random((n_s, n_r)) * rng.choice([1.0, 100.0, 1e4]) * (rng.random((n_s, n_r)) > 0.3)
    sq = e.sum(axis=1) ** 2 * rng.random(n_s)
    plants = rng.integers(0, 5, n_s)
    grid = rng.random((m, m)) * (rng.random((m, m)) > 0.5) * 100.0
    if rng.random() < 0.1:
        grid[:] = 3.0
    return e, sq, plants, grid


def test_table_indicators_kernel_twin_and_numpy_to_the_bit():
    rng = np.random.default_rng(33)
    for _ in range(400):
        e, sq, plants, grid = _random_tables(rng)
        fast = m_agg.table_indicators(e, sq, plants, grid)
        with np.errstate(divide="ignore", invalid="ignore"):
            slow = m_agg.table_indicators.py_func(e, sq, plants, grid)
            numpy_way = (m_agg.eg_of_table(e, sq, plants), m_agg.lq_of_table(e),
                         herfindahl(e.sum(axis=0)), m_agg.morans_i_of_grid(grid))
        for got in (slow, numpy_way):
            gamma, lq, herf, moran = got
            np.testing.assert_array_equal(fast[0], gamma, strict=True)
            np.testing.assert_array_equal(fast[1], lq, strict=True)
            assert_identical(float(fast[2]), float(herf))
            assert_identical(float(fast[3]), float(moran))


def test_table_indicators_by_hand():
    # two sectors in two regions: sector 0 all in region 0, sector 1 split evenly
    e = np.array([[6.0, 0.0], [3.0, 3.0]])
    sq = np.array([18.0, 12.0])  # sector 0: two plants of 3; sector 1: three plants of 2
    plants = np.array([2, 3])
    grid = np.zeros((2, 2))
    grid[0, 0] = 1.0
    gamma, lq, herf, moran = m_agg.table_indicators(e, sq, plants, grid)
    # LQ_00 = (6/9) / (6/12) = 4/3; LQ_01 = 0; LQ_10 = (3/9) / (6/12) = 2/3; LQ_11 = 2
    np.testing.assert_allclose(lq, [[4 / 3, 0.0], [2 / 3, 2.0]], rtol=1e-15)
    assert herf == pytest.approx((9 / 12) ** 2 + (3 / 12) ** 2, rel=1e-15)
    # a single occupied corner of a 2 x 2 rook grid: z = (3/4, -1/4, -1/4, -1/4), its two
    # neighbours opposite it: I = (4 / 8) * 2 (-3/16 - 3/16 + 1/16 + 1/16) / (12/16) = -1/3
    assert moran == pytest.approx(-1.0 / 3.0, rel=1e-15)
    # gamma of sector 0 against sector 1 (x = (1/2, 1/2), H = 18/36, H_other = 12/36):
    # G = 1/2, c = (1 - 1/2) / (2/3) = 3/4, gamma = (1/2 - 3/4 * 5/6) / (3/4 * 1/2) = -1/3
    assert gamma[0] == pytest.approx(-1.0 / 3.0, rel=1e-14)
    # sector 1 against sector 0, all in one region: no reference
    assert np.isnan(gamma[1])


def test_supplier_hhi_kernel_twin_and_numpy_to_the_bit():
    rng = np.random.default_rng(34)
    for _ in range(300):
        m, n_inputs = int(rng.integers(0, 40)), int(rng.integers(1, 12))
        code = rng.integers(0, n_inputs, m)
        v = rng.lognormal(0.0, 2.0, m) * (rng.random(m) > 0.3)
        fast, ok = m_sup._supplier_hhi(code, v, n_inputs)
        assert ok
        assert_identical(float(fast), m_sup._supplier_concentration(v, code, n_inputs))
        slow, ok_slow = m_sup._supplier_hhi.py_func(code, v, n_inputs)
        assert ok_slow
        assert_identical(float(fast), float(slow))
    # bad input: the kernel declines and the numpy twin names the problem
    assert not m_sup._supplier_hhi(np.array([0, 3]), np.ones(2), 3)[1]
    assert not m_sup._supplier_hhi(np.array([0]), np.array([np.inf]), 3)[1]
    with pytest.raises(ValueError, match="codes must lie"):
        supplier_concentration(np.ones(2), np.array([0, 3]), 3)
