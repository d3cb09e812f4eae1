"""The robustness report: one self-contained page (no scripts, no outside resources) that
opens with a headline naming its criterion, then shows every criterion together."""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np

from sim.studies.report import CSS, fmt
from sim.studies.robust.criteria import (
    CRITERIA,
    difference_rule,
    name_of,
    satisficing_rule,
    unit_of,
)
from sim.studies.robust.discovery import MIN_RESTRICTION, SIGNIFICANCE, Discovery

__all__ = ["render_html", "describe"]

esc = html.escape


def _pct(x: Any) -> str:
    return "" if x is None or not np.isfinite(x) else f"{x:.0%}"


def _interval(lo: Any, hi: Any) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    return f"{fmt(lo)} to {fmt(hi)}"


def _scroll(table: str) -> str:
    return f"<div style='overflow-x:auto'>{table}</div>"


def describe(d: Discovery) -> str:
    """One plain sentence on what PRIM found."""
    if d.status == "none":
        return f"No future in which {d.question}: no condition to find."
    if d.status == "all":
        return f"In every future {d.question}: no condition separates it from the others."
    if d.status == "unavailable":
        return ("Scenario discovery skipped: EMA Workbench is not installed (pip install "
                "'msme-clustersim[robust]').")
    if d.status != "box":
        why = "; ".join(f"{r['parameter']} {r['why']}" for r in d.dropped)
        return (f"In {d.cases} of {d.n} futures {d.question}, but PRIM finds no clear "
                "condition for it" + (f" (its box: {why})" if why else
                                      " (no box denser than the whole space)") + ".")
    parts = []
    for b in d.limits:
        if b["low"] is not None and b["high"] is not None:
            parts.append(f"{b['parameter']} from {fmt(b['low'])} to {fmt(b['high'])}")
        elif b["low"] is not None:
            parts.append(f"{b['parameter']} above {fmt(b['low'])}")
        else:
            parts.append(f"{b['parameter']} below {fmt(b['high'])}")
    return (f"In {d.cases} of {d.n} futures {d.question}; PRIM finds them mostly where "
            f"{' and '.join(parts)}: the box holds {d.stat('coverage'):.0%} of them "
            f"(coverage), and {d.stat('density'):.0%} of the futures in it are such futures "
            "(density).")


def _discovery_html(d: Discovery) -> str:
    out = f"<p>{esc(describe(d))}</p>"
    if d.status == "box":
        rows = "".join(
            f"<tr><th class='l'>{esc(b['parameter'])}</th><td>{fmt(b['low'])}</td>"
            f"<td>{fmt(b['high'])}</td><td>{fmt(b['range_low'])}-{fmt(b['range_high'])}</td>"
            f"<td>{b['restricts']:.0%}</td><td>{b['qp']:.2g}</td></tr>" for b in d.limits)
        out += _scroll("<table><tr><th class='l'>parameter</th><th>from</th><th>to</th>"
                       "<th>sampled</th><th>range removed</th><th>quasi-p</th></tr>"
                       f"{rows}</table>")
        if d.cases < 10:
            out += (f"<p class='warn'>With {d.cases} such futures the box is a hint, not a "
                    "finding: sample more futures (--futures) before reading it as a "
                    "condition.</p>")
    if d.trajectory is not None and len(d.trajectory) > 1:
        t = d.trajectory
        rows = "".join(
            f"<tr><td>{i}{' (chosen)' if i == d.selected else ''}"
            f"{' (reported)' if i == d.box_index and i != d.selected else ''}</td>"
            f"<td>{r['coverage']:.0%}</td><td>{r['density']:.0%}</td><td>{r['mass']:.0%}</td>"
            f"<td>{int(r['res_dim'])}</td></tr>" for i, r in t.iterrows())
        out += ("<details><summary>PRIM trajectory (peeling, pasting, dropped restrictions)"
                "</summary><table><tr><th>box</th><th>coverage</th><th>density</th>"
                f"<th>mass</th><th>restricted</th></tr>{rows}</table></details>")
    return out


def _posterior_note(meta: dict[str, Any]) -> str:
    """With --posterior: where the drawn parameters came from (escaped)."""
    post = meta.get("posterior")
    if not post:
        return ""
    return esc(f" Parameters drawn from the posterior of {post.get('calibration')} "
               f"({post.get('file')} sha256 {post.get('sha256')}, {post.get('method')}, "
               f"{post.get('n')} draws of {', '.join(post.get('parameters', []))}); the "
               "draw of each future and replicate: posterior_draws_used.csv, P(best): "
               "p_best.csv.")


