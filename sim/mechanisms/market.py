"""Production, sector demand and prices, local congestion, costs, profit and owners' drawings.

Output has decreasing returns to labour (the owner's span of control, Lucas 1978), raised by
localisation economies and by a productivity facility the firm uses:
``q_i = A_i T_i (1 + e_f s_i) a_sr L_i^theta``, with ``A_i`` the firm's efficiency (what
shocks, spillovers and training move), ``T_i`` its owner's talent (fixed at birth) and
``a_sr = (E_sr / E0_sr)^lambda`` (the sector's employment in the firm's region relative to the
start; Marshall's localisation economies, magnitude from Rosenthal & Strange 2004).

The cluster is open. Each sector sells into a local market with constant-elasticity demand,
``P_loc = P0 (D / Q)^(1/elasticity)`` (``D`` the initial sector output times ``demand_level``,
growing at ``demand_growth``), and into outside markets that take any quantity at
``outside_price`` times the base price; so
``P_s = P0 min(cap, max(outside m_s^(1/e), (D m_s / Q)^(1/e)))`` with ``m_s`` the demand
shocks. Extra output lowers the price only until the cluster exports;
beyond that it is sold outside, and the cost of getting it there (``transport_share`` of
revenue, raised by movement restrictions, lowered by infrastructure) is the trade cost.

Congestion balances agglomeration: a region's wage and land rent rise with its employment
relative to the start, ``w_r = w ix_r d_r^eta_w`` and ``rent_r = land_r d_r^eta_l`` with
``d_r = E_r / E0_r`` (Combes, Duranton & Gobillon 2008 for the size of the wage response).

A firm receives its sector price times its region's market access and pays for inputs
(delivered from its supplier), waste disposal (untreated waste, unless a treatment facility
handles it), wages, land, transport to market, facility fees, a fixed overhead and interest on
debt (part of which a credit policy may pay). Profit, plus the net money from cooperation, goes
to capital; owners draw ``payout_rate`` of the capital above a buffer of
``capital_buffer_months`` of revenue. The accounts also give each firm's labour gap,
``log(theta VA_i / (L_i w_i))``: the log of the marginal value product of a worker over what a
worker costs there, which drives growth (:mod:`sim.mechanisms.demography`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from sim.core.month import NO_SERVICE, Month
from sim.core.parallel import parallel_kernel
from sim.core.totals import CHUNK, add_chunks

__all__ = ["MarketState", "step", "welfare", "sector_output", "sector_prices", "congestion",
           "initial_output"]


@dataclass(slots=True)
class MarketState:
    """What the market keeps between months: the references of the start and this month's
    prices and congestion, which entry reads (:mod:`sim.mechanisms.demography`).

    Float64 arrays over sectors ``S`` and regions ``R``."""

    #: local demand at the base price, [S]: each sector's initial output
    demand0: np.ndarray
    #: employment of each sector in each region at the start, [S, R], and of each region, [R]
    #: (floored at a quarter of an even spread, so that an empty start stays finite)
    emp0: np.ndarray
    emp0_region: np.ndarray
    #: this month's sector prices, [S] (the base prices before the first month)
    sector_price: np.ndarray
    #: this month's localisation factor a_sr, [S, R], and wage and rent multipliers, [R]
    localisation: np.ndarray
    wage_mult: np.ndarray
    rent_mult: np.ndarray

    @classmethod
    def at_start(cls, firms, q_sector: np.ndarray, world_arrays: dict, n_sectors: int,
                 n_regions: int) -> MarketState:
        """The market of the initial firms, whose sector outputs are ``q_sector``
        (:func:`initial_output`): demand at the base price is what they make (so prices start
        near base), and congestion and localisation are measured against where they employ."""
        n = firms.n_alive
        mean_q = float(q_sector.sum() / max(n, 1)) if n else 1.0
        demand0 = np.where(q_sector > 0, q_sector, mean_q * world_arrays["sector_weight"])
        emp = employment_by(firms, n_sectors, n_regions)
        total = max(float(emp.sum()), 1.0)
        return cls(demand0=demand0,
                   emp0=np.maximum(emp, 0.25 * total / (n_sectors * n_regions)),
                   emp0_region=np.maximum(emp.sum(axis=0), 0.25 * total / n_regions),
                   sector_price=world_arrays["sector_price"].copy(),
                   localisation=np.ones((n_sectors, n_regions)),
                   wage_mult=np.ones(n_regions), rent_mult=np.ones(n_regions))


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
def _output(alive, productivity, talent, employees, service, effect, level, sector, n_sectors,
            region, localisation, theta, out):
    """q_i = A_i T_i (1 + effect_i * level_i [productivity service]) a[s_i, r_i] L_i^theta into
    ``out`` (float64[N]); returns the total output of each sector, float64[S] (in chunks:
    :mod:`sim.core.totals`).

    ``localisation`` is float64[S, R] (the localisation factor a_sr); ``theta`` the labour
    elasticity (1 skips the power). The facility arrays ``service``, ``effect`` and ``level``
    may be shorter than N (empty when no facility operates): a firm beyond their end uses no
    facility (:func:`_service_of`)."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, n_sectors))
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                boost = effect[i] * level[i] if _service_of(service, i) == 0 else 0.0
                labour = employees[i] if theta == 1.0 else employees[i] ** theta
                out[i] = (productivity[i] * talent[i] * (1.0 + boost)
                          * localisation[sector[i], region[i]] * labour)
                part[c, sector[i]] += out[i]
            else:
                out[i] = 0.0
    return add_chunks(part)


