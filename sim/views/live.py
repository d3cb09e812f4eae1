"""Interventions decided while a model runs: what the classroom app's buttons do.

An intervention added here is an ordinary scheduled intervention (:mod:`sim.interventions`)
that starts at the model's current month: the model applies it from its next step on, books
its spending and reports it like one written in the scenario file. Nothing here touches the
model's arrays.

>>> from sim.model import ClusterModel                          # doctest: +SKIP
>>> model = ClusterModel(n_firms=200, rng=1)                    # doctest: +SKIP
>>> open_cfc(model, "Core")                                     # doctest: +SKIP
'cfc_now_m0'
"""

from __future__ import annotations

import dataclasses

from sim.interventions.base import Intervention, Schedule
from sim.interventions.cfc import CommonFacilityCentre
from sim.interventions.shocks import MovementRestriction
from sim.interventions.trust import TrustBuilding

__all__ = ["intervene_now", "end_now", "open_cfc", "start_trust_building",
           "impose_restrictions", "lift_restrictions", "active"]


def _unique_name(model, stem: str) -> str:
    names = {s.spec.name for s in model.schedules}
    name = f"{stem}_m{model.steps}"
    k = 2
    while name in names:
        name, k = f"{stem}_m{model.steps}_{k}", k + 1
    return name


def _template(model, cls: type[Intervention]) -> Intervention | None:
    """The scenario's first intervention of this kind, if any: its settings (costs, effects)
    are the ones a button reuses, so a CFC opened by hand is the scenario's kind of CFC."""
    for sch in model.schedules:
        if type(sch.spec) is cls:
            return sch.spec
    return None


def intervene_now(model, spec: Intervention) -> Schedule:
    """Add ``spec`` to the model's interventions, starting with the next month simulated
    (``model.steps + 1``, as a scenario's ``start`` would say); its ``start``, ``end``,
    ``after`` and ``when_metric`` are replaced, its ``duration`` and ``budget`` kept."""
    names = {s.spec.name for s in model.schedules}
    if not spec.name or spec.name in names:
        raise ValueError(f"intervention name {spec.name!r}: allowed: a name not yet used")
    spec = dataclasses.replace(spec, start=model.steps + 1, end=-1, after="", when_metric="")
    schedule = Schedule(spec)
    model.schedules.append(schedule)
    return schedule


def end_now(model, name: str) -> bool:
    """End the intervention called ``name`` this month (one not started yet is cancelled);
    returns whether it was running."""
    for sch in model.schedules:
        if sch.spec.name == name and not sch.ended:
            was_active = sch.active
            sch.active, sch.ended_at = False, max(model.steps, 0)
            if was_active:
                sch.spec.on_end(model.policy_context(), sch)
            return was_active
    return False


def active(model, kind: type[Intervention]) -> list[str]:
    """Names of the interventions of this kind that are running or about to start."""
    return [s.spec.name for s in model.schedules
            if isinstance(s.spec, kind) and not s.ended]


def open_cfc(model, region: str) -> str:
    """Offer a Common Facility Centre in ``region`` now (a pledge drive opens next month)."""
    base = _template(model, CommonFacilityCentre) or CommonFacilityCentre(region=region)
    name = _unique_name(model, "cfc_now")
    intervene_now(model, dataclasses.replace(
        base, name=name, region=region, description=f"a CFC opened from the app in {region}",
        duration=-1))
    return name


def start_trust_building(model, region: str, months: int = 12) -> str:
    """A year (``months``) of trust building among the firms of ``region``, from now."""
    base = _template(model, TrustBuilding) or TrustBuilding()
    name = _unique_name(model, "trust_now")
    intervene_now(model, dataclasses.replace(
        base, name=name, regions=(region,), duration=months,
        description=f"trust building started from the app in {region}"))
    return name


def impose_restrictions(model, regions: tuple[str, ...] = ()) -> str:
    """Movement restrictions (checkpoints, closures) on ``regions`` (all if empty), from now
    until lifted."""
    base = _template(model, MovementRestriction) or MovementRestriction()
    name = _unique_name(model, "restrictions_now")
    intervene_now(model, dataclasses.replace(
        base, name=name, regions=tuple(regions), duration=-1,
        description="movement restrictions imposed from the app"))
    return name


def lift_restrictions(model) -> list[str]:
    """End every movement restriction in force or due to start now (from the scenario or the
    app); returns their names. Restrictions a scenario schedules for later stay scheduled."""
    lifted = []
    for sch in model.schedules:
        spec = sch.spec
        if isinstance(spec, MovementRestriction) and not sch.ended and (
                sch.active or spec.start <= model.steps + 1):
            end_now(model, spec.name)
            lifted.append(spec.name)
    return lifted
