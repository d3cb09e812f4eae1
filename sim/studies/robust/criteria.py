"""Robustness criteria: regret, satisficing, the probability of beating the reference, and
money, computed together from one table of runs, and a headline that names its criterion.

Every policy runs in every future with the same replicate seeds (common random numbers), so in
each future a policy's difference from another is a paired difference over the replicates. A
difference is **clear** when its mean exceeds the tolerance (in the outcome's units; 0 by
default) and, with two replicates or more, its paired 95% t interval excludes zero
(:func:`sim.studies.paired.paired_difference`); otherwise the two policies **do not differ** in
that future. From these verdicts:

- **wins and ties**: in each future either one policy is best alone (its lead over every other
  is clear) or several tie for best; the shares of futures each policy is best alone plus the
  share of tied futures add to 100%;
- **against the reference** (the first policy, normally no policy), each policy beats it, does
  not clearly differ from it, or does worse, in shares of futures that add to 100%; futures in
  which no policy clearly differs from the reference are counted and reported, not counted as
  failures;
- **regret** (Savage 1951): in each future, how far a policy's mean falls short of the best
  policy's mean, and 0 when it does not clearly differ from the best (a shortfall chance
  explains is no regret); per policy its mean, 90th percentile and maximum;
- **satisficing** (Simon 1956; Lempert and Collins 2007): the share of futures in which a
  policy meets a threshold: by default that it is not clearly worse than the reference, or an
  outcome level (``satisfice``) and a public budget (``budget``) given by the analyst;
- **money**: the mean public cost (``public_spending_total``), its excess over the reference,
  and the cost per extra unit of the outcome (ratio of the means over the futures), given only
  when the mean effect over the futures is significant (its 95% t interval over the futures
  excludes zero), as in the comparison report.

The headline ranks the policies by one criterion (:data:`CRITERIA`), names it, and states the
other criteria's verdicts on the same policy, so that it cannot contradict its table.

References: L. J. Savage (1951), The theory of statistical decision, JASA 46(253) 55-67;
H. A. Simon (1956), Rational choice and the structure of the environment, Psychological Review
63(2) 129-138; R. J. Lempert, M. T. Collins (2007), Managing the risk of uncertain threshold
responses, Risk Analysis 27(4) 1009-1026.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from sim.measure import outputs
from sim.studies.paired import LEVEL, paired_difference, t_interval

__all__ = ["CRITERIA", "COST", "regret_table", "verdicts", "criteria_table", "leaders",
           "headline", "name_of", "unit_of", "satisficing_rule", "difference_rule"]

#: The robustness criteria a headline can rank by: key -> name.
CRITERIA: dict[str, str] = {
    "regret": "minimax regret",
    "satisficing": "satisficing share",
    "beat": "probability of beating the reference",
}
#: The outcome that measures money spent.
COST = "public_spending_total"


def name_of(target: str) -> str:
    """The outcome's readable name in a sentence, without its units ("employment")."""
    return re.sub(r"\s*\(.*\)$", "", outputs.label(target)).lower()


def unit_of(target: str) -> str:
    """What one unit of ``target`` is called in a sentence ("job" for employment)."""
    return {"employment": "job", "firms": "firm", "jobs_created": "job"}.get(
        target, f"unit of {name_of(target)}")


def regret_table(values: pd.DataFrame, direction: int,
                 tied: pd.DataFrame | None = None) -> pd.DataFrame:
    """Regret of each policy (column) in each future (row): the distance to the best policy
    of that future, in the outcome's units, >= 0. ``direction`` +1 when more is better;
    ``tied`` (bool, same shape) marks the policies that do not clearly differ from the best,
    whose regret is 0."""
    v = values.to_numpy(dtype=np.float64) * (1 if direction >= 0 else -1)
    best = v.max(axis=1, keepdims=True)
    regret = best - v
    if tied is not None:
        regret[tied.to_numpy(dtype=bool)] = 0.0
    return pd.DataFrame(regret, index=values.index, columns=values.columns)


def _replicates(runs: pd.DataFrame, labels: list[str], column: str) -> dict[str, pd.DataFrame]:
    """Per policy, ``column`` as a table of futures (rows) by replicates (columns)."""
    wide = runs.set_index(["future", "replicate", "scenario"])[column].unstack("scenario")
    return {lab: wide[lab].unstack("replicate").sort_index() for lab in labels}


