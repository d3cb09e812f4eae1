"""Choice 2: choose and share suppliers; scale economies, an input market and joint purchasing.

Inputs come from local suppliers or from outside sources (traders, imports). A local supplier's
gate price is its base price times three factors (:func:`gate_prices`):

- scale economies, ``min(1, max(floor, (V/V_ref)^-eta))``: the more firms buy from one supplier
  the cheaper it gets for all, a positive feedback that concentrates purchases;
- the cost of the capacity in use beyond its supply base ``K0`` (``supplier_capacity`` times
  ``V_ref``): ``max(min(V, K)/K0, 1)^(1/epsilon)`` with ``K`` its installed capacity, so that
  in the long run, when capacity has followed the volume sold, local supply has the price
  elasticity ``epsilon`` (``supply_elasticity``) beyond the base;
- short-run crowding above installed capacity, ``max(V/K, 1)^2`` (supply curves are flat below
  capacity and steep above it: Boehm & Pandalainayar; Albino, Carbonara & Giannoccaro 2003).

Installed capacity enters and exits: each month it moves ``supplier_expansion`` of the way to
the volume sold, never below the supply base. ``V_ref`` is ``reference_volume`` times the mean
initial volume per supplier of the input, so prices do not depend on how many firms are
simulated. Traders enter freely: any quantity of an input can be bought from outside at its
base price times ``1 + import_cost`` (times the firm's region's between-region transport
multiplier and infrastructure factor), which bounds what local suppliers can charge.

Each month a firm reconsiders its source with
probability ``1 - loyalty`` (Kirman & Vriend 2001) and switches to the one with the lowest
delivered cost (gate price plus freight that grows with distance and with movement restrictions,
or the import price) if it saves at least ``switch_gain``. Trusted partners (trust both ways
above ``jp_trust_min``) buying the same input form joint-purchasing groups (connected components
of such ties); a group of at least ``jp_min_size`` firms buys from its most used source and gets
``jp_discount``, except members for whom that costs more than their own choice (a supplier past
its capacity).
"""

from __future__ import annotations

import numba
import numpy as np

from sim.core import graph, numerics, streams
from sim.core.numerics import np_max, numpy_power
from sim.core.parallel import parallel_kernel
from sim.core.state import SupplierState
from sim.core.totals import CHUNK, add_chunks
from sim.mechanisms.demography import place

__all__ = ["IMPORTED", "step", "gate_prices", "infra_factor", "setup", "set_reference_volumes",
           "update_volumes", "import_prices", "base_costs", "prices_and_costs",
           "input_indicators"]

#: ``firms.supplier`` of a firm that buys its input from outside (traders, imports); -1 is none
IMPORTED = -2


def infra_factor(infrastructure: np.ndarray, effect: float = 0.5) -> np.ndarray:
    """Transport cost multiplier of a region's infrastructure, ``1 + effect (0.5 - infra)``:
    1 at 0.5; at the default effect 0.5, 0.75 at 1 and 1.25 at 0."""
    return 1.0 + effect * (0.5 - np.asarray(infrastructure, dtype=np.float64))


def import_prices(world_arrays: dict, input_mult: np.ndarray) -> np.ndarray:
    """Price of each input from outside before the trade cost, float64[I]: its base price times
    any input price shock (infinite, no outside source, in a world built without
    ``input_price``)."""
    base = world_arrays.get("input_price")
    if base is None:
        return np.full(np.shape(input_mult), np.inf)
    return base * input_mult


def base_costs(sup, sp, input_mult: np.ndarray) -> np.ndarray:
    """Each supplier's unit cost at its base: base price, any input price shock and scale
    economies, without the dearer capacity or crowding; what it charges above this is its
    margin (suppliers' rent)."""
    return prices_and_costs(sup, sp, input_mult)[1]


def gate_prices(sup, sp, input_mult: np.ndarray) -> np.ndarray:
    """Price at each local supplier's gate from its smoothed volume ``V`` and installed
    capacity ``K``: scale economies (``(V / V_ref)^-eta`` within ``[floor, 1]``), the cost of
    the capacity in use beyond the supply base ``K0`` (``max(min(V, K) / K0, 1)^(1 /
    supply_elasticity)``) and short-run crowding above installed capacity
    (``max(V / K, 1)^2``)."""
    return prices_and_costs(sup, sp, input_mult)[0]


