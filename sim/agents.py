"""Mesa agents: thin views onto the model's arrays.

The state of every firm lives in :class:`sim.core.state.FirmState`; a :class:`FirmAgent` only holds
its slot index and reads (or writes) the arrays through properties. This keeps the hot loops in
numba kernels over arrays while Mesa's tools (``model.agents``, ``AgentSet.select``,
``groupby``, ``agg``) and the browser still see one agent per firm.
"""

from __future__ import annotations

import mesa

__all__ = ["FirmAgent", "SupplierAgent", "FacilityAgent"]


def _view(field: str, doc: str, cast=float):
    def get(self):
        return cast(getattr(self.model.firms, field)[self.slot])

    def set_(self, value):
        getattr(self.model.firms, field)[self.slot] = value

    return property(get, set_, doc=doc)


class FirmAgent(mesa.Agent):
    """An MSME. ``slot`` indexes the model's firm arrays for the firm's whole life."""

    def __init__(self, model, slot: int):
        super().__init__(model)
        self.slot = int(slot)

    firm_id = _view("firm_id", "permanent id of the firm", int)
    employees = _view("employees", "workers")
    capital = _view("capital", "money")
    productivity = _view("productivity", "output per worker-month at the base price")
    willingness = _view("willingness", "probability of keeping one's word")
    reputation = _view("reputation", "recent share of partners cooperated with")
    output = _view("output", "units this month")
    revenue = _view("revenue", "money this month")
    profit = _view("profit", "money this month")
    age = _view("age", "months", int)
    supplier = _view("supplier", "supplier slot, -1 for none", int)
    member_of = _view("member_of", "facility whose SPV it belongs to, -1 for none", int)

    @property
    def pos(self) -> tuple[float, float]:
        f = self.model.firms
        return float(f.x[self.slot]), float(f.y[self.slot])

    @pos.setter
    def pos(self, value) -> None:
        if value is not None:  # mesa.Agent.__init__ assigns None; a real position moves the firm
            self.model.firms.x[self.slot], self.model.firms.y[self.slot] = value

    @property
    def region(self) -> str:
        return self.model.world.regions[int(self.model.firms.region[self.slot])].name

    @property
    def sector(self) -> str:
        return self.model.world.sectors[int(self.model.firms.sector[self.slot])].name

    @property
    def partners(self) -> list[int]:
        """Slots of the firms this one is tied to."""
        row = self.model.ties.partner[self.slot]
        return [int(j) for j in row if j >= 0]

    @property
    def trust(self) -> dict[int, float]:
        """Trust placed in each partner, by partner slot."""
        t = self.model.ties
        return {int(j): float(v) for j, v in zip(t.partner[self.slot], t.trust[self.slot],
                                                  strict=True) if j >= 0}

    def step(self) -> None:
        """Firms act through the model's array kernels; a view has nothing to do on its own."""


class SupplierAgent(mesa.Agent):
    """A supplier of an input, a view onto :class:`sim.core.state.SupplierState`."""

    def __init__(self, model, slot: int):
        super().__init__(model)
        self.slot = int(slot)

    @property
    def pos(self) -> tuple[float, float]:
        s = self.model.suppliers
        return float(s.x[self.slot]), float(s.y[self.slot])

    @pos.setter
    def pos(self, value) -> None:
        if value is not None:
            self.model.suppliers.x[self.slot], self.model.suppliers.y[self.slot] = value

    @property
    def input(self) -> str:
        return self.model.world.inputs[int(self.model.suppliers.input[self.slot])]

    @property
    def price(self) -> float:
        return float(self.model.suppliers.price[self.slot])

    @property
    def volume(self) -> float:
        return float(self.model.suppliers.volume[self.slot])


class FacilityAgent(mesa.Agent):
    """A joint facility (CFC or private), a view onto :class:`sim.core.state.FacilityState`."""

    STATUS = ("pledge drive", "under construction", "operating", "failed", "closed")

    def __init__(self, model, slot: int):
        super().__init__(model)
        self.slot = int(slot)

    @property
    def name(self) -> str:
        return self.model.facilities.name[self.slot]

    @property
    def status(self) -> str:
        return self.STATUS[self.model.facilities.status[self.slot]]

    @property
    def pos(self) -> tuple[float, float]:
        r = self.model.world.regions[self.model.facilities.region[self.slot]]
        return float(r.x), float(r.y)

    @pos.setter
    def pos(self, value) -> None:
        if value is not None:
            raise AttributeError("a facility stands at its region's centre")

    @property
    def users(self) -> int:
        return int(self.model.facilities.users[self.slot])

    @property
    def members(self) -> int:
        return int(self.model.facilities.members[self.slot])
