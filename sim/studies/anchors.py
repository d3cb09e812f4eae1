"""Policy anchors measured on simulated runs: firm panels, and the anchors' estimators on them.

A run keeps only its final firm table; an anchor measured as its source measured it needs the
firms month by month (before and after a facility opens) and the facilities' dates.
:func:`firm_panel` runs a scenario and keeps both; :func:`cfc_user_change`,
:func:`public_completion`, :func:`cfc_spillover`, :func:`sector_path` and
:func:`gross_cost_per_job` apply the estimators of :mod:`sim.measure.anchors` to it as
docs/anchors.md describes; :func:`cfc_anchor_estimates` does the CFC's on one run. The
calibration against the anchors (issue 19) builds on these.

>>> panel = firm_panel("scenarios/cfc.toml", seed=1, steps=60)             # doctest: +SKIP
>>> cfc_user_change(panel, outcome="revenue", before=(-12, 0), after=(12, 24))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.state import FacilityState
from sim.io.scenario import Scenario, load_scenario
from sim.measure.anchors import (
    DidResult,
    before_after,
    completion_share,
    cost_per_job,
    spillover_did,
)

__all__ = ["Panel", "firm_panel", "facility_table", "cfc_user_change", "public_completion",
           "cfc_spillover", "SPILLOVER_REWEIGHT", "sector_path", "gross_cost_per_job",
           "cfc_anchor_estimates"]


@dataclass(repr=False)
class Panel:
    """What :func:`firm_panel` kept of one run.

    firms : one row per live firm and recorded month: the columns of
        :func:`sim.measure.collect.firm_table`, ``step`` (the series' month) and
        ``output_per_worker``;
    facilities : :func:`facility_table` at the end of the run;
    series : the run's per-month outputs (as :attr:`sim.studies.simulate.RunResult.series`).
    """

    firms: pd.DataFrame
    facilities: pd.DataFrame
    series: pd.DataFrame

    def __repr__(self) -> str:
        steps = self.firms["step"]
        return (f"Panel({len(self.firms):,} firm-months, months {steps.min()}-{steps.max()}, "
                f"{len(self.facilities)} facilities)")


def facility_table(model) -> pd.DataFrame:
    """Every facility drive of a model, one row each: ``facility`` (its index, as a firm's
    ``uses_facility``), ``name``, ``sponsor`` ('' for a private drive), ``public``, ``region``,
    ``sectors`` (names), ``status`` (:class:`sim.core.state.FacilityState` codes), ``opened_at``
    (month its drive opened: an approval), ``ready_at`` (month it started operating, NaN if it
    never did) and ``capacity`` (firms)."""
    fac, world = model.facilities, model.world
    regions = [r.name for r in world.regions]
    sectors = [s.name for s in world.sectors]
    reached = (FacilityState.OPERATING, FacilityState.CLOSED)
    return pd.DataFrame({
        "facility": np.arange(fac.n, dtype=np.int64),
        "name": list(fac.name),
        "sponsor": list(fac.sponsor),
        "public": [bool(s) for s in fac.sponsor],
        "region": [regions[r] for r in fac.region],
        "sectors": [tuple(sectors[s] for s in codes) for codes in fac.sectors],
        "status": np.asarray(fac.status, dtype=np.int64),
        "opened_at": np.asarray(fac.opened_at, dtype=np.int64),
        "ready_at": np.array([float(r) if s in reached else np.nan
                              for r, s in zip(fac.ready_at, fac.status, strict=True)]),
        "capacity": np.asarray(fac.capacity, dtype=np.float64),
    })


def firm_panel(scenario, *, seed: int = 0, steps: int | None = None, every: int = 1,
               overrides: dict[str, Any] | None = None) -> Panel:
    """Run a scenario once and keep its live firms every ``every`` months (month 0 included).

    Parameters
    ----------
    scenario : str, Path or sim.io.scenario.Scenario
    seed, steps, overrides
        As in :func:`sim.studies.simulate.simulate`; the run is the same, to the bit.
    every : int
        Months between two records of the firms (>= 1).
    """
    if int(every) < 1:
        raise ValueError(f"every: got {every!r}; allowed: an integer >= 1 month")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(Path(scenario))
    if overrides:
        scenario = scenario.with_overrides(overrides)
    n_steps = scenario.steps if steps is None else int(steps)
    model = scenario.build(rng=seed, agents=False)
    tables = [model.firm_table().assign(step=0)]
    for month in range(1, n_steps + 1):
        model.step()
        if month % every == 0 or month == n_steps:
            tables.append(model.firm_table().assign(step=month))
    model.finish()
    firms = pd.concat(tables, ignore_index=True)
    firms["output_per_worker"] = firms["output"] / firms["employees"].where(
        firms["employees"] > 0)
    series = model.series()
    return Panel(firms=firms, facilities=facility_table(model), series=series)


def _operating_public(panel: Panel) -> pd.DataFrame:
    fac = panel.facilities
    return fac[fac["public"] & fac["ready_at"].notna()]


def cfc_user_change(panel: Panel, *, outcome: str = "output_per_worker",
                    before: tuple[int, int] = (-12, 0),
                    after: tuple[int, int] = (36, 60)) -> float:
    """The NPC's before/after on CFC users (:func:`sim.measure.anchors.before_after`).

    Users are the firms that use an operating public facility in some recorded month of the
    ``after`` window of that facility (a firm using two counts with the first); each is
    compared with itself ``before`` the facility started operating. NaN without an operating
    public facility."""
    public = _operating_public(panel)
    if public.empty:
        return float("nan")
    ready = public.set_index("facility")["ready_at"].astype(np.int64)
    f = panel.firms
    on = f[f["uses_facility"].isin(ready.index)]
    rel = on["step"] - on["uses_facility"].map(ready)
    users = on[(rel >= after[0]) & (rel < after[1])].drop_duplicates("firm_id")
    opened = dict(zip(users["firm_id"].tolist(),
                      users["uses_facility"].map(ready).tolist(), strict=True))
    return before_after(f, opened, outcome=outcome, before=before, after=after)


def public_completion(panel: Panel, observed_at: int | None = None,
                      within: int | None = None) -> float:
    """The ministry's count (:func:`sim.measure.anchors.completion_share`) over the public
    facility offers: approved when the offer's drive opens, complete when it operates; observed
    at the panel's last month by default."""
    fac = panel.facilities[panel.facilities["public"]]
    when = int(panel.firms["step"].max()) if observed_at is None else int(observed_at)
    return completion_share(fac["opened_at"], fac["ready_at"], when, within)


#: what the comparison firms of the spillover's difference in differences are reweighted on,
#: as Figal Garone et al. (2015) reweight on firms' characteristics before the policy: the log
#: of employment at the start of the pre-event window, its change over that window, and age
SPILLOVER_REWEIGHT = ("level", "trend", "age")


def cfc_spillover(panel: Panel, *, outcome: str = "employees", pre: int = 12,
                  post: int = 12, lead: int = 0,
                  reweight: tuple[str, ...] = SPILLOVER_REWEIGHT) -> DidResult:
    """Figal Garone et al.'s spillover on non-participants
    (:func:`sim.measure.anchors.spillover_did`) around the first public facility to operate.

    Exposed: the firms of the facility's region and sectors that never use it in the window;
    controls: the firms of the same sectors in the other regions; its users are left out.
    The controls are reweighted on ``reweight`` (default :data:`SPILLOVER_REWEIGHT`, the
    source's design; ``()`` for none). With ``lead`` > 0, a placebo: the same firms (users
    found in the real window) with the event put ``lead`` months before the facility started
    operating, a check of parallel trends (given the characteristics reweighted on). NaN
    estimate without an operating public facility."""
    public = _operating_public(panel).sort_values("ready_at")
    if public.empty:
        return DidResult(float("nan"), float("nan"), float("nan"), 0, 0, tuple(reweight))
    fac = public.iloc[0]
    event = int(fac["ready_at"])
    f = panel.firms
    real = f[(f["step"] >= event - pre) & (f["step"] < event + post)]
    users = set(real.loc[real["uses_facility"] == fac["facility"], "firm_id"].tolist())
    event -= int(lead)
    f = f[(f["step"] >= event - pre) & (f["step"] < event + post)
          & f["sector"].isin(fac["sectors"])]
    f = f[~f["firm_id"].isin(users)]
    exposed = f.loc[f["region"] == fac["region"], "firm_id"].unique()
    return spillover_did(f, exposed, event, outcome=outcome, pre=pre, post=post,
                         reweight=reweight)


def sector_path(panel: Panel, sector: str, column: str | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(months, values): a sector's live firms (``column`` None) or their summed ``column``
    in each recorded month, for :func:`sim.measure.anchors.path_ratio` (Tirupur's dyeing units
    and knitwear revenue around the court order). A month with no firm of the sector is 0."""
    f = panel.firms
    steps = np.sort(f["step"].unique())
    mine = f[f["sector"] == sector]
    by = mine.groupby("step")
    values = by.size() if column is None else by[column].sum()
    return steps, values.reindex(steps, fill_value=0).to_numpy(dtype=np.float64)


def gross_cost_per_job(panel: Panel) -> float:
    """Public spending to the panel's last month over the workers of the firms using a public
    facility then: the schemes' gross cost per job (:func:`sim.measure.anchors.cost_per_job`),
    in the model's money (thousands of the scenario's currency). NaN if no firm uses one."""
    public = panel.facilities.loc[panel.facilities["public"], "facility"]
    f = panel.firms
    last = f[f["step"] == f["step"].max()]
    jobs = float(last.loc[last["uses_facility"].isin(public), "employees"].sum())
    spent = float(panel.series["public_spending_total"].iloc[-1])
    return cost_per_job(spent, jobs)


def cfc_anchor_estimates(scenario="scenarios/cfc.toml", *, seed: int = 0,
                         steps: int | None = None, before: tuple[int, int] = (-12, 0),
                         after: tuple[int, int] = (36, 60)) -> dict[str, float]:
    """The CFC anchors' estimators on one run of ``scenario``: users' change in output per
    worker and in revenue, public completion, the employment spillover's estimate and p-value,
    and the gross public cost per job of the users (NaN where the run gives nothing to
    measure, e.g. no facility built)."""
    panel = firm_panel(scenario, seed=seed, steps=steps)
    did = cfc_spillover(panel)
    return {"cfc_users_productivity": cfc_user_change(panel, before=before, after=after),
            "cfc_users_turnover": cfc_user_change(panel, outcome="revenue", before=before,
                                                  after=after),
            "cfc_completion": public_completion(panel),
            "apl_spillover_employment": did.estimate,
            "apl_spillover_pvalue": did.pvalue,
            "gross_cost_per_job": gross_cost_per_job(panel)}
