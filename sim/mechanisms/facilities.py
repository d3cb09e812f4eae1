"""Choice 3: build joint infrastructure, a threshold public good.

A facility project (a Common Facility Centre from a policy, or a private shared facility that
firms of one sector in one region try to set up every ``drive_interval`` months) opens a pledge
drive. Eligible firms (in the region and sectors served, not in another SPV, able to pay their
share) pledge in a Granovetter (1978) cascade of conditional cooperators. Firm i, seeing a share
``s`` of the eligible firms pledged, expects a share ``s + (1 - s) q tbar_i`` to pledge in the
end: each firm still undecided is a conditional cooperator with probability ``q``
(``conditional_share``; about half of subjects in public-goods experiments: Fischbacher, Gaechter
& Fehr 2001) who keeps its word with the probability i's trust in its partners gives
(``tbar_i``, the mean of its trust). It pledges once that expectation, times its step return
``R_i`` raised to ``step_return_elasticity``, reaches its threshold ``theta_i``. The step return
is what the facility would give the firm over ``pledge_horizon`` months, net of the member fee,
over its contribution: in threshold public-goods (provision-point) experiments contributions
rise with the step return and with what subjects expect others to give (Isaac, Schmidtz & Walker
1989; Cadsby & Maynes 1999; Croson & Marks 2000). With ``q = 0`` (or no ties) and elasticity 0
this is Granovetter's threshold model exactly. The drive succeeds when at least ``spv_min``
firms pledge (the MSE-CDP rule of an SPV of 20 firms); members then pay the private share of the
cost, ``max(member_share_min, 1 - grant_share)``, split equally, and the grant pays the rest. A
larger grant thus lowers what each member pays: it raises every firm's step return and widens
the set of firms able to pledge.

Once built (after ``build_months``), the facility serves firms of its sectors in its region who
find the service worth the fee; non-members (free-riders) pay a higher fee. Service is shared
among users (congestion beyond capacity). A facility whose fees do not cover its operating cost
loses service quality each month and closes when quality falls too low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from sim.core import numerics
from sim.core.month import Month
from sim.core.parallel import parallel_kernel
from sim.core.state import FacilityState
from sim.core.totals import CHUNK, add_chunks, slots_where
from sim.mechanisms.demography import firm_counts

__all__ = ["FacilityProject", "open_drive", "step", "pledge_cascade", "pledge_thresholds",
           "step_returns", "SERVICES"]

#: Services a facility can provide, by code: what its effect multiplies.
SERVICES = ("productivity", "cost", "waste")


@dataclass(frozen=True)
class FacilityProject:
    """What a pledge drive is for."""

    name: str
    region: int
    sectors: np.ndarray  # int64 sector codes served
    service: int  # index into SERVICES
    effect: float
    cost: float
    grant_share: float
    capacity: float
    operating_cost: float
    spv_min: int
    member_share: float
    drive_months: int
    sponsor: str = ""


def open_drive(fac: FacilityState, project: FacilityProject, t: int) -> int:
    """Register a new facility project with its pledge drive open from month ``t``."""
    fac.name.append(project.name)
    fac.region.append(int(project.region))
    fac.sectors.append(np.asarray(project.sectors, dtype=np.int64))
    fac.service.append(int(project.service))
    fac.effect.append(float(project.effect))
    fac.cost.append(float(project.cost))
    fac.grant_share.append(float(project.grant_share))
    fac.capacity.append(float(project.capacity))
    fac.operating_cost.append(float(project.operating_cost))
    fac.spv_min.append(int(project.spv_min))
    fac.member_share.append(float(max(project.member_share, 1.0 - project.grant_share)))
    fac.status.append(FacilityState.DRIVE)
    fac.opened_at.append(t)
    fac.drive_until.append(t + max(int(project.drive_months), 1))
    fac.ready_at.append(-1)
    fac.quality.append(0.0)
    fac.cash.append(0.0)
    fac.members.append(0)
    fac.users.append(0)
    fac.fees.append(0.0)
    fac.support.append(0.0)
    fac.sponsor.append(project.sponsor)
    fac.pledged.append(0)
    return fac.n - 1


@numba.njit(cache=True)
def _cascade(sorted_thresholds):
    """Final number of participants when each actor joins once at least theta others have.

    sorted_thresholds : float64[n], ascending, in numbers of other participants.
    Starting from nobody, the k-th lowest threshold joins iff it is <= the k already in: the
    fixed point of Granovetter's dynamics, found in one pass.
    """
    k = 0
    n = sorted_thresholds.shape[0]
    while k < n and sorted_thresholds[k] <= k:
        k += 1
    return k


def pledge_cascade(thresholds: np.ndarray) -> int:
    """Granovetter's threshold model: how many of the actors end up participating.

    ``thresholds`` are in numbers of *other* participants an actor needs to see first.
    """
    return int(_cascade(np.sort(np.asarray(thresholds, dtype=np.float64))))


@parallel_kernel
def _mean_trust(partner, trust, out):
    n, k = partner.shape
    for i in numba.prange(n):
        tot = 0.0
        deg = 0
        for s in range(k):
            if partner[i, s] >= 0:
                tot += trust[i, s]
                deg += 1
        out[i] = tot / deg if deg > 0 else 0.0


@parallel_kernel
def _member_counts(alive, member_of, nf):
    """Live members of each facility's SPV: int64[F] from ``member_of`` (int64[N], facility
    number or -1) over the slots where ``alive`` (bool[N]); counted in chunks in parallel."""
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, nf), dtype=np.int64)
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i] and member_of[i] >= 0:
                part[c, member_of[i]] += 1
    return add_chunks(part)


@parallel_kernel
def _use(alive, region, sector, member_of, local, revenue, input_cost, waste_cost, born,
         billed, f_region, f_sector_mask, f_service, f_effect, f_level, f_fee_member,
         f_fee_other, uses, level, fee):
    """Each firm picks the operating facility with the largest positive net benefit.

    The F operating facilities are numbered 0..F-1 here; ``local`` maps a facility's global
    number to that (-1 if it is not operating), so ``member_of`` (int64[N], global numbers, -1
    for none) can be used as it is. ``input_cost`` and ``waste_cost`` are last month's and may
    be shorter than N (slots added since count 0). They are the bills of the month ``billed``:
    a firm born (int64[N] ``born``) in that month or later entered after them, and its slot's
    entries are those of the firm that held the slot before it, so they count 0 for it too
    (it has no bills of its own yet). f_sector_mask : bool[F, S]; f_level :
    float64[F] expected service level (quality times congestion); fees per month.

    Outputs uses int64[N] (operating facility used, -1 = none), level float64[N] (expected
    service level), fee float64[N]; writes only element i. Returns each facility's number of
    users, int64[F] (counted in chunks: :mod:`sim.core.totals`).
    """
    n = alive.shape[0]
    nf = f_region.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, nf), dtype=np.int64)
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            uses[i] = -1
            level[i] = 0.0
            fee[i] = 0.0
            if not alive[i]:
                continue
            mine = local[member_of[i]] if member_of[i] >= 0 else -1
            billed_i = born[i] < billed  # last month's bills are this firm's own
            best = 0.0
            for f in range(nf):
                if (f_level[f] <= 0.0 or f_region[f] != region[i]
                        or not f_sector_mask[f, sector[i]]):
                    continue
                if f_service[f] == 0:
                    base = revenue[i]
                elif f_service[f] == 1:
                    base = input_cost[i] if billed_i and i < input_cost.shape[0] else 0.0
                else:
                    base = waste_cost[i] if billed_i and i < waste_cost.shape[0] else 0.0
                price = f_fee_member[f] if mine == f else f_fee_other[f]
                net = f_effect[f] * f_level[f] * base - price
                if net > best:
                    best = net
                    uses[i] = f
                    fee[i] = price
                    level[i] = f_level[f]
            if uses[i] >= 0:
                part[c, uses[i]] += 1
    return add_chunks(part)


@parallel_kernel
def _serve(uses, fee, operating, actual, f_service, f_effect, used, level, service, effect):
    """This month's service, after congestion: each user of operating facility f (``uses``,
    numbered as in :func:`_use`) gets ``actual[f]``. Writes used int64[N] (global facility
    number, -1 for none), level float64[N], service int64[N] (-1 for none) and effect
    float64[N]; returns the fees each facility collects, float64[F] (summed in chunks)."""
    n = uses.shape[0]
    nf = actual.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.zeros((n_chunks, nf))
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            f = uses[i]
            if f < 0:
                used[i] = -1
                level[i] = 0.0
                service[i] = -1
                effect[i] = 0.0
                continue
            used[i] = operating[f]
            level[i] = actual[f]
            service[i] = f_service[f]
            effect[i] = f_effect[f]
            part[c, f] += fee[i]
    return add_chunks(part)


@parallel_kernel
def _can_pledge(alive, region, sector, member_of, capital, revenue, r, in_sectors, contribution,
                max_months, asked):
    """Which firms a pledge drive can ask: live firms of region ``r`` in one of the drive's
    sectors (``in_sectors``, bool[S]), not yet in an SPV, that could pay ``contribution``:
    capital at least that, and at most ``max_months`` months of revenue. Writes ``asked``
    (bool[N]), element i only."""
    for i in numba.prange(alive.shape[0]):
        asked[i] = (alive[i] and region[i] == r and in_sectors[sector[i]]
                    and member_of[i] < 0 and capital[i] >= contribution
                    and contribution <= max_months * max(revenue[i], 0.0))


def pledge_thresholds(theta: np.ndarray, trust: np.ndarray, step_return: np.ndarray,
                      conditional_share: float, elasticity: float) -> np.ndarray:
    """Each firm's pledge threshold as the share of eligible firms it must see pledged.

    Firm i pledges once ``R_i**elasticity * (s + (1 - s) q t_i) >= theta_i``: its expected final
    share of pledgers (each undecided firm a conditional cooperator with probability
    ``q = conditional_share`` who keeps its word with probability ``t_i``, i's mean trust in its
    partners) times its step return ``R_i`` reaches its threshold. Solved for the share seen:
    ``s >= (theta_i / R_i**elasticity - q t_i) / (1 - q t_i)``. A firm whose step return is not
    positive never pledges (``inf``), unless the elasticity is 0 or its threshold is not
    positive (it pledges whatever it gains: an unconditional contributor). float64 arrays of
    one length.
    """
    theta = np.asarray(theta, dtype=np.float64)
    expect = conditional_share * np.asarray(trust, dtype=np.float64)
    if elasticity == 0.0:
        need = theta
    else:
        r = np.asarray(step_return, dtype=np.float64)
        with np.errstate(divide="ignore", over="ignore"):
            gain = np.where(r > 0.0, numerics.power(np.maximum(r, 1e-300), elasticity), 0.0)
            need = np.where(gain > 0.0, theta / np.where(gain > 0.0, gain, 1.0),
                            np.where(theta <= 0.0, theta, np.inf))
    with np.errstate(invalid="ignore"):
        out = (need - expect) / np.maximum(1.0 - expect, 1e-12)
    return np.where(np.isfinite(need), out, np.inf)


def step_returns(f: int, fac: FacilityState, firms, month: Month | None, idx: np.ndarray,
                 contribution: float, horizon: float, fee: float) -> np.ndarray:
    """What facility f would give each firm of ``idx`` over ``horizon`` months at full service,
    net of the member ``fee``, over its ``contribution``: the step return of a provision-point
    game. The service's base is the firm's revenue (productivity), or last month's input or
    waste bill (cost, waste: 0 for a firm without one, see :func:`_use`)."""
    service = SERVICES[fac.service[f]]
    if service == "productivity":
        base = np.maximum(firms.revenue[idx], 0.0)
    else:
        bills = None if month is None else (month.last_input_cost if service == "cost"
                                            else month.last_waste_cost)
        base = np.zeros(idx.size)
        if bills is not None and bills.size:
            inside = idx < bills.shape[0]
            base[inside] = bills[idx[inside]]
    value = horizon * np.maximum(fac.effect[f] * base - fee, 0.0)
    return value / contribution if contribution > 0.0 else np.full(idx.size, np.inf)


def _run_drive(f: int, fac: FacilityState, firms, mean_trust: np.ndarray, fp, t: int,
               n_sectors: int, month: Month | None = None):
    """Resolve one month of facility f's pledge drive; returns (built, members, contribution)."""
    share = fac.member_share[f]
    spv_min = fac.spv_min[f]
    contribution_at_min = share * fac.cost[f] / max(spv_min, 1)
    in_sectors = np.zeros(n_sectors, dtype=np.bool_)
    in_sectors[fac.sectors[f]] = True
    asked = np.empty(firms.capacity, dtype=np.bool_)
    _can_pledge(firms.alive, firms.region, firms.sector, firms.member_of, firms.capital,
                firms.revenue, int(fac.region[f]), in_sectors, float(contribution_at_min),
                float(fp.max_contribution_months), asked)
    idx = slots_where(asked, True)
    fac.pledged[f] = 0
    if idx.size < spv_min or idx.size == 0:
        return False, idx[:0], 0.0
    if fp.step_return_elasticity > 0.0:
        fee = fp.fee_cover * fac.operating_cost[f] / fac.capacity[f]
        ret = step_returns(f, fac, firms, month, idx, contribution_at_min, fp.pledge_horizon,
                           fee)
    else:
        ret = np.ones(idx.size)
    theta = pledge_thresholds(firms.pledge_threshold[idx], mean_trust[idx], ret,
                              fp.conditional_share, fp.step_return_elasticity)
    counts = theta * idx.size  # thresholds as numbers of other pledgers
    order = np.argsort(counts, kind="stable")
    k = int(_cascade(counts[order]))
    fac.pledged[f] = k  # shown as a series: a drive that stalls below spv_min
    if k < spv_min:
        return False, idx[:0], 0.0
    members = np.sort(idx[order[:k]])
    return True, members, share * fac.cost[f] / k


