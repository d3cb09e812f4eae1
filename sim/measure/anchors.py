"""Estimators that measure policy anchors on simulated output the way their sources measured them.

Each policy anchor (``sim/data/policy_anchors.toml``, docs/anchors.md) names one of these
functions. They are pure functions of tables and arrays (a firm panel: one row per firm and
month; a facility table; a series), so each can be checked on a small hand-built panel with a
known answer, and the same function reads simulated and, in principle, observed data.

- :func:`before_after`: the National Productivity Council's comparison of CFC users before a
  facility opened and some years after (a ratio of means over the users seen in both windows).
- :func:`completion_share`: approved projects completed by a reporting date (and, optionally,
  within a deadline), as the Ministry of MSME counts MSE-CDP and SFURTI projects.
- :func:`capacity_use`: users over installed capacity of the operating plants, averaged over
  a year, as reported for Tirupur's CETPs.
- :func:`path_ratio`: a stock or a flow some time after an event over its level before it (unit
  counts and exports after the Tirupur closure; output with and without a restriction).
- :func:`sector_total`: a sector's firm count or summed column (the Hebron stone counts).
- :func:`spillover_did`: a two-way fixed-effects difference in differences on a firm panel
  (Figal Garone et al. 2015; Getahun 2016), estimated with ``pyfixest`` (optional extra
  ``evidence``), errors clustered by firm.
- :func:`cost_per_job`: public money over jobs (gross or net), the schemes' plausibility range.

Sources and the reading of each anchor: docs/sources.md#policy-anchors.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["ESTIMATORS", "DidResult", "before_after", "completion_share", "capacity_use",
           "path_ratio", "sector_total", "spillover_did", "cost_per_job"]

NAN = float("nan")


def _window(lo: int, hi: int, name: str) -> tuple[int, int]:
    lo, hi = int(lo), int(hi)
    if not lo < hi:
        raise ValueError(f"{name}: got ({lo}, {hi}); allowed: (start, end) with start < end "
                         "(months, end excluded)")
    return lo, hi


def _columns(panel: pd.DataFrame, *names: str) -> None:
    missing = [n for n in names if n not in panel.columns]
    if missing:
        raise ValueError(f"panel: missing column(s) {', '.join(missing)}; it has "
                         f"{', '.join(map(str, panel.columns))}")


def before_after(panel: pd.DataFrame, opened: Mapping[int, int], *, outcome: str,
                 before: tuple[int, int] = (-12, 0), after: tuple[int, int] = (36, 60),
                 firm: str = "firm_id", time: str = "step") -> float:
    """Relative change of the users' mean ``outcome`` from before a facility opened to after.

    For each user (``opened``: firm id -> the month its facility opened) the months
    ``opened + before[0] <= t < opened + before[1]`` and ``opened + after[0] <= t < opened +
    after[1]`` are averaged; users seen in both windows count (a survey of surviving users, as
    an evaluation samples them). Returns ``mean(after means) / mean(before means) - 1``, the
    change of the users' average, or NaN if no user is seen in both windows or the before mean
    is not positive.
    """
    b0, b1 = _window(*before, "before")
    a0, a1 = _window(*after, "after")
    _columns(panel, firm, time, outcome)
    if not opened:
        return NAN
    start = pd.Series(opened, dtype="int64", name="_opened")
    df = panel[[firm, time, outcome]].join(start, on=firm, how="inner")
    rel = df[time] - df["_opened"]
    pre = df[(rel >= b0) & (rel < b1)].groupby(firm)[outcome].mean()
    post = df[(rel >= a0) & (rel < a1)].groupby(firm)[outcome].mean()
    both = pre.index.intersection(post.index)
    if both.empty:
        return NAN
    base = float(pre[both].mean())
    return float(post[both].mean()) / base - 1.0 if base > 0 else NAN


def completion_share(approved_at: npt.ArrayLike, completed_at: npt.ArrayLike,
                     observed_at: int, within: int | None = None) -> float:
    """Share of the projects approved by ``observed_at`` that are complete by then.

    ``completed_at`` holds the month each project started operating, NaN (or a negative number)
    for one that has not. With ``within``, a project counts only if it was complete within
    that many months of its approval (a scheme's deadline), still by ``observed_at``. Projects
    approved after ``observed_at`` are not counted; NaN if none is left. Recent approvals count
    as not complete, as in a ministry's cumulative count.
    """
    a = np.asarray(approved_at, dtype=np.float64).ravel()
    c = np.asarray(completed_at, dtype=np.float64).ravel()
    if a.shape != c.shape:
        raise ValueError(f"completed_at: expected {a.size} months (one per approval), got "
                         f"{c.size}")
    if within is not None and int(within) < 0:
        raise ValueError(f"within: got {within!r}; allowed: an integer >= 0 months, or None")
    counted = np.isfinite(a) & (a <= observed_at)
    if not counted.any():
        return NAN
    done = counted & np.isfinite(c) & (c >= 0) & (c <= observed_at)
    if within is not None:
        done &= c - a <= int(within)
    return float(done.sum() / counted.sum())


def capacity_use(users: npt.ArrayLike, capacity: npt.ArrayLike) -> float:
    """Mean over months of the operating plants' users over their capacity.

    ``users`` and ``capacity`` are one total per month (the operating plants' users and
    installed capacity, in the same unit); months with no capacity in operation are left out.
    NaN if none is left.
    """
    u = np.asarray(users, dtype=np.float64).ravel()
    k = np.asarray(capacity, dtype=np.float64).ravel()
    if u.shape != k.shape:
        raise ValueError(f"capacity: expected {u.size} months (one per month of users), got "
                         f"{k.size}")
    keep = (k > 0) & np.isfinite(u) & np.isfinite(k)
    return float(np.mean(u[keep] / k[keep])) if keep.any() else NAN


def path_ratio(values: npt.ArrayLike, steps: npt.ArrayLike, event: int, at: int,
               window: int = 1) -> float:
    """A series ``window`` months from ``event + at`` over the ``window`` months before
    ``event``: ``mean(v[event+at : event+at+window]) / mean(v[event-window : event])``.

    With ``window = 1`` it compares a stock (live units) at one month with the month before
    the event; with ``window = 12`` a flow's year (exports, output) with the year before.
    NaN if a window holds no month of the series or the base is not positive.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    t = np.asarray(steps, dtype=np.int64).ravel()
    if v.shape != t.shape:
        raise ValueError(f"steps: expected {v.size} months (one per value), got {t.size}")
    if int(window) < 1:
        raise ValueError(f"window: got {window!r}; allowed: an integer >= 1 month")
    base = v[(t >= event - window) & (t < event)]
    then = v[(t >= event + at) & (t < event + at + window)]
    if base.size == 0 or then.size == 0 or not base.mean() > 0:
        return NAN
    return float(then.mean() / base.mean())


def sector_total(firms: pd.DataFrame, sector: str, column: str | None = None) -> float:
    """Live firms of ``sector`` in a firm table (``column`` None), or their summed ``column``."""
    _columns(firms, "sector", *(() if column is None else (column,)))
    mine = firms["sector"] == sector
    return float(mine.sum()) if column is None else float(firms.loc[mine, column].sum())


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    """Undo changes to the root logger made inside: pyfixest 0.60 calls
    ``logging.basicConfig(level=INFO)`` when it first fits, which would print every INFO
    message of the program (Mesa logs each step) from then on."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)


@dataclass(frozen=True)
class DidResult:
    """A difference-in-differences estimate: the coefficient on exposed x after.

    ``reweighted`` names the characteristics the comparison firms were reweighted on (empty:
    no reweighting); ``effective_controls`` is then Kish's effective number of comparison
    firms, ``(sum w)^2 / sum w^2`` (their count without reweighting), which says how few firms
    the weights lean on."""

    estimate: float
    se: float
    pvalue: float
    firms: int
    observations: int
    reweighted: tuple[str, ...] = ()
    effective_controls: float = NAN

    @property
    def sign(self) -> int:
        """-1, 0 or +1: the estimate's sign when it differs from 0 at the 5% level, else 0."""
        if not (math.isfinite(self.pvalue) and self.pvalue < 0.05):
            return 0
        return int(np.sign(self.estimate))


#: the bounds a propensity score is clipped to before it becomes an odds weight p / (1 - p):
#: a comparison firm almost surely "exposed" by its characteristics would otherwise carry the
#: whole comparison group
PROPENSITY_CLIP = (0.01, 0.99)

#: inverse strength of the logit's L2 penalty on the standardised characteristics: weak enough
#: to leave a fit with overlap as it is, and what keeps the coefficients finite where the
#: exposed and comparison firms separate completely (an unpenalised logit diverges there)
PROPENSITY_C = 100.0


def _propensity_weights(data: pd.DataFrame, firms: pd.DataFrame, event: int,
                        reweight: tuple[str, ...]) -> pd.Series:
    """Odds weights of the comparison firms (exposed firms weigh 1), from a logit of being
    exposed on each firm's characteristics before ``event``.

    ``data``: the panel rows kept (columns ``firm``, ``t``, ``y``, ``exposed`` and any panel
    column named in ``reweight``); ``firms``: one row per firm kept (index: firm id).
    Characteristics: ``"level"`` is ``y`` in the firm's first month of the pre-event window,
    ``"trend"`` its change from that month to the firm's last month before the event, any
    other name a panel column's value in the firm's first pre-event month. Each is
    standardised; the logit is scikit-learn's (``LogisticRegression``, penalised by
    :data:`PROPENSITY_C`)."""
    pre = data[data["t"] < event].sort_values(["firm", "t"], kind="stable")
    first = pre.groupby("firm", sort=True).first()
    last = pre.groupby("firm", sort=True).last()
    x = pd.DataFrame(index=first.index)
    for name in reweight:
        if name == "level":
            x[name] = first["y"]
        elif name == "trend":
            x[name] = last["y"] - first["y"]
        else:
            x[name] = first[name].astype(np.float64)
    x = x.loc[firms.index]
    spread = x.std(ddof=0)
    x = x.loc[:, spread > 0]  # a constant predicts nothing
    x = (x - x.mean()) / spread[x.columns]
    x.columns = [f"c{i}" for i in range(x.shape[1])]
    x["exposed"] = firms["exposed"].astype(np.float64)
    if x.shape[1] == 1:
        p = np.full(len(x), float(x["exposed"].mean()))
    else:
        from sklearn.linear_model import LogisticRegression

        features = x.drop(columns="exposed").to_numpy(dtype=np.float64)
        logit = LogisticRegression(C=PROPENSITY_C, max_iter=1000)
        logit.fit(features, x["exposed"].to_numpy(dtype=np.int64))
        p = logit.predict_proba(features)[:, 1]
    p = np.clip(p, *PROPENSITY_CLIP)
    return pd.Series(np.where(firms["exposed"].to_numpy(), 1.0, p / (1.0 - p)),
                     index=firms.index)


def spillover_did(panel: pd.DataFrame, exposed, event: int, *, outcome: str = "employees",
                  pre: int = 12, post: int = 12, log: bool = True, firm: str = "firm_id",
                  time: str = "step", reweight: tuple[str, ...] | list[str] = ()
                  ) -> DidResult:
    """Two-way fixed-effects difference in differences of ``outcome`` around ``event``.

    ``panel`` holds the firms compared, one row per firm and month: the ``exposed`` ones (firm
    ids; for spillovers, non-participants in the treated cluster) and the rest as controls (the
    participants themselves must be left out by the caller). Over the months ``event - pre <= t
    < event + post``, ``y = log(outcome)`` (or the outcome itself) is regressed on ``exposed x
    (t >= event)`` with firm and month fixed effects (``pyfixest.feols``), standard errors
    clustered by firm. Rows with a non-positive outcome under ``log`` are dropped. NaN estimate
    if either group has no firm in both periods.

    ``reweight`` adds the reweighting of Figal Garone et al. (2015), who combine fixed effects
    with reweighting on characteristics before the policy: a logit of being exposed on the
    named characteristics before the event (``"level"``, ``"trend"`` of ``y`` over the
    pre-event window, or panel columns such as ``"age"``: :func:`_propensity_weights`), and
    each comparison firm weighted by its odds ``p / (1 - p)`` (``p`` clipped to
    :data:`PROPENSITY_CLIP`), so that the comparison group resembles the exposed firms in
    those characteristics: the effect on the exposed firms (ATT) under parallel trends given
    them. Empty: every firm weighs one.

    Raises
    ------
    ImportError
        If ``pyfixest`` (or, to reweight, ``scikit-learn``) is not installed (``pip install
        msme-clustersim[evidence]``).
    """
    reweight = tuple(str(r) for r in reweight)
    extra = [r for r in reweight if r not in ("level", "trend")]
    _columns(panel, firm, time, outcome, *extra)
    pre, post = int(pre), int(post)
    if pre < 1 or post < 1:
        raise ValueError(f"pre, post: got {pre}, {post}; allowed: integers >= 1 month")
    if len(set(reweight)) != len(reweight):
        raise ValueError(f"reweight: got {list(reweight)}; allowed: distinct names")
    df = panel[[firm, time, outcome, *extra]]
    df = df[(df[time] >= event - pre) & (df[time] < event + post)]
    y = df[outcome].to_numpy(dtype=np.float64)
    keep = np.isfinite(y) & ((y > 0) if log else True)
    data = pd.DataFrame({"firm": df[firm].to_numpy()[keep], "t": df[time].to_numpy()[keep],
                         "y": np.log(y[keep]) if log else y[keep]})
    for name in extra:
        data[name] = df[name].to_numpy()[keep]
    after = data["t"] >= event
    data["exposed"] = data["firm"].isin(set(np.asarray(list(exposed)).tolist()))
    data["treated"] = (data["exposed"] & after).astype(np.float64)
    seen = data.groupby("firm").agg(early=("t", lambda t: (t < event).any()),
                                    late=("t", lambda t: (t >= event).any()),
                                    exposed=("exposed", "first"))
    both = seen[seen["early"] & seen["late"]]
    if not (both["exposed"].any() and (~both["exposed"]).any()):
        return DidResult(NAN, NAN, NAN, int(len(both)), 0, reweight)
    data = data[data["firm"].isin(both.index)].reset_index(drop=True)
    with _root_logging_kept(), warnings.catch_warnings():
        # pyfixest 0.60 calls pandas with inplace=, deprecated in pandas 3.1
        warnings.filterwarnings("ignore", message="The inplace keyword")
        import pyfixest as pf

        columns = ["y", "treated", "firm", "t"]
        controls = float((~both["exposed"]).sum())
        if reweight:
            w = _propensity_weights(data, both, event, reweight)
            wc = w[~both["exposed"]]
            controls = float(wc.sum() ** 2 / (wc**2).sum())
            data["w"] = data["firm"].map(w).to_numpy(dtype=np.float64)
            columns.append("w")
        fit = pf.feols("y ~ treated | firm + t", data=data[columns], vcov={"CRV1": "firm"},
                       weights="w" if reweight else None)
        estimate, se, p = (float(fit.coef()["treated"]), float(fit.se()["treated"]),
                           float(fit.pvalue()["treated"]))
    return DidResult(estimate, se, p, int(len(both)), int(len(data)), reweight, controls)


def cost_per_job(spending: float, jobs: float) -> float:
    """Public money per job: ``spending / jobs``; NaN when no job was gained (``jobs <= 0``).

    Gross, as the schemes report it, with the jobs in supported firms; net, as the model's
    comparisons report it, with the paired difference in employment from a run without the
    policy (which is why a net cost per job should come out higher than the schemes' figures).
    """
    s, j = float(spending), float(jobs)
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"spending: got {spending!r}; allowed: a finite number >= 0")
    return s / j if math.isfinite(j) and j > 0 else NAN


#: estimator name (as ``sim/data/policy_anchors.toml`` writes it) -> function
ESTIMATORS = {f.__name__: f for f in (before_after, completion_share, capacity_use, path_ratio,
                                      sector_total, spillover_did, cost_per_job)}
