"""Twin tests of the model's numba kernels.

Each private ``@numba.njit`` kernel of the mechanism modules is run twice on the same small random
inputs, compiled and as its own ``kernel.py_func``, and must give the same return value and leave
every argument (outputs and arrays mutated in place) the same: integers and booleans exactly,
floats to 1e-12 relative (the compiled and the Python ``exp``/``sqrt`` may differ in the last
bit). A test finds every kernel by scanning the package's source for ``@numba.njit`` and by
introspection of the modules, so a new kernel without a twin case fails the suite.

The second half checks the logic itself against a simpler formulation: vectorised numpy, brute
force over all pairs, scipy's connected components, Granovetter's dynamics iterated naively, or a
set-based re-implementation. Every kernel that changes ties must leave the table symmetric.
"""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path

import numba
import numpy as np
import pytest
import scipy.sparse
from scipy.sparse.csgraph import connected_components
from scipy.stats import chisquare

from sim.core import spatial, state, streams, totals
from sim.core.parallel import ParallelKernel
from sim.core.spatial import build_cell_list
from sim.mechanisms import cooperation, demography, facilities, market, population, suppliers

# module-level twin cases need the shared builders as plain functions (pytest puts tests/ on
# sys.path); tests elsewhere use them through the fixtures of conftest.py
from conftest import (  # isort: skip
    check_ties, count_triangles, edge_set, random_ties, reverse_slots)

SIM_DIR = Path(__file__).resolve().parents[1] / "sim"
TESTS_DIR = Path(__file__).resolve().parent
MECHANISMS = (spatial, cooperation, suppliers, facilities, market, demography, population,
              totals, state)
#: Kernels outside the mechanism modules and the test file that twins them.
TWINNED_ELSEWHERE = {**{f"sim.measure.metrics.{m}": "test_metrics.py"
                        for m in ("checks", "inequality", "agglomeration", "network", "suppliers",
                                  "indicators")},
                     "sim.measure.metrics.purpose": "test_purpose_outcomes.py",
                     "sim.measure.patterns": "test_patterns.py",
                     "sim.core.numerics": "test_numerics.py",
                     "sim.core.streams": "test_streams.py",
                     "sim.core.graph": "test_graph.py"}
SEEDS = range(4)
WORLD = 60.0


# --------------------------------------------------------------------------- random inputs


def _tie_inputs(rng, n=30, k=4):
    return random_ties(rng, n, k, 2 * n)


def _draw_inputs(rng, n):
    """Firm ids (not their slots: shuffled, with gaps), a key and a month for keyed draws."""
    firm_id = rng.permutation(3 * n)[:n].astype(np.int64)
    return firm_id, streams.make_key(rng), int(rng.integers(0, 500))


def _positions(rng, n, spill=True):
    """Positions on the map, a few outside it when ``spill`` (to exercise the clipping)."""
    lo, hi = (-3.0, WORLD + 3.0) if spill else (0.0, WORLD)
    return rng.uniform(lo, hi, n), rng.uniform(lo, hi, n)


def _cells(rng, x, y, alive):
    radius = float(rng.uniform(2.0, 15.0))
    cl = build_cell_list(x, y, alive, WORLD, radius)
    return cl, radius


def _supplier_inputs(rng, n=25, m=7, n_regions=3, n_inputs=2):
    alive = rng.random(n) > 0.2
    fx, fy = _positions(rng, n)
    fregion = rng.integers(0, n_regions, n)
    finput = rng.integers(0, n_inputs, n)
    sx, sy = _positions(rng, m)
    sregion = rng.integers(0, n_regions, m)
    sinput = np.concatenate([np.arange(n_inputs), rng.integers(0, n_inputs, m - n_inputs)])
    by_input = np.argsort(sinput, kind="stable").astype(np.int64)
    by_input_start = np.concatenate([[0], np.cumsum(np.bincount(sinput, minlength=n_inputs))])
    # a current supplier of the right input, imports (-2), or none
    current = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        u = rng.random()
        if u < 0.6:
            current[i] = rng.choice(np.flatnonzero(sinput == finput[i]))
        elif u < 0.75:
            current[i] = suppliers.IMPORTED
    return dict(alive=alive, fx=fx, fy=fy, fregion=fregion, finput=finput, current=current,
                loyalty=float(rng.uniform(0.2, 0.8)), draws=_draw_inputs(rng, n), sx=sx, sy=sy,
                sregion=sregion, sinput=sinput,
                by_input_start=by_input_start.astype(np.int64), by_input=by_input,
                price=rng.uniform(0.5, 1.5, m), freight=float(rng.uniform(0.0, 0.02)),
                within=rng.uniform(0.5, 2.0, n_regions), between=rng.uniform(0.5, 3.0, n_regions),
                infra=rng.uniform(0.75, 1.25, n_regions), switch_gain=float(rng.uniform(0, 0.1)),
                import_price=rng.uniform(0.8, 1.2, n_inputs),
                import_cost=float(rng.uniform(0.0, 0.8)))


def _choose_args(d, n):
    return (d["alive"], d["fx"], d["fy"], d["fregion"], d["finput"], d["current"],
            d["loyalty"], *d["draws"], d["sx"], d["sy"], d["sregion"], d["by_input_start"],
            d["by_input"],
            d["price"], d["freight"], d["within"], d["between"], d["infra"], d["import_price"],
            d["import_cost"], d["switch_gain"], np.full(n, -7, dtype=np.int64),
            np.full(n, np.nan))


def _use_inputs(rng, n=30, n_fac=4, n_regions=2, n_sectors=3):
    fsectors = rng.random((n_fac, n_sectors)) < 0.6
    member_of = np.where(rng.random(n) < 0.3, rng.integers(0, n_fac, n), -1)
    level = np.where(rng.random(n_fac) < 0.8, rng.uniform(0.0, 1.0, n_fac), 0.0)
    fee_member = rng.uniform(0.0, 0.5, n_fac)
    # facilities 0..n_fac-1 operate; a member of facility n_fac (closed) is nobody's member
    local = np.concatenate([np.arange(n_fac), [-1]]).astype(np.int64)
    member_of[rng.random(n) < 0.1] = n_fac
    return dict(
        alive=rng.random(n) > 0.2, region=rng.integers(0, n_regions, n),
        sector=rng.integers(0, n_sectors, n), member_of=member_of.astype(np.int64),
        local=local, revenue=rng.uniform(0, 20, n),
        # last month's costs: shorter than N when slots were added since
        input_cost=rng.uniform(0, 10, n - 3), waste_cost=rng.uniform(0, 5, n - 3),
        # firms born in the month of those bills or later have none of their own
        born=rng.integers(0, 5, n), billed=int(rng.integers(0, 6)),
        f_region=rng.integers(0, n_regions, n_fac),
        f_sector_mask=fsectors, f_service=rng.integers(0, 3, n_fac),
        f_effect=rng.uniform(0, 0.3, n_fac), f_level=level, f_fee_member=fee_member,
        f_fee_other=fee_member * rng.uniform(1.0, 3.0, n_fac))


def _use_args(d, n):
    return (*d.values(), np.full(n, -7, dtype=np.int64), np.full(n, np.nan), np.full(n, np.nan))


def _accounts_inputs(rng, n=30, n_regions=3, n_sectors=2):
    return dict(
        alive=rng.random(n) > 0.2, region=rng.integers(0, n_regions, n),
        sector=rng.integers(0, n_sectors, n), output=rng.uniform(0, 20, n),
        employees=rng.uniform(1, 30, n), capital=rng.normal(0, 10, n),
        unit_input_cost=rng.uniform(0.5, 1.5, n), price=rng.uniform(0.5, 2.0, n_sectors),
        access=rng.uniform(0.8, 1.2, n_regions), ipo=rng.uniform(0.1, 0.5, n_sectors),
        wpo=rng.uniform(0.0, 0.5, n_sectors), waste_cost=float(rng.uniform(0, 0.1)),
        waste_mult=rng.uniform(0.5, 2.0, n_sectors), wage=float(rng.uniform(0.2, 0.6)),
        wage_index=rng.uniform(0.9, 1.1, n_regions), land=rng.uniform(0.01, 0.05, n_regions),
        land_mult=rng.uniform(0.5, 1.0, n_regions), transport_share=float(rng.uniform(0, 0.1)),
        between=rng.uniform(1.0, 2.0, n_regions), infra=rng.uniform(0.75, 1.25, n_regions),
        fee=rng.uniform(0, 1, n), fixed_cost=float(rng.uniform(0, 0.1)),
        interest_rate=float(rng.uniform(0, 0.02)), subsidy_share=rng.uniform(0, 1, n),
        coop_income=rng.normal(0, 0.5, n), service=rng.integers(-1, 3, n),
        effect=rng.uniform(0, 0.3, n), level=rng.uniform(0, 1, n),
        theta=float(rng.choice([1.0, rng.uniform(0.5, 0.9)])))


def _accounts_args(d, n):
    return (*d.values(), *(np.full(n, np.nan) for _ in range(7)))


def _trade_inputs(rng, n=30, n_sectors=2, n_regions=3):
    """The inputs of market._trade, in its argument order, before its outputs."""
    alive, sector = rng.random(n) > 0.2, rng.integers(0, n_sectors, n)
    region, employees = rng.integers(0, n_regions, n), rng.uniform(1, 30, n)
    emp = market._employment(alive, sector, region, employees, n_sectors, n_regions)
    emp[rng.random(emp.shape) < 0.2] = 0.0  # a sector absent from a region
    if rng.random() < 0.3:  # elasticity 2 and exponents numpy takes shortcuts for
        exponents = rng.choice([0.0, 0.5, 1.0, 2.0, -1.0], 4)
    else:
        exponents = rng.uniform(0.05, 3.0, 4)
    elasticity = 1.0 / exponents[3] if exponents[3] != 0.0 else 2.0
    return dict(
        alive=alive, region=region, sector=sector, employees=employees,
        productivity=rng.uniform(0.5, 2, n), talent=rng.uniform(0.5, 3, n),
        capital=rng.normal(0, 30, n), unit_input_cost=rng.uniform(0.5, 1.5, n),
        coop_income=rng.normal(0, 0.5, n), subsidy_share=rng.uniform(0, 1, n),
        service=rng.integers(-1, 3, n), effect=rng.uniform(0, 0.3, n),
        level=rng.uniform(0, 1, n), fee=rng.uniform(0, 1, n),
        emp=emp, emp_region=emp.sum(axis=0), emp0=rng.uniform(5, 100, (n_sectors, n_regions)),
        emp0_region=rng.uniform(20, 200, n_regions), localisation_elasticity=exponents[0],
        wage_elasticity=exponents[1], rent_elasticity=exponents[2],
        theta=float(rng.choice([1.0, rng.uniform(0.5, 0.9)])),
        demand0=rng.uniform(0, 300, n_sectors), demand_level=float(rng.uniform(0.5, 2)),
        growth=float(rng.uniform(1, 1.3)), base_price=rng.uniform(0.5, 2, n_sectors),
        elasticity=float(elasticity), use_market=bool(rng.random() < 0.8),
        demand_mult=rng.uniform(0.5, 1.5, n_sectors), outside=float(rng.uniform(0, 1.2)),
        cap=float(rng.uniform(1.5, 3)),
        access=rng.uniform(0.8, 1.2, n_regions), ipo=rng.uniform(0.1, 0.5, n_sectors),
        wpo=rng.uniform(0.0, 0.5, n_sectors), waste_cost=float(rng.uniform(0, 0.1)),
        waste_mult=rng.uniform(0.5, 2.0, n_sectors), wage=float(rng.uniform(0.2, 0.6)),
        wage_index=rng.uniform(0.9, 1.1, n_regions), land=rng.uniform(0.01, 0.05, n_regions),
        land_mult=rng.uniform(0.5, 1.0, n_regions), transport_share=float(rng.uniform(0, 0.1)),
        between=rng.uniform(1.0, 2.0, n_regions), infra=rng.uniform(0.75, 1.25, n_regions),
        fixed_cost=float(rng.uniform(0, 0.1)), interest_rate=float(rng.uniform(0, 0.02)),
        payout_rate=float(rng.uniform(0, 0.5)), buffer_months=float(rng.uniform(0, 4)))


