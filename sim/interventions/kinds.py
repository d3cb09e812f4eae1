"""The registry of intervention kinds, by the name scenario files use in ``kind = "..."``."""

from __future__ import annotations

from sim.interventions.base import Intervention
from sim.interventions.cfc import CommonFacilityCentre
from sim.interventions.credit import Credit
from sim.interventions.purchasing import JointPurchasing
from sim.interventions.shocks import (
    DemandShock,
    InputPriceShock,
    MovementRestriction,
    WasteRegulation,
)
from sim.interventions.training import Training
from sim.interventions.trust import TrustBuilding
from sim.interventions.zone import IndustrialZone

__all__ = ["KINDS"]

KINDS: dict[str, type[Intervention]] = {
    cls.kind: cls
    for cls in (
        CommonFacilityCentre,
        TrustBuilding,
        JointPurchasing,
        Credit,
        Training,
        IndustrialZone,
        MovementRestriction,
        DemandShock,
        InputPriceShock,
        WasteRegulation,
    )
}
