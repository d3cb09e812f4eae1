"""Growth, exit, entry and location choice.

Growth. Employment follows profitability with proportional noise (Gibrat's law):
``log L' = log L + g * margin + sigma * eps``, bounded below by a reflecting floor ``min_size``
(which, with a downward drift, gives a Pareto tail: Gabaix 1999) and above by ``max_size``.

Exit. A firm leaves after ``exit_patience`` consecutive months of losses, or at once when its
debt exceeds ``debt_limit_months`` of revenue (plus any months a credit guarantee adds).

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

from sim import streams
from sim.parallel import parallel_kernel
from sim.totals import CHUNK, add_chunks, slots_where

__all__ = ["grow", "exits", "entry", "pareto_sizes", "place"]


@parallel_kernel
def _grow(alive, employees, profit, revenue, sensitivity, sd, floor, cap, firm_id, key, month,
          out):
    """New employment: L exp(g margin + sd eps), floor and cap. Writes only element i.

    eps is a standard normal from the ``GROWTH`` stream (:func:`sim.streams.normal`).
    """
    n = alive.shape[0]
    for i in numba.prange(n):
        out[i] = employees[i]
        if not alive[i]:
            continue
        eps = streams.normal(key, month, streams.GROWTH, firm_id[i])
        margin = 0.0
        if revenue[i] > 0.0:
            margin = profit[i] / revenue[i]
            if margin > 1.0:
                margin = 1.0
            elif margin < -1.0:
                margin = -1.0
        size = employees[i] * np.exp(sensitivity * margin + sd * eps)
        if size < floor:
            size = floor
        elif size > cap:
            size = cap
        out[i] = size


def grow(firms, dp, key: np.ndarray, month: int) -> None:
    """Employment follows profitability with proportional noise (in place); the noise is keyed
    by ``(key, month)`` (:mod:`sim.streams`)."""
    out = np.empty_like(firms.employees)
    _grow(firms.alive, firms.employees, firms.profit, firms.revenue, dp.growth_sensitivity,
          dp.growth_sd, dp.min_size, dp.max_size, firms.firm_id, key, month, out)
    firms.employees = out


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
           loss_streak, leave):
    """Count each live firm's months of losses in a row and flag those that leave: after
    ``patience`` such months, or when debt exceeds ``debt_limit_months`` (plus the firm's
    ``debt_extra_months``) of revenue. Writes only element i of ``loss_streak`` and ``leave``."""
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


def exits(firms, dp) -> np.ndarray:
    """Slots of firms that leave this month (sustained losses or too much debt)."""
    leave = np.empty(firms.capacity, dtype=np.bool_)
    _exits(firms.alive, firms.profit, firms.revenue, firms.capital, firms.debt_extra_months,
           dp.debt_limit_months, dp.exit_patience, firms.loss_streak, leave)
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


def pareto_sizes(rng: np.random.Generator, n: int, tail: float, floor: float,
                 cap: float) -> np.ndarray:
    """Initial firm sizes: Pareto with exponent ``tail`` above ``max(floor, 1)``, capped."""
    lo = max(floor, 1.0)
    u = rng.random(n)
    return np.minimum(lo * (1.0 - u) ** (-1.0 / tail), cap)


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


def entry(model, rng: np.random.Generator, key: np.ndarray, month: int) -> dict[str, object]:
    """Who enters this month: spin-offs and outside entrants, with sector, region and place.

    Spin-offs are drawn per firm, keyed by ``(key, month)`` (:mod:`sim.streams`); how many
    outsiders enter, and where, comes from ``rng``.

    Returns a dict of arrays describing the entrants (``region``, ``sector``, ``parent`` slot or
    -1); the model creates them.
    """
    firms, dp = model.firms, model.params.demography
    n_alive = firms.n_alive
    n_regions = len(model.world.regions)
    n_sectors = len(model.world.sectors)

    # spin-offs of profitable firms: same sector, same region (Arthur 1990)
    spins = np.empty(firms.capacity, dtype=np.bool_)
    _spinoffs(firms.alive, firms.profit, dp.spinoff_prob, firms.firm_id, key, month, spins)
    parents = slots_where(spins, True)

    # outside entrants
    if dp.entrants_per_step >= 0:
        n_out = int(dp.entrants_per_step)
    else:
        n_out = int(rng.poisson(dp.entry_rate * n_alive + dp.entry_floor))
    mode = dp.entry_mode
    if mode == "copy":
        if n_alive == 0:
            n_out = 0
        live = slots_where(firms.alive, True)
        model_firm = live[rng.integers(0, max(n_alive, 1), size=n_out)]
        out_region = firms.region[model_firm]
        out_sector = firms.sector[model_firm]
    else:
        sector_u = rng.random(n_out)
        w = model.world_arrays
        price_ratio = model.sector_price / w["sector_price"]
        s_util = np.log(np.maximum(w["sector_weight"], 1e-12)) + 5.0 * (price_ratio - 1.0)
        out_sector = _logit_choice(np.broadcast_to(s_util, (n_out, n_sectors)), sector_u)
        region_u = rng.random(n_out)
        if mode == "dartboard":
            probs = model.dartboard_probs
            cdf = np.cumsum(probs) / probs.sum()
            out_region = np.minimum(np.searchsorted(cdf, region_u, side="right"), n_regions - 1)
        else:
            util = attractiveness(model)  # [S, R]
            out_region = _logit_choice(util[out_sector], region_u)
    return {
        "region": np.concatenate([firms.region[parents], out_region]).astype(np.int64),
        "sector": np.concatenate([firms.sector[parents], out_sector]).astype(np.int64),
        "parent": np.concatenate([parents, np.full(n_out, -1, dtype=np.int64)]),
    }


@parallel_kernel
def _firm_counts(alive, sector, region, n_sectors, n_regions):
    """Live firms of each sector in each region, int64[S, R] (counted in chunks)."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, n_sectors, n_regions), dtype=np.int64)
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i]:
                part[c, sector[i], region[i]] += 1
    return add_chunks(part)


def attractiveness(model) -> np.ndarray:
    """Utility of each region for an entrant of each sector, float64[S, R]."""
    firms, dp, w = model.firms, model.params.demography, model.world_arrays
    n_regions = len(model.world.regions)
    n_sectors = len(model.world.sectors)
    counts = _firm_counts(firms.alive, firms.sector, firms.region, n_sectors, n_regions)
    sup = model.suppliers
    sup_counts = np.bincount(sup.input * n_regions + sup.region,
                             minlength=len(model.world.inputs) * n_regions
                             ).reshape(len(model.world.inputs), n_regions)
    sup_for_sector = sup_counts[w["sector_input"]]
    fac_counts = np.zeros((n_sectors, n_regions))
    fac = model.facilities
    for f in np.flatnonzero(fac.operating()) if fac.n else []:
        fac_counts[fac.sectors[f], fac.region[f]] += 1.0
    land = w["land_cost"] * model.mods.land_mult
    land_norm = land / max(float(w["land_cost"].mean()), 1e-12)
    return (dp.beta_sector * np.log1p(counts) + dp.beta_supplier * np.log1p(sup_for_sector)
            + dp.beta_facility * fac_counts + dp.beta_access * w["market_access"][None, :]
            - dp.beta_land * land_norm[None, :])
