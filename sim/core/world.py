"""The landscape: named regions, sectors and their inputs, and the initial population.

Regions are discs on a continuous square landscape; a location belongs to the region whose
centre is nearest (a Voronoi partition), so every point has a region. Regions differ in land
cost, market access, infrastructure and wages. Sectors differ in demand, technology, the input
they buy and the waste they make. The world is data: scenario files build it, and the default
below describes a plausible generic MSME cluster (three towns, four sectors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Region", "Sector", "FirmGroup", "World", "default_world"]


@dataclass(frozen=True, slots=True)
class Region:
    """A town or district.

    Attributes
    ----------
    name : str
    x, y : float
        Centre, km.
    radius : float
        Spread of firm locations around the centre, km (standard deviation of a normal).
    land_cost : float
        Rent of serviced land, money per worker-month.
    market_access : float
        Multiplier on the price firms receive (1 = average access to buyers).
    infrastructure : float
        Quality of roads and utilities, 0..1; lowers transport cost.
    wage_index : float
        Multiplier on the model's wage.
    """

    name: str
    x: float
    y: float
    radius: float = 3.0
    land_cost: float = 0.03
    market_access: float = 1.0
    infrastructure: float = 0.5
    wage_index: float = 1.0


@dataclass(frozen=True, slots=True)
class Sector:
    """An industry with its own demand, input and technology.

    Attributes
    ----------
    name : str
    input : str
        Name of the input it buys (sectors may share an input).
    input_per_output : float
        Input units per unit of output.
    input_price : float
        Base price of a unit of input, money.
    productivity : float
        Mean output per worker-month at the base price (lognormal across firms).
    productivity_sd : float
        Standard deviation of log productivity, at entry and in the long run (shocks keep it:
        :mod:`sim.mechanisms.demography`).
    price : float
        Base output price, money per unit.
    waste_per_output : float
        Waste per unit of output that must be disposed of or treated (slurry, effluent).
    demand_weight : float
        Share of initial firms in this sector when the world does not list counts.
    size_floor : float
        Smallest size a firm of the sector is set up at (its technology's minimum scale): the
        floor of the Pareto law of initial firms' and entrants' sizes (with ``min_size``).
    """

    name: str
    input: str
    input_per_output: float = 0.3
    input_price: float = 1.0
    productivity: float = 1.0
    productivity_sd: float = 0.15
    price: float = 1.0
    waste_per_output: float = 0.0
    demand_weight: float = 1.0
    size_floor: float = 1.0


@dataclass(frozen=True, slots=True)
class FirmGroup:
    """Initial firms of one sector in one region."""

    region: str
    sector: str
    count: int
    size_tail: float | None = None  # Pareto exponent; None = the model's default


@dataclass(frozen=True, slots=True)
class World:
    """Regions, sectors and initial firms. Indices into the tuples are the codes used in arrays."""

    regions: tuple[Region, ...]
    sectors: tuple[Sector, ...]
    firms: tuple[FirmGroup, ...] = ()
    inputs: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if not self.regions:
            raise ValueError("regions: at least one region is needed")
        if not self.sectors:
            raise ValueError("sectors: at least one sector is needed")
        for kind, items in (("regions", self.regions), ("sectors", self.sectors)):
            names = [r.name for r in items]
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValueError(f"{kind}: duplicate name(s) {sorted(dup)}")
        rnames = {r.name for r in self.regions}
        snames = {s.name for s in self.sectors}
        for i, g in enumerate(self.firms):
            if g.region not in rnames:
                raise ValueError(f"firms[{i}].region: unknown region {g.region!r}; "
                                 f"allowed: {sorted(rnames)}")
            if g.sector not in snames:
                raise ValueError(f"firms[{i}].sector: unknown sector {g.sector!r}; "
                                 f"allowed: {sorted(snames)}")
            if g.count < 0:
                raise ValueError(f"firms[{i}].count: got {g.count}; allowed: an integer >= 0")
        if not self.inputs:
            inputs = tuple(dict.fromkeys(s.input for s in self.sectors))
            object.__setattr__(self, "inputs", inputs)

    # -- array views used by the kernels --------------------------------------------------------
    def region_index(self, name: str) -> int:
        return [r.name for r in self.regions].index(name)

    def sector_index(self, name: str) -> int:
        return [s.name for s in self.sectors].index(name)

    def region_array(self, attr: str) -> np.ndarray:
        return np.array([getattr(r, attr) for r in self.regions], dtype=np.float64)

    def sector_array(self, attr: str) -> np.ndarray:
        return np.array([getattr(s, attr) for s in self.sectors], dtype=np.float64)

    def sector_input_codes(self) -> np.ndarray:
        return np.array([self.inputs.index(s.input) for s in self.sectors], dtype=np.int64)


def default_world() -> World:
    """A generic cluster: three towns (a core, a satellite, a remote one) and four sectors."""
    regions = (
        Region("Core", 20.0, 30.0, radius=3.0, land_cost=0.05, market_access=1.1,
               infrastructure=0.7, wage_index=1.05),
        Region("Satellite", 34.0, 36.0, radius=3.0, land_cost=0.03, market_access=1.0,
               infrastructure=0.5, wage_index=1.0),
        Region("Remote", 42.0, 18.0, radius=3.0, land_cost=0.02, market_access=0.9,
               infrastructure=0.3, wage_index=0.95),
    )
    sectors = (
        Sector("metal", "steel", input_per_output=0.35, productivity=1.0, demand_weight=0.3),
        Sector("food", "grain", input_per_output=0.30, productivity=0.9, demand_weight=0.3),
        Sector("garments", "yarn", input_per_output=0.30, productivity=0.9, demand_weight=0.25),
        Sector("stone", "raw stone", input_per_output=0.25, productivity=1.1,
               waste_per_output=0.4, demand_weight=0.15),
    )
    return World(regions=regions, sectors=sectors)
