"""Credit: an interest subsidy and a guarantee that keep viable firms alive through shortfalls.

Targeted firms pay only part of the interest on their debt (the public pays the rest, booked
each month), and a guarantee lets them carry more debt before they must close. When a
guaranteed firm closes with debts, the public pays the guaranteed share of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.interventions.base import Intervention, Schedule
from sim.params import _p

__all__ = ["Credit"]


@dataclass(frozen=True, kw_only=True)
class Credit(Intervention):
    """Interest subsidy and credit guarantee for targeted firms."""

    kind = "credit"

    interest_subsidy: float = _p(0.5, 0.0, 1.0, "share", "share of interest the public pays")
    guarantee_months: float = _p(3.0, 0.0, 1_000.0, "months of revenue",
                                 "extra debt a guaranteed firm may carry before closing")
    guarantee_cover: float = _p(0.5, 0.0, 1.0, "share",
                                "share of a failed guaranteed firm's debt the public pays")

    def apply(self, model, state: Schedule) -> None:
        firms = model.firms
        mask = self.target_mask(model)
        firms.interest_subsidy[mask] = self.interest_subsidy
        firms.debt_extra_months[mask] = self.guarantee_months
        model.credit_account = (self.name, self.guarantee_cover)

    def on_end(self, model, state: Schedule) -> None:
        mask = self.target_mask(model)
        model.firms.interest_subsidy[mask] = 0.0
        model.firms.debt_extra_months[mask] = 0.0
        model.credit_account = None
