"""The model's outputs, declared in one place: names, readable labels, and which way is better.

Three kinds of names:

- :data:`SERIES`: the per-step outputs the recorder writes every month (what a scenario's
  ``when_metric`` may name), as templates where ``{sector}`` and ``{region}`` stand for the
  names of a scenario's world. :func:`series_names` expands them for one world without building
  a model (loading a scenario compiles nothing). A test checks that a model records exactly
  these names, so the list cannot drift from :func:`sim.measure.collect.snapshot`.
- :data:`FINAL_EXTRA`: outcomes of a whole run added by :func:`sim.measure.collect.final_outcomes`.
- :data:`PURPOSE_SERIES` and :data:`PURPOSE_TOTALS` (part of the two above): what
  interventions are for, waste treated, firms whose waste is treated, firms served, trained
  and under credit support; :func:`purpose_outcomes` says which of them measure the purpose of
  a scenario's interventions, and in what unit.
- :data:`WELFARE` (part of :data:`SERIES`): who receives the value the cluster adds each
  month: value added, wages, land rents, owners' profit and local suppliers' margins
  (docs/ODD.md, welfare outcomes).
- :data:`BREAKDOWN`: employment and firms in business at the end by sector and by town
  (region), computed from the final firm table by :func:`breakdown`.

:data:`DESIRABLE` says, per outcome, whether an increase is good (+1), bad (-1) or neither (0,
a description rather than a goal). A report colours a significant change green when it moves
in the desirable direction and red when it moves against it; an outcome with no declared
direction is shown in blue or grey, never as good or bad.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.core.errors import InputError

__all__ = [
    "SERIES",
    "FINAL_EXTRA",
    "BREAKDOWN",
    "DESIRABLE",
    "LABELS",
    "UNITS",
    "PURPOSE_SERIES",
    "PURPOSE_TOTALS",
    "WELFARE",
    "PurposeOutcome",
    "purpose_outcomes",
    "unit",
    "series_names",
    "final_names",
    "breakdown_names",
    "breakdown",
    "direction",
    "label",
]

#: Per-step outcomes of what interventions are for (:func:`sim.measure.metrics.purpose_totals`):
#: waste made and treated, firms whose waste is treated, users of the other facility services,
#: firms trained, firms under credit support.
PURPOSE_SERIES: tuple[str, ...] = (
    "waste_generated", "waste_treated", "waste_treated_share", "firms_compliant",
    "compliance_share", "services_delivered", "trained_firms", "credit_supported",
)
#: Their sums over months 1.. (firm-months for the counts), kept by the recorder every month
#: whatever it keeps: what a cost per unit of purpose divides by.
PURPOSE_TOTALS: tuple[str, ...] = (
    "waste_generated_total", "waste_treated_total", "firms_compliant_total",
    "services_delivered_total", "credit_supported_total",
)

#: Per-step welfare outcomes, money per month: value added (revenue less inputs, waste and
#: transport), wages and land rents paid, owners' profit and local suppliers' margins (their
#: price above their base cost, times their sales). Value added = wages + land rents + profit +
#: fees + fixed costs + interest - cooperation income; the suppliers' margin is part of the
#: inputs value added is net of.
WELFARE: tuple[str, ...] = ("value_added", "wages", "land_rents", "profit", "supplier_margin")

#: Per-step outputs, in the recorder's order (``{sector}``/``{region}`` are expanded per world).
SERIES: tuple[str, ...] = (
    "step", "firms", "employment", "output", "revenue", "profit", "capital",
    "mean_productivity", "sd_productivity", "share_micro", "share_small", "share_medium",
    "share_large", "gini_size", "cooperation_rate", "mean_trust", "mean_degree", "tie_density",
    "giant_component_share", "clustering", "supplier_concentration", "input_price_index",
    "import_share", "jp_share",
    "facilities_operating", "facilities_built", "public_facilities_built",
    "public_facilities_operating", "facility_users", "facility_use_rate", "spv_members",
    "public_spending", "public_spending_total", "eg_gamma_{sector}", "lq_{sector}_{region}",
    "eg_gamma_mean", "herfindahl_regions", "morans_i", "contributions", "entry_capital",
    "exit_capital", "capital_change", "fees", "interest_subsidy", "payouts", "investment",
    *PURPOSE_SERIES, *(n for n in WELFARE if n != "profit"), "burn_in", "entries", "exits",
)
#: Whole-run outcomes added to the last row of the series (see
#: :func:`sim.measure.collect.final_outcomes`).
FINAL_EXTRA: tuple[str, ...] = (
    "survival", "jobs_created", "time_to_first_facility", "public_spending_per_gross_job",
    "entries_total", "exits_total", *PURPOSE_TOTALS,
)
#: Final breakdowns by sector and by town (region), from the firm table.
BREAKDOWN: tuple[str, ...] = (
    "employment_sector_{sector}", "firms_sector_{sector}",
    "employment_town_{region}", "firms_town_{region}",
)

#: +1: more is better; -1: less is better. Outcomes not listed have no desirable direction.
DESIRABLE: dict[str, int] = {
    "firms": +1, "employment": +1, "jobs_created": +1, "output": +1, "revenue": +1,
    "profit": +1, "capital": +1, "value_added": +1, "wages": +1, "mean_productivity": +1,
    "survival": +1,
    "entries_total": +1, "exits_total": -1, "entries": +1, "exits": -1,
    "cooperation_rate": +1, "mean_trust": +1, "jp_share": +1, "facilities_built": +1,
    "facilities_operating": +1, "public_facilities_built": +1,
    "public_facilities_operating": +1, "facility_users": +1, "facility_use_rate": +1,
    "spv_members": +1, "time_to_first_facility": -1, "public_spending": -1,
    "public_spending_total": -1, "public_spending_per_gross_job": -1,
    "employment_sector_{sector}": +1, "firms_sector_{sector}": +1,
    "employment_town_{region}": +1, "firms_town_{region}": +1,
    # purpose outcomes (waste made is a description, not a goal: not listed)
    "waste_treated": +1, "waste_treated_share": +1, "firms_compliant": +1,
    "compliance_share": +1, "services_delivered": +1, "trained_firms": +1,
    "credit_supported": +1, "waste_treated_total": +1, "firms_compliant_total": +1,
    "services_delivered_total": +1, "credit_supported_total": +1,
}

#: Readable names of outputs, for figures and tables.
LABELS: dict[str, str] = {
    "firms": "Firms in business",
    "employment": "Employment (workers)",
    "jobs_created": "Jobs created since month 0",
    "output": "Output",
    "input_price_index": "Input price paid over base (input-weighted)",
    "import_share": "Share of inputs bought from outside",
    "value_added": "Value added (money/month)",
    "wages": "Wages paid (money/month)",
    "land_rents": "Land rents paid (money/month)",
    "profit": "Owners' profit (money/month)",
    "supplier_margin": "Local suppliers' margin over base cost (money/month)",
    "mean_productivity": "Mean productivity",
    "survival": "Survival of initial firms (share)",
    "entries_total": "Entries (total)",
    "exits_total": "Exits (total)",
    "cooperation_rate": "Cooperation rate",
    "mean_trust": "Mean trust",
    "jp_share": "Joint-purchasing share",
    "facilities_built": "Facilities built",
    "facilities_operating": "Facilities operating",
    "public_facilities_built": "Policy facilities (CFCs) built",
    "public_facilities_operating": "Policy facilities (CFCs) operating",
    "facility_users": "Facility users",
    "spv_members": "SPV members",
    "time_to_first_facility": "Month of the first facility",
    "eg_gamma_mean": "Spatial concentration (EG gamma, mean)",
    "herfindahl_regions": "Regional Herfindahl of employment",
    "public_spending_total": "Public spending (cumulative)",
    "public_spending_per_gross_job": "Public spending per job created (gross, not vs no policy)",
    "employment_sector_{sector}": "Employment in {sector}",
    "firms_sector_{sector}": "Firms in {sector}",
    "employment_town_{region}": "Employment in {region}",
    "firms_town_{region}": "Firms in {region}",
    "waste_generated": "Waste made (waste units/month)",
    "waste_treated": "Waste treated (waste units/month)",
    "waste_treated_share": "Share of waste treated",
    "firms_compliant": "Firms whose waste is treated",
    "compliance_share": "Share of waste-making firms whose waste is treated",
    "services_delivered": "Users of facility services (other than waste treatment)",
    "trained_firms": "Trained firms in business",
    "credit_supported": "Firms under credit support",
    "waste_generated_total": "Waste made since month 0 (waste units)",
    "waste_treated_total": "Waste treated since month 0 (waste units)",
    "firms_compliant_total": "Firm-months of waste treated",
    "services_delivered_total": "Firm-months of facility services (other than waste)",
    "credit_supported_total": "Firm-months of credit support",
}

#: Units of the purpose outcomes (waste units: those of the sectors' ``waste_per_output``).
UNITS: dict[str, str] = {
    "waste_generated": "waste units/month", "waste_treated": "waste units/month",
    "waste_treated_share": "share", "firms_compliant": "firms", "compliance_share": "share",
    "services_delivered": "firms", "trained_firms": "firms", "credit_supported": "firms",
    "waste_generated_total": "waste units", "waste_treated_total": "waste units",
    "firms_compliant_total": "firm-months", "services_delivered_total": "firm-months",
    "credit_supported_total": "firm-months",
}


def _expand(templates: Iterable[str], sectors: Iterable[str],
            regions: Iterable[str]) -> tuple[str, ...]:
    sectors, regions = list(sectors), list(regions)
    out: list[str] = []
    for key in templates:
        if "{sector}" in key:
            for s in sectors:
                name = key.replace("{sector}", s)
                if "{region}" in key:
                    out.extend(name.replace("{region}", r) for r in regions)
                else:
                    out.append(name)
        elif "{region}" in key:
            out.extend(key.replace("{region}", r) for r in regions)
        else:
            out.append(key)
    return tuple(dict.fromkeys(out))


def _world_names(world) -> tuple[list[str], list[str]]:
    return [s.name for s in world.sectors], [r.name for r in world.regions]


def series_names(world) -> tuple[str, ...]:
    """The per-step outputs of a model of ``world`` (a :class:`sim.core.world.World`), in order."""
    return _expand(SERIES, *_world_names(world))


def breakdown_names(world) -> tuple[str, ...]:
    """The by-sector and by-town final outcomes of ``world``."""
    return _expand(BREAKDOWN, *_world_names(world))


def final_names(world) -> tuple[str, ...]:
    """Every final outcome of a run of ``world``: the last row of the series, the whole-run
    outcomes and the breakdowns by sector and town (``step`` excluded)."""
    return tuple(n for n in (*series_names(world), *FINAL_EXTRA, *breakdown_names(world))
                 if n != "step")


def breakdown(firms: pd.DataFrame, sectors: Iterable[str],
              regions: Iterable[str]) -> dict[str, float]:
    """Employment and firms in business by sector and by town, from a firm table (one row per
    live firm, with ``sector``, ``region`` and ``employees``). Every sector and town of the
    world gets a value, 0 where no firm is left."""
    out: dict[str, float] = {}
    emp = firms["employees"].to_numpy(dtype=np.float64) if len(firms) else np.zeros(0)
    for key, col, names in (("sector", "sector", list(sectors)),
                            ("town", "region", list(regions))):
        where = firms[col].to_numpy() if len(firms) else np.zeros(0, dtype=object)
        for name in names:
            mine = where == name
            out[f"employment_{key}_{name}"] = float(emp[mine].sum())
            out[f"firms_{key}_{name}"] = float(np.count_nonzero(mine))
    return out


def _template_of(name: str) -> str | None:
    for t in (*DESIRABLE, *LABELS):
        if "{" not in t:
            continue
        head = t.split("{", 1)[0]
        if name.startswith(head) and head:
            return t
    return None


def direction(name: str) -> int:
    """+1 if more of ``name`` is better, -1 if less is, 0 if neither is declared."""
    if name in DESIRABLE:
        return DESIRABLE[name]
    t = _template_of(name)
    return DESIRABLE.get(t, 0) if t else 0


def label(name: str) -> str:
    """A readable name of an output (the name itself when none is declared)."""
    if name in LABELS:
        return LABELS[name]
    t = _template_of(name)
    if t and t in LABELS:
        rest = name[len(t.split("{", 1)[0]):]
        return LABELS[t].replace("{sector}", rest).replace("{region}", rest)
    return name


def unit(name: str) -> str:
    """The unit of an output, where one is declared (:data:`UNITS`), else an empty string."""
    return UNITS.get(name, "")


@dataclass(frozen=True)
class PurposeOutcome:
    """A final outcome that measures what an intervention is for, and its unit.

    Attributes
    ----------
    name : str
        A final outcome of every run (:func:`final_names`), e.g. ``waste_treated_total``.
    unit : str
        What one unit of ``value * scale`` is, e.g. "tonnes of slurry treated".
    scale : float
        Units per unit of the recorded outcome: the outcome in ``unit`` is the recorded value
        (or a difference or an interval of them) times ``scale``; 1 for counts.
    interventions : tuple of str
        The interventions of the scenario whose purpose it measures.
    """

    name: str
    unit: str
    scale: float = 1.0
    interventions: tuple[str, ...] = ()

    def value(self, recorded: float) -> float:
        """A recorded value (or a difference of two) in :attr:`unit`."""
        return recorded * self.scale


def purpose_outcomes(scenario) -> list[PurposeOutcome]:
    """The purpose outcomes of a loaded scenario (a :class:`sim.io.scenario.Scenario`): what its
    interventions declare they are for (``Intervention.purpose_outcomes``), one entry per
    outcome in the order the interventions first name it; shocks declare none. A cost per unit
    of purpose is the public cost over ``PurposeOutcome.value`` of the outcome's difference
    from the reference run.

    Raises
    ------
    sim.core.errors.InputError
        When two interventions report one outcome in different units (two waste-treatment CFCs
        with different ``purpose_unit`` or ``purpose_scale``): their sum has no one unit.
    """
    merged: dict[str, PurposeOutcome] = {}
    for iv in scenario.interventions:
        for p in iv.purpose_outcomes():
            old = merged.get(p.name)
            if old is None:
                merged[p.name] = PurposeOutcome(p.name, p.unit, p.scale, (iv.name,))
            elif (old.unit, old.scale) != (p.unit, p.scale):
                raise InputError(str(scenario.path or scenario.name),
                                 f"interventions.{iv.name}.purpose_unit",
                                 f"{p.name} in {p.unit!r} x {p.scale:g}, but "
                                 f"{old.interventions[0]} reports it in {old.unit!r} x "
                                 f"{old.scale:g}; allowed: the same purpose_unit and "
                                 "purpose_scale for both")
            else:
                merged[p.name] = PurposeOutcome(p.name, p.unit, p.scale,
                                                (*old.interventions, iv.name))
    return list(merged.values())
