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

from sim.core import numerics
from sim.core.month import NO_SERVICE, Month
from sim.core.numerics import np_max, np_min, numpy_power
from sim.core.parallel import parallel_kernel
from sim.core.totals import CHUNK, add_chunks

__all__ = ["MarketState", "step", "sector_output", "sector_prices", "congestion",
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


@numba.njit(cache=True, inline="always")
def _output_chunk(c, alive, productivity, talent, employees, service, effect, level, sector,
                  region, localisation, theta, out, part):
    """The output of the firms of chunk c (:func:`_output`) into ``out``, and their total by
    sector into ``part[c]``: the loop of :func:`_output` and :func:`_trade`."""
    for i in range(c * CHUNK, min(alive.shape[0], (c + 1) * CHUNK)):
        if alive[i]:
            boost = effect[i] * level[i] if _service_of(service, i) == 0 else 0.0
            labour = employees[i] if theta == 1.0 else employees[i] ** theta
            out[i] = (productivity[i] * talent[i] * (1.0 + boost)
                      * localisation[sector[i], region[i]] * labour)
            part[c, sector[i]] += out[i]
        else:
            out[i] = 0.0


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
        _output_chunk(c, alive, productivity, talent, employees, service, effect, level, sector,
                      region, localisation, theta, out, part)
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


@numba.njit(cache=True, error_model="numpy")
def _congestion_into(emp, emp_region, emp0, emp0_region, localisation_elasticity,
                     wage_elasticity, rent_elasticity, local, wage_mult, rent_mult):
    """:func:`congestion` into ``local`` [S, R], ``wage_mult`` and ``rent_mult`` [R], given the
    employment of each region ``emp_region`` (``emp.sum(axis=0)``, which numpy adds in an order
    that depends on the shape, so it comes from numpy). Each element is the numpy expression's
    own operations in its order, so the same bits."""
    for s in range(emp.shape[0]):
        for r in range(emp.shape[1]):
            local[s, r] = numpy_power(np_max(emp[s, r], 1e-12) / emp0[s, r],
                                 localisation_elasticity)
    for r in range(emp.shape[1]):
        density = emp_region[r] / emp0_region[r]
        wage_mult[r] = numpy_power(density, wage_elasticity)
        rent_mult[r] = numpy_power(density, rent_elasticity)


def congestion(emp: np.ndarray, emp0: np.ndarray, emp0_region: np.ndarray, mp
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Localisation factor a[S, R], wage and rent multipliers [R] from employment ``emp``
    (float64[S, R]) against the reference employment at the start (``emp0`` [S, R] and
    ``emp0_region`` [R], floored so that an empty start stays finite):
    ``a = (max(emp, 1e-12) / emp0)^lambda`` and ``(E_r / E0_r)^eta`` for wages and rents."""
    n_regions = emp.shape[1]
    local, wage_mult, rent_mult = np.empty(emp.shape), np.empty(n_regions), np.empty(n_regions)
    _congestion_into(emp, emp.sum(axis=0), emp0, emp0_region,
                     float(mp.localisation_elasticity), float(mp.wage_density_elasticity),
                     float(mp.rent_density_elasticity), local, wage_mult, rent_mult)
    return local, wage_mult, rent_mult


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
    q_firm = firms.productivity * firms.talent * numerics.power(firms.employees, theta)
    return sector_output(firms.alive, firms.sector, q_firm, n_sectors)


@numba.njit(cache=True, error_model="numpy")
def _prices_into(q_sector, demand, base_price, elasticity, use_market, demand_mult, outside,
                 cap, price):
    """:func:`sector_prices` into ``price`` (float64[S]): each element the numpy
    expression's own operations in its order (``np.where``, ``np.maximum``, ``np.minimum`` and
    ``**`` as numpy computes them: :func:`np_max`, :func:`numpy_power`), so the same bits."""
    inverse = 1.0 / elasticity
    for s in range(price.shape[0]):
        if not use_market:
            price[s] = base_price[s] * demand_mult[s]
            continue
        q = q_sector[s]
        ratio = demand[s] * demand_mult[s] / np_max(q, 1e-300) if q > 0 else np.inf
        local = numpy_power(ratio, inverse)
        # outside demand is iso-elastic too, and so large that the cluster takes its price: a
        # shock that scales it by m moves that price by m^(1/elasticity), as it moves the local one
        away = outside * numpy_power(demand_mult[s], inverse)
        price[s] = base_price[s] * np_min(cap, np_max(local, away))


def sector_prices(q_sector, demand, base_price, elasticity, use_market, demand_mult,
                  outside=0.0, cap=3.0):
    """Sector prices: the local inverse demand curve ``base (demand m / q)^(1/elasticity)``,
    never below the outside markets' price (``outside`` times the base) nor above ``cap`` times
    the base; the base price times the shock with the market off. Demand shocks
    (``demand_mult``, m) scale the demand of both markets, so both prices move by
    ``m^(1/elasticity)``."""
    price = np.empty(len(base_price))
    _prices_into(np.asarray(q_sector, dtype=np.float64), np.asarray(demand, dtype=np.float64),
                 np.asarray(base_price, dtype=np.float64), float(elasticity), bool(use_market),
                 np.asarray(demand_mult, dtype=np.float64), float(outside), float(cap), price)
    return price


@numba.njit(cache=True)
def _accounts_chunk(c, alive, region, sector, output, employees, capital, unit_input_cost,
                   price, access, ipo, wpo, waste_cost, waste_mult, wage, wage_index, land,
                   land_mult, transport_share, between, infra, fee, fixed_cost, interest_rate,
                   subsidy_share, coop_income, service, effect, level, theta, revenue, profit,
                   input_cost, waste_cost_out, subsidy, labour_gap, value_added_out):
    """The accounts of the firms of chunk c (zeros for a dead firm) in their elements of the
    outputs: the loop of :func:`_accounts` and :func:`_trade` (arguments as :func:`_accounts`)."""
    for i in range(c * CHUNK, min(alive.shape[0], (c + 1) * CHUNK)):
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
    for c in numba.prange((alive.shape[0] + CHUNK - 1) // CHUNK):
        _accounts_chunk(c, alive, region, sector, output, employees, capital, unit_input_cost,
                       price, access, ipo, wpo, waste_cost, waste_mult, wage, wage_index, land,
                       land_mult, transport_share, between, infra, fee, fixed_cost,
                       interest_rate, subsidy_share, coop_income, service, effect, level, theta,
                       revenue, profit, input_cost, waste_cost_out, subsidy, labour_gap,
                       value_added_out)


@parallel_kernel
def _trade(alive, region, sector, employees, productivity, talent, capital, unit_input_cost,
           coop_income, subsidy_share, service, effect, level, fee,
           emp, emp_region, emp0, emp0_region, localisation_elasticity, wage_elasticity,
           rent_elasticity, theta, demand0, demand_level, growth, base_price, elasticity,
           use_market, demand_mult, outside, cap,
           access, ipo, wpo, waste_cost, waste_mult, wage, wage_index, land, land_mult,
           transport_share, between, infra, fixed_cost, interest_rate, payout_rate,
           buffer_months,
           output, revenue, profit, input_cost, waste_cost_out, subsidy, labour_gap,
           value_added, localisation, wage_mult, rent_mult, price, regional):
    """The month's market once employment is counted, in one call: congestion
    (:func:`_congestion_into`), output (:func:`_output`), sector prices (:func:`_prices_into`,
    demand ``demand0 demand_level growth``), accounts (:func:`_accounts`), then each live
    firm's profit to its capital and its owners' drawing of ``payout_rate`` of the capital
    above ``buffer_months`` of revenue.

    Arguments as those functions take them; ``wage_index`` and ``land_mult`` are before
    congestion (the kernel applies ``wage_mult`` and ``rent_mult``). Writes the per-firm
    outputs, the market's ``localisation``, ``wage_mult``, ``rent_mult`` and ``price``, and
    ``regional`` [3, R]: the employment of live firms in each region (added in slot order, as
    ``np.bincount`` adds), and the wage and the land rent per worker there. Returns the totals
    of profit, fees, interest subsidy and drawings over live firms (in chunks:
    :mod:`sim.core.totals`).

    The same bits as the numpy steps and kernels it replaces: each element is computed by the
    same operations in the same order, the chunked totals add as those kernels added, and the
    sums whose order numpy chooses by shape (``emp.sum(axis=0)``, the welfare dot products and
    the total value added) stay in numpy (:func:`step`)."""
    n = alive.shape[0]
    n_sectors, n_regions = emp.shape
    n_chunks = (n + CHUNK - 1) // CHUNK
    _congestion_into(emp, emp_region, emp0, emp0_region, localisation_elasticity,
                     wage_elasticity, rent_elasticity, localisation, wage_mult, rent_mult)
    part = np.zeros((n_chunks, n_sectors))
    for c in numba.prange(n_chunks):
        _output_chunk(c, alive, productivity, talent, employees, service, effect, level, sector,
                      region, localisation, theta, output, part)
    q_sector = add_chunks(part)
    demand = np.empty(n_sectors)
    for s in range(n_sectors):
        demand[s] = demand0[s] * demand_level * growth
    _prices_into(q_sector, demand, base_price, elasticity, use_market, demand_mult, outside,
                 cap, price)
    congested_wage = np.empty(n_regions)
    congested_land = np.empty(n_regions)
    for r in range(n_regions):
        congested_wage[r] = wage_index[r] * wage_mult[r]
        congested_land[r] = land_mult[r] * rent_mult[r]
    books = np.zeros((n_chunks, 4))
    for c in numba.prange(n_chunks):
        _accounts_chunk(c, alive, region, sector, output, employees, capital, unit_input_cost,
                        price, access, ipo, wpo, waste_cost, waste_mult, wage, congested_wage,
                        land, congested_land, transport_share, between, infra, fee, fixed_cost,
                        interest_rate, subsidy_share, coop_income, service, effect, level, theta,
                        revenue, profit, input_cost, waste_cost_out, subsidy, labour_gap,
                        value_added)
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                capital[i] += profit[i]
                excess = capital[i] - buffer_months * max(revenue[i], 0.0)
                if excess > 0.0:
                    drawn = payout_rate * excess
                    capital[i] -= drawn
                    books[c, 3] += drawn
                books[c, 0] += profit[i]
                books[c, 1] += _fee_of(fee, i)
                books[c, 2] += subsidy[i]
    for r in range(n_regions):
        regional[0, r] = 0.0
        regional[1, r] = wage * congested_wage[r]
        regional[2, r] = land[r] * land_mult[r] * rent_mult[r]
    for i in range(n):
        if alive[i]:
            regional[0, region[i]] += employees[i]
    total = add_chunks(books)
    return total[0], total[1], total[2], total[3]


def step(model, state: MarketState, month: Month, t: int) -> dict[str, float]:
    """One month of production and trade (``t``: months since set-up, burn-in included).
    Updates output, revenue, profit and capital, the market's prices and congestion
    (``state``) and the month's labour gap, bills and interest subsidy (``month``); returns
    the month's books: profit, fees, interest subsidy and owners' drawings, and the value added
    and the wages and land rents paid (congestion and policy included; with profit, fees, fixed
    costs and interest they account for all value added: docs/ODD.md, welfare outcomes), all
    over live firms."""
    firms, mp, w = model.firms, model.params.market, model.world_arrays
    mods = model.mods
    n = firms.capacity
    n_sectors, n_regions = len(model.world.sectors), len(model.world.regions)
    # localisation economies and congestion, from where the workers are now
    emp = employment_by(firms, n_sectors, n_regions)
    unit_cost = month.unit_input_cost
    if unit_cost is None or unit_cost.shape[0] != n:
        unit_cost = w["sector_input_price"][firms.sector] * mods.input_price_mult[
            w["sector_input"][firms.sector]]
    input_cost, waste_cost, subsidy, gap = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    value_added, price = np.empty(n), np.empty(n_sectors)
    local, wage_mult, rent_mult = (np.empty((n_sectors, n_regions)), np.empty(n_regions),
                                   np.empty(n_regions))
    regional = np.empty((3, n_regions))
    # this month's facility use (sim.mechanisms.facilities): empty arrays when none operates
    profit, fees, subsidies, drawn = _trade(
        firms.alive, firms.region, firms.sector, firms.employees, firms.productivity,
        firms.talent, firms.capital, unit_cost, firms.coop_income, firms.interest_subsidy,
        month.facility_service, month.facility_effect, month.facility_level, month.facility_fee,
        emp, emp.sum(axis=0), state.emp0, state.emp0_region, float(mp.localisation_elasticity),
        float(mp.wage_density_elasticity), float(mp.rent_density_elasticity),
        mp.labour_elasticity, state.demand0, mp.demand_level, (1.0 + mp.demand_growth) ** t,
        w["sector_price"], float(mp.demand_elasticity), model.params.switches.market,
        mods.demand_mult, float(mp.outside_price), float(mp.price_cap),
        w["market_access"], w["sector_ipo"], w["sector_wpo"], mp.waste_cost, mods.waste_mult,
        mp.wage, w["wage_index"], w["land_cost"], mods.land_mult, mp.transport_share,
        mods.between_mult, w["infra_factor"], mp.fixed_cost, mp.interest_rate, mp.payout_rate,
        mp.capital_buffer_months,
        firms.output, firms.revenue, firms.profit, input_cost, waste_cost, subsidy, gap,
        value_added, local, wage_mult, rent_mult, price, regional)
    state.localisation, state.wage_mult, state.rent_mult = local, wage_mult, rent_mult
    state.sector_price = price
    month.input_cost = input_cost
    month.waste_cost = waste_cost
    month.interest_subsidy = subsidy
    month.labour_gap = gap
    per_region, wage, land = regional
    return {"profit": profit, "fees": fees, "interest_subsidy": subsidies, "payouts": drawn,
            "value_added": float(value_added.sum()), "wages": float(per_region @ wage),
            "land_rents": float(per_region @ land)}
