"""Data collection: one row of outputs per step, each output one line calling a metric.

The :class:`Recorder` keeps the rows in memory as a dict of lists (cheap to append) and turns
them into a pandas DataFrame on demand. It is the model's data collector; the metric functions
themselves are pure and live in :mod:`sim.measure.metrics`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from sim.core.state import FacilityState
from sim.measure import metrics

__all__ = ["Recorder", "indicators", "snapshot", "firm_table", "final_outcomes", "HEADLINE",
           "MESA_SERIES", "mesa_datacollector", "pledges"]

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


class Recorder:
    """Rows of per-step outputs."""

    def __init__(self):
        self.columns: dict[str, list[Any]] = {}
        self.latest: dict[str, float] = {}
        self.n = 0

    def record(self, model, **extra: Any) -> None:
        """Append the model's outputs for this step. When ``model.timings`` is a dict, the time
        spent computing the indicators is charged to "metrics" and the rest of the recording
        (sums, counts, assembling and appending the row) to "data collection"."""
        t0 = time.perf_counter()
        values = indicators(model)
        t1 = time.perf_counter()
        row = snapshot(model, values)
        row.update(extra)
        for key, value in row.items():
            col = self.columns.get(key)
            if col is None:  # a column that appears late is padded with NaN for earlier steps
                col = self.columns[key] = [np.nan] * self.n
            col.append(value)
        for col in self.columns.values():
            if len(col) < self.n + 1:
                col.append(np.nan)
        self.latest = row
        self.n += 1
        timings = getattr(model, "timings", None)
        if timings is not None:
            t2 = time.perf_counter()
            timings["metrics"] = timings.get("metrics", 0.0) + (t1 - t0)
            timings["data collection"] = timings.get("data collection", 0.0) + (t2 - t1)

    def dataframe(self, burn_in: bool = False) -> pd.DataFrame:
        """The rows recorded, from month 0 (and the burn-in's rows before it, flagged in the
        ``burn_in`` column, when ``burn_in`` is true)."""
        df = pd.DataFrame(self.columns)
        if burn_in or df.empty:
            return df
        return df[df["step"] >= 0].reset_index(drop=True)


def indicators(model) -> dict[str, Any]:
    """The outcome indicators of :mod:`sim.measure.metrics` for the model's current state: the
    costly part of recording a step (inequality, concentration, agglomeration, the tie network).

    The firm-array indicators come from :func:`sim.measure.metrics.firm_indicators`, which computes
    productivity_stats, size_class_shares, gini(emp[alive]), ellison_glaeser,
    location_quotients, the Herfindahl index of regions' employment and grid_morans_i together
    in a few parallel passes; mean_trust and tie_stats come from one pass over the tie table,
    :func:`sim.measure.metrics.network_indicators`."""
    f, w, ties = model.firms, model.world, model.ties
    out = metrics.firm_indicators(f.employees, f.productivity, f.region, f.sector, f.x, f.y,
                                  f.alive, len(w.regions), len(w.sectors),
                                  model.params.world.world_size)
    out.update(metrics.network_indicators(ties.partner, ties.trust, f.alive, ties.triangles))
    out["supplier_concentration"] = metrics.supplier_concentration(
        model.suppliers.volume, model.suppliers.input, len(w.inputs))
    return out


def snapshot(model, values: dict[str, Any] | None = None) -> dict[str, float]:
    """Every per-step output of the model in its current state, one flat row; ``values`` are
    this state's :func:`indicators` if already computed."""
    ind = indicators(model) if values is None else values
    f, w = model.firms, model.world
    alive = f.alive
    employment, output, revenue, profit, capital = metrics.alive_totals(
        alive, f.employees, f.output, f.revenue, f.profit, f.capital)
    in_jp, spv_members = metrics.alive_holders(alive, f.jp_group, f.member_of)
    row: dict[str, float] = {"step": model.steps}
    row["firms"] = int(np.count_nonzero(alive))
    row["employment"] = float(employment)
    row["output"] = float(output)
    row["revenue"] = float(revenue)
    # profit of every firm that produced this month, including those that then left
    row["profit"] = float(model.books.get("profit", profit))
    row["capital"] = float(capital)
    row["mean_productivity"], row["sd_productivity"] = ind["productivity"]
    for name, share in zip(("micro", "small", "medium", "large"), ind["size_classes"],
                           strict=True):
        row[f"share_{name}"] = float(share)
    row["gini_size"] = ind["gini_size"]
    n_slots, trust = ind["trust"]
    # share of this month's promises kept, over the ties played this month (some then dissolve)
    played = model.books.get("coop_played", 0)
    row["cooperation_rate"] = model.books.get("coop_kept", 0.0) / played if played else 0.0
    row["mean_trust"] = trust if n_slots else 0.0
    row.update(ind["ties"])
    row["supplier_concentration"] = ind["supplier_concentration"]
    row["jp_share"] = float(in_jp / row["firms"]) if row["firms"] else 0.0
    fac = model.facilities
    operating = fac.operating() if fac.n else np.zeros(0, dtype=bool)
    row["facilities_operating"] = int(operating.sum())
    row["facilities_built"] = int(sum(s in (FacilityState.BUILDING, FacilityState.OPERATING,
                                            FacilityState.CLOSED) for s in fac.status))
    # facilities a policy sponsored (CFCs), apart from those firms set up on their own
    public = [s for s, sp in zip(fac.status, fac.sponsor, strict=True) if sp]
    row["public_facilities_built"] = int(sum(s in (FacilityState.BUILDING,
                                                   FacilityState.OPERATING,
                                                   FacilityState.CLOSED) for s in public))
    row["public_facilities_operating"] = int(sum(s == FacilityState.OPERATING for s in public))
    row["facility_users"] = int(sum(u for u, o in zip(fac.users, operating, strict=True) if o))
    cap = sum(c for c, o in zip(fac.capacity, operating, strict=True) if o)
    row["facility_use_rate"] = row["facility_users"] / cap if cap else 0.0
    row["spv_members"] = int(spv_members)
    row["public_spending"] = float(model.public_step)
    row["public_spending_total"] = float(model.public_total + (
        model.public_step if model.steps == 0 else 0.0))
    gamma, lq = ind["eg_gamma"], ind["lq"]
    for s, sector in enumerate(w.sectors):
        row[f"eg_gamma_{sector.name}"] = float(gamma[s])
        for r, region in enumerate(w.regions):
            row[f"lq_{sector.name}_{region.name}"] = float(lq[s, r])
    finite = gamma[np.isfinite(gamma)]
    row["eg_gamma_mean"] = float(finite.mean()) if finite.size else float("nan")
    row["herfindahl_regions"] = ind["herfindahl_regions"]
    row["morans_i"] = ind["morans_i"]
    for key in ("contributions", "entry_capital", "exit_capital"):
        row[key] = float(model.books.get(key, 0.0))
    # the month's change in live firms' capital: this row's total less the model's at the start
    before = getattr(model, "capital_before", None)
    row["capital_change"] = 0.0 if before is None else row["capital"] - before
    for key in ("fees", "interest_subsidy", "payouts", "investment"):
        row[key] = float(model.books.get(key, 0.0))
    # the burn-in's months (and the set-up state) are recorded at negative steps, flagged
    row["burn_in"] = bool(model.steps < 0)
    return row


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
    """Last row of the series plus per-run outcomes."""
    out = {k: float(v) for k, v in model.recorder.latest.items() if np.isscalar(v)}
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
    df = model.recorder.columns  # totals from month 1: the burn-in is not the run's
    after = np.asarray(df.get("step", [0])) > 0
    out["entries_total"] = float(np.nansum(np.asarray(df.get("entries", [0]))[after]))
    out["exits_total"] = float(np.nansum(np.asarray(df.get("exits", [0]))[after]))
    return out
