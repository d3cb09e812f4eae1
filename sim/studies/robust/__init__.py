"""Robust decisions: which policy does well across uncertain futures, by which criterion, and
under which conditions does it fail or gain?

- :mod:`.futures`: the uncertain parameters, their documented ranges and a Latin hypercube;
- :mod:`.criteria`: wins and ties, regret, satisficing, the probability of beating the
  reference and money, and a headline that names its criterion;
- :mod:`.discovery`: scenario discovery by PRIM, as EMA Workbench 2.5.3 implements it;
- :mod:`.study`: the study on the sweep engine, and its files; :mod:`.page`: its report.

docs/robustness.md describes the method and its choices.
"""

from sim.studies.robust.criteria import (
    CRITERIA,
    criteria_table,
    headline,
    leaders,
    regret_table,
    verdicts,
)
from sim.studies.robust.discovery import Discovery, discover
from sim.studies.robust.futures import (
    DEFAULT_UNCERTAIN,
    RANGES,
    sample_futures,
    uncertain_ranges,
)
from sim.studies.robust.study import RobustResult, analyse, robust

__all__ = ["CRITERIA", "DEFAULT_UNCERTAIN", "RANGES", "Discovery", "RobustResult", "analyse",
           "criteria_table", "discover", "headline", "leaders", "regret_table", "robust",
           "sample_futures", "uncertain_ranges", "verdicts"]