def _trade_args(d, n):
    """market._trade's arguments: the inputs ``d`` and blank outputs."""
    n_sectors, n_regions = d["emp"].shape
    return (*d.values(), *(np.full(n, np.nan) for _ in range(8)),
            np.full((n_sectors, n_regions), np.nan), np.full(n_regions, np.nan),
            np.full(n_regions, np.nan), np.full(n_sectors, np.nan),
            np.full((3, n_regions), np.nan))


# One case per kernel: a function of a Generator returning the argument tuple.


def _case_cell_of(rng):
    x, y = _positions(rng, 1)
    side = int(rng.integers(1, 20))
    return (float(x[0]), float(y[0]), WORLD / side, side)


def _case_cell_list(rng, n=40):
    x, y = _positions(rng, n)
    alive = rng.random(n) > 0.2
    side = int(rng.integers(1, 12))
    return (x, y, alive, WORLD / side, side)


def _case_random_neighbour(rng):
    n = 60
    x, y = _positions(rng, n, spill=False)
    alive = rng.random(n) > 0.1
    cl, radius = _cells(rng, x, y, alive)
    i = int(rng.choice(np.flatnonzero(alive)))
    return (i, x, y, cl.start, cl.members, cl.cell_size, cl.side, radius, rng.random(8))


def _case_decide(rng):
    partner, trust, alive = _tie_inputs(rng, k=6)  # two blocks of draws per firm
    n, k = partner.shape
    return (partner, trust, alive, rng.random(n), float(rng.random()), *_draw_inputs(rng, n),
            np.full((n, k), 7, dtype=np.int8))


def _rows(rng, n):
    """A random range of rows ``lo, hi`` (possibly empty) for the kernels' row functions."""
    lo = int(rng.integers(0, n + 1))
    return lo, int(rng.integers(lo, n + 1))


def _case_decide_rows(rng):
    args = _case_decide(rng)
    return (*args, *_rows(rng, args[0].shape[0]))


def _case_unlink(rng):
    partner, trust, alive = _tie_inputs(rng)
    i, s = np.argwhere(partner >= 0)[int(rng.integers(0, (partner >= 0).sum()))]
    return partner, trust, count_triangles(partner), reverse_slots(partner), int(i), int(s)


def _case_shared(rng):
    partner, _, alive = _triangle_rich(rng)
    i, s = np.argwhere(partner >= 0)[int(rng.integers(0, (partner >= 0).sum()))]
    return partner, count_triangles(partner), int(i), int(partner[i, s]), int(rng.choice([-1, 1]))


def _triangle_rich(rng, n=20, k=5):
    """A dense small tie table, so that ties share partners and close triangles."""
    return random_ties(rng, n, k, 4 * n)


def _case_meet(rng):
    partner, _, alive = _tie_inputs(rng, n=60, k=3)
    n = partner.shape[0]
    partner[rng.random(n) < 0.2] = np.arange(3) + 100  # some full rows (values never read)
    x, y = _positions(rng, n, spill=False)
    cl, radius = _cells(rng, x, y, alive)
    firm_id, key, month = _draw_inputs(rng, n)
    return (partner, alive, firm_id, x, y, cl.start, cl.members, cl.cell_size, cl.side, radius,
            float(rng.uniform(0.3, 1.0)), key, month, np.full(n, -7, dtype=np.int64))


def _case_meet_rows(rng):
    args = _case_meet(rng)
    return (*args, *_rows(rng, args[0].shape[0]))


def _case_margin(rng):
    n = 10
    revenue = np.where(rng.random(n) < 0.3, rng.choice([0.0, -1.0], n), rng.uniform(0, 20, n))
    return rng.normal(0, 5, n), revenue, int(rng.integers(0, n))


def _case_outcomes(rng):
    partner, trust, alive = _tie_inputs(rng)
    n, k = partner.shape
    acted = ((rng.random((n, k)) < 0.6) & (partner >= 0)).astype(np.int8)
    return (partner, reverse_slots(partner), trust, acted, alive, rng.uniform(-1, 20, n),
            rng.uniform(0.5, 2, n), rng.random(n), rng.random(n), rng.uniform(-0.05, 0.1, n),
            float(rng.uniform(0, 0.1)), float(rng.uniform(0, 0.1)), 0.15, 0.25, 0.1, 0.2,
            float(rng.uniform(0.2, 0.5)), float(rng.uniform(0, 30)),
            float(rng.uniform(0, 0.5)),
            np.full((n, k), np.nan), *(np.full(n, np.nan) for _ in range(6)),
            np.ones(n, dtype=np.bool_))


def _case_outcome_rows(rng):
    args = _case_outcomes(rng)
    return (*args, *_rows(rng, args[0].shape[0]))


def _case_month(rng, n=20, k=5):
    """A tie table with ties to dissolve and free slots to fill, firm columns and cells, in
    :func:`_month`'s argument order; most firms look for a partner and compare with one."""
    partner, trust, alive = random_ties(rng, n, k, 2 * n)
    x, y = _positions(rng, n, spill=False)
    cl, radius = _cells(rng, x, y, alive)
    revenue = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0, 20, n))
    return (partner, reverse_slots(partner), trust, np.full((n, k), 7, dtype=np.int8),
            count_triangles(partner), alive, *_draw_inputs(rng, n), revenue,
            rng.normal(0, 3, n), rng.uniform(0.5, 2, n), rng.random(n), rng.random(n),
            rng.uniform(-0.05, 0.1, n), x, y, cl.start, cl.members, cl.cell_size, cl.side,
            float(rng.random()), float(rng.uniform(0, 0.1)), float(rng.uniform(0, 0.1)), 0.15,
            0.25, 0.1, 0.2, float(rng.uniform(0.2, 0.5)), float(rng.uniform(0, 30)),
            float(rng.uniform(0, 0.5)), radius, float(rng.uniform(0.5, 1.0)), 0.5, 0.4,
            float(rng.uniform(0.5, 1.0)), float(rng.uniform(0, 20)), np.full((n, k), np.nan),
            *(np.full(n, np.nan) for _ in range(7)))


def _case_imitate(rng):
    partner, _, alive = _tie_inputs(rng)
    n = partner.shape[0]
    revenue = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0, 20, n))
    return (partner, alive, rng.random(n), rng.normal(0, 3, n), revenue,
            float(rng.uniform(0.3, 1.0)), float(rng.uniform(0, 20)), *_draw_inputs(rng, n),
            np.full(n, np.nan), *_rows(rng, n))


def _case_dissolve(rng):
    partner, trust, _ = _triangle_rich(rng)
    floor = float(rng.uniform(0.1, 0.5))
    low = ((partner >= 0) & (trust < floor)).any(axis=1)
    return (partner, trust, count_triangles(partner), reverse_slots(partner), floor, low)


def _case_drop(rng):
    partner, trust, alive = _triangle_rich(rng)
    idx = rng.choice(np.flatnonzero(alive), size=5, replace=False).astype(np.int64)
    return (partner, trust, count_triangles(partner), reverse_slots(partner), idx)


def _case_free_slot(rng):
    partner, _, _ = _tie_inputs(rng, k=3)
    return (partner, int(rng.integers(0, partner.shape[0])))


def _case_linked(rng):
    partner, _, _ = _tie_inputs(rng)
    i = int(rng.integers(0, partner.shape[0]))
    j = int(partner[i].max()) if rng.random() < 0.5 else int(rng.integers(0, partner.shape[0]))
    return (partner, i, j)


def _case_add(rng):
    partner, trust, _ = _tie_inputs(rng, k=3)
    n = partner.shape[0]
    return (partner, trust, count_triangles(partner), reverse_slots(partner),
            int(rng.integers(0, n)), int(rng.integers(0, n)), 0.3, 0.7)


def _met(rng, alive, share):
    """Whom each live firm met (-1: nobody): anyone, dead firms and itself included (the
    kernels must refuse those)."""
    n = alive.size
    met = np.where(rng.random(n) < share, rng.integers(0, n, n), -1).astype(np.int64)
    met[~alive] = -1
    return met


def _case_form(rng, share=None):
    # by default a random mix: crowded months (most meetings share a firm) and quiet ones
    partner, trust, alive = _tie_inputs(rng, n=60, k=3)
    met = _met(rng, alive, rng.choice([0.05, 0.5]) if share is None else share)
    return (partner, trust, count_triangles(partner), reverse_slots(partner), met, alive,
            rng.random(partner.shape[0]), 0.5, 0.4)


def _case_form_rest(rng):
    # the solo meetings made first (as the model does), then the rest by the kernel under test
    partner, trust, triangles, back, met, alive, reputation, t0, w = _case_form(rng, 0.5)
    solo, shared = cooperation._split_meetings(met, alive)
    commons = np.empty((solo.size, partner.shape[1]), dtype=np.int64)
    made = np.array([cooperation._tie_solo(partner, trust, triangles, back, met, i, reputation,
                                           t0, w, commons[a]) for a, i in enumerate(solo)],
                    dtype=np.int8)
    return partner, trust, triangles, back, met, shared, reputation, t0, w, commons, made


def _case_split_meetings(rng):
    _, _, alive = _tie_inputs(rng)
    return _met(rng, alive, 0.3), alive


def _case_tie_solo(rng):
    partner, trust, alive = _triangle_rich(rng)
    met = _met(rng, alive, 0.2)
    solo, _ = cooperation._split_meetings(met, alive)
    i = int(rng.choice(solo)) if solo.size else 0  # (firm 0 met nobody: refused)
    return (partner, trust, count_triangles(partner), reverse_slots(partner), met, i,
            rng.random(partner.shape[0]), 0.5, 0.4, np.full(partner.shape[1], 9))


def _case_add_pairs(rng):
    partner, trust, alive = _tie_inputs(rng, k=3)
    live = np.flatnonzero(alive)
    a = rng.choice(live, size=25).astype(np.int64)
    b = rng.choice(live, size=25).astype(np.int64)
    return (partner, trust, count_triangles(partner), reverse_slots(partner), a, b, 0.45, 0.55)


def _case_delivered(rng):
    d = _supplier_inputs(rng)
    i = int(rng.integers(0, d["fx"].size))
    k = int(rng.integers(0, d["sx"].size))
    return (i, k, d["fx"], d["fy"], d["fregion"], d["sx"], d["sy"], d["sregion"], d["price"],
            d["freight"], d["within"], d["between"], d["infra"])


def _case_imported(rng):
    d = _supplier_inputs(rng)
    i = int(rng.integers(0, d["fx"].size))
    return (i, int(d["finput"][i]), d["fregion"], d["import_price"], d["import_cost"],
            d["between"], d["infra"])


def _case_input_totals(rng, n=40, n_sectors=3):
    return (rng.random(n) > 0.2, rng.uniform(0, 20, n), rng.integers(0, n_sectors, n),
            rng.uniform(0.1, 0.5, n_sectors), rng.uniform(0.5, 1.5, n_sectors),
            rng.uniform(0.5, 2.0, n), rng.integers(-2, 4, n))


def _case_choose(rng):
    d = _supplier_inputs(rng)
    return _choose_args(d, d["fx"].size)


def _case_purchasing_groups(rng):
    partner, trust, alive = _tie_inputs(rng, n=40, k=4)
    return (partner, reverse_slots(partner), trust, alive, rng.integers(0, 2, 40),
            float(rng.uniform(0.2, 0.6)))


