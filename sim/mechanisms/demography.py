"""Growth, exit, entry and location choice.

Growth. Employment moves towards the size at which a worker is worth what it costs, with
proportional noise (Gibrat's law): ``log L' = log L + g * gap + sigma * eps``, where ``gap`` is the
log of the marginal value product of labour over the cost of a worker (:mod:`sim.mechanisms.market`;
with decreasing returns it falls as the firm grows), bounded below by a reflecting floor
``min_size`` (which, with a downward drift, gives a Pareto tail: Gabaix 1999) and above by
``max_size``. Growth is financed: each new worker costs ``hire_cost`` of capital, and a firm may
borrow only up to ``borrow_months`` of revenue (more under a credit guarantee). Productivity takes a
shock each month and returns slowly to its sector's mean (an AR(1) in logs), so it can fall as well
as rise.

Exit. A firm leaves after ``exit_patience`` consecutive months of losses, or at once when its
debt exceeds ``debt_limit_months`` of revenue (plus any months a credit guarantee adds), or
for reasons of its owner's own (retirement, illness, a job elsewhere) at ``death_rate``.

Entry and location. Profitable firms spin off new firms of their sector in their region
(Arthur 1990: a spin-off "copies" its parent's location). Outside entrants arrive at a rate
proportional to the number of firms and choose a sector by its price (relative to the base)
and a region by its attractiveness, a logit on the log number of firms of the sector already
there (increasing returns), suppliers of its input, operating facilities serving it, market
access and land cost (Bottazzi, Dosi, Fagiolo & Secchi 2007). Two textbook limits are built in:
``entry_mode = "copy"`` (each entrant copies the region and sector of a uniformly random firm:
a Polya urn, whose regional shares converge to a Dirichlet law) and ``"dartboard"`` (regions
drawn with fixed probabilities, no spillovers: Ellison & Glaeser's null, E[gamma] = 0).
"""

from __future__ import annotations

import numba
import numpy as np

from sim.core import numerics, streams
from sim.core.numerics import numpy_power
from sim.core.parallel import parallel_kernel
from sim.core.totals import CHUNK, add_chunks, slots_where

__all__ = ["grow", "exits", "entry", "admit", "viable", "firm_counts", "place"]


