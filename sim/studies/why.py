"""Why an effect happens: which mechanism carries it, and what it displaces.

Two kinds of evidence, both from paired replicates (replicate ``r`` of every run uses the same
seed):

- **Displacement the model counts directly**, from the comparison's own runs: private
  facilities not formed (facilities built minus public ones, policy minus base), firms squeezed
  out (extra exits), entry forgone, facility users, and the gain that passes to local
  suppliers as a higher margin (money a month, :data:`sim.measure.outputs.WELFARE`).
- **Stages of a chained policy**, from the comparison's own runs: when an alternative is another
  alternative plus interventions chained after it (``after``: trust building, then a CFC) and
  nothing else, the paired difference between the two is what the later stage adds once the
  first is in place, beside the first stage alone against the base (:func:`stage_pairs`,
  :func:`stage_effects`). Including the first stage as an alternative (``trust_only.toml``
  beside ``trust_then_cfc.toml``) makes that split part of every report.
- **Mechanisms at their textbook limits** (``clustersim compare --why``): the comparison is run
  again with one mechanism at a time set to its limit (:data:`LIMITS`, the variants of
  ``experiments/decompose_flagship.py``, section 3 of docs/validation.md), on the same engine
  and seeds. For each significant effect, its size under each limit, and the
  change from the full model with a paired interval: replicate ``r``'s effect under the limit
  minus its effect in the full model. A mechanism **carries** the effect when switching it off
  changes the effect significantly (the interval of the change excludes zero); the one whose
  removal moves the effect most towards zero is named in the summary.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from sim.measure import outputs
from sim.studies.contrasts import difference
from sim.studies.paired import paired_difference
from sim.studies.report.numbers import plural
from sim.studies.report.tables import effect_class, estimate, wide

__all__ = ["LIMITS", "MECHANISMS", "HEADLINE", "DISPLACEMENT", "pairs_to_explain", "displacement",
           "stage_pairs", "stage_effects", "mechanism_effects", "carriers", "why_lines",
           "why_html"]

#: One mechanism at a time at its textbook limit: name -> parameter overrides.
LIMITS: dict[str, dict[str, float]] = {
    "closed market": {"outside_price": 0.0},
    "no agglomeration or congestion": {"localisation_elasticity": 0.0,
                                       "wage_density_elasticity": 0.0,
                                       "rent_density_elasticity": 0.0},
    "no learning": {"learning_rate": 0.0},
    "unfinanced growth": {"hire_cost": 0.0},
    "unlimited supplier capacity": {"supplier_capacity": 1e6},
    "owners know their talent": {"talent_uncertainty": 0.0},
    "smooth adjustment": {"adjustment_band": 0.0},
}
#: The mechanism each limit switches off, as the summary names it.
MECHANISMS: dict[str, str] = {
    "closed market": "sales outside the cluster",
    "no agglomeration or congestion": "agglomeration and congestion",
    "no learning": "owners' learning",
    "unfinanced growth": "the cost of financing growth",
    "unlimited supplier capacity": "suppliers' limited capacity",
    "owners know their talent": "owners' uncertainty about their talent",
    "smooth adjustment": "lumpy employment adjustment",
}
#: The outcomes whose effects are explained, with their units.
HEADLINE: dict[str, str] = {"employment": "job", "firms": "firm in business"}
#: Displacement terms: name -> (how it is computed from a run's final outcomes, unit, sign).
#: ``sign`` -1: a fall in the computed value is the displacement (e.g. private facilities
#: not formed).
DISPLACEMENT: dict[str, tuple[Any, str, int]] = {
    "private facilities not formed": (
        lambda r: r["facilities_built"] - r["public_facilities_built"], "facility", -1),
    "firms squeezed out (extra exits)": (lambda r: r["exits_total"], "exit", +1),
    "entry forgone": (lambda r: r["entries_total"], "entrant", -1),
    "facility users": (lambda r: r["facility_users"], "firm", +1),
    "suppliers' margin gained": (lambda r: r["supplier_margin"], "money/month", +1),
}


def _significant(lo: float, hi: float) -> bool:
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))


def pairs_to_explain(comp, summary: pd.DataFrame, skip=()) -> list[tuple[str, str]]:
    """(alternative, outcome) for every significant paired effect on the target or a headline
    outcome, alternatives in ``skip`` (shocks) left out."""
    names = list(dict.fromkeys([comp.target, *HEADLINE]))
    out = []
    for label in comp.labels[1:]:
        if label in skip:
            continue
        for name in names:
            row = summary[(summary["scenario"] == label) & (summary["outcome"] == name)]
            if not row.empty and _significant(row.iloc[0]["diff_ci_low"],
                                              row.iloc[0]["diff_ci_high"]):
                out.append((label, name))
    return out


def _wide(runs: pd.DataFrame, column: str) -> pd.DataFrame:
    return runs.pivot(index="replicate", columns="scenario", values=column)


def displacement(comp, labels=None) -> pd.DataFrame:
    """The displacement terms of :data:`DISPLACEMENT` for each alternative against the base
    (paired): ``scenario``, ``term``, ``unit``, ``mean``, ``ci_low``, ``ci_high``, ``n``;
    positive means that much displacement (e.g. +2 private facilities not formed)."""
    runs = comp.runs
    rows = []
    for term, (value, unit, sign) in DISPLACEMENT.items():
        try:
            wide_ = value(runs).to_frame("v").join(runs[["scenario", "replicate"]])
        except KeyError:
            continue
        table = wide_.pivot(index="replicate", columns="scenario", values="v")
        for label in labels or comp.labels[1:]:
            if label not in table or comp.base not in table:
                continue
            d = paired_difference(sign * table[label], sign * table[comp.base])
            rows.append({"scenario": label, "term": term, "unit": unit, "mean": d["mean"],
                         "ci_low": d["ci_low"], "ci_high": d["ci_high"], "n": d["n"]})
    return pd.DataFrame(rows, columns=["scenario", "term", "unit", "mean", "ci_low", "ci_high",
                                       "n"])


def stage_pairs(labels, scenarios, base: str | None = None) -> list[tuple[str, str, list[str]]]:
    """The alternatives that are another alternative plus later stages and nothing else:
    ``(chained label, first-stage label, names of the added interventions)``.

    ``a`` extends ``b`` by stages when their parameters and world are equal, every intervention
    of ``b`` is in ``a`` unchanged (matched by name; descriptions do not count), and each
    intervention only in ``a`` starts ``after`` one of ``b``'s or another added one (a chain
    hanging on ``b``'s). The base (``base``, default the first label) is never a first stage.
    Scenarios that could not be loaded (None) are skipped."""
    base = labels[0] if base is None and labels else base
    out = []
    for la, sa in zip(labels, scenarios, strict=True):
        for lb, sb in zip(labels, scenarios, strict=True):
            if la == lb or base in (la, lb) or sa is None or sb is None:
                continue
            d = difference(sa, sb)
            if d.setting or d.removed or d.changed or not d.added:
                continue
            first = {iv.name for iv in sb.interventions}
            added = {iv.name for iv in d.added}
            if all(getattr(iv, "after", "") in first | added for iv in d.added) and any(
                    getattr(iv, "after", "") in first for iv in d.added):
                out.append((la, lb, sorted(added)))
    return out


def stage_effects(comp, pairs=None) -> pd.DataFrame:
    """For each chained alternative of :func:`stage_pairs` and each headline outcome: the first
    stage alone against the base and what the later stages add (chained minus first stage),
    paired over replicates. Columns ``scenario``, ``first_stage``, ``added``, ``outcome``,
    ``contrast`` ("first stage alone" or "added after it"), ``mean``, ``ci_low``,
    ``ci_high``, ``n``."""
    cols = ["scenario", "first_stage", "added", "outcome", "contrast", "mean", "ci_low",
            "ci_high", "n"]
    if pairs is None:
        pairs = stage_pairs(comp.labels, comp.scenarios, comp.base) if comp.scenarios else []
    rows = []
    for chained, first, added in pairs:
        for name in HEADLINE:
            if name not in comp.runs:
                continue
            w = _wide(comp.runs, name)
            for contrast, (a, b) in (("first stage alone", (first, comp.base)),
                                     ("added after it", (chained, first))):
                d = paired_difference(w[a], w[b])
                rows.append({"scenario": chained, "first_stage": first,
                             "added": ", ".join(added), "outcome": name, "contrast": contrast,
                             "mean": d["mean"], "ci_low": d["ci_low"], "ci_high": d["ci_high"],
                             "n": d["n"]})
    return pd.DataFrame(rows, columns=cols)


def _stage_lines(stages: pd.DataFrame | None) -> list[str]:
    lines = []
    if stages is None or stages.empty:
        return lines
    for (chained, first), part in stages.groupby(["scenario", "first_stage"], sort=False):
        bits = {"first stage alone": [], "added after it": []}
        for _, r in part.iterrows():
            top, iv = estimate(r["mean"], r["ci_low"], r["ci_high"])
            unit = plural(HEADLINE.get(r["outcome"], r["outcome"]))
            bits[r["contrast"]].append(f"{top} {unit} (95% CI {iv})")
        lines.append(f"{chained}, by stage: {first} alone, against the base, "
                     + "; ".join(bits["first stage alone"])
                     + f"; what {part.iloc[0]['added']} adds after it, against {first}, "
                     + "; ".join(bits["added after it"]) + ".")
    return lines


def mechanism_effects(full, variants: dict[str, Any], pairs) -> pd.DataFrame:
    """For each (alternative, outcome) of ``pairs`` and each limit: the paired effect under the
    limit and its change from the full model ``full``, both with 95% intervals.

    ``variants`` maps a limit's name to the comparison run under it (the same labels, steps
    and seeds as ``full``). Columns: ``scenario``, ``outcome``, ``variant``, ``effect``,
    ``effect_ci_low``, ``effect_ci_high``, ``change``, ``change_ci_low``, ``change_ci_high``,
    ``n``; the full model's own row has variant ``full model`` and no change.
    """
    rows = []
    for label, name in pairs:
        base = _wide(full.runs, name)
        d_full = base[label] - base[full.base]
        e = paired_difference(base[label], base[full.base])
        rows.append({"scenario": label, "outcome": name, "variant": "full model",
                     "effect": e["mean"], "effect_ci_low": e["ci_low"],
                     "effect_ci_high": e["ci_high"], "change": np.nan,
                     "change_ci_low": np.nan, "change_ci_high": np.nan, "n": e["n"]})
        for variant, comp in variants.items():
            w = _wide(comp.runs, name)
            if label not in w or comp.base not in w:
                continue
            d_var = (w[label] - w[comp.base]).reindex(d_full.index)
            e = paired_difference(w[label], w[comp.base])
            c = paired_difference(d_var.to_numpy(), d_full.to_numpy())
            rows.append({"scenario": label, "outcome": name, "variant": variant,
                         "effect": e["mean"], "effect_ci_low": e["ci_low"],
                         "effect_ci_high": e["ci_high"], "change": c["mean"],
                         "change_ci_low": c["ci_low"], "change_ci_high": c["ci_high"],
                         "n": c["n"]})
    return pd.DataFrame(rows)


def carriers(part: pd.DataFrame) -> pd.DataFrame:
    """The limits whose change is significant and moves the effect towards zero (or beyond),
    largest change first (rows of :func:`mechanism_effects` for one effect)."""
    full = part[part["variant"] == "full model"].iloc[0]
    rest = part[part["variant"] != "full model"]
    sig = rest[[_significant(lo, hi) for lo, hi in zip(rest["change_ci_low"],
                                                       rest["change_ci_high"], strict=True)]]
    towards = sig[np.sign(sig["change"]) == -np.sign(full["effect"])]
    return towards.reindex(towards["change"].abs().sort_values(ascending=False).index)


def _change(r: pd.Series) -> str:
    top, iv = estimate(r["change"], r["change_ci_low"], r["change_ci_high"])
    return f"{top} (95% CI {iv})"


def why_lines(comp, mech: pd.DataFrame | None, disp: pd.DataFrame,
              pairs=(), stages: pd.DataFrame | None = None) -> list[str]:
    """One sentence per chained policy splitting its effect by stage (``stages``,
    :func:`stage_effects`), one per explained effect naming what carries it, then the
    displacement; without ``mech`` (no ``--why``) and with significant ``pairs``, how to find
    out."""
    lines = _stage_lines(stages)
    if mech is None and pairs:
        lines.append("Which mechanism carries each significant effect is not computed: rerun "
                     "the same command with --why.")
    if mech is not None and mech.empty:
        lines.append(f"No policy's effect on jobs or firms in business is significant with "
                     f"{len(comp.seeds)} replicates, so no mechanism is credited with one (what "
                     "the policies displace or draw in: 'Why: displacement and mechanisms').")
    if mech is not None and not mech.empty:
        for (label, name), part in mech.groupby(["scenario", "outcome"], sort=False):
            full = part[part["variant"] == "full model"].iloc[0]
            unit = plural(HEADLINE.get(name, outputs.label(name).lower()))
            top, iv = estimate(full["effect"], full["effect_ci_low"], full["effect_ci_high"])
            found = carriers(part)
            if found.empty:
                rest = part[part["variant"] != "full model"]
                most = rest.loc[rest["change"].abs().idxmax()] if not rest.empty else None
                lines.append(
                    f"{label}: no single mechanism is shown to carry its effect on {unit} "
                    f"({top}, 95% CI {iv}): switching each off in turn changes it by less "
                    f"than its interval with {int(full['n'])} replicates"
                    + ("" if most is None else
                       f"; the largest change, {_change(most)}, comes with "
                       f"'{most['variant']}'") + ".")
            else:
                who = found.iloc[0]
                t2, iv2 = estimate(who["effect"], who["effect_ci_low"], who["effect_ci_high"])
                others = [MECHANISMS.get(v, v) for v in found["variant"].iloc[1:]]
                lines.append(f"{label}: its effect on {unit} ({top}, 95% CI {iv}) is carried "
                             f"by {MECHANISMS.get(who['variant'], who['variant'])}: with "
                             f"{who['variant']} the effect is {t2} (95% CI {iv2})"
                             + (f"; it also depends on {', '.join(others)}" if others else "")
                             + ".")
    for label, part in disp.groupby("scenario", sort=False):
        bits = []
        for _, r in part.iterrows():
            if _significant(r["ci_low"], r["ci_high"]):
                top, iv = estimate(r["mean"], r["ci_low"], r["ci_high"])
                bits.append(f"{r['term']} {top} (95% CI {iv})")
        if bits:
            lines.append(f"{label}, what it displaces or draws in (against the base): "
                         + "; ".join(bits) + ".")
    return lines


def why_html(mech: pd.DataFrame | None, disp: pd.DataFrame, ran: bool,
             stages: pd.DataFrame | None = None) -> str:
    """The report's section: the stages of chained policies, displacement, and the mechanisms
    at their limits when run."""
    parts = ["<h2>Why: displacement and mechanisms</h2>"]
    if stages is not None and not stages.empty:
        def stage(r) -> str:
            if r["contrast"] == "first stage alone":
                return f"{r['first_stage']} alone"
            return f"{r['added']} after {r['first_stage']}"

        rows = "".join(
            f"<tr><th class='l'>{html.escape(r['scenario'])}</th><td class='l'>"
            f"{html.escape(stage(r))}</td><td class='l'>"
            f"{html.escape(outputs.label(r['outcome']))}</td>"
            + _cell(r["mean"], r["ci_low"], r["ci_high"]) + "</tr>"
            for _, r in stages.iterrows())
        parts.append("<p>Chained policies by stage (paired, 95% CI): the first stage alone "
                     "against the base, and what the later stage adds against the first "
                     "stage alone.</p>")
        parts.append(wide("<table><tr><th class='l'>alternative</th><th class='l'>stage</th>"
                          "<th class='l'>outcome</th><th>paired difference<br>"
                          "<span class='small'>[95% CI]</span></th></tr>" + rows
                          + "</table>"))
    parts += ["<p>Displacement the model counts directly, each alternative against the base "
              "(paired, 95% CI; positive means that much displacement), and the gain that "
              "passes to local suppliers as a higher margin (money a month).</p>"]
    rows = "".join(
        f"<tr><th class='l'>{html.escape(r['scenario'])}</th><td class='l'>"
        f"{html.escape(r['term'])}</td>"
        + _cell(r["mean"], r["ci_low"], r["ci_high"]) + "</tr>"
        for _, r in disp.iterrows())
    parts.append(wide("<table><tr><th class='l'>alternative</th><th class='l'>term</th>"
                      "<th>paired difference<br><span class='small'>[95% CI]</span></th></tr>"
                      + rows + "</table>") if rows else "<p>No displacement terms recorded."
                 "</p>")
    if not ran:
        parts.append("<p>Which mechanism carries each significant effect: run the comparison "
                     "with <code>--why</code> (it reruns the pairs with one mechanism at a "
                     "time at its textbook limit; docs/validation.md explains the "
                     "limits).</p>")
        return "\n".join(parts)
    if mech is None or mech.empty:
        parts.append("<p>No significant effect on the target, jobs or firms to explain.</p>")
        return "\n".join(parts)
    parts.append("<p>Each significant effect with one mechanism at a time at its textbook limit "
                 "(same seeds): the effect under the limit, and its change from the full model "
                 "(paired, 95% CI). A mechanism carries the effect when its change is "
                 "significant.</p>")
    body = []
    for _, r in mech.iterrows():
        way = effect_class(r["outcome"], r["effect_ci_low"], r["effect_ci_high"])
        body.append(
            f"<tr><th class='l'>{html.escape(r['scenario'])}</th><td class='l'>"
            f"{html.escape(outputs.label(r['outcome']))}</td><td class='l'>"
            f"{html.escape(r['variant'])}</td>"
            + _cell(r["effect"], r["effect_ci_low"], r["effect_ci_high"], way)
            + _cell(r["change"], r["change_ci_low"], r["change_ci_high"]) + "</tr>")
    parts.append(wide("<table><tr><th class='l'>alternative</th><th class='l'>outcome</th>"
                      "<th class='l'>mechanism at its limit</th><th>effect [95% CI]</th>"
                      "<th>change from the full model [95% CI]</th></tr>" + "".join(body)
                      + "</table>"))
    return "\n".join(parts)


def _cell(mean, lo, hi, cls: str = "") -> str:
    top, iv = estimate(mean, lo, hi)
    if not top:
        return "<td></td>"
    cls = cls or ("sig" if _significant(lo, hi) else "ns")
    return f"<td class='{cls}'>{top}<br><span class='small'>{iv}</span></td>"
