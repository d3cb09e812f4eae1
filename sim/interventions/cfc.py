"""Common Facility Centre: a shared facility built by an SPV of firms with a public grant.

Defaults follow India's MSE-CDP (docs/sources.md#mse-cdp-rules): an SPV of at least 20 member
firms, members paying
at least 10% of the project cost (the model parameters ``spv_min_members`` and
``member_share_min``, which a CFC may override for itself), and a central grant by cost band
(2022 guidelines: 70% for Rs 5-10 crore projects, 60% for Rs 10-30 crore, 80%/70% in special
categories, grant capped at Rs 21 crore). While the intervention is active, a pledge drive runs
each month until it succeeds or ``drive_months`` pass (see :mod:`sim.mechanisms.facilities`); the
grant is paid when the SPV forms, and never exceeds the intervention's ``budget`` (members pay the
rest). When the intervention ends (``end``, ``duration``) a drive still open closes unbuilt. An
optional operating grant pays part of the running cost while the intervention lasts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from sim.core.fields import param as _p
from sim.core.state import FacilityState
from sim.interventions.base import Intervention, Schedule
from sim.measure.outputs import PurposeOutcome
from sim.mechanisms.facilities import SERVICES, FacilityProject, open_drive

__all__ = ["CommonFacilityCentre", "mse_cdp_grant_share", "PURPOSES"]

#: What a CFC may be for (MSE-CDP's typical services, docs/sources.md#mse-cdp-rules), each with
#: the service it gives in the model and the word its outcome is named by.
PURPOSES: dict[str, tuple[str, str]] = {
    "slurry_treatment": ("waste", "slurry"),
    "effluent_treatment": ("waste", "effluent"),
    "waste_treatment": ("waste", "waste"),
    "testing": ("productivity", "testing"),
    "tool_room": ("productivity", "tool room service"),
    "design": ("productivity", "design service"),
    "training_centre": ("productivity", "training"),
    "raw_material_bank": ("cost", "raw-material supply"),
}


def mse_cdp_grant_share(cost_crore: float, special_category: bool = False) -> float:
    """Central grant share of an MSE-CDP CFC by project cost (2022 guidelines,
    docs/sources.md#mse-cdp-rules).

    Rs 5-10 crore: 70% (80% special categories); Rs 10-30 crore: 60% (70%); the grant is
    capped at Rs 21 crore. Below Rs 5 crore the 5-10 crore share is assumed (not stated).
    """
    if cost_crore <= 0:
        raise ValueError("cost_crore must be positive")
    if cost_crore <= 10.0:
        share = 0.8 if special_category else 0.7
    else:
        share = 0.7 if special_category else 0.6
    return min(share, 21.0 / cost_crore)


@dataclass(frozen=True, kw_only=True)
class CommonFacilityCentre(Intervention):
    """A CFC offered to the firms of one region and some sectors."""

    kind = "cfc"
    targets = ("sectors",)
    from_params = {"spv_min_members": "facilities.spv_min_members",
                   "member_share_min": "facilities.member_share_min"}

    region: str = _p("", doc="region where the CFC is built (required)")
    service: str = _p("productivity", doc="what it does for users: 'productivity' (testing, "
                      "tool room, design: output per worker), 'cost' (raw-material bank: input "
                      "cost), 'waste' (slurry or effluent treatment: waste disposal cost)",
                      choices=SERVICES)
    effect: float = _p(0.1, 0.0, 1.0, "share", "productivity gain, input cost cut or share of "
                       "waste treated at full service", "MSE-CDP evaluation: productivity "
                       "+10-15% (docs/sources.md#mse-cdp-outcomes)")
    project_cost: float = _p(1500.0, 0.0, 1e12, "money", "cost of building the facility")
    grant_share: float = _p(-1.0, -1.0, 1.0, "share", "public grant as a share of the project "
                            "cost; -1 = by the MSE-CDP 2022 cost band of `band_cost_crore`")
    band_cost_crore: float = _p(15.0, 0.01, 1e6, "Rs crore",
                                "project cost in Rs crore, for the MSE-CDP grant band")
    special_category: bool = _p(False, doc="MSE-CDP special category (North-East, hill, "
                                "aspirational districts, >50% micro/women/SC-ST units)")
    capacity: float = _p(60.0, 1.0, 1e9, "firms", "users it serves at full quality")
    operating_cost: float = _p(10.0, 0.0, 1e12, "money/month", "running cost")
    operating_grant: float = _p(0.0, 0.0, 1e12, "money/month",
                                "public support towards running cost while active")
    spv_min_members: int = _p(-1, -1, 100_000, "firms", "fewest members of the SPV of this CFC; "
                              "-1 = the model's `spv_min_members`")
    member_share_min: float = _p(-1.0, -1.0, 1.0, "share of project cost",
                                 "least share of the project cost the members of this CFC pay; "
                                 "-1 = the model's `member_share_min`")
    drive_months: int = _p(24, 1, 100_000, "months", "months the pledge drive stays open")
    purpose: str = _p("", doc="what it is for, named in reports: 'slurry_treatment', "
                      "'effluent_treatment', 'waste_treatment' (service 'waste'); 'testing', "
                      "'tool_room', 'design', 'training_centre' (service 'productivity'); "
                      "'raw_material_bank' (service 'cost'); empty = by its service",
                      choices=("", *PURPOSES))
    purpose_unit: str = _p("", doc="the unit its purpose outcome is reported in, in the singular "
                           "(the report says 'per tonne', '2,000 tonnes'), e.g. 'tonne of "
                           "slurry' (waste) or 'test' (other services); empty = the model's "
                           "own: waste unit, or firm-month of service")
    purpose_scale: float = _p(1.0, 1e-12, 1e12, "purpose_unit per model unit",
                              "purpose_unit per waste unit of the sectors' waste_per_output "
                              "(waste service) or per firm-month of service (others)")

    quiet_defaults = ("purpose", "purpose_unit", "purpose_scale")

    @classmethod
    def check_values(cls, values, ctx) -> None:
        """The common checks, and: a grant may not leave members less than their minimum
        share of the cost (MSE-CDP)."""
        super().check_values(values, ctx)
        grant = values.get("grant_share")
        share = cls.value_of(values, "member_share_min", ctx.params)
        if grant is not None and grant >= 0 and grant > 1.0 - share + 1e-12:
            ctx.fail("grant_share", f"got {grant!r}, which leaves members less than "
                     f"member_share_min ({share!r}); allowed: a number from 0 to "
                     f"{1.0 - share:g}, or -1 (by MSE-CDP cost band)")
        purpose = values.get("purpose", "")
        service = values.get("service", cls.fields_info()["service"].default)
        if purpose and PURPOSES[purpose][0] != service:
            fits = [k for k, (v, _) in PURPOSES.items() if v == service]
            ctx.fail("purpose", f"got {purpose!r}, a {PURPOSES[purpose][0]!r} service, but "
                     f"service is {service!r}; allowed: service = "
                     f"{PURPOSES[purpose][0]!r}, or a purpose of a {service!r} service: "
                     + ", ".join(map(repr, fits)))
        if values.get("purpose_scale", 1.0) != 1.0 and not values.get("purpose_unit"):
            ctx.fail("purpose_scale", "set without purpose_unit; allowed: name the unit it "
                     "converts to in purpose_unit, or leave purpose_scale at 1")

    def purpose_outcomes(self) -> tuple[PurposeOutcome, ...]:
        """A waste-treatment CFC: the waste it treats (in ``purpose_unit``) and the firm-months
        of waste treated; any other: the firm-months of service it delivers."""
        what = PURPOSES[self.purpose][1] if self.purpose else None
        if self.service == "waste":
            unit = self.purpose_unit or f"waste unit of {what or 'waste'}"
            return (PurposeOutcome("waste_treated_total", f"{unit} treated", self.purpose_scale),
                    PurposeOutcome("firms_compliant_total",
                                   f"firm-month of {what or 'waste'} treated"))
        unit = self.purpose_unit or f"firm-month of {what or self.service + ' service'}"
        return (PurposeOutcome("services_delivered_total", unit, self.purpose_scale),)

    def project(self, model) -> FacilityProject:
        world = model.world
        share = self.grant_share
        member_share_min = self.own_or_param(model, "member_share_min")
        if share < 0:
            share = mse_cdp_grant_share(self.band_cost_crore, self.special_category)
        share = min(share, 1.0 - member_share_min)
        sectors = (np.array([world.sector_index(s) for s in self.sectors], dtype=np.int64)
                   if self.sectors else np.arange(len(world.sectors), dtype=np.int64))
        return FacilityProject(
            name=self.name, region=world.region_index(self.region), sectors=sectors,
            service=SERVICES.index(self.service), effect=self.effect, cost=self.project_cost,
            grant_share=share, capacity=self.capacity, operating_cost=self.operating_cost,
            spv_min=self.own_or_param(model, "spv_min_members"), member_share=member_share_min,
            drive_months=self.drive_months, sponsor=self.name)

    def on_start(self, model, state: Schedule) -> None:
        project = self.project(model)
        budget = state.remaining_budget()
        if project.cost > 0 and project.grant_share * project.cost > budget:
            # the grant never exceeds the budget: members pay the rest
            project = dataclasses.replace(project, grant_share=budget / project.cost)
        state.data["facility"] = open_drive(model.facilities, project, model.steps)

    def on_end(self, model, state: Schedule) -> None:
        # the offer ends with the intervention (end, duration, budget): a drive still open
        # closes unbuilt, and no grant is paid after the intervention has ended
        f = state.data.get("facility")
        if f is not None and model.facilities.status[f] == FacilityState.DRIVE:
            model.facilities.status[f] = FacilityState.FAILED

    def apply(self, model, state: Schedule) -> None:
        f = state.data["facility"]
        fac = model.facilities
        if self.operating_grant > 0 and fac.status[f] == FacilityState.OPERATING:
            # the support counts towards covering running cost this month
            fac.support[f] += state.spend(model, min(self.operating_grant,
                                                     fac.operating_cost[f]))