@parallel_kernel
def _grow(alive, employees, desired, capital, revenue, labour_gap, productivity, talent,
          talent_gap, sector, sector_mean, sector_sd, sensitivity, sd, sd_elasticity, floor, cap,
          hire_cost, borrow_months, debt_extra_months, reversion, band, theta, talent_sd,
          learning, firm_id, key, month, out, new_productivity):
    """New employment, desired size, productivity and talent; returns the capital spent on
    hiring (in chunks). Writes only element i of ``out``, ``new_productivity``, ``desired``,
    ``talent``, ``talent_gap`` and ``capital``.

    The desired size ``D`` (float64[N]) follows the labour gap at ``D`` with proportional noise:
    ``D' = D exp(g gap_D + sd D^-sd_elasticity eps)`` within [floor, cap] (the noise's spread falls
    with size when ``sd_elasticity`` > 0), where ``gap_D = gap + (theta - 1) log(D / L)`` is the
    labour gap of :mod:`sim.mechanisms.market` (float64[N], at the employment ``L``) moved to ``D``
    under the labour elasticity ``theta``. Employment jumps to ``D'`` when ``|log(D' / L)| > band``
    and stays put otherwise (lumpy adjustment); with ``band = 0`` it follows ``D'`` every month and
    ``D`` is ``L``. Growth beyond the current size is financed: each new worker costs ``hire_cost``
    from capital, which may go down to minus
    ``borrow_months`` (plus ``debt_extra_months[i]`` under a guarantee) of revenue.
    Productivity, an AR(1) in logs around the sector's mean ``sector_mean`` (float64[S]):
    ``log A' = log A + reversion (log mean - log A) + sigma_s eta`` with ``sigma_s =
    sector_sd[s] sqrt(reversion (2 - reversion))``, the shock that keeps the stationary spread
    of log A at ``sector_sd``. Talent: the owner learns the share ``learning`` of what is left
    of ``talent_gap`` (float64[N], the log of true over shown talent, drawn at birth: Jovanovic
    1982) each month, and takes a permanent shock: ``log T' = log T + learning talent_gap +
    talent_sd zeta``. eps and eta are the pair of independent standard normals of the
    ``GROWTH`` stream (:func:`sim.core.streams.normal_pair`), zeta a standard normal of the
    ``TALENT`` stream (:func:`sim.core.streams.normal`).
    """
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, 1))
    band_up = np.exp(band)
    root = np.sqrt(reversion * (2.0 - reversion))  # the same for every firm: computed once
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            out[i] = employees[i]
            new_productivity[i] = productivity[i]
            if not alive[i]:
                continue
            # the growth noise and the productivity shock: one pair of independent normals
            eps, eta = streams.normal_pair(key, month, streams.GROWTH, firm_id[i])
            base = employees[i]
            gap = labour_gap[i]
            if band > 0.0 and desired[i] > 0.0 and base > 0.0:
                gap += (theta - 1.0) * np.log(desired[i] / base)
                base = desired[i]
            spread = sd
            if sd_elasticity > 0.0 and base > 1.0:
                spread = sd * base ** -sd_elasticity
            want = base * np.exp(sensitivity * gap + spread * eps)
            if want < floor:
                want = floor
            elif want > cap:
                want = cap
            size = want
            # within the band (|ln(want / L)| <= band, written without logs): no change
            if (band > 0.0 and employees[i] > 0.0 and want <= employees[i] * band_up
                    and want * band_up >= employees[i]):
                size = employees[i]
            if size > employees[i] and hire_cost > 0.0:
                room = capital[i] + (borrow_months + debt_extra_months[i]) * max(revenue[i], 0.0)
                affordable = employees[i] + max(room, 0.0) / hire_cost
                if size > affordable:
                    size = max(affordable, employees[i])
                spent = hire_cost * (size - employees[i])
                capital[i] -= spent
                part[c, 0] += spent
            out[i] = size
            desired[i] = want if band > 0.0 else size
            if reversion > 0.0 and productivity[i] > 0.0:
                s = sector[i]
                pull = reversion * np.log(sector_mean[s] / productivity[i])
                shock = sector_sd[s] * root
                new_productivity[i] = productivity[i] * np.exp(pull + shock * eta)
            if learning > 0.0 and talent_gap[i] != 0.0:
                learnt = learning * talent_gap[i]
                talent_gap[i] -= learnt
                talent[i] *= np.exp(learnt)
            if talent_sd > 0.0:
                zeta = streams.normal(key, month, streams.TALENT, firm_id[i])
                talent[i] *= np.exp(talent_sd * zeta)
    return add_chunks(part)[0]


def grow(firms, dp, labour_gap: np.ndarray, sector_mean: np.ndarray, sector_sd: np.ndarray,
         theta: float, key: np.ndarray, month: int) -> float:
    """Employment follows the desired size, which follows the labour gap with proportional
    noise, in lumps when ``adjustment_band`` > 0; hiring is financed from capital or credit;
    productivity and talent take their shocks (in place). ``theta`` is the labour elasticity
    of output. The noise is keyed by ``(key, month)`` (:mod:`sim.core.streams`). Returns the
    capital spent on hiring."""
    out = np.empty_like(firms.employees)
    prod = np.empty_like(firms.productivity)
    spent = _grow(firms.alive, firms.employees, firms.desired, firms.capital, firms.revenue,
                  labour_gap, firms.productivity, firms.talent, firms.talent_gap, firms.sector,
                  sector_mean, sector_sd, dp.growth_sensitivity, dp.growth_sd,
                  dp.growth_sd_size_elasticity, dp.min_size, dp.max_size, dp.hire_cost,
                  dp.borrow_months, firms.debt_extra_months, dp.productivity_reversion,
                  dp.adjustment_band, theta, dp.talent_sd, dp.talent_learning, firms.firm_id, key,
                  month, out, prod)
    firms.employees = out
    firms.productivity = prod
    return float(spent)


@parallel_kernel
def _spinoffs(alive, profit, prob, firm_id, key, month, out):
    """out[i] = live, profitable firm i spins off a firm this month (probability ``prob``, block
    0 of the ``SPINOFF`` stream). bool[N] output."""
    n = alive.shape[0]
    for i in numba.prange(n):
        out[i] = False
        if alive[i] and profit[i] > 0.0:
            u, _, _, _ = streams.uniform4(key, month, streams.SPINOFF, firm_id[i], 0)
            out[i] = u < prob


