"""The decision summary: the answer in plain words, as JSON-ready lists of sentences.

The ranking and how robust it is, the effect on jobs and firms with intervals, the cost per
job and per unit of each purpose outcome for every funded policy, what a dearer grant buys
over a cheaper one, the shocks, and the caveats: how many outcomes were tested (with the
Benjamini-Hochberg adjustment), what ``--reps auto`` reached, what the intervals cover.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.measure import outputs
from sim.studies.report.numbers import fmt, pct, plural
from sim.studies.report.tables import Q_LEVEL, cost_text, estimate

__all__ = ["decision_summary", "decision_currency", "TITLES", "in_words"]

#: The sections of the decision summary, in order, with their headings.
TITLES = {"parameters": "Parameters", "ranking": "Ranking",
          "effects": "Effect on jobs and firms",
          "why": "What carries the effect",
          "cost": "Cost per job and per unit of purpose", "incremental": "What more money buys",
          "shocks": "Shocks", "robustness": "How robust the ranking is", "caveats": "Caveats"}


def decision_currency(comp) -> str:
    for sc in comp.scenarios:
        if sc is not None:
            return sc.meta.get("currency", "") or ""
    return ""


def _significant(lo: float, hi: float) -> bool:
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))


def _ranking_lines(comp, rank: pd.DataFrame, tl: str, month: int) -> list[str]:
    """Which alternatives clearly do better or worse than the base, and the order."""
    lines = []
    sig = rank[(rank["scenario"] != comp.base)
               & ((rank["diff_ci_low"] > 0) | (rank["diff_ci_high"] < 0))]
    way = outputs.direction(comp.target) or 1
    better = sig[(sig["diff_mean"] * way) > 0]["scenario"].tolist()
    worse = sig[(sig["diff_mean"] * way) < 0]["scenario"].tolist()
    if better:
        verb = "improves" if len(better) == 1 else "improve"
        lines.append(f"{', '.join(better)} clearly {verb} {tl} over {comp.base}.")
    if worse:
        verb = "does" if len(worse) == 1 else "do"
        lines.append(f"{', '.join(worse)} clearly {verb} worse than {comp.base} on {tl}.")
    if not better and not worse:
        lines.append(f"No alternative changes {tl} significantly compared with "
                     f"{comp.base}: the order below may be chance.")
    lines.append(f"Order by mean {tl} at month {month:,}: " + ", ".join(rank["scenario"]) + ".")
    return lines


def _effect_lines(comp, summary: pd.DataFrame) -> list[str]:
    """Each alternative's paired effect on jobs and on firms in business."""
    lines = []
    for label in comp.labels[1:]:
        if _changed_nothing(summary, label):
            lines.append(f"{label} is identical to {comp.base} in every replicate: the policy "
                         "changed nothing (for example an offer no group took up).")
            continue
        for name, what in (("employment", "jobs"), ("firms", "firms in business")):
            row = summary[(summary["scenario"] == label) & (summary["outcome"] == name)]
            if row.empty:
                continue
            r = row.iloc[0]
            lo, hi = r["diff_ci_low"], r["diff_ci_high"]
            verdict = ("" if _significant(lo, hi)
                       else " (not significant: the interval includes zero)")
            top, iv = estimate(r["diff_mean"], lo, hi)
            lines.append(f"{label} vs {comp.base}: {top} {what} (95% CI {iv}){verdict}.")
        gains = _welfare_parts(summary, label)
        if gains:
            lines.append(f"{label} vs {comp.base}, who gains (money a month): "
                         + "; ".join(gains) + ".")
    return lines


def _changed_nothing(summary: pd.DataFrame, label: str) -> bool:
    """Whether every paired difference of ``label`` from the base is exactly zero in every
    replicate (mean and spread 0): the policy never took effect."""
    rows = summary[summary["scenario"] == label]
    return (not rows.empty and bool((rows["diff_mean"] == 0.0).all())
            and bool((rows["diff_sd"].fillna(0.0) == 0.0).all()))


