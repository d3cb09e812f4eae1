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

from sim.core.fields import names, suggest
from sim.core.fields import param as _p
from sim.measure.outputs import PurposeOutcome

if TYPE_CHECKING:  # pragma: no cover
    from sim.core.month import Month
    from sim.interventions.context import PolicyContext

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
    #: Fields left out of :meth:`to_dict`, and so of a scenario's hash, while at their default:
    #: fields added after scenarios were first hashed, so that a scenario that does not use
    #: them keeps its hash (and the sweeps stored under it their run ids).
    quiet_defaults: ClassVar[tuple[str, ...]] = ()

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
    # Each runtime method receives ``model``, the intervention's narrow view of the model (a
    # sim.interventions.context.PolicyContext: firms, ties, modifiers, facilities, world,
    # params, the month ``steps``, rng, ``book_public`` and ``shared``), and its ``state``.
    def on_start(self, model: PolicyContext, state: Schedule) -> None:
        """Called once, the step the intervention becomes active."""

    def apply(self, model: PolicyContext, state: Schedule) -> None:  # pragma: no cover
        """Called every step while active: set modifiers, change firms, book spending."""
        raise NotImplementedError

    def on_end(self, model: PolicyContext, state: Schedule) -> None:
        """Called once, the step after it stops being active."""

    def books(self, model: PolicyContext, state: Schedule, month: Month) -> None:
        """Called every month once started, after the market: book what the month's accounts
        (``month``, a :class:`sim.core.month.Month`) owe this intervention."""

    def on_exit(self, model: PolicyContext, state: Schedule, leaving: np.ndarray) -> None:
        """Called once started, when the firms of slots ``leaving`` leave, before their slots
        are freed."""

    def purpose_outcomes(self) -> tuple[PurposeOutcome, ...]:
        """The final outcomes that measure what this intervention is for, each with its unit
        (:func:`sim.measure.outputs.purpose_outcomes` gathers them for a scenario); none by
        default."""
        return ()

    # -- helpers for subclasses -------------------------------------------------------------------
    def own_or_param(self, model: PolicyContext, name: str) -> Any:
        """The value of field ``name`` (one of :attr:`from_params`): its own if set, else the
        model parameter it stands for (-1 = not set)."""
        own = getattr(self, name)
        return model.params.get(self.from_params[name]) if own == -1 else own

    def target_mask(self, model: PolicyContext) -> np.ndarray:
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

    def region_codes(self, model: PolicyContext) -> np.ndarray:
        """Codes of the targeted regions (all regions if none named)."""
        if not self.regions:
            return np.arange(len(model.world.regions))
        return np.array([model.world.region_index(r) for r in self.regions], dtype=np.int64)

    def sector_codes(self, model: PolicyContext) -> np.ndarray:
        if not self.sectors:
            return np.arange(len(model.world.sectors))
        return np.array([model.world.sector_index(s) for s in self.sectors], dtype=np.int64)

    @classmethod
    def fields_info(cls) -> dict[str, dataclasses.Field]:
        return {f.name: f for f in dataclasses.fields(cls)}

    # -- validation: each kind checks its own fields ----------------------------------------------
    #: Fields that name things of the world: field -> what it names (``regions``, ``sectors``,
    #: ``inputs``); a name the world does not have is refused.
    references: ClassVar[dict[str, str]] = {
        "region": "regions", "regions": "regions", "sector": "sectors", "sectors": "sectors",
        "input": "inputs", "inputs": "inputs"}

    @classmethod
    def check_fields(cls, entry: dict[str, Any], ctx: Any) -> dict[str, Any]:
        """This kind's field values from a scenario file's entry, each checked with the field
        kit, then against each other and the world (:meth:`check_values`).

        ``ctx`` is the scenario loader's view of this entry: ``ctx.fail(field, message)``
        raises the file's error for one field; ``ctx.check(field, value, f)`` and
        ``ctx.check_from_param(field, value, f, param)`` check one value (the latter for
        :attr:`from_params` fields); ``ctx.params``, ``ctx.refs`` (the world's names by kind),
        ``ctx.others`` (the other interventions' names) and ``ctx.outputs()`` (the per-step
        outputs ``when_metric`` may name).
        """
        infos = cls.fields_info()
        values: dict[str, Any] = {}
        for k, v in entry.items():
            if k in ("kind", "enabled"):
                continue
            if k not in infos:
                ctx.fail(k, f"unknown key for kind {cls.kind!r}" + suggest(k, infos)
                         + f"; allowed: kind, {', '.join(infos)}")
            values[k] = (ctx.check_from_param(k, v, infos[k], cls.from_params[k])
                         if k in cls.from_params else ctx.check(k, v, infos[k]))
        for k in ("regions", "sectors", "size_classes"):  # no targeting the kind would ignore
            if values.get(k) and k not in cls.targets:
                ctx.fail(k, f"kind {cls.kind!r} does not target by {k}; allowed: leave it out "
                         "(this kind targets by "
                         + (", ".join(cls.targets) or "nothing: it acts on all firms") + ")")
        cls.check_values(values, ctx)
        return values

    @classmethod
    def value_of(cls, values: dict[str, Any], k: str, params: Any) -> Any:
        """Field ``k`` as the intervention will use it: its value, its default, or (a
        :attr:`from_params` field left at -1) the model parameter it stands for."""
        v = values.get(k, cls.fields_info()[k].default)
        return params.get(cls.from_params[k]) if k in cls.from_params and v == -1 else v

    @classmethod
    def check_values(cls, values: dict[str, Any], ctx: Any) -> None:
        """Cross-field and cross-reference checks of one entry's values; a kind with rules of
        its own extends this (``super().check_values(values, ctx)`` first)."""
        cls._check_references(values, ctx)
        cls._check_schedule(values, ctx)

    @classmethod
    def _check_references(cls, values: dict[str, Any], ctx: Any) -> None:
        infos = cls.fields_info()
        for k, kind in cls.references.items():
            if k not in infos:
                continue
            v = cls.value_of(values, k, ctx.params)
            allowed = ctx.refs[kind]
            if isinstance(v, tuple):
                for j, item in enumerate(v):
                    if item not in allowed:
                        ctx.fail(f"{k}[{j}]", f"got {item!r}; allowed: one of "
                                 f"{names(allowed)}{suggest(item, allowed)}")
            elif v == "" and k in ("region", "sector", "input"):
                ctx.fail(k, f"missing; allowed: one of {names(allowed)}")
            elif v not in allowed:
                ctx.fail(k, f"got {v!r}; allowed: one of {names(allowed)}"
                         f"{suggest(v, allowed)}")

    @classmethod
    def _check_schedule(cls, values: dict[str, Any], ctx: Any) -> None:
        def get(k):
            return cls.value_of(values, k, ctx.params)

        if get("duration") == 0:
            ctx.fail("duration", "got 0; allowed: -1 (no limit) or an integer >= 1")
        start, end = get("start"), get("end")
        if end >= 0 and end <= start:
            ctx.fail("end", f"got {end}, not after start ({start}); allowed: -1 (no end) or a "
                     f"month > {start}")
        after = get("after")
        if after and after not in ctx.others:
            ctx.fail("after", f"got {after!r}; allowed: the name of another intervention: "
                     f"{names(ctx.others)}{suggest(after, ctx.others)}")
        metric = get("when_metric")
        if metric:
            known = ctx.outputs()
            if metric not in known:
                ctx.fail("when_metric", f"got {metric!r}{suggest(metric, known)}; allowed: a "
                         "per-step output such as cooperation_rate, mean_trust or firms "
                         "(listed in docs/scenarios.md)")
        elif "when_at_least" in values:
            ctx.fail("when_at_least", "set without when_metric; allowed: give when_metric "
                     "too, or remove when_at_least")

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, **dataclasses.asdict(self)}
        infos = self.fields_info()
        for k in self.quiet_defaults:
            if out[k] == infos[k].default:
                del out[k]
        return out


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

    def spend(self, model: PolicyContext, amount: float) -> float:
        """Book public spending, capped by the remaining budget; returns what was booked."""
        amount = min(float(amount), self.remaining_budget())
        if amount > 0:
            model.book_public(self.spec.name, amount)  # also adds to self.spent
        return amount
