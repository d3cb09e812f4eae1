"""What an intervention may see and change: a narrow view of the model.

The model hands every runtime method of an intervention (``on_start``, ``apply``, ``on_end``,
``books``, ``on_exit``; :class:`sim.interventions.base.Intervention`) a :class:`PolicyContext`
rather than itself: the firms and their ties, the policy modifiers, the facilities, the world
and the parameters, the month, the model's random generator, the public account (through
``book_public``, which also charges the intervention's budget) and ``shared``, where the
interventions of one kind keep what they share over a run (credit's cover of each firm, say).
The names are those of the model's attributes, so the helpers of
:class:`~sim.interventions.base.Intervention` (``target_mask``, ``own_or_param``, ...) read
either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.core.params import Params
from sim.core.state import FacilityState, FirmState, Modifiers, TieState
from sim.core.world import World

__all__ = ["PolicyContext"]


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What the interventions of one model may read and change, in the month ``steps``."""

    #: the month (Mesa's ``steps``: 0 is the first month after the burn-in)
    steps: int
    firms: FirmState
    ties: TieState
    mods: Modifiers
    facilities: FacilityState
    world: World
    params: Params
    #: the model's generator: draws in the scenario's order of interventions
    rng: np.random.Generator
    #: book public spending under an account (an intervention's name), charged to its budget
    book_public: Callable[[str, float], None]
    #: what the interventions of one kind share over a run, by kind
    shared: dict[str, Any]