def _case_volumes(rng, n=40, m=5, n_sectors=3):
    supplier = np.where(rng.random(n) < 0.8, rng.integers(0, m, n), -1)
    capacity = rng.uniform(10, 200, m)
    return (rng.random(n) > 0.2, supplier, rng.uniform(0, 50, n), rng.integers(0, n_sectors, n),
            rng.uniform(0.1, 1.0, n_sectors), rng.uniform(0, 100, m),
            float(rng.uniform(0.1, 1.0)), capacity, capacity * rng.uniform(0.5, 1.0, m),
            float(rng.uniform(0.0, 0.2)))


def _case_prices_costs(rng, m=9, n_inputs=3):
    volume = rng.uniform(0, 300, m)
    volume[0] = 0.0  # an idle supplier
    ref = rng.uniform(50, 150, m)
    return (volume, ref, ref * rng.uniform(0.5, 3.0, m), rng.uniform(0.5, 2.0, m),
            rng.integers(0, n_inputs, m), rng.uniform(0.8, 1.2, n_inputs),
            float(rng.uniform(0.0, 0.9)), float(rng.uniform(0.0, 1.0)),
            float(rng.uniform(0.5, 2.0)), float(rng.choice([0.5, 1.0, 2.0, rng.uniform(0.05, 5)])),
            np.full(m, np.nan), np.full(m, np.nan))


def _case_transport_mult(rng):
    r, s = (int(x) for x in rng.integers(0, 3, 2))
    return r, s, *(float(x) for x in rng.uniform(0.5, 3.0, 3))


def _case_join_groups(rng, n=25):
    d = _supplier_inputs(rng, n=n)
    m = d["sx"].size
    root, _, _, _ = _case_group_suppliers(rng, n, m)
    size = np.bincount(root, minlength=n)[root]
    chosen = np.where(rng.random(n) < 0.8, rng.integers(0, m, n), rng.integers(-2, 0, n))
    return (d["alive"], root, size, int(rng.integers(1, 4)), np.full(n, 9, dtype=np.int64),
            chosen, rng.uniform(0.5, 2.5, n), m, d["fx"], d["fy"], d["fregion"], d["finput"],
            d["sx"], d["sy"], d["sregion"], d["price"], d["freight"], d["within"],
            d["between"], d["infra"], d["import_price"], d["import_cost"],
            float(rng.uniform(0.8, 1.0)))


def _case_month_terms(rng, n=40, n_sectors=4, n_inputs=3):
    prices = _case_prices_costs(rng, n_inputs=n_inputs)
    input_price = rng.uniform(0.5, 2.0, n_inputs) if rng.random() < 0.8 else None
    return (rng.integers(0, n_sectors, n), rng.integers(0, n_inputs, n_sectors), input_price,
            prices[5], *prices[:5], *prices[6:10], np.full(n, 9, dtype=np.int64),
            np.full(n_inputs, np.nan), *prices[10:])


def _case_group_suppliers(rng, n=60, m=4):
    root = np.arange(n)
    for i in range(1, n):  # groups whose root is their lowest slot
        if rng.random() < 0.7:
            root[i] = root[rng.integers(0, i)]
    supplier = np.where(rng.random(n) < 0.8, rng.integers(0, m, n), rng.integers(-2, 0, n))
    chosen = rng.random(n) < 0.6  # whole groups, as the model lists members
    members = np.flatnonzero(chosen[root]).astype(np.int64)
    return root, supplier, members, m


def _case_cascade(rng):
    return (np.sort(rng.normal(rng.uniform(0, 10), rng.uniform(1, 10), 30)),)


def _case_mean_trust(rng):
    partner, trust, _ = _tie_inputs(rng)
    return (partner, trust, np.full(partner.shape[0], np.nan))


def _case_can_pledge(rng, n=60, n_regions=3, n_sectors=4):
    return (rng.random(n) > 0.2, rng.integers(0, n_regions, n), rng.integers(0, n_sectors, n),
            np.where(rng.random(n) < 0.2, rng.integers(0, 3, n), -1), rng.normal(5, 5, n),
            rng.normal(2, 2, n), int(rng.integers(0, n_regions)), rng.random(n_sectors) < 0.5,
            float(rng.uniform(0, 6)), float(rng.uniform(1, 4)), np.zeros(n, dtype=np.bool_))


def _case_member_counts(rng, n=50, nf=4):
    return rng.random(n) > 0.3, np.where(rng.random(n) < 0.6, rng.integers(0, nf, n), -1), nf


def _case_serve(rng, n=40, nf=3):
    uses = np.where(rng.random(n) < 0.6, rng.integers(0, nf, n), -1)
    return (uses, rng.uniform(0, 1, n), rng.choice(10, nf, replace=False).astype(np.int64),
            rng.uniform(0, 1, nf), rng.integers(0, 3, nf), rng.uniform(0, 0.3, nf),
            np.full(n, 9, dtype=np.int64), np.full(n, np.nan), np.full(n, 9, dtype=np.int64),
            np.full(n, np.nan))


def _case_use(rng):
    d = _use_inputs(rng)
    return _use_args(d, d["alive"].size)


def _case_output(rng, n=30, n_sectors=3, n_regions=2):
    return (rng.random(n) > 0.2, rng.uniform(0.5, 2, n), rng.uniform(0.5, 3, n),
            rng.uniform(1, 30, n), rng.integers(-1, 3, n), rng.uniform(0, 0.3, n),
            rng.uniform(0, 1, n), rng.integers(0, n_sectors, n), n_sectors,
            rng.integers(0, n_regions, n), rng.uniform(0.8, 1.3, (n_sectors, n_regions)),
            float(rng.choice([1.0, rng.uniform(0.5, 0.9)])), np.full(n, np.nan))


def _case_employment(rng, n=50, n_sectors=3, n_regions=4):
    return (rng.random(n) > 0.3, rng.integers(0, n_sectors, n), rng.integers(0, n_regions, n),
            rng.uniform(1, 30, n), n_sectors, n_regions)


def _case_service_of(rng):
    service = rng.integers(-1, 3, int(rng.integers(0, 5)))
    return service, int(rng.integers(0, 7))  # often beyond the end: no facility


def _case_fee_of(rng):
    fee = rng.uniform(0, 1, int(rng.integers(0, 5)))
    return fee, int(rng.integers(0, 7))


def _case_add_chunks(rng):
    shape = (int(rng.integers(0, 5)), *rng.integers(1, 4, int(rng.integers(1, 3))))
    if rng.random() < 0.5:
        return (rng.integers(-9, 9, shape),)
    return (rng.normal(0, 1e3, shape),)


def _case_slots_where(rng, n=50):
    return rng.random(n) < rng.uniform(0, 1), bool(rng.random() < 0.5)


def _case_accounts(rng):
    d = _accounts_inputs(rng)
    return _accounts_args(d, d["alive"].size)


def _case_accounts_chunk(rng):
    return (0, *_case_accounts(rng))


def _case_output_chunk(rng):
    (alive, prod, talent, emp, service, effect, level, sector, n_sectors, region, local, theta,
     out) = _case_output(rng)
    return (0, alive, prod, talent, emp, service, effect, level, sector, region, local, theta,
            out, np.zeros((1, n_sectors)))


def _case_congestion_into(rng):
    d = _trade_inputs(rng)
    n_sectors, n_regions = d["emp"].shape
    return (d["emp"], d["emp_region"], d["emp0"], d["emp0_region"],
            d["localisation_elasticity"], d["wage_elasticity"], d["rent_elasticity"],
            np.full((n_sectors, n_regions), np.nan), np.full(n_regions, np.nan),
            np.full(n_regions, np.nan))


def _case_prices_into(rng, n_sectors=4):
    q = np.where(rng.random(n_sectors) < 0.2, 0.0, rng.uniform(0, 300, n_sectors))
    return (q, rng.uniform(0, 300, n_sectors), rng.uniform(0.5, 2, n_sectors),
            float(rng.choice([2.0, 1.0, 0.5, rng.uniform(0.1, 10)])), bool(rng.random() < 0.8),
            rng.uniform(0.5, 1.5, n_sectors), float(rng.uniform(0, 1.2)),
            float(rng.uniform(1.5, 3)), np.full(n_sectors, np.nan))


def _case_trade(rng):
    d = _trade_inputs(rng)
    return _trade_args(d, d["alive"].size)


def _case_grow(rng):
    n = 30
    revenue = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0, 20, n))
    n_sectors = 3
    emp = rng.uniform(0.5, 50, n)
    return (rng.random(n) > 0.2, emp, emp * np.exp(rng.normal(0, 0.3, n)), rng.normal(0, 30, n),
            revenue, rng.uniform(-1, 1, n), rng.uniform(0.5, 2, n), rng.uniform(0.5, 2, n),
            np.where(rng.random(n) < 0.3, 0.0, rng.normal(0, 0.5, n)),
            rng.integers(0, n_sectors, n),
            rng.uniform(0.8, 1.2, n_sectors), rng.uniform(0, 0.3, n_sectors),
            float(rng.uniform(0, 1)), float(rng.uniform(0, 0.3)),
            float(rng.choice([0.0, rng.uniform(0.05, 0.4)])), 1.0, 40.0,
            float(rng.choice([0.0, rng.uniform(0.1, 3)])), float(rng.uniform(0, 3)),
            rng.choice([0.0, 2.0], n), float(rng.choice([0.0, rng.uniform(0, 0.2)])),
            float(rng.choice([0.0, rng.uniform(0.05, 0.4)])), float(rng.uniform(0.5, 0.9)),
            float(rng.choice([0.0, rng.uniform(0.0, 0.05)])),
            float(rng.choice([0.0, rng.uniform(0.01, 0.3)])),
            *_draw_inputs(rng, n), np.full(n, np.nan), np.full(n, np.nan))


def _case_exits(rng):
    n = 40
    return (rng.random(n) > 0.2, rng.normal(0, 1, n), rng.uniform(-1, 10, n),
            rng.normal(0, 20, n), rng.choice([0.0, 2.0], n), 3.0, 4,
            rng.integers(0, 5, n), float(rng.choice([0.0, rng.uniform(0.05, 0.5)])),
            *_draw_inputs(rng, n), np.zeros(n, dtype=np.bool_))


def _case_age(rng):
    n = 20
    return rng.random(n) > 0.3, rng.integers(0, 100, n)


def _case_firm_counts(rng, n=50, n_sectors=3, n_regions=4):
    return (rng.random(n) > 0.3, rng.integers(0, n_sectors, n), rng.integers(0, n_regions, n),
            n_sectors, n_regions)


def _case_inverse_cdf(rng):
    p = rng.random((3, 5))
    p[1] = 0.25  # a row of equal weights
    return p, rng.integers(0, 3, 20), rng.random(20), np.zeros(20, dtype=np.int64)


def _market_terms(rng, n_regions, n_sectors):
    """wage, wage_index, land_cost, wage_mult, land_mult, rent_mult, price, base_price,
    localisation: the arguments of demography._earns after the entrant's own."""
    land = rng.uniform(0.0, 0.5, n_regions)
    land[0] = 0.0
    wage_mult = rng.uniform(0.8, 1.2, n_regions)
    wage_mult[0] = 0.0  # a region where a worker costs nothing this month: the 1e-12 floor
    return (float(rng.uniform(0.5, 2.0)), rng.uniform(0.5, 1.5, n_regions), land, wage_mult,
            rng.uniform(0.8, 1.2, n_regions), rng.uniform(0.8, 1.5, n_regions),
            rng.uniform(0.5, 2.0, n_sectors), rng.uniform(0.5, 2.0, n_sectors),
            rng.uniform(0.5, 2.0, (n_sectors, n_regions)))


def _case_earns(rng, n_regions=3, n_sectors=4):
    return (int(rng.integers(0, n_regions)), int(rng.integers(0, n_sectors)),
            float(rng.uniform(1.0, 30.0)), *_market_terms(rng, n_regions, n_sectors),
            float(rng.choice([0.5, rng.uniform(0.5, 0.9), 1.0])), float(rng.uniform(0.0, 20.0)))


