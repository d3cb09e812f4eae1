"""What one phase of a month hands the next, and the month's books.

A month of :class:`sim.model.ClusterModel` runs its phases in a fixed order (docs/ODD.md,
Process overview). What a phase computes for a later one travels in a :class:`Month`: the
delivered unit input cost (suppliers -> market), the facility service each firm gets
(facilities -> market), the labour gap (market -> growth), the interest the public pays for each
firm (market -> credit's books) and the month's input and waste bills (market -> next month's
facility decisions). Money and counts of the month go to :class:`Books`: the public account
(what policy spends, by intervention) and the private one (what firms earn, pay and invest).

Every field is declared: reading or writing a name that is not one (a misspelt book, say) raises
:class:`AttributeError` instead of reading a silent zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["Month", "Books", "PublicAccount", "PrivateAccount", "NO_SERVICE", "NO_LEVEL"]

#: The facility service of a month in which no facility operates: no firm uses one (the
#: market's kernels read a firm beyond an array's end as served by none).
NO_SERVICE = np.zeros(0, dtype=np.int64)
#: The facility effect, level and fee arrays of such a month.
NO_LEVEL = np.zeros(0)


def _empty() -> np.ndarray:
    return np.zeros(0)


@dataclass(slots=True)
class Month:
    """The per-firm arrays one phase of a month hands a later one (float64[N] unless said).

    A fresh ``Month`` is made at the start of every month by :meth:`next`, which carries over
    only last month's bills: nothing else outlives the month it was computed in.
    """

    #: suppliers -> market: each firm's delivered unit input cost, after any group discount;
    #: None when the supplier phase is off (the market then prices inputs at the base price)
    unit_input_cost: np.ndarray | None = None
    #: facilities -> market: the service type each firm gets (int64[N], -1 none; empty when no
    #: facility operates), its effect, the level of service, and the fee the firm pays
    facility_service: np.ndarray = field(default_factory=lambda: NO_SERVICE)
    facility_effect: np.ndarray = field(default_factory=lambda: NO_LEVEL)
    facility_level: np.ndarray = field(default_factory=lambda: NO_LEVEL)
    facility_fee: np.ndarray = field(default_factory=lambda: NO_LEVEL)
    #: market -> growth: log of a worker's marginal value product over its cost, in [-1, 1]
    labour_gap: np.ndarray = field(default_factory=_empty)
    #: market -> the credit interventions' books: interest the public pays for each firm
    interest_subsidy: np.ndarray = field(default_factory=_empty)
    #: market -> next month's facility decisions: input and waste bills before any facility cut
    input_cost: np.ndarray = field(default_factory=_empty)
    waste_cost: np.ndarray = field(default_factory=_empty)
    #: last month's bills (empty in the first month: no firm has any yet)
    last_input_cost: np.ndarray = field(default_factory=_empty)
    last_waste_cost: np.ndarray = field(default_factory=_empty)

    def next(self) -> Month:
        """The next month: empty but for this month's bills, which become last month's."""
        return Month(last_input_cost=self.input_cost, last_waste_cost=self.waste_cost)


def _fill(account, flows: Mapping[str, float]) -> None:
    for name, value in flows.items():
        if name not in account.__slots__:
            known = ", ".join(f.name for f in fields(account))
            raise AttributeError(f"{type(account).__name__} has no book {name!r} "
                                 f"(its books: {known})")
        setattr(account, name, value)


@dataclass(slots=True)
class PrivateAccount:
    """The firms' flows of one month (totals over live firms, money per month) and counts of
    what the mechanisms did. A fresh one opens every month (:meth:`Books.open_month`)."""

    #: profit of every firm that produced this month (None until the market books it: at a
    #: start the recorder reports the live firms' profit instead)
    profit: float | None = None
    #: live firms' capital at the start of the month (None at a start: nothing has changed)
    opening_capital: float | None = None
    fees: float = 0.0  # facility fees paid
    value_added: float = 0.0  # revenue less inputs, waste and transport (docs/ODD.md)
    wages: float = 0.0  # wages paid
    land_rents: float = 0.0  # land rents paid
    supplier_margin: float = 0.0  # local suppliers' price above their base cost, times sales
    interest_subsidy: float = 0.0  # interest the public paid for firms
    payouts: float = 0.0  # owners' drawings
    investment: float = 0.0  # capital spent on hiring
    contributions: float = 0.0  # SPV members' contributions to facilities built this month
    entry_capital: float = 0.0  # starting capital of this month's entrants
    exit_capital: float = 0.0  # capital of the firms that left, when they left
    coop_played: int = 0  # ties played this month (both partners alive)
    coop_kept: float = 0.0  # promises kept
    ties_formed: int = 0
    ties_dissolved: int = 0
    jp_members: int = 0  # firms buying through a purchasing group
    built: int = 0  # pledge drives that succeeded (facilities whose construction began)

    def record(self, flows: Mapping[str, float]) -> None:
        """Set the books named in ``flows`` (what a mechanism's step returns); an unknown name
        raises :class:`AttributeError`."""
        _fill(self, flows)


@dataclass(slots=True)
class PublicAccount:
    """Public spending: this month's, the total of the months before, and by account (an
    intervention's name, or a facility's for the grants of facilities without a sponsor)."""

    month: float = 0.0
    total: float = 0.0
    by: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def book(self, account: str, amount: float) -> None:
        """Add ``amount`` to this month's spending and to ``account``."""
        self.month += amount
        self.by[account] += amount

    def close_month(self) -> None:
        """Add this month's spending to the total."""
        self.total += self.month


@dataclass(slots=True)
class Books:
    """The model's books: the public account (kept over the run) and the private account of
    the month."""

    public: PublicAccount = field(default_factory=PublicAccount)
    private: PrivateAccount = field(default_factory=PrivateAccount)

    def open_month(self, opening_capital: float | None = None) -> None:
        """Start a month's books (or a start's, with no month booked: ``opening_capital``
        None): a fresh private account and no public spending yet this month."""
        self.public.month = 0.0
        self.private = PrivateAccount(opening_capital=opening_capital)
