"""The supplier phase's fused kernels give, to the bit, what the numpy formulations they replace
gave: prices and costs (:func:`sim.mechanisms.suppliers._prices_costs`, with numpy's shortcuts
for the exponents 2, 0.5 and -1), the month's volumes and capacities with the suppliers' margin
(:func:`sim.mechanisms.suppliers.update_volumes`) and the delivered cost of each supplier to
each firm (:func:`sim.mechanisms.suppliers._delivered`, its branch moved into a scalar helper).
The joint-purchasing kernel is checked against its numpy formulation in test_kernels.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.core.params import Params
from sim.core.state import FirmState, SupplierState
from sim.mechanisms import suppliers

SEEDS = range(6)


def _numpy_prices_and_costs(sup, sp, input_mult):
    """The numpy formulation the kernel replaced (version 0.5)."""
    ref = sup.ref_volume if sup.ref_volume is not None else np.full(sup.n, sp.reference_volume)
    with np.errstate(divide="ignore"):
        rel = np.maximum(sup.volume, 1e-12) / ref
        scale = np.where(sup.volume > 0, rel ** (-sp.scale_elasticity), np.inf)
    scale = np.clip(scale, sp.price_floor, 1.0)
    cost = sup.base_price * input_mult[sup.input] * scale
    base_capacity = sp.supplier_capacity * ref
    capacity = sup.capacity if sup.capacity is not None else base_capacity
    used = np.minimum(sup.volume, capacity)
    dearer = np.maximum(used / base_capacity, 1.0) ** (1.0 / sp.supply_elasticity)
    crowding = np.maximum(np.maximum(sup.volume, 1e-12) / capacity, 1.0) ** 2
    return cost * dearer * crowding, cost


def _numpy_update_volumes(firms, sup, sector_ipo, memory, expansion):
    """The numpy formulation of update_volumes the kernel replaced (version 0.5), the month's
    volumes as a bincount in firm order (the chunked sums add in the same order)."""
    buying = firms.alive & (firms.supplier >= 0)
    now = np.bincount(firms.supplier[buying], minlength=sup.n,
                      weights=(firms.output * sector_ipo[firms.sector])[buying])
    margin = 0.0 if sup.cost is None else float(now @ (sup.price - sup.cost))
    volume = memory * now + (1.0 - memory) * sup.volume
    capacity = sup.capacity
    if expansion > 0.0 and sup.capacity is not None:
        floor = sup.base_capacity if sup.base_capacity is not None else 0.0
        capacity = np.maximum(sup.capacity + expansion * (volume - sup.capacity), floor)
    return margin, volume, capacity


def _random_suppliers(rng, m=40, n_inputs=4):
    ref = rng.uniform(20, 200, m)
    volume = ref * np.exp(rng.normal(0, 1.5, m))
    volume[rng.random(m) < 0.1] = 0.0  # idle suppliers
    return SupplierState(x=rng.uniform(0, 50, m), y=rng.uniform(0, 50, m),
                         region=rng.integers(0, 3, m), input=rng.integers(0, n_inputs, m),
                         base_price=rng.uniform(0.5, 2.0, m), volume=volume, price=np.ones(m),
                         ref_volume=ref, capacity=ref * rng.uniform(0.5, 3.0, m),
                         base_capacity=ref * rng.uniform(0.5, 1.0, m))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("supply_elasticity", [0.5, 1.0, 2.0, 0.05, 3.7])
@pytest.mark.parametrize("scale_elasticity", [0.0, 0.15, 0.9])
def test_prices_and_costs_equal_the_numpy_formulation(seed, supply_elasticity, scale_elasticity):
    rng = np.random.default_rng(seed)
    sup = _random_suppliers(rng)
    sp = Params().replace(supply_elasticity=supply_elasticity, scale_elasticity=scale_elasticity,
                          price_floor=float(rng.uniform(0, 1)),
                          supplier_capacity=float(rng.uniform(0.5, 2))).suppliers
    mult = rng.uniform(0.8, 1.3, 4)
    for s in (sup, dataclasses.replace(sup, capacity=None),
              dataclasses.replace(sup, capacity=None, ref_volume=None)):
        got = suppliers.prices_and_costs(s, sp, mult)
        want = _numpy_prices_and_costs(s, sp, mult)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("expansion", [0.0, 0.05])
def test_update_volumes_equals_the_numpy_formulation(seed, expansion):
    rng = np.random.default_rng(seed)
    sup = _random_suppliers(rng)
    n = 300
    firms = FirmState.empty(n)
    firms.alive[:] = rng.random(n) < 0.9
    firms.supplier[:] = rng.integers(-2, sup.n, n)
    firms.output[:] = rng.uniform(0, 50, n)
    firms.sector[:] = rng.integers(0, 3, n)
    ipo = rng.uniform(0.1, 0.6, 3)
    sp = Params().suppliers
    for s in (sup, dataclasses.replace(sup, base_capacity=None),
              dataclasses.replace(sup, capacity=None)):
        s.price, s.cost = suppliers.prices_and_costs(s, sp, np.ones(4))
        want = _numpy_update_volumes(firms, s, ipo, 0.4, expansion)
        margin = suppliers.update_volumes(firms, s, ipo, 0.4, expansion)
        assert margin == want[0]
        np.testing.assert_array_equal(s.volume, want[1])
        if want[2] is None:
            assert s.capacity is None
        else:
            np.testing.assert_array_equal(s.capacity, want[2])


@pytest.mark.parametrize("seed", SEEDS)
def test_delivered_equals_the_dense_numpy_formula(seed):
    rng = np.random.default_rng(seed)
    n, m, n_regions = 50, 12, 3
    fx, fy, sx, sy = (rng.uniform(0, 50, k) for k in (n, n, m, m))
    fregion, sregion = rng.integers(0, n_regions, n), rng.integers(0, n_regions, m)
    price = rng.uniform(0.5, 3.0, m)
    within, between, infra = (rng.uniform(0.5, 3.0, n_regions) for _ in range(3))
    freight = float(rng.uniform(0.001, 0.02))
    dx, dy = fx[:, None] - sx[None, :], fy[:, None] - sy[None, :]
    dist = np.sqrt(dx * dx + dy * dy)
    r = fregion[:, None]
    mult = np.where(r == sregion[None, :], within[r],
                    np.maximum(between[r], between[sregion][None, :]))
    want = price[None, :] * (1.0 + freight * dist * mult * infra[r])
    got = np.array([[suppliers._delivered(i, k, fx, fy, fregion, sx, sy, sregion, price, freight,
                                          within, between, infra) for k in range(m)]
                    for i in range(n)])
    np.testing.assert_array_equal(got, want)


def test_prices_and_costs_equal_numpy_at_the_edges():
    # NaN, zero and infinite volumes, a zero reference volume and zero capacity: the kernel
    # propagates NaN and divides by zero as numpy did
    rng = np.random.default_rng(3)
    sup = _random_suppliers(rng, m=8)
    sup.volume[:4] = [np.nan, 0.0, np.inf, 1e-300]
    sup.ref_volume[4] = 0.0
    sup.capacity[5] = 0.0
    sp = Params().replace(supply_elasticity=2.0).suppliers
    got = suppliers.prices_and_costs(sup, sp, np.ones(4))
    with np.errstate(all="ignore"):
        want = _numpy_prices_and_costs(sup, sp, np.ones(4))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("outside", [True, False])
def test_month_terms_equal_indexing_import_prices_and_prices(seed, outside):
    rng = np.random.default_rng(seed)
    sup = _random_suppliers(rng)
    sp = Params().suppliers
    mult = rng.uniform(0.8, 1.3, 4)
    sector, sector_input = rng.integers(0, 5, 200), rng.integers(0, 4, 5)
    world = {"input_price": rng.uniform(0.5, 2.0, 4)} if outside else {}
    finput, imports = np.empty(200, dtype=np.int64), np.empty(4)
    price, cost = np.empty(sup.n), np.empty(sup.n)
    suppliers._month_terms(sector, sector_input, world.get("input_price"), mult, sup.volume,
                           sup.ref_volume, sup.capacity, sup.base_price, sup.input,
                           sp.scale_elasticity, sp.price_floor, sp.supplier_capacity,
                           sp.supply_elasticity, finput, imports, price, cost)
    np.testing.assert_array_equal(finput, sector_input[sector])
    np.testing.assert_array_equal(imports, suppliers.import_prices(world, mult))
    want = _numpy_prices_and_costs(sup, sp, mult)
    np.testing.assert_array_equal(price, want[0])
    np.testing.assert_array_equal(cost, want[1])
