"""Training and technology upgrading: a lasting productivity gain for participants.

Each month up to ``firms_per_month`` targeted firms not yet trained (drawn at random) take part;
each gains ``productivity_gain`` in output per worker, at ``cost_per_firm`` of public money.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.fields import param as _p
from sim.interventions.base import Intervention, Schedule
from sim.measure.outputs import PurposeOutcome

__all__ = ["Training"]


@dataclass(frozen=True, kw_only=True)
class Training(Intervention):
    """Training / technology upgrading programme."""

    kind = "training"

    productivity_gain: float = _p(0.1, 0.0, 10.0, "share", "gain in output per worker")
    firms_per_month: int = _p(10, 0, 10_000_000, "firms", "participants each month")
    cost_per_firm: float = _p(1.0, 0.0, 1e12, "money/firm", "public cost per participant")

    def purpose_outcomes(self) -> tuple[PurposeOutcome, ...]:
        """The trained firms still in business at the end."""
        return (PurposeOutcome("trained_firms", "trained firm in business at the end"),)

    def apply(self, model, state: Schedule) -> None:
        firms = model.firms
        pool = np.flatnonzero(self.target_mask(model) & ~firms.trained)
        if pool.size == 0 or self.firms_per_month == 0:
            return
        k = min(self.firms_per_month, pool.size)
        if self.cost_per_firm > 0 and self.budget >= 0:
            k = min(k, int(state.remaining_budget() // self.cost_per_firm))
        if k <= 0:
            return
        chosen = np.sort(model.rng.choice(pool, size=k, replace=False))
        firms.productivity[chosen] *= 1.0 + self.productivity_gain
        firms.trained[chosen] = True
        state.spend(model, self.cost_per_firm * k)
