"""The cluster model: MSMEs that cooperate, share suppliers and build joint infrastructure.

:class:`ClusterModel` is a Mesa model whose state lives in structures of arrays
(:mod:`sim.core.state`); each mechanism is a module of :mod:`sim.mechanisms` with a small function
of (state, params, rng) (cooperation, suppliers, facilities, market, demography) behind a switch in
:class:`sim.core.params.Switches`. Firms are also Mesa agents (:class:`sim.agents.FirmAgent`), thin
views that hold a slot index.

All randomness comes from ``self.rng``, the one :class:`numpy.random.Generator` Mesa builds from
the ``rng`` argument. Per-firm draws are counter-based (:mod:`sim.core.streams`): a pure function of
a key drawn once from ``self.rng``, the month, the kind of draw and the firm, computed inside the
parallel kernels; the few other draws (entrants, interventions) come from ``self.rng`` in a
fixed order. One seed gives bit-identical runs whatever the number of numba threads.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import mesa
import numba
import numpy as np

from sim.agents import FacilityAgent, FirmAgent, SupplierAgent
from sim.core import streams
from sim.core.params import Params
from sim.core.spatial import build_cell_list, spatial_order
from sim.core.state import FacilityState, FirmState, Modifiers, SupplierState, TieState
from sim.core.world import World, default_world
from sim.interventions.base import Intervention, Schedule
from sim.measure import collect, metrics
from sim.mechanisms import cooperation, demography, facilities, market, suppliers

__all__ = ["ClusterModel", "PARALLEL_MIN_FIRMS"]

#: Below this many firm slots the kernels run on one thread: handing work to other threads
#: costs more than it saves on small arrays (results are the same either way).
PARALLEL_MIN_FIRMS = 20_000


class ClusterModel(mesa.Model):
    """An MSME cluster on a landscape of regions.

    Parameters
    ----------
    params : Params, optional
        All scalar parameters (defaults: a generic cluster).
    world : World, optional
        Regions, sectors and initial firms (default: :func:`sim.core.world.default_world`).
    interventions : sequence of Intervention
        Policies and shocks, applied on their schedules.
    rng : int or numpy.random.Generator or SeedSequence
        The one source of randomness (Mesa's ``rng=``).
    seed : int, optional
        Another name for ``rng`` (what ``mesa.batch_run`` and older Mesa code pass); give one
        of the two. ``seed=5`` and ``rng=5`` make the same run.
    agents : bool
        Keep Mesa agent views of firms, suppliers and facilities (default True). Firm views are
        made lazily: an entrant gets its :class:`FirmAgent` the first time ``model.agents`` (or
        ``agents_by_type``) is read, so runs that never look at agents pay nothing for them.
    threads : int, optional
        Numba threads for the kernels of large models (default 1). On two cores, two threads
        run a 100,000-firm month about 1.8x faster (docs/performance.md); a sweep's replicates
        in separate processes use the cores better still, which is why one is the default.
        Results are bit-identical whatever the number.
    **kwargs
        Parameter overrides by bare or dotted name, e.g. ``ClusterModel(n_firms=200, rng=1)``
        (named ``kwargs`` because Mesa's SolaraViz skips only a catch-all of that name).

    Attributes
    ----------
    recorder : sim.measure.collect.Recorder
        Every per-step output (``model.series()``).
    datacollector : mesa.DataCollector
        The main series (:data:`sim.measure.collect.MESA_SERIES`) for Mesa's own tools
        (``mesa.batch_run``, ``make_plot_component``), collected at set-up and every step.
    """

    def __init__(self, params: Params | None = None, world: World | None = None,
                 interventions: tuple[Intervention, ...] | list[Intervention] = (), *,
                 rng: Any = None, agents: bool = True, threads: int | None = None,
                 seed: Any = None, **kwargs: Any):
        if seed is not None:
            if rng is not None:
                raise ValueError("ClusterModel: give rng or seed, not both")
            rng = seed
        super().__init__(rng=rng)
        #: the key of every per-firm draw (sim.core.streams): first thing drawn from the seed
        self.stream_key = streams.make_key(self.rng)
        self.threads = threads
        params = params or Params()
        if kwargs:
            params = params.replace(kwargs)
        self.params = params
        #: months simulated before month 0 (sim.core.params.WorldParams.burn_in)
        self.burn_in = params.world.burn_in
        self.world = world or default_world()
        self.use_agents = agents
        self._setup_world_arrays()
        self.mods = Modifiers.neutral(len(self.world.regions), len(self.world.sectors),
                                      len(self.world.inputs))
        self.tmp: dict[str, np.ndarray] = {}
        self.facilities = FacilityState()
        self.first_facility_step = -1
        self.public_step = 0.0
        self.public_total = 0.0
        self.public_by: dict[str, float] = defaultdict(float)
        self.books: dict[str, float] = {}
        self.schedules = [Schedule(spec) for spec in interventions]
        self._next_firm_id = 0
        self._firm_agents: list[FirmAgent | None] = []
        self._firm_views_stale = False  # live firms without a FirmAgent view yet
        #: seconds spent per phase, summed over steps; None (the default) skips the timing
        self.timings: dict[str, float] | None = None
        self._t_last = 0.0
        self._facility_agents: list[FacilityAgent] = []

        # the set-up runs kernels too: on the threads the steps will use (and so, on one thread,
        # their serial builds: sim.core.parallel)
        n_initial = sum(g.count for g in self.world.firms) if self.world.firms else (
            params.world.n_firms)
        outer_threads = self._set_threads(n_initial)
        try:
            self._setup_suppliers()
            self._setup_firms()
            self.cells = build_cell_list(self.firms.x, self.firms.y, self.firms.alive,
                                         params.world.world_size, params.cooperation.tie_radius)
            if params.switches.cooperation and params.world.initial_tie_share > 0:
                cooperation.form_ties(self.firms, self.ties, self.cells, params.cooperation,
                                      self.stream_key, 0, meet_prob=params.world.initial_tie_share)
            self.recorder = collect.Recorder()
            self.datacollector = collect.mesa_datacollector()
            self.books = {}  # the initial firms are the starting stock, not this month's entrants
            self.capital_before = None  # nor has their capital changed yet
            # the set-up state is recorded before the burn-in's months
            self.steps = -self.burn_in - 1 if self.burn_in > 0 else 0
            self.recorder.record(self, entries=0, exits=0)
            self.steps = 0
            if self.burn_in <= 0:  # Mesa's DataCollector keeps one row a month from month 0
                self.datacollector.collect(self)
        finally:
            numba.set_num_threads(outer_threads)
        self._burn_in()
        # month 0, after the burn-in: what survival and jobs created are counted against
        self.initial_firm_ids = self.firms.firm_id[self.firms.alive].copy()
        self.initial_employment = float(self.firms.employees[self.firms.alive].sum())

    # ------------------------------------------------------------------------------------------
    def step(self) -> None:
        """One month, in the order of the model description (docs/ODD.md, Process overview)."""
        self._month(policies=True)

    @property
    def clock(self) -> int:
        """Months since set-up, burn-in included: the month every per-firm draw is keyed by."""
        return self.steps + self.burn_in

    def _month(self, policies: bool) -> None:
        """One month; ``policies`` False during the burn-in (no intervention acts)."""
        p, t, clock = self.params, self.steps, self.clock
        self.public_step = 0.0
        self.books = {"contributions": 0.0, "entry_capital": 0.0, "exit_capital": 0.0}
        outer_threads = self._set_threads()  # first: every kernel of the step runs on them
        #: live firms' capital at the start of the month: the recorder's row reports the change
        self.capital_before = float(metrics.alive_totals(self.firms.alive, self.firms.capital)[0])
        self._t_last = time.perf_counter()

        if policies:  # scheduled interventions set modifiers and act on firms
            self._apply_policies(t)
        self._tick("policy")
        self.cells = build_cell_list(self.firms.x, self.firms.y, self.firms.alive,
                                     p.world.world_size, p.cooperation.tie_radius)
        if p.switches.cooperation:  # play with partners; trust, learning, spillovers, ties
            self.books.update(cooperation.step(self.firms, self.ties, self.cells,
                                               p.cooperation, self.stream_key, clock))
        else:
            self.firms.coop_income.fill(0.0)
        self._tick("cooperation")
        if p.switches.suppliers:  # choose suppliers by delivered cost; purchasing groups
            books, self.tmp["unit_input_cost"] = suppliers.step(
                self.firms, self.ties, self.suppliers, self.world_arrays, self.mods,
                p.suppliers, p.switches.joint_purchasing, self.stream_key, clock)
            self.books.update(books)
        self._tick("suppliers")
        if p.switches.facilities:  # pledge drives, construction, use and upkeep of facilities
            self.books.update(facilities.step(self, t))
            self._sync_facility_agents()
        self._tick("facilities")
        # output, prices, congestion, costs, profit -> capital, owners' drawings, labour gap
        self.books.update(market.step(self, clock))
        if self.books["interest_subsidy"] > 0:  # the public's share of interest, by programme
            self._book_by_credit_policy(self.firms.alive, self.tmp["interest_subsidy"])
        if p.switches.suppliers:  # suppliers' volumes, hence next month's prices
            suppliers.update_volumes(self.firms, self.suppliers, self.world_arrays["sector_ipo"],
                                     p.suppliers.volume_memory, p.suppliers.supplier_expansion)
        self._tick("market")
        # employment follows the labour gap, financed from capital; productivity shocks
        self.books["investment"] = (demography.grow(self.firms, p.demography,
                                                    self.tmp["labour_gap"],
                                                    self.world_arrays["sector_productivity"],
                                                    self.world_arrays["sector_productivity_sd"],
                                                    p.market.labour_elasticity,
                                                    self.stream_key, clock)
                                    if p.switches.growth else 0.0)
        leaving = (demography.exits(self.firms, p.demography, self.stream_key, clock)
                   if p.switches.exit else np.zeros(0, dtype=np.int64))
        self._remove_firms(leaving)
        n_entries = self._enter() if p.switches.entry else 0
        demography.age(self.firms)

        self.public_total += self.public_step
        self._tick("demography")
        # the recorder charges its own time, to "metrics" and "data collection"
        self.recorder.record(self, entries=n_entries, exits=int(leaving.size))
        self._t_last = time.perf_counter()
        if policies:  # the main series again, for Mesa's tools (from month 0, not the burn-in)
            self.datacollector.collect(self)
            self._tick("data collection")
        numba.set_num_threads(outer_threads)

    def _burn_in(self) -> None:
        """Run the burn-in: ``burn_in`` months without interventions, recorded at steps
        -burn_in..-1 (flagged in the series; the set-up state at -burn_in-1), so that month 0
        is the model's own state. Month 0 is then recorded as a start, with no flows."""
        months = self.burn_in
        if months <= 0:
            return
        self.steps = -months - 1
        for _ in range(months):
            self.steps += 1
            self._month(policies=False)
        self.steps = 0
        self.books = {}
        self.capital_before = None
        self.public_step = 0.0
        outer_threads = self._set_threads()  # the recorder's kernels run on the steps' threads
        try:
            self.recorder.record(self, entries=0, exits=0)
            self.datacollector.collect(self)
        finally:
            numba.set_num_threads(outer_threads)

    def _set_threads(self, slots: int | None = None) -> int:
        """Choose the numba threads for this step (or the set-up, of ``slots`` firm slots);
        returns the setting to restore afterwards."""
        outer = numba.get_num_threads()
        wanted = 1 if self.threads is None else self.threads
        slots = self.firms.capacity if slots is None else slots
        if slots < PARALLEL_MIN_FIRMS:  # looked up at call time (tests set it)
            wanted = 1
        numba.set_num_threads(max(1, min(wanted, numba.config.NUMBA_NUM_THREADS)))
        return outer

    def _tick(self, phase: str, exclude: float = 0.0) -> None:
        """Charge the time since the last tick to ``phase`` (when timing is on)."""
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[phase] = self.timings.get(phase, 0.0) + now - self._t_last - exclude
            self._t_last = now

    # -- public accounts ------------------------------------------------------------------------
    def book_public(self, account: str, amount: float) -> None:
        """Record public spending this month under ``account`` (an intervention's name)."""
        self.public_step += amount
        self.public_by[account] += amount
        for sch in self.schedules:
            if sch.spec.name == account:
                sch.spent += amount

    # -- outputs --------------------------------------------------------------------------------
    def series(self, burn_in: bool = False):
        """Per-step outputs as a pandas DataFrame (one row per step, from step 0; with
        ``burn_in``, the burn-in's months too, at negative steps, flagged ``burn_in``)."""
        return self.recorder.dataframe(burn_in)

    def firm_table(self):
        """The live firms as a pandas DataFrame, one row per firm."""
        return collect.firm_table(self)

    def _repr_html_(self) -> str:  # a short summary in notebooks
        from sim.views.notebook import model_html

        return model_html(self)

    def final_outcomes(self) -> dict[str, float]:
        """Final values of every series plus per-run outcomes (survival, time to facility...)."""
        return collect.final_outcomes(self)

    # -- set-up ---------------------------------------------------------------------------------
    def _setup_world_arrays(self) -> None:
        w = self.world
        infra = w.region_array("infrastructure")
        self.world_arrays = {
            "region_x": w.region_array("x"),
            "region_y": w.region_array("y"),
            "region_radius": w.region_array("radius"),
            "land_cost": w.region_array("land_cost"),
            "market_access": w.region_array("market_access"),
            "wage_index": w.region_array("wage_index"),
            "infra_factor": suppliers.infra_factor(infra),
            "sector_input": w.sector_input_codes(),
            "sector_ipo": w.sector_array("input_per_output"),
            "sector_wpo": w.sector_array("waste_per_output"),
            "sector_input_price": w.sector_array("input_price"),
            "sector_price": w.sector_array("price"),
            "sector_weight": w.sector_array("demand_weight"),
            "sector_productivity": w.sector_array("productivity"),
            "sector_productivity_sd": w.sector_array("productivity_sd"),
            "sector_size_floor": w.sector_array("size_floor"),
        }
        self.sector_price = self.world_arrays["sector_price"].copy()

    def _setup_suppliers(self) -> None:
        """``suppliers_per_input`` suppliers of each input, spread over the regions in turn."""
        sp, w = self.params.suppliers, self.world
        n_in, n_reg = len(w.inputs), len(w.regions)
        per = sp.suppliers_per_input
        input_code = np.repeat(np.arange(n_in), per)
        region = (np.arange(n_in * per) + input_code) % n_reg
        x, y = demography.place(self.rng, region, self.world_arrays, self.params.world.world_size)
        base = np.zeros(n_in * per)
        for s in w.sectors:  # an input's base price is that of the sectors that buy it
            base[input_code == w.inputs.index(s.input)] = s.input_price
        base *= np.exp(0.05 * self.rng.standard_normal(base.size))
        self.suppliers = SupplierState(x=x, y=y, region=region.astype(np.int64),
                                       input=input_code.astype(np.int64), base_price=base,
                                       volume=np.ones(base.size),  # set with the firms
                                       price=base.copy())
        order = np.argsort(input_code, kind="stable")
        self.world_arrays["by_input"] = order.astype(np.int64)
        self.world_arrays["by_input_start"] = np.concatenate(
            [[0], np.cumsum(np.bincount(input_code, minlength=n_in))]).astype(np.int64)
        if self.use_agents:
            for k in range(base.size):
                SupplierAgent(self, k)

    def _setup_firms(self) -> None:
        p, w = self.params, self.world
        if w.firms:
            region = np.concatenate([np.full(g.count, w.region_index(g.region)) for g in w.firms])
            sector = np.concatenate([np.full(g.count, w.sector_index(g.sector)) for g in w.firms])
            tails = np.concatenate([np.full(g.count, g.size_tail or p.demography.size_tail)
                                    for g in w.firms])
        else:
            n = p.world.n_firms
            weights = self.world_arrays["sector_weight"]
            region = self.rng.integers(0, len(w.regions), size=n)
            sector = self.rng.choice(len(w.sectors), size=n, p=weights / weights.sum())
            tails = np.full(n, p.demography.size_tail)
        region = region.astype(np.int64)
        sector = sector.astype(np.int64)
        n = region.size
        # the dartboard's regional probabilities: each region's share of the initial firms
        counts = np.bincount(region, minlength=len(w.regions)).astype(np.float64)
        self.dartboard_probs = (counts / counts.sum() if counts.sum() > 0
                                else np.full(len(w.regions), 1.0 / len(w.regions)))
        self.firms = FirmState.empty(max(n, 16))
        self.ties = TieState.empty(self.firms.capacity, p.world.max_ties)
        floor = np.maximum(self.world_arrays["sector_size_floor"][sector],
                           max(p.demography.min_size, 1.0))
        sizes = np.minimum(floor * (1.0 - self.rng.random(n)) ** (-1.0 / tails),
                           p.demography.max_size)
        slots = self._create_firms(region, sector, sizes, parent=np.full(n, -1, dtype=np.int64),
                                   t=0)
        # the initial firms have histories: a firm already losing money has been doing so for a
        # while, so their exits spread over the first year instead of all falling in month 12
        self.firms.loss_streak[slots] = self.rng.integers(0, p.demography.exit_patience, size=n)
        # neighbours in space become neighbours in memory: partners (who are neighbours) then
        # share cache lines, which makes every per-tie kernel several times faster on big models
        self.firms.reorder(slots[spatial_order(self.firms.x[slots], self.firms.y[slots],
                                               p.world.world_size)])
        # demand at the base price: the initial output of each sector (so prices start near base)
        f, theta = self.firms, p.market.labour_elasticity
        q_firm = f.productivity * f.talent * f.employees ** theta
        q = market.sector_output(f.alive, f.sector, q_firm, len(w.sectors))
        mean_q = float(q.sum() / max(n, 1)) if n else 1.0
        self.demand0 = np.where(q > 0, q, mean_q * self.world_arrays["sector_weight"])
        # congestion and localisation are measured against the start (sim.mechanisms.market),
        # floored at a quarter of an even spread so that a region or sector starting empty stays
        # finite
        n_s, n_r = len(w.sectors), len(w.regions)
        emp = market.employment_by(f, n_s, n_r)
        total = max(float(emp.sum()), 1.0)
        self.emp0 = np.maximum(emp, 0.25 * total / (n_s * n_r))
        self.emp0_region = np.maximum(emp.sum(axis=0), 0.25 * total / n_r)
        self.localisation = np.ones((n_s, n_r))
        self.wage_mult = np.ones(n_r)
        self.rent_mult = np.ones(n_r)
        # suppliers' reference volume: reference_volume times the mean initial volume per
        # supplier of the input, so that prices do not depend on how many firms are simulated
        sup, wa = self.suppliers, self.world_arrays
        by_input = np.bincount(wa["sector_input"], weights=q * wa["sector_ipo"],
                               minlength=len(w.inputs))
        per = np.bincount(sup.input, minlength=len(w.inputs)).astype(np.float64)
        mean_volume = np.where(by_input > 0, by_input / np.maximum(per, 1.0), 1.0)[sup.input]
        sup.ref_volume = p.suppliers.reference_volume * mean_volume
        sup.capacity = p.suppliers.supplier_capacity * sup.ref_volume
        sup.volume = mean_volume.copy()

    def _create_firms(self, region, sector, sizes, parent, t: int) -> np.ndarray:
        """Fill free slots with new firms; returns their slots. Parents pass on traits."""
        p, f, w = self.params, self.firms, self.world_arrays
        n = region.size
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        slots = f.free_slots(n)
        if self.ties.partner.shape[0] < f.capacity:
            self.ties.grow(f.capacity)
        if len(self._firm_agents) < f.capacity:
            self._firm_agents.extend([None] * (f.capacity - len(self._firm_agents)))
        rng, cp = self.rng, p.cooperation
        x, y = demography.place(rng, region, w, p.world.world_size)
        has_parent = parent >= 0
        # spin-offs start next to their parent and inherit its know-how and attitude
        dp = p.demography
        spread = dp.spinoff_spread
        x[has_parent] = np.clip(f.x[parent[has_parent]] + spread * rng.standard_normal(
            has_parent.sum()), 0.0, p.world.world_size)
        y[has_parent] = np.clip(f.y[parent[has_parent]] + spread * rng.standard_normal(
            has_parent.sum()), 0.0, p.world.world_size)
        sect = self.world.sectors
        mu = np.array([s.productivity for s in sect])[sector]
        sd = np.array([s.productivity_sd for s in sect])[sector]
        prod = mu * np.exp(sd * rng.standard_normal(n) - 0.5 * sd * sd)
        prod[has_parent] = f.productivity[parent[has_parent]] * np.exp(
            dp.spinoff_productivity_sd * rng.standard_normal(has_parent.sum()))
        talent = self._talent(region, sector, mu, sizes)
        # what the owner's talent truly is, learnt over the firm's first years (Jovanovic 1982)
        talent_gap = (dp.talent_uncertainty * rng.standard_normal(n)
                      if dp.talent_uncertainty > 0 else np.zeros(n))
        will = np.clip(cp.willingness_mean + cp.willingness_sd * rng.standard_normal(n), 0, 1)
        will[has_parent] = f.willingness[parent[has_parent]]
        fp = p.facilities
        theta = fp.pledge_threshold_mean + fp.pledge_threshold_sd * rng.standard_normal(n)

        f.alive[slots] = True
        f.firm_id[slots] = np.arange(self._next_firm_id, self._next_firm_id + n)
        self._next_firm_id += n
        f.region[slots], f.sector[slots] = region, sector
        f.x[slots], f.y[slots] = x, y
        f.employees[slots] = sizes
        f.desired[slots] = sizes
        f.productivity[slots] = prod
        f.talent[slots] = talent
        f.talent_gap[slots] = talent_gap
        f.willingness[slots] = will
        f.reputation[slots] = will  # newcomers are known by their declared attitude
        f.pledge_threshold[slots] = theta
        f.born[slots] = t
        # starting capital: some months of expected revenue at the base price
        rev = (prod * talent * sizes ** p.market.labour_elasticity * w["sector_price"][sector]
               * w["market_access"][region])
        f.capital[slots] = p.demography.initial_capital_months * rev
        f.revenue[slots] = rev
        self.books["entry_capital"] = self.books.get("entry_capital", 0.0) + float(
            f.capital[slots].sum())
        self._firm_views_stale = self.use_agents  # views are made when agents are next read
        return slots

    def _talent(self, region, sector, prod, sizes) -> np.ndarray:
        """Owners' talent: a firm of its sector's mean productivity ``prod`` would, at base
        prices and costs, find its drawn size ``sizes`` the one at which a worker is worth what
        a worker costs (labour gap 0). A firm more (less) productive than its sector's mean is
        born wanting to be larger (smaller), so the productivity spread the shocks keep in the
        long run is there from the start, and the burn-in lets sizes settle.

        With ``q = A T L^theta`` and ``u`` the value added per unit of output at base prices,
        the gap is 0 at ``L`` when ``T = w L^(1 - theta) / (theta u A)``."""
        mp, w = self.params.market, self.world_arrays
        theta = mp.labour_elasticity
        unit_value = (w["sector_price"][sector] * w["market_access"][region]
                      * (1.0 - mp.transport_share * w["infra_factor"][region])
                      - w["sector_ipo"][sector] * w["sector_input_price"][sector]
                      - w["sector_wpo"][sector] * mp.waste_cost)
        per_worker = mp.wage * w["wage_index"][region] + w["land_cost"][region]
        ok = (unit_value > 0) & (prod > 0)
        talent = sizes ** (1.0 - theta)  # a sector that cannot cover its inputs: no calibration
        talent[ok] *= per_worker[ok] / (theta * unit_value[ok] * prod[ok])
        return talent

    # -- demography -----------------------------------------------------------------------------
    def _remove_firms(self, idx: np.ndarray) -> None:
        if idx.size == 0:
            return
        self.books["exit_capital"] += float(self.firms.capital[idx].sum())
        f = self.firms  # a guarantee pays its share of a failed firm's debt
        failed = np.zeros(f.capacity, dtype=np.bool_)
        failed[idx[(f.credit_policy[idx] >= 0) & (f.capital[idx] < 0)]] = True
        if failed.any():
            self._book_by_credit_policy(failed, f.guarantee_cover * -f.capital)
        cooperation.drop_ties(self.ties, idx)
        self.ties.trust[idx] = 0.0
        self.firms.clear(idx)
        if self.use_agents:
            t0 = time.perf_counter()
            views = self._firm_agents
            for s in idx.tolist():  # Python ints: indexing a list with numpy ones is slow
                agent = views[s]
                if agent is not None:
                    agent.remove()
                    views[s] = None
            self._charge_agents(time.perf_counter() - t0)

    def _book_by_credit_policy(self, mask: np.ndarray, amount: np.ndarray) -> None:
        """Book ``amount[i]`` for the firms in ``mask`` to the credit intervention covering each."""
        pol = self.firms.credit_policy
        take = mask & (pol >= 0) & (amount > 0)
        if not take.any():
            return
        totals = np.bincount(pol[take], weights=amount[take], minlength=len(self.schedules))
        for k in np.flatnonzero(totals):
            self.book_public(self.schedules[k].spec.name, float(totals[k]))

    def _charge_agents(self, seconds: float) -> None:
        """Book Mesa agent bookkeeping apart from the phase it happens in."""
        if self.timings is not None:
            self.timings["agents"] = self.timings.get("agents", 0.0) + seconds
            self._t_last += seconds

    def _enter(self) -> int:
        p = self.params
        new = demography.entry(self, self.rng, self.stream_key, self.clock)
        n = new["region"].size
        if n == 0:
            return 0
        sizes = demography.pareto_sizes(self.rng, n, p.demography.size_tail,
                                         p.demography.min_size, p.demography.max_size)
        sizes = np.minimum(sizes * self.world_arrays["sector_size_floor"][new["sector"]],
                           p.demography.max_size)
        if p.demography.entry_mode == "attraction":  # outsiders enter only where they would earn
            keep = (new["parent"] >= 0) | demography.viable(self, new["region"], new["sector"],
                                                             sizes)
            if not keep.all():
                new = {k: v[keep] for k, v in new.items()}
                sizes = sizes[keep]
                n = sizes.size
                if n == 0:
                    return 0
        slots = self._create_firms(new["region"], new["sector"], sizes, new["parent"], self.steps)
        # a spin-off keeps a tie with its parent
        spin = new["parent"] >= 0
        if spin.any() and p.switches.cooperation:
            cooperation.add_tie(self.ties, slots[spin], new["parent"][spin],
                                p.cooperation.initial_trust, p.cooperation.initial_trust)
        return n

    # -- policy ---------------------------------------------------------------------------------
    def _apply_policies(self, t: int) -> None:
        """Start, apply and end the scheduled interventions, in the scenario's order."""
        self.mods.reset()
        latest = self.recorder.latest
        by_name = {s.spec.name: s for s in self.schedules}
        for sch in self.schedules:
            spec = sch.spec
            if not sch.active and not sch.ended:
                ready = t >= spec.start and (spec.end < 0 or t < spec.end)
                if ready and spec.after:
                    ready = by_name[spec.after].ended
                if ready and spec.when_metric:
                    ready = latest.get(spec.when_metric, -np.inf) >= spec.when_at_least
                if ready:
                    sch.active, sch.started_at = True, t
                    spec.on_start(self, sch)
            if sch.active:
                over = ((spec.end >= 0 and t >= spec.end)
                        or (spec.duration >= 0 and t >= sch.started_at + spec.duration)
                        or sch.remaining_budget() <= 0.0)
                if over:
                    sch.active, sch.ended_at = False, t
                    spec.on_end(self, sch)
                else:
                    spec.apply(self, sch)

    # -- Mesa agent views -------------------------------------------------------------------------
    @property
    def agents(self) -> mesa.agent.AgentSet:
        """All agents (firm, supplier and facility views); firm views are brought up to date."""
        self._sync_firm_agents()
        return super().agents

    @property
    def agents_by_type(self) -> dict:
        self._sync_firm_agents()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        self._sync_firm_agents()
        return super().agent_types

    def _sync_firm_agents(self) -> None:
        """Give every live firm without one a FirmAgent view, in slot order."""
        if not self._firm_views_stale:
            return
        self._firm_views_stale = False
        t0 = time.perf_counter()
        views = self._firm_agents
        for s in np.flatnonzero(self.firms.alive).tolist():
            if views[s] is None:
                views[s] = FirmAgent(self, s)
        self._charge_agents(time.perf_counter() - t0)

    def _sync_facility_agents(self) -> None:
        if self.use_agents:
            while len(self._facility_agents) < self.facilities.n:
                self._facility_agents.append(FacilityAgent(self, len(self._facility_agents)))
