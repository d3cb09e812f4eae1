"""Choice 1: cooperate with tied partners, under trust and reputation.

Each month every tie is a round of a donation game played both ways. Firm i keeps its word
with partner j with probability ``w_i (kappa + (1 - kappa) t_ij)``, where ``w_i`` is i's
willingness and ``t_ij`` the trust i places in j. Cooperation gives the partner ``b`` and costs
the cooperator ``c`` (shares of the smaller partner's monthly revenue: joint orders,
subcontracting, shared know-how). Trust moves a share ``alpha`` of the way to 1 when the partner
cooperates and falls by a share ``beta`` when it cheats (won slowly, lost fast: Gorobets &
Nooteboom 2006). After mutual cooperation the less productive partner closes a share of its
productivity gap (know-how spillover). Reputation is a moving average of a firm's behaviour and
seeds the trust a new partner places in it. Ties dissolve when trust falls below a floor; firms
with free slots meet neighbours within a radius (via the cell list) and tie up. Willingness
responds to realised payoffs, measured against the firm's own revenue: Bush-Mosteller
reinforcement (Macy & Flache 2002) against an aspiration that follows the firm's own payoffs
(Karandikar, Mookherjee, Ray & Vega-Redondo 1998), so firms cooperate more when cooperation pays
and less when it costs, and learn faster when more is at stake; it also
spreads by imitation of more profitable partners (a Fermi rule: the network reciprocity of
Ohtsuki et al. 2006 in its pairwise-comparison form).

Public entry point: :func:`step`. Kernels are private pure functions of arrays; every
per-firm kernel writes only its own firm's rows, so each is safe to run in parallel. A month is
one kernel call (:func:`_month`: at a few hundred firms a month's fixed costs are most of it);
its per-firm stages are functions of a range of rows (``_decide_rows``, ``_outcome_rows``,
``_meet_rows``, ``_imitate_rows``) run on fixed chunks of rows, which the stage kernels
(:func:`_decide`, :func:`_outcomes`, :func:`_meet`) also run, one stage a call.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.core import streams
from sim.core.parallel import parallel_kernel
from sim.core.spatial import CellList, random_neighbour
from sim.core.totals import CHUNK

__all__ = ["step", "form_ties", "drop_ties", "add_tie", "N_MEET_TRIES"]

N_MEET_TRIES = 4


@parallel_kernel
def _month(partner, back, trust, acted, triangles, alive, firm_id, key, month, revenue, profit,
           productivity, reputation, willingness, aspiration, x, y, start, members, cell_size,
           side, coop_base, benefit, cost, trust_gain, trust_loss, spillover, memory, floor,
           learning, habituation, radius, meet_prob, t0, rep_weight, imitation_rate, intensity,
           new_trust, new_productivity, new_reputation, new_willingness, new_aspiration, income,
           acts, imitated):
    """A month of cooperation in one call, in :func:`step`'s order:

    1. :func:`_decide` and :func:`_outcomes` (the same chunks of rows through the same
       functions, so the same bits), then :func:`_dissolve` on the new trust, ``new_trust``,
       which is the tie table's trust from then on;
    2. if ``meet_prob`` and ``radius`` are positive, :func:`_meet` and :func:`_form` on the
       thinned table (positions and cells as :func:`_meet` takes them; ``t0`` and
       ``rep_weight`` as :func:`_form` does);
    3. imitation (:func:`_imitate_rows`) of ``new_willingness`` into ``imitated`` at
       ``imitation_rate`` (a copy if it is not positive).

    Other arguments as those functions'. Returns ``(played, kept, dissolved, formed)``: tie
    slots played, partners cooperated with (the sum of ``acts``: whole numbers, exact in any
    order), ties removed and ties made.
    """
    n = partner.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    played = 0
    for c in numba.prange(n_chunks):
        played += _decide_rows(partner, trust, alive, willingness, coop_base, firm_id, key, month,
                               acted, c * CHUNK, min(n, (c + 1) * CHUNK))
    low = np.empty(n, dtype=np.bool_)
    kept = 0
    for c in numba.prange(n_chunks):
        kept += _outcome_rows(partner, back, trust, acted, alive, revenue, productivity,
                              reputation, willingness, aspiration, benefit, cost, trust_gain,
                              trust_loss, spillover, memory, floor, learning, habituation,
                              new_trust, new_productivity, new_reputation, new_willingness,
                              new_aspiration, income, acts, low, c * CHUNK,
                              min(n, (c + 1) * CHUNK))
    dissolved = _dissolve(partner, new_trust, triangles, back, floor, low)

    formed = 0
    if meet_prob > 0.0 and radius > 0.0:
        met = np.empty(n, dtype=np.int64)
        for c in numba.prange(n_chunks):
            _meet_rows(partner, alive, firm_id, x, y, start, members, cell_size, side, radius,
                       meet_prob, key, month, met, c * CHUNK, min(n, (c + 1) * CHUNK))
        solo, shared = _split_meetings(met, alive)
        commons = np.empty((solo.shape[0], partner.shape[1]), dtype=np.int64)
        made = np.empty(solo.shape[0], dtype=np.int8)
        for a in numba.prange(solo.shape[0]):
            made[a] = _tie_solo(partner, new_trust, triangles, back, met, solo[a],
                                new_reputation, t0, rep_weight, commons[a])
        formed = _form_rest(partner, new_trust, triangles, back, met, shared, new_reputation,
                            t0, rep_weight, commons, made)

    if imitation_rate > 0.0:
        for c in numba.prange(n_chunks):
            _imitate_rows(partner, alive, new_willingness, profit, revenue, imitation_rate,
                          intensity, firm_id, key, month, imitated, c * CHUNK,
                          min(n, (c + 1) * CHUNK))
    else:
        imitated[:] = new_willingness
    return played, kept, dissolved, formed


@parallel_kernel
def _decide(partner, trust, alive, willingness, coop_base, firm_id, key, month, acted):
    """Who keeps their word this month.

    partner : int[N, K]; trust : float64[N, K]; alive : bool[N]; willingness : float64[N]
    coop_base : float, cooperation probability at zero trust relative to willingness
    firm_id : int64[N]; key : uint64[2]; month : int: the draws, one uniform per tie slot from
        the ``DECIDE`` stream (slots 4b..4b+3 share block b), made only for occupied slots
    acted : int8[N, K] output, 1 if i cooperates with partner k
    Returns the number of tie slots played (an exact integer sum: any thread count).
    """
    n = partner.shape[0]
    played = 0
    for c in numba.prange((n + CHUNK - 1) // CHUNK):
        played += _decide_rows(partner, trust, alive, willingness, coop_base, firm_id, key, month,
                               acted, c * CHUNK, min(n, (c + 1) * CHUNK))
    return played


@numba.njit(cache=True)
def _decide_rows(partner, trust, alive, willingness, coop_base, firm_id, key, month, acted, lo,
                 hi):
    """Rows ``lo..hi-1`` of :func:`_decide` (writes those rows of ``acted`` only); returns the
    tie slots they played."""
    played = 0
    for i in range(lo, hi):
        u0 = u1 = u2 = u3 = 0.0
        drawn = -1  # the block whose uniforms u0..u3 hold
        for s in range(partner.shape[1]):
            acted[i, s] = 0
            if alive[i] and partner[i, s] >= 0:
                played += 1
                if s // 4 != drawn:
                    drawn = s // 4
                    u0, u1, u2, u3 = streams.uniform4(key, month, streams.DECIDE, firm_id[i],
                                                      drawn)
                r = s % 4
                u = u0 if r == 0 else (u1 if r == 1 else (u2 if r == 2 else u3))
                p = willingness[i] * (coop_base + (1.0 - coop_base) * trust[i, s])
                if u < p:
                    acted[i, s] = 1
    return played


@parallel_kernel
def _meet(partner, alive, firm_id, x, y, start, members, cell_size, side, radius, prob, key,
          month, met):
    """Whom each firm meets this month: a random neighbour within ``radius``, or -1.

    A live firm with a free slot looks for a partner with probability ``prob`` and then tries
    ``N_MEET_TRIES`` random members of its 3 x 3 block of cells (:func:`random_neighbour`).
    Draws come from the ``MEET`` stream: block 0 holds the decision to look and the first three
    tries, block 1 the fourth. Reads positions and cells only, so firms are independent.

    met : int64[N] output, the neighbour's slot or -1.
    """
    n = partner.shape[0]
    for c in numba.prange((n + CHUNK - 1) // CHUNK):
        _meet_rows(partner, alive, firm_id, x, y, start, members, cell_size, side, radius, prob,
                   key, month, met, c * CHUNK, min(n, (c + 1) * CHUNK))


@numba.njit(cache=True)
def _meet_rows(partner, alive, firm_id, x, y, start, members, cell_size, side, radius, prob, key,
               month, met, lo, hi):
    """Elements ``lo..hi-1`` of :func:`_meet`'s ``met``."""
    for i in range(lo, hi):
        met[i] = -1
        if not alive[i] or _free_slot(partner, i) < 0:
            continue
        u0, u1, u2, u3 = streams.uniform4(key, month, streams.MEET, firm_id[i], 0)
        if u0 >= prob:
            continue
        v0, _, _, _ = streams.uniform4(key, month, streams.MEET, firm_id[i], 1)
        met[i] = random_neighbour(i, x, y, start, members, cell_size, side, radius,
                                   (u1, u2, u3, v0))