def _case_viable(rng, n=25, n_regions=3, n_sectors=4):
    return (rng.integers(0, n_regions, n), rng.integers(0, n_sectors, n),
            rng.uniform(1.0, 30.0, n), *_market_terms(rng, n_regions, n_sectors),
            float(rng.choice([0.5, rng.uniform(0.5, 0.9), 1.0])), float(rng.uniform(0.0, 20.0)),
            np.zeros(n, dtype=np.bool_))


def _case_admit(rng, n=25, n_regions=3, n_sectors=4):
    k = int(rng.integers(0, 5))
    return (rng.random(n), rng.integers(0, n_regions, n), rng.integers(0, n_sectors, n),
            np.concatenate([rng.integers(0, 40, k), np.full(n - k, -1)]), 1.0,
            float(rng.choice([1.0, rng.uniform(0.8, 3.0)])), 60.0,
            rng.uniform(1.0, 3.0, n_sectors), bool(rng.random() < 0.7),
            *_market_terms(rng, n_regions, n_sectors),
            float(rng.choice([0.5, rng.uniform(0.5, 0.9), 1.0])), float(rng.uniform(0.0, 20.0)),
            np.zeros(n))


def _case_attraction(rng, n_sectors=4, n_regions=3):
    shape = (n_sectors, n_regions)
    return (rng.integers(0, 50, shape), rng.normal(size=shape),
            rng.integers(0, 2, shape).astype(np.float64), rng.normal(size=(1, n_regions)),
            rng.uniform(0.0, 2.0, n_regions), rng.uniform(0.5, 1.5, n_regions),
            rng.uniform(0.8, 3.0, n_regions), float(rng.uniform(0.5, 2.0)),
            *(float(b) for b in rng.uniform(0.0, 2.0, 3)), np.zeros(shape))


def _case_entrants(rng, size=30, k=4, n=5, n_regions=3, n_sectors=4):
    parents = np.sort(rng.choice(size, k, replace=False))
    return (parents, rng.integers(0, n_regions, size), rng.integers(0, n_sectors, size),
            *(rng.integers(0, 3, k + n) for _ in range(3)))


def _case_choose_sectors(rng, n=20, n_sectors=4):
    return (np.log(rng.uniform(0.01, 1.0, n_sectors)), float(rng.uniform(0.0, 5.0)),
            rng.uniform(0.5, 2.0, n_sectors), rng.uniform(0.5, 2.0, n_sectors), rng.random(n),
            np.zeros(n, dtype=np.int64))


def _case_born(rng, size=30, n=6, n_regions=3, n_sectors=2):
    free = np.flatnonzero(rng.random(size) > 0.5)[:n]
    n = free.size
    live = np.setdiff1d(np.arange(size), free)
    parent = np.where(rng.random(n) < 0.4, rng.choice(live, n), -1)
    k = int((parent >= 0).sum())
    gap = bool(rng.random() < 0.5)
    sizes = rng.uniform(1.0, 30.0, n)
    theta = float(rng.choice([0.5, rng.uniform(0.5, 0.9)]))  # 0.5: numpy's square root
    firm_floats = [rng.uniform(0.0, 2.0, size) for _ in range(10)]
    x, y = rng.uniform(0.0, WORLD, size), rng.uniform(0.0, WORLD, size)
    return (free, rng.integers(0, n_regions, n), rng.integers(0, n_sectors, n), parent, sizes,
            int(rng.integers(0, 100)), int(rng.integers(0, 50)),
            rng.normal(size=n * (5 + gap) + 3 * k), k, gap,
            *(rng.uniform(0.0, WORLD, n_regions) for _ in range(2)),
            rng.uniform(1.0, 5.0, n_regions), rng.uniform(0.5, 2.0, n_sectors),
            rng.uniform(0.0, 0.3, n_sectors), rng.uniform(0.5, 2.0, n_sectors),
            rng.uniform(0.5, 1.5, n_regions), rng.uniform(0.75, 1.25, n_regions),
            rng.uniform(0.0, 0.5, n_sectors), rng.uniform(0.5, 1.0, n_sectors),
            rng.uniform(0.0, 0.2, n_sectors), rng.uniform(0.8, 1.2, n_regions),
            rng.uniform(0.0, 0.1, n_regions), WORLD, 1.5, 0.1, float(rng.choice([0.0, 0.3])),
            0.5, 0.2, 0.3, 0.1, theta, 0.1, 0.05, 1.0, 3.0,
            np.isin(np.arange(size), live), np.where(np.isin(np.arange(size), live),
                                                      np.arange(size), -1),
            rng.integers(0, n_regions, size), rng.integers(0, n_sectors, size), x, y,
            *firm_floats[:6], *firm_floats[6:8], rng.integers(0, 20, size),
            *firm_floats[8:10])


def _case_clear(rng, n=20):
    return (rng.choice(n, 5, replace=False), tuple(rng.normal(size=n) for _ in range(3)),
            rng.normal(size=3), tuple(rng.integers(-5, 5, n) for _ in range(2)),
            np.array([-1, 0]), (rng.random(n) < 0.5,), np.array([False]))


def _case_lowest_free(rng, n=20):
    return rng.random(n) < rng.uniform(0.2, 0.9), int(rng.integers(0, n + 3))


def _case_spinoffs(rng):
    n = 40
    return (rng.random(n) > 0.2, rng.normal(0, 1, n), float(rng.uniform(0.2, 0.8)),
            *_draw_inputs(rng, n), np.zeros(n, dtype=np.bool_))


TWIN_CASES = {
    "sim.core.spatial._cell_of": _case_cell_of,
    "sim.core.spatial._cell_list": _case_cell_list,
    "sim.core.spatial._counting_sort": _case_cell_list,
    "sim.core.spatial.random_neighbour": _case_random_neighbour,
    "sim.mechanisms.cooperation._month": _case_month,
    "sim.mechanisms.cooperation._decide": _case_decide,
    "sim.mechanisms.cooperation._decide_rows": _case_decide_rows,
    "sim.mechanisms.cooperation._outcomes": _case_outcomes,
    "sim.mechanisms.cooperation._outcome_rows": _case_outcome_rows,
    "sim.mechanisms.cooperation._meet": _case_meet,
    "sim.mechanisms.cooperation._meet_rows": _case_meet_rows,
    "sim.mechanisms.cooperation._margin": _case_margin,
    "sim.mechanisms.cooperation._unlink": _case_unlink,
    "sim.mechanisms.cooperation._shared": _case_shared,
    "sim.mechanisms.cooperation._imitate_rows": _case_imitate,
    "sim.mechanisms.cooperation._dissolve": _case_dissolve,
    "sim.mechanisms.cooperation._drop": _case_drop,
    "sim.mechanisms.cooperation._free_slot": _case_free_slot,
    "sim.mechanisms.cooperation._linked": _case_linked,
    "sim.mechanisms.cooperation._add": _case_add,
    "sim.mechanisms.cooperation._form": _case_form,
    "sim.mechanisms.cooperation._form_rest": _case_form_rest,
    "sim.mechanisms.cooperation._split_meetings": _case_split_meetings,
    "sim.mechanisms.cooperation._tie_solo": _case_tie_solo,
    "sim.mechanisms.cooperation._add_pairs": _case_add_pairs,
    "sim.mechanisms.suppliers._delivered": _case_delivered,
    "sim.mechanisms.suppliers._imported": _case_imported,
    "sim.mechanisms.suppliers._input_totals": _case_input_totals,
    "sim.mechanisms.suppliers._choose": _case_choose,
    "sim.mechanisms.suppliers._volumes": _case_volumes,
    "sim.mechanisms.suppliers._group_suppliers": _case_group_suppliers,
    "sim.mechanisms.suppliers._month_terms": _case_month_terms,
    "sim.mechanisms.suppliers._prices_costs": _case_prices_costs,
    "sim.mechanisms.suppliers._transport_mult": _case_transport_mult,
    "sim.mechanisms.suppliers._join_groups": _case_join_groups,
    "sim.mechanisms.facilities._cascade": _case_cascade,
    "sim.mechanisms.facilities._mean_trust": _case_mean_trust,
    "sim.mechanisms.facilities._use": _case_use,
    "sim.mechanisms.facilities._member_counts": _case_member_counts,
    "sim.mechanisms.facilities._can_pledge": _case_can_pledge,
    "sim.mechanisms.facilities._serve": _case_serve,
    "sim.mechanisms.market._output": _case_output,
    "sim.mechanisms.market._employment": _case_employment,
    "sim.core.totals.slots_where": _case_slots_where,
    "sim.core.totals.add_chunks": _case_add_chunks,
    "sim.mechanisms.market._service_of": _case_service_of,
    "sim.mechanisms.market._fee_of": _case_fee_of,
    "sim.mechanisms.market._accounts": _case_accounts,
    "sim.mechanisms.market._accounts_chunk": _case_accounts_chunk,
    "sim.mechanisms.market._output_chunk": _case_output_chunk,
    "sim.mechanisms.market._congestion_into": _case_congestion_into,
    "sim.mechanisms.market._prices_into": _case_prices_into,
    "sim.mechanisms.market._trade": _case_trade,
    "sim.mechanisms.demography._grow": _case_grow,
    "sim.mechanisms.demography._spinoffs": _case_spinoffs,
    "sim.mechanisms.demography._exits": _case_exits,
    "sim.mechanisms.demography._age": _case_age,
    "sim.mechanisms.demography._inverse_cdf": _case_inverse_cdf,
    "sim.mechanisms.demography._choose_sectors": _case_choose_sectors,
    "sim.mechanisms.population._born": _case_born,
    "sim.core.state._clear": _case_clear,
    "sim.core.state._lowest_free": _case_lowest_free,
    "sim.mechanisms.demography._earns": _case_earns,
    "sim.mechanisms.demography._viable": _case_viable,
    "sim.mechanisms.demography._admit": _case_admit,
    "sim.mechanisms.demography._entrants": _case_entrants,
    "sim.mechanisms.demography._attraction": _case_attraction,
    "sim.mechanisms.demography.firm_counts": _case_firm_counts,
}


#: Kernels that change the tie table in place; their first four arguments are partner, trust
#: and the triangle counts and reverse slots they keep up to date.
TIE_MUTATORS = {f"sim.mechanisms.cooperation.{k}"
                for k in ("_dissolve", "_drop", "_add", "_form", "_form_rest", "_add_pairs",
                          "_unlink")}


# --------------------------------------------------------------------------- discovery


def _kernels_in_source() -> set[str]:
    """``module.name`` of every function decorated with ``@numba.njit`` / ``@njit`` or
    ``@parallel_kernel`` in sim/."""
    pattern = re.compile(r"^@(?:(?:numba\.)?njit\b.*|parallel_kernel)\n(?:@.*\n)*def (\w+)",
                         re.MULTILINE)
    found = set()
    for path in sorted(SIM_DIR.rglob("*.py")):
        module = ".".join(("sim", *path.relative_to(SIM_DIR).with_suffix("").parts))
        found |= {f"{module}.{name}" for name in pattern.findall(path.read_text())}
    return found


def _kernels_by_introspection() -> set[str]:
    """Every numba dispatcher defined (not merely imported) in the mechanism modules."""
    found = set()
    for mod in MECHANISMS:
        for name, obj in vars(mod).items():
            if isinstance(obj, numba.core.registry.CPUDispatcher | ParallelKernel) and (
                    obj.py_func.__module__ == mod.__name__):
                found.add(f"{mod.__name__}.{name}")
    return found


def _kernel(qualname: str):
    module, _, name = qualname.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_every_kernel_has_a_twin_case():
    in_source = _kernels_in_source()
    mechanism_kernels = {q for q in in_source if q.rpartition(".")[0] not in TWINNED_ELSEWHERE}
    assert mechanism_kernels, "no kernels found: the source scan is broken"
    assert _kernels_by_introspection() == mechanism_kernels
    assert set(TWIN_CASES) == mechanism_kernels, (
        f"kernels without a twin case: {sorted(mechanism_kernels - set(TWIN_CASES))}; "
        f"cases for missing kernels: {sorted(set(TWIN_CASES) - mechanism_kernels)}")
    for qualname in in_source - mechanism_kernels:
        module, _, name = qualname.rpartition(".")
        text = (TESTS_DIR / TWINNED_ELSEWHERE[module]).read_text()
        assert f"{name}.py_func" in text, f"{qualname} has no twin test in its test file"


