"""What interventions are for: waste made and treated, firms served, trained and supported.

A facility or programme is judged on its purpose as well as on jobs (docs/ODD.md, section 4,
Observation): a slurry or effluent treatment plant on the waste it treats and the firms whose
waste it treats (compliant), a tool room or raw-material bank on the firms it serves, training
on the firms trained, credit on the firms it carries. :func:`purpose_totals` computes all of
them in one pass over the firm slots, from what the month's phases left in the firm arrays and
the month's facility arrays; it reads the state and draws nothing.

Waste is in the model's waste units, those of the sectors' ``waste_per_output`` (a scenario
converts them to tonnes or litres for its report: :func:`sim.measure.outputs.purpose_outcomes`).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from sim.core.parallel import parallel_kernel
from sim.core.totals import CHUNK, add_chunks
from sim.measure.metrics.checks import alive_mask, as_vector, check_codes
from sim.mechanisms.facilities import SERVICES

__all__ = ["purpose_totals", "WASTE_SERVICE"]

#: The service code of a waste-treatment facility.
WASTE_SERVICE = SERVICES.index("waste")


@parallel_kernel
def _purpose_sums(alive, sector, output, uses, f_service, effect, level, waste_per_output,
                  trained, interest_subsidy, debt_extra_months):
    """Sums over live firms (bool[N] ``alive``), in chunks of ``CHUNK`` slots, then chunk by
    chunk in order.

    ``uses`` (int64[N]) is the facility each firm used this month (-1 none), ``f_service``
    (int64[F]) each facility's service code; ``effect`` and ``level`` (float64, may be shorter
    than N: empty in a month no facility operated) the effect and level of service each user
    got; ``waste_per_output`` float64[S]. Returns (float64[2]: waste made, waste treated;
    int64[5]: firms making waste, firms whose waste was treated, users of other services,
    firms trained, firms under credit support).
    """
    n = alive.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    amounts = np.zeros((n_chunks, 2))
    counts = np.zeros((n_chunks, 5), dtype=np.int64)
    for c in numba.prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not alive[i]:
                continue
            waste = output[i] * waste_per_output[sector[i]]
            if waste > 0.0:
                amounts[c, 0] += waste
                counts[c, 0] += 1
            f = uses[i]
            if f >= 0:
                if f_service[f] == WASTE_SERVICE:
                    treated = (waste * effect[i] * level[i] if i < level.shape[0] else 0.0)
                    if treated > 0.0:
                        amounts[c, 1] += treated
                        counts[c, 1] += 1
                else:
                    counts[c, 2] += 1
            if trained[i]:
                counts[c, 3] += 1
            if interest_subsidy[i] > 0.0 or debt_extra_months[i] > 0.0:
                counts[c, 4] += 1
    return add_chunks(amounts), add_chunks(counts)


def purpose_totals(alive: npt.ArrayLike, sector: npt.ArrayLike, output: npt.ArrayLike,
                   uses: npt.ArrayLike, f_service: npt.ArrayLike, effect: npt.ArrayLike,
                   level: npt.ArrayLike, waste_per_output: npt.ArrayLike, trained: npt.ArrayLike,
                   interest_subsidy: npt.ArrayLike,
                   debt_extra_months: npt.ArrayLike) -> dict[str, float]:
    """The month's purpose outcomes over live firms.

    Parameters
    ----------
    alive, trained : array_like of bool, shape (N,)
    sector, uses : array_like of int, shape (N,)
        Sector codes; the facility each firm used this month (-1 for none).
    output, interest_subsidy, debt_extra_months : array_like of float, shape (N,)
    f_service : array_like of int, shape (F,)
        Each facility's service code (2: waste treatment).
    effect, level : array_like of float, shape (M,), M <= N
        The effect and the level of service each firm got from its facility this month
        (slots from M on got none).
    waste_per_output : array_like of float, shape (S,)

    Returns
    -------
    dict
        ``waste_generated`` (sum of output x the sector's waste per output), ``waste_treated``
        (the same times effect x level, over users of waste-treatment facilities: what the
        market takes off their waste bill), ``waste_treated_share`` (0 when no waste is made),
        ``firms_compliant`` (firms whose waste was treated), ``compliance_share`` (over firms
        making waste; 0 if none), ``services_delivered`` (users of other facilities),
        ``trained_firms`` and ``credit_supported`` (firms with an interest subsidy or a
        guarantee).
    """
    alive = alive_mask(alive)
    n = alive.shape[0]
    w = as_vector("waste_per_output", waste_per_output)
    sector = check_codes("sector", sector, max(w.shape[0], 1))
    f_service = np.asarray(f_service, dtype=np.int64)
    uses = np.asarray(uses, dtype=np.int64)
    if uses.shape != (n,) or sector.shape != (n,):
        raise ValueError(f"sector, uses: shapes {sector.shape}, {uses.shape}; allowed: ({n},), "
                         "as alive")
    if uses.size and uses.max() >= f_service.shape[0]:
        raise ValueError(f"uses: facility {uses.max()}; allowed: -1 or below {f_service.shape[0]}")
    effect, level = as_vector("effect", effect), as_vector("level", level)
    if effect.shape != level.shape or level.shape[0] > n:
        raise ValueError(f"effect, level: shapes {effect.shape}, {level.shape}; allowed: "
                         f"equal, at most ({n},)")
    amounts, counts = _purpose_sums(
        alive, sector, as_vector("output", output, n), uses, f_service, effect, level, w,
        alive_mask(np.asarray(trained, dtype=np.bool_), n),
        as_vector("interest_subsidy", interest_subsidy, n),
        as_vector("debt_extra_months", debt_extra_months, n))
    made, treated = float(amounts[0]), float(amounts[1])
    makers, compliant = int(counts[0]), int(counts[1])
    return {"waste_generated": made, "waste_treated": treated,
            "waste_treated_share": treated / made if made > 0 else 0.0,
            "firms_compliant": compliant,
            "compliance_share": compliant / makers if makers else 0.0,
            "services_delivered": int(counts[2]), "trained_firms": int(counts[3]),
            "credit_supported": int(counts[4])}
