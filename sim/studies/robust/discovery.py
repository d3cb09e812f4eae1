"""Scenario discovery: the conditions under which a policy fails, or gains, found by PRIM as
EMA Workbench implements it.

PRIM, the Patient Rule Induction Method (Friedman and Fisher 1999), used for scenario discovery
(Bryant and Lempert 2010), is taken from EMA Workbench 2.5.3 (Kwakkel 2017;
``ema_workbench.analysis.prim``, the optional extra ``robust``) rather than written here: it
peels the box that holds every future until the box would hold less than ``mass_min`` of them,
then pastes back what raises the box's density, and gives each restricted parameter a quasi-p
value (a one-sided binomial test of whether the restriction raises the density by more than
chance, Bryant and Lempert 2010).

From the peeling and pasting trajectory, :func:`discover` takes the densest box that still
covers ``min_coverage`` of the cases of interest (the coverage/density trade-off), then drops,
with EMA's own ``drop_restriction``, every restriction that is not significant (quasi-p >=
:data:`SIGNIFICANCE`) or that keeps more than ``1 - MIN_RESTRICTION`` of the parameter's sampled
range, until every restriction left is both. A box with none left is reported as **no clear
condition**: a box that covers nearly the whole range of its parameters, or that chance alone
explains, is not a finding.

References: J. H. Friedman, N. I. Fisher (1999), Bump hunting in high-dimensional data,
Statistics and Computing 9 123-143; B. P. Bryant, R. J. Lempert (2010), Thinking inside the
box, Technological Forecasting and Social Change 77(1) 34-49; J. H. Kwakkel (2017), The
Exploratory Modeling Workbench, Environmental Modelling & Software 96 239-250.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SIGNIFICANCE", "MIN_RESTRICTION", "Discovery", "quiet_ema", "ema_prim", "discover"]

#: A restriction is significant when its quasi-p value is below this.
SIGNIFICANCE = 0.05
#: A restriction that removes less than this share of a parameter's sampled range is slight.
MIN_RESTRICTION = 0.15
#: Install hint when EMA Workbench is missing.
INSTALL = "pip install 'msme-clustersim[robust]' (ema_workbench==2.5.3)"


@contextmanager
def quiet_ema() -> Iterator[None]:
    """Silence the two warnings EMA Workbench 2.5.3 gives on import and use that say nothing
    about the analysis: its optional parallel back end is missing, and pandas 3 deprecates the
    ``inplace`` keyword it uses."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ipyparallel not installed",
                                category=UserWarning)
        warnings.filterwarnings("ignore", message="The inplace keyword",
                                category=DeprecationWarning, module="ema_workbench")
        warnings.filterwarnings("ignore", message="altair based interactive inspection",
                                category=ImportWarning)
        yield


def ema_prim():
    """The module ``ema_workbench.analysis.prim``, or ``None`` when EMA Workbench is not
    installed."""
    try:
        with quiet_ema():
            from ema_workbench.analysis import prim
    except ImportError:
        return None
    return prim


@dataclass
class Discovery:
    """What PRIM found for one question (``cases`` of ``n`` futures are of interest).

    ``status``: ``"box"`` (a clear condition: ``limits``), ``"no clear condition"``, ``"none"``
    (no future is a case), ``"all"`` (every future is) or ``"unavailable"`` (EMA Workbench is not
    installed). ``trajectory`` is EMA's peeling and pasting trajectory (with the boxes added by
    dropping restrictions), ``selected`` the box chosen on it by the coverage/density
    trade-off, ``box_index`` the box reported, ``dropped`` the restrictions dropped and why.
    """

    question: str
    cases: int
    n: int
    status: str
    trajectory: pd.DataFrame | None = None
    selected: int | None = None
    box_index: int | None = None
    limits: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def stat(self, name: str, i: int | None = None) -> float:
        """``coverage``, ``density`` or ``mass`` of box ``i`` (default: the one reported)."""
        i = self.box_index if i is None else i
        if self.trajectory is None or i is None:
            return float("nan")
        return float(self.trajectory.loc[i, name])

    def as_dict(self) -> dict[str, Any]:
        return {"question": self.question, "cases": self.cases, "futures": self.n,
                "status": self.status, "selected": self.selected,
                "box_index": self.box_index, "coverage": self.stat("coverage"),
                "density": self.stat("density"), "mass": self.stat("mass"),
                "box": self.limits, "dropped": self.dropped}


def _restriction(name: str, lims: pd.DataFrame, qp: list[float], ranges) -> dict[str, Any]:
    lo_range, hi_range = next((lo, hi) for n, lo, hi in ranges if n == name)
    low, high = float(lims.loc[0, name]), float(lims.loc[1, name])
    q_low, q_high = (float(v) if v >= 0 else None for v in qp)
    # the share of the sampled range the box removes (an unrestricted side keeps its end)
    width = max(min(high if q_high is not None else hi_range, hi_range)
                - max(low if q_low is not None else lo_range, lo_range), 0.0)
    return {"parameter": name, "low": low if q_low is not None else None,
            "high": high if q_high is not None else None, "range_low": lo_range,
            "range_high": hi_range, "restricts": 1.0 - width / (hi_range - lo_range),
            "qp_low": q_low, "qp_high": q_high,
            "qp": max(v for v in (q_low, q_high) if v is not None)}


def discover(x: pd.DataFrame, cases, ranges, question: str, *, peel_alpha: float = 0.05,
             paste_alpha: float = 0.05, mass_min: float = 0.05,
             min_coverage: float = 0.5) -> Discovery:
    """PRIM on the futures ``x`` (one column per uncertain parameter of ``ranges``) with the
    futures of interest ``cases`` (bool), by EMA Workbench; see the module docstring."""
    y = np.asarray(cases, dtype=bool)
    k, n = int(y.sum()), len(y)
    if k == 0:
        return Discovery(question, k, n, "none")
    if k == n:
        return Discovery(question, k, n, "all")
    prim = ema_prim()
    if prim is None:
        return Discovery(question, k, n, "unavailable")
    with quiet_ema():
        # threshold 0.5: a future is a case when y >= 0.5, i.e. y == 1; EMA keeps the box when
        # its density reaches it (a majority of cases), and else returns the whole space
        finder = prim.Prim(x.reset_index(drop=True), y.astype(int), threshold=0.5,
                           peel_alpha=peel_alpha, paste_alpha=paste_alpha, mass_min=mass_min)
        box = finder.find_box()
        traj = box.peeling_trajectory
        ok = traj[traj["coverage"] >= min_coverage]
        selected = int(ok["density"].idxmax())  # the first, i.e. the widest, of equals
        found = Discovery(question, k, n, "no clear condition", selected=selected,
                          box_index=selected)
        if selected > 0:
            box.select(selected)
        current = selected
        while selected > 0:
            limits = [_restriction(u, box.box_lims[current], qp, ranges)
                      for u, qp in box.qp[current].items()]
            weak = [r for r in limits
                    if r["qp"] >= SIGNIFICANCE or r["restricts"] < MIN_RESTRICTION]
            if not weak:
                found.limits = limits
                break
            for r in weak:
                why = (f"not significant (quasi-p {r['qp']:.2g})" if r["qp"] >= SIGNIFICANCE
                       else f"slight (removes {r['restricts']:.0%} of its range)")
                found.dropped.append({"parameter": r["parameter"], "why": why})
                box.drop_restriction(r["parameter"])
            current = len(box.peeling_trajectory) - 1
            if not box.qp[current]:
                break
        found.trajectory = box.peeling_trajectory.copy()
        found.box_index = current
    if found.limits:
        found.status = "box"
    return found
