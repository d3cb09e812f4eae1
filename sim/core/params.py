"""Model parameters: one typed, frozen, documented object, validated at the edge.

Every scalar parameter of the model lives in one of the groups below. Each field carries its
default, allowed range, unit and a one-line description in its metadata; `docs/ODD.md`, the
scenario schema and the error messages are all built from that metadata, so a parameter is
documented exactly once.

Field names are unique across groups, so a parameter can be named by its bare name
(``coop_benefit``) or by its group path (``cooperation.coop_benefit``). That is what the keyword
overrides of :class:`sim.model.ClusterModel`, ``clustersim run --set`` and the sweep factors use.

Units: one step is one month; money is in thousands of a generic currency unit (the scenario
says which, e.g. USD or INR); distances in kilometres; firm size in workers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from sim.core.errors import ParameterError
from sim.core.fields import coerce, describe_allowed, suggest
from sim.core.fields import param as _p

__all__ = [
    "FIELD_INFO",
    "MAX_FIRMS",
    "ParameterError",
    "Params",
    "coerce",
    "describe_allowed",
    "param_field",
    "param_table",
]


@dataclass(frozen=True, slots=True)
class Switches:
    """Each mechanism behind its own switch; off means the mechanism's step does nothing."""

    cooperation: bool = _p(True, doc="play the cooperation game on ties; trust and ties evolve")
    suppliers: bool = _p(True, doc="firms choose suppliers by delivered cost; scale economies")
    joint_purchasing: bool = _p(True, doc="trusted partners pool purchases for a discount")
    facilities: bool = _p(True, doc="pledge drives, building, use and upkeep of joint facilities")
    market: bool = _p(True, doc="sector price falls with sector output (else fixed price)")
    growth: bool = _p(True, doc="employment changes each step")
    exit: bool = _p(True, doc="firms with sustained losses or excess debt leave")
    entry: bool = _p(True, doc="spin-offs and outside entrants arrive and choose a location")


#: Most initial firms: 10,000,000 firms run 120 months (and the 24 of the burn-in) on one
#: thread in a peak of about 6 GiB, about 600 B a firm (measured, docs/performance.md), a
#: quarter of a 24 GiB machine; since the slot arrays grow by an eighth rather than double, a
#: growing population no longer multiplies that.
MAX_FIRMS = 10_000_000


@dataclass(frozen=True, slots=True)
class WorldParams:
    """Size of the landscape and of the initial population."""

    n_firms: int = _p(500, 0, MAX_FIRMS, "firms",
                      "initial number of firms when the world does not list counts")
    world_size: float = _p(60.0, 1.0, 10_000.0, "km", "side of the square landscape")
    max_ties: int = _p(6, 1, 32, "ties", "most partners a firm keeps at once")
    initial_tie_share: float = _p(0.3, 0.0, 1.0, "share",
                                  "share of firms that look for a neighbour to tie up with at the "
                                  "start (others may tie up with them)")
    burn_in: int = _p(24, 0, 1_200, "months",
                      "months simulated before month 0, without interventions, so that the "
                      "starting state is the model's own (recorded at negative steps, flagged)")