def verdicts(a: pd.DataFrame, b: pd.DataFrame, direction: int, tolerance: float = 0.0,
             level: float = LEVEL) -> pd.DataFrame:
    """Per future (row), the paired difference ``a - b`` over the replicates (columns).

    Returns ``mean`` (in the outcome's units) and ``verdict``: +1 when ``a`` is clearly
    better (by ``direction``), -1 clearly worse, 0 when they do not differ: the mean is within
    ``tolerance`` or, with two replicates or more, the ``level`` t interval includes zero.
    """
    rows = []
    for f in a.index:
        d = paired_difference(a.loc[f].to_numpy(), b.loc[f].to_numpy(), level)
        mean = d["mean"]
        clear = np.isfinite(mean) and abs(mean) > tolerance
        if clear and d["n"] >= 2:
            clear = d["ci_low"] > 0 or d["ci_high"] < 0
        sign = int(np.sign(mean * direction)) if clear else 0
        rows.append({"future": f, "mean": mean, "verdict": sign})
    return pd.DataFrame(rows).set_index("future")


def criteria_table(runs: pd.DataFrame, labels: list[str], target: str, *,
                   tolerance: float = 0.0, satisfice: float | None = None,
                   budget: float | None = None, criterion: str = "regret") -> dict[str, Any]:
    """Every criterion for every policy, from one row per run (``future``, ``replicate``,
    ``scenario``, ``target`` and :data:`COST`); ``labels[0]`` is the reference.

    Returns a dict: ``table`` (one row per policy, ranked by ``criterion``), ``means`` and
    ``costs`` (futures by policies), ``regret``, ``versus`` (per policy, futures' verdicts
    against the reference), ``satisfies`` (futures by policies, bool), ``best`` (per future:
    the best policy, or "tie"), ``tied_futures``, ``no_difference`` (futures in which no
    policy differs from the reference) and the settings.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion {criterion!r} is not one of {list(CRITERIA)}")
    way = outputs.direction(target) or 1
    ref = labels[0]
    reps = _replicates(runs, labels, target)
    means = pd.DataFrame({lab: reps[lab].mean(axis=1) for lab in labels})
    has_cost = COST in runs.columns
    costs = (pd.DataFrame({lab: t.mean(axis=1) for lab, t in
                           _replicates(runs, labels, COST).items()}) if has_cost
             else pd.DataFrame(np.nan, index=means.index, columns=labels))
    versus = {lab: verdicts(reps[lab], reps[ref], way, tolerance) for lab in labels}

    best_label, tied = _ties(reps, means, labels, way, tolerance)
    n_tied = tied.sum(axis=1)
    regret = regret_table(means, way, tied)
    best = best_label.where(n_tied == 1, "tie")

    if satisfice is None:
        satisfies = pd.DataFrame({lab: versus[lab]["verdict"] >= 0 for lab in labels})
    else:
        satisfies = (means * way) >= satisfice * way
    if budget is not None:
        satisfies &= costs.le(budget)
    no_difference = pd.concat([versus[lab]["verdict"] for lab in labels[1:]], axis=1).eq(0) \
        .all(axis=1)

    rows = [{"policy": lab, "mean_regret": float(regret[lab].mean()),
             "p90_regret": float(regret[lab].quantile(0.9)),
             "max_regret": float(regret[lab].max()),
             "best_alone": float((best == lab).mean()),
             "best_tied": float((tied[lab] & (n_tied > 1)).mean()),
             **_against_reference(versus[lab], lab == ref),
             "satisficing": float(satisfies[lab].mean()),
             **_money(versus[lab]["mean"], costs[lab], costs[ref], way, lab == ref)}
            for lab in labels]
    table = pd.DataFrame(rows)
    order = _rank_keys(table, criterion)
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return {"table": table, "means": means, "costs": costs, "regret": regret,
            "versus": versus, "satisfies": satisfies, "best": best,
            "tied_futures": int((n_tied > 1).sum()), "no_difference": no_difference,
            "reference": ref, "target": target, "direction": way, "criterion": criterion,
            "tolerance": tolerance, "satisfice": satisfice, "budget": budget,
            "has_cost": has_cost, "reps": int(max(len(t.columns) for t in reps.values()))}


def _ties(reps, means: pd.DataFrame, labels: list[str], way: int,
          tolerance: float) -> tuple[pd.Series, pd.DataFrame]:
    """Wins and ties: per future, the policy with the best mean, and which policies do not
    clearly differ from it (:func:`verdicts`; the best itself included)."""
    best_label = (means * way).idxmax(axis=1)
    tied = pd.DataFrame(False, index=means.index, columns=labels)
    for f, top in best_label.items():
        for lab in labels:
            d = verdicts(reps[lab].loc[[f]], reps[top].loc[[f]], way, tolerance)
            tied.loc[f, lab] = lab == top or d["verdict"].iloc[0] == 0
    return best_label, tied


def _against_reference(versus: pd.DataFrame, is_ref: bool) -> dict[str, float]:
    """Shares of the futures in which a policy beats the reference, does not clearly differ
    from it, and does worse (NaN for the reference itself)."""
    if is_ref:
        return {"beats": np.nan, "no_difference": np.nan, "worse": np.nan}
    v = versus["verdict"]
    return {"beats": float((v > 0).mean()), "no_difference": float((v == 0).mean()),
            "worse": float((v < 0).mean())}


def _money(effects: pd.Series, cost: pd.Series, ref_cost: pd.Series, way: int,
           is_ref: bool) -> dict[str, float]:
    """The mean effect over the futures with a t interval over them (the futures are a sample
    of the uncertainty), mean and extra public cost, and money per unit only for a
    significant gain."""
    out = {"mean_effect": np.nan, "effect_low": np.nan, "effect_high": np.nan,
           "mean_cost": float(cost.mean()), "extra_cost": np.nan, "cost_per_unit": np.nan}
    if is_ref:
        return out
    eff = t_interval(effects, LEVEL)
    extra = float((cost - ref_cost).mean())
    gain = eff["ci_low"] * way if way > 0 else eff["ci_high"] * way
    out.update(mean_effect=eff["mean"], effect_low=eff["ci_low"], effect_high=eff["ci_high"],
               extra_cost=extra)
    if gain > 0 and np.isfinite(extra):
        out["cost_per_unit"] = extra / (eff["mean"] * way)
    return out


def _keys(table: pd.DataFrame, criterion: str) -> pd.DataFrame:
    """Sort keys (smaller is better) of each policy under ``criterion``, most important
    first."""
    beats = table["beats"].fillna(-1.0)
    if criterion == "regret":
        return pd.DataFrame({"a": table["max_regret"], "b": table["mean_regret"]})
    if criterion == "satisficing":
        return pd.DataFrame({"a": -table["satisficing"], "b": -beats, "c": table["max_regret"]})
    return pd.DataFrame({"a": -beats, "b": table["worse"].fillna(2.0),
                         "c": table["max_regret"]})


def _rank_keys(table: pd.DataFrame, criterion: str) -> np.ndarray:
    keys = _keys(table, criterion)
    return np.lexsort([keys[c].to_numpy() for c in reversed(keys.columns)])


def _candidates(res: dict[str, Any], criterion: str) -> pd.DataFrame:
    """The policies a criterion can choose: the probability of beating the reference, and the
    default satisficing threshold (no worse than the reference), exclude the reference
    itself, for which they say nothing."""
    t = res["table"]
    relative = criterion == "beat" or (criterion == "satisficing" and res["satisfice"] is None)
    return t[t["policy"] != res["reference"]] if relative else t


def leaders(res: dict[str, Any], criterion: str) -> list[str]:
    """The policies ranked first by ``criterion`` (several when they tie on every key); none
    when the best share of the satisficing or beating criterion is 0, for then no policy
    meets it in any future."""
    t = _candidates(res, criterion).reset_index(drop=True)
    if t.empty:
        return []
    keys = _keys(t, criterion)
    top = keys.iloc[_rank_keys(t, criterion)[0]]
    if criterion != "regret" and top["a"] >= 0:  # -share: a share of 0 (or none)
        return []
    same = (keys.sub(top, axis=1).abs() <= 1e-12).all(axis=1)
    return t.loc[same, "policy"].tolist()


def _pct(x: float) -> str:
    return f"{x:.0%}"


def headline(res: dict[str, Any]) -> list[str]:
    """The summary's sentences, as plain text: the criterion and its choice, the chosen
    policy's record against the reference (wins, no difference, losses), the other criteria's
    choices when they differ, and money."""
    ref = res["reference"]
    if len(res["table"]) < 2:
        return [f"There is no policy besides {ref} to rank."]
    n = len(res["means"])
    top = leaders(res, res["criterion"])
    out = [_choice(res, top)]
    shown = list(top)
    if not top or top == [ref]:  # and the best of the others, to show why
        shown += [p for p in res["table"]["policy"] if p != ref][:1]
    t = res["table"].set_index("policy")
    out += [_record(res, lab, t.loc[lab]) for lab in shown]
    others = _other_choices(res, top)
    if others:
        out.append("By the other criteria: " + "; ".join(others) + ".")
    if res["no_difference"].any():
        out.append(f"In {int(res['no_difference'].sum())} of the {n} futures no policy "
                   f"clearly differs from {ref}; they count as ties, not as failures.")
    if res["reps"] < 5 and res["no_difference"].mean() > 0.5:
        out.append(f"With {res['reps']} replicate(s) per future most differences cannot be "
                   "told from chance; more --reps would tell more.")
    return out


def _choice(res: dict[str, Any], top: list[str]) -> str:
    """The headline's first sentence: what the chosen criterion picks, or why nothing."""
    crit, ref = res["criterion"], res["reference"]
    opening = f"By {CRITERIA[crit]} on {name_of(res['target'])}"
    what = {"regret": "least maximum regret", "satisficing": "highest satisficing share",
            "beat": "highest probability of beating " + ref}[crit]
    if not top:
        meets = (f"beats {ref}" if crit == "beat"
                 else f"meets the satisficing threshold ({satisficing_rule(res)})")
        return (f"{opening}, no policy is robust: none {meets} in any of the "
                f"{len(res['means'])} futures.")
    if len(top) > 1:
        return f"{opening}, no policy is most robust: {', '.join(top)} tie for the {what}."
    if top[0] == ref:
        return (f"{opening}, no policy is more robust than the reference, {ref}: it has the "
                f"{what}.")
    return f"{opening}, {top[0]} is the most robust policy: it has the {what}."


