"""Credit: an interest subsidy and a guarantee that keep viable firms alive through shortfalls.

Targeted firms pay only part of the interest on their debt (the public pays the rest, booked
each month), and a guarantee lets them carry more debt before they must close. When a
guaranteed firm closes with debts, the public pays the guaranteed share of them. The credit
interventions of a run keep, between them, which one covers each firm (:class:`Cover`), so the
spending of overlapping programmes is booked to each; a firm reached by two is covered by the
one applied last that month (the scenario's later one). When the intervention ends, every firm it
covered loses the cover, including firms that have since left its target (grown out of a size
class, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.core.fields import param as _p
from sim.interventions.base import Intervention, Schedule
from sim.measure.outputs import PurposeOutcome

__all__ = ["Credit", "Cover"]


@dataclass
class Cover:
    """Which credit intervention covers each firm slot: what the credit interventions of one
    run share (``PolicyContext.shared["credit"]``)."""

    #: the covering intervention of each slot, as its place in :attr:`schedules`; -1 for none
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: the credit interventions that have covered a firm, in the order they first did
    schedules: list[Schedule] = field(default_factory=list)

    @classmethod
    def of(cls, model) -> Cover:
        """The run's cover (made empty the first time), fitted to the firms' slots."""
        cover = model.shared.setdefault("credit", cls())
        n, old = model.firms.capacity, cover.owner.shape[0]
        if old < n:  # slots added for entrants are uncovered
            cover.owner = np.concatenate([cover.owner, np.full(n - old, -1, dtype=np.int64)])
        return cover

    def code(self, state: Schedule) -> int:
        """The code of the intervention ``state`` in :attr:`owner`."""
        for k, sch in enumerate(self.schedules):
            if sch is state:
                return k
        self.schedules.append(state)
        return len(self.schedules) - 1


def _total(amounts: np.ndarray) -> float:
    """The sum of ``amounts`` added one by one in slot order (as :func:`numpy.bincount` adds a
    bin), so that a programme's monthly total does not depend on how many programmes run."""
    return float(np.bincount(np.zeros(amounts.size, dtype=np.intp), weights=amounts,
                             minlength=1)[0])


@dataclass(frozen=True, kw_only=True)
class Credit(Intervention):
    """Interest subsidy and credit guarantee for targeted firms."""

    kind = "credit"

    interest_subsidy: float = _p(0.5, 0.0, 1.0, "share", "share of interest the public pays")
    guarantee_months: float = _p(3.0, 0.0, 1_000.0, "months of revenue",
                                 "extra debt a guaranteed firm may carry before closing")
    guarantee_cover: float = _p(0.5, 0.0, 1.0, "share",
                                "share of a failed guaranteed firm's debt the public pays")

    def purpose_outcomes(self) -> tuple[PurposeOutcome, ...]:
        """The firm-months of credit support (an interest subsidy or a guarantee) given."""
        return (PurposeOutcome("credit_supported_total", "firm-month of credit support"),)

    def apply(self, model, state: Schedule) -> None:
        firms, cover = model.firms, Cover.of(model)
        mask = self.target_mask(model)
        firms.interest_subsidy[mask] = self.interest_subsidy
        firms.debt_extra_months[mask] = self.guarantee_months
        cover.owner[mask] = cover.code(state)

    def on_end(self, model, state: Schedule) -> None:
        firms, cover = model.firms, Cover.of(model)
        mine = cover.owner == cover.code(state)
        firms.interest_subsidy[mine] = 0.0
        firms.debt_extra_months[mine] = 0.0
        cover.owner[mine] = -1

    def books(self, model, state: Schedule, month) -> None:
        """The interest the public paid this month for the firms this intervention covers."""
        cover = Cover.of(model)
        subsidy = month.interest_subsidy
        mine = (cover.owner == cover.code(state)) & model.firms.alive & (subsidy > 0)
        if mine.any():
            model.book_public(self.name, _total(subsidy[mine]))

    def on_exit(self, model, state: Schedule, leaving: np.ndarray) -> None:
        """A covered firm that leaves with debts: the public pays ``guarantee_cover`` of them.
        The firm's slot is no longer covered."""
        firms, cover = model.firms, Cover.of(model)
        mine = np.sort(leaving[cover.owner[leaving] == cover.code(state)])
        debt = -firms.capital[mine]
        owed = self.guarantee_cover * debt[debt > 0]
        owed = owed[owed > 0]
        if owed.size:
            model.book_public(self.name, _total(owed))
        cover.owner[mine] = -1
