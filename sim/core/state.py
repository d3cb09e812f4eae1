"""The model's state as structures of arrays.

Firms occupy slots ``0..capacity-1``; a slot is live while ``alive[i]`` is true. A firm that
leaves frees its slot, and entrants take the lowest free slots first, so indices of live firms
never move and a Mesa agent can hold its slot index for life. Ties are a fixed-width adjacency:
``partner[i, k]`` is the slot of firm i's k-th partner or -1, kept symmetric, with the trust
``trust[i, k]`` that i places in that partner. Suppliers and facilities are few and live in small
arrays of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter

import numba
import numpy as np

__all__ = ["FirmState", "TieState", "SupplierState", "FacilityState", "Modifiers"]

# name -> (dtype, fill value for a fresh slot)
FIRM_FIELDS: dict[str, tuple[type, float]] = {
    "alive": (np.bool_, False),
    "firm_id": (np.int64, -1),
    "region": (np.int64, 0),
    "sector": (np.int64, 0),
    "x": (np.float64, 0.0),
    "y": (np.float64, 0.0),
    "employees": (np.float64, 0.0),
    "capital": (np.float64, 0.0),
    "productivity": (np.float64, 0.0),  # efficiency: shocks, spillovers, training act on it
    "talent": (np.float64, 0.0),  # the owner's span of control (Lucas 1978): capabilities
    "talent_gap": (np.float64, 0.0),  # log(true talent / talent shown so far): learnt with age
    "desired": (np.float64, 0.0),  # the size the owner would choose now; employment follows it
    "willingness": (np.float64, 0.0),
    "reputation": (np.float64, 0.0),
    "aspiration": (np.float64, 0.0),  # payoff per tie (share of own revenue) it is content with
    "pledge_threshold": (np.float64, 0.0),
    "supplier": (np.int64, -1),
    "jp_group": (np.int64, -1),
    "member_of": (np.int64, -1),  # facility whose SPV the firm belongs to
    "uses": (np.int64, -1),  # facility whose services the firm uses this month
    "age": (np.int64, 0),
    "born": (np.int64, 0),
    "loss_streak": (np.int64, 0),
    "output": (np.float64, 0.0),
    "revenue": (np.float64, 0.0),
    "profit": (np.float64, 0.0),
    "coop_acts": (np.float64, 0.0),  # partners this firm cooperated with this month
    "coop_income": (np.float64, 0.0),
    "interest_subsidy": (np.float64, 0.0),  # share of interest paid by the public (credit)
    "debt_extra_months": (np.float64, 0.0),  # extra debt tolerated under a guarantee
    "trained": (np.bool_, False),
}
#: For each dtype of the firm fields (float64, int64, bool): a getter of the tuple of its columns
#: (at least two of each) and their fill values, for :meth:`FirmState.clear`'s one kernel.
_KINDS = tuple((attrgetter(*names), np.array([FIRM_FIELDS[n][1] for n in names], dtype=dt))
               for dt in (np.float64, np.int64, np.bool_)
               for names in [tuple(n for n, (d, _) in FIRM_FIELDS.items() if d is dt)])


@dataclass
class FirmState:
    """Per-firm arrays, one slot per firm; see :data:`FIRM_FIELDS` for names and dtypes."""

    alive: np.ndarray
    firm_id: np.ndarray
    region: np.ndarray
    sector: np.ndarray
    x: np.ndarray
    y: np.ndarray
    employees: np.ndarray
    capital: np.ndarray
    productivity: np.ndarray
    talent: np.ndarray
    talent_gap: np.ndarray
    desired: np.ndarray
    willingness: np.ndarray
    reputation: np.ndarray
    aspiration: np.ndarray
    pledge_threshold: np.ndarray
    supplier: np.ndarray
    jp_group: np.ndarray
    member_of: np.ndarray
    uses: np.ndarray
    age: np.ndarray
    born: np.ndarray
    loss_streak: np.ndarray
    output: np.ndarray
    revenue: np.ndarray
    profit: np.ndarray
    coop_acts: np.ndarray
    coop_income: np.ndarray
    interest_subsidy: np.ndarray
    debt_extra_months: np.ndarray
    trained: np.ndarray

    @classmethod
    def empty(cls, capacity: int) -> FirmState:
        return cls(**{name: np.full(capacity, fill, dtype=dt)
                      for name, (dt, fill) in FIRM_FIELDS.items()})

    @property
    def capacity(self) -> int:
        return self.alive.shape[0]

    @property
    def n_alive(self) -> int:
        return int(np.count_nonzero(self.alive))

    def grow(self, capacity: int) -> None:
        """Enlarge every array to ``capacity`` slots, filling new slots as empty."""
        old = self.capacity
        if capacity <= old:
            return
        for name, (dt, fill) in FIRM_FIELDS.items():
            arr = np.full(capacity, fill, dtype=dt)
            arr[:old] = getattr(self, name)
            setattr(self, name, arr)

    def reorder(self, order: np.ndarray) -> None:
        """Put the firms of slots ``order`` into slots ``0..len(order)-1``, in that order.
        Only for a fresh population (no ties, no agent views yet)."""
        m = order.shape[0]
        for name in FIRM_FIELDS:
            arr = getattr(self, name)
            arr[:m] = arr[order]

    def clear(self, idx: np.ndarray) -> None:
        """Reset the slots ``idx`` (int64 array) to their empty values (after exit)."""
        (floats, float_fill), (ints, int_fill), (bools, bool_fill) = _KINDS
        _clear(idx, floats(self), float_fill, ints(self), int_fill, bools(self), bool_fill)

    def free_slots(self, n: int) -> np.ndarray:
        """The ``n`` lowest free slots, growing the arrays by an eighth (or what is missing,
        if more) when too few are free (deterministic). Every per-firm kernel loops over all
        slots, so spare slots cost time: an eighth keeps growth amortised without doubling the
        work of a population that outgrows its start by a few entrants."""
        free = _lowest_free(self.alive, n)
        if free.size < n:
            self.grow(max(self.capacity + self.capacity // 8, self.capacity + n - free.size, 16))
            free = _lowest_free(self.alive, n)
        return free

    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))


@numba.njit(cache=True)
def _clear(idx, floats, float_fill, ints, int_fill, bools, bool_fill):
    """``column[idx] = fill`` for every firm column: the float64, int64 and bool columns (tuples
    of arrays) and their fill values (arrays, one per column); one pass instead of a fancy
    assignment per field."""
    for c in range(len(floats)):
        col, fill = floats[c], float_fill[c]
        for i in idx:
            col[i] = fill
    for c in range(len(ints)):
        col, fill = ints[c], int_fill[c]
        for i in idx:
            col[i] = fill
    for c in range(len(bools)):
        col, fill = bools[c], bool_fill[c]
        for i in idx:
            col[i] = fill


@numba.njit(cache=True)
def _lowest_free(alive, n):
    """The (at most) ``n`` lowest slots i with ``alive[i]`` false, ascending, int64: the first n
    of ``slots_where(alive, False)`` without listing every free slot."""
    out = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(alive.shape[0]):
        if m == n:
            break
        if not alive[i]:
            out[m] = i
            m += 1
    return out[:m]


@dataclass
class TieState:
    """Fixed-width symmetric adjacency with directed trust.

    partner : int32[capacity, K]   slot of the k-th partner, -1 if the slot is empty (int32 halves
                                   the bytes every per-tie kernel fetches: up to 2**31 firms)
    trust   : float64[capacity, K] trust firm i places in that partner, in [0, 1]
    acted   : int8[capacity, K]    1 if i cooperated with that partner this month, else 0
    triangles : int64[capacity]    triangles through each firm (pairs of its partners that are
                                   tied to each other), kept up to date by every change to the
                                   table (:mod:`sim.mechanisms.cooperation`), so the
                                   clustering coefficient costs no pass over the partners' rows
    back    : int8[capacity, K]    the slot firm i holds in its partner's row (-1 if empty), so a
                                   kernel reaches the other end of a tie without scanning a row
    """

    partner: np.ndarray
    trust: np.ndarray
    acted: np.ndarray
    triangles: np.ndarray
    back: np.ndarray

    @classmethod
    def empty(cls, capacity: int, k: int) -> TieState:
        return cls(np.full((capacity, k), -1, dtype=np.int32),
                   np.full((capacity, k), 0.0),
                   np.full((capacity, k), 0, dtype=np.int8),
                   np.full(capacity, 0, dtype=np.int64),
                   np.full((capacity, k), -1, dtype=np.int8))

    def grow(self, capacity: int) -> None:
        old, k = self.partner.shape
        if capacity <= old:
            return
        for name, fill in (("partner", -1), ("trust", 0.0), ("acted", 0), ("back", -1)):
            arr = getattr(self, name)
            new = np.full((capacity, k), fill, dtype=arr.dtype)
            new[:old] = arr
            setattr(self, name, new)
        tri = np.full(capacity, 0, dtype=np.int64)
        tri[:old] = self.triangles
        self.triangles = tri

    def degree(self) -> np.ndarray:
        return (self.partner >= 0).sum(axis=1)


@dataclass
class SupplierState:
    """Suppliers of inputs, located in space, with volume-dependent prices."""

    x: np.ndarray  # float64[M]
    y: np.ndarray  # float64[M]
    region: np.ndarray  # int64[M]
    input: np.ndarray  # int64[M] input code
    base_price: np.ndarray  # float64[M]
    volume: np.ndarray  # float64[M] smoothed volume sold per month
    price: np.ndarray  # float64[M] current unit price at the supplier's gate
    #: float64[M] volume at which the supplier charges its base price: ``reference_volume``
    #: times the mean initial volume per supplier of its input (set once the firms exist)
    ref_volume: np.ndarray | None = None
    #: float64[M] installed capacity, above which the supplier's price rises steeply: its
    #: supply base at set-up, then moving towards the volume it sells (``supplier_expansion``);
    #: None: the supply base always
    capacity: np.ndarray | None = None
    #: float64[M] supply base, what it sells at its base cost: ``supplier_capacity`` times
    #: ``ref_volume``; capacity beyond it costs more (``supply_elasticity``)
    base_capacity: np.ndarray | None = None
    #: float64[M] this month's unit cost at the base (base price, shock, scale economies): the
    #: price above it is the supplier's margin; None until the first month
    cost: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.x.shape[0]


@dataclass
class FacilityState:
    """Joint facilities (Common Facility Centres and private shared infrastructure).

    Lists grow as drives open; a facility's index never changes. ``status``: 0 pledge drive
    open, 1 under construction, 2 operating, 3 failed drive, 4 closed.
    """

    DRIVE, BUILDING, OPERATING, FAILED, CLOSED = 0, 1, 2, 3, 4

    name: list[str] = field(default_factory=list)
    region: list[int] = field(default_factory=list)
    sectors: list[np.ndarray] = field(default_factory=list)
    service: list[int] = field(default_factory=list)  # 0 productivity, 1 input cost, 2 waste
    effect: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    grant_share: list[float] = field(default_factory=list)
    capacity: list[float] = field(default_factory=list)
    operating_cost: list[float] = field(default_factory=list)
    spv_min: list[int] = field(default_factory=list)
    member_share: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    opened_at: list[int] = field(default_factory=list)
    drive_until: list[int] = field(default_factory=list)
    ready_at: list[int] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    cash: list[float] = field(default_factory=list)
    members: list[int] = field(default_factory=list)  # current SPV members (alive)
    users: list[int] = field(default_factory=list)
    fees: list[float] = field(default_factory=list)
    support: list[float] = field(default_factory=list)  # public operating support this month
    sponsor: list[str] = field(default_factory=list)  # intervention name, or "" if private
    pledged: list[int] = field(default_factory=list)  # firms pledged in the drive's last month

    @property
    def n(self) -> int:
        return len(self.name)

    def operating(self) -> np.ndarray:
        return np.array([s == self.OPERATING for s in self.status], dtype=np.bool_)


@dataclass
class Modifiers:
    """Multipliers and shifts set by interventions and shocks, reset at the start of each step."""

    land_mult: np.ndarray  # float64[R]
    within_mult: np.ndarray  # float64[R] transport cost multiplier inside a region
    between_mult: np.ndarray  # float64[R] transport multiplier on routes leaving a region
    demand_mult: np.ndarray  # float64[S]
    waste_mult: np.ndarray  # float64[S] regulation: cost multiplier on untreated waste
    input_price_mult: np.ndarray  # float64[I]
    jp_discount_extra: float = 0.0
    jp_trust_shift: float = 0.0  # lowers the trust needed to join a purchasing group

    @classmethod
    def neutral(cls, n_regions: int, n_sectors: int, n_inputs: int) -> Modifiers:
        return cls(np.ones(n_regions), np.ones(n_regions), np.ones(n_regions),
                   np.ones(n_sectors), np.ones(n_sectors), np.ones(n_inputs))

    def reset(self) -> None:
        for arr in (self.land_mult, self.within_mult, self.between_mult, self.demand_mult,
                    self.waste_mult, self.input_price_mult):
            arr.fill(1.0)
        self.jp_discount_extra = 0.0
        self.jp_trust_shift = 0.0
