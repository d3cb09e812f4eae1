"""Outcome metrics of a firm population: inequality, concentration, agglomeration, networks.

Every function here is pure: it reads arrays over firm slots and returns numbers, with no I/O,
no Mesa objects and no random state. Only firms whose ``alive`` flag is set count. The functions
run every step on up to a million firms, so each is O(N) (O(N log N) where it sorts); any loop
over firms or ties lives in a private ``numba`` kernel that is a pure function of arrays, behind
a public wrapper that validates the inputs and allocates the outputs.

Metrics and their sources
-------------------------
- Gini coefficient (Gini 1912, *Variabilita e mutabilita*), in the mean-difference form
  ``G = sum_ij w_i w_j |x_i - x_j| / (2 W^2 mean)``: :func:`gini`.
- Herfindahl(-Hirschman) index, the sum of squared shares (Herfindahl 1950; Hirschman 1945):
  :func:`herfindahl`; per input market in :func:`supplier_concentration`.
- Size classes micro / small / medium / large by employees: :func:`size_class_shares`.
- Location quotient ``LQ_ir = (e_ir / e_r) / (E_i / E)``: :func:`location_quotients`.
- Ellison-Glaeser index of geographic concentration ``gamma_i`` (Ellison & Glaeser 1997,
  J. Polit. Econ. 105(5):889-927), which nets out the concentration a "dartboard" of independent
  plant locations would give by chance, measured against the other sectors (leave-one-out) and
  corrected for their sampling variance, so that it is unbiased at the null with few sectors:
  :func:`ellison_glaeser`, :func:`ellison_glaeser_parts`.
- Moran's I of spatial autocorrelation (Moran 1950, Biometrika 37:17-23):
  :func:`morans_i` for any weight matrix, :func:`grid_morans_i` for firms binned on a grid.
- Tie-network statistics: mean degree, density, giant-component share, and the average local
  clustering coefficient of Watts & Strogatz (1998, Nature 393:440-442): :func:`tie_stats`.
- Mean and standard deviation of productivity: :func:`productivity_stats`.
- What interventions are for (waste made and treated, firms compliant, served, trained and
  supported by credit): :func:`purpose_totals`.

Conventions
-----------
Scalars come back as Python ``float``; arrays as ``float64``. A metric that is undefined for the
input (no alive firms, zero total, a constant variable...) is ``nan``, never an exception and
never a numpy ``RuntimeWarning``. Invalid input (negative sizes, codes out of range, asymmetric
ties, ...) raises ``ValueError`` naming the argument.

The model records every indicator every step, so the recorder uses fast paths equal to the
single functions up to the order of summation: :func:`firm_indicators` (the indicators of the
firm arrays, in a few passes of parallel kernels), :func:`network_indicators` (mean trust and
tie statistics in one pass over the tie table), :func:`alive_totals` and :func:`alive_holders`
(sums and counts over alive firms). Parallel kernels never add floats in a ``prange``
reduction, whose split depends on the number of threads: they add within fixed chunks of
:data:`sim.core.totals.CHUNK` slots, in parallel, then add the chunks' partial sums in chunk order,
so every result is bit-identical for any number of threads (as every total of the model is).
"""

from __future__ import annotations

from sim.measure.metrics.agglomeration import (
    MORAN_GRID_CELLS,
    ellison_glaeser,
    ellison_glaeser_parts,
    grid_morans_i,
    location_quotients,
    morans_i,
)
from sim.measure.metrics.indicators import alive_holders, alive_totals, firm_indicators
from sim.measure.metrics.inequality import gini, herfindahl, productivity_stats, size_class_shares
from sim.measure.metrics.network import mean_trust, network_indicators, tie_stats
from sim.measure.metrics.purpose import purpose_totals
from sim.measure.metrics.suppliers import supplier_concentration

__all__ = [
    "gini",
    "herfindahl",
    "size_class_shares",
    "location_quotients",
    "ellison_glaeser",
    "ellison_glaeser_parts",
    "morans_i",
    "grid_morans_i",
    "MORAN_GRID_CELLS",
    "tie_stats",
    "supplier_concentration",
    "productivity_stats",
    "mean_trust",
    "firm_indicators",
    "network_indicators",
    "alive_totals",
    "alive_holders",
    "purpose_totals",
]
