"""Cost per unit of purpose: extra public spending per tonne treated, per firm-month served.

A scenario's interventions declare what they are for (:func:`sim.measure.outputs.purpose_outcomes`:
an outcome, its unit and the scale from the model's units to it). Against a reference run with
the same seed, each purpose outcome gains ``e_i`` in replicate ``i`` while public spending rises
by ``c_i``; the cost per unit of purpose is then what :func:`sim.studies.costeff.classify` says
of ``c`` over ``scale * e``, with the same rules as the cost per job (Fieller's interval, no
ratio without a significant gain).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sim.measure.outputs import PurposeOutcome
from sim.studies.costeff import classify

__all__ = ["purpose_costs"]


def purpose_costs(purposes: Sequence[PurposeOutcome], cost, gains: Mapping[str, Any],
                  level: float = 0.95) -> list[dict[str, Any]]:
    """The extra cost per unit of each purpose outcome, from paired differences.

    Parameters
    ----------
    purposes : sequence of PurposeOutcome
        The policy scenario's (:func:`sim.measure.outputs.purpose_outcomes`).
    cost : array_like of float
        Extra public spending of each replicate (policy minus reference).
    gains : mapping of str to array_like of float
        Each purpose outcome's difference, replicate by replicate, in the model's units (the
        final outcomes' own); an outcome missing here is skipped.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    list of dict
        One per outcome: ``outcome``, ``unit``, ``interventions`` and the fields of
        :func:`sim.studies.costeff.classify`, with ``gain`` and its interval in ``unit`` and
        ``ratio`` (with its interval) the extra cost per ``unit``.
    """
    out = []
    for p in purposes:
        if p.name not in gains:
            continue
        gain = np.asarray(gains[p.name], dtype=np.float64) * p.scale
        out.append({"outcome": p.name, "unit": p.unit, "interventions": p.interventions,
                    **classify(cost, gain, level)})
    return out