def prices_and_costs(sup, sp, input_mult: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`gate_prices` and :func:`base_costs` together (:func:`_prices_costs`): new arrays,
    float64[M] each."""
    ref, capacity = _reference_and_capacity(sup, sp)
    price = np.empty(sup.volume.shape[0])
    cost = np.empty(sup.volume.shape[0])
    _prices_costs(sup.volume, ref, capacity, sup.base_price, sup.input, input_mult,
                  sp.scale_elasticity, sp.price_floor, sp.supplier_capacity,
                  sp.supply_elasticity, price, cost)
    return price, cost


def _reference_and_capacity(sup, sp) -> tuple[np.ndarray, np.ndarray]:
    """Each supplier's reference volume and installed capacity: before
    :func:`set_reference_volumes` the reference volume is ``reference_volume``; without
    installed capacity (None) it is the supply base."""
    ref = sup.ref_volume if sup.ref_volume is not None else np.full(sup.n, sp.reference_volume)
    capacity = sup.capacity if sup.capacity is not None else sp.supplier_capacity * ref
    return ref, capacity


@numba.njit(cache=True, error_model="numpy")
def _prices_costs(volume, ref, capacity, base_price, sinput, input_mult, scale_elasticity,
                  price_floor, supplier_capacity, supply_elasticity, price, cost):
    """Each supplier's gate price and base cost (writes price and cost, float64[M]) from its
    smoothed volume, reference volume and installed capacity (float64[M] each), base price,
    input (int64[M]) and the input price shocks (float64[I]). One loop for what numpy computed
    as some twenty whole-array operations, with the same operations in the same order on each
    element: the scale factor ``(max(V, 1e-12) / V_ref)^-eta`` (inf when idle) clipped to
    ``[floor, 1]``; cost = base price * shock * scale; price = cost * dearer * crowding, the
    dearer capacity ``max(min(V, K) / K0, 1)^(1 / epsilon)`` with ``K0 = supplier_capacity *
    V_ref``, the crowding ``max(max(V, 1e-12) / K, 1)^2`` (powers as numpy's: :func:`numpy_power`;
    maxima, minima and the clip propagate NaN as numpy's do; numpy's error model: a division
    by zero gives inf or NaN, as it did)."""
    scale_exponent = -scale_elasticity
    dearer_exponent = 1.0 / supply_elasticity
    for k in range(volume.shape[0]):
        v = volume[k]
        held = np_max(v, 1e-12)
        scale = numpy_power(held / ref[k], scale_exponent) if v > 0 else np.inf
        if scale == scale:  # np.clip keeps NaN
            scale = scale if scale > price_floor else price_floor
            scale = scale if scale < 1.0 else 1.0
        c = base_price[k] * input_mult[sinput[k]] * scale
        # the dearest capacity in use sets the price: an idle supplier's is its base
        used = v if (v <= capacity[k] or v != v) else capacity[k]  # np.minimum
        dearer = numpy_power(np_max(used / (supplier_capacity * ref[k]), 1.0), dearer_exponent)
        crowding = numpy_power(np_max(held / capacity[k], 1.0), 2.0)
        price[k] = c * dearer * crowding
        cost[k] = c


@numba.njit(cache=True, error_model="numpy")
def _month_terms(sector, sector_input, input_price, input_mult, volume, ref, capacity,
                 base_price, sinput, scale_elasticity, price_floor, supplier_capacity,
                 supply_elasticity, finput, imports, price, cost):
    """What the month's choice needs, in one call: the input each firm buys, ``finput[i] =
    sector_input[sector[i]]`` (int64[N]); each input's price from outside before the trade cost,
    ``imports[c] = input_price[c] * input_mult[c]`` (inf for all without ``input_price``, None:
    :func:`import_prices`); the suppliers' gate prices and base costs (:func:`_prices_costs`).
    The same products as the numpy indexing and multiplication they replace."""
    for i in range(sector.shape[0]):
        finput[i] = sector_input[sector[i]]
    for c in range(imports.shape[0]):
        if input_price is None:
            imports[c] = np.inf
        else:
            imports[c] = input_price[c] * input_mult[c]
    _prices_costs(volume, ref, capacity, base_price, sinput, input_mult, scale_elasticity,
                  price_floor, supplier_capacity, supply_elasticity, price, cost)


@numba.njit(cache=True)
def _transport_mult(r, s, within_r, between_r, between_s):
    """Transport multiplier from region ``s`` to region ``r``: ``within_r`` in the same region,
    else the larger of the two regions' between-region multipliers. Scalars only: the branch
    sits here, so that a caller passing arrays (:func:`_delivered`) has none, and numba prunes
    the reference counting of its array arguments (a branching helper taking arrays costs
    some twenty reference-count calls per call)."""
    if s == r:
        return within_r
    return max(between_r, between_s)


@numba.njit(cache=True)
def _delivered(i, k, fx, fy, fregion, sx, sy, sregion, price, freight, within, between, infra):
    """Delivered cost per input unit from supplier ``k`` to firm ``i``: the gate price times
    ``1 + freight * distance * transport multiplier * infrastructure factor`` (multiplied in
    that order)."""
    dx = fx[i] - sx[k]
    dy = fy[i] - sy[k]
    dist = np.sqrt(dx * dx + dy * dy)
    r = fregion[i]
    s = sregion[k]
    mult = _transport_mult(r, s, within[r], between[r], between[s])
    return price[k] * (1.0 + freight * dist * mult * infra[r])


@numba.njit(cache=True)
def _imported(i, c, fregion, import_price, import_cost, between, infra):
    """Delivered cost of input ``c`` from outside to firm ``i``: the import price times
    ``1 + import_cost`` times its region's between-region multiplier and infrastructure."""
    r = fregion[i]
    return import_price[c] * (1.0 + import_cost * between[r] * infra[r])


@parallel_kernel
def _choose(alive, fx, fy, fregion, finput, current, loyalty, firm_id, key, month, sx, sy,
            sregion, by_input_start, by_input, price, freight, within, between, infra,
            import_price, import_cost, switch_gain, chosen, unit_cost):
    """Each firm's supplier and delivered unit cost this month.

    alive : bool[N]; fx, fy : float64[N]; fregion, finput, current : int64[N]
    loyalty : float, probability of not looking around this month (firms without a source, and
        firms whose source costs more than the traders' price, always look)
    firm_id : int64[N], key : uint64[2], month : int name the draws (block 0 of the
        ``SUPPLIER`` stream, drawn only for firms that have a source costing no more than the
        traders' price, and loyalty < 1)
    sx, sy : float64[M]; sregion : int64[M]; price : float64[M] gate prices
    by_input_start : int64[I+1], by_input : int64[M]: suppliers of input c are
        by_input[by_input_start[c]:by_input_start[c+1]]
    within, between : float64[R] transport multipliers; infra : float64[R]
    import_price : float64[I] price of each input from outside; import_cost : float, the trade
        cost (:func:`_imported`): the outside source is one more option, ``IMPORTED``, and
        a firm whose source costs more than it always looks
    Outputs chosen : int64[N] (a supplier, ``IMPORTED`` or -1), unit_cost : float64[N]
    (delivered cost per input unit).
    """
    n = alive.shape[0]
    for i in numba.prange(n):
        chosen[i] = current[i]
        unit_cost[i] = 0.0
        if not alive[i]:
            chosen[i] = -1
            continue
        c = finput[i]
        cur = current[i]
        imp = _imported(i, c, fregion, import_price, import_cost, between, infra)
        if cur >= 0:
            cur_cost = _delivered(i, cur, fx, fy, fregion, sx, sy, sregion, price, freight,
                                  within, between, infra)
        elif cur == -2:  # IMPORTED
            cur_cost = imp
        else:
            cur_cost = np.inf
        # a firm without a source, or paying more than the traders ask, always looks
        look = cur == -1 or cur_cost > imp
        if not look and loyalty < 1.0:
            u, _, _, _ = streams.uniform4(key, month, streams.SUPPLIER, firm_id[i], 0)
            look = u >= loyalty
        if look:
            best = -1
            best_cost = np.inf
            for a in range(by_input_start[c], by_input_start[c + 1]):
                k = by_input[a]
                d = _delivered(i, k, fx, fy, fregion, sx, sy, sregion, price, freight,
                               within, between, infra)
                if d < best_cost:
                    best_cost = d
                    best = k
            if imp < best_cost:
                best_cost = imp
                best = -2
            if best != -1 and (cur == -1 or best_cost < cur_cost * (1.0 - switch_gain)):
                chosen[i] = best
                cur_cost = best_cost
        unit_cost[i] = cur_cost


@parallel_kernel
def _input_totals(alive, output, sector, ipo, base_price, unit_cost, supplier):
    """Totals over live firms (in chunks: :mod:`sim.core.totals`) of the input used
    (``output * ipo[sector]``), what it cost (times ``unit_cost``), what it would have cost at
    the base price (times ``base_price[sector]``) and the input bought from outside
    (``supplier == IMPORTED``). float64[4]."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, 4))
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                used = output[i] * ipo[sector[i]]
                part[c, 0] += used
                part[c, 1] += used * unit_cost[i]
                part[c, 2] += used * base_price[sector[i]]
                if supplier[i] == -2:  # IMPORTED
                    part[c, 3] += used
    return add_chunks(part)


def input_indicators(firms, unit_cost, world_arrays: dict) -> tuple[float, float]:
    """The month's input price index and import share over live firms: what they paid per unit
    of input (delivered, after group discounts) over its base price, weighted by the input they
    used; and the share of that input bought from outside. NaN for both when no firm bought
    or the supplier phase did not run (``unit_cost`` None)."""
    if unit_cost is None or unit_cost.shape[0] != firms.capacity:
        return float("nan"), float("nan")
    used, paid, at_base, imported = _input_totals(
        firms.alive, firms.output, firms.sector, world_arrays["sector_ipo"],
        world_arrays["sector_input_price"], unit_cost, firms.supplier)
    if used <= 0.0 or at_base <= 0.0:
        return float("nan"), float("nan")
    return float(paid / at_base), float(imported / used)


def purchasing_groups(partner, back, trust, alive, finput, trust_min):
    """Connected components of ties trusted both ways at ``trust_min`` or above between firms
    buying the same input (:func:`sim.core.graph.components`, in parallel).

    Returns root : int64[N] (the lowest slot of each live firm's group, -1 for dead firms) and
    size : int64[N] (the size of each live firm's group, 0 for dead firms).
    """
    return graph.find_components(partner, None, (back, trust, float(trust_min), finput), alive)


@numba.njit(cache=True)
def _group_suppliers(root, supplier, members, n_suppliers):
    """For each member, its group's most used source (ties to the lowest code: ``IMPORTED``
    (-2), then "none" (-1), then suppliers by index). root : int64[N] group of each firm, its
    lowest slot; supplier : int64[N] (-2, -1 or a supplier);
    members : int64[M] ascending, whole groups (with each member, every firm of its group, so
    its root too: as :func:`_join_groups` lists them). Serial, O(M log G + G * S) with G
    groups and S suppliers, and nothing the size of the table. Returns int64[M]."""
    n_groups = 0
    for a in range(members.shape[0]):
        if root[members[a]] == members[a]:
            n_groups += 1
    roots = np.empty(n_groups, dtype=np.int64)  # ascending, as the members are
    n_groups = 0
    for a in range(members.shape[0]):
        if root[members[a]] == members[a]:
            roots[n_groups] = members[a]
            n_groups += 1
    gid = np.searchsorted(roots, root[members])  # each member's group, numbered by root
    # column 0: imported, 1: no supplier, 2..: suppliers
    counts = np.zeros((n_groups, n_suppliers + 2), dtype=np.int64)
    for a in range(members.shape[0]):
        counts[gid[a], supplier[members[a]] + 2] += 1
    best = np.empty(n_groups, dtype=np.int64)
    for g in range(n_groups):
        top = 0
        for c in range(1, n_suppliers + 2):
            if counts[g, c] > counts[g, top]:
                top = c
        best[g] = top - 2
    out = np.empty(members.shape[0], dtype=np.int64)
    for a in range(members.shape[0]):
        out[a] = best[gid[a]]
    return out


@parallel_kernel
def _join_groups(alive, root, size, min_size, jp_group, chosen, unit_cost, n_suppliers, fx, fy,
                 fregion, finput, sx, sy, sregion, price, freight, within, between, infra,
                 import_price, import_cost, pay):
    """Joint purchasing, in one pass over the firms. Members are the live firms whose group
    (root, size int64[N]: :func:`purchasing_groups`) has at least ``min_size`` firms:
    ``jp_group[i]`` is the root of member i's group, -1 for everyone else. Each member's group
    buys from its most used source (:func:`_group_suppliers`, on ``chosen`` as the month's
    choice left it); a member follows where that source's delivered cost (:func:`_delivered`,
    :func:`_imported`; inf without one) times ``pay`` (1 less the discount) is no dearer than
    its own ``unit_cost``, and then takes both in ``chosen`` and ``unit_cost``. Returns the
    number of members. The same comparisons on the same costs as the former members mask,
    group costs kernel and numpy selection, so the same bits; each member writes only its own
    elements, so any number of threads gives them too."""
    n = alive.shape[0]
    for i in numba.prange(n):
        jp_group[i] = root[i] if alive[i] and size[i] >= min_size else -1
    n_members = 0
    for i in range(n):
        if jp_group[i] >= 0:
            n_members += 1
    if n_members == 0:
        return 0
    members = np.empty(n_members, dtype=np.int64)  # ascending, whole groups
    a = 0
    for i in range(n):
        if jp_group[i] >= 0:
            members[a] = i
            a += 1
    group_source = _group_suppliers(root, chosen, members, n_suppliers)
    for a in numba.prange(n_members):
        i = members[a]
        k = group_source[a]
        cost = np.inf
        if k >= 0:
            cost = _delivered(i, k, fx, fy, fregion, sx, sy, sregion, price, freight, within,
                              between, infra)
        elif k == -2:  # IMPORTED
            cost = _imported(i, finput[i], fregion, import_price, import_cost, between, infra)
        cost = cost * pay
        # a group does not pile onto a supplier its volume has pushed past capacity
        if cost <= unit_cost[i]:
            chosen[i] = k
            unit_cost[i] = cost
    return n_members


def step(firms, ties, sup, world_arrays, mods, sp, use_groups: bool, key: np.ndarray,
         month: int) -> tuple[dict[str, float], np.ndarray]:
    """One month of supplier choice. Writes ``firms.supplier`` and ``firms.jp_group``; returns
    the books and each firm's delivered unit cost (money per input unit, after any discount).
    Draws are keyed by ``(key, month)`` (:mod:`sim.core.streams`).
    """
    n, m = firms.capacity, sup.volume.shape[0]
    finput = np.empty(n, dtype=np.int64)
    imports = np.empty(mods.input_price_mult.shape[0])
    sup.price, sup.cost = np.empty(m), np.empty(m)
    ref, capacity = _reference_and_capacity(sup, sp)
    _month_terms(firms.sector, world_arrays["sector_input"], world_arrays.get("input_price"),
                 mods.input_price_mult, sup.volume, ref, capacity, sup.base_price, sup.input,
                 sp.scale_elasticity, sp.price_floor, sp.supplier_capacity,
                 sp.supply_elasticity, finput, imports, sup.price, sup.cost)
    chosen = np.empty(n, dtype=np.int64)
    unit_cost = np.empty(n, dtype=np.float64)
    _choose(firms.alive, firms.x, firms.y, firms.region, finput, firms.supplier, sp.loyalty,
            firms.firm_id, key, month, sup.x, sup.y, sup.region,
            world_arrays["by_input_start"], world_arrays["by_input"], sup.price,
            sp.freight_per_km, mods.within_mult, mods.between_mult, world_arrays["infra_factor"],
            imports, sp.import_cost, sp.switch_gain, chosen, unit_cost)

    jp_members = 0
    if use_groups and ties is not None:
        root, size = purchasing_groups(ties.partner, ties.back, ties.trust, firms.alive, finput,
                                       sp.jp_trust_min - mods.jp_trust_shift)
        jp_members = int(_join_groups(
            firms.alive, root, size, sp.jp_min_size, firms.jp_group, chosen, unit_cost, sup.n,
            firms.x, firms.y, firms.region, finput, sup.x, sup.y, sup.region, sup.price,
            sp.freight_per_km, mods.within_mult, mods.between_mult, world_arrays["infra_factor"],
            imports, sp.import_cost, 1.0 - min(sp.jp_discount + mods.jp_discount_extra, 1.0)))
    else:
        firms.jp_group.fill(-1)
    firms.supplier = chosen
    return {"jp_members": jp_members}, unit_cost


@parallel_kernel
def _volumes(alive, supplier, output, sector, ipo, volume, memory, capacity, floor, expansion):
    """This month's volumes and what they leave: the input bought from each supplier (output
    times the sector's input per output, summed over live buyers in chunks:
    :mod:`sim.core.totals`), the smoothed volume ``memory * now + (1 - memory) * volume`` and,
    unless ``capacity`` is None, the installed capacity ``max(K + expansion * (V - K), floor)``
    (``floor`` float64[M], or None for 0) with ``V`` the new volume. Returns (now, volume,
    capacity) as new float64[M] arrays (capacity None without one). The whole-array numpy
    expressions it replaces, element by element in the same order."""
    n = alive.shape[0]
    m = volume.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, m))
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i] and supplier[i] >= 0:
                part[c, supplier[i]] += output[i] * ipo[sector[i]]
    now = add_chunks(part)
    smoothed = np.empty(m)
    for k in range(m):
        smoothed[k] = memory * now[k] + (1.0 - memory) * volume[k]
    if capacity is None:
        return now, smoothed, None
    installed = np.empty(m)
    for k in range(m):
        moved = capacity[k] + expansion * (smoothed[k] - capacity[k])
        if floor is None:
            installed[k] = np_max(moved, 0.0)
        else:
            installed[k] = np_max(moved, floor[k])
    return now, smoothed, installed


def update_volumes(firms, sup, sector_ipo: np.ndarray, memory: float,
                   expansion: float = 0.0) -> float:
    """Smooth each supplier's volume towards what its buyers used this month; installed
    capacity then moves the share ``expansion`` of the way to that volume (entry of capacity
    when it sells more, exit when it sells less), never below the supply base. Imports are
    not counted: traders' supply is perfectly elastic. Returns the suppliers' margin of the
    month: what they sold times their price above their base cost (:func:`base_costs`), before
    purchasing-group discounts; 0 before any price is set."""
    grow = expansion > 0.0 and sup.capacity is not None
    now, sup.volume, capacity = _volumes(
        firms.alive, firms.supplier, firms.output, firms.sector, sector_ipo, sup.volume, memory,
        sup.capacity if grow else None, sup.base_capacity, expansion)
    if grow:
        sup.capacity = capacity
    # BLAS (ndarray.dot, as `@` but with less overhead), whose order of additions a kernel
    # would have to copy
    return 0.0 if sup.cost is None else float(now.dot(sup.price - sup.cost))


def setup(sp, world, world_arrays: dict, world_size: float,
          rng: np.random.Generator) -> SupplierState:
    """``suppliers_per_input`` suppliers of each input, spread over the regions in turn, placed
    around their region's centre, each with a base price log-normally dispersed
    (``price_dispersion``) around its input's (the price of the sectors that buy it). Adds the
    suppliers of each input, in order, to ``world_arrays`` (``by_input``, ``by_input_start``),
    each input's base price (``input_price``, the price from outside before the trade cost)
    and the regions' transport factor (``infra_factor``, :func:`infra_factor` at
    ``infrastructure_effect``). Volumes are set once the firms exist
    (:func:`set_reference_volumes`)."""
    n_in, n_reg = len(world.inputs), len(world.regions)
    per = sp.suppliers_per_input
    input_code = np.repeat(np.arange(n_in), per)
    region = (np.arange(n_in * per) + input_code) % n_reg
    x, y = place(rng, region, world_arrays, world_size)
    base = np.zeros(n_in * per)
    input_price = np.zeros(n_in)
    for s in world.sectors:  # an input's base price is that of the sectors that buy it
        input_price[world.inputs.index(s.input)] = s.input_price
        base[input_code == world.inputs.index(s.input)] = s.input_price
    base *= numerics.exp(sp.price_dispersion * rng.standard_normal(base.size))
    world_arrays["input_price"] = input_price
    world_arrays["infra_factor"] = infra_factor(world.region_array("infrastructure"),
                                                sp.infrastructure_effect)
    sup = SupplierState(x=x, y=y, region=region.astype(np.int64),
                        input=input_code.astype(np.int64), base_price=base,
                        volume=np.ones(base.size), price=base.copy())
    order = np.argsort(input_code, kind="stable")
    world_arrays["by_input"] = order.astype(np.int64)
    world_arrays["by_input_start"] = np.concatenate(
        [[0], np.cumsum(np.bincount(input_code, minlength=n_in))]).astype(np.int64)
    return sup


def set_reference_volumes(sup, q_sector: np.ndarray, world_arrays: dict, sp,
                          n_inputs: int) -> None:
    """Suppliers' volumes, reference volumes and capacities from the initial firms' sector
    outputs ``q_sector`` [S]: each supplier starts at the mean volume per supplier of its input,
    and its reference volume is ``reference_volume`` times that mean, so that prices do not
    depend on how many firms are simulated."""
    wa = world_arrays
    by_input = np.bincount(wa["sector_input"], weights=q_sector * wa["sector_ipo"],
                           minlength=n_inputs)
    per = np.bincount(sup.input, minlength=n_inputs).astype(np.float64)
    mean_volume = np.where(by_input > 0, by_input / np.maximum(per, 1.0), 1.0)[sup.input]
    sup.ref_volume = sp.reference_volume * mean_volume
    sup.base_capacity = sp.supplier_capacity * sup.ref_volume
    sup.capacity = sup.base_capacity.copy()
    sup.volume = mean_volume.copy()