def _record(res: dict[str, Any], lab: str, r: pd.Series) -> str:
    """One policy's record in a sentence: regret, satisficing, and (for a policy other than the
    reference) its verdicts against the reference, its mean effect and money."""
    ref, n = res["reference"], len(res["means"])
    sentence = (f"{lab}: maximum regret {r['max_regret']:.4g} (mean {r['mean_regret']:.4g}), "
                f"satisficing share {_pct(r['satisficing'])}")
    if lab == ref:
        return sentence + "."
    share = "none" if r["beats"] == 0 else ("only " if r["beats"] < 0.5 else "") + _pct(r["beats"])
    sentence += (f"; it beats {ref} in {share} of the {n} futures, does not clearly differ "
                 f"from it in {_pct(r['no_difference'])} and does worse in {_pct(r['worse'])}")
    if np.isfinite(r["effect_low"]):
        sentence += (f"; on average over the futures its effect is {r['mean_effect']:+.4g} "
                     f"(95% interval {r['effect_low']:+.4g} to {r['effect_high']:+.4g})")
    if np.isfinite(r["cost_per_unit"]):
        sentence += (f"; extra public cost {r['extra_cost']:.4g} on average, "
                     f"{r['cost_per_unit']:.4g} per extra {unit_of(res['target'])}")
    elif res["has_cost"]:
        sentence += (f"; extra public cost {r['extra_cost']:.4g} on average, for no "
                     "significant gain on average")
    return sentence + "."


