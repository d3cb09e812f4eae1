"""Data collection: one row of outputs per step, each output one line calling a metric.

The :class:`Recorder` keeps the rows in memory as a dict of lists (cheap to append) and turns
them into a pandas DataFrame on demand. It is the model's data collector; the metric functions
themselves are pure and live in :mod:`sim.measure.metrics`.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.core.state import FacilityState
from sim.measure import metrics
from sim.measure.outputs import PURPOSE_SERIES, PURPOSE_TOTALS
from sim.mechanisms.suppliers import input_indicators

__all__ = ["Recorder", "Recording", "GROUPS", "group_of", "indicators", "snapshot", "firm_table",
           "final_outcomes", "HEADLINE", "MESA_SERIES", "mesa_datacollector", "pledges",
           "purpose"]

#: The outputs a summary figure and a comparison report show first.
HEADLINE = ("firms", "employment", "output", "mean_productivity", "cooperation_rate",
            "mean_trust", "jp_share", "facilities_operating", "eg_gamma_mean",
            "public_spending_total")


#: The main series kept in the model's ``mesa.DataCollector`` (``model.datacollector``), for
#: Mesa's own tools (``mesa.batch_run``, ``make_plot_component``): values of the recorder's row
#: plus the pledges of open drives (:func:`pledges`).
MESA_SERIES = ("firms", "employment", "output", "cooperation_rate", "mean_trust",
               "eg_gamma_mean", "herfindahl_regions", "facilities_operating", "facilities_built",
               "public_spending_total", "pledges", "pledges_needed")


def pledges(model) -> tuple[int, int]:
    """Firms pledged in the pledge drives open this month (including those that succeeded or
    closed unbuilt this month), and the members those drives need (the sum of their
    ``spv_min``): a drive whose pledges stay below what it needs is stalling."""
    fac, t = model.facilities, model.steps
    build_months = model.params.facilities.build_months
    got = need = 0
    for f in range(fac.n):
        status = fac.status[f]
        if (status == FacilityState.DRIVE
                or (status == FacilityState.BUILDING and fac.ready_at[f] - build_months == t)
                or (status == FacilityState.FAILED and fac.drive_until[f] - 1 == t)):
            got += fac.pledged[f]
            need += fac.spv_min[f]
    return got, need


def _latest(key: str):
    return lambda model: model.recorder.latest[key]


def mesa_datacollector():
    """A ``mesa.DataCollector`` of :data:`MESA_SERIES`. Its reporters read the row the recorder
    has just computed, so collecting costs a dozen look-ups a step."""
    import mesa

    reporters = {key: _latest(key) for key in MESA_SERIES[:-2]}
    reporters["pledges"] = lambda model: pledges(model)[0]
    reporters["pledges_needed"] = lambda model: pledges(model)[1]
    return mesa.DataCollector(model_reporters=reporters)


#: What each group of outputs costs to compute: the outputs of one group come out of the same
#: calls. ``firm indicators`` (:func:`sim.measure.metrics.firm_indicators`: the Gini, the
#: Ellison-Glaeser gammas, location quotients, Moran's I...) and ``network``
#: (:func:`sim.measure.metrics.network_indicators`) are the costly ones; ``firms`` is two sums
#: over the firm slots, ``count`` a count of them; ``facilities`` a pass over the facilities;
#: ``purpose`` one pass over the firm slots (:func:`sim.measure.metrics.purpose_totals`),
#: computed every month from month 0 whatever is kept, for the run's totals; ``books`` and
#: ``run`` read numbers the month has already booked.
GROUPS: dict[str, str] = {
    "step": "run", "burn_in": "run", "entries": "run", "exits": "run",
    "firms": "count", "employment": "firms", "output": "firms", "revenue": "firms",
    "profit": "firms", "capital": "firms", "capital_change": "firms", "jp_share": "firms",
    "spv_members": "firms",
    "mean_productivity": "firm indicators", "sd_productivity": "firm indicators",
    "share_micro": "firm indicators", "share_small": "firm indicators",
    "share_medium": "firm indicators", "share_large": "firm indicators",
    "gini_size": "firm indicators", "eg_gamma_mean": "firm indicators",
    "herfindahl_regions": "firm indicators", "morans_i": "firm indicators",
    "mean_trust": "network", "mean_degree": "network", "tie_density": "network",
    "giant_component_share": "network", "clustering": "network",
    "supplier_concentration": "suppliers", "input_price_index": "suppliers",
    "import_share": "suppliers",
    "facilities_operating": "facilities", "facilities_built": "facilities",
    "public_facilities_built": "facilities", "public_facilities_operating": "facilities",
    "facility_users": "facilities", "facility_use_rate": "facilities",
    "cooperation_rate": "books", "public_spending": "books", "public_spending_total": "books",
    "contributions": "books", "entry_capital": "books", "exit_capital": "books",
    "fees": "books", "interest_subsidy": "books", "payouts": "books", "investment": "books",
    **dict.fromkeys(PURPOSE_SERIES, "purpose"),
    "value_added": "books", "wages": "books", "land_rents": "books", "supplier_margin": "books",
}
#: Every group, in the order a row computes them.
ALL_GROUPS = frozenset(GROUPS.values())
_PURPOSE = frozenset(("purpose",))


def group_of(name: str) -> str | None:
    """The group an output belongs to (None for a name that is not a per-step output; the
    world's ``eg_gamma_{sector}`` and ``lq_{sector}_{region}`` are firm indicators)."""
    if name in GROUPS:
        return GROUPS[name]
    if name.startswith(("eg_gamma_", "lq_")):
        return "firm indicators"
    return None


@dataclass(frozen=True)
class Recording:
    """What a model records, and how often: the default records every output every month,
    burn-in included (the series ``model.series()`` has always had).

    Parameters
    ----------
    outputs : tuple of str, optional
        The per-step outputs to keep (names of :data:`sim.measure.outputs.SERIES`, expanded for
        the world); None keeps them all. Only the groups of :data:`GROUPS` these need are
        computed: a calibration that reads firms, entries and exits never computes the
        Ellison-Glaeser gammas. ``step`` is always kept.
    every : int or None
        Keep a row every ``every`` months (steps 0, every, 2 every, ...); the last month is
        kept too when the run ends with :meth:`sim.model.ClusterModel.finish`. Months in between
        compute nothing but what an intervention's ``when_metric`` or Mesa's collector reads.
        None keeps only the row ``finish`` keeps: the last month's (a sweep that reads final
        outcomes only).
    burn_in : bool
        Keep the burn-in's rows (steps before 0, at the same frequency); False computes nothing
        during the burn-in.
    mesa : bool
        Collect the model's ``mesa.DataCollector`` every month from month 0 (its series,
        :data:`MESA_SERIES`, are then computed every month whatever ``outputs`` and ``every``
        say); False leaves it empty.
    totals : bool
        Add up the purpose outcomes over the run (waste treated, firms served, trained...,
        :data:`sim.measure.outputs.PURPOSE_TOTALS`), which takes a pass over the firms every
        month; False skips it (a calibration's run reads only its patterns), and
        :func:`final_outcomes` then reports those totals as NaN.

    A value recorded is the value the default recording has for that month and output, to the
    bit; a run's outcomes (:func:`final_outcomes`) are the same whatever the recording (but
    for the purpose totals, NaN when ``totals`` is False).
    """

    outputs: tuple[str, ...] | None = None
    every: int | None = 1
    burn_in: bool = True
    mesa: bool = True
    totals: bool = True

    def __post_init__(self):
        if self.outputs is not None:
            if isinstance(self.outputs, str) or not all(isinstance(o, str)
                                                        for o in self.outputs):
                raise ValueError(f"Recording.outputs: expected a sequence of output names, got "
                                 f"{self.outputs!r}")
            object.__setattr__(self, "outputs", tuple(self.outputs))
            unknown = [o for o in self.outputs if group_of(o) is None]
            if unknown:
                raise ValueError(f"Recording.outputs: unknown output {unknown[0]!r}; allowed: "
                                 "the per-step outputs of sim.measure.outputs.SERIES")
        if self.every is not None and (isinstance(self.every, bool)
                                       or not isinstance(self.every, int | np.integer)
                                       or self.every < 1):
            raise ValueError(f"Recording.every: expected a whole number of months >= 1 (or "
                             f"None: the last month only), got {self.every!r}")

    @property
    def full(self) -> bool:
        """Whether this is the default recording (every output, every month, burn-in too)."""
        return (self.outputs is None and self.every == 1 and self.burn_in and self.mesa
                and self.totals)

    def check(self, names) -> None:
        """Raise ValueError if an output is not among ``names`` (the world's per-step
        outputs, e.g. an ``eg_gamma_`` of a sector the world does not have)."""
        if self.outputs is None:
            return
        known = set(names)
        for o in self.outputs:
            if o not in known:
                raise ValueError(f"Recording.outputs: unknown output {o!r} for this world; "
                                 f"allowed: {', '.join(sorted(known))}")


class Recorder:
    """Rows of per-step outputs, as a :class:`Recording` asks (default: every output, every
    month).

    Parameters
    ----------
    recording : Recording, optional
    watch : sequence of str
        Outputs read during the run whatever the recording keeps (the ``when_metric`` of
        interventions): computed every month from month 0 into :attr:`latest`.

    Attributes
    ----------
    columns : dict of lists
        The rows kept, by output.
    latest : dict
        The outputs computed for the last month recorded: every output under the default
        recording, else those kept or watched (at least ``step``, ``burn_in``, ``entries``
        and ``exits``).
    entries_total, exits_total : int
        Entrants and leavers summed over months 1.. (whatever the recording keeps).
    purpose_totals : dict
        The purpose outcomes summed over months 1.. (whatever the recording keeps), by the
        names of :data:`sim.measure.outputs.PURPOSE_TOTALS` (left at 0 when the recording's
        ``totals`` is False).
    """

    def __init__(self, recording: Recording | None = None, watch=()):
        self.recording = rec = recording or Recording()
        self.columns: dict[str, list[Any]] = {}
        self.latest: dict[str, Any] = {}
        self.n = 0
        self.entries_total = 0
        self.exits_total = 0
        self.purpose_totals = dict.fromkeys(PURPOSE_TOTALS, 0.0)
        self._flows = (0, 0)  # this month's entries and exits
        self._latest_step: int | None = None
        self._latest_full = False
        self._kept_step: int | None = None
        self._order: tuple[str, ...] | None = None  # the outputs of every row so far, in order
        self._lists: list[list[Any]] = []
        self._keep = None if rec.outputs is None else frozenset(("step", *rec.outputs))
        self._keep_groups = (ALL_GROUPS if self._keep is None
                             else frozenset(group_of(o) for o in self._keep))
        watch = (*watch, *(MESA_SERIES[:-2] if rec.mesa else ()))
        self._watch_groups = frozenset(g for g in map(group_of, watch) if g is not None)

    def record(self, model, entries: int = 0, exits: int = 0) -> None:
        """The outputs of the month just ended (``entries`` firms entered, ``exits`` left):
        kept as a row when the recording asks for this month, else only what is watched is
        computed. When ``model.timings`` is a dict, the time spent computing the indicators
        is charged to "metrics" and the rest of the recording to "data collection"."""
        t = model.steps
        if t > 0:
            self.entries_total += entries
            self.exits_total += exits
        self._flows = (entries, exits)
        rec = self.recording
        keep = rec.every is not None and t % rec.every == 0 and (t >= 0 or rec.burn_in)
        groups = self._keep_groups if keep else frozenset()
        if t >= 0:  # what is watched, and the purpose outcomes every month for their totals
            groups = groups | self._watch_groups | (_PURPOSE if rec.totals else frozenset())
        self._compute(model, groups, keep)
        if t > 0 and rec.totals:
            row = self.latest
            for name in PURPOSE_TOTALS:
                self.purpose_totals[name] += row[name.removesuffix("_total")]

    def finish(self, model) -> None:
        """Keep a row for the model's current month if the recording skipped it (the last
        month of a run kept at a frequency)."""
        if self._kept_step != model.steps:
            self._compute(model, self._keep_groups | self._watch_groups, True)

    def full_row(self, model) -> dict[str, Any]:
        """Every output of the current month (:attr:`latest` when it has them all)."""
        if not (self._latest_full and self._latest_step == model.steps):
            self._compute(model, ALL_GROUPS, False)
        return self.latest

    def _compute(self, model, groups: frozenset, keep: bool) -> None:
        t0 = time.perf_counter()
        values = indicators(model, groups)
        t1 = time.perf_counter()
        row = snapshot(model, values, groups)
        row["entries"], row["exits"] = self._flows
        if keep:
            self._append(row if self._keep is None
                         else {k: v for k, v in row.items() if k in self._keep})
            self._kept_step = model.steps
        self.latest = row
        self._latest_step, self._latest_full = model.steps, groups == ALL_GROUPS
        timings = getattr(model, "timings", None)
        if timings is not None:
            t2 = time.perf_counter()
            timings["metrics"] = timings.get("metrics", 0.0) + (t1 - t0)
            timings["data collection"] = timings.get("data collection", 0.0) + (t2 - t1)

    def _append(self, row: dict[str, Any]) -> None:
        if self._order is not None and tuple(row) == self._order:
            for col, value in zip(self._lists, row.values(), strict=True):
                col.append(value)  # the usual case: the same outputs as the last row
            self.n += 1
            return
        for key, value in row.items():
            col = self.columns.get(key)
            if col is None:  # a column that appears late is padded with NaN for earlier steps
                col = self.columns[key] = [np.nan] * self.n
            col.append(value)
        for col in self.columns.values():
            if len(col) < self.n + 1:
                col.append(np.nan)
        self.n += 1
        # rows with these outputs, in this order, take the short path above
        self._order = tuple(row) if tuple(row) == tuple(self.columns) else None
        self._lists = list(self.columns.values())

    def dataframe(self, burn_in: bool = False) -> pd.DataFrame:
        """The rows recorded, from month 0 (and the burn-in's rows before it, flagged in the
        ``burn_in`` column, when ``burn_in`` is true)."""
        df = pd.DataFrame(self.columns)
        if burn_in or df.empty:
            return df
        return df[df["step"] >= 0].reset_index(drop=True)


def indicators(model, groups=ALL_GROUPS) -> dict[str, Any]:
    """The outcome indicators of :mod:`sim.measure.metrics` for the model's current state: the
    costly part of recording a step (inequality, concentration, agglomeration, the tie network),
    those of the ``groups`` asked for (:data:`GROUPS`).

    The firm-array indicators come from :func:`sim.measure.metrics.firm_indicators`, which computes
    productivity_stats, size_class_shares, gini(emp[alive]), ellison_glaeser,
    location_quotients, the Herfindahl index of regions' employment and grid_morans_i together
    in a few parallel passes; mean_trust and tie_stats come from one pass over the tie table,
    :func:`sim.measure.metrics.network_indicators`."""
    f, w, ties = model.firms, model.world, model.ties
    out: dict[str, Any] = {}
    if "firm indicators" in groups:
        out = metrics.firm_indicators(f.employees, f.productivity, f.region, f.sector, f.x, f.y,
                                      f.alive, len(w.regions), len(w.sectors),
                                      model.params.world.world_size)
    if "network" in groups:
        out.update(metrics.network_indicators(ties.partner, ties.trust, f.alive,
                                              ties.triangles))
    if "suppliers" in groups:
        out["supplier_concentration"] = metrics.supplier_concentration(
            model.suppliers.volume, model.suppliers.input, len(w.inputs))
    return out


def snapshot(model, values: dict[str, Any] | None = None,
             groups=ALL_GROUPS) -> dict[str, float]:
    """The per-step outputs of the model in its current state, one flat row: every one, or
    those of the ``groups`` asked for (:data:`GROUPS`; ``step`` and ``burn_in`` always);
    ``values`` are this state's :func:`indicators` if already computed."""
    ind = indicators(model, groups) if values is None else values
    f, w = model.firms, model.world
    alive = f.alive
    row: dict[str, float] = {"step": model.steps}
    books, account = model.books.private, model.books.public
    if "count" in groups or "firms" in groups:
        row["firms"] = int(np.count_nonzero(alive))
    if "firms" in groups:
        employment, output, revenue, profit, capital = metrics.alive_totals(
            alive, f.employees, f.output, f.revenue, f.profit, f.capital)
        in_jp, spv_members = metrics.alive_holders(alive, f.jp_group, f.member_of)
        row["employment"] = float(employment)
        row["output"] = float(output)
        row["revenue"] = float(revenue)
        # profit of every firm that produced this month, including those that then left (at a
        # start, with no month booked, the live firms')
        row["profit"] = float(profit if books.profit is None else books.profit)
        row["capital"] = float(capital)
    if "firm indicators" in groups:
        row["mean_productivity"], row["sd_productivity"] = ind["productivity"]
        for name, share in zip(("micro", "small", "medium", "large"), ind["size_classes"],
                               strict=True):
            row[f"share_{name}"] = float(share)
        row["gini_size"] = ind["gini_size"]
    if "books" in groups:
        # share of this month's promises kept, over the ties played this month (some then
        # dissolve)
        played = books.coop_played
        row["cooperation_rate"] = books.coop_kept / played if played else 0.0
    if "network" in groups:
        n_slots, trust = ind["trust"]
        row["mean_trust"] = trust if n_slots else 0.0
        row.update(ind["ties"])
    if "suppliers" in groups:
        row["supplier_concentration"] = ind["supplier_concentration"]
        row["input_price_index"], row["import_share"] = input_indicators(
            f, model.month.unit_input_cost, model.world_arrays)
    if "firms" in groups:
        row["jp_share"] = float(in_jp / row["firms"]) if row["firms"] else 0.0
    if "facilities" in groups:
        row.update(_facility_counts(model.facilities))
    if "firms" in groups:
        row["spv_members"] = int(spv_members)
    if "books" in groups:
        row["public_spending"] = float(account.month)
        row["public_spending_total"] = float(account.total + (
            account.month if model.steps == 0 else 0.0))
    if "firm indicators" in groups:
        gamma, lq = ind["eg_gamma"], ind["lq"]
        values: list[float] = []  # each sector's gamma, then its location quotients
        for g, quotients in zip(gamma.tolist(), lq.tolist(), strict=True):
            values.append(g)
            values.extend(quotients)
        row.update(zip(_world_names(tuple(s.name for s in w.sectors),
                                    tuple(r.name for r in w.regions)), values, strict=True))
        finite = gamma[np.isfinite(gamma)]
        row["eg_gamma_mean"] = float(finite.mean()) if finite.size else float("nan")
        row["herfindahl_regions"] = ind["herfindahl_regions"]
        row["morans_i"] = ind["morans_i"]
    if "books" in groups:
        row["contributions"] = float(books.contributions)
        row["entry_capital"] = float(books.entry_capital)
        row["exit_capital"] = float(books.exit_capital)
    if "firms" in groups:
        # the month's change in live firms' capital: this row's total less the model's at the
        # start
        before = books.opening_capital
        row["capital_change"] = 0.0 if before is None else row["capital"] - before
    if "books" in groups:
        row["fees"] = float(books.fees)
        row["interest_subsidy"] = float(books.interest_subsidy)
        row["payouts"] = float(books.payouts)
        row["investment"] = float(books.investment)
    if "purpose" in groups:
        row.update(purpose(model))
    if "books" in groups:  # welfare: who receives the value added (sim.measure.outputs.WELFARE)
        for name in ("value_added", "wages", "land_rents", "supplier_margin"):
            row[name] = float(getattr(books, name))
    # the burn-in's months (and the set-up state) are recorded at negative steps, flagged
    row["burn_in"] = bool(model.steps < 0)
    return row


@functools.lru_cache(maxsize=64)
def _world_names(sectors: tuple[str, ...], regions: tuple[str, ...]) -> tuple[str, ...]:
    """The world's own outputs in a row's order: ``eg_gamma_{sector}``, then that sector's
    ``lq_{sector}_{region}`` for each region, sector after sector."""
    return tuple(name for s in sectors
                 for name in (f"eg_gamma_{s}", *(f"lq_{s}_{r}" for r in regions)))


def purpose(model) -> dict[str, float]:
    """The month's purpose outcomes (:func:`sim.measure.metrics.purpose_totals`): waste made
    and treated, firms whose waste is treated, users of the other facility services, firms
    trained and under credit support."""
    f, month = model.firms, model.month
    return metrics.purpose_totals(
        f.alive, f.sector, f.output, f.uses, np.asarray(model.facilities.service, np.int64),
        month.facility_effect, month.facility_level, model.world_arrays["sector_wpo"],
        f.trained, f.interest_subsidy, f.debt_extra_months)


_BUILT = (FacilityState.BUILDING, FacilityState.OPERATING, FacilityState.CLOSED)


def _facility_counts(fac: FacilityState) -> dict[str, float]:
    """Facilities operating and ever built (all, and those a policy sponsored: CFCs, apart
    from those firms set up on their own), their users, and the users per place of capacity
    in the operating ones. Failed drives pile up over a run: one pass over the statuses picks
    the facilities built, and only those are read further."""
    status = fac.status
    built = [f for f, s in enumerate(status) if s in _BUILT]
    operating = [f for f in built if status[f] == FacilityState.OPERATING]
    users = cap = 0
    for f in operating:  # in facility order, as the totals always were added
        users += fac.users[f]
        cap += fac.capacity[f]
    users = int(users)
    return {"facilities_operating": len(operating), "facilities_built": len(built),
            "public_facilities_built": sum(bool(fac.sponsor[f]) for f in built),
            "public_facilities_operating": sum(bool(fac.sponsor[f]) for f in operating),
            "facility_users": users,
            "facility_use_rate": users / cap if cap else 0.0}


def firm_table(model) -> pd.DataFrame:
    """The live firms, one row each, with readable region and sector names."""
    f, w = model.firms, model.world
    idx = np.flatnonzero(f.alive)
    deg = (model.ties.partner[idx] >= 0).sum(axis=1)
    return pd.DataFrame({
        "firm_id": f.firm_id[idx],
        "slot": idx,
        "region": np.array([r.name for r in w.regions], dtype=object)[f.region[idx]],
        "sector": np.array([s.name for s in w.sectors], dtype=object)[f.sector[idx]],
        "x": f.x[idx], "y": f.y[idx],
        "employees": f.employees[idx],
        "capital": f.capital[idx],
        "productivity": f.productivity[idx],
        "willingness": f.willingness[idx],
        "reputation": f.reputation[idx],
        "ties": deg,
        "supplier": f.supplier[idx],
        "jp_group": f.jp_group[idx],
        "member_of": f.member_of[idx],
        "uses_facility": f.uses[idx],
        "output": f.output[idx],
        "revenue": f.revenue[idx],
        "profit": f.profit[idx],
        "age": f.age[idx],
        "born": f.born[idx],
    })


def final_outcomes(model) -> dict[str, float]:
    """Last row of the series plus per-run outcomes (the same whatever the model's
    :class:`Recording`: outputs the recording skipped are computed for the final state)."""
    rec = model.recorder
    out = {k: float(v) for k, v in rec.full_row(model).items() if np.isscalar(v)}
    alive_ids = model.firms.firm_id[model.firms.alive]
    initial = model.initial_firm_ids
    out["survival"] = (float(np.isin(initial, alive_ids).mean()) if initial.size
                       else float("nan"))
    out["jobs_created"] = out["employment"] - model.initial_employment
    out["time_to_first_facility"] = (float(model.first_facility_step)
                                     if model.first_facility_step >= 0 else float("nan"))
    # gross: over all jobs created, not the jobs a policy added (that needs the no-policy run
    # with the same seed: see sim.studies.costeff and clustersim compare)
    out["public_spending_per_gross_job"] = (out["public_spending_total"] / out["jobs_created"]
                                  if out["jobs_created"] > 0 and out["public_spending_total"] > 0
                                  else float("nan"))
    # totals from month 1: the burn-in is not the run's
    out["entries_total"] = float(rec.entries_total)
    out["exits_total"] = float(rec.exits_total)
    out.update({k: float(v) if rec.recording.totals else float("nan")
                for k, v in rec.purpose_totals.items()})
    return out