@dataclass(frozen=True, slots=True)
class CooperationParams:
    """Choice 1: cooperate with tied partners, under trust and reputation."""

    tie_radius: float = _p(3.0, 0.0, 1_000.0, "km", "firms meet partners within this distance")
    meet_prob: float = _p(0.05, 0.0, 1.0, "1/month",
                          "chance a firm with a free tie slot meets a neighbour this month")
    initial_trust: float = _p(0.5, 0.0, 1.0, "trust", "trust in a new partner before reputation")
    reputation_weight: float = _p(0.5, 0.0, 1.0, "share",
                                  "weight of the partner's reputation in initial trust")
    reputation_memory: float = _p(0.1, 0.0, 1.0, "1/month",
                                  "rate at which reputation follows recent behaviour")
    trust_gain: float = _p(0.15, 0.0, 1.0, "share",
                           "trust moves this share of the way to 1 when a partner keeps its word",
                           "Gorobets & Nooteboom 2006 (form); value assumed")
    trust_loss: float = _p(0.25, 0.0, 1.0, "share",
                           "trust falls by this share when a partner cheats (lost faster than won)",
                           "Gorobets & Nooteboom 2006 (form); value assumed")
    trust_floor: float = _p(0.15, 0.0, 1.0, "trust", "a tie dissolves when trust falls below this")
    coop_base: float = _p(0.5, 0.0, 1.0, "share",
                          "cooperation probability at zero trust, relative to willingness")
    coop_benefit: float = _p(0.02, 0.0, 1.0, "share of revenue",
                             "value a partner's cooperation brings, as a share of the smaller "
                             "partner's monthly revenue (joint orders, subcontracting)")
    coop_cost: float = _p(0.008, 0.0, 1.0, "share of revenue",
                          "cost of cooperating, as a share of the smaller partner's revenue")
    spillover: float = _p(0.005, 0.0, 1.0, "share",
                          "a firm closes this share of its productivity gap to a more productive "
                          "partner after mutual cooperation (know-how spillover)")
    willingness_mean: float = _p(0.85, 0.0, 1.0, "probability",
                                 "mean willingness to keep one's word")
    willingness_sd: float = _p(0.1, 0.0, 1.0, "probability", "spread of willingness")
    learning_rate: float = _p(50.0, 0.0, 1_000.0, "1/(share of own revenue)",
                              "how far a month's experience moves willingness, per unit of "
                              "payoff above or below the firm's aspiration, both as shares of "
                              "its own monthly revenue (Bush-Mosteller reinforcement: stakes "
                              "that matter to the firm teach it more)",
                              "Bush & Mosteller 1955; Macy & Flache 2002 (form); value free "
                              "(docs/ODD.md, free parameters of cooperation and pledging)")
    aspiration_memory: float = _p(0.1, 0.0, 1.0, "1/month",
                                  "a firm's aspiration follows its own payoff per tie, moving "
                                  "this share of the way each month (endogenous aspiration)",
                                  "Karandikar, Mookherjee, Ray & Vega-Redondo 1998 (form); "
                                  "value free (docs/ODD.md, free parameters of cooperation and "
                                  "pledging)")
    imitation_rate: float = _p(0.02, 0.0, 1.0, "1/month",
                               "chance a firm compares itself with a random partner this month")
    imitation_intensity: float = _p(10.0, 0.0, 1_000.0, "1/margin",
                                    "selection intensity of the Fermi imitation rule")


