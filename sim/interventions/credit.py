"""Credit: an interest subsidy and a guarantee that keep viable firms alive through shortfalls.

Targeted firms pay only part of the interest on their debt (the public pays the rest, booked
each month), and a guarantee lets them carry more debt before they must close. When a
guaranteed firm closes with debts, the public pays the guaranteed share of them. Each firm
records which credit intervention covers it, so the spending of overlapping programmes is booked
to each; a firm reached by two is covered by the one applied last that month (the scenario's
later one). When the intervention ends, every firm it covered loses the cover, including firms
that have since left its target (grown out of a size class, say).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.core.params import _p
from sim.interventions.base import Intervention, Schedule

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
        firms.guarantee_cover[mask] = self.guarantee_cover
        firms.credit_policy[mask] = model.schedules.index(state)

    def on_end(self, model, state: Schedule) -> None:
        firms = model.firms
        mine = firms.credit_policy == model.schedules.index(state)
        firms.interest_subsidy[mine] = 0.0
        firms.debt_extra_months[mine] = 0.0
        firms.guarantee_cover[mine] = 0.0
        firms.credit_policy[mine] = -1