# --------------------------------------------------------------------------- twins


def _assert_same(fast, slow, what: str) -> None:
    if isinstance(fast, tuple):
        assert isinstance(slow, tuple), what
        assert len(fast) == len(slow), what
        for n, (a, b) in enumerate(zip(fast, slow, strict=True)):
            _assert_same(a, b, f"{what}[{n}]")
    elif isinstance(fast, np.ndarray) and fast.dtype.kind == "f":
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=0.0, err_msg=what)
    elif isinstance(fast, np.ndarray):
        np.testing.assert_array_equal(fast, slow, err_msg=what)
    elif isinstance(fast, float):
        assert fast == pytest.approx(slow, rel=1e-12, abs=0.0, nan_ok=True), what
    else:
        assert fast == slow, what


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("qualname", sorted(TWIN_CASES))
def test_kernel_equals_its_py_func(qualname, seed):
    kernel = _kernel(qualname)
    args = TWIN_CASES[qualname](np.random.default_rng([seed, len(qualname)]))
    fast_args, slow_args = copy.deepcopy(args), copy.deepcopy(args)
    fast = kernel(*fast_args)
    slow = kernel.py_func(*slow_args)
    _assert_same(fast, slow, f"{qualname} return value")
    for n, (a, b) in enumerate(zip(fast_args, slow_args, strict=True)):
        _assert_same(a, b, f"{qualname} argument {n} after the call")
    if isinstance(kernel, ParallelKernel):  # both builds: prange in parallel, and as range
        for build in (kernel.parallel, kernel.serial):
            build_args = copy.deepcopy(args)
            _assert_same(build(*build_args), slow, f"{qualname} {build} return value")
            for n, (a, b) in enumerate(zip(build_args, slow_args, strict=True)):
                _assert_same(a, b, f"{qualname} {build} argument {n} after the call")
    if qualname in TIE_MUTATORS:  # (partner, trust, ...) stay a valid symmetric table
        check_ties(fast_args[0], fast_args[1])
        np.testing.assert_array_equal(fast_args[2], count_triangles(fast_args[0]),
                                      err_msg=f"{qualname}: triangle counts out of date")
        np.testing.assert_array_equal(fast_args[3], reverse_slots(fast_args[0]),
                                      err_msg=f"{qualname}: reverse slots out of date")


