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

from sim.core import graph, streams
from sim.core.parallel import parallel_kernel
from sim.core.state import SupplierState
from sim.core.totals import CHUNK, add_chunks, slots_where
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


def _scale(sup, sp) -> tuple[np.ndarray, np.ndarray]:
    """Each supplier's reference volume and scale-economies factor."""
    ref = sup.ref_volume if sup.ref_volume is not None else np.full(sup.n, sp.reference_volume)
    with np.errstate(divide="ignore"):
        rel = np.maximum(sup.volume, 1e-12) / ref
        scale = np.where(sup.volume > 0, rel ** (-sp.scale_elasticity), np.inf)
    # scale economies only cut the price: a supplier below its reference volume (an idle one
    # too) charges its base price, so that a crowded supplier's buyers have somewhere to go
    return ref, np.clip(scale, sp.price_floor, 1.0)


def base_costs(sup, sp, input_mult: np.ndarray) -> np.ndarray:
    """Each supplier's unit cost at its base: base price, any input price shock and scale
    economies, without the dearer capacity or crowding; what it charges above this is its
    margin (suppliers' rent)."""
    return sup.base_price * input_mult[sup.input] * _scale(sup, sp)[1]


def gate_prices(sup, sp, input_mult: np.ndarray) -> np.ndarray:
    """Price at each local supplier's gate from its smoothed volume ``V`` and installed
    capacity ``K``: scale economies (``(V / V_ref)^-eta`` within ``[floor, 1]``), the cost of
    the capacity in use beyond the supply base ``K0`` (``max(min(V, K) / K0, 1)^(1 /
    supply_elasticity)``) and short-run crowding above installed capacity
    (``max(V / K, 1)^2``)."""
    return prices_and_costs(sup, sp, input_mult)[0]