def _welfare_parts(summary: pd.DataFrame, label: str) -> list[str]:
    """The paired effects on value added and on who receives it
    (:data:`sim.measure.outputs.WELFARE`), as text."""
    parts = []
    for name in outputs.WELFARE:
        row = summary[(summary["scenario"] == label) & (summary["outcome"] == name)]
        if row.empty:
            continue
        r = row.iloc[0]
        top, iv = estimate(r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"])
        star = "" if _significant(r["diff_ci_low"], r["diff_ci_high"]) else ", not significant"
        parts.append(f"{outputs.label(name).split(' (')[0]} {top} ({iv}){star}")
    return parts


def _cost_lines(costs: pd.DataFrame, currency: str, measure: str) -> list[str]:
    lines = []
    for label, part in costs.groupby("scenario", sort=False):
        r0 = part.iloc[0]
        top, iv = estimate(r0["d_public"], r0["d_public_ci_low"], r0["d_public_ci_high"])
        money = f" {currency}" if currency else ""
        each = "; ".join(cost_text(r, currency)[1] for _, r in part.iterrows())
        lines.append(f"{label}: {top}{money} public spending (95% CI {iv}); {each}.")
    if lines:
        lines.append(f"Effects and costs are measured {measure}.")
    return lines


def _incremental_lines(inc: pd.DataFrame, currency: str) -> list[str]:
    lines = []
    for (label, against), part in inc.groupby(["scenario", "against"], sort=False):
        r0 = part.iloc[0]
        top, iv = estimate(r0["d_public"], r0["d_public_ci_low"], r0["d_public_ci_high"])
        money = f" {currency}" if currency else ""
        gains = []
        for _, r in part.iterrows():
            g, giv = estimate(r["gain"], r["gain_ci_low"], r["gain_ci_high"])
            gains.append(f"{g} {plural(r['unit'])} (95% CI {giv})")
        sig = any(_significant(r["gain_ci_low"], r["gain_ci_high"])
                  for _, r in part.iterrows())
        line = (f"{label} over {against} ({r0['change']}): {top}{money} more public spending "
                f"(95% CI {iv}); it buys " + ("" if sig else "nothing significant more: ")
                + ", ".join(gains))
        if sig:
            line += "; " + "; ".join(cost_text(r, currency)[1] for _, r in part.iterrows())
        lines.append(line + ".")
    return lines


def _shock_lines(shocks: pd.DataFrame) -> list[str]:
    lines = []
    for (label, against), part in shocks.groupby(["scenario", "against"], sort=False):
        which = part.iloc[0]["shocks"]
        bits = []
        for _, r in part.iterrows():
            if r["outcome"] != "public_spending_total":
                top, iv = estimate(r["mean"], r["ci_low"], r["ci_high"])
                bits.append(f"{top} {plural(r['unit'])} (95% CI {iv})")
        lines.append(f"{label} differs from {against} only by a shock ({which}); it is not a "
                     "funded policy and stays out of the cost table"
                     + (": " + ", ".join(bits) if bits else "") + ".")
    return lines


def _robustness_lines(comp, rank: pd.DataFrame) -> list[str]:
    top = rank.iloc[0]
    p_best = float(top["p_best"])
    lines = [f"{top['scenario']} ranks first in {pct(p_best)} of {comp.reps}-replicate "
             "resamples."]
    rule = comp.rule or {}
    if len(rank) > 1:
        nxt = rank.iloc[1]
        if bool(top["settled"]) is True:
            lines.append(f"Its lead over {nxt['scenario']} is significant (paired 95% "
                         "interval excludes zero).")
        elif rule.get("target") and rule.get("met"):
            lines.append(f"Its lead over {nxt['scenario']} is not significant, and --reps auto "
                         f"reached its target width ({fmt(rule.get('width'))} for "
                         f"{rule.get('target')}): at the precision asked for, the two are not "
                         "told apart; treat them as equivalent on this outcome.")
        elif rule.get("target"):
            lines.append(f"Its lead over {nxt['scenario']} is not significant, and --reps auto "
                         f"stopped at its cap of {rule.get('cap')} replicates before reaching "
                         "its width: raise --max-reps before relying on the order.")
        else:
            lines.append(f"Its lead over {nxt['scenario']} is not significant: another set of "
                         "seeds could reverse the order; add replicates (--reps, or --reps "
                         "auto) before relying on it.")
    if p_best < 0.8:
        lines.append("The ranking is not robust: no scenario is first in at least 80% of "
                     "resamples.")
    return lines


#: Below this first-order share a parameter is not called the driver of an effect.
DRIVER_SHARE = 0.2


def _parameter_lines(comp, an, tl: str) -> list[str]:
    """Point mode: the label. With ``--posterior``: where the parameters came from, P(best)
    of every scenario and, per alternative, the drawn parameter that drives its effect most."""
    from sim.studies.compare import parameters_label
    from sim.studies.paired import SHARE_ESTIMATOR

    label = parameters_label(comp)
    if not comp.posterior:
        return [label[0].upper() + label[1:] + ". The intervals cover the model's randomness "
                "only, not the uncertainty of its parameters: run with --posterior "
                "CALIBRATION to include it."]
    lines = [label[0].upper() + label[1:] + ". Effect intervals therefore include parameter "
             "uncertainty as well as the model's randomness."]
    best = getattr(an, "best", None)
    if best is not None and not best.empty:
        n = int(best["n"].iloc[0])
        parts = [f"{r['scenario']} {pct(r['p_best'])} ({pct(r['ci_low'])} to "
                 f"{pct(r['ci_high'])})" for _, r in
                 best.sort_values("p_best", ascending=False, kind="stable").iterrows()]
        lines.append(f"Chance of being best on {tl} (P(best): share of the {n} replicates, "
                     "each with its own parameter draw, in which the scenario has the best "
                     "value; ties split; Jeffreys 95% interval): " + "; ".join(parts) + ".")
    shares = getattr(an, "shares", None)
    if shares is not None and not shares.empty:
        for lab in dict.fromkeys(shares["scenario"]):
            mine = shares[shares["scenario"] == lab].sort_values("s1", ascending=False,
                                                                  kind="stable")
            top = mine.iloc[0].copy()
            top["parameter"] = in_words(str(top["parameter"]))
            conf = top["s1_conf"]
            band = f" (\u00b1{pct(conf)})" if np.isfinite(conf) else ""
            clear = bool(np.isfinite(conf) and top["s1"] - conf > 0)
            if top["s1"] >= DRIVER_SHARE and clear:
                lines.append(f"What drives the effect of {lab} on {tl} most: {top['parameter']}, "
                             f"about {pct(top['s1'])}{band} of the effect's variance across "
                             "replicates.")
            elif top["s1"] >= DRIVER_SHARE:
                lines.append(f"What drives the effect of {lab} on {tl} most is probably "
                             f"{top['parameter']} (about {pct(top['s1'])}{band} of the effect's "
                             f"variance across replicates), but with {int(top['n'])} replicates "
                             "its share cannot be told from zero: add replicates before relying "
                             "on it.")
            else:
                lines.append(f"No drawn parameter explains much of the effect of {lab} on "
                             f"{tl} (the largest, {top['parameter']}, about "
                             f"{pct(top['s1'])}{band}): its spread is mostly the model's "
                             "own randomness or parameters acting together.")
        n = int(shares["n"].iloc[0])
        lines.append(f"Variance shares: {SHARE_ESTIMATOR}. With {n} replicates they are "
                     "rough; the model's randomness (a different seed each replicate) is part "
                     "of the variance no parameter explains (variance_shares.csv).")
    return lines


def _multiplicity_line(summary: pd.DataFrame) -> str | None:
    tested = summary[np.isfinite(summary["diff_p"])]
    if tested.empty:
        return None
    raw = int(((tested["diff_ci_low"] > 0) | (tested["diff_ci_high"] < 0)).sum())
    kept = int((tested["diff_q"] < Q_LEVEL).sum())
    n_out = tested["outcome"].nunique()
    n_alt = tested["scenario"].nunique()
    return (f"{len(tested)} paired differences were tested ({n_out} outcomes x {n_alt} "
            f"alternative{'s' if n_alt > 1 else ''}): {raw} have a 95% interval that excludes "
            f"zero, {kept} stay significant once the number of tests is accounted for "
            "(Benjamini-Hochberg, false discovery rate 5%; q in summary.csv). With this many "
            "tests about one in twenty unadjusted 'significant' effects can be chance; the "
            "effects table marks those that do not survive the adjustment with \u2020.")


def decision_summary(comp, an) -> dict[str, Any]:
    """The answer in plain words: lists of sentences per section of :data:`TITLES`
    (JSON-ready), for ``comp`` and its analysis ``an``
    (:class:`sim.studies.compare.Analysis`)."""
    currency = decision_currency(comp)
    month = comp.steps if an.horizon is None else min(an.horizon, comp.steps)
    tl = outputs.label(comp.target).lower()
    rank = an.rank
    lines: dict[str, list[str]] = {k: [] for k in TITLES}
    lines["parameters"] = _parameter_lines(comp, an, tl)
    lines["ranking"] = _ranking_lines(comp, rank, tl, month)
    lines["effects"] = _effect_lines(comp, an.summary)
    lines["cost"] = _cost_lines(an.costs, currency, an.measure)
    lines["incremental"] = _incremental_lines(an.incremental, currency)
    lines["shocks"] = _shock_lines(an.shocks)
    lines["robustness"] = _robustness_lines(comp, rank)
    lines["why"] = list(getattr(an, "why_lines", []) or [])
    rule = comp.rule or {}
    if rule.get("target"):
        met = "reached" if rule.get("met") else "NOT reached"
        lines["caveats"].append(
            f"--reps auto: {rule.get('reps')} replicates; target width "
            f"{fmt(rule.get('width'))} for {rule.get('target')} {met} (widest interval "
            f"{fmt(rule.get('widest'))}, cap {rule.get('cap')}). Stopping when the interval "
            "is narrow enough makes the stated 95% slightly optimistic.")
    many = _multiplicity_line(an.summary)
    if many:
        lines["caveats"].append(many)
    covered = ("the model's randomness and the parameter uncertainty of the posterior drawn "
               "from, but not the uncertainty of the model itself" if comp.posterior else
               "the model's randomness only, not the uncertainty of its parameters (see "
               "--posterior and clustersim robust) or of the model itself")
    lines["caveats"].append(
        f"{comp.reps} replicates per scenario; intervals cover {covered}: what the model is "
        "and is not validated for is in docs/validation.md of the clustersim repository.")
    lines["caveats"].append("Money and parameters are the scenario files' assumptions; read "
                            "their sources below before quoting a figure.")
    p_best = float(rank.iloc[0]["p_best"])
    out = {"target": comp.target, "order": list(rank["scenario"]), "p_best": p_best,
           "month": month, "parameters": lines["parameters"][0], "lines": lines}
    best = getattr(an, "best", None)
    if comp.posterior and best is not None and not best.empty:
        out["p_best_posterior"] = {r["scenario"]: {k: float(r[k]) for k in
                                                   ("p_best", "ci_low", "ci_high")}
                                   for _, r in best.iterrows()}
        shares = an.shares
        out["drivers"] = {lab: {"parameter": str(g.iloc[0]["parameter"]),
                                "share": float(g.iloc[0]["s1"]),
                                "conf": float(g.iloc[0]["s1_conf"]),
                                "clear": bool(g.iloc[0]["s1"] >= DRIVER_SHARE
                                              and g.iloc[0]["s1"] - g.iloc[0]["s1_conf"] > 0)}
                          for lab, g in (shares.sort_values("s1", ascending=False,
                                                            kind="stable")
                                         .groupby("scenario", sort=False))} \
            if not shares.empty else {}
    return out


def in_words(parameter: str) -> str:
    """A drawn parameter as a reader of the summary needs it: its name, then what it is
    (the parameter table's meaning; for an intervention field, the field and intervention)."""
    if parameter.startswith("interventions."):
        parts = parameter.split(".")
        if len(parts) == 3:
            return f"{parameter} (the field {parts[2]!r} of intervention {parts[1]!r})"
        return parameter
    from sim.core.errors import ParameterError
    from sim.core.params import param_field

    try:
        doc = param_field(parameter).metadata.get("doc")
    except (ParameterError, KeyError):  # a name the table does not know: shown as it is
        return parameter
    return f"{parameter} ({doc})" if doc else parameter