# --------------------------------------------------------------------------- spatial


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [40, 3 * totals.CHUNK + 11])  # one chunk; several in parallel
def test_cell_list_is_a_counting_sort(seed, n):
    rng = np.random.default_rng(seed)
    x, y, alive, cell_size, side = _case_cell_list(rng, n)
    start, members = spatial._cell_list(x, y, alive, cell_size, side)
    cx = np.clip((x / cell_size).astype(np.int64), 0, side - 1)
    cy = np.clip((y / cell_size).astype(np.int64), 0, side - 1)
    cell = cy * side + cx
    live = np.flatnonzero(alive)
    # numpy: a stable sort of live slots by cell, and the cumulative counts
    np.testing.assert_array_equal(members, live[np.argsort(cell[live], kind="stable")])
    counts = np.bincount(cell[live], minlength=side * side)
    np.testing.assert_array_equal(start, np.concatenate([[0], np.cumsum(counts)]))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_neighbour_only_returns_neighbours_and_reaches_all(seed):
    rng = np.random.default_rng(seed)
    n = 80
    x, y = _positions(rng, n, spill=False)
    alive = rng.random(n) > 0.1
    cl, radius = _cells(rng, x, y, alive)
    d2 = (x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2
    for i in np.flatnonzero(alive)[:20]:
        # brute force over all pairs
        expected = set(np.flatnonzero(alive & (d2[i] <= radius * radius))) - {i}
        got = {spatial.random_neighbour(i, x, y, cl.start, cl.members, cl.cell_size, cl.side,
                                         radius, rng.random(8)) for _ in range(400)}
        assert got - {-1} <= expected, "returned a firm outside the radius (or itself)"
        if expected:
            assert len(expected) > 40 or got - {-1} == expected, "a neighbour is unreachable"
        else:
            assert got == {-1}


def _neighbour_cell_by_cell(i, x, y, start, members, cell_size, side, radius, u):
    """:func:`spatial.random_neighbour` as it was written before (the 3 x 3 block's cells
    listed one by one with their counts), the reference it must equal to the bit."""
    cx = min(max(int(x[i] / cell_size), 0), side - 1)
    cy = min(max(int(y[i] / cell_size), 0), side - 1)
    cells, counts = [], []
    for dy in range(-1, 2):
        for dx in range(-1, 2):
            gx, gy = cx + dx, cy + dy
            inside = 0 <= gx < side and 0 <= gy < side
            cells.append(gy * side + gx if inside else -1)
            counts.append(int(start[gy * side + gx + 1] - start[gy * side + gx]) if inside else 0)
    total = sum(counts)
    if total <= 1:
        return -1
    for t in range(len(u)):
        pick = min(int(u[t] * total), total - 1)
        m = 0
        while pick >= counts[m]:
            pick -= counts[m]
            m += 1
        j = members[start[cells[m]] + pick]
        if j != i and (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2 <= radius * radius:
            return j
    return -1


@pytest.mark.parametrize("seed", SEEDS)
def test_random_neighbour_equals_the_cell_by_cell_walk(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        n = int(rng.integers(2, 120))
        x, y = _positions(rng, n)  # some beyond the map's edges: clipped into the edge cells
        alive = rng.random(n) > 0.2
        cl, radius = _cells(rng, x, y, alive)
        for i in rng.integers(0, n, 10):
            u = rng.random(4)
            assert spatial.random_neighbour(i, x, y, cl.start, cl.members, cl.cell_size,
                                            cl.side, radius, u) == _neighbour_cell_by_cell(
                i, x, y, cl.start, cl.members, cl.cell_size, cl.side, radius, u)


def test_random_neighbour_is_uniform_over_neighbours():
    # 12 firms within 1 km of firm 0, 30 more in the 3 x 3 block but beyond the radius
    rng = np.random.default_rng(5)
    radius = 5.0
    ang = rng.uniform(0, 2 * np.pi, 42)
    dist = np.concatenate([rng.uniform(0, 1, 12), rng.uniform(radius + 0.1, 9.0, 30)])
    x = np.concatenate([[30.0], 30.0 + dist * np.cos(ang)])
    y = np.concatenate([[30.0], 30.0 + dist * np.sin(ang)])
    alive = np.ones(x.size, dtype=np.bool_)
    cl = build_cell_list(x, y, alive, WORLD, radius)
    draws = np.array([spatial.random_neighbour(0, x, y, cl.start, cl.members, cl.cell_size,
                                                cl.side, radius, u)
                      for u in rng.random((12_000, 64))])
    assert np.all((draws >= 1) & (draws <= 12)), "only the 12 neighbours may be drawn"
    counts = np.bincount(draws, minlength=13)[1:]
    assert chisquare(counts).pvalue > 0.001  # seeded; uniform over the 12 neighbours


def test_random_neighbour_alone_returns_minus_one():
    x, y = np.array([5.0, 50.0]), np.array([5.0, 50.0])
    alive = np.ones(2, dtype=np.bool_)
    cl = build_cell_list(x, y, alive, WORLD, 3.0)
    u = np.random.default_rng(0).random(16)
    assert spatial.random_neighbour(0, x, y, cl.start, cl.members, cl.cell_size, cl.side,
                                     3.0, u) == -1


# --------------------------------------------------------------------------- cooperation


def _uniforms(key, month, stream, firm_id, block=0) -> tuple[float, float, float, float]:
    return streams.uniform4(key, month, stream, int(firm_id), block)


def _normal(key, month, stream, firm_id) -> float:
    return streams.normal(key, month, stream, int(firm_id))


@pytest.mark.parametrize("seed", SEEDS)
def test_decide_matches_numpy(seed):
    args = _case_decide(np.random.default_rng(seed))
    partner, trust, alive, willingness, coop_base, firm_id, key, month, acted = args
    played = cooperation._decide(*args)
    u = np.array([[_uniforms(key, month, streams.DECIDE, f, s // 4)[s % 4]
                   for s in range(partner.shape[1])] for f in firm_id])
    p = willingness[:, None] * (coop_base + (1.0 - coop_base) * trust)
    expected = alive[:, None] & (partner >= 0) & (u < p)
    np.testing.assert_array_equal(acted, expected.astype(np.int8))
    assert played == int((alive[:, None] & (partner >= 0)).sum())


@pytest.mark.parametrize("seed", SEEDS)
def test_meet_draws_a_neighbour_for_live_firms_with_a_free_slot(seed):
    args = _case_meet(np.random.default_rng(seed))
    (partner, alive, firm_id, x, y, start, members, cell_size, side, radius, prob, key, month,
     met) = args
    cooperation._meet(*args)
    for i in range(partner.shape[0]):
        expected = -1
        u0, u1, u2, u3 = _uniforms(key, month, streams.MEET, firm_id[i])
        if alive[i] and (partner[i] < 0).any() and u0 < prob:
            v0 = _uniforms(key, month, streams.MEET, firm_id[i], 1)[0]
            expected = spatial.random_neighbour(i, x, y, start, members, cell_size, side,
                                                 radius, np.array([u1, u2, u3, v0]))
        assert met[i] == expected, i





@pytest.mark.parametrize("seed", SEEDS)
def test_outcomes_match_brute_force(seed):
    args = _case_outcomes(np.random.default_rng(seed))
    (partner, _, trust, acted, alive, revenue, productivity, reputation, willingness, aspiration,
     b, c, gain, loss, spill, memory, floor, learning, habituation) = args[:19]
    cooperation._outcomes(*args)
    new_trust, new_prod, new_rep, new_will, new_asp, income, acts, low = args[19:]
    np.testing.assert_array_equal(
        low, alive & ((partner >= 0) & (new_trust < floor)).any(axis=1))
    slot = {(int(i), int(partner[i, s])): s for i, s in zip(*np.nonzero(partner >= 0),
                                                             strict=True)}
    n, k = partner.shape
    for i in range(n):
        inc, mine_total, ties, gap, push, earned = 0.0, 0, 0, 0.0, 0.0, 0.0
        for s in range(k):
            j = partner[i, s]
            t = trust[i, s]
            expected_t = t
            if alive[i] and j >= 0:
                back = acted[j, slot[(j, i)]]
                mine = acted[i, s]
                scale = max(min(revenue[i], revenue[j]), 0.0)
                money = b * scale * back - c * scale * mine
                inc += money
                mine_total += mine
                ties += 1
                # Bush-Mosteller: the action taken becomes more (less) likely as the payoff,
                # a share of the firm's own revenue, beats (misses) its aspiration
                payoff = money / revenue[i] if revenue[i] > 0 else 0.0
                earned += payoff
                stim = float(np.clip(learning * (payoff - aspiration[i]), -1, 1))
                p_act = willingness[i] if mine else 1 - willingness[i]
                change = stim * ((1 - p_act) if stim >= 0 else p_act)
                push += change if mine else -change
                expected_t = t + gain * (1 - t) if back else t * (1 - loss)
                if mine and back:
                    gap = max(gap, productivity[j] - productivity[i])
            assert new_trust[i, s] == pytest.approx(expected_t, rel=1e-12), (i, s)
        assert income[i] == pytest.approx(inc, rel=1e-12, abs=1e-15)
        assert acts[i] == mine_total
        assert new_prod[i] == pytest.approx(productivity[i] + (spill * gap if alive[i] else 0))
        rep = (1 - memory) * reputation[i] + memory * mine_total / ties if ties else reputation[i]
        assert new_rep[i] == pytest.approx(rep, rel=1e-12)
        will = np.clip(willingness[i] + push / ties, 0, 1) if ties else willingness[i]
        assert new_will[i] == pytest.approx(will, rel=1e-12, abs=1e-15)
        asp = (aspiration[i] + habituation * (earned / ties - aspiration[i]) if ties
               else aspiration[i])
        assert new_asp[i] == pytest.approx(asp, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_imitate_matches_brute_force(seed):
    args = _case_imitate(np.random.default_rng(seed))[:-2]  # all rows
    partner, alive, willingness, profit, revenue, rate, intensity, firm_id, key, month, out = args
    cooperation._imitate_rows(*args, 0, partner.shape[0])
    margin = np.divide(profit, revenue, out=np.zeros_like(profit), where=revenue > 0)
    for i in range(partner.shape[0]):
        partners = [j for j in partner[i] if j >= 0]
        expected = willingness[i]
        who_u, slot_u, accept_u, _ = _uniforms(key, month, streams.IMITATE, firm_id[i])
        if alive[i] and who_u < rate and partners:
            j = partners[int(slot_u * len(partners))]
            x = np.clip(intensity * (margin[j] - margin[i]), -50, 50)
            if accept_u < 1.0 / (1.0 + np.exp(-x)):
                expected = willingness[j]
        assert out[i] == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_dissolve_removes_exactly_the_distrusted_ties(seed):
    partner, trust, _, _, floor, _ = args = _case_dissolve(np.random.default_rng(seed))
    before = {(int(i), int(partner[i, s])): trust[i, s]
              for i, s in zip(*np.nonzero(partner >= 0), strict=True)}
    edges = edge_set(partner)
    doomed = {(a, b) for a, b in edges if min(before[(a, b)], before[(b, a)]) < floor}
    removed = cooperation._dissolve(*args)
    check_ties(partner, trust)
    assert removed == len(doomed)
    assert edge_set(partner) == edges - doomed
    for i, s in zip(*np.nonzero(partner >= 0), strict=True):
        assert trust[i, s] == before[(int(i), int(partner[i, s]))]
    assert np.all(trust[partner < 0] == 0.0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [20, 2 * totals.CHUNK + 11])  # one chunk of rows; several
def test_month_is_the_steps_one_after_the_other(seed, n):
    """:func:`_month`, both builds, gives to the bit what the month's steps gave as separate
    calls (before they were fused): decide, outcomes, the sum of ``acts`` in numpy, dissolve
    on the new trust, meet, form, imitate."""
    args = _case_month(np.random.default_rng(seed), n)
    (partner, back, trust, acted, triangles, alive, firm_id, key, month, revenue, profit,
     productivity, reputation, willingness, aspiration, x, y, start, members, cell_size, side,
     coop_base, *rates, radius, meet_prob, t0, rep_weight, imitation_rate, intensity, new_trust,
     new_productivity, new_reputation, new_willingness, new_aspiration, income, acts,
     imitated) = want = copy.deepcopy(args)
    played = cooperation._decide(partner, trust, alive, willingness, coop_base, firm_id, key,
                                 month, acted)
    low = np.empty(n, dtype=np.bool_)
    cooperation._outcomes(partner, back, trust, acted, alive, revenue, productivity, reputation,
                          willingness, aspiration, *rates, new_trust, new_productivity,
                          new_reputation, new_willingness, new_aspiration, income, acts, low)
    kept = float(acts.sum())
    dissolved = cooperation._dissolve(partner, new_trust, triangles, back, rates[6], low)
    met = np.empty(n, dtype=np.int64)
    cooperation._meet(partner, alive, firm_id, x, y, start, members, cell_size, side, radius,
                      meet_prob, key, month, met)
    formed = cooperation._form(partner, new_trust, triangles, back, met, alive, new_reputation,
                               t0, rep_weight)
    cooperation._imitate_rows(partner, alive, new_willingness, profit, revenue, imitation_rate,
                              intensity, firm_id, key, month, imitated, 0, n)
    assert dissolved > 0
    assert formed > 0
    for build in (cooperation._month.parallel, cooperation._month.serial):
        got = copy.deepcopy(args)
        assert build(*got) == (played, kept, dissolved, formed)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", SEEDS)
def test_drop_removes_all_ties_of_leavers(seed):
    partner, trust, _, _, idx = args = _case_drop(np.random.default_rng(seed))
    edges = edge_set(partner)
    cooperation._drop(*args)
    check_ties(partner, trust)
    leaving = set(idx.tolist())
    assert edge_set(partner) == {(a, b) for a, b in edges
                                    if a not in leaving and b not in leaving}
    assert np.all(partner[idx] == -1)


@pytest.mark.parametrize("seed", SEEDS)
def test_add_pairs_matches_set_based_rules(seed):
    partner, trust, _, _, a, b, t_ab, t_ba = args = _case_add_pairs(np.random.default_rng(seed))
    k = partner.shape[1]
    edges = edge_set(partner)
    degree = (partner >= 0).sum(axis=1).tolist()
    expected_new = []
    for i, j in zip(a.tolist(), b.tolist(), strict=True):
        e = (min(i, j), max(i, j))
        if i != j and e not in edges and degree[i] < k and degree[j] < k:
            edges.add(e)
            degree[i] += 1
            degree[j] += 1
            expected_new.append((i, j))
    added = cooperation._add_pairs(*args)
    check_ties(partner, trust)
    assert added == len(expected_new)
    assert edge_set(partner) == edges
    for i, j in expected_new:
        assert trust[i, list(partner[i]).index(j)] == t_ab
        assert trust[j, list(partner[j]).index(i)] == t_ba


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [None, 3 * totals.CHUNK + 11])  # a small table; a large one
def test_meetings_split_solo_from_shared_in_slot_order(seed, n):
    rng = np.random.default_rng(seed)
    met, alive = _case_split_meetings(rng)
    if n is not None:
        alive = rng.random(n) > 0.1
        met = _met(rng, alive, 0.002)  # few enough meetings for some to be solo
    solo, shared = cooperation._split_meetings(met, alive)
    real = [i for i in range(met.size) if met[i] >= 0 and alive[met[i]]]
    firms = [f for i in real for f in (i, int(met[i]))]
    alone = [i for i in real if firms.count(i) == 1 and firms.count(int(met[i])) == 1]
    assert solo.tolist() == alone
    assert shared.tolist() == [i for i in real if i not in alone]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("share", [0.05, 0.5, 1.0])  # mostly solo meetings ... mostly shared
def test_form_ties_whom_firms_met_in_slot_order(seed, share):
    args = _case_form(np.random.default_rng(seed), share)
    partner, trust, _, _, met, alive, reputation, t0, w = args
    # set-based re-implementation
    k = partner.shape[1]
    edges = edge_set(partner)
    degree = (partner >= 0).sum(axis=1).tolist()
    expected_trust = {}
    for i, j in enumerate(met.tolist()):
        if j < 0 or i == j or not alive[j] or (min(i, j), max(i, j)) in edges:
            continue
        if degree[i] >= k or degree[j] >= k:
            continue
        edges.add((min(i, j), max(i, j)))
        degree[i] += 1
        degree[j] += 1
        expected_trust[(i, j)] = (1 - w) * t0 + w * reputation[j]
        expected_trust[(j, i)] = (1 - w) * t0 + w * reputation[i]
    added = cooperation._form(*args)
    check_ties(partner, trust, alive)
    assert added == len(expected_trust) // 2
    assert edge_set(partner) == edges
    for (a, b), t in expected_trust.items():
        assert trust[a, list(partner[a]).index(b)] == pytest.approx(t)


# --------------------------------------------------------------------------- suppliers


@pytest.mark.parametrize("seed", SEEDS)
def test_choose_matches_dense_cost_matrix(seed):
    d = _supplier_inputs(np.random.default_rng(seed))
    n = d["fx"].size
    args = _choose_args(d, n)
    suppliers._choose(*args)
    chosen, unit_cost = args[-2:]
    # numpy: delivered cost of every supplier to every firm
    dist = np.hypot(d["fx"][:, None] - d["sx"][None, :], d["fy"][:, None] - d["sy"][None, :])
    r = d["fregion"]
    mult = np.where(r[:, None] == d["sregion"][None, :], d["within"][r][:, None],
                    np.maximum(d["between"][r][:, None], d["between"][d["sregion"]][None, :]))
    cost = d["price"][None, :] * (1 + d["freight"] * dist * mult * d["infra"][r][:, None])
    cost[d["finput"][:, None] != d["sinput"][None, :]] = np.inf
    # the outside source: one more column, coded IMPORTED
    imported = d["import_price"][d["finput"]] * (1 + d["import_cost"] * d["between"][r]
                                                 * d["infra"][r])
    local = np.argmin(cost, axis=1)
    local_cost = cost[np.arange(n), local]
    best = np.where(imported < local_cost, suppliers.IMPORTED, local)
    best_cost = np.minimum(imported, local_cost)
    cur = d["current"]
    cur_cost = np.where(cur >= 0, cost[np.arange(n), np.maximum(cur, 0)],
                        np.where(cur == suppliers.IMPORTED, imported, np.inf))
    firm_id, key, month = d["draws"]
    reconsider = np.array([_uniforms(key, month, streams.SUPPLIER, f)[0] >= d["loyalty"]
                           for f in firm_id])
    reconsider |= cur_cost > imported  # paying more than the traders ask: always looks
    switch = (cur == -1) | (reconsider & (best_cost < cur_cost * (1 - d["switch_gain"])))
    exp_chosen = np.where(d["alive"], np.where(switch, best, cur), -1)
    exp_cost = np.where(d["alive"], np.where(switch, best_cost, cur_cost), 0.0)
    np.testing.assert_array_equal(chosen, exp_chosen)
    np.testing.assert_allclose(unit_cost, exp_cost, rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_input_totals_match_numpy_over_several_chunks(seed):
    args = _case_input_totals(np.random.default_rng(seed), n=2 * totals.CHUNK + 9)
    alive, output, sector, ipo, base, unit_cost, supplier = args
    used = np.where(alive, output * ipo[sector], 0.0)
    expected = [used.sum(), used @ unit_cost, used @ base[sector],
                used[supplier == suppliers.IMPORTED].sum()]
    np.testing.assert_allclose(suppliers._input_totals(*args), expected, rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_volumes_match_bincount_over_several_chunks(seed):
    args = _case_volumes(np.random.default_rng(seed), n=2 * totals.CHUNK + 9)
    alive, supplier, output, sector, ipo, volume, memory, capacity, floor, expansion = args
    buying = alive & (supplier >= 0)
    expected = np.bincount(supplier[buying], weights=(output * ipo[sector])[buying],
                           minlength=volume.size)
    now, smoothed, installed = suppliers._volumes(*args)
    np.testing.assert_allclose(now, expected, rtol=1e-12)
    np.testing.assert_array_equal(smoothed, memory * now + (1.0 - memory) * volume)
    np.testing.assert_array_equal(
        installed, np.maximum(capacity + expansion * (smoothed - capacity), floor))
    # without installed capacity, none; without a supply base, a floor of 0
    assert suppliers._volumes(*args[:7], None, None, expansion)[2] is None
    np.testing.assert_array_equal(
        suppliers._volumes(*args[:8], None, expansion)[2],
        np.maximum(capacity + expansion * (smoothed - capacity), 0.0))


@pytest.mark.parametrize("seed", SEEDS)
def test_join_groups_matches_the_numpy_selection_bit_for_bit(seed):
    args = _case_join_groups(np.random.default_rng(seed))
    (alive, root, size, min_size, jp_group, chosen, unit_cost, m, fx, fy, fregion, finput, sx, sy,
     sregion, price, freight, within, between, infra, import_price, import_cost, pay) = args
    # the former formulation: a members mask, the groups' sources, their discounted costs, and
    # numpy's selection of the members who follow
    member = alive & (size >= min_size)
    members = np.flatnonzero(member).astype(np.int64)
    gsup = suppliers._group_suppliers(root, chosen, members, m)
    group_cost = unit_cost.copy()
    for i, k in zip(members.tolist(), gsup.tolist(), strict=True):
        if k >= 0:
            cost = suppliers._delivered(i, k, fx, fy, fregion, sx, sy, sregion, price, freight,
                                        within, between, infra)
        elif k == suppliers.IMPORTED:
            r = fregion[i]
            cost = import_price[finput[i]] * (1 + import_cost * between[r] * infra[r])
        else:
            cost = np.inf
        group_cost[i] = cost * pay
    follow = group_cost[members] <= unit_cost[members]
    exp_chosen, exp_cost = chosen.copy(), unit_cost.copy()
    exp_chosen[members] = np.where(follow, gsup, chosen[members])
    exp_cost[members] = np.where(follow, group_cost[members], unit_cost[members])
    assert suppliers._join_groups(*args) == members.size
    np.testing.assert_array_equal(jp_group, np.where(member, root, -1))
    np.testing.assert_array_equal(chosen, exp_chosen)
    np.testing.assert_array_equal(unit_cost, exp_cost)


@pytest.mark.parametrize("seed", SEEDS)
def test_group_suppliers_is_the_groups_mode_lowest_first(seed):
    root, supplier, members, m = _case_group_suppliers(np.random.default_rng(seed))
    got = suppliers._group_suppliers(root, supplier, members, m)
    for a, i in enumerate(members):
        group = [j for j in members if root[j] == root[i]]
        counts = {s: sum(supplier[j] == s for j in group) for s in range(-2, m)}
        assert got[a] == max(counts, key=lambda s: (counts[s], -s))


@pytest.mark.parametrize("seed", SEEDS)
def test_purchasing_groups_match_scipy_components(seed):
    args = _case_purchasing_groups(np.random.default_rng(seed))
    partner, _, trust, alive, finput, tmin = args
    root, size = suppliers.purchasing_groups(*args)
    n = partner.shape[0]
    t = {(int(i), int(partner[i, s])): trust[i, s]
         for i, s in zip(*np.nonzero(partner >= 0), strict=True)}
    rows, cols = [], []
    for i, j in edge_set(partner):
        if finput[i] == finput[j] and t[(i, j)] >= tmin and t[(j, i)] >= tmin:
            rows.append(i)
            cols.append(j)
    graph = scipy.sparse.coo_array((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    for i in range(n):
        if not alive[i]:
            assert root[i] == -1
            assert size[i] == 0
            continue
        comp = np.flatnonzero(labels == labels[i])
        assert root[i] == comp.min(), "a group's root is its lowest slot"
        assert size[i] == comp.size


# --------------------------------------------------------------------------- facilities


def _naive_granovetter(thresholds: np.ndarray) -> int:
    """Iterate the dynamics: each round, everyone whose threshold <= number already in joins."""
    joined = 0
    while True:
        now = int(np.count_nonzero(thresholds <= joined))
        if now == joined:
            return joined
        joined = now


@pytest.mark.parametrize("seed", range(20))
def test_cascade_matches_naive_dynamics(seed):
    rng = np.random.default_rng(seed)
    # continuous thresholds, and small integer ones with many ties
    for theta in (rng.normal(rng.uniform(0, 20), rng.uniform(1, 15), 50),
                  rng.integers(-1, 6, 12).astype(np.float64)):
        assert facilities._cascade(np.sort(theta)) == _naive_granovetter(theta)
        assert facilities.pledge_cascade(theta) == _naive_granovetter(theta)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [60, 3 * totals.CHUNK + 11])  # one chunk; several in parallel
def test_drive_candidates_match_numpy(seed, n):
    args = _case_can_pledge(np.random.default_rng(seed), n)
    alive, region, sector, member_of, capital, revenue, r, in_sectors, pay, months, asked = args
    want = (alive & (region == r) & in_sectors[sector] & (member_of < 0)
            & (capital >= pay) & (pay <= months * np.maximum(revenue, 0.0)))
    facilities._can_pledge(*args)
    np.testing.assert_array_equal(asked, want)


@pytest.mark.parametrize("seed", SEEDS)
def test_mean_trust_matches_numpy(seed):
    partner, trust, out = _case_mean_trust(np.random.default_rng(seed))
    facilities._mean_trust(partner, trust, out)
    on = partner >= 0
    deg = on.sum(axis=1)
    expected = np.divide((trust * on).sum(axis=1), deg, out=np.zeros(deg.size), where=deg > 0)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_use_matches_numpy(seed):
    d = _use_inputs(np.random.default_rng(seed))
    n, nf = d["alive"].size, d["f_region"].size
    args = _use_args(d, n)
    users = facilities._use(*args)
    uses, level, fee = args[-3:]
    last = np.zeros(3)  # slots beyond last month's arrays count 0
    own = d["born"] < d["billed"]  # and so do the bills in an entrant's slot
    base = np.stack([d["revenue"], np.concatenate([d["input_cost"], last]) * own,
                     np.concatenate([d["waste_cost"], last]) * own], axis=1)[:, d["f_service"]]
    mine = np.where(d["member_of"] >= 0, d["local"][np.maximum(d["member_of"], 0)], -1)
    price = np.where(mine[:, None] == np.arange(nf)[None, :],
                     d["f_fee_member"][None, :], d["f_fee_other"][None, :])
    net = d["f_effect"][None, :] * d["f_level"][None, :] * base - price
    ok = (d["alive"][:, None] & (d["f_level"][None, :] > 0)
          & (d["f_region"][None, :] == d["region"][:, None])
          & d["f_sector_mask"][:, d["sector"]].T)
    net = np.where(ok, net, -np.inf)
    best = np.argmax(net, axis=1)
    take = net[np.arange(n), best] > 0
    np.testing.assert_array_equal(uses, np.where(take, best, -1))
    np.testing.assert_array_equal(fee, np.where(take, price[np.arange(n), best], 0.0))
    np.testing.assert_array_equal(level, np.where(take, d["f_level"][best], 0.0))
    np.testing.assert_array_equal(users, np.bincount(uses[uses >= 0], minlength=nf))


@pytest.mark.parametrize("seed", SEEDS)
def test_serve_hands_out_the_actual_level_and_sums_fees(seed):
    args = _case_serve(np.random.default_rng(seed), n=2 * totals.CHUNK + 3)
    uses, fee, operating, actual, f_service, f_effect, used, level, service, effect = args
    fees = facilities._serve(*args)
    on = uses >= 0
    f = np.maximum(uses, 0)
    np.testing.assert_array_equal(used, np.where(on, operating[f], -1))
    np.testing.assert_array_equal(level, np.where(on, actual[f], 0.0))
    np.testing.assert_array_equal(service, np.where(on, f_service[f], -1))
    np.testing.assert_array_equal(effect, np.where(on, f_effect[f], 0.0))
    np.testing.assert_allclose(fees, np.bincount(uses[on], weights=fee[on],
                                                 minlength=actual.size), rtol=1e-12)


# --------------------------------------------------------------------------- market


@pytest.mark.parametrize("seed", SEEDS)
def test_output_matches_numpy(seed):
    # several chunks of market.CHUNK firms, so that the chunked sector totals are exercised
    args = _case_output(np.random.default_rng(seed), n=3 * market.CHUNK + 17)
    (alive, prod, talent, emp, service, effect, level, sector, n_sectors, region, local, theta,
     out) = args
    totals = market._output(*args)
    boost = np.where(service == 0, effect * level, 0.0)
    want = prod * talent * (1 + boost) * local[sector, region] * emp ** theta
    np.testing.assert_allclose(out, np.where(alive, want, 0.0), rtol=1e-12)
    np.testing.assert_allclose(totals, np.bincount(sector[alive], weights=out[alive],
                                                   minlength=n_sectors), rtol=1e-12)
    # the set-up's sector totals add in the same order as the step's
    np.testing.assert_array_equal(market.sector_output(alive, sector, out, n_sectors), totals)


def _old_settle(alive, capital, profit, revenue, fee, subsidy, payout_rate, buffer_months):
    """The market's former settling kernel, line by line: profit to capital, owners' drawings,
    and the totals of profit, fees, subsidy and drawings added chunk by chunk."""
    n = alive.shape[0]
    n_chunks = (n + market.CHUNK - 1) // market.CHUNK
    part = np.zeros((n_chunks, 4))
    for c in range(n_chunks):
        for i in range(c * market.CHUNK, min(n, (c + 1) * market.CHUNK)):
            if alive[i]:
                capital[i] += profit[i]
                excess = capital[i] - buffer_months * max(revenue[i], 0.0)
                if excess > 0.0:
                    drawn = payout_rate * excess
                    capital[i] -= drawn
                    part[c, 3] += drawn
                part[c, 0] += profit[i]
                part[c, 1] += fee[i] if i < fee.shape[0] else 0.0
                part[c, 2] += subsidy[i]
    total = totals.add_chunks(part)
    return total[0], total[1], total[2], total[3]


def _old_prices(q_sector, demand, base_price, elasticity, use_market, demand_mult, outside, cap):
    """sector_prices as numpy computed it before its kernel."""
    if not use_market:
        return base_price * demand_mult
    with np.errstate(divide="ignore"):
        ratio = np.where(q_sector > 0, demand * demand_mult / np.maximum(q_sector, 1e-300),
                         np.inf)
    local = ratio ** (1.0 / elasticity)
    away = outside * demand_mult ** (1.0 / elasticity)
    return base_price * np.minimum(cap, np.maximum(local, away))


def _old_market(d, n):
    """The market's month after employment as main computed it: numpy congestion, the output
    kernel, numpy prices, the accounts kernel, the settling kernel and numpy welfare sums.
    Returns (books, capital, per-firm outputs, localisation, wage_mult, rent_mult, price)."""
    n_sectors, n_regions = d["emp"].shape
    density = d["emp"].sum(axis=0) / d["emp0_region"]
    local = (np.maximum(d["emp"], 1e-12) / d["emp0"]) ** d["localisation_elasticity"]
    wage_mult = density ** d["wage_elasticity"]
    rent_mult = density ** d["rent_elasticity"]
    output = np.empty(n)
    q_sector = market._output(d["alive"], d["productivity"], d["talent"], d["employees"],
                              d["service"], d["effect"], d["level"], d["sector"], n_sectors,
                              d["region"], local, d["theta"], output)
    demand = d["demand0"] * d["demand_level"] * d["growth"]
    price = _old_prices(q_sector, demand, d["base_price"], d["elasticity"], d["use_market"],
                        d["demand_mult"], d["outside"], d["cap"])
    wage_index = d["wage_index"] * wage_mult
    land = d["land"] * d["land_mult"] * rent_mult
    capital = d["capital"].copy()
    per_firm = [np.empty(n) for _ in range(7)]
    market._accounts(d["alive"], d["region"], d["sector"], output, d["employees"], capital,
                     d["unit_input_cost"], price, d["access"], d["ipo"], d["wpo"],
                     d["waste_cost"], d["waste_mult"], d["wage"], wage_index, d["land"],
                     d["land_mult"] * rent_mult, d["transport_share"], d["between"], d["infra"],
                     d["fee"], d["fixed_cost"], d["interest_rate"], d["subsidy_share"],
                     d["coop_income"], d["service"], d["effect"], d["level"], d["theta"],
                     *per_firm)
    revenue, profit, _, _, subsidy, _, value_added = per_firm
    books = _old_settle(d["alive"], capital, profit, revenue, d["fee"], subsidy,
                        d["payout_rate"], d["buffer_months"])
    emp = np.where(d["alive"], d["employees"], 0.0)
    per_region = np.bincount(d["region"], weights=emp, minlength=n_regions)
    books += (value_added.sum(), per_region @ (d["wage"] * wage_index), per_region @ land)
    return books, capital, [output, *per_firm], local, wage_mult, rent_mult, price


def _new_market(d, n):
    """The same month through market._trade and the numpy sums market.step keeps."""
    args = _trade_args(dict(d, capital=d["capital"].copy()), n)
    books = market._trade(*args)
    per_firm, (local, wage_mult, rent_mult, price, regional) = list(args[-13:-5]), args[-5:]
    per_region, wage, land = regional
    books += (per_firm[-1].sum(), per_region @ wage, per_region @ land)
    return books, args[6], per_firm, local, wage_mult, rent_mult, price


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("shape", [(30, 2, 3), (2 * totals.CHUNK + 17, 4, 3), (200, 9, 1),
                                   (200, 3, 17)])
def test_trade_gives_the_former_market_to_the_bit(seed, shape):
    """The fused month (congestion, output, prices, accounts, settling, welfare) equals the
    numpy glue and kernels it replaces bit for bit: several chunks, one region with many sectors
    (numpy sums that column pairwise), many regions (BLAS dot products)."""
    n, n_sectors, n_regions = shape
    d = _trade_inputs(np.random.default_rng([seed, n]), n, n_sectors, n_regions)
    with np.errstate(all="ignore"):  # 0 ** -1 and the like, as a month might meet them
        old = _old_market(d, n)
    new = _new_market(d, n)
    assert new[0] == old[0]
    for got, want in zip(new[1:], old[1:], strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", SEEDS)
def test_trade_books_profit_and_sums_in_chunks_whatever_the_threads(seed):
    d = _trade_inputs(np.random.default_rng(seed), n=3 * market.CHUNK + 17)
    base = _trade_args(d, d["alive"].size)
    results = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        args = copy.deepcopy(base)
        old = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            results.append((market._trade(*args), args))
        finally:
            numba.set_num_threads(old)
    (books, args), (books_n, args_n) = results
    assert books == books_n  # bit-identical sums
    for a, b in zip(args, args_n, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", SEEDS)
def test_accounts_match_numpy(seed):
    d = _accounts_inputs(np.random.default_rng(seed))
    n = d["alive"].size
    args = _accounts_args(d, n)
    market._accounts(*args)
    revenue, profit, input_cost, waste_cost, subsidy, gap, va = args[-7:]
    r, s, q = d["region"], d["sector"], d["output"]
    rev = d["price"][s] * q * d["access"][r]
    inputs = q * d["ipo"][s] * d["unit_input_cost"]
    waste = q * d["wpo"][s] * d["waste_cost"] * d["waste_mult"][s]
    cut = d["effect"] * d["level"]
    paid_inputs = np.where(d["service"] == 1, inputs * (1 - cut), inputs)
    paid_waste = np.where(d["service"] == 2, waste * (1 - cut), waste)
    labour = d["wage"] * d["wage_index"][r] * d["employees"]
    rent = d["land"][r] * d["land_mult"][r] * d["employees"]
    transport = d["transport_share"] * rev * d["between"][r] * d["infra"][r]
    interest_due = np.maximum(-d["capital"], 0.0) * d["interest_rate"]
    subs = interest_due * d["subsidy_share"]
    prof = (rev - paid_inputs - paid_waste - labour - rent - transport - d["fee"]
            - d["fixed_cost"] - (interest_due - subs) + d["coop_income"])
    a = d["alive"]
    value_added = rev - paid_inputs - paid_waste - transport
    per_worker = labour / d["employees"] + rent / d["employees"]
    with np.errstate(divide="ignore", invalid="ignore"):
        want_gap = np.where(value_added > 0,
                            np.log(d["theta"] * value_added / (labour + rent)), -1.0)
    want_gap = np.clip(np.where(per_worker > 0, want_gap, -1.0), -1.0, 1.0)
    for got, want in ((revenue, rev), (profit, prof), (input_cost, inputs),
                      (waste_cost, waste), (subsidy, subs), (gap, want_gap),
                      (va, value_added)):
        np.testing.assert_allclose(got, np.where(a, want, 0.0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("length", [0, 11])
def test_short_facility_arrays_mean_no_facility(seed, length):
    """A month without an operating facility passes empty facility arrays (and a capacity grown
    since they were made, shorter ones): firms beyond their end use no facility and pay no fee,
    exactly as with arrays that say so."""
    rng = np.random.default_rng(seed)
    d = _accounts_inputs(rng)
    n = d["alive"].size
    none = dict(d, service=np.full(n, -1), effect=rng.uniform(0, 0.3, n),
                level=rng.uniform(0, 1, n), fee=np.zeros(n))
    short = dict(d, service=d["service"][:length], effect=d["effect"][:length],
                 level=d["level"][:length], fee=d["fee"][:length])
    full = dict(d)  # the first `length` firms as in `short`, the rest without a facility
    for key, blank in (("service", -1), ("effect", 0.0), ("level", 0.0), ("fee", 0.0)):
        full[key] = d[key].copy()
        full[key][length:] = blank
    want = none if length == 0 else full
    for kernel in (market._accounts, market._accounts.py_func):
        got, ref = _accounts_args(short, n), _accounts_args(want, n)
        kernel(*got)
        market._accounts(*ref)
        for a, b in zip(got[-7:], ref[-7:], strict=True):
            np.testing.assert_array_equal(a, b)
    alive, sector, region = d["alive"], d["sector"], d["region"]
    out_short, out_ref = np.empty(n), np.empty(n)
    local = np.ones((2, 3))
    totals = market._output(alive, d["output"], np.ones(n), d["employees"], short["service"],
                            short["effect"], short["level"], sector, 2, region, local, 0.7,
                            out_short)
    ref_totals = market._output(alive, d["output"], np.ones(n), d["employees"], want["service"],
                                want["effect"], want["level"], sector, 2, region, local, 0.7,
                                out_ref)
    np.testing.assert_array_equal(out_short, out_ref)
    np.testing.assert_array_equal(totals, ref_totals)
    trade = _trade_inputs(rng, n)
    facility = ("service", "effect", "level", "fee")
    got = _trade_args(dict(trade, capital=trade["capital"].copy(),
                           **{k: short[k] for k in facility}), n)
    ref = _trade_args(dict(trade, capital=trade["capital"].copy(),
                           **{k: want[k] for k in facility}), n)
    assert market._trade(*got) == market._trade(*ref)
    for a, b in zip(got, ref, strict=True):
        if a.__class__ is np.ndarray and a.shape == (n,):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", SEEDS)
def test_add_chunks_adds_in_chunk_order(seed):
    (part,) = _case_add_chunks(np.random.default_rng(seed))
    want = np.zeros(part.shape[1:], dtype=part.dtype)
    for c in range(part.shape[0]):  # the order of the additions, so the very bits
        want = want + part[c]
    got = totals.add_chunks(part)
    assert got.dtype == part.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [0, 50, 3 * totals.CHUNK + 11])  # none; one chunk; several
@pytest.mark.parametrize("value", [True, False])
def test_slots_where_is_flatnonzero(seed, n, value):
    mask = np.random.default_rng(seed).random(n) < 0.3
    want = np.flatnonzero(mask if value else ~mask)
    for build in (totals.slots_where, totals.slots_where.parallel, totals.slots_where.serial):
        np.testing.assert_array_equal(build(mask, value), want)


# --------------------------------------------------------------------------- demography


@pytest.mark.parametrize("seed", SEEDS)
def test_grow_matches_numpy(seed):
    args = _case_grow(np.random.default_rng(seed))
    (alive, emp, desired, capital, revenue, gap, prod, talent, talent_gap, sector, mean, sd_s, g,
     sd, beta, floor, cap, hire, borrow, extra, reversion, band, theta, talent_sd, learning,
     firm_id, key, month, out, new_prod) = args
    capital_before, desired_before, talent_before = capital.copy(), desired.copy(), talent.copy()
    talent_gap_before = talent_gap.copy()
    spent = demography._grow(*args)
    eps = np.array([_normal(key, month, streams.GROWTH, f) for f in firm_id])
    base = desired_before if band > 0 else emp  # the noise moves the desired size
    gap_base = gap + (theta - 1) * np.log(base / emp)  # the labour gap there
    spread = np.where(base > 1.0, sd * base ** -beta, sd) if beta > 0 else np.full(emp.size, sd)
    want = np.clip(base * np.exp(g * gap_base + spread * eps), floor, cap)
    # employment jumps to the desired size only beyond the band
    wanted = np.where(np.abs(np.log(want / emp)) <= band, emp, want) if band > 0 else want
    if hire > 0:  # hiring is financed: capital plus what the firm may borrow
        room = capital_before + (borrow + extra) * np.maximum(revenue, 0.0)
        affordable = emp + np.maximum(room, 0.0) / hire
        wanted = np.where(wanted > emp, np.maximum(np.minimum(wanted, affordable), emp), wanted)
    np.testing.assert_allclose(out, np.where(alive, wanted, emp), rtol=1e-12)
    np.testing.assert_allclose(desired, np.where(alive, want if band > 0 else wanted,
                                                 desired_before), rtol=1e-12)
    cost = np.where(alive & (out > emp), hire * (out - emp), 0.0)
    np.testing.assert_allclose(capital, capital_before - cost, rtol=1e-12, atol=1e-12)
    assert spent == pytest.approx(cost.sum(), rel=1e-10, abs=1e-12)
    # the productivity shock is the second normal of the growth draw's polar pair
    eta = np.array([streams.normal_pair(key, month, streams.GROWTH, int(f))[1] for f in firm_id])
    shock = sd_s[sector] * np.sqrt(reversion * (2 - reversion))
    moved = prod * np.exp(reversion * np.log(mean[sector] / prod) + shock * eta)
    np.testing.assert_allclose(new_prod, np.where(alive & (reversion > 0), moved, prod),
                               rtol=1e-12)
    zeta = np.array([_normal(key, month, streams.TALENT, f) for f in firm_id])
    learnt = learning * talent_gap_before  # the owner learns a share of its true talent
    np.testing.assert_allclose(talent_gap, np.where(alive, talent_gap_before - learnt,
                                                    talent_gap_before), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(talent, np.where(
        alive, talent_before * np.exp(learnt + talent_sd * zeta), talent_before), rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_exits_match_numpy(seed):
    args = _case_exits(np.random.default_rng(seed))
    (alive, profit, revenue, capital, extra, months, patience, streak, death, firm_id, key,
     month, leave) = args
    before = streak.copy()
    demography._exits(*args)
    expected_streak = np.where(alive, np.where(profit < 0, before + 1, 0), before)
    np.testing.assert_array_equal(streak, expected_streak)
    limit = (months + extra) * np.maximum(revenue, 0.0)
    u = np.array([streams.uniform4(key, month, streams.CLOSURE, f, 0)[0] for f in firm_id])
    closes = (u < death) if death > 0 else np.zeros(alive.size, dtype=bool)
    np.testing.assert_array_equal(
        leave, alive & ((expected_streak >= patience) | (capital < -limit) | closes))


@pytest.mark.parametrize("seed", SEEDS)
def test_firm_counts_match_bincount(seed):
    alive, sector, region, n_s, n_r = _case_firm_counts(np.random.default_rng(seed),
                                                        n=2 * totals.CHUNK + 5)
    expected = np.bincount(sector[alive] * n_r + region[alive], minlength=n_s * n_r)
    np.testing.assert_array_equal(demography.firm_counts(alive, sector, region, n_s, n_r),
                                  expected.reshape(n_s, n_r))


@pytest.mark.parametrize("seed", SEEDS)
def test_spinoffs_are_profitable_live_firms_drawn_with_their_probability(seed):
    args = _case_spinoffs(np.random.default_rng(seed))
    alive, profit, prob, firm_id, key, month, out = args
    demography._spinoffs(*args)
    u = np.array([streams.uniform4(key, month, streams.SPINOFF, f, 0)[0] for f in firm_id])
    np.testing.assert_array_equal(out, alive & (profit > 0) & (u < prob))