def prices_and_costs(sup, sp, input_mult: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`gate_prices` and :func:`base_costs` together, the scale economies computed once
    (the gate price is the base cost times the dearer capacity and the crowding, multiplied in
    that order, so both are the same to the bit as apart)."""
    ref, scale = _scale(sup, sp)
    cost = sup.base_price * input_mult[sup.input] * scale
    base_capacity = sp.supplier_capacity * ref
    capacity = sup.capacity if sup.capacity is not None else base_capacity
    # the dearest capacity in use sets the price: an idle supplier's is its base
    used = np.minimum(sup.volume, capacity)
    dearer = np.maximum(used / base_capacity, 1.0) ** (1.0 / sp.supply_elasticity)
    crowding = np.maximum(np.maximum(sup.volume, 1e-12) / capacity, 1.0) ** 2
    return cost * dearer * crowding, cost


@numba.njit(cache=True)
def _delivered(i, k, fx, fy, fregion, sx, sy, sregion, price, freight, within, between, infra):
    dx = fx[i] - sx[k]
    dy = fy[i] - sy[k]
    dist = np.sqrt(dx * dx + dy * dy)
    r = fregion[i]
    if sregion[k] == r:
        mult = within[r]
    else:
        mult = max(between[r], between[sregion[k]])
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
        if cur >= 0:
            cur_cost = _delivered(i, cur, fx, fy, fregion, sx, sy, sregion, price, freight,
                                  within, between, infra)
        elif cur == -2:  # IMPORTED
            cur_cost = _imported(i, c, fregion, import_price, import_cost, between, infra)
        else:
            cur_cost = np.inf
        imp = _imported(i, c, fregion, import_price, import_cost, between, infra)
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


@parallel_kernel
def _inputs(sector, sector_input, out):
    """The input each firm buys, ``out[i] = sector_input[sector[i]]`` (int64[N])."""
    for i in numba.prange(sector.shape[0]):
        out[i] = sector_input[sector[i]]


@parallel_kernel
def _group_members(alive, root, size, min_size, group, member):
    """Joint-purchasing members: live firms whose group (root int64[N], size int64[N] from
    :func:`purchasing_groups`) has at least ``min_size`` firms. Writes ``member[i]`` (bool[N])
    and ``group[i]`` (int64[N]): the root of member i's group, -1 for everyone else."""
    for i in numba.prange(alive.shape[0]):
        member[i] = alive[i] and size[i] >= min_size
        group[i] = root[i] if member[i] else -1


@parallel_kernel
def _group_costs(members, gsup, fx, fy, fregion, finput, sx, sy, sregion, price, freight, within,
                 between, infra, import_price, import_cost, pay, unit_cost):
    """unit_cost[i] = ``pay`` times the delivered cost of the group source ``gsup[a]`` (a
    supplier, or ``IMPORTED``: :func:`_imported`) for each member ``i = members[a]`` (inf
    without one). Writes only the members' elements."""
    for a in numba.prange(members.shape[0]):
        i = members[a]
        k = gsup[a]
        cost = np.inf
        if k >= 0:
            cost = _delivered(i, k, fx, fy, fregion, sx, sy, sregion, price, freight, within,
                              between, infra)
        elif k == -2:  # IMPORTED
            cost = _imported(i, finput[i], fregion, import_price, import_cost, between, infra)
        unit_cost[i] = cost * pay


@numba.njit(cache=True)
def _group_suppliers(root, supplier, members, n_suppliers):
    """For each member, its group's most used source (ties to the lowest code: ``IMPORTED``
    (-2), then "none" (-1), then suppliers by index). root : int64[N] group of each firm, its
    lowest slot; supplier : int64[N] (-2, -1 or a supplier);
    members : int64[M] ascending, whole groups (with each member, every firm of its group, so
    its root too: as :func:`_group_members` lists them). Serial, O(M log G + G * S) with G
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


def step(firms, ties, sup, world_arrays, mods, sp, use_groups: bool, key: np.ndarray,
         month: int) -> tuple[dict[str, float], np.ndarray]:
    """One month of supplier choice. Writes ``firms.supplier`` and ``firms.jp_group``; returns
    the books and each firm's delivered unit cost (money per input unit, after any discount).
    Draws are keyed by ``(key, month)`` (:mod:`sim.core.streams`).
    """
    sup.price, sup.cost = prices_and_costs(sup, sp, mods.input_price_mult)
    imports = import_prices(world_arrays, mods.input_price_mult)
    n = firms.capacity
    finput = np.empty(n, dtype=np.int64)
    _inputs(firms.sector, world_arrays["sector_input"], finput)
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
        member = np.empty(n, dtype=np.bool_)
        _group_members(firms.alive, root, size, sp.jp_min_size, firms.jp_group, member)
        members = slots_where(member, True)
        if members.size:
            gsup = _group_suppliers(root, chosen, members, sup.n)
            # the group supplier's delivered cost, less the group discount; a member follows
            # its group only where that is no dearer than its own choice (a group does not
            # pile onto a supplier its volume has pushed past capacity)
            group_cost = unit_cost.copy()
            _group_costs(members, gsup, firms.x, firms.y, firms.region, finput, sup.x, sup.y,
                         sup.region, sup.price, sp.freight_per_km, mods.within_mult,
                         mods.between_mult, world_arrays["infra_factor"], imports,
                         sp.import_cost,
                         1.0 - min(sp.jp_discount + mods.jp_discount_extra, 1.0), group_cost)
            follow = group_cost[members] <= unit_cost[members]
            chosen[members] = np.where(follow, gsup, chosen[members])
            unit_cost[members] = np.where(follow, group_cost[members], unit_cost[members])
            jp_members = int(members.size)
    else:
        firms.jp_group.fill(-1)
    firms.supplier = chosen
    return {"jp_members": jp_members}, unit_cost


@parallel_kernel
def _volumes(alive, supplier, output, sector, ipo, n_suppliers):
    """Input bought from each supplier this month, float64[M]: output times the sector's input
    per output, summed over live buyers in chunks (:mod:`sim.core.totals`)."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, n_suppliers))
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i] and supplier[i] >= 0:
                part[c, supplier[i]] += output[i] * ipo[sector[i]]
    return add_chunks(part)


def update_volumes(firms, sup, sector_ipo: np.ndarray, memory: float,
                   expansion: float = 0.0) -> float:
    """Smooth each supplier's volume towards what its buyers used this month; installed
    capacity then moves the share ``expansion`` of the way to that volume (entry of capacity
    when it sells more, exit when it sells less), never below the supply base. Imports are
    not counted: traders' supply is perfectly elastic. Returns the suppliers' margin of the
    month: what they sold times their price above their base cost (:func:`base_costs`), before
    purchasing-group discounts; 0 before any price is set."""
    now = _volumes(firms.alive, firms.supplier, firms.output, firms.sector, sector_ipo, sup.n)
    margin = 0.0 if sup.cost is None else float(now @ (sup.price - sup.cost))
    sup.volume = memory * now + (1.0 - memory) * sup.volume
    if expansion > 0.0 and sup.capacity is not None:
        floor = sup.base_capacity if sup.base_capacity is not None else 0.0
        sup.capacity = np.maximum(sup.capacity + expansion * (sup.volume - sup.capacity), floor)
    return margin


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
    base *= np.exp(sp.price_dispersion * rng.standard_normal(base.size))
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
