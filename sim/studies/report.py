"""The comparison report: a decision summary, effects with desirable-direction colours, cost per
job, breakdowns by sector and town, effects over time, as one self-contained HTML page.

:func:`effect_figures` draws, for each chosen output, the paired difference of every
alternative from the base month by month (replicate ``r`` of both share a seed), with its
t-based 95% band: an effect band, not two overlapping level bands. :func:`decision_summary`
puts the answer in plain words: the ranking and how robust it is, the effect on jobs and firms
with intervals, the cost per job, the caveats. :func:`render_html` builds one HTML page that
opens without a server or network: figures are embedded as base64 data, styles are inline,
there are no scripts and no outside links; scenario texts and sources are escaped text.
Colours say whether a change is desirable (declared per outcome in :mod:`sim.measure.outputs`):
green when a significant change is good, red when it is bad, blue when the outcome has no desirable
direction, grey when the interval includes zero.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

import numpy as np
import pandas as pd

from sim.core.errors import printable
from sim.measure import outputs
from sim.studies import costeff
from sim.studies.paired import OUTCOMES, effect_over_time

__all__ = ["effect_figures", "decision_summary", "render_html", "LABELS", "effect_class", "CSS",
           "fmt"]

#: Readable names of outputs (declared in :mod:`sim.measure.outputs`).
LABELS = outputs.LABELS
#: Line colours of the alternatives: none of them red or green, which mean bad and good here.
_COLOURS = ("#1f5f8b", "#d68910", "#8e44ad", "#16a085", "#7f8c8d", "#5d4037")


def effect_class(name: str, lo: float, hi: float) -> str:
    """CSS class of a paired difference of ``name`` with interval [lo, hi]: ``good``/``bad``
    when it excludes zero and the outcome has a desirable direction, ``sig`` when it has none,
    ``ns`` when the interval includes zero (or is undefined)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or (lo <= 0 <= hi):
        return "ns"
    way = outputs.direction(name)
    if way == 0:
        return "sig"
    up = lo > 0
    return "good" if (up and way > 0) or (not up and way < 0) else "bad"


def effect_figures(comp, names) -> dict[str, bytes]:
    """One PNG per output: each alternative's paired difference from the base, month by
    month, with its 95% band and the zero line."""
    from matplotlib.figure import Figure

    figures: dict[str, bytes] = {}
    for column in names:
        if column not in comp.series:
            continue
        fig = Figure(figsize=(6.4, 3.6), dpi=100)
        ax = fig.add_subplot()
        ax.axhline(0.0, color="#555", lw=0.8)
        drawn = False
        for k, label in enumerate(comp.labels[1:]):
            res = effect_over_time(comp, label, column)
            if res is None:
                continue
            steps, mean, lo, hi = res
            colour = _COLOURS[k % len(_COLOURS)]
            ax.plot(steps, mean, color=colour, lw=1.8,  # names shown, not obeyed
                    label=printable(f"{label} \u2212 {comp.base}"))
            ax.fill_between(steps, lo, hi, color=colour, alpha=0.2, lw=0)
            drawn = True
        if not drawn:
            continue
        way = {1: " (up is better)", -1: " (down is better)"}.get(outputs.direction(column), "")
        ax.set_title(f"Effect on {outputs.label(column).lower()}{way}", fontsize=10)
        ax.set_xlabel("month")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        figures[column] = buf.getvalue()
    return figures


