"""Industrial zone / serviced land: cheaper land and transport in a region.

The public develops serviced plots: land cost in the targeted regions falls by a multiplier and
roads lower transport costs there, which also makes those regions more attractive to entrants.
Cost: an up-front development cost and a monthly upkeep.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.core.fields import param as _p
from sim.interventions.base import Intervention, Schedule

__all__ = ["IndustrialZone"]


@dataclass(frozen=True, kw_only=True)
class IndustrialZone(Intervention):
    """Serviced industrial land in the targeted regions."""

    kind = "industrial_zone"
    targets = ("regions",)

    land_cost_multiplier: float = _p(0.5, 0.0, 10.0, "multiple", "land cost in the zone")
    transport_multiplier: float = _p(0.8, 0.0, 10.0, "multiple",
                                     "transport cost inside and out of the zone")
    development_cost: float = _p(500.0, 0.0, 1e12, "money", "paid when the zone opens")
    monthly_cost: float = _p(1.0, 0.0, 1e12, "money/month", "upkeep")

    def on_start(self, model, state: Schedule) -> None:
        state.spend(model, self.development_cost)

    def apply(self, model, state: Schedule) -> None:
        state.spend(model, self.monthly_cost)
        r = self.region_codes(model)
        model.mods.land_mult[r] *= self.land_cost_multiplier
        model.mods.within_mult[r] *= self.transport_multiplier
        model.mods.between_mult[r] *= self.transport_multiplier