@dataclass(frozen=True, slots=True)
class SupplierParams:
    """Choice 2: choose and share suppliers; scale economies and joint purchasing."""

    suppliers_per_input: int = _p(4, 1, 1_000, "suppliers", "suppliers of each input")
    scale_elasticity: float = _p(0.15, 0.0, 0.9, "elasticity",
                                 "supplier price falls as volume^-elasticity (scale economies)")
    reference_volume: float = _p(1.0, 1e-6, 1e6, "share of initial volume",
                                 "volume at which a supplier charges its base price, relative to "
                                 "the mean initial volume per supplier of its input (so prices do "
                                 "not depend on how many firms are simulated)")
    supplier_capacity: float = _p(1.0, 0.01, 1e6, "multiple of reference volume",
                                  "local supply base: what a supplier sells at its base cost "
                                  "(1: the initial cluster's inputs); capacity in use beyond it "
                                  "costs more (supply_elasticity), and above its installed "
                                  "capacity its price rises steeply in the short run",
                                  "Boehm & Pandalainayar 2020 (convex supply, form; "
                                  "docs/sources.md#input-markets); value assumed")
    supply_elasticity: float = _p(1.0, 0.05, 100.0, "elasticity",
                                  "long-run price elasticity of local input supply: beyond the "
                                  "supply base, the capacity in use costs (volume / base)^(1 / "
                                  "elasticity) times the base price. Uncertain: plausible "
                                  "range 0.5-2 (an assumption)",
                                  "assumption, range 0.5-2 (docs/sources.md#input-markets)")
    supplier_expansion: float = _p(0.05, 0.0, 1.0, "1/month",
                                   "entry and exit of local supply capacity: installed capacity "
                                   "moves this share of the way to the volume sold each month, "
                                   "never below the supply base (0: capacity fixed at set-up)",
                                   "assumption (new capacity in about two years)")
    import_cost: float = _p(0.74, 0.0, 10.0, "share of base price",
                            "outside option: traders deliver any quantity of an input at its "
                            "base price times 1 + import_cost x the region's between-region "
                            "transport multiplier and infrastructure factor, which bounds the "
                            "local premium",
                            "Anderson & van Wincoop 2004: transport 21% and border costs 44% "
                            "(1.21 x 1.44 = 1.74); range 0.21-0.74 "
                            "(docs/sources.md#input-markets)")
    price_dispersion: float = _p(0.05, 0.0, 1.0, "log units",
                                 "standard deviation of suppliers' log base prices around "
                                 "their input's", "assumption")
    infrastructure_effect: float = _p(0.5, 0.0, 2.0, "multiplier per unit of infrastructure",
                                      "transport costs are 1 + this x (0.5 - infrastructure) "
                                      "times their level at infrastructure 0.5 (0.75-1.25 at "
                                      "the default)",
                                      "assumption; direction: Limao & Venables 2001 "
                                      "(docs/sources.md#input-markets)")
    price_floor: float = _p(0.5, 0.0, 1.0, "share of base price", "lowest price a supplier charges")
    freight_per_km: float = _p(0.004, 0.0, 1.0, "share of base price per km",
                               "delivered price rises with distance to the supplier")
    loyalty: float = _p(0.8, 0.0, 1.0, "probability",
                        "chance a firm does not reconsider its supplier this month",
                        "Kirman & Vriend 2001 (loyalty); value assumed")
    switch_gain: float = _p(0.02, 0.0, 1.0, "share",
                            "a firm switches only if the cheaper supplier saves at least "
                            "this share")
    volume_memory: float = _p(0.5, 0.0, 1.0, "share",
                              "weight of this month's volume in the supplier's smoothed volume")
    jp_trust_min: float = _p(0.6, 0.0, 1.0, "trust",
                             "ties at least this trusted can join a purchasing group")
    jp_min_size: int = _p(3, 2, 10_000, "firms", "smallest purchasing group that gets a discount")
    jp_discount: float = _p(0.05, 0.0, 1.0, "share", "price discount for purchasing-group members")