# -- HTML ----------------------------------------------------------------------------------------
#: The style sheet of every HTML report (the comparison's and the robustness study's).
CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
th { background: #f4f6f8; } td.l, th.l { text-align: left; }
.good { color: #1e7d32; font-weight: 600; } .bad { color: #b71c1c; font-weight: 600; }
.sig { color: #1f4e9b; font-weight: 600; }
.ns { color: #777; } .small { font-size: 0.85em; color: #555; }
.decision { background: #f7f9fb; border: 1px solid #cfd8e3; border-radius: 6px;
            padding: 0.6em 1.2em 0.8em; }
.decision h2 { margin-top: 0.4em; border: none; }
.warn { color: #8a5300; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
figure { display: inline-block; margin: 0.4em; width: 520px; max-width: 100%; }
img { max-width: 100%; }
"""


def fmt(x: Any) -> str:
    """A number with about four significant digits; blank for missing."""
    if x is None:
        return ""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return html.escape(str(x))
    if not math.isfinite(v):
        return ""
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.3g}"
    digits = max(0, 3 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{digits}f}"


def _interval(lo: Any, hi: Any) -> str:
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    return f"[{fmt(lo)}, {fmt(hi)}]"


def _interval(lo: Any, hi: Any) -> str:
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    return f"[{fmt(lo)}, {fmt(hi)}]"


def _effect_cell(name: str, row: pd.Series) -> str:
    lo, hi = row["diff_ci_low"], row["diff_ci_high"]
    if not np.isfinite(row["diff_mean"]):
        return "<td></td>"
    cls = effect_class(name, lo, hi)
    return (f'<td class="{cls}">{_signed(row["diff_mean"])}<br>'
            f'<span class="small">{_interval(lo, hi)}</span></td>')


def _signed(x: float) -> str:
    text = fmt(x)
    return f"+{text}" if np.isfinite(x) and x > 0 else text


def _effects_table(summary: pd.DataFrame, labels: list[str], names) -> str:
    base = labels[0]
    head = "".join(f"<th>{html.escape(lab)}<br><span class='small'>mean [95% CI]</span></th>"
                   for lab in labels)
    head += "".join(f"<th>{html.escape(lab)} &minus; {html.escape(base)}<br>"
                    "<span class='small'>paired difference [95% CI]</span></th>"
                    for lab in labels[1:])
    rows = []
    for outcome in names:
        part = summary[summary["outcome"] == outcome].set_index("scenario")
        if part.empty:
            continue
        cells = []
        for lab in labels:
            r = part.loc[lab] if lab in part.index else None
            cells.append("<td></td>" if r is None else
                         f"<td>{fmt(r['mean'])}<br><span class='small'>"
                         f"{_interval(r['ci_low'], r['ci_high'])}</span></td>")
        for lab in labels[1:]:
            cells.append(_effect_cell(outcome, part.loc[lab]) if lab in part.index
                         else "<td></td>")
        way = {1: "&uarr; better", -1: "&darr; better"}.get(outputs.direction(outcome), "")
        name = html.escape(outputs.label(outcome))
        rows.append(f"<tr><th class='l'>{name}<br><span class='small'>{html.escape(outcome)}"
                    f" {way}</span></th>{''.join(cells)}</tr>")
    return (f"<table><tr><th class='l'>outcome</th>{head}</tr>\n" + "\n".join(rows)
            + "</table>")


def _cost_text(r: pd.Series, unit: str, currency: str) -> tuple[str, str]:
    """(css class, text) for the cost per ``unit`` ("job" or "firm")."""
    status = r[f"{unit}_status"]
    money = f" {currency}" if currency else ""
    what, whats = ("job", "jobs") if unit == "job" else ("firm kept", "firms kept")
    if status == costeff.COST_PER_UNIT:
        iv = _interval(r[f"{unit}_ratio_ci_low"], r[f"{unit}_ratio_ci_high"])
        return "", f"{fmt(r[f'{unit}_ratio'])}{money} per extra {what} (95% CI {iv})"
    if status == costeff.DOMINATES:
        return "good", f"dominates: more {whats} at no extra public cost"
    if status == costeff.DOMINATED:
        return "bad", f"dominated: fewer {whats} at no saving"
    if status == costeff.SAVING_PER_LOSS:
        iv = _interval(r[f"{unit}_ratio_ci_low"], r[f"{unit}_ratio_ci_high"])
        return "bad", (f"saves {fmt(r[f'{unit}_ratio'])}{money} per {what} lost "
                       f"(95% CI {iv})")
    if status == costeff.NO_GAIN:
        return "ns", f"no significant gain in {whats}: no cost per {what}"
    return "ns", str(status)


def _costs_table(costs: pd.DataFrame, currency: str) -> str:
    if costs.empty:
        return "<p>No alternative scenarios.</p>"
    unit = f" ({html.escape(currency)})" if currency else ""
    rows = []
    for _, r in costs.iterrows():
        cells = (f"<td>{_signed(r['d_public'])}<br><span class='small'>"
                 f"{_interval(r['d_public_ci_low'], r['d_public_ci_high'])}</span></td>")
        for k, name in (("job", "employment"), ("firm", "firms")):
            cls = effect_class(name, r[f"{k}_gain_ci_low"], r[f"{k}_gain_ci_high"])
            cells += (f"<td class='{cls}'>{_signed(r[f'{k}_gain'])}<br><span class='small'>"
                      f"{_interval(r[f'{k}_gain_ci_low'], r[f'{k}_gain_ci_high'])}</span></td>")
        for k in ("job", "firm"):
            cls, text = _cost_text(r, k, "")
            cells += f"<td class='l {cls}'>{html.escape(text)}</td>"
        rows.append(f"<tr><th class='l'>{html.escape(r['scenario'])}</th>{cells}</tr>")
    return ("<table><tr><th class='l'>scenario</th>"
            f"<th>extra public spending{unit}</th><th>extra jobs</th>"
            f"<th>extra firms in business</th><th>cost per extra job{unit}</th>"
            f"<th>cost per firm kept{unit}</th></tr>\n" + "\n".join(rows) + "</table>")


def _breakdown_section(summary: pd.DataFrame, labels: list[str]) -> str:
    parts = []
    for title, prefixes in (("By sector", ("employment_sector_", "firms_sector_")),
                            ("By town", ("employment_town_", "firms_town_"))):
        names = [n for n in dict.fromkeys(summary["outcome"]) if n.startswith(prefixes)]
        names.sort(key=lambda n: (n.split("_", 2)[2], not n.startswith("employment")))
        if names:
            parts.append(f"<h3>{title}</h3>" + _effects_table(summary, labels, names))
    return "\n".join(parts) or "<p>No breakdown in these runs.</p>"


def _ranking_lines(comp, rank: pd.DataFrame, target: str, tl: str) -> list[str]:
    """Which alternatives clearly do better or worse than the base, and the order."""
    lines = []
    sig = rank[(rank["scenario"] != comp.base)
               & ((rank["diff_ci_low"] > 0) | (rank["diff_ci_high"] < 0))]
    way = outputs.direction(target) or 1
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
    lines.append(f"Order by mean {tl} at month {comp.steps}: "
                 + ", ".join(rank["scenario"]) + ".")
    return lines


def _effect_lines(comp, summary: pd.DataFrame) -> list[str]:
    """Each alternative's paired effect on jobs and on firms in business."""
    lines = []
    for label in comp.labels[1:]:
        for name, what in (("employment", "jobs"), ("firms", "firms in business")):
            row = summary[(summary["scenario"] == label) & (summary["outcome"] == name)]
            if row.empty:
                continue
            r = row.iloc[0]
            lo, hi = r["diff_ci_low"], r["diff_ci_high"]
            sig = np.isfinite(lo) and (lo > 0 or hi < 0)
            verdict = ("" if sig else " (not significant: the interval includes zero)")
            lines.append(f"{label} vs {comp.base}: {_signed(r['diff_mean'])} {what} "
                         f"(95% CI {_interval(lo, hi)}){verdict}.")
    return lines


# -- decision summary -----------------------------------------------------------------------------
def decision_summary(comp, summary: pd.DataFrame, costs: pd.DataFrame,
                     rank: pd.DataFrame) -> dict[str, Any]:
    """The answer in plain words: a list of sentences for the ranking, the effects on jobs
    and firms, the cost per job, the robustness of the ranking and the caveats (JSON-ready)."""
    currency = decision_currency(comp)
    target = comp.target
    tl = outputs.label(target).lower()
    lines: dict[str, list[str]] = {"ranking": [], "effects": [], "cost": [], "robustness": [],
                                   "caveats": []}
    lines["ranking"] = _ranking_lines(comp, rank, target, tl)
    top = rank.iloc[0]
    p_best = float(top["p_best"])
    lines["effects"] = _effect_lines(comp, summary)
    for _, r in costs.iterrows():
        _, text = _cost_text(r, "job", currency)
        lines["cost"].append(f"{r['scenario']}: {text}.")
    lines["robustness"].append(
        f"{top['scenario']} ranks first in {p_best:.0%} of {comp.reps}-replicate resamples.")
    if len(rank) > 1:
        nxt = rank.iloc[1]
        if bool(top["settled"]) is True:
            lines["robustness"].append(
                f"Its lead over {nxt['scenario']} is significant (paired 95% interval "
                "excludes zero).")
        else:
            lines["robustness"].append(
                f"Its lead over {nxt['scenario']} is not significant: another set of seeds "
                "could reverse the order; add replicates (--reps, or --reps auto) before "
                "relying on it.")
    if p_best < 0.8:
        lines["robustness"].append("The ranking is not robust: no scenario is first in at "
                                   "least 80% of resamples.")
    rule = comp.rule or {}
    if rule.get("target"):
        met = "reached" if rule.get("met") else "NOT reached"
        lines["caveats"].append(
            f"--reps auto: {rule.get('reps')} replicates; target width "
            f"{fmt(rule.get('width'))} for {rule.get('target')} {met} (widest interval "
            f"{fmt(rule.get('widest'))}, cap {rule.get('cap')}). Stopping when the interval "
            "is narrow enough makes the stated 95% slightly optimistic.")
    lines["caveats"].append(
        f"{comp.reps} replicates per scenario; intervals cover the model's randomness only, "
        "not the uncertainty of its parameters (see clustersim robust) or of the model itself.")
    lines["caveats"].append("Money and parameters are the scenario files' assumptions; read "
                            "their sources below before quoting a figure.")
    return {"target": target, "order": list(rank["scenario"]), "p_best": p_best, "lines": lines}


def _decision_html(decision: dict[str, Any]) -> str:
    titles = {"ranking": "Ranking", "effects": "Effect on jobs and firms",
              "cost": "Cost per job", "robustness": "How robust the ranking is",
              "caveats": "Caveats"}
    parts = ["<div class='decision'><h2>Decision summary</h2>"]
    for key, title in titles.items():
        items = decision["lines"].get(key) or []
        if not items:
            continue
        cls = " class='warn'" if key in ("robustness",) and decision["p_best"] < 0.8 else ""
        parts.append(f"<p><b>{title}</b></p><ul{cls}>"
                     + "".join(f"<li>{html.escape(t)}</li>" for t in items) + "</ul>")
    parts.append("</div>")
    return "\n".join(parts)


def _ranking_table(rank: pd.DataFrame) -> str:
    rows = []
    for _, r in rank.iterrows():
        cls = effect_class(r["outcome"], r["diff_ci_low"], r["diff_ci_high"])
        settled = ("" if not isinstance(r["settled"], bool | np.bool_) else
                   ("yes" if r["settled"] else "no"))
        rows.append(f"<tr><td>{int(r['rank'])}</td><th class='l'>{html.escape(r['scenario'])}"
                    f"</th><td>{fmt(r['mean'])}</td><td class='{cls}'>"
                    f"{_signed(r['diff_mean'])}<br><span class='small'>"
                    f"{_interval(r['diff_ci_low'], r['diff_ci_high'])}</span></td>"
                    f"<td>{r['p_best']:.0%}</td><td>{_pct(r['wins_vs_base'])}</td>"
                    f"<td>{settled}</td></tr>")
    return ("<table><tr><th>rank</th><th class='l'>scenario</th><th>mean</th>"
            "<th>vs base [95% CI]</th><th>first in (resamples)</th><th>beats base "
            "(replicates)</th><th>ahead of next (significant)</th></tr>"
            + "".join(rows) + "</table>")


def _pct(x: float) -> str:
    return "" if not np.isfinite(x) else f"{x:.0%}"


def _scenario_section(comp) -> str:
    parts = []
    for label, sc in zip(comp.labels, comp.scenarios, strict=True):
        if sc is None:
            parts.append(f"<h3>{html.escape(label)}</h3><p class='neg'>the scenario file has "
                         "moved or changed since the runs</p>")
            continue
        ivs = "".join(
            f"<li><b>{html.escape(iv.name)}</b> ({html.escape(iv.kind)})"
            + (f": {html.escape(iv.description)}" if iv.description else "") + "</li>"
            for iv in sc.interventions) or "<li>none</li>"
        sources = "".join(f"<li>{html.escape(str(s))}</li>" for s in sc.meta.get("sources", []))
        parts.append(
            f"<h3>{html.escape(label)}</h3><p>{html.escape(sc.description or '')}</p>"
            f"<p class='small'>file: {html.escape(str(sc.path or ''))}; hash "
            f"<code>{sc.hash[:16]}</code></p><p>Interventions:</p><ul>{ivs}</ul>"
            + (f"<p>Sources:</p><ul class='small'>{sources}</ul>" if sources else "")
            + f"<details><summary>scenario file</summary><pre>{html.escape(sc.text)}</pre>"
            "</details>")
    return "\n".join(parts)


def render_html(comp, summary: pd.DataFrame, costs: pd.DataFrame,
                figures: dict[str, bytes], run: dict[str, Any], rank: pd.DataFrame,
                decision: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (no scripts, no outside resources)."""
    labels = comp.labels
    title = f"{labels[0]} vs {', '.join(labels[1:])}"
    currency = decision_currency(comp)
    figs = "\n".join(
        f"<figure><img alt='{html.escape(outputs.label(name))}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'></figure>"
        for name, png in figures.items())
    prov_rows = [
        ("package version", run.get("version")), ("git commit", run.get("git_commit")),
        ("created", run.get("created")), ("replicates", run.get("reps")),
        ("months", run.get("steps")), ("root seed", run.get("seed")),
        ("replicate seeds", ", ".join(str(s) for s in run.get("seeds", []))),
        ("overrides (--set)", ", ".join(f"{k} = {v}" for k, v in
                                        (run.get("overrides") or {}).items()) or "none"),
        ("ran on", run.get("mode") or ""), ("wall time (s)", fmt(run.get("wall_time_s"))),
        ("python / numpy / numba / mesa", " / ".join(str(run.get(k)) for k in
                                                     ("python", "numpy", "numba", "mesa"))),
    ] + [(f"scenario {s['label']}", f"{s['file']} sha256 {s['hash']}")
         for s in run.get("scenarios", [])]
    prov = "".join(f"<tr><th class='l'>{html.escape(str(k))}</th>"
                   f"<td class='l'>{html.escape(str(v))}</td></tr>" for k, v in prov_rows)
    names = [n for n in OUTCOMES if n in set(summary["outcome"])]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clustersim comparison: {html.escape(title)}</title>
<style>{CSS}</style></head>
<body>
<h1>Scenario comparison: {html.escape(title)}</h1>
{_decision_html(decision)}

<p>{comp.reps} replicates of each scenario over {comp.steps} months. Replicate <i>i</i> of every
scenario uses the same seed (common random numbers), so differences from
<b>{html.escape(labels[0])}</b> are paired: identical scenarios differ by exactly zero. Intervals
are t-based 95% confidence intervals over replicates. A paired difference is
<span class="good">green</span> when its interval excludes zero and the change is desirable,
<span class="bad">red</span> when it excludes zero and the change is undesirable,
<span class="sig">blue</span> when it excludes zero for an outcome with no better direction,
and <span class="ns">grey</span> when the interval includes zero. Money is in
{html.escape(currency or 'the scenario currency')}.</p>

<h2>Ranking</h2>
<p>By {html.escape(outputs.label(comp.target).lower())} at the end; "first in" is the share of
bootstrap resamples of the replicates (the same replicates for every scenario) in which the
scenario comes first.</p>
{_ranking_table(rank)}

<h2>Public cost</h2>
<p>Extra public spending, jobs and firms in business at the end, relative to
<b>{html.escape(labels[0])}</b> with the same seeds (paired differences with 95% CIs), and
the cost per extra job and per firm kept, with Fieller's 95% interval. A cost is given only
when the gain is significant; where the policy gains at no extra cost it
<i>dominates</i>, where it loses at no saving it is <i>dominated</i>.</p>
{_costs_table(costs, currency)}

<h2>Effects</h2>
{_effects_table(summary, labels, names)}

<h2>Employment and firms by sector and by town</h2>
{_breakdown_section(summary, labels)}

<h2>Effects over time</h2>
<p>Paired difference from <b>{html.escape(labels[0])}</b> month by month (replicate by
replicate, same seeds), mean with its 95% band. Where the band leaves the zero line the
effect is clear.</p>
{figs}

<h2>Scenarios</h2>
{_scenario_section(comp)}

<h2>Provenance</h2>
<table>{prov}</table>
<p class="small">Files: summary.csv, costs.csv, ranking.csv, comparison.json, figures/*.png, and
the runs as a sweep directory (experiment.json, design.parquet, runs.parquet, series/), which
<code>clustersim results</code> queries. Produced by clustersim compare.</p>
</body></html>
"""


def decision_currency(comp) -> str:
    for sc in comp.scenarios:
        if sc is not None:
            return sc.meta.get("currency", "") or ""
    return ""