@parallel_kernel
def _exits(alive, profit, revenue, capital, debt_extra_months, debt_limit_months, patience,
           loss_streak, death_rate, firm_id, key, month, leave):
    """Count each live firm's months of losses in a row and flag those that leave: after
    ``patience`` such months, when debt exceeds ``debt_limit_months`` (plus the firm's
    ``debt_extra_months``) of revenue, or, with probability ``death_rate``, for reasons of the
    owner's own (block 0 of the ``CLOSURE`` stream). Writes only element i of ``loss_streak``
    and ``leave``."""
    n = alive.shape[0]
    for i in numba.prange(n):
        leave[i] = False
        if not alive[i]:
            continue
        if profit[i] < 0.0:
            loss_streak[i] += 1
        else:
            loss_streak[i] = 0
        limit = (debt_limit_months + debt_extra_months[i]) * max(revenue[i], 0.0)
        leave[i] = loss_streak[i] >= patience or capital[i] < -limit
        if death_rate > 0.0 and not leave[i]:
            u, _, _, _ = streams.uniform4(key, month, streams.CLOSURE, firm_id[i], 0)
            leave[i] = u < death_rate


def exits(firms, dp, key: np.ndarray, month: int) -> np.ndarray:
    """Slots of firms that leave this month (sustained losses, too much debt, or the owner's
    own reasons at ``death_rate``); the last draw is keyed by ``(key, month)``."""
    leave = np.empty(firms.capacity, dtype=np.bool_)
    _exits(firms.alive, firms.profit, firms.revenue, firms.capital, firms.debt_extra_months,
           dp.debt_limit_months, dp.exit_patience, firms.loss_streak, dp.death_rate,
           firms.firm_id, key, month, leave)
    return slots_where(leave, True)


@parallel_kernel
def _age(alive, age):
    """Live firms grow one month older (int64[N] ``age``, in place)."""
    for i in numba.prange(alive.shape[0]):
        if alive[i]:
            age[i] += 1


def age(firms) -> None:
    """Every live firm grows one month older."""
    _age(firms.alive, firms.age)


def place(rng: np.random.Generator, region_codes: np.ndarray, world_arrays: dict,
          world_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Locations around each region's centre (normal with the region's radius), in the map."""
    n = region_codes.size
    x = world_arrays["region_x"][region_codes] + rng.standard_normal(n) * world_arrays[
        "region_radius"][region_codes]
    y = world_arrays["region_y"][region_codes] + rng.standard_normal(n) * world_arrays[
        "region_radius"][region_codes]
    return np.clip(x, 0.0, world_size), np.clip(y, 0.0, world_size)


def _logit_choice(utility: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise draws from softmax(utility) by inverse CDF. utility: [n, R], u: [n]."""
    z = utility - utility.max(axis=1, keepdims=True)
    p = np.exp(z)
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    choice = (cdf < u[:, None]).sum(axis=1)
    return np.minimum(choice, utility.shape[1] - 1)


@numba.njit(cache=True)
def _inverse_cdf(utility, rows, u, out):
    """out[a] = how many entries of the normalised cumulative sum of the weights ``exp(utility[
    rows[a]] - its maximum)`` (float64[m, K], int64[n]) lie below ``u[a]`` (float64[n]), at most
    K - 1: the inverse CDF of the softmax. Each row's weights are computed once, its maximum
    as numpy's (a NaN wins), its exp numpy's bits (numba's exp gives them), summed and
    normalised as numpy's ``cumsum`` and division do, so the draws are
    :func:`_logit_choice`'s."""
    m, k = utility.shape
    p = np.empty((m, k))
    ready = np.zeros(m, dtype=np.bool_)
    cdf = np.empty(k)
    for a in range(u.shape[0]):
        row = rows[a]
        if not ready[row]:
            top = utility[row, 0]
            for j in range(1, k):
                if utility[row, j] > top or utility[row, j] != utility[row, j]:
                    top = utility[row, j]
            for j in range(k):
                p[row, j] = np.exp(utility[row, j] - top)
            ready[row] = True
        total = 0.0
        for j in range(k):
            total += p[row, j]
            cdf[j] = total
        below = 0
        for j in range(k):
            if cdf[j] / total < u[a]:
                below += 1
        out[a] = min(below, k - 1)


