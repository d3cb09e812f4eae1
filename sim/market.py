"""Production, sector demand and prices, costs and profit.

Output is productivity times employment, raised by a productivity facility the firm uses:
``q_i = A_i (1 + e_f s_i) L_i``. Each sector faces a demand curve with constant elasticity,
so the price falls as the sector's output rises: ``P_s = P0_s min(cap, (D_s / Q_s)^(1/elasticity))``
with ``D_s`` the initial sector output times ``demand_level``, growing at ``demand_growth`` and
shifted by demand shocks. A firm receives its sector price times its region's market access and
pays for inputs (delivered from its supplier), waste disposal (untreated waste, unless a treatment
facility handles it), wages, land, transport to market (raised by movement restrictions,
lowered by infrastructure), facility fees, a fixed overhead and interest on debt (part of which
a credit policy may pay). Profit, plus the net money from cooperation, goes to capital.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.parallel import parallel_kernel
from sim.totals import CHUNK, add_chunks

__all__ = ["step", "sector_output", "PRICE_CAP"]

#: The sector price never exceeds this multiple of its base price (an empty market).
PRICE_CAP = 3.0


#: The facility arrays of a month in which no facility operates: no firm uses one.
NO_SERVICE = np.zeros(0, dtype=np.int64)
#: Their float arrays (effect, level, fee) in such a month.
NO_LEVEL = np.zeros(0)


@numba.njit(cache=True)
def _service_of(service, i):
    """The service type firm i gets from a facility, -1 for none (also beyond ``service``'s
    end: the facility arrays are empty in a month without an operating facility)."""
    return service[i] if i < service.shape[0] else -1


@numba.njit(cache=True)
def _fee_of(fee, i):
    """The facility fee firm i pays this month (0 beyond ``fee``'s end, as for no facility)."""
    return fee[i] if i < fee.shape[0] else 0.0


@parallel_kernel
def _output(alive, productivity, employees, service, effect, level, sector, n_sectors, out):
    """q_i = A_i (1 + effect_i * level_i [productivity service]) L_i into ``out`` (float64[N]);
    returns the total output of each sector, float64[S] (in chunks: :mod:`sim.totals`).

    The facility arrays ``service``, ``effect`` and ``level`` may be shorter than N (empty when
    no facility operates): a firm beyond their end uses no facility (:func:`_service_of`)."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, n_sectors))
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                boost = effect[i] * level[i] if _service_of(service, i) == 0 else 0.0
                out[i] = productivity[i] * (1.0 + boost) * employees[i]
                part[c, sector[i]] += out[i]
            else:
                out[i] = 0.0
    return add_chunks(part)


@parallel_kernel
def _settle(alive, capital, profit, fee, subsidy):
    """Add each live firm's profit to its capital; returns the totals of profit, fees and
    interest subsidy over live firms (in chunks: :mod:`sim.totals`). ``fee`` may be shorter than
    N: a firm beyond its end pays none."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, 3))
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                capital[i] += profit[i]
                part[c, 0] += profit[i]
                part[c, 1] += _fee_of(fee, i)
                part[c, 2] += subsidy[i]
    total = add_chunks(part)
    return total[0], total[1], total[2]


def sector_output(alive, sector, output, n_sectors) -> np.ndarray:
    """Total ``output`` per sector over live firms, float64[S], added as :func:`_output` adds
    (in chunks), so that set-up and step sums agree to the bit."""
    n = alive.shape[0]
    none = np.zeros(0)
    return _output(alive, np.asarray(output, dtype=np.float64), np.ones(n), NO_SERVICE, none,
                   none, sector, n_sectors, np.empty(n))


def sector_prices(q_sector, demand, base_price, elasticity, use_market, demand_mult):
    """Sector prices from the inverse demand curve (or the base price with the market off)."""
    if not use_market:
        return base_price * demand_mult
    with np.errstate(divide="ignore"):
        ratio = np.where(q_sector > 0, demand * demand_mult / np.maximum(q_sector, 1e-300),
                         np.inf)
    return base_price * np.minimum(PRICE_CAP, ratio ** (1.0 / elasticity))


@parallel_kernel
def _accounts(alive, region, sector, output, employees, capital, unit_input_cost, price,
              access, ipo, wpo, waste_cost, waste_mult, wage, wage_index, land, land_mult,
              transport_share, between, infra, fee, fixed_cost, interest_rate, subsidy_share,
              coop_income, service, effect, level,
              revenue, profit, input_cost, waste_cost_out, subsidy):
    """Per-firm revenue, costs and profit. Writes only element i of each output.

    Inputs are float64[N] per firm, float64[R] per region, float64[S] per sector, scalars
    otherwise. ``input_cost`` and ``waste_cost_out`` are the costs before any facility cut (what
    a facility could save); ``subsidy`` is the interest paid by the public. The facility arrays
    ``fee``, ``service``, ``effect`` and ``level`` may be shorter than N (see :func:`_output`).
    """
    n = alive.shape[0]
    for i in numba.prange(n):
        revenue[i] = 0.0
        profit[i] = 0.0
        input_cost[i] = 0.0
        waste_cost_out[i] = 0.0
        subsidy[i] = 0.0
        if not alive[i]:
            continue
        r = region[i]
        s = sector[i]
        q = output[i]
        rev = price[s] * q * access[r]
        inputs = q * ipo[s] * unit_input_cost[i]
        waste = q * wpo[s] * waste_cost * waste_mult[s]
        input_cost[i] = inputs
        waste_cost_out[i] = waste
        svc = _service_of(service, i)
        if svc == 1:
            inputs *= 1.0 - effect[i] * level[i]
        elif svc == 2:
            waste *= 1.0 - effect[i] * level[i]
        labour = wage * wage_index[r] * employees[i]
        rent = land[r] * land_mult[r] * employees[i]
        transport = transport_share * rev * between[r] * infra[r]
        interest = 0.0
        if capital[i] < 0.0:
            interest = -capital[i] * interest_rate
            subsidy[i] = interest * subsidy_share[i]
            interest -= subsidy[i]
        revenue[i] = rev
        profit[i] = (rev - inputs - waste - labour - rent - transport - _fee_of(fee, i)
                     - fixed_cost
                     - interest + coop_income[i])


def step(model, t: int) -> dict[str, float]:
    """One month of production and trade. Updates output, revenue, profit and capital."""
    firms, mp, w = model.firms, model.params.market, model.world_arrays
    mods, tmp = model.mods, model.tmp
    n = firms.capacity
    # this month's facility use (sim.facilities); empty arrays when no facility operates
    service = tmp.get("facility_service", NO_SERVICE)
    effect = tmp.get("facility_effect", NO_LEVEL)
    level = tmp.get("facility_level", NO_LEVEL)
    q_sector = _output(firms.alive, firms.productivity, firms.employees, service, effect, level,
                       firms.sector, len(model.world.sectors), firms.output)
    demand = model.demand0 * mp.demand_level * (1.0 + mp.demand_growth) ** t
    price = sector_prices(q_sector, demand, w["sector_price"], mp.demand_elasticity,
                          model.params.switches.market, mods.demand_mult)
    model.sector_price = price
    unit_cost = tmp.get("unit_input_cost")
    if unit_cost is None or unit_cost.shape[0] != n:
        unit_cost = w["sector_input_price"][firms.sector] * mods.input_price_mult[
            w["sector_input"][firms.sector]]
    fee = tmp.get("facility_fee", NO_LEVEL)
    input_cost = np.empty(n)
    waste_cost = np.empty(n)
    subsidy = np.empty(n)
    _accounts(firms.alive, firms.region, firms.sector, firms.output, firms.employees,
              firms.capital, unit_cost, price, w["market_access"], w["sector_ipo"],
              w["sector_wpo"], mp.waste_cost, mods.waste_mult, mp.wage, w["wage_index"],
              w["land_cost"], mods.land_mult, mp.transport_share, mods.between_mult,
              w["infra_factor"], fee, mp.fixed_cost, mp.interest_rate, firms.interest_subsidy,
              firms.coop_income, service, effect, level,
              firms.revenue, firms.profit, input_cost, waste_cost, subsidy)
    tmp["input_cost"] = input_cost
    tmp["waste_cost"] = waste_cost
    tmp["interest_subsidy"] = subsidy
    profit, fees, subsidies = _settle(firms.alive, firms.capital, firms.profit, fee, subsidy)
    return {"profit": float(profit), "fees": float(fees), "interest_subsidy": float(subsidies)}