def step(model, month: Month, t: int) -> dict[str, float]:
    """One month of joint infrastructure: drives, construction, use, fees, upkeep.

    Use is decided on last month's bills (``month.last_input_cost``, ``last_waste_cost``,
    from the market phase of month ``t - 1``): a firm born in month ``t - 1`` or later has none
    yet and values the cost and waste services at 0 (see :func:`_use`). Each firm's service,
    its effect and level, and its fee go to ``month`` for the market."""
    firms, fac, fp = model.firms, model.facilities, model.params.facilities
    books = {"contributions": 0.0, "built": 0}
    # private drives: one sector in one region, no grant, every drive_interval months
    if t > 0 and t % fp.drive_interval == 0 and fp.private_cost > 0:
        _open_private_drives(model, t)

    # only drives and facilities under construction change status here: failed drives and
    # closed facilities pile up over a run (dozens after ten years) and are never visited
    mean_trust = None  # each firm's mean trust in its partners, needed only by pledge drives
    for f in [f for f, s in enumerate(fac.status) if s <= FacilityState.BUILDING]:
        if fac.status[f] == FacilityState.DRIVE:
            if mean_trust is None:
                mean_trust = np.zeros(firms.capacity)
                if model.ties is not None:
                    _mean_trust(model.ties.partner, model.ties.trust, mean_trust)
            built, members, contribution = _run_drive(f, fac, firms, mean_trust, fp, t,
                                                      len(model.world.sectors), month)
            if built:
                firms.capital[members] -= contribution
                firms.member_of[members] = f
                fac.members[f] = int(members.size)
                books["contributions"] += contribution * members.size
                grant = fac.grant_share[f] * fac.cost[f]
                if grant > 0:
                    model.book_public(fac.sponsor[f] or fac.name[f], grant)
                fac.status[f] = FacilityState.BUILDING
                fac.ready_at[f] = t + fp.build_months
                books["built"] += 1
            elif t + 1 >= fac.drive_until[f]:
                fac.status[f] = FacilityState.FAILED
        if fac.status[f] == FacilityState.BUILDING and t >= fac.ready_at[f]:
            fac.status[f] = FacilityState.OPERATING
            fac.quality[f] = 1.0
            if model.first_facility_step < 0:
                model.first_facility_step = t

    nf = fac.n
    if nf:  # SPV membership shrinks as members leave the cluster
        fac.members[:] = _member_counts(firms.alive, firms.member_of, nf).tolist()
    # the operating facilities, in order; everything below is computed for them alone
    ops = [f for f, s in enumerate(fac.status) if s == FacilityState.OPERATING]
    n = firms.capacity
    if not ops:
        # no firm uses a facility: the month's empty facility arrays say so to the market
        # (sim.mechanisms.market._service_of), without a pass over the firms for each
        firms.uses.fill(-1)
        return books
    operating = np.array(ops, dtype=np.int64)
    sector_mask = np.zeros((len(ops), len(model.world.sectors)), dtype=np.bool_)
    for a, f in enumerate(ops):
        sector_mask[a, fac.sectors[f]] = True
    cap = np.array([fac.capacity[f] for f in ops], dtype=np.float64)
    q = np.array([fac.quality[f] for f in ops], dtype=np.float64)
    users_prev = np.maximum(np.array([fac.users[f] for f in ops], dtype=np.float64), 1.0)
    expected_level = q * np.minimum(1.0, cap / users_prev)
    fee_member = fp.fee_cover * np.array([fac.operating_cost[f] for f in ops],
                                         dtype=np.float64) / cap
    fee_other = fee_member * fp.nonmember_markup
    # the kernels number the operating facilities 0..len(ops)-1; membership (global numbers)
    # is translated to those positions
    local = np.full(nf, -1, dtype=np.int64)
    local[operating] = np.arange(operating.size)
    f_service = np.array([fac.service[f] for f in ops], dtype=np.int64)
    f_effect = np.array([fac.effect[f] for f in ops], dtype=np.float64)
    uses_local = np.empty(n, dtype=np.int64)
    fee = np.empty(n)
    # last month's bills were made in the market phase of month t - 1, before that month's
    # entrants took their slots: an entrant decides on no bills, not its predecessor's
    users = _use(firms.alive, firms.region, firms.sector, firms.member_of, local,
                 firms.revenue, month.last_input_cost, month.last_waste_cost, firms.born, t - 1,
                 np.array([fac.region[f] for f in ops], dtype=np.int64), sector_mask,
                 f_service, f_effect, expected_level, fee_member, fee_other, uses_local,
                 np.empty(n), fee)
    # actual congestion this month: service shared among this month's users
    actual = np.where(users > 0, q * np.minimum(1.0, cap / np.maximum(users, 1)), 0.0)
    uses, level = np.empty(n, dtype=np.int64), np.empty(n)
    service, effect = np.empty(n, dtype=np.int64), np.empty(n)
    fees = _serve(uses_local, fee, operating, actual, f_service, f_effect, uses, level, service,
                  effect)
    for a, f in enumerate(ops):
        fac.users[f] = int(users[a])
        fac.fees[f] = float(fees[a])
        net = fees[a] + fac.support[f] - fac.operating_cost[f]
        fac.cash[f] += net
        if net < 0:
            fac.quality[f] *= 1.0 - fp.decline_rate
        else:
            fac.quality[f] = min(1.0, fac.quality[f] + fp.decline_rate)
        if fac.quality[f] < fp.close_quality:
            fac.status[f] = FacilityState.CLOSED
            firms.member_of[firms.member_of == f] = -1
    fac.support[:] = [0.0] * nf  # public operating support is paid month by month
    firms.uses = uses
    month.facility_level, month.facility_fee = level, fee
    month.facility_service, month.facility_effect = service, effect
    return books


def _open_private_drives(model, t: int) -> None:
    firms, fac, fp = model.firms, model.facilities, model.params.facilities
    n_sectors = len(model.world.sectors)
    busy = set()
    for f in range(fac.n):
        if fac.status[f] in (FacilityState.DRIVE, FacilityState.BUILDING, FacilityState.OPERATING):
            for s in fac.sectors[f]:
                busy.add((fac.region[f], int(s)))
    n_regions = len(model.world.regions)
    counts = firm_counts(firms.alive, firms.sector, firms.region, n_sectors, n_regions)
    for r in range(n_regions):  # region by region, sector by sector: the facilities' order
        for s in range(n_sectors):
            if counts[s, r] < fp.spv_min_members or (r, s) in busy:
                continue
            open_drive(fac, FacilityProject(
                name=f"private-{model.world.sectors[s].name}-{model.world.regions[r].name}-{t}",
                region=r, sectors=np.array([s]), service=0, effect=fp.private_effect,
                cost=fp.private_cost, grant_share=0.0, capacity=fp.private_capacity,
                operating_cost=fp.private_operating_cost, spv_min=fp.spv_min_members,
                # no grant: the members pay everything, never less than member_share_min
                member_share=fp.member_share_min, drive_months=1), t)