@dataclass(frozen=True, slots=True)
class FacilityParams:
    """Choice 3: build joint infrastructure, a threshold public good."""

    drive_interval: int = _p(24, 1, 10_000, "months",
                             "months between private pledge drives in a region and sector")
    pledge_threshold_mean: float = _p(1.15, -1.0, 2.0, "expected share x step return",
                                      "mean pledge threshold: a firm pledges once the share of "
                                      "eligible firms it expects to pledge, times its step "
                                      "return to the power step_return_elasticity, reaches "
                                      "this (with the return and trust switched off, the share "
                                      "of eligible firms it must see pledged: Granovetter)",
                                      "Granovetter 1978 (form); value set so that about half of "
                                      "the generic CFC offers form an SPV, as about half of "
                                      "approved MSE-CDP CFCs and SFURTI clusters are completed "
                                      "or functional (docs/sources.md#mse-cdp-outcomes); free")
    pledge_threshold_sd: float = _p(0.12, 0.0, 2.0, "expected share x step return",
                                    "spread of pledge thresholds across firms")
    conditional_share: float = _p(0.5, 0.0, 1.0, "share",
                                  "share of undecided firms a firm expects to follow others' "
                                  "pledges (conditional cooperators), each keeping its word with "
                                  "the probability the firm's mean trust in its partners gives",
                                  "about half of subjects are conditional cooperators: "
                                  "Fischbacher, Gaechter & Fehr 2001; Fischbacher & Gaechter "
                                  "2010 (docs/sources.md#pledging-and-cooperation)")
    step_return_elasticity: float = _p(1.0, 0.0, 5.0, "elasticity",
                                       "a firm pledges once its expected share of pledgers times "
                                       "its step return to this power reaches its threshold (0: "
                                       "the return plays no part; 1: expected return against a "
                                       "hurdle)", "contributions rise with the step return: "
                                       "Croson & Marks 2000 (form); value free")
    pledge_horizon: float = _p(24.0, 0.0, 1_000.0, "months",
                               "months of a facility's net benefit a firm sets against its "
                               "contribution (the payback it asks for)",
                               "small firms ask for paybacks of about 1-2 years: Anderson & "
                               "Newell 2004 (docs/sources.md#pledging-and-cooperation); value "
                               "free")
    spv_min_members: int = _p(20, 1, 100_000, "firms",
                              "fewest pledging firms that can form an SPV (private drives, and "
                              "every CFC that does not set its own)",
                              "MSE-CDP guidelines (docs/sources.md#mse-cdp-rules)")
    member_share_min: float = _p(0.1, 0.0, 1.0, "share of project cost",
                                 "least share of a project's cost paid by its members: caps "
                                 "the grant of every CFC that does not set its own (private "
                                 "drives have no grant: members pay it all)",
                                 "MSE-CDP guidelines (docs/sources.md#mse-cdp-rules)")
    max_contribution_months: float = _p(6.0, 0.0, 1_000.0, "months of revenue",
                                        "a firm will not pay more than this into a facility")
    build_months: int = _p(12, 0, 240, "months", "months from a successful drive to opening")
    fee_cover: float = _p(1.0, 0.0, 100.0, "share of operating cost",
                          "members' monthly fee, as a share of operating cost per unit of capacity")
    nonmember_markup: float = _p(2.0, 1.0, 100.0, "multiple of member fee",
                                 "non-members (free-riders) pay this multiple of the member fee")
    private_cost: float = _p(300.0, 0.0, 1e9, "money",
                             "cost of a privately built shared facility (tool room, testing)")
    private_effect: float = _p(0.06, 0.0, 1.0, "share",
                               "productivity gain a private facility gives its users")
    private_capacity: float = _p(40.0, 1.0, 1e9, "firms", "users a private facility serves fully")
    private_operating_cost: float = _p(2.0, 0.0, 1e9, "money/month",
                                       "monthly running cost of a private facility")
    decline_rate: float = _p(0.05, 0.0, 1.0, "1/month",
                             "service quality lost each month the facility runs at a loss")
    close_quality: float = _p(0.3, 0.0, 1.0, "share",
                              "a facility closes when service quality falls below this")


@dataclass(frozen=True, slots=True)
class MarketParams:
    """Production, sector demand and costs."""

    demand_elasticity: float = _p(2.0, 0.1, 100.0, "elasticity",
                                  "price elasticity of sector demand: P = P0 (D/Q)^(1/elasticity)")
    demand_level: float = _p(1.0, 0.0, 100.0, "share of initial output",
                             "sector demand at the base price, relative to initial output")
    demand_growth: float = _p(0.001, -0.1, 0.1, "1/month", "monthly growth of sector demand")
    wage: float = _p(0.40, 0.0, 1_000.0, "money/worker-month",
                     "monthly wage per worker (times the region's wage index)")
    fixed_cost: float = _p(0.091, 0.0, 1_000.0, "money/month", "overhead of running a firm",
                           "calibrated (docs/validation.md)")
    transport_share: float = _p(0.05, 0.0, 1.0, "share of revenue",
                                "cost of reaching the market, at market access 1 and no "
                                "restriction")
    interest_rate: float = _p(0.01, 0.0, 1.0, "1/month", "interest on negative capital (debt)")
    waste_cost: float = _p(0.05, 0.0, 10.0, "money/output unit",
                           "cost of disposing of a unit of waste without a treatment facility")
    outside_price: float = _p(1.0, 0.0, 100.0, "share of base price",
                              "price at which outside markets take any quantity: the sector "
                              "price never falls below it (an open cluster); 0 closes the market",
                              "small open economy (form); value assumed")
    price_cap: float = _p(3.0, 1.0, 1_000.0, "multiple of base price",
                          "the sector price never exceeds this multiple of its base price")
    labour_elasticity: float = _p(0.65, 0.05, 1.0, "elasticity",
                                  "output rises as employees^labour_elasticity (decreasing "
                                  "returns; 1 = constant returns)",
                                  "labour share of value added 0.65-0.80: Gollin 2002")
    wage_density_elasticity: float = _p(0.1, 0.0, 2.0, "elasticity",
                                        "a region's wage rises as (employment / employment at "
                                        "the start)^this (congestion)",
                                        "wage-density elasticity 0.02-0.05: Combes, Duranton & "
                                        "Gobillon 2008; value assumed")
    rent_density_elasticity: float = _p(1.0, 0.0, 5.0, "elasticity",
                                        "a region's land rent rises as (employment / employment "
                                        "at the start)^this (congestion)", "assumption")
    localisation_elasticity: float = _p(0.08, 0.0, 1.0, "elasticity",
                                        "productivity rises as (sector's employment in the "
                                        "region / at the start)^this (localisation economies)",
                                        "estimates 0.02-0.08 (Rosenthal & Strange 2004): the top "
                                        "of the range, where clusters form from an even start "
                                        "and lock in against a null without agglomeration "
                                        "forces (docs/validation.md, section 5)")
    payout_rate: float = _p(0.1, 0.0, 1.0, "1/month",
                            "share of capital above the buffer the owners draw each month")
    capital_buffer_months: float = _p(3.0, 0.0, 1_000.0, "months of revenue",
                                      "capital a firm keeps before its owners draw on it")