@numba.njit(cache=True, error_model="numpy")  # x / 0 is inf or nan, as in numpy, not an error
def _choose_sectors(log_weight, sensitivity, price, base_price, u, out):
    """Outsiders' sectors (int64[n] ``out``), drawn with ``u`` (float64[n]) from the softmax of
    the sectors' utility: the log of the sector's demand weight ``log_weight`` plus
    ``sensitivity`` x (this month's ``price`` over the ``base_price`` - 1) (float64[S]), as the
    array formulation adds it (:func:`_inverse_cdf`)."""
    util = np.empty((1, log_weight.shape[0]))
    for s in range(log_weight.shape[0]):
        util[0, s] = log_weight[s] + sensitivity * (price[s] / base_price[s] - 1.0)
    _inverse_cdf(util, np.zeros(u.shape[0], dtype=np.int64), u, out)


def entry(model, market, dartboard: np.ndarray, rng: np.random.Generator, key: np.ndarray,
          month: int) -> dict[str, object]:
    """Who enters this month: spin-offs and outside entrants, with sector, region and place.

    Spin-offs are drawn per firm, keyed by ``(key, month)`` (:mod:`sim.core.streams`); how many
    outsiders enter, and where, comes from ``rng``. Outsiders choose a sector by this month's
    prices (``market``, a :class:`sim.mechanisms.market.MarketState`) and a region by its
    attractiveness, or, in the dartboard mode, with the probabilities ``dartboard`` [R].

    Returns a dict of arrays describing the entrants (``region``, ``sector``, ``parent`` slot or
    -1), spin-offs first; the model creates them.
    """
    firms, dp = model.firms, model.params.demography
    n_alive = firms.n_alive
    n_regions = len(model.world.regions)

    # spin-offs of profitable firms: same sector, same region (Arthur 1990)
    spins = np.empty(firms.capacity, dtype=np.bool_)
    _spinoffs(firms.alive, firms.profit, dp.spinoff_prob, firms.firm_id, key, month, spins)
    parents = slots_where(spins, True)
    k = parents.shape[0]

    # outside entrants: their sector and region written after the spin-offs'
    if dp.entrants_per_step >= 0:
        n_out = int(dp.entrants_per_step)
    else:
        n_out = int(rng.poisson(dp.entry_rate * n_alive + dp.entry_floor))
    mode = dp.entry_mode
    if mode == "copy" and n_alive == 0:
        n_out = 0
    region, sector, parent = (np.empty(k + n_out, dtype=np.int64) for _ in range(3))
    if mode == "copy":
        live = slots_where(firms.alive, True)
        model_firm = live[rng.integers(0, max(n_alive, 1), size=n_out)]
        region[k:] = firms.region[model_firm]
        sector[k:] = firms.sector[model_firm]
    elif n_out > 0:  # (none to choose: no draw, as a Generator draws nothing for none)
        sector_u = rng.random(n_out)
        _choose_sectors(_attraction_constants(model)[3], dp.sector_choice_sensitivity,
                        market.sector_price, model.world_arrays["sector_price"], sector_u,
                        sector[k:])
        region_u = rng.random(n_out)
        if mode == "dartboard":
            probs = dartboard
            cdf = np.cumsum(probs) / probs.sum()
            region[k:] = np.minimum(np.searchsorted(cdf, region_u, side="right"),
                                    n_regions - 1)
        else:
            _inverse_cdf(attractiveness(model, market), sector[k:], region_u, region[k:])
    _entrants(parents, firms.region, firms.sector, region, sector, parent)
    return {"region": region, "sector": sector, "parent": parent}


@numba.njit(cache=True)
def _entrants(parents, f_region, f_sector, region, sector, parent):
    """The month's entrants, spin-offs first (in the order of ``parents``, their parents'
    slots, with their parents' region and sector), then the outsiders (parent -1, their region
    and sector already written): writes ``region[:k]``, ``sector[:k]`` and ``parent``
    (int64[k + n])."""
    k = parents.shape[0]
    for a in range(k):
        q = parents[a]
        region[a] = f_region[q]
        sector[a] = f_sector[q]
        parent[a] = q
    for b in range(k, parent.shape[0]):
        parent[b] = -1


