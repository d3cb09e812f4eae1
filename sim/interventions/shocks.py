"""Shocks: movement restrictions, demand and input-price shocks, waste regulation.

Shocks are scheduled like policies but cost no public money. Movement restrictions raise
transport costs inside the targeted regions and on routes leaving them (checkpoints and
closures: in March 2007 the West Bank had 546 physical obstacles, and the World Bank put the
loss at ~6% of GDP; docs/sources.md#movement-restrictions). A waste regulation multiplies the
cost of untreated waste (Tirupur: a 2011 court order closed dyeing units until their effluent
was treated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.fields import param as _p
from sim.interventions.base import Intervention, Schedule

__all__ = ["MovementRestriction", "DemandShock", "InputPriceShock", "WasteRegulation"]


@dataclass(frozen=True, kw_only=True)
class MovementRestriction(Intervention):
    """Checkpoints and closures: transport cost multipliers within and between regions."""

    kind = "movement_restriction"
    targets = ("regions",)
    is_shock = True

    within_multiplier: float = _p(1.5, 0.0, 100.0, "multiple", "transport cost inside a region")
    between_multiplier: float = _p(2.0, 0.0, 100.0, "multiple",
                                   "transport cost on routes leaving a region (incl. to market)")

    def apply(self, model, state: Schedule) -> None:
        r = self.region_codes(model)
        model.mods.within_mult[r] *= self.within_multiplier
        model.mods.between_mult[r] *= self.between_multiplier


@dataclass(frozen=True, kw_only=True)
class DemandShock(Intervention):
    """Demand for the targeted sectors (e.g. an export market) is multiplied."""

    kind = "demand_shock"
    targets = ("sectors",)
    is_shock = True

    multiplier: float = _p(0.8, 0.0, 100.0, "multiple", "demand at the base price")

    def apply(self, model, state: Schedule) -> None:
        model.mods.demand_mult[self.sector_codes(model)] *= self.multiplier


@dataclass(frozen=True, kw_only=True)
class InputPriceShock(Intervention):
    """The price of some inputs is multiplied (e.g. raw stone, yarn, steel)."""

    kind = "input_price_shock"
    targets = ()
    is_shock = True

    inputs: tuple[str, ...] = _p((), doc="inputs affected; empty = all")
    multiplier: float = _p(1.3, 0.0, 100.0, "multiple", "input price")

    def apply(self, model, state: Schedule) -> None:
        names = model.world.inputs
        codes = (np.array([names.index(i) for i in self.inputs], dtype=np.int64)
                 if self.inputs else np.arange(len(names)))
        model.mods.input_price_mult[codes] *= self.multiplier


@dataclass(frozen=True, kw_only=True)
class WasteRegulation(Intervention):
    """Stricter enforcement makes untreated waste costlier for the targeted sectors."""

    kind = "waste_regulation"
    targets = ("sectors",)
    is_shock = True

    penalty_multiplier: float = _p(5.0, 0.0, 1_000.0, "multiple",
                                   "cost of disposing of untreated waste")

    def apply(self, model, state: Schedule) -> None:
        model.mods.waste_mult[self.sector_codes(model)] *= self.penalty_multiplier
