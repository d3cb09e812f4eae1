"""The sweep model ``patterns``: one run of a scenario, reported as the patterns calibration fits.

A sweep (``[experiment] model = "patterns"``) runs a scenario as the ``cluster`` model does and
returns, as its final outcomes, the patterns of :data:`PATTERNS` measured after a burn-in:

- the size distribution of the live firms at the end (micro share, mean size, tail exponent);
- annual log growth of the firms alive both ``growth_window`` months before the end and at the
  end, matched by firm id (MAD/SD ratio and kurtosis);
- entry and exit rates a year over the months after the burn-in;
- facility completion (settled pledge drives that reached operation; the publicly sponsored
  ones when there are any, else all) and mean utilisation over the months after the burn-in;
- firms and employment at the end, in all and in one named sector, and the share of that
  sector's live firms that use a facility at the end (the publicly sponsored facilities when
  there are any, else all); and that sector's live firms at the end over those in the last
  month before the burn-in ends (month ``burn_in - 1``, month 0 without a burn-in): a path
  after an event, such as Tirupur's dyeing units after the court order of its month 24;
- held-out patterns of other kinds (issue 19): the annual exit hazard of firms under 3 years
  old over that of firms 5 years old or more, from yearly snapshots of the live firms from the
  burn-in on; the slope of log sd of annual growth on log size over doubling size classes; the
  Herfindahl index of employment across firms at the end (measured, no observed target);
- the CFC anchors as ``clustersim validate --anchors`` measures them
  (:func:`sim.studies.anchors.cfc_user_change`, the NPC's before/after of users' output per
  worker, months 36-60 after the facility operates against the 12 before; and
  :func:`sim.studies.anchors.public_completion` within 24 months of approval, at the run's
  end). They need the firms month by month, so they are measured only when the scenario offers
  a CFC (``patterns.anchors = "auto"``, the default) or ``patterns.anchors = "on"``; else NaN.

How they are measured is set by overrides named ``patterns.*`` (:data:`SETTINGS`), fixed for a
whole sweep; every other override goes to the scenario as for the cluster model. The run is
deterministic in its seed, as the cluster model's runs are, and measuring does not change it.
Only the model's outputs are read: ``series()``, ``firm_table()``, the facility table
``model.facilities`` and, for the yearly snapshots and the CFC anchors' monthly panel, the
live firms' columns of ``model.firms`` that ``firm_table()`` would give (ids, ages, employees,
output, facility used), without building the whole table each month.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.errors import ParameterError
from sim.io.provenance import provenance
from sim.io.scenario import load_scenario
from sim.measure import patterns as pt
from sim.measure.collect import Recording

#: What a pattern run records: the series :func:`measure` reads, every month from month 0 (no
#: burn-in rows, no Mesa collector, no purpose totals); the values are those of the full
#: recording, to the bit.
RECORDING = Recording(outputs=("firms", "entries", "exits", "facility_use_rate",
                               "facilities_operating"), burn_in=False, mesa=False, totals=False)

__all__ = ["PATTERNS", "SETTINGS", "VERSION", "PatternRun", "split_overrides", "settings",
           "measure", "simulate", "simulate_many", "offers_cfc", "anchor_patterns"]

#: Bumped whenever what a pattern measures changes; part of every run id.
VERSION = "patterns-5"
#: The outcomes the model reports, in order.
PATTERNS: tuple[str, ...] = (
    "micro_share", "mean_size", "zipf_exponent", "zipf_xmin", "zipf_n_tail",
    "growth_mad_sd", "growth_kurtosis", "growth_n", "annual_entry_rate", "annual_exit_rate",
    "net_entry_rate", "facility_completion", "facility_utilisation", "firms", "employment",
    "sector_firms", "sector_employment", "sector_facility_use",
    "exit_hazard_young_old", "growth_sd_size_slope", "employment_herfindahl",
    "cfc_user_productivity_gain", "cfc_completion_2y", "sector_firms_ratio",
)
#: Age classes of ``exit_hazard_young_old`` (months at the start of a year): young under
#: YOUNG, old from OLD on; the smallest number of firms in a size class of
#: ``growth_sd_size_slope``; the deadline of ``cfc_completion_2y`` (months after approval).
YOUNG, OLD, SIZE_CLASS_MIN, COMPLETION_WITHIN = 36, 60, 10, 24
#: Measurement settings (``patterns.NAME`` overrides): name -> (default, what is allowed).
SETTINGS: dict[str, tuple[Any, str]] = {
    "burn_in": (0, "an integer >= 0 (months discarded before patterns are measured)"),
    "growth_window": (12, "an integer >= 1 (months between the two size snapshots)"),
    "min_tail": (20, "an integer >= 5 (fewest firms in the fitted size tail)"),
    "sector": ("", "a sector name of the scenario, or '' for none"),
    "anchors": ("auto", "'auto' (measure the CFC anchors when the scenario offers a CFC), "
                "'on' or 'off'"),
}
PREFIX = "patterns."


def split_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(settings, scenario overrides)``: the ``patterns.*`` keys (prefix removed) and the
    rest."""
    own = {k[len(PREFIX):]: v for k, v in overrides.items() if k.startswith(PREFIX)}
    rest = {k: v for k, v in overrides.items() if not k.startswith(PREFIX)}
    return own, rest


