"""The model's outputs, declared in one place: names, readable labels, and which way is better.

Three kinds of names:

- :data:`SERIES`: the per-step outputs the recorder writes every month (what a scenario's
  ``when_metric`` may name), as templates where ``{sector}`` and ``{region}`` stand for the
  names of a scenario's world. :func:`series_names` expands them for one world without building
  a model (loading a scenario compiles nothing). A test checks that a model records exactly
  these names, so the list cannot drift from :func:`sim.measure.collect.snapshot`.
- :data:`FINAL_EXTRA`: outcomes of a whole run added by :func:`sim.measure.collect.final_outcomes`.
- :data:`BREAKDOWN`: employment and firms in business at the end by sector and by town
  (region), computed from the final firm table by :func:`breakdown`.

:data:`DESIRABLE` says, per outcome, whether an increase is good (+1), bad (-1) or neither (0,
a description rather than a goal). A report colours a significant change green when it moves
in the desirable direction and red when it moves against it; an outcome with no declared
direction is shown in blue or grey, never as good or bad.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "SERIES",
    "FINAL_EXTRA",
    "BREAKDOWN",
    "DESIRABLE",
    "LABELS",
    "series_names",
    "final_names",
    "breakdown_names",
    "breakdown",
    "direction",
    "label",
]

#: Per-step outputs, in the recorder's order (``{sector}``/``{region}`` are expanded per world).
SERIES: tuple[str, ...] = (
    "step", "firms", "employment", "output", "revenue", "profit", "capital",
    "mean_productivity", "sd_productivity", "share_micro", "share_small", "share_medium",
    "share_large", "gini_size", "cooperation_rate", "mean_trust", "mean_degree", "tie_density",
    "giant_component_share", "clustering", "supplier_concentration", "jp_share",
    "facilities_operating", "facilities_built", "public_facilities_built",
    "public_facilities_operating", "facility_users", "facility_use_rate", "spv_members",
    "public_spending", "public_spending_total", "eg_gamma_{sector}", "lq_{sector}_{region}",
    "eg_gamma_mean", "herfindahl_regions", "morans_i", "contributions", "entry_capital",
    "exit_capital", "capital_change", "fees", "interest_subsidy", "payouts", "investment",
    "burn_in", "entries", "exits",
)
#: Whole-run outcomes added to the last row of the series (see
#: :func:`sim.measure.collect.final_outcomes`).
FINAL_EXTRA: tuple[str, ...] = (
    "survival", "jobs_created", "time_to_first_facility", "public_spending_per_gross_job",
    "entries_total", "exits_total",
)
#: Final breakdowns by sector and by town (region), from the firm table.
BREAKDOWN: tuple[str, ...] = (
    "employment_sector_{sector}", "firms_sector_{sector}",
    "employment_town_{region}", "firms_town_{region}",
)

#: +1: more is better; -1: less is better. Outcomes not listed have no desirable direction.
DESIRABLE: dict[str, int] = {
    "firms": +1, "employment": +1, "jobs_created": +1, "output": +1, "revenue": +1,
    "profit": +1, "capital": +1, "mean_productivity": +1, "survival": +1,
    "entries_total": +1, "exits_total": -1, "entries": +1, "exits": -1,
    "cooperation_rate": +1, "mean_trust": +1, "jp_share": +1, "facilities_built": +1,
    "facilities_operating": +1, "public_facilities_built": +1,
    "public_facilities_operating": +1, "facility_users": +1, "facility_use_rate": +1,
    "spv_members": +1, "time_to_first_facility": -1, "public_spending": -1,
    "public_spending_total": -1, "public_spending_per_gross_job": -1,
    "employment_sector_{sector}": +1, "firms_sector_{sector}": +1,
    "employment_town_{region}": +1, "firms_town_{region}": +1,
}

#: Readable names of outputs, for figures and tables.
LABELS: dict[str, str] = {
    "firms": "Firms in business",
    "employment": "Employment (workers)",
    "jobs_created": "Jobs created since month 0",
    "output": "Output",
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