@dataclass(frozen=True, slots=True)
class DemographyParams:
    """Growth, exit, entry and location choice."""

    growth_sensitivity: float = _p(0.1, 0.0, 10.0, "1/log gap",
                                   "monthly log-growth of employment per unit of log(marginal "
                                   "value product of labour / cost of a worker)")
    growth_sd_size_elasticity: float = _p(0.24, 0.0, 1.0, "elasticity",
                                          "the spread of growth noise falls with size as "
                                          "employees^-this (0: Gibrat's law exactly)",
                                          "about 0.15-0.2: Stanley et al. 1996; value "
                                          "calibrated, 0.24 (docs/validation.md)")
    hire_cost: float = _p(1.0, 0.0, 1e6, "money/worker",
                          "capital needed to equip one more worker (growth is financed)")
    borrow_months: float = _p(1.0, 0.0, 1_000.0, "months of revenue",
                              "debt a firm may take on to finance growth (plus any guarantee)")
    productivity_reversion: float = _p(0.027, 0.0, 1.0, "1/month",
                                       "log productivity returns this share of the way to its "
                                       "sector's mean each month and takes shocks that keep its "
                                       "spread at the sector's productivity_sd: it can fall as "
                                       "well as rise (0: productivity changes only by "
                                       "spillovers and policy)", "calibrated (docs/validation.md)")
    growth_sd: float = _p(0.042, 0.0, 1.0, "log units/month",
                          "proportional noise in the desired size (Gibrat)",
                          "Gibrat; Gabaix 1999; value calibrated (docs/validation.md)")
    adjustment_band: float = _p(0.19, 0.0, 5.0, "log units",
                                "employment moves to the desired size only when they differ by "
                                "more than this (fixed costs of hiring and firing make "
                                "adjustment lumpy; 0: it follows every month)",
                                "lumpy employment adjustment: Hamermesh 1989; Caballero, Engel "
                                "& Haltiwanger 1997 (docs/sources.md#firm-growth-rates); value "
                                "calibrated (docs/validation.md)")
    talent_sd: float = _p(0.0, 0.0, 1.0, "log units/month",
                          "owners' talent (capabilities) takes a permanent shock of this spread "
                          "each month: Gibrat's law in capabilities (0: fixed at birth)",
                          "Luttmer 2007 (docs/sources.md#entry-and-exit); off: without "
                          "a normalisation talent then rises without end (docs/validation.md)")
    talent_uncertainty: float = _p(0.65, 0.0, 5.0, "log units",
                                   "spread of an owner's true talent around what the firm "
                                   "starts with, learnt over the first years (0: known at "
                                   "birth)", "Jovanovic 1982 (docs/sources.md#entry-and-exit); "
                                   "value calibrated (docs/validation.md)")
    talent_learning: float = _p(0.12, 0.0, 1.0, "1/month",
                                "share of what is still unknown of an owner's talent learnt "
                                "each month", "Jovanovic 1982 (form); value calibrated "
                                "(docs/validation.md)")
    min_size: float = _p(1.0, 0.0, 1e6, "workers", "reflecting lower bound on employment")
    max_size: float = _p(2_000.0, 1.0, 1e9, "workers", "upper bound on employment")
    size_tail: float = _p(2.07, 0.1, 10.0, "exponent",
                          "Pareto exponent of the sizes firms start with, before their owners "
                          "learn their talent (P(L>=5) = 5^-tail)",
                          "calibrated to the micro share and the Zipf tail together "
                          "(docs/validation.md)")
    initial_capital_months: float = _p(3.0, 0.0, 1_000.0, "months of revenue",
                                       "capital a firm starts with")
    exit_patience: int = _p(9, 1, 10_000, "months", "consecutive loss-making months before exit",
                            "calibrated (docs/validation.md)")
    death_rate: float = _p(0.0045, 0.0, 1.0, "1/month",
                           "chance a firm closes in a month for reasons of its owner's own "
                           "(retirement, illness, a job elsewhere), whatever its profits",
                           "exogenous exit as in Hopenhayn 1992 and Luttmer 2007; value "
                           "calibrated (docs/validation.md)")
    debt_limit_months: float = _p(3.0, 0.0, 1_000.0, "months of revenue",
                                  "a firm whose debt exceeds this leaves at once")
    spinoff_prob: float = _p(0.0047, 0.0, 1.0, "1/month",
                             "chance a profitable firm spins off a new firm",
                             "Arthur 1990 (form); value calibrated (docs/validation.md)")
    entry_rate: float = _p(0.0068, 0.0, 1.0, "1/month per firm",
                           "outside entrants per month, per existing firm",
                           "calibrated (docs/validation.md)")
    entry_floor: float = _p(0.0, 0.0, 1e6, "firms/month",
                            "outside entrants per month even in an empty landscape (not scaled "
                            "with the population: 0 keeps results per firm independent of size)")
    sector_choice_sensitivity: float = _p(5.0, 0.0, 1_000.0, "1/price ratio",
                                          "how strongly outside entrants prefer sectors whose "
                                          "price is above base (logit weight)")
    spinoff_spread: float = _p(1.0, 0.0, 1_000.0, "km",
                               "a spin-off settles this far from its parent (standard deviation)")
    spinoff_productivity_sd: float = _p(0.1, 0.0, 10.0, "log units",
                                        "spread of a spin-off's productivity around its parent's")
    entry_mode: str = _p("attraction", doc="how entrants choose a region: 'attraction' (logit on "
                         "attractiveness), 'copy' (copy a random firm's region: Polya urn), "
                         "'dartboard' (fixed regional probabilities)",
                         choices=("attraction", "copy", "dartboard"))
    entrants_per_step: int = _p(-1, -1, 1_000_000, "firms",
                                "if >= 0, this many outside entrants are drawn each month "
                                "(reduction experiments); free entry (entry_mode "
                                "'attraction') then drops those who would make a loss, "
                                "so fewer, even none, may enter")
    beta_sector: float = _p(1.5, -100.0, 100.0, "utility/log firms",
                            "attraction of firms of the same sector (increasing returns)",
                            "Bottazzi et al. 2007 (form)")
    beta_supplier: float = _p(0.3, -100.0, 100.0, "utility/log suppliers",
                              "attraction of suppliers of the sector's input")
    beta_facility: float = _p(0.5, -100.0, 100.0, "utility/facility",
                              "attraction of an operating facility serving the sector")
    beta_land: float = _p(2.0, -100.0, 100.0, "utility/(money/worker-month)",
                          "repulsion of land cost")
    beta_access: float = _p(1.0, -100.0, 100.0, "utility/access", "attraction of market access")


