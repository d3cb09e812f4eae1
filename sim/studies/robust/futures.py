"""The futures of a robustness study: uncertain parameters, their ranges, and a Latin hypercube.

The futures are a Latin hypercube over the uncertain parameters, as EMA Workbench samples them
(McKay et al. 1979; Kwakkel 2017): each parameter's range is divided into as many equal strata
as there are futures and every stratum is used once (``scipy.stats.qmc.LatinHypercube``, as in
:mod:`sim.studies.sweep.experiment`).

A parameter's range is, in this order: the one given (``NAME=LOW:HIGH``), the documented range
of :data:`RANGES` for the parameters whose plausible values the literature or the model's own
validation bounds, or the parameter's default +-50% clipped to the range the parameter table
allows. Every range is checked against the table (:mod:`sim.core.params`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.core.errors import InputError
from sim.core.fields import suggest
from sim.core.params import FIELD_INFO

__all__ = ["DEFAULT_UNCERTAIN", "RANGES", "SPREAD", "uncertain_ranges", "sample_futures"]

#: Documented ranges: ``name -> (low, high, why)``; docs/robustness.md gives the reasoning.
RANGES: dict[str, tuple[float, float, str]] = {
    # the local supply base (default 1: the initial cluster's inputs, an assumption): from half
    # to twice it, from tight to slack local supply (docs/validation.md section 5)
    "supplier_capacity": (0.5, 2.0, "assumption (default 1): half to twice the default"),
    # no figure found for clusters: the plausible range assumed in docs/validation.md section 5
    "supply_elasticity": (0.5, 2.0, "assumption: plausible range 0.5-2 (default 1)"),
    # transport alone to transport and border costs (docs/sources.md#input-markets)
    "import_cost": (0.21, 0.74, "Anderson & van Wincoop 2004: 0.21-0.74 (default 0.74)"),
    # published wage-density elasticities 0.02-0.05 (docs/sources.md#agglomeration-elasticities)
    # up to the model's default 0.1 (value assumed)
    "wage_density_elasticity": (0.02, 0.1, "Combes, Duranton & Gobillon 2008: 0.02-0.05; "
                                "up to the default 0.1"),
    # no figure found: the default (1.0, an assumption) +-50%
    "rent_density_elasticity": (0.5, 1.5, "assumption (default 1): +-50%"),
    # published 0.02-0.08 (docs/sources.md#agglomeration-elasticities), the default at its top,
    # up to 0.15, the default until version 0.3 (docs/validation.md section 5)
    "localisation_elasticity": (0.02, 0.15, "Rosenthal & Strange 2004: 0.02-0.08; up to 0.15, "
                                "the default until version 0.3"),
}

#: Uncertain parameters when none are given: what decides whether firms cooperate and pledge,
#: and what decides whether the cluster's growth is bounded (the input market, congestion) or
#: self-reinforcing (localisation economies).
DEFAULT_UNCERTAIN: tuple[str, ...] = (
    "initial_trust", "coop_benefit", "trust_gain", "willingness_mean", "meet_prob",
    "supplier_capacity", "supply_elasticity", "import_cost", "wage_density_elasticity",
    "rent_density_elasticity", "localisation_elasticity")
#: Half-width of a range around the parameter's default value, as a share of it.
SPREAD = 0.5


def _field(name: str):
    for infos in FIELD_INFO.values():
        if name in infos:
            return infos[name]
    every = sorted(n for infos in FIELD_INFO.values() for n in infos)
    raise InputError("--uncertain", name, f"not a parameter{suggest(name, every)}; allowed: a "
                     "parameter of `clustersim params`")


def uncertain_ranges(specs=None) -> list[tuple[str, float, float]]:
    """``(name, low, high)`` for each uncertain parameter.

    ``specs``: names or ``NAME=LOW:HIGH``; default :data:`DEFAULT_UNCERTAIN`. A name without a
    range takes its range from :data:`RANGES`, or else its default +-50% clipped to the
    table's allowed range.
    """
    out: list[tuple[str, float, float]] = []
    for spec in (specs or DEFAULT_UNCERTAIN):
        name, _, rng = str(spec).partition("=")
        name = name.strip()
        f = _field(name)
        meta = f.metadata
        default = f.default
        if isinstance(default, bool) or not isinstance(default, int | float):
            raise InputError("--uncertain", name, f"is not a number (default {default!r}); "
                             "allowed: a numeric parameter")
        lo_ok = meta["lo"] if meta["lo"] is not None else -math.inf
        hi_ok = meta["hi"] if meta["hi"] is not None else math.inf
        if rng:
            try:
                lo, hi = (float(v) for v in rng.split(":"))
            except ValueError:
                raise InputError("--uncertain", spec, "allowed: NAME or NAME=LOW:HIGH, e.g. "
                                 "coop_benefit=0.01:0.04") from None
        elif name in RANGES:
            lo, hi, _ = RANGES[name]
        else:
            if default == 0:
                raise InputError("--uncertain", name, "its default is 0, so +-50% is no range;"
                                 " allowed: NAME=LOW:HIGH")
            lo, hi = sorted((default * (1 - SPREAD), default * (1 + SPREAD)))
            lo, hi = max(lo, lo_ok), min(hi, hi_ok)
        if not (lo < hi and lo >= lo_ok and hi <= hi_ok):
            raise InputError("--uncertain", str(spec), f"got [{lo:g}, {hi:g}]; allowed: LOW < "
                             f"HIGH within the table's range [{lo_ok:g}, {hi_ok:g}]")
        if name in [n for n, _, _ in out]:
            raise InputError("--uncertain", name, "given twice; allowed: each parameter once")
        out.append((name, float(lo), float(hi)))
    return out


def sample_futures(ranges, n: int, seed: int) -> pd.DataFrame:
    """A Latin hypercube of ``n`` futures over ``ranges`` (one column per parameter); the
    generator is child 0 of ``SeedSequence(seed)``, as for the sweeps' samplers."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    unit = qmc.LatinHypercube(d=len(ranges), rng=rng).random(n)
    lo = np.array([r[1] for r in ranges])
    hi = np.array([r[2] for r in ranges])
    x = qmc.scale(unit, lo, hi)
    return pd.DataFrame(x, columns=[r[0] for r in ranges])