@parallel_kernel
def _outcomes(partner, back, trust, acted, alive, revenue, productivity, reputation,
              willingness, aspiration, benefit, cost, trust_gain, trust_loss, spillover, memory,
              floor, learning, habituation,
              new_trust, new_productivity, new_reputation, new_willingness, new_aspiration,
              income, acts, low):
    """Payoffs, trust, spillovers, reputation and learning from this month's decisions.

    Reads the old arrays and writes only row/element i of the outputs, so firms are
    independent. For each tie (i, j), ``back`` gives the slot of i in j's row.

    Learning is Bush-Mosteller reinforcement against an aspiration that adapts (Karandikar,
    Mookherjee, Ray & Vega-Redondo 1998; Macy & Flache 2002). On each tie i's payoff is
    ``(b [j cooperated] - c [i cooperated]) min(R_i, R_j) / R_i``: money as a share of its own
    monthly revenue ``R_i``, so what is at stake for the firm counts, not only the ratio of
    benefit to cost. The stimulus ``learning (payoff - aspiration_i)``, clipped to [-1, 1],
    makes the action i took more likely if positive and less likely if negative; the month's
    ties are averaged. The aspiration then moves a share ``habituation`` of the way to the
    month's mean payoff per tie.

    Outputs: new_trust float64[N, K], new_productivity float64[N], new_reputation float64[N],
    new_willingness float64[N], new_aspiration float64[N], income float64[N] (net money from
    cooperation), acts float64[N] (partners i cooperated with), low bool[N] (i now trusts some
    partner less than ``floor``: the rows :func:`_dissolve` visits).
    """
    n = partner.shape[0]
    for c in numba.prange((n + CHUNK - 1) // CHUNK):
        _outcome_rows(partner, back, trust, acted, alive, revenue, productivity, reputation,
                      willingness, aspiration, benefit, cost, trust_gain, trust_loss, spillover,
                      memory, floor, learning, habituation, new_trust, new_productivity,
                      new_reputation, new_willingness, new_aspiration, income, acts, low,
                      c * CHUNK, min(n, (c + 1) * CHUNK))


@numba.njit(cache=True)
def _outcome_rows(partner, back, trust, acted, alive, revenue, productivity, reputation,
                  willingness, aspiration, benefit, cost, trust_gain, trust_loss, spillover,
                  memory, floor, learning, habituation, new_trust, new_productivity,
                  new_reputation, new_willingness, new_aspiration, income, acts, low, lo, hi):
    """Rows ``lo..hi-1`` of :func:`_outcomes`: writes those elements or rows of each output
    only. Returns the partners they cooperated with (the sum of their ``acts``)."""
    k = partner.shape[1]
    kept = 0
    # i unsigned: numba then leaves out its checks for negative indices, which with a range
    # not starting at 0 LLVM cannot prove away (they cost a third of this loop's time)
    for i in range(np.uint64(lo), np.uint64(hi)):
        new_productivity[i] = productivity[i]
        new_reputation[i] = reputation[i]
        new_willingness[i] = willingness[i]
        new_aspiration[i] = aspiration[i]
        income[i] = 0.0
        acts[i] = 0.0
        low[i] = False
        if not alive[i]:
            for s in range(k):  # keep the row: the output must never hold uninitialised memory
                new_trust[i, s] = trust[i, s]
            continue
        gap = 0.0
        ties = 0
        push = 0.0  # summed change of willingness the month's ties call for
        earned = 0.0  # summed payoff per tie, as a share of own revenue
        for s in range(k):
            new_trust[i, s] = trust[i, s]
            j = partner[i, s]
            if j < 0:
                continue
            back_act = acted[j, back[i, s]]
            scale = min(revenue[i], revenue[j])
            if scale < 0.0:
                scale = 0.0
            mine = acted[i, s]
            money = benefit * scale * back_act - cost * scale * mine
            income[i] += money
            acts[i] += mine
            kept += mine
            ties += 1
            payoff = money / revenue[i] if revenue[i] > 0.0 else 0.0
            earned += payoff
            stimulus = learning * (payoff - aspiration[i])
            if stimulus > 1.0:
                stimulus = 1.0
            elif stimulus < -1.0:
                stimulus = -1.0
            p = willingness[i]
            if mine == 1:  # reinforce (or inhibit) cooperating
                push += stimulus * ((1.0 - p) if stimulus >= 0.0 else p)
            else:  # reinforce (or inhibit) defecting: willingness moves the other way
                push -= stimulus * (p if stimulus >= 0.0 else (1.0 - p))
            t = trust[i, s]
            if back_act == 1:
                new_trust[i, s] = t + trust_gain * (1.0 - t)
            else:
                new_trust[i, s] = t - trust_loss * t
            if new_trust[i, s] < floor:
                low[i] = True
            if mine == 1 and back_act == 1:
                d = productivity[j] - productivity[i]
                if d > gap:
                    gap = d
        new_productivity[i] = productivity[i] + spillover * gap
        if ties > 0:
            new_reputation[i] = (1.0 - memory) * reputation[i] + memory * (acts[i] / ties)
            new_willingness[i] = min(1.0, max(0.0, willingness[i] + push / ties))
            new_aspiration[i] = aspiration[i] + habituation * (earned / ties - aspiration[i])
    return kept


@numba.njit(cache=True)
def _margin(profit, revenue, i):
    """Firm i's profit margin (0 without revenue)."""
    return profit[i] / revenue[i] if revenue[i] > 0.0 else 0.0


@numba.njit(cache=True)
def _imitate_rows(partner, alive, willingness, profit, revenue, rate, intensity, firm_id, key,
                  month, out, lo, hi):
    """Pairwise-comparison imitation of willingness (Fermi rule), rows ``lo..hi-1``.

    With probability ``rate`` a live firm with partners picks one at random and copies its
    willingness with probability ``1 / (1 + exp(-intensity (m_j - m_i)))`` for profit margins m.
    Draws (compare?, which partner, copy?) come from block 0 of the ``IMITATE`` stream.
    out : float64[N] output willingness, written at rows ``lo..hi-1`` only (reads only the old
    array, so chunks of rows are independent).
    """
    k = partner.shape[1]
    for i in range(lo, hi):
        out[i] = willingness[i]
        if not alive[i]:
            continue
        deg = 0
        for s in range(k):
            if partner[i, s] >= 0:
                deg += 1
        if deg == 0:  # no one to compare with: the draws would change nothing, so none is made
            continue
        who_u, slot_u, accept_u, _ = streams.uniform4(key, month, streams.IMITATE, firm_id[i], 0)
        if who_u >= rate:
            continue
        pick = min(int(slot_u * deg), deg - 1)
        for s in range(k):
            if partner[i, s] >= 0:
                if pick == 0:
                    j = partner[i, s]
                    x = intensity * (_margin(profit, revenue, j) - _margin(profit, revenue, i))
                    if x > 50.0:
                        x = 50.0
                    elif x < -50.0:
                        x = -50.0
                    if accept_u < 1.0 / (1.0 + np.exp(-x)):
                        out[i] = willingness[j]
                    break
                pick -= 1


@numba.njit(cache=True)
def _dissolve(partner, trust, triangles, back, floor, low):
    """Remove every tie of the firms i with ``low[i]`` (bool[N]) whose trust, on this side, is
    below ``floor``, visiting the firms in slot order. With ``low`` the rows :func:`_outcomes`
    flags this removes every tie distrusted on either side (the set removed does not depend on
    the order). Serial. Returns the number of ties removed."""
    k = partner.shape[1]
    removed = 0
    for i in range(low.shape[0]):
        if not low[i]:
            continue
        for s in range(k):
            if partner[i, s] >= 0 and trust[i, s] < floor:
                _unlink(partner, trust, triangles, back, i, s)
                removed += 1
    return removed


@numba.njit(cache=True)
def _drop(partner, trust, triangles, back, idx):
    """Remove all ties of the firms in ``idx`` (they leave). Serial."""
    k = partner.shape[1]
    for a in range(idx.shape[0]):
        for s in range(k):
            if partner[idx[a], s] >= 0:
                _unlink(partner, trust, triangles, back, idx[a], s)


@numba.njit(cache=True)
def _shared(partner, triangles, i, j, delta):
    """Add ``delta`` to the triangle counts of i, j and of every partner they share.

    A tie (i, j) closes one triangle with each common partner m, so adding it raises the counts
    of i and j by the number of common partners and that of each m by one (removing it lowers
    them). O(K^2); returns the number of common partners.
    """
    k = partner.shape[1]
    common = 0
    for a in range(k):
        m = partner[i, a]
        if m < 0 or m == j:
            continue
        for b in range(k):
            if partner[j, b] == m:
                triangles[m] += delta
                common += 1
                break
    triangles[i] += delta * common
    triangles[j] += delta * common
    return common


@numba.njit(cache=True)
def _unlink(partner, trust, triangles, back, i, s):
    """Remove the tie in firm i's slot s from both ends (and the triangles it closed)."""
    j = partner[i, s]
    r = back[i, s]
    _shared(partner, triangles, i, j, -1)
    partner[j, r] = -1
    trust[j, r] = 0.0
    back[j, r] = -1
    partner[i, s] = -1
    trust[i, s] = 0.0
    back[i, s] = -1


@numba.njit(cache=True)
def _free_slot(partner, i):
    for s in range(partner.shape[1]):
        if partner[i, s] < 0:
            return s
    return -1


@numba.njit(cache=True)
def _linked(partner, i, j):
    for s in range(partner.shape[1]):
        if partner[i, s] == j:
            return True
    return False


@numba.njit(cache=True)
def _add(partner, trust, triangles, back, i, j, t_ij, t_ji):
    """Tie i and j if both have a free slot and are not yet tied. Returns True if added."""
    if i == j or _linked(partner, i, j):
        return False
    si = _free_slot(partner, i)
    sj = _free_slot(partner, j)
    if si < 0 or sj < 0:
        return False
    _shared(partner, triangles, i, j, 1)
    partner[i, si] = j
    trust[i, si] = t_ij
    back[i, si] = sj
    partner[j, sj] = i
    trust[j, sj] = t_ji
    back[j, sj] = si
    return True


@parallel_kernel
def _form(partner, trust, triangles, back, met, alive, reputation, t0, rep_weight):
    """Tie each firm i to the neighbour ``met[i]`` it met (-1: none) where both have a free
    slot and are not yet tied; initial trust in a partner blends ``t0`` with the partner's
    reputation. Returns ties added.

    The result is that of making the ties one by one in slot order. Meetings whose firms meet
    nobody else this month ("solo", :func:`_split_meetings`) change disjoint rows of the tie
    table, so they are made first, in parallel (:func:`_tie_solo`); the others compete for the
    same free slots and are made one by one in slot order (:func:`_form_rest`). The two sets
    touch disjoint rows and only add to triangle counts, so the order between them changes
    nothing.
    """
    solo, shared = _split_meetings(met, alive)
    commons = np.empty((solo.shape[0], partner.shape[1]), dtype=np.int64)
    made = np.empty(solo.shape[0], dtype=np.int8)
    for a in numba.prange(solo.shape[0]):
        made[a] = _tie_solo(partner, trust, triangles, back, met, solo[a], reputation, t0,
                            rep_weight, commons[a])
    return _form_rest(partner, trust, triangles, back, met, shared, reputation, t0, rep_weight,
                      commons, made)


@numba.njit(cache=True)
def _split_meetings(met, alive):
    """This month's meetings (firm i met ``met[i]``, int64[N], -1 for none; only meetings of a
    live firm count) split into those whose two firms meet nobody else ("solo") and the rest:
    ``(solo, shared)``, int64 arrays of the firms that met, in slot order. Serial, O(N), with a
    count per firm slot (int8)."""
    n = met.shape[0]
    seen = np.zeros(n, dtype=np.int8)  # meetings a firm is in, counted up to 2
    n_met = 0
    for i in range(n):
        j = met[i]
        if j >= 0 and alive[j]:
            seen[i] = min(seen[i] + 1, 2)
            seen[j] = min(seen[j] + 1, 2)
            n_met += 1
    n_solo = 0
    for i in range(n):
        j = met[i]
        if j >= 0 and alive[j] and seen[i] == 1 and seen[j] == 1:
            n_solo += 1
    solo = np.empty(n_solo, dtype=np.int64)
    shared = np.empty(n_met - n_solo, dtype=np.int64)
    n_solo = 0
    n_shared = 0
    for i in range(n):
        j = met[i]
        if j < 0 or not alive[j]:
            continue
        if seen[i] == 1 and seen[j] == 1:
            solo[n_solo] = i
            n_solo += 1
        else:
            shared[n_shared] = i
            n_shared += 1
    return solo, shared


@numba.njit(cache=True)
def _tie_solo(partner, trust, triangles, back, met, i, reputation, t0, rep_weight, commons):
    """Make firm i's solo meeting (:func:`_split_meetings`) a tie, as :func:`_add` would;
    returns 1 if made, else 0.

    Writes only the rows and triangle counts of i and ``met[i]``, so solo meetings can be made
    in parallel; the partners they share, whose triangle counts also rise, are listed in
    ``commons`` (int64[K], -1 padded) for a serial pass to count (:func:`_form_rest`).
    """
    k = partner.shape[1]
    j = met[i]
    for c in range(k):
        commons[c] = -1
    if i == j or _linked(partner, i, j):
        return 0
    si = _free_slot(partner, i)
    sj = _free_slot(partner, j)
    if si < 0 or sj < 0:
        return 0
    common = 0
    for b in range(k):
        m = partner[i, b]
        if m < 0 or m == j:
            continue
        for d in range(k):
            if partner[j, d] == m:
                commons[common] = m
                common += 1
                break
    triangles[i] += common
    triangles[j] += common
    partner[i, si] = j
    trust[i, si] = (1.0 - rep_weight) * t0 + rep_weight * reputation[j]
    back[i, si] = sj
    partner[j, sj] = i
    trust[j, sj] = (1.0 - rep_weight) * t0 + rep_weight * reputation[i]
    back[j, sj] = si
    return 1


@numba.njit(cache=True)
def _form_rest(partner, trust, triangles, back, met, shared, reputation, t0, rep_weight,
               commons, made):
    """After the solo ties (:func:`_tie_solo`): count the triangles they closed with their
    common partners, then make the ``shared`` meetings one by one in slot order. Serial.
    Returns the ties added by both."""
    k = partner.shape[1]
    added = 0
    for a in range(made.shape[0]):
        added += made[a]
        for c in range(k):
            if commons[a, c] < 0:
                break
            triangles[commons[a, c]] += 1
    for b in range(shared.shape[0]):
        i = shared[b]
        j = met[i]
        t_ij = (1.0 - rep_weight) * t0 + rep_weight * reputation[j]
        t_ji = (1.0 - rep_weight) * t0 + rep_weight * reputation[i]
        if _add(partner, trust, triangles, back, i, j, t_ij, t_ji):
            added += 1
    return added


@numba.njit(cache=True)
def _add_pairs(partner, trust, triangles, back, a, b, t_ab, t_ba):
    """Tie each pair (a[m], b[m]) in order where possible. Serial. Returns ties added."""
    added = 0
    for m in range(a.shape[0]):
        if _add(partner, trust, triangles, back, a[m], b[m], t_ab, t_ba):
            added += 1
    return added


# -- public wrappers ---------------------------------------------------------------------------
def drop_ties(ties, idx: np.ndarray) -> None:
    """Remove every tie of the firms ``idx`` (int64 array of slots)."""
    if idx.size:
        _drop(ties.partner, ties.trust, ties.triangles, ties.back,
              np.ascontiguousarray(idx, dtype=np.int64))


def add_tie(ties, a: np.ndarray, b: np.ndarray, trust_ab: float, trust_ba: float) -> int:
    """Tie pairs (a[m], b[m]) where both have a free slot; returns how many were added."""
    return int(_add_pairs(ties.partner, ties.trust, ties.triangles, ties.back,
                          np.ascontiguousarray(a, dtype=np.int64),
                          np.ascontiguousarray(b, dtype=np.int64), trust_ab, trust_ba))


def form_ties(firms, ties, cells: CellList, cp, key: np.ndarray, month: int,
              meet_prob: float | None = None) -> int:
    """Firms with a free slot meet a random neighbour with probability ``meet_prob`` (default
    ``cp.meet_prob``) and tie up; ``key`` and ``month`` name the draws (:mod:`sim.core.streams`)."""
    p = cp.meet_prob if meet_prob is None else meet_prob
    if p <= 0.0 or cp.tie_radius <= 0.0:
        return 0
    met = np.empty(firms.capacity, dtype=np.int64)
    _meet(ties.partner, firms.alive, firms.firm_id, firms.x, firms.y, cells.start, cells.members,
          cells.cell_size, cells.side, cp.tie_radius, p, key, month, met)
    return int(_form(ties.partner, ties.trust, ties.triangles, ties.back, met, firms.alive,
                     firms.reputation, cp.initial_trust, cp.reputation_weight))


def step(firms, ties, cells: CellList, cp, key: np.ndarray, month: int) -> dict[str, float]:
    """One month of cooperation: decide, pay off, update trust, dissolve, meet, imitate.

    Writes ``firms.coop_income``, ``firms.coop_acts``, ``firms.productivity``,
    ``firms.reputation``, ``firms.willingness`` and the tie arrays. Returns counts for the books.
    Every draw is keyed by ``(key, month, stream, firm_id)`` (:mod:`sim.core.streams`). One
    kernel call (:func:`_month`): a month at a few hundred firms is mostly fixed costs.
    """
    new_trust = np.empty_like(ties.trust)
    new_prod = np.empty_like(firms.productivity)
    new_rep = np.empty_like(firms.reputation)
    new_will = np.empty_like(firms.willingness)
    new_aspire = np.empty_like(firms.aspiration)
    imitated = np.empty_like(firms.willingness)
    played, kept, dissolved, formed = _month(
        ties.partner, ties.back, ties.trust, ties.acted, ties.triangles, firms.alive,
        firms.firm_id, key, month, firms.revenue, firms.profit, firms.productivity,
        firms.reputation, firms.willingness, firms.aspiration, firms.x, firms.y, cells.start,
        cells.members, cells.cell_size, cells.side, cp.coop_base, cp.coop_benefit, cp.coop_cost,
        cp.trust_gain, cp.trust_loss, cp.spillover, cp.reputation_memory, cp.trust_floor,
        cp.learning_rate, cp.aspiration_memory, cp.tie_radius, cp.meet_prob, cp.initial_trust,
        cp.reputation_weight, cp.imitation_rate, cp.imitation_intensity, new_trust, new_prod,
        new_rep, new_will, new_aspire, firms.coop_income, firms.coop_acts, imitated)
    ties.trust, firms.productivity, firms.reputation = new_trust, new_prod, new_rep
    firms.willingness, firms.aspiration = imitated, new_aspire
    return {"ties_formed": formed, "ties_dissolved": dissolved, "coop_played": played,
            "coop_kept": float(kept)}
