"""The population of firms: the initial firms, entrants and leavers, and what a firm is born with.

A firm is born into the lowest free slot (:meth:`sim.core.state.FirmState.free_slots`) with a
unique ``firm_id``, a place around its region's centre (a spin-off next to its parent), an
efficiency drawn around its sector's mean (a spin-off inherits its parent's, with noise), an
owner's talent calibrated so that its drawn size is the one at which a worker is worth what it
costs (:func:`talent`), a gap between the talent the owner shows and the true one, learnt over
the firm's first years (Jovanovic 1982), a willingness to cooperate (a spin-off inherits its
parent's attitude), a pledge threshold for facility drives, and starting capital worth some
months of revenue. Who enters, and where, is drawn by :func:`sim.mechanisms.demography.entry`;
who leaves, by :func:`sim.mechanisms.demography.exits`. A firm that leaves drops its ties and
frees its slot.

Every draw comes from the model's one generator, in a fixed order: for the initial firms their
regions and sectors (without a world's firm list), sizes, then each firm's traits
(:meth:`Population.create`), then how long the initial firms have already been losing money;
for entrants the entry draws, then sizes, then traits.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.core import numerics
from sim.core.month import Books
from sim.core.numerics import numpy_power
from sim.core.spatial import spatial_order
from sim.core.state import FirmState, TieState
from sim.mechanisms import cooperation, demography

__all__ = ["Population", "talent"]


def talent(world_arrays: dict, mp, region: np.ndarray, sector: np.ndarray, prod: np.ndarray,
           sizes: np.ndarray) -> np.ndarray:
    """Owners' talent: a firm of its sector's mean productivity ``prod`` would, at base prices
    and costs, find its drawn size ``sizes`` the one at which a worker is worth what a worker
    costs (labour gap 0). A firm more (less) productive than its sector's mean is born wanting
    to be larger (smaller), so the productivity spread the shocks keep in the long run is there
    from the start, and the burn-in lets sizes settle.

    With ``q = A T L^theta`` and ``u`` the value added per unit of output at base prices, the
    gap is 0 at ``L`` when ``T = w L^(1 - theta) / (theta u A)`` (``mp``: the market
    parameters). A sector that cannot cover its inputs at base prices gets ``L^(1 - theta)``."""
    w = world_arrays
    theta = mp.labour_elasticity
    unit_value = (w["sector_price"][sector] * w["market_access"][region]
                  * (1.0 - mp.transport_share * w["infra_factor"][region])
                  - w["sector_ipo"][sector] * w["sector_input_price"][sector]
                  - w["sector_wpo"][sector] * mp.waste_cost)
    per_worker = mp.wage * w["wage_index"][region] + w["land_cost"][region]
    ok = (unit_value > 0) & (prod > 0)
    out = sizes ** (1.0 - theta)
    out[ok] *= per_worker[ok] / (theta * unit_value[ok] * prod[ok])
    return out


@numba.njit(cache=True)
def _born(slots, region, sector, parent, sizes, first_id, t, z, k, gap, region_x, region_y,
          region_radius, sector_mean, sector_sd, sector_price, market_access, infra_factor,
          sector_ipo, sector_input_price, sector_wpo, wage_index, land_cost, world_size, spread,
          spinoff_sd, talent_uncertainty, will_mean, will_sd, pledge_mean, pledge_sd, theta,
          transport_share, waste_cost, wage, capital_months,
          alive, firm_id, f_region, f_sector, x, y, employees, desired, productivity, talent,
          talent_gap, willingness, reputation, pledge_threshold, born, capital, revenue):
    """Write the n newborn firms into ``slots`` (int64[n]) of the firm arrays (the last
    seventeen arguments, float64/int64/bool[N]), ids from ``first_id``, born in month ``t``.

    ``region``, ``sector``, ``parent`` (int64[n], -1 for none) and ``sizes`` (float64[n]) are
    the entrants, ``k`` of them spin-offs; ``z`` (float64[n (5 + gap) + 3 k]) is the one draw
    of standard normals of :meth:`Population.create`, in blocks: place x and y (n each), a
    spin-off's place near its parent x and y (k each), efficiency (n), a spin-off's efficiency
    (k), then, if ``gap``, the talent the owner does not show yet (n), willingness (n) and the
    pledge threshold (n). The region and sector arrays are the model's world arrays.

    Every operation is the one of the array form it replaces (:func:`talent`, and
    ``exp(sd z - sd^2 / 2)``, ``exp(spinoff_sd z)``, ``sizes ** (1 - theta)`` and ``sizes **
    theta`` in numpy), in the same order: numpy's exp and numba's give the same bits on the
    machines the model runs on (tests/test_population.py checks it), and the powers are
    :func:`numpy_power`, so a firm is born with the same bits."""
    n = slots.shape[0]
    z_sx, z_sy, z_p, z_sp = 2 * n, 2 * n + k, 2 * n + 2 * k, 3 * n + 2 * k  # block offsets
    z_gap = 3 * n + 3 * k
    z_will = z_gap + n * gap
    z_theta = z_will + n
    j = 0  # the spin-offs' own normals
    for a in range(n):
        i = slots[a]
        r = region[a]
        s = sector[a]
        mu = sector_mean[s]
        sd = sector_sd[s]
        px = region_x[r] + z[a] * region_radius[r]
        py = region_y[r] + z[n + a] * region_radius[r]
        prod = mu * np.exp(sd * z[z_p + a] - 0.5 * sd * sd)
        will = will_mean + will_sd * z[z_will + a]
        will = min(max(will, 0.0), 1.0)
        q = parent[a]
        if q >= 0:  # a spin-off starts next to its parent, with its know-how and attitude
            px = x[q] + spread * z[z_sx + j]
            py = y[q] + spread * z[z_sy + j]
            prod = productivity[q] * np.exp(spinoff_sd * z[z_sp + j])
            will = willingness[q]
            j += 1
        # talent: the drawn size is where a worker is worth what it costs (see talent())
        unit_value = (sector_price[s] * market_access[r] * (1.0 - transport_share * infra_factor[r])
                      - sector_ipo[s] * sector_input_price[s] - sector_wpo[s] * waste_cost)
        owner = numpy_power(sizes[a], 1.0 - theta)
        if unit_value > 0.0 and mu > 0.0:
            per_worker = wage * wage_index[r] + land_cost[r]
            owner *= per_worker / (theta * unit_value * mu)
        alive[i] = True
        firm_id[i] = first_id + a
        f_region[i] = r
        f_sector[i] = s
        x[i] = min(max(px, 0.0), world_size)
        y[i] = min(max(py, 0.0), world_size)
        employees[i] = sizes[a]
        desired[i] = sizes[a]
        productivity[i] = prod
        talent[i] = owner
        talent_gap[i] = talent_uncertainty * z[z_gap + a] if gap else 0.0
        willingness[i] = will
        reputation[i] = will  # newcomers are known by their declared attitude
        pledge_threshold[i] = pledge_mean + pledge_sd * z[z_theta + a]
        born[i] = t
        # starting capital: some months of expected revenue at the base price
        rev = prod * owner * numpy_power(sizes[a], theta) * sector_price[s] * market_access[r]
        capital[i] = capital_months * rev
        revenue[i] = rev


class Population:
    """Births and deaths of firms.

    Parameters
    ----------
    params : sim.core.params.Params
    world : sim.core.world.World
    world_arrays : dict
        The world's per-region and per-sector arrays (``ClusterModel.world_arrays``).
    rng : numpy.random.Generator
        The model's generator: every draw of a birth comes from it.

    Attributes
    ----------
    next_id : int
        The ``firm_id`` the next firm born gets (ids are never reused).
    dartboard : numpy.ndarray
        The regional probabilities of the dartboard entry mode, float64[R]: each region's share
        of the initial firms (set by :meth:`initial`).
    """

    def __init__(self, params, world, world_arrays: dict, rng: np.random.Generator):
        self.params, self.world, self.world_arrays, self.rng = params, world, world_arrays, rng
        self.next_id = 0
        self.dartboard = np.full(len(world.regions), 1.0 / len(world.regions))

    def initial(self, books: Books) -> tuple[FirmState, TieState]:
        """The initial firms, from the world's firm groups or, without them, ``n_firms`` firms
        in random regions and in sectors drawn by demand weight; sizes are Pareto above the
        sector's size floor. Returns the firms (in spatial order) and an empty tie table."""
        p, w, rng = self.params, self.world, self.rng
        if w.firms:
            region = np.concatenate([np.full(g.count, w.region_index(g.region)) for g in w.firms])
            sector = np.concatenate([np.full(g.count, w.sector_index(g.sector)) for g in w.firms])
            tails = np.concatenate([np.full(g.count, g.size_tail or p.demography.size_tail)
                                    for g in w.firms])
        else:
            n = p.world.n_firms
            weights = self.world_arrays["sector_weight"]
            region = rng.integers(0, len(w.regions), size=n)
            sector = rng.choice(len(w.sectors), size=n, p=weights / weights.sum())
            tails = np.full(n, p.demography.size_tail)
        region = region.astype(np.int64)
        sector = sector.astype(np.int64)
        n = region.size
        # the dartboard's regional probabilities: each region's share of the initial firms
        counts = np.bincount(region, minlength=len(w.regions)).astype(np.float64)
        if counts.sum() > 0:
            self.dartboard = counts / counts.sum()
        firms = FirmState.empty(max(n, 16))
        ties = TieState.empty(firms.capacity, p.world.max_ties)
        floor = np.maximum(self.world_arrays["sector_size_floor"][sector],
                           max(p.demography.min_size, 1.0))
        sizes = np.minimum(floor * numerics.power(1.0 - rng.random(n), -1.0 / tails),
                           p.demography.max_size)
        slots = self.create(firms, ties, region, sector, sizes,
                            parent=np.full(n, -1, dtype=np.int64), t=0, books=books)
        # the initial firms have histories: a firm already losing money has been doing so for a
        # while, so their exits spread over the first year instead of all falling in month 12
        firms.loss_streak[slots] = rng.integers(0, p.demography.exit_patience, size=n)
        # neighbours in space become neighbours in memory: partners (who are neighbours) then
        # share cache lines, which makes every per-tie kernel several times faster on big models
        firms.reorder(slots[spatial_order(firms.x[slots], firms.y[slots], p.world.world_size)])
        return firms, ties

    def create(self, firms: FirmState, ties: TieState, region: np.ndarray, sector: np.ndarray,
               sizes: np.ndarray, parent: np.ndarray, t: int, books: Books) -> np.ndarray:
        """Fill free slots with new firms of these regions, sectors and sizes, born in month
        ``t``; ``parent`` is each one's parent slot (-1 for none), which passes on its place,
        efficiency and attitude. Books their starting capital; returns their slots."""
        p, f, w = self.params, firms, self.world_arrays
        n = region.size
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        slots = f.free_slots(n)
        if ties.partner.shape[0] < f.capacity:
            ties.grow(f.capacity)
        rng, dp, cp, fp, mp = self.rng, p.demography, p.cooperation, p.facilities, p.market
        k = int(np.count_nonzero(parent >= 0))
        # every normal a birth needs, in one draw, in the order the traits are listed in _born
        gap = dp.talent_uncertainty > 0
        z = rng.standard_normal(n * (5 + gap) + 3 * k)
        _born(slots, region, sector, parent, sizes, self.next_id, t, z, k, gap, w["region_x"],
              w["region_y"], w["region_radius"], w["sector_productivity"],
              w["sector_productivity_sd"], w["sector_price"], w["market_access"],
              w["infra_factor"], w["sector_ipo"], w["sector_input_price"], w["sector_wpo"],
              w["wage_index"], w["land_cost"], p.world.world_size, dp.spinoff_spread,
              dp.spinoff_productivity_sd, dp.talent_uncertainty, cp.willingness_mean,
              cp.willingness_sd, fp.pledge_threshold_mean, fp.pledge_threshold_sd,
              mp.labour_elasticity, mp.transport_share, mp.waste_cost, mp.wage,
              dp.initial_capital_months,
              f.alive, f.firm_id, f.region, f.sector, f.x, f.y, f.employees, f.desired,
              f.productivity, f.talent, f.talent_gap, f.willingness, f.reputation,
              f.pledge_threshold, f.born, f.capital, f.revenue)
        self.next_id += n
        books.private.entry_capital += float(f.capital[slots].sum())
        return slots

    def enter(self, model, market, books: Books) -> np.ndarray:
        """This month's entrants (:func:`sim.mechanisms.demography.entry`): spin-offs and
        outsiders, with Pareto sizes above their sector's floor; in the ``attraction`` entry
        mode an outsider enters only where it would make a profit
        (:func:`sim.mechanisms.demography.admit`). A spin-off keeps a tie with its parent.
        Returns the entrants' slots."""
        p, firms, ties = self.params, model.firms, model.ties
        new = demography.entry(model, market, self.dartboard, self.rng, model.stream_key,
                               model.clock)
        if new["region"].size == 0:
            return np.zeros(0, dtype=np.int64)
        new = demography.admit(model, market, new, self.rng)
        slots = self.create(firms, ties, new["region"], new["sector"], new["sizes"],
                            new["parent"], model.steps, books)
        # a spin-off keeps a tie with its parent
        spin = new["parent"] >= 0
        if spin.any() and p.switches.cooperation:
            cooperation.add_tie(ties, slots[spin], new["parent"][spin],
                                p.cooperation.initial_trust, p.cooperation.initial_trust)
        return slots

    @staticmethod
    def remove(firms: FirmState, ties: TieState, idx: np.ndarray, books: Books) -> None:
        """The firms of slots ``idx`` leave: their capital is booked as it is, their ties are
        dropped and their slots freed for entrants."""
        if idx.size == 0:
            return
        books.private.exit_capital += float(firms.capital[idx].sum())
        cooperation.drop_ties(ties, idx)
        ties.trust[idx] = 0.0
        firms.clear(idx)
