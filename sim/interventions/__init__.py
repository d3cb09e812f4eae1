"""Policy interventions and shocks: the scenario vocabulary.

Each intervention kind is a frozen dataclass (its fields are the scenario file's keys, with
ranges and units in the field metadata, as for :mod:`sim.core.params`) with an ``apply`` method
called once per step while it is active. Kinds live in their own modules and register in
:data:`KINDS` under the name used by scenario files (``kind = "cfc"``).

Scheduling (see :mod:`sim.interventions.base`): an intervention becomes active at the first step
``t >= start`` at which the intervention named in ``after`` (if any) has ended and the condition
``when_metric >= when_at_least`` (if any) holds; it stays active for ``duration`` months (or
until ``end``, or the end of the run) or until its ``budget`` is spent.
"""

from sim.interventions.base import Intervention, Targeting
from sim.interventions.kinds import KINDS

__all__ = ["Intervention", "KINDS", "Targeting"]