@parallel_kernel
def _employment(alive, sector, region, employees, n_sectors, n_regions):
    """Employment of each sector in each region over live firms, float64[S, R] (in chunks)."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, n_sectors, n_regions))
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                part[c, sector[i], region[i]] += employees[i]
    return add_chunks(part)


def employment_by(firms, n_sectors: int, n_regions: int) -> np.ndarray:
    """Employment of each sector in each region, float64[S, R]."""
    return _employment(firms.alive, firms.sector, firms.region, firms.employees, n_sectors,
                       n_regions)


def congestion(emp: np.ndarray, emp0: np.ndarray, emp0_region: np.ndarray, mp
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Localisation factor a[S, R], wage and rent multipliers [R] from employment ``emp``
    (float64[S, R]) against the reference employment at the start (``emp0`` [S, R] and
    ``emp0_region`` [R], floored so that an empty start stays finite)."""
    density = emp.sum(axis=0) / emp0_region
    local = np.maximum(emp, 1e-12) / emp0
    return (local ** mp.localisation_elasticity, density ** mp.wage_density_elasticity,
            density ** mp.rent_density_elasticity)


@parallel_kernel
def _settle(alive, capital, profit, revenue, fee, subsidy, payout_rate, buffer_months):
    """Add each live firm's profit to its capital, then let its owners draw ``payout_rate`` of
    the capital above ``buffer_months`` of revenue; returns the totals of profit, fees, interest
    subsidy and drawings over live firms (in chunks: :mod:`sim.core.totals`). ``fee`` may be shorter
    than N: a firm beyond its end pays none."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, 4))
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                capital[i] += profit[i]
                excess = capital[i] - buffer_months * max(revenue[i], 0.0)
                if excess > 0.0:
                    drawn = payout_rate * excess
                    capital[i] -= drawn
                    part[c, 3] += drawn
                part[c, 0] += profit[i]
                part[c, 1] += _fee_of(fee, i)
                part[c, 2] += subsidy[i]
    total = add_chunks(part)
    return total[0], total[1], total[2], total[3]


def sector_output(alive, sector, output, n_sectors) -> np.ndarray:
    """Total ``output`` per sector over live firms, float64[S], added as :func:`_output` adds
    (in chunks), so that set-up and step sums agree to the bit."""
    n = alive.shape[0]
    none = np.zeros(0)
    return _output(alive, np.asarray(output, dtype=np.float64), np.ones(n), np.ones(n),
                   NO_SERVICE, none,
                   none, sector, n_sectors, np.zeros(n, dtype=np.int64),
                   np.ones((n_sectors, 1)), 1.0, np.empty(n))


def initial_output(firms, theta: float, n_sectors: int) -> np.ndarray:
    """Output of each sector at set-up, float64[S]: ``A T L^theta`` summed over live firms
    (no localisation, facility or congestion yet)."""
    q_firm = firms.productivity * firms.talent * firms.employees ** theta
    return sector_output(firms.alive, firms.sector, q_firm, n_sectors)


def sector_prices(q_sector, demand, base_price, elasticity, use_market, demand_mult,
                  outside=0.0, cap=3.0):
    """Sector prices: the local inverse demand curve, never below the outside markets' price
    (``outside`` times the base) nor above ``cap`` times the base; the base price times the
    shock with the market off. Demand shocks (``demand_mult``) scale the demand of both markets,
    so both prices move by ``demand_mult^(1/elasticity)``."""
    if not use_market:
        return base_price * demand_mult
    with np.errstate(divide="ignore"):
        ratio = np.where(q_sector > 0, demand * demand_mult / np.maximum(q_sector, 1e-300),
                         np.inf)
    local = ratio ** (1.0 / elasticity)
    # outside demand is iso-elastic too, and so large that the cluster takes its price: a shock
    # that scales it by m moves that price by m^(1/elasticity), as it moves the local one
    away = outside * demand_mult ** (1.0 / elasticity)
    return base_price * np.minimum(cap, np.maximum(local, away))


@parallel_kernel
def _accounts(alive, region, sector, output, employees, capital, unit_input_cost, price,
              access, ipo, wpo, waste_cost, waste_mult, wage, wage_index, land, land_mult,
              transport_share, between, infra, fee, fixed_cost, interest_rate, subsidy_share,
              coop_income, service, effect, level, theta,
              revenue, profit, input_cost, waste_cost_out, subsidy, labour_gap, value_added_out):
    """Per-firm revenue, costs, profit, labour gap and value added. Writes only element i of
    each output.

    Inputs are float64[N] per firm, float64[R] per region (``wage_index`` and ``land_mult``
    include congestion), float64[S] per sector, scalars otherwise. ``input_cost`` and
    ``waste_cost_out`` are the costs before any facility cut (what a facility could save);
    ``subsidy`` is the interest paid by the public; ``labour_gap`` is
    ``log(theta VA / (L w))`` clipped to [-1, 1] (VA, ``value_added_out``: revenue less inputs,
    waste and transport, after any facility cut; w: wage plus rent per worker), -1 when value
    added is not positive. The facility arrays
    ``fee``, ``service``, ``effect`` and ``level`` may be shorter than N (see :func:`_output`).
    """
    n = alive.shape[0]
    for i in numba.prange(n):
        revenue[i] = 0.0
        profit[i] = 0.0
        input_cost[i] = 0.0
        waste_cost_out[i] = 0.0
        subsidy[i] = 0.0
        labour_gap[i] = 0.0
        value_added_out[i] = 0.0
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
        per_worker = wage * wage_index[r] + land[r] * land_mult[r]
        transport = transport_share * rev * between[r] * infra[r]
        interest = 0.0
        if capital[i] < 0.0:
            interest = -capital[i] * interest_rate
            subsidy[i] = interest * subsidy_share[i]
            interest -= subsidy[i]
        revenue[i] = rev
        value_added = rev - inputs - waste - transport
        value_added_out[i] = value_added
        profit[i] = (value_added - per_worker * employees[i] - _fee_of(fee, i) - fixed_cost
                     - interest + coop_income[i])
        gap = -1.0
        if value_added > 0.0 and employees[i] > 0.0 and per_worker > 0.0:
            gap = np.log(theta * value_added / (employees[i] * per_worker))
        labour_gap[i] = min(1.0, max(-1.0, gap))


def step(model, state: MarketState, month: Month, t: int) -> dict[str, float]:
    """One month of production and trade (``t``: months since set-up, burn-in included).
    Updates output, revenue, profit and capital, the market's prices and congestion
    (``state``) and the month's labour gap, bills and interest subsidy (``month``); returns
    the month's books."""
    firms, mp, w = model.firms, model.params.market, model.world_arrays
    mods = model.mods
    n = firms.capacity
    n_sectors, n_regions = len(model.world.sectors), len(model.world.regions)
    # this month's facility use (sim.mechanisms.facilities); empty arrays when no facility operates
    service, effect, level = month.facility_service, month.facility_effect, month.facility_level
    # localisation economies and congestion, from where the workers are now
    local, wage_mult, rent_mult = congestion(employment_by(firms, n_sectors, n_regions),
                                             state.emp0, state.emp0_region, mp)
    state.localisation, state.wage_mult, state.rent_mult = local, wage_mult, rent_mult
    q_sector = _output(firms.alive, firms.productivity, firms.talent, firms.employees, service,
                       effect, level,
                       firms.sector, n_sectors, firms.region, local, mp.labour_elasticity,
                       firms.output)
    demand = state.demand0 * mp.demand_level * (1.0 + mp.demand_growth) ** t
    price = sector_prices(q_sector, demand, w["sector_price"], mp.demand_elasticity,
                          model.params.switches.market, mods.demand_mult, mp.outside_price,
                          mp.price_cap)
    state.sector_price = price
    unit_cost = month.unit_input_cost
    if unit_cost is None or unit_cost.shape[0] != n:
        unit_cost = w["sector_input_price"][firms.sector] * mods.input_price_mult[
            w["sector_input"][firms.sector]]
    fee = month.facility_fee
    input_cost = np.empty(n)
    waste_cost = np.empty(n)
    subsidy = np.empty(n)
    gap = np.empty(n)
    value_added = np.empty(n)
    wage_index, land = w["wage_index"] * wage_mult, w["land_cost"] * mods.land_mult * rent_mult
    _accounts(firms.alive, firms.region, firms.sector, firms.output, firms.employees,
              firms.capital, unit_cost, price, w["market_access"], w["sector_ipo"],
              w["sector_wpo"], mp.waste_cost, mods.waste_mult, mp.wage,
              wage_index, w["land_cost"], mods.land_mult * rent_mult,
              mp.transport_share, mods.between_mult, w["infra_factor"], fee, mp.fixed_cost,
              mp.interest_rate, firms.interest_subsidy, firms.coop_income, service, effect,
              level, mp.labour_elasticity,
              firms.revenue, firms.profit, input_cost, waste_cost, subsidy, gap, value_added)
    month.input_cost = input_cost
    month.waste_cost = waste_cost
    month.interest_subsidy = subsidy
    month.labour_gap = gap
    profit, fees, subsidies, drawn = _settle(firms.alive, firms.capital, firms.profit,
                                             firms.revenue, fee, subsidy, mp.payout_rate,
                                             mp.capital_buffer_months)
    books = {"profit": float(profit), "fees": float(fees), "interest_subsidy": float(subsidies),
             "payouts": float(drawn)}
    books.update(welfare(firms.alive, firms.region, firms.employees, value_added,
                         mp.wage * wage_index, land))
    return books


def welfare(alive, region, employees, value_added, wage, land) -> dict[str, float]:
    """The month's value added and the wages and land rents paid, summed over live firms
    (``wage`` and ``land`` per worker in each region, float64[R], congestion and policy
    included). With profit, fees, fixed costs and interest they account for all value added
    (docs/ODD.md, welfare outcomes)."""
    emp = np.where(alive, employees, 0.0)
    per_region = np.bincount(region, weights=emp, minlength=wage.shape[0])
    return {"value_added": float(value_added.sum()),
            "wages": float(per_region @ wage), "land_rents": float(per_region @ land)}