def render_html(res: dict[str, Any], ranges, labels: list[str], meta: dict[str, Any]) -> str:
    """The page of :func:`sim.studies.robust.study.robust`."""
    target, ref = res["target"], res["reference"]
    tl = name_of(target)
    t = res["table"]
    n = len(res["means"])
    crit_rows = "".join(
        f"<tr><td>{int(r['rank'])}</td><th class='l'>{esc(r['policy'])}</th>"
        f"<td>{fmt(r['max_regret'])}</td><td>{fmt(r['mean_regret'])}</td>"
        f"<td>{fmt(r['p90_regret'])}</td><td>{_pct(r['satisficing'])}</td>"
        f"<td>{_pct(r['beats'])}</td><td>{_pct(r['no_difference'])}</td>"
        f"<td>{_pct(r['worse'])}</td></tr>" for _, r in t.iterrows())
    tie_share = res["tied_futures"] / max(n, 1)
    best_rows = "".join(
        f"<tr><th class='l'>{esc(r['policy'])}</th><td>{_pct(r['best_alone'])}</td>"
        f"<td>{_pct(r['best_tied'])}</td></tr>" for _, r in t.iterrows())
    best_rows += (f"<tr><th class='l'>tie for best (two policies or more)</th>"
                  f"<td>{_pct(tie_share)}</td><td></td></tr><tr><th class='l'>total</th>"
                  f"<td>{_pct(t['best_alone'].sum() + tie_share)}</td><td></td></tr>")
    unit = unit_of(target)
    money_rows = "".join(
        f"<tr><th class='l'>{esc(r['policy'])}</th><td>{fmt(r['mean_effect'])}</td>"
        f"<td>{_interval(r['effect_low'], r['effect_high'])}</td>"
        f"<td>{fmt(r['mean_cost'])}</td><td>{fmt(r['extra_cost'])}</td>"
        f"<td>{fmt(r['cost_per_unit']) if np.isfinite(r['cost_per_unit']) else ('no significant gain' if r['policy'] != ref else '')}</td></tr>"  # noqa: E501
        for _, r in t.iterrows())
    unc = "".join(f"<tr><th class='l'>{esc(name)}</th><td>{fmt(lo)}</td><td>{fmt(hi)}</td></tr>"
                  for name, lo, hi in ranges)
    summary = "".join(f"<li>{esc(s)}</li>" for s in res["headline"])
    notes = "".join(f"<li>{esc(s)}</li>" for s in meta.get("notes", []))
    disc = res["discoveries"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clustersim robustness: {esc(', '.join(labels))}</title>
<style>{CSS}</style></head>
<body>
<h1>Robust decision: {esc(', '.join(labels[1:]))} against {esc(ref)}</h1>
<div class="decision"><h2>Summary</h2><ul>{summary}
<li>{esc(meta.get('parameters', '').capitalize())}.</li>
<li>Each future is the mean of {meta['reps']} replicate(s) with common random numbers; two
policies differ in a future when {esc(difference_rule(res))}. A handful of futures is a
screening, not a settled answer.</li>{notes}
</ul></div>
<h2>Robustness by each criterion</h2>
<p>Ranked by {esc(CRITERIA[res['criterion']])} (<code>--criterion</code>). <b>Regret</b>: how far
a policy's {esc(tl)} falls short of the best policy's in a future (0 for the best, and for a
policy that does not clearly differ from it); minimax regret prefers the least maximum.
<b>Satisficing share</b>: share of futures in which the policy
{esc(satisficing_rule(res))}. <b>Beats / no clear difference / worse</b>: share of
futures in which the policy is clearly better than {esc(ref)}, does not clearly differ from
it, or is clearly worse (they add to 100%); the first is the probability of beating the
reference.</p>
{_scroll(f'''<table><tr><th>rank</th><th class='l'>policy</th><th>max regret</th>
<th>mean regret</th><th>90th pct regret</th><th>satisficing share</th><th>beats {esc(ref)}</th>
<th>no clear difference</th><th>worse</th></tr>{crit_rows}</table>''')}
<h2>Best in each future: wins and ties</h2>
<p>A policy is best alone in a future when it is clearly better than every other; when the
best policies do not clearly differ, the future is a tie and no policy wins it. The wins and
the ties add to 100% of the {n} futures. In {int(res['no_difference'].sum())} of them no
policy clearly differs from {esc(ref)}.</p>
{_scroll(f'''<table><tr><th class='l'>policy</th><th>best alone</th><th>tied for best</th>
</tr>{best_rows}</table>''')}
<h2>Money</h2>
<p>Public cost is <code>public_spending_total</code> at the horizon, in the scenarios' currency,
averaged over the futures; the interval of the mean effect is a t interval over the futures.
The cost per extra {esc(unit)} is the mean extra cost over the mean extra {esc(tl)}, shown only
when that interval excludes zero on the side of a gain.</p>
{_scroll(f'''<table><tr><th class='l'>policy</th><th>mean effect on {esc(tl)}</th>
<th>95% interval</th><th>mean public cost</th><th>extra cost vs {esc(ref)}</th>
<th>cost per extra {esc(unit)}</th></tr>{money_rows}</table>''')}
<h2>When {esc(res['policy'])} fails</h2>
<p>Failure: it misses the satisficing threshold ({esc(satisficing_rule(res))}). Futures in
which it does not clearly differ from {esc(ref)} are not failures.</p>
{_discovery_html(disc['fails'])}
<h2>When {esc(res['policy'])} gains</h2>
{_discovery_html(disc['gains'])}
<p class="small">Scenario discovery by PRIM as EMA Workbench 2.5.3 implements it (peeling,
pasting, quasi-p values); the box reported is the densest that covers at least
{meta.get('min_coverage', 0.5):.0%} of the futures of interest, keeping only restrictions that
are significant (quasi-p below {SIGNIFICANCE}) and remove at least {MIN_RESTRICTION:.0%} of the
parameter's sampled range; otherwise "no clear condition".</p>
<h2>Uncertain parameters</h2>
<p>Latin hypercube over these ranges (docs/robustness.md gives their sources).</p>
{_scroll(f"<table><tr><th class='l'>parameter</th><th>low</th><th>high</th></tr>{unc}</table>")}
<h2>Provenance</h2>
<p class="small">version {esc(str(meta.get('version')))}, commit
{esc(str(meta.get('git_commit')))}, seed {meta['seed']}, scenario hashes
{esc(json.dumps(meta['scenario_hash']))}.{_posterior_note(meta)}
Files: robust.csv, regret.csv, futures.csv,
prim_trajectory.csv, prim_box.json, robust.json; the runs as a sweep directory that
<code>clustersim results</code> queries.</p>
</body></html>
"""