@dataclass(frozen=True, slots=True)
class Params:
    """All scalar parameters of the model, in groups. Frozen; use :meth:`replace`."""

    switches: Switches = field(default_factory=Switches)
    world: WorldParams = field(default_factory=WorldParams)
    cooperation: CooperationParams = field(default_factory=CooperationParams)
    suppliers: SupplierParams = field(default_factory=SupplierParams)
    facilities: FacilityParams = field(default_factory=FacilityParams)
    market: MarketParams = field(default_factory=MarketParams)
    demography: DemographyParams = field(default_factory=DemographyParams)

    def __post_init__(self):
        for group in fields(self):
            _validate_group(group.name, getattr(self, group.name))
        d = self.demography
        if d.min_size > d.max_size:
            raise ParameterError("demography.min_size", f"got {d.min_size!r}, above max_size "
                                 f"{d.max_size!r}; allowed: a number <= max_size")

    # -- lookup -------------------------------------------------------------------------------
    @classmethod
    def groups(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def names(cls) -> dict[str, str]:
        """Map every parameter's bare name to its group."""
        return dict(_NAME_TO_GROUP)

    @classmethod
    def resolve(cls, key: str) -> tuple[str, str]:
        """Return (group, name) for a bare or dotted parameter key, or raise ParameterError."""
        if "." in key:
            group, _, name = key.partition(".")
            if group not in _GROUP_FIELDS:
                raise ParameterError(key, f"unknown parameter group {group!r}; allowed: "
                                     f"{', '.join(_GROUP_FIELDS)}"
                                     f"{suggest(group, _GROUP_FIELDS)}")
            if name not in _GROUP_FIELDS[group]:
                raise ParameterError(key, f"unknown parameter {name!r} in group {group!r}"
                                     f"{suggest(name, _GROUP_FIELDS[group])}")
            return group, name
        if key not in _NAME_TO_GROUP:
            raise ParameterError(key, f"unknown parameter{suggest(key, _NAME_TO_GROUP)}")
        return _NAME_TO_GROUP[key], key

    def get(self, key: str) -> Any:
        group, name = self.resolve(key)
        return getattr(getattr(self, group), name)

    def replace(self, overrides: dict[str, Any] | None = None, /, **kw: Any) -> Params:
        """A copy with some parameters changed, by bare or dotted name; values are checked."""
        changes: dict[str, dict[str, Any]] = {}
        for key, value in {**(overrides or {}), **kw}.items():
            group, name = self.resolve(key)
            changes.setdefault(group, {})[name] = coerce(f"{group}.{name}", value,
                                                         FIELD_INFO[group][name])
        new_groups = {g: dataclasses.replace(getattr(self, g), **c) for g, c in changes.items()}
        return dataclasses.replace(self, **new_groups)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {g: dataclasses.asdict(getattr(self, g)) for g in self.groups()}

    def flat(self) -> dict[str, Any]:
        """Every parameter as ``{"group.name": value}``."""
        return {f"{g}.{k}": v for g, d in self.to_dict().items() for k, v in d.items()}


# -- validation ----------------------------------------------------------------------------------
_GROUP_TYPES = {f.name: f.default_factory for f in fields(Params)}
_GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    g: tuple(f.name for f in fields(t)) for g, t in _GROUP_TYPES.items()
}
#: Every parameter's field (default, range, unit, description), by group and name.
FIELD_INFO: dict[str, dict[str, dataclasses.Field]] = {
    g: {f.name: f for f in fields(t)} for g, t in _GROUP_TYPES.items()
}
_NAME_TO_GROUP: dict[str, str] = {}
for _g, _names in _GROUP_FIELDS.items():
    for _n in _names:
        if _n in _NAME_TO_GROUP:  # pragma: no cover - guards the design rule at import
            raise RuntimeError(f"parameter name {_n!r} is used in two groups")
        _NAME_TO_GROUP[_n] = _g


def _validate_group(group: str, obj: Any) -> None:
    for name, f in FIELD_INFO[group].items():
        coerce(f"{group}.{name}", getattr(obj, name), f)


def param_table() -> list[dict[str, Any]]:
    """One row per parameter: group, name, default, allowed, unit, description, source."""
    rows = []
    for group, infos in FIELD_INFO.items():
        for name, f in infos.items():
            rows.append({"group": group, "name": name, "default": f.default,
                         "allowed": describe_allowed(f), "unit": f.metadata["unit"],
                         "doc": f.metadata["doc"], "source": f.metadata["source"]})
    return rows


def param_field(key: str) -> dataclasses.Field:
    """The field of a parameter named by bare name or ``group.name``."""
    group, name = Params.resolve(key)
    return FIELD_INFO[group][name]
