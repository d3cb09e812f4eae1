"""Trust building by a Cluster Development Agent (the "soft" intervention).

A CDA works with a group of participating firms: brokered introductions (new ties between
participants, starting at a given trust) and exposure visits and joint meetings that raise the
trust participants place in each other. Staff cost is paid monthly. In the cluster development
method this comes first: diagnostic study, trust building, then joint actions and "hard"
investments (UNIDO / Foundation for MSME Clusters, docs/sources.md#cluster-development-practice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.fields import param as _p
from sim.interventions.base import Intervention, Schedule
from sim.mechanisms.cooperation import add_tie

__all__ = ["TrustBuilding"]


@dataclass(frozen=True, kw_only=True)
class TrustBuilding(Intervention):
    """A Cluster Development Agent's trust-building programme."""

    kind = "trust_building"

    participants: int = _p(100, 1, 10_000_000, "firms",
                           "firms enrolled (drawn at random from the target at the start)")
    introductions_per_month: int = _p(10, 0, 1_000_000, "pairs",
                                      "new partnerships brokered each month among participants")
    introduced_trust: float = _p(0.6, 0.0, 1.0, "trust", "trust a brokered partnership starts at")
    trust_boost: float = _p(0.05, 0.0, 1.0, "share",
                            "monthly share of the way to full trust on ties between participants")
    staff_cost: float = _p(2.0, 0.0, 1e12, "money/month", "cost of the CDA and activities")

    def on_start(self, model, state: Schedule) -> None:
        pool = np.flatnonzero(self.target_mask(model))
        k = min(self.participants, pool.size)
        members = np.sort(model.rng.choice(pool, size=k, replace=False))
        # participants are firms, not slots: an entrant that takes a departed participant's slot
        # is not enrolled, so each slot is kept with the id of the firm enrolled there
        state.data["members"] = members
        state.data["member_ids"] = model.firms.firm_id[members].copy()

    def apply(self, model, state: Schedule) -> None:
        firms, ties = model.firms, model.ties
        members, ids = state.data["members"], state.data["member_ids"]
        still = firms.alive[members] & (firms.firm_id[members] == ids)
        members, ids = members[still], ids[still]
        state.data["members"], state.data["member_ids"] = members, ids
        if state.spend(model, self.staff_cost) < self.staff_cost or members.size < 2:
            return
        mask = np.zeros(firms.capacity, dtype=bool)
        mask[members] = True
        # trust between participants grows with every meeting
        both = mask[:, None] & (ties.partner >= 0)
        both &= mask[np.maximum(ties.partner, 0)]
        ties.trust[both] += self.trust_boost * (1.0 - ties.trust[both])
        # brokered introductions: random pairs of participants of the same region
        n = self.introductions_per_month
        if n:
            a = model.rng.choice(members, size=n)
            b = model.rng.choice(members, size=n)
            same = (firms.region[a] == firms.region[b]) & (a != b)
            add_tie(ties, a[same], b[same], self.introduced_trust, self.introduced_trust)
