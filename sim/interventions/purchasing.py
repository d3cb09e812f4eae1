"""Support for joint purchasing and raw-material banks.

A cluster programme that organises purchasing groups and runs a raw-material bank makes pooled
buying easier (groups form at lower mutual trust) and cheaper (an extra discount for members).
Cost: a monthly running cost plus a cost per member firm.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.core.fields import param as _p
from sim.interventions.base import Intervention, Schedule

__all__ = ["JointPurchasing"]


@dataclass(frozen=True, kw_only=True)
class JointPurchasing(Intervention):
    """Joint purchasing support / raw-material bank."""

    kind = "joint_purchasing"
    targets = ()

    extra_discount: float = _p(0.05, 0.0, 1.0, "share", "extra price discount for group members")
    trust_relief: float = _p(0.1, 0.0, 1.0, "trust",
                             "lowers the mutual trust needed to join a purchasing group")
    monthly_cost: float = _p(1.0, 0.0, 1e12, "money/month", "running cost of the programme")
    cost_per_member: float = _p(0.01, 0.0, 1e12, "money/firm-month",
                                "cost per member firm per month")

    def apply(self, model, state: Schedule) -> None:
        members = int((model.firms.jp_group[model.firms.alive] >= 0).sum())
        state.spend(model, self.monthly_cost + self.cost_per_member * members)
        model.mods.jp_discount_extra += self.extra_discount
        model.mods.jp_trust_shift += self.trust_relief