def _other_choices(res: dict[str, Any], top: list[str]) -> list[str]:
    """What the other criteria choose, where it differs from ``top``."""
    others = []
    for key, name in CRITERIA.items():
        if key == res["criterion"] or len(_candidates(res, key)) < 2:  # nothing to rank
            continue
        theirs = leaders(res, key)
        if theirs == top:
            continue
        others.append(f"by {name}, {theirs[0]} ranks first" if len(theirs) == 1
                      else f"by {name}, {' and '.join(theirs)} tie" if theirs
                      else f"by {name}, no policy qualifies in any future")
    return others


def satisficing_rule(res: dict[str, Any]) -> str:
    """The satisficing threshold in words."""
    ref, target = res["reference"], res["target"]
    if res["satisfice"] is None:
        rule = f"is not clearly worse than {ref}"
    else:
        bound = "at least" if res["direction"] >= 0 else "at most"
        rule = f"{name_of(target)} {bound} {res['satisfice']:.4g}"
    if res["budget"] is not None:
        rule += f", at a public cost of at most {res['budget']:.4g}"
    return rule


def difference_rule(res: dict[str, Any]) -> str:
    """When two policies count as different in a future, in words."""
    rule = (f"their mean difference exceeds {res['tolerance']:.4g}" if res["tolerance"] > 0
            else "their mean difference is not zero")
    if res["reps"] >= 2:
        rule += (f" and its paired {LEVEL:.0%} interval over the {res['reps']} replicates "
                 "excludes zero")
    return rule