def settings(own: dict[str, Any], sectors: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The measurement settings with defaults filled in; raises ParameterError for a bad one."""
    out = {k: v[0] for k, v in SETTINGS.items()}
    for key, value in own.items():
        if key not in SETTINGS:
            raise ParameterError(PREFIX + key, f"unknown setting; allowed: "
                                 f"{', '.join(PREFIX + k for k in SETTINGS)}")
        allowed = SETTINGS[key][1]
        if key == "anchors":
            if value not in ("auto", "on", "off"):
                raise ParameterError(PREFIX + key, f"got {value!r}; allowed: {allowed}")
        elif key == "sector":
            if not isinstance(value, str) or (value and sectors is not None
                                              and value not in sectors):
                raise ParameterError(PREFIX + key, f"got {value!r}; allowed: {allowed}"
                                     + (f" ({', '.join(sectors)})" if sectors else ""))
        else:
            lo = {"burn_in": 0, "growth_window": 1, "min_tail": 5}[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ParameterError(PREFIX + key, f"got {value!r}; allowed: {allowed}")
        out[key] = value
    return out


def check_steps(steps: int, cfg: dict[str, Any]) -> None:
    """The run must be long enough for the burn-in and the growth window."""
    need = max(cfg["burn_in"], cfg["growth_window"]) + 1
    if steps < need:
        raise ParameterError("steps", f"got {steps}; allowed: at least {need} months (more "
                             f"than the burn-in of {cfg['burn_in']} and the growth window of "
                             f"{cfg['growth_window']})")


def measure(series: pd.DataFrame, before: pd.DataFrame, after: pd.DataFrame,
            facility_status, facility_sponsor, cfg: dict[str, Any], *,
            yearly: list[tuple[np.ndarray, np.ndarray]] | None = None,
            anchors: dict[str, float] | None = None,
            sector_base: float = float("nan")) -> dict[str, float]:
    """The patterns from a run's outputs.

    Parameters
    ----------
    series : DataFrame
        ``model.series()``: ``step``, ``firms``, ``entries``, ``exits``, ``facility_use_rate``,
        ``facilities_operating``.
    before, after : DataFrame
        ``model.firm_table()`` ``growth_window`` months before the end and at the end
        (``firm_id``, ``employees``, ``sector``; ``uses_facility`` at the end, without which
        ``sector_facility_use`` is NaN).
    facility_status, facility_sponsor : sequences
        One entry per facility drive (``model.facilities.status`` and ``.sponsor``); the
        sponsored drives, when there are any, are the ones ``facility_completion`` and
        ``sector_facility_use`` count.
    cfg : dict
        :func:`settings`.
    yearly : list of (ids, ages), optional
        The live firms' ids and ages (months) every 12 months from the burn-in on, for
        ``exit_hazard_young_old`` (NaN without two snapshots).
    anchors : dict, optional
        ``cfc_user_productivity_gain`` and ``cfc_completion_2y`` as measured on the run's panel
        (:func:`anchor_patterns`); NaN when not given.
    sector_base : float, optional
        The named sector's live firms in month ``burn_in - 1`` (0 without a burn-in), for
        ``sector_firms_ratio`` (NaN when not given or 0).
    """
    sizes = after["employees"].to_numpy(dtype=np.float64)
    a, xmin, n_tail = pt.tail_exponent(sizes, min_tail=cfg["min_tail"])
    g = pt.growth_rates(before["firm_id"].to_numpy(), before["employees"].to_numpy(),
                        after["firm_id"].to_numpy(), sizes)
    late = series[series["step"] > cfg["burn_in"]]
    status = np.asarray(facility_status, dtype=np.int64)
    sponsored = np.asarray(facility_sponsor, dtype=bool)
    counted = np.flatnonzero(sponsored) if sponsored.any() else np.arange(status.size)
    if sponsored.any():
        status = status[sponsored]
    out = {
        "micro_share": pt.micro_share(sizes),
        "mean_size": pt.mean_size(sizes),
        "zipf_exponent": a,
        "zipf_xmin": xmin,
        "zipf_n_tail": float(n_tail),
        "growth_mad_sd": pt.mad_sd_ratio(g),
        "growth_kurtosis": pt.kurtosis(g),
        "growth_n": float(g.size),
        "annual_entry_rate": pt.annual_rate(late["entries"], late["firms"]),
        "annual_exit_rate": pt.annual_rate(late["exits"], late["firms"]),
        # entry less exit: 0 (or demand's growth) in a steady state, the condition of issue 11
        "net_entry_rate": (pt.annual_rate(late["entries"], late["firms"])
                           - pt.annual_rate(late["exits"], late["firms"])),
        "facility_completion": pt.facility_completion(status),
        "facility_utilisation": (pt.mean_utilisation(late["facility_use_rate"],
                                                     late["facilities_operating"])
                                 if "facility_use_rate" in late else float("nan")),
        "firms": float(len(after)),
        "employment": float(sizes.sum()),
        "sector_firms": float("nan"),
        "sector_employment": float("nan"),
        "sector_facility_use": float("nan"),
    }
    starts = pt.growth_start_sizes(before["firm_id"].to_numpy(), before["employees"].to_numpy(),
                                   after["firm_id"].to_numpy(), sizes)
    counts = [pt.exit_counts_by_age(i0, a0, i1, YOUNG, OLD)
              for (i0, a0), (i1, _) in pairwise(yearly or [])]
    out["exit_hazard_young_old"] = pt.exit_hazard_ratio(counts) if counts else float("nan")
    out["growth_sd_size_slope"] = pt.growth_sd_size_slope(starts, g, SIZE_CLASS_MIN)
    out["employment_herfindahl"] = pt.herfindahl(sizes)
    anchors = anchors or {}
    for key in ("cfc_user_productivity_gain", "cfc_completion_2y"):
        out[key] = float(anchors.get(key, float("nan")))
    out["sector_firms_ratio"] = float("nan")
    if cfg["sector"]:
        mine = after["sector"].to_numpy() == cfg["sector"]
        out["sector_firms"] = float(mine.sum())
        if sector_base > 0:
            out["sector_firms_ratio"] = out["sector_firms"] / float(sector_base)
        out["sector_employment"] = float(sizes[mine].sum())
        if "uses_facility" in after:
            out["sector_facility_use"] = pt.facility_use_share(
                after["uses_facility"].to_numpy()[mine], counted)
    return out


@dataclass
class PatternRun:
    """What :func:`simulate` returns, shaped like :class:`sim.studies.simulate.RunResult` for the
    sweep."""

    final: dict[str, float]
    series: pd.DataFrame
    provenance: dict[str, Any]


def simulate(scenario: str | Path, *, steps: int | None, seed: int,
             overrides: dict[str, Any]) -> PatternRun:
    """Run ``scenario`` with ``overrides`` and measure its patterns (see the module docstring)."""
    return _run(load_scenario(Path(scenario)), steps, seed, dict(overrides))


def simulate_many(scenario: str | Path, *, steps: int | None, seeds: list[int],
                  overrides: list[dict[str, Any]]) -> Iterator[PatternRun | Exception]:
    """:func:`simulate` of each seed with its overrides, in this process, yielded as each run
    finishes (a run that fails is yielded as its exception, and the others go on): the scenario
    is read once and each distinct set of scenario overrides applied once. Each result is
    :func:`simulate`'s, to the bit."""
    base = load_scenario(Path(scenario))
    applied: dict[str, Any] = {}
    for seed, own in zip(seeds, overrides, strict=True):
        try:
            rest = split_overrides(dict(own))[1]
            key = json.dumps(rest, sort_keys=True, default=repr)
            sc = applied.get(key)
            if sc is None:
                sc = applied[key] = base.with_overrides(rest) if rest else base
            yield _run(base, steps, seed, dict(own), sc)
        except Exception as exc:  # the caller records the run as failed and goes on
            yield exc


def _run(base, steps: int | None, seed: int, overrides: dict[str, Any], sc=None) -> PatternRun:
    """One pattern run of ``base`` (a loaded scenario) with ``overrides`` (``sc``: ``base``
    with the scenario overrides already applied)."""
    own, rest = split_overrides(overrides)
    if sc is None:
        sc = base.with_overrides(rest) if rest else base
    cfg = settings(own, tuple(s.name for s in sc.world.sectors))
    n_steps = sc.steps if steps is None else int(steps)
    check_steps(n_steps, cfg)
    t0 = time.perf_counter()
    model = sc.build(rng=seed, agents=False, recording=RECORDING)
    want_anchors = cfg["anchors"] == "on" or (cfg["anchors"] == "auto" and offers_cfc(sc))
    panel: list[pd.DataFrame] = []
    yearly: list[tuple[np.ndarray, np.ndarray]] = []
    before = None
    sector = sc.world.sector_index(cfg["sector"]) if cfg["sector"] else -1
    base_month, sector_base = max(cfg["burn_in"] - 1, 0), float("nan")
    for month in range(n_steps + 1):
        if month:
            model.step()  # as run_model steps it
        if month == base_month and sector >= 0:
            f = model.firms
            sector_base = float(np.count_nonzero(f.alive & (f.sector == sector)))
        if month >= cfg["burn_in"] and (month - cfg["burn_in"]) % 12 == 0:
            f = model.firms
            live = np.flatnonzero(f.alive)
            yearly.append((f.firm_id[live].copy(), f.age[live].copy()))
        if want_anchors:
            panel.append(_lean_firms(model, month))
        if month == n_steps - cfg["growth_window"]:
            before = model.firm_table()[["firm_id", "employees"]].copy()
    after = model.firm_table()
    series = model.series()
    fac = model.facilities
    anchors = anchor_patterns(model, panel, series) if want_anchors else None
    final = measure(series, before, after, list(fac.status), list(fac.sponsor), cfg,
                    yearly=yearly, anchors=anchors, sector_base=sector_base)
    prov = provenance(scenario=sc, seed=seed, params=model.params, steps=n_steps,
                      overrides=overrides, wall_time_s=time.perf_counter() - t0)
    return PatternRun(final=final, series=series, provenance=prov)


def offers_cfc(sc) -> bool:
    """Whether the scenario offers a Common Facility Centre (an enabled intervention of kind
    ``cfc``)."""
    return any(getattr(iv, "kind", "") == "cfc" for iv in sc.interventions)


def _lean_firms(model, month: int) -> pd.DataFrame:
    """The columns of ``model.firm_table()`` the CFC anchors read, for the live firms, with
    ``step``: the same rows and values as :func:`sim.studies.anchors.firm_panel` keeps."""
    f = model.firms
    live = np.flatnonzero(f.alive)
    return pd.DataFrame({"firm_id": f.firm_id[live], "employees": f.employees[live],
                         "uses_facility": f.uses[live], "output": f.output[live],
                         "step": month})


def anchor_patterns(model, tables: list[pd.DataFrame], series: pd.DataFrame
                    ) -> dict[str, float]:
    """``cfc_user_productivity_gain`` and ``cfc_completion_2y`` of a run, by the estimators
    ``clustersim validate --anchors`` applies (:mod:`sim.studies.anchors`) to the firms of
    every month (``tables``, from month 0)."""
    from sim.studies.anchors import Panel, cfc_user_change, facility_table, public_completion

    firms = pd.concat(tables, ignore_index=True)
    firms["output_per_worker"] = firms["output"] / firms["employees"].where(
        firms["employees"] > 0)
    panel = Panel(firms=firms, facilities=facility_table(model), series=series)
    return {"cfc_user_productivity_gain": cfc_user_change(panel),
            "cfc_completion_2y": public_completion(panel, within=COMPLETION_WITHIN)}