def admit(model, market, new: dict[str, np.ndarray],
          rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The entrants of :func:`entry` (``new``) with their potential sizes: Pareto with exponent
    ``size_tail`` above ``max(min_size, 1)`` (one ``rng.random`` each), capped at ``max_size``,
    times their sector's size floor, capped again; in the ``attraction`` entry mode only the
    outsiders who would make a profit this month (:func:`viable`) stay. Returns a dict of
    ``region``, ``sector``, ``parent`` and ``sizes``, spin-offs first as in ``new`` (whose arrays
    it reuses)."""
    dp, mp, w = model.params.demography, model.params.market, model.world_arrays
    region, sector, parent = new["region"], new["sector"], new["parent"]
    sizes = np.empty(region.shape[0])
    m = _admit(rng.random(region.shape[0]), region, sector, parent, max(dp.min_size, 1.0),
               dp.size_tail, dp.max_size, w["sector_size_floor"], dp.entry_mode == "attraction",
               mp.wage, w["wage_index"], w["land_cost"], market.wage_mult, model.mods.land_mult,
               market.rent_mult, market.sector_price, w["sector_price"], market.localisation,
               mp.labour_elasticity, mp.fixed_cost, sizes)
    return {"region": region[:m], "sector": sector[:m], "parent": parent[:m], "sizes": sizes[:m]}


@numba.njit(cache=True)
def _admit(u, region, sector, parent, lo, tail, cap, size_floor, attraction, wage, wage_index,
           land_cost, wage_mult, land_mult, rent_mult, price, base_price, localisation, theta,
           fixed_cost, sizes):
    """Entrant a's size from its uniform ``u[a]``: ``min(lo (1 - u)^(-1 / tail), cap)`` times
    its sector's ``size_floor``, capped at ``cap`` again; with ``attraction``, an outsider
    (``parent[a]`` < 0) that would not earn (:func:`_earns`) is dropped. The entrants kept are
    moved to the front of ``region``, ``sector`` and ``parent`` (int64[n], in place) in their
    order, their sizes written to ``sizes`` (float64[n]); returns how many were kept. The
    arithmetic is the array formulation's (numpy's power, :func:`numpy_power`; ``np.minimum``,
    which keeps a NaN), so the sizes have the same bits."""
    e = -1.0 / tail
    m = 0
    for a in range(u.shape[0]):
        size = lo * numpy_power(1.0 - u[a], e)
        size = size if (size <= cap or size != size) else cap
        size = size * size_floor[sector[a]]
        size = size if (size <= cap or size != size) else cap
        r, s, q = region[a], sector[a], parent[a]
        if attraction and q < 0 and not _earns(
                r, s, size, wage, wage_index, land_cost, wage_mult, land_mult, rent_mult, price,
                base_price, localisation, theta, fixed_cost):
            continue
        region[m], sector[m], parent[m], sizes[m] = r, s, q, size
        m += 1
    return m


def viable(model, market, region: np.ndarray, sector: np.ndarray,
           sizes: np.ndarray) -> np.ndarray:
    """Whether outside entrants of potential size ``sizes`` would make a profit where they
    chose to go, bool[n]: free entry, which makes entry fall as congestion rises.

    A new firm's talent makes its labour gap 0 at its potential size ``L`` at base prices and
    costs (:func:`sim.mechanisms.population.talent`). Now (this month's ``market``), with the
    cost of a worker ``c`` times and the value of output ``v`` times the base (price and
    localisation), its best size is ``L* = L (v / c)^(1 / (1 - theta))``, where it earns
    ``(1 - theta) / theta w L* - F``."""
    mp, w = model.params.market, model.world_arrays
    ok = np.empty(region.shape[0], dtype=np.bool_)
    _viable(region, sector, sizes, mp.wage, w["wage_index"], w["land_cost"], market.wage_mult,
            model.mods.land_mult, market.rent_mult, market.sector_price, w["sector_price"],
            market.localisation, mp.labour_elasticity, mp.fixed_cost, ok)
    return ok


@numba.njit(cache=True)
def _viable(region, sector, sizes, wage, wage_index, land_cost, wage_mult, land_mult, rent_mult,
            price, base_price, localisation, theta, fixed_cost, ok):
    """``ok[a]`` (bool[n]): whether entrant a (int64[n] ``region``, ``sector``, float64[n]
    ``sizes``) would earn, by :func:`_earns`."""
    for a in range(region.shape[0]):
        ok[a] = _earns(region[a], sector[a], sizes[a], wage, wage_index, land_cost, wage_mult,
                       land_mult, rent_mult, price, base_price, localisation, theta, fixed_cost)


@numba.njit(cache=True, error_model="numpy")  # x / 0 is inf or nan, as in numpy, not an error
def _earns(r, s, size, wage, wage_index, land_cost, wage_mult, land_mult, rent_mult, price,
           base_price, localisation, theta, fixed_cost):
    """Whether an outsider of potential size ``size`` in region r and sector s earns more than
    ``fixed_cost`` at its best size this month (:func:`viable`): with the cost of a worker
    now, ``cost``, and at base prices, ``base``, and the value of its output over the base,
    ``value``, the best size is ``size (value base / max(cost, 1e-12))^(1 / (1 - theta))``;
    with ``theta`` >= 1 the test is ``value >= cost / base``. Each term is added and
    multiplied in the order of the array formulation, the power is numpy's
    (:func:`numpy_power`), so the answer is the same."""
    base = wage * wage_index[r] + land_cost[r]
    cost = wage * wage_index[r] * wage_mult[r] + land_cost[r] * land_mult[r] * rent_mult[r]
    value = price[s] / base_price[s] * localisation[s, r]
    if theta >= 1.0:
        return value >= cost / base
    floor = cost if (cost >= 1e-12 or cost != cost) else 1e-12  # np.maximum keeps a NaN
    best = size * numpy_power(value * base / floor, 1.0 / (1.0 - theta))
    return (1.0 - theta) / theta * cost * best > fixed_cost


@parallel_kernel
def firm_counts(alive, sector, region, n_sectors, n_regions):
    """Live firms of each sector in each region, int64[S, R] (counted in chunks)."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, n_sectors, n_regions), dtype=np.int64)
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                part[c, sector[i], region[i]] += 1
    return add_chunks(part)


def attractiveness(model, market) -> np.ndarray:
    """Utility of each region for an entrant of each sector, float64[S, R] (land rents with
    this month's congestion, from ``market``)."""
    firms, dp, w = model.firms, model.params.demography, model.world_arrays
    n_regions = len(model.world.regions)
    n_sectors = len(model.world.sectors)
    counts = firm_counts(firms.alive, firms.sector, firms.region, n_sectors, n_regions)
    suppliers, access, land_scale, _ = _attraction_constants(model)
    fac_counts = np.zeros((n_sectors, n_regions))
    fac = model.facilities
    for f, status in enumerate(fac.status):  # failed drives pile up: only the status is read
        if status == fac.OPERATING:
            fac_counts[fac.sectors[f], fac.region[f]] += 1.0
    util = np.empty((n_sectors, n_regions))
    _attraction(counts, suppliers, fac_counts, access, w["land_cost"], model.mods.land_mult,
                market.rent_mult, land_scale, dp.beta_sector, dp.beta_facility, dp.beta_land,
                util)
    return util


@numba.njit(cache=True, error_model="numpy")  # x / 0 is inf or nan, as in numpy, not an error
def _attraction(counts, suppliers, fac_counts, access, land_cost, land_mult, rent_mult,
                land_scale, beta_sector, beta_facility, beta_land, util):
    """``util[s, r]`` = beta_sector log(1 + firms of s in r) + the suppliers' term + beta_facility
    x operating facilities serving s in r + market access - beta_land x the land cost with this
    month's congestion over ``land_scale`` (float64[S, R]; ``counts`` int64[S, R]; ``access``
    [1, R]; the land arrays [R]), added in the order of the array formulation; numba's log1p
    gives numpy's bits, so the bits are the same."""
    n_sectors, n_regions = util.shape
    for r in range(n_regions):
        land = land_cost[r] * land_mult[r] * rent_mult[r] / land_scale
        for s in range(n_sectors):
            util[s, r] = (beta_sector * np.log1p(counts[s, r]) + suppliers[s, r]
                          + beta_facility * fac_counts[s, r] + access[0, r] - beta_land * land)


def _attraction_constants(model) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """The terms of :func:`attractiveness` fixed for a run (suppliers do not move, the world
    and the parameters do not change): the suppliers' term [S, R], the market access term
    [1, R] and the land cost that normalises rents; and the log demand weight of each sector
    (the fixed term of an entrant's choice of sector, [S]); computed once per model."""
    cached = getattr(model, "_attraction_constants", None)
    if cached is not None:
        return cached
    dp, w, sup = model.params.demography, model.world_arrays, model.suppliers
    n_regions, n_inputs = len(model.world.regions), len(model.world.inputs)
    sup_counts = np.bincount(sup.input * n_regions + sup.region,
                             minlength=n_inputs * n_regions).reshape(n_inputs, n_regions)
    cached = (dp.beta_supplier * numerics.log1p(sup_counts[w["sector_input"]]),
              dp.beta_access * w["market_access"][None, :],
              max(float(w["land_cost"].mean()), 1e-12),
              numerics.log(np.maximum(w["sector_weight"], 1e-12)))
    model._attraction_constants = cached
    return cached
