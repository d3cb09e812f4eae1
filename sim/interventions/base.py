"""What every intervention shares: schedule, targeting, budget and the public account.

An intervention is data (a frozen dataclass); its run-time state (active, spent, when it
started and ended) lives in :class:`Schedule`, owned by the model, so a scenario can be run many
times without copying.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.core.params import _p

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import ClusterModel

__all__ = ["Intervention", "Schedule", "Targeting", "SIZE_CLASSES"]

#: Size classes by employees: micro < 5, small < 50, medium < 250, large otherwise.
SIZE_CLASSES = ("micro", "small", "medium", "large")
SIZE_BOUNDS = (5.0, 50.0, 250.0)


@dataclass(frozen=True, slots=True)
class Targeting:
    """Which firms an intervention reaches; an empty tuple means all."""

    regions: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    size_classes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Intervention:
    """Base of all intervention kinds.

    Subclasses set ``kind`` and implement :meth:`apply`. Every kind accepts the schedule and
    targeting fields below.
    """

    kind: ClassVar[str] = ""
    #: True for shocks: they cost nothing and are reported apart from policy.
    is_shock: ClassVar[bool] = False
    #: The targeting fields this kind acts on; scenario files may not set the others.
    targets: ClassVar[tuple[str, ...]] = ("regions", "sectors", "size_classes")
    #: Fields that stand for a model parameter (field -> ``group.name``): left at -1 they take
    #: the parameter's value when the intervention starts, so ``--set NAME=...`` reaches this
    #: intervention too; set, they apply to this intervention alone. A parameter is declared
    #: once, in :mod:`sim.core.params`; such a field only lets a scenario override it locally.
    from_params: ClassVar[dict[str, str]] = {}

    name: str = _p("", doc="unique name of this intervention in the scenario (used by `after` "
                   "and by overrides such as interventions.NAME.FIELD)")
    description: str = _p("", doc="what this intervention represents, for the report")
    start: int = _p(0, 0, 100_000, "month", "first month it may be active")
    end: int = _p(-1, -1, 100_000, "month",
                  "month it stops (exclusive); -1 = runs to the end of the simulation")
    duration: int = _p(-1, -1, 100_000, "months", "months it lasts once started; -1 = no limit")
    after: str = _p("", doc="name of another intervention that must have ended before this starts")
    when_metric: str = _p("", doc="a per-step output (e.g. cooperation_rate) that must reach "
                          "`when_at_least` before this starts")
    when_at_least: float = _p(0.0, -1e12, 1e12, "metric units",
                              "threshold for `when_metric`")
    budget: float = _p(-1.0, -1.0, 1e15, "money", "public money it may spend; -1 = no cap")
    regions: tuple[str, ...] = _p((), doc="regions whose firms it reaches; empty = all")
    sectors: tuple[str, ...] = _p((), doc="sectors whose firms it reaches; empty = all")
    size_classes: tuple[str, ...] = _p((), doc="size classes it reaches (micro, small, medium, "
                                       "large); empty = all", choices=SIZE_CLASSES)

    # -- behaviour ------------------------------------------------------------------------------
    def on_start(self, model: ClusterModel, state: Schedule) -> None:
        """Called once, the step the intervention becomes active."""

    def apply(self, model: ClusterModel, state: Schedule) -> None:  # pragma: no cover - abstract
        """Called every step while active: set modifiers, change firms, book spending."""
        raise NotImplementedError

    def on_end(self, model: ClusterModel, state: Schedule) -> None:
        """Called once, the step after it stops being active."""

    # -- helpers for subclasses -------------------------------------------------------------------
    def own_or_param(self, model: ClusterModel, name: str) -> Any:
        """The value of field ``name`` (one of :attr:`from_params`): its own if set, else the
        model parameter it stands for (-1 = not set)."""
        own = getattr(self, name)
        return model.params.get(self.from_params[name]) if own == -1 else own

    def target_mask(self, model: ClusterModel) -> np.ndarray:
        """Boolean mask over firm slots: alive firms in the targeted regions, sectors, sizes."""
        f = model.firms
        mask = f.alive.copy()
        world = model.world
        if self.regions:
            codes = [world.region_index(r) for r in self.regions]
            mask &= np.isin(f.region, codes)
        if self.sectors:
            codes = [world.sector_index(s) for s in self.sectors]
            mask &= np.isin(f.sector, codes)
        if self.size_classes:
            cls = np.searchsorted(np.array(SIZE_BOUNDS), f.employees, side="right")
            codes = [SIZE_CLASSES.index(c) for c in self.size_classes]
            mask &= np.isin(cls, codes)
        return mask

    def region_codes(self, model: ClusterModel) -> np.ndarray:
        """Codes of the targeted regions (all regions if none named)."""
        if not self.regions:
            return np.arange(len(model.world.regions))
        return np.array([model.world.region_index(r) for r in self.regions], dtype=np.int64)

    def sector_codes(self, model: ClusterModel) -> np.ndarray:
        if not self.sectors:
            return np.arange(len(model.world.sectors))
        return np.array([model.world.sector_index(s) for s in self.sectors], dtype=np.int64)

    @classmethod
    def fields_info(cls) -> dict[str, dataclasses.Field]:
        return {f.name: f for f in dataclasses.fields(cls)}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass(eq=False)  # identity: schedules are found by `is`, and hold arrays
class Schedule:
    """Run-time state of one intervention inside one model."""

    spec: Intervention
    active: bool = False
    started_at: int = -1
    ended_at: int = -1
    spent: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return self.ended_at >= 0

    def remaining_budget(self) -> float:
        if self.spec.budget < 0:
            return float("inf")
        return max(self.spec.budget - self.spent, 0.0)

    def spend(self, model: ClusterModel, amount: float) -> float:
        """Book public spending, capped by the remaining budget; returns what was booked."""
        amount = min(float(amount), self.remaining_budget())
        if amount > 0:
            model.book_public(self.spec.name, amount)  # also adds to self.spent
        return amount
