"""The cluster model: MSMEs that cooperate, share suppliers and build joint infrastructure.

:class:`ClusterModel` is a Mesa model whose state lives in structures of arrays
(:mod:`sim.core.state`); each mechanism is a module of :mod:`sim.mechanisms` with a small function
of (state, params, rng) (cooperation, suppliers, facilities, market, demography) behind a switch in
:class:`sim.core.params.Switches`, and firms are born and leave through
:mod:`sim.mechanisms.population`. A month's phases hand each other a typed
:class:`sim.core.month.Month` and book into :class:`sim.core.month.Books`; interventions act
through a narrow :class:`sim.interventions.context.PolicyContext`. Firms are also Mesa agents
(:class:`sim.agents.FirmAgent`), thin views that hold a slot index.

All randomness comes from ``self.rng``, the one :class:`numpy.random.Generator` Mesa builds from
the ``rng`` argument. Per-firm draws are counter-based (:mod:`sim.core.streams`): a pure function of
a key drawn once from ``self.rng``, the month, the kind of draw and the firm, computed inside the
parallel kernels; the few other draws (entrants, interventions) come from ``self.rng`` in a
fixed order. One seed gives bit-identical runs whatever the number of numba threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import mesa
import numba
import numpy as np

from sim.agents import FacilityAgent, FirmAgent, SupplierAgent
from sim.core import streams
from sim.core.month import Books, Month
from sim.core.parallel import set_threads
from sim.core.params import Params
from sim.core.spatial import build_cell_list
from sim.core.state import FacilityState, Modifiers
from sim.core.world import World, default_world
from sim.interventions.base import Intervention, Schedule
from sim.interventions.context import PolicyContext
from sim.measure import collect, metrics
from sim.measure.outputs import series_names
from sim.mechanisms import cooperation, demography, facilities, market, suppliers
from sim.mechanisms.population import Population

__all__ = ["ClusterModel", "PARALLEL_MIN_FIRMS"]

#: Below this many firm slots the kernels run on one thread: handing work to other threads
#: costs more than it saves on small arrays (results are the same either way).
PARALLEL_MIN_FIRMS = 20_000

#: The context of a phase when nobody times the phases (reentrant, shared)
_UNTIMED = nullcontext()


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
    recording : sim.measure.collect.Recording, optional
        Which per-step outputs to keep and how often (default: every output, every month,
        burn-in included). A calibration that needs a few series, or a sweep that needs the
        final state, skips the indicators nobody reads; the values kept, and
        :meth:`final_outcomes`, are the default's to the bit. Call :meth:`finish` at the end of
        a run to keep its last month.
    **kwargs
        Parameter overrides by bare or dotted name, e.g. ``ClusterModel(n_firms=200, rng=1)``
        (named ``kwargs`` because Mesa's SolaraViz skips only a catch-all of that name).

    Attributes
    ----------
    firms, ties, suppliers, facilities : sim.core.state arrays
        The state (structures of arrays).
    population : sim.mechanisms.population.Population
        Births and deaths of firms (the next firm id, the dartboard's probabilities).
    market : sim.mechanisms.market.MarketState
        Prices, congestion and localisation of this month, and the references of the start.
    month : sim.core.month.Month
        What the phases of the month handed each other (the last month's, between steps).
    books : sim.core.month.Books
        The public account (kept over the run) and the month's private one.
    recorder : sim.measure.collect.Recorder
        The per-step outputs the recording keeps (``model.series()``).
    datacollector : mesa.DataCollector
        The main series (:data:`sim.measure.collect.MESA_SERIES`) for Mesa's own tools
        (``mesa.batch_run``, ``make_plot_component``), collected at set-up and every step
        (unless the recording says ``mesa=False``).
    """

    def __init__(self, params: Params | None = None, world: World | None = None,
                 interventions: tuple[Intervention, ...] | list[Intervention] = (), *,
                 rng: Any = None, agents: bool = True, threads: int | None = None,
                 seed: Any = None, recording: collect.Recording | None = None,
                 **kwargs: Any):
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
        if recording is not None and not isinstance(recording, collect.Recording):
            raise TypeError(f"ClusterModel: recording must be a sim.measure.collect.Recording, "
                            f"got {type(recording).__name__}")
        self.recording = recording or collect.Recording()
        self.recording.check(series_names(self.world))
        self.world_arrays = build_world_arrays(self.world)
        self.mods = Modifiers.neutral(len(self.world.regions), len(self.world.sectors),
                                      len(self.world.inputs))
        #: what one phase of the month hands the next (sim.core.month.Month)
        self.month = Month()
        #: the public account (kept over the run) and the month's private one
        self.books = Books()
        self.facilities = FacilityState()
        self.first_facility_step = -1
        self.schedules = [Schedule(spec) for spec in interventions]
        #: what the interventions of one kind share over the run (sim.interventions.context)
        self._policy_shared: dict[str, Any] = {}
        self._firm_agents: list[FirmAgent | None] = []
        self._firm_views_stale = False  # live firms without a FirmAgent view yet
        #: seconds spent per phase, summed over steps; None (the default) skips the timing
        self.timings: dict[str, float] | None = None
        self._agent_seconds = 0.0  # Mesa agent bookkeeping, charged apart from the phases
        self._facility_agents: list[FacilityAgent] = []

        # the set-up runs kernels too: on the threads the steps will use (and so, on one thread,
        # their serial builds: sim.core.parallel)
        n_initial = sum(g.count for g in self.world.firms) if self.world.firms else (
            params.world.n_firms)
        outer_threads = self._set_threads(n_initial)
        try:
            self._set_up()
        finally:
            set_threads(outer_threads)
        self._burn_in()
        # month 0, after the burn-in: what survival and jobs created are counted against
        self.initial_firm_ids = self.firms.firm_id[self.firms.alive].copy()
        self.initial_employment = float(self.firms.employees[self.firms.alive].sum())

    def _set_up(self) -> None:
        """Initialisation (docs/ODD.md, section 5), in the order of its draws: suppliers, firms,
        the market's and the suppliers' references, the initial ties."""
        p, w = self.params, self.world
        self.suppliers = suppliers.setup(p.suppliers, w, self.world_arrays,
                                         p.world.world_size, self.rng)
        if self.use_agents:
            for k in range(self.suppliers.n):
                SupplierAgent(self, k)
        self.population = Population(p, w, self.world_arrays, self.rng)
        self.firms, self.ties = self.population.initial(self.books)
        self._firm_views_stale = self.use_agents  # views are made when agents are next read
        # the market's references (demand at the base price, employment at the start) and the
        # suppliers' reference volumes, from the initial firms' output
        q = market.initial_output(self.firms, p.market.labour_elasticity, len(w.sectors))
        self.market = market.MarketState.at_start(self.firms, q, self.world_arrays,
                                                  len(w.sectors), len(w.regions))
        suppliers.set_reference_volumes(self.suppliers, q, self.world_arrays, p.suppliers,
                                        len(w.inputs))
        self.cells = build_cell_list(self.firms.x, self.firms.y, self.firms.alive,
                                     p.world.world_size, p.cooperation.tie_radius)
        if p.switches.cooperation and p.world.initial_tie_share > 0:
            cooperation.form_ties(self.firms, self.ties, self.cells, p.cooperation,
                                  self.stream_key, 0, meet_prob=p.world.initial_tie_share)
        # what interventions read during the run is computed every month, whatever is kept
        watch = tuple(sch.spec.when_metric for sch in self.schedules if sch.spec.when_metric)
        self.recorder = collect.Recorder(self.recording, watch)
        self.datacollector = collect.mesa_datacollector()
        # the initial firms are the starting stock, not this month's entrants, nor has their
        # capital changed yet
        self.books.open_month()
        # the set-up state is recorded before the burn-in's months
        self.steps = -self.burn_in - 1 if self.burn_in > 0 else 0
        self.recorder.record(self, entries=0, exits=0)
        self.steps = 0
        if self.burn_in <= 0 and self.recording.mesa:  # one row a month from month 0
            self.datacollector.collect(self)

    # ------------------------------------------------------------------------------------------
    def step(self) -> None:
        """One month, in the order of the model description (docs/ODD.md, Process overview)."""
        self._month(policies=True)

    @property
    def clock(self) -> int:
        """Months since set-up, burn-in included: the month every per-firm draw is keyed by."""
        return self.steps + self.burn_in

    def _month(self, policies: bool) -> None:
        """One month (docs/ODD.md, section 3); ``policies`` False during the burn-in (no
        intervention acts)."""
        p, firms, clock, on = self.params, self.firms, self.clock, self.params.switches
        outer_threads = self._set_threads()  # first: every kernel of the month runs on them
        # a fresh month, and books opened with live firms' capital (the recorder reports its
        # change)
        month = self.month = self.month.next()
        self.books.open_month(float(metrics.alive_totals(firms.alive, firms.capital)[0]))
        books = self.books.private

        with self._phase("policy"):  # scheduled interventions set modifiers and act on firms
            if policies:
                self._apply_policies(self.steps)
        with self._phase("cooperation"):  # play with partners; trust, learning, spillovers, ties
            self.cells = build_cell_list(firms.x, firms.y, firms.alive, p.world.world_size,
                                         p.cooperation.tie_radius)
            if on.cooperation:
                books.record(cooperation.step(firms, self.ties, self.cells, p.cooperation,
                                              self.stream_key, clock))
            else:
                firms.coop_income.fill(0.0)
        with self._phase("suppliers"):  # choose suppliers by delivered cost; purchasing groups
            if on.suppliers:
                flows, month.unit_input_cost = suppliers.step(
                    firms, self.ties, self.suppliers, self.world_arrays, self.mods, p.suppliers,
                    on.joint_purchasing, self.stream_key, clock)
                books.record(flows)
        with self._phase("facilities"):  # pledge drives, construction, use, upkeep
            if on.facilities:
                books.record(facilities.step(self, month, self.steps))
                self._sync_facility_agents()
        with self._phase("market"):
            # output, prices, congestion, costs, profit -> capital, owners' drawings, labour gap
            books.record(market.step(self, self.market, month, clock))
            self._policy_books(month)  # what the month's accounts owe interventions (credit)
            if on.suppliers:  # suppliers' volumes, hence next month's prices
                books.supplier_margin = suppliers.update_volumes(
                    firms, self.suppliers, self.world_arrays["sector_ipo"],
                    p.suppliers.volume_memory, p.suppliers.supplier_expansion)
        with self._phase("demography"):
            # employment follows the labour gap, financed from capital; productivity shocks
            if on.growth:
                books.investment = demography.grow(
                    firms, p.demography, month.labour_gap, self.world_arrays["sector_productivity"],
                    self.world_arrays["sector_productivity_sd"], p.market.labour_elasticity,
                    self.stream_key, clock)
            leaving = (demography.exits(firms, p.demography, self.stream_key, clock)
                       if on.exit else np.zeros(0, dtype=np.int64))
            self._remove_firms(leaving)
            entrants = (self.population.enter(self, self.market, self.books) if on.entry
                        else np.zeros(0, dtype=np.int64))
            if entrants.size:
                self._firm_views_stale = self.use_agents  # made when agents are next read
            demography.age(firms)
            self.books.public.close_month()
        # the recorder charges its own time, to "metrics" and "data collection"
        self.recorder.record(self, entries=int(entrants.size), exits=int(leaving.size))
        if policies and self.recording.mesa:  # the main series, for Mesa's tools (from month 0)
            with self._phase("data collection"):
                self.datacollector.collect(self)
        set_threads(outer_threads)

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
        self.books.open_month()
        outer_threads = self._set_threads()  # the recorder's kernels run on the steps' threads
        try:
            self.recorder.record(self, entries=0, exits=0)
            if self.recording.mesa:
                self.datacollector.collect(self)
        finally:
            set_threads(outer_threads)

    def _set_threads(self, slots: int | None = None) -> int:
        """Choose the numba threads for this step (or the set-up, of ``slots`` firm slots);
        returns the setting to restore afterwards."""
        wanted = 1 if self.threads is None else self.threads
        slots = self.firms.capacity if slots is None else slots
        if slots < PARALLEL_MIN_FIRMS:  # looked up at call time (tests set it)
            wanted = 1
        # through sim.core.parallel, so that its kernels know their build without a look-up
        return set_threads(max(1, min(wanted, numba.config.NUMBA_NUM_THREADS)))

    def _phase(self, name: str) -> AbstractContextManager[None]:
        """Charge the time the block takes to phase ``name`` (when timing is on), less the
        Mesa agent bookkeeping inside it (charged to "agents"); without timing, a context that
        does nothing (a month enters seven)."""
        if self.timings is None:
            return _UNTIMED
        return self._timed_phase(name)

    @contextmanager
    def _timed_phase(self, name: str) -> Iterator[None]:
        """:meth:`_phase` when timing is on."""
        t0, agents0 = time.perf_counter(), self._agent_seconds
        try:
            yield
        finally:
            spent = time.perf_counter() - t0 - (self._agent_seconds - agents0)
            self.timings[name] = self.timings.get(name, 0.0) + spent

    def _charge_agents(self, seconds: float) -> None:
        """Book Mesa agent bookkeeping apart from the phase it happens in."""
        self._agent_seconds += seconds
        if self.timings is not None:
            self.timings["agents"] = self.timings.get("agents", 0.0) + seconds

    # -- firms leave ------------------------------------------------------------------------------
    def _remove_firms(self, idx: np.ndarray) -> None:
        """The firms of slots ``idx`` leave: interventions settle with them (a guarantee pays its
        share of a failed firm's debt), then the population frees their slots and their views
        go."""
        if idx.size == 0:
            return
        started = [sch for sch in self.schedules if sch.started_at >= 0]
        if started:
            ctx = self.policy_context()
            for sch in started:
                sch.spec.on_exit(ctx, sch, idx)
        self.population.remove(self.firms, self.ties, idx, self.books)
        if self.use_agents:
            t0 = time.perf_counter()
            views = self._firm_views()
            for s in idx.tolist():  # Python ints: indexing a list with numpy ones is slow
                agent = views[s]
                if agent is not None:
                    agent.remove()
                    views[s] = None
            self._charge_agents(time.perf_counter() - t0)

    # -- policy ---------------------------------------------------------------------------------
    def policy_context(self) -> PolicyContext:
        """What interventions see of the model this month (sim.interventions.context)."""
        return PolicyContext(steps=self.steps, firms=self.firms, ties=self.ties, mods=self.mods,
                             facilities=self.facilities, world=self.world, params=self.params,
                             rng=self.rng, book_public=self.book_public,
                             shared=self._policy_shared)

    def book_public(self, account: str, amount: float) -> None:
        """Record public spending this month under ``account`` (an intervention's name), and
        charge it to that intervention's budget."""
        self.books.public.book(account, amount)
        for sch in self.schedules:
            if sch.spec.name == account:
                sch.spent += amount

    def _apply_policies(self, t: int) -> None:
        """Start, apply and end the scheduled interventions, in the scenario's order."""
        self.mods.reset()
        if not self.schedules:
            return
        ctx = self.policy_context()
        for sch in self.schedules:
            spec = sch.spec
            if not sch.active and not sch.ended and self._ready(sch, t):
                sch.active, sch.started_at = True, t
                spec.on_start(ctx, sch)
            if sch.active:
                if self._over(sch, t):
                    sch.active, sch.ended_at = False, t
                    spec.on_end(ctx, sch)
                else:
                    spec.apply(ctx, sch)

    def _ready(self, sch: Schedule, t: int) -> bool:
        """Whether an intervention not yet started starts in month ``t``: within its window,
        after the one it follows has ended, once its metric has reached its threshold."""
        spec = sch.spec
        if t < spec.start or (spec.end >= 0 and t >= spec.end):
            return False
        if spec.after and not next(s for s in self.schedules if s.spec.name == spec.after).ended:
            return False
        return not spec.when_metric or (
            self.recorder.latest.get(spec.when_metric, -np.inf) >= spec.when_at_least)

    @staticmethod
    def _over(sch: Schedule, t: int) -> bool:
        """Whether an active intervention ends in month ``t``: its end, its duration or its
        budget is reached."""
        spec = sch.spec
        return ((spec.end >= 0 and t >= spec.end)
                or (spec.duration >= 0 and t >= sch.started_at + spec.duration)
                or sch.remaining_budget() <= 0.0)

    def _policy_books(self, month: Month) -> None:
        """Interventions book what the month's accounts owe them (credit: the interest the
        public pays), in the scenario's order."""
        ctx = None
        for sch in self.schedules:
            if sch.started_at >= 0:
                ctx = ctx or self.policy_context()
                sch.spec.books(ctx, sch, month)

    # -- outputs --------------------------------------------------------------------------------
    def finish(self) -> None:
        """End a run: keep the current month's row if the recording skipped it (a recording
        at a frequency that does not divide the run's length). Nothing to do under the default
        recording; stepping on afterwards is fine."""
        outer_threads = self._set_threads()
        try:
            self.recorder.finish(self)
        finally:
            set_threads(outer_threads)

    def series(self, burn_in: bool = False):
        """Per-step outputs as a pandas DataFrame (one row per step, from step 0; with
        ``burn_in``, the burn-in's months too, at negative steps, flagged ``burn_in``)."""
        return self.recorder.dataframe(burn_in)

    def firm_table(self):
        """The live firms as a pandas DataFrame, one row per firm."""
        return collect.firm_table(self)

    def _repr_html_(self) -> str:  # a short summary in notebooks
        from sim.measure.summary import model_html

        return model_html(self)

    def __repr__(self) -> str:  # one short line: month, firms, jobs, interventions
        from sim.measure.summary import model_text

        return model_text(self)

    def final_outcomes(self) -> dict[str, float]:
        """Final values of every series plus per-run outcomes (survival, time to facility...),
        whatever the recording kept."""
        outer_threads = self._set_threads()  # outputs the recording skipped are computed now
        try:
            return collect.final_outcomes(self)
        finally:
            set_threads(outer_threads)

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
        views = self._firm_views()
        for s in np.flatnonzero(self.firms.alive).tolist():
            if views[s] is None:
                views[s] = FirmAgent(self, s)
        self._charge_agents(time.perf_counter() - t0)

    def _sync_facility_agents(self) -> None:
        if self.use_agents:
            while len(self._facility_agents) < self.facilities.n:
                self._facility_agents.append(FacilityAgent(self, len(self._facility_agents)))

    def _firm_views(self) -> list[FirmAgent | None]:
        """The firm views by slot, one entry for every slot (new slots have none yet)."""
        missing = self.firms.capacity - len(self._firm_agents)
        if missing > 0:
            self._firm_agents.extend([None] * missing)
        return self._firm_agents


def build_world_arrays(world: World) -> dict[str, np.ndarray]:
    """The world's per-region and per-sector arrays the mechanisms read, by name."""
    w = world
    return {
        "region_x": w.region_array("x"),
        "region_y": w.region_array("y"),
        "region_radius": w.region_array("radius"),
        "land_cost": w.region_array("land_cost"),
        "market_access": w.region_array("market_access"),
        "wage_index": w.region_array("wage_index"),
        "infra_factor": suppliers.infra_factor(w.region_array("infrastructure")),
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
