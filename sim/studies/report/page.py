"""The comparison report as one self-contained HTML page.

It opens without a server or network: figures are embedded as base64 data, styles are inline,
there are no scripts and no outside links; scenario texts and sources are escaped text. Files
are shown relative to the working folder (or by name), never by a machine's absolute path.
Tables scroll sideways inside their wrapper when wider than the page.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

from sim.measure import outputs
from sim.studies.paired import OUTCOMES
from sim.studies.report.numbers import fmt, shown_path
from sim.studies.report.summary import TITLES, decision_currency
from sim.studies.report.tables import (
    breakdown_section,
    costs_table,
    effects_table,
    incremental_table,
    ranking_table,
    shocks_table,
)

__all__ = ["CSS", "render_html"]

#: The style sheet of every HTML report (the comparison's and the robustness study's).
CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto;
       max-width: 1180px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.wide { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.45em; text-align: right; vertical-align: top; }
th { background: #f4f6f8; } td.l, th.l { text-align: left; }
.wide td { white-space: nowrap; } .wide td.l { white-space: normal; min-width: 12em; }
.good { color: #1e7d32; font-weight: 600; } .bad { color: #b71c1c; font-weight: 600; }
.sig { color: #1f4e9b; font-weight: 600; }
.ns { color: #777; } .small { font-size: 0.85em; color: #555; }
.decision { background: #f7f9fb; border: 1px solid #cfd8e3; border-radius: 6px;
            padding: 0.6em 1.2em 0.8em; }
.decision h2 { margin-top: 0.4em; border: none; }
.warn { color: #8a5300; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em;
      white-space: pre-wrap; }
figure { display: inline-block; margin: 0.4em; width: 520px; max-width: 100%; }
img { max-width: 100%; }
"""


def decision_html(decision: dict[str, Any]) -> str:
    parts = ["<div class='decision' id='decision'><h2>Decision summary</h2>"]
    for key, title in TITLES.items():
        items = decision["lines"].get(key) or []
        if not items:
            continue
        cls = " class='warn'" if key == "robustness" and decision["p_best"] < 0.8 else ""
        parts.append(f"<p><b>{title}</b></p><ul{cls}>"
                     + "".join(f"<li>{html.escape(t)}</li>" for t in items) + "</ul>")
    parts.append("</div>")
    return "\n".join(parts)


def scenario_section(comp) -> str:
    parts = []
    for label, sc in zip(comp.labels, comp.scenarios, strict=True):
        if sc is None:
            parts.append(f"<h3>{html.escape(label)}</h3><p class='warn'>the scenario file has "
                         "moved or changed since the runs</p>")
            continue
        ivs = "".join(
            f"<li><b>{html.escape(iv.name)}</b> ({html.escape(iv.kind)})"
            + (f": {html.escape(iv.description)}" if iv.description else "") + "</li>"
            for iv in sc.interventions) or "<li>none</li>"
        sources = "".join(f"<li>{html.escape(str(s))}</li>" for s in sc.meta.get("sources", []))
        parts.append(
            f"<h3>{html.escape(label)}</h3><p>{html.escape(sc.description or '')}</p>"
            f"<p class='small'>name {html.escape(sc.name)}; file "
            f"{html.escape(shown_path(sc.path))}; hash <code>{sc.hash[:16]}</code></p>"
            f"<p>Interventions:</p><ul>{ivs}</ul>"
            + (f"<p>Sources (files under docs/ are in the clustersim repository):</p>"
               f"<ul class='small'>{sources}</ul>" if sources else "")
            + "<details><summary>scenario file</summary>"
            f"<pre>{html.escape(_without_paths(sc.text))}</pre>"
            "</details>")
    return "\n".join(parts)


def _without_paths(text: str) -> str:
    """A scenario's source text with the absolute file names of its headers shortened."""
    def short(m: re.Match) -> str:
        name = m.group(2)
        return m.group(1) + (shown_path(name) if Path(name).is_absolute() else name)

    return re.sub(r"^(# -+ )(.+?)$", short, text, flags=re.MULTILINE)


def _provenance(run: dict[str, Any]) -> str:
    rows = [
        ("package version", run.get("version")), ("git commit", run.get("git_commit")),
        ("created", run.get("created")), ("replicates", run.get("reps")),
        ("months", run.get("steps")), ("effects and costs measured", run.get("measure")),
        ("root seed", run.get("seed")),
        ("replicate seeds", ", ".join(str(s) for s in run.get("seeds", []))),
        ("overrides (--set)", ", ".join(f"{k} = {v}" for k, v in
                                        (run.get("overrides") or {}).items()) or "none"),
        ("ran on", run.get("mode") or ""), ("wall time (s)", fmt(run.get("wall_time_s"))),
        ("python / numpy / numba / mesa", " / ".join(str(run.get(k)) for k in
                                                     ("python", "numpy", "numba", "mesa"))),
    ] + [(f"scenario {s['label']}", f"{s['file']} sha256 {s['hash']}")
         for s in run.get("scenarios", [])]
    rows.insert(4, ("parameters", run.get("parameters") or ""))
    post = run.get("posterior")
    if post:
        rows.insert(5, ("posterior draws", f"{post.get('calibration')}: {post.get('file')} "
                        f"sha256 {post.get('sha256')}, {post.get('method')}, "
                        f"{post.get('n')} draws of {', '.join(post.get('parameters', []))}; "
                        "draw of each replicate: "
                        + ", ".join(str(d) for d in post.get("draws", []))))
    return "".join(f"<tr><th class='l'>{html.escape(str(k))}</th>"
                   f"<td class='l'>{html.escape(str(v))}</td></tr>" for k, v in rows)


def render_html(comp, an, figures: dict[str, bytes]) -> str:
    """The report of ``comp`` and its analysis ``an`` (:class:`sim.studies.compare.Analysis`)
    as one self-contained HTML page (no scripts, no outside resources)."""
    labels = comp.labels
    title = f"{labels[0]} vs {', '.join(labels[1:])}"
    currency = decision_currency(comp)
    figs = "\n".join(
        f"<figure><img alt='{html.escape(outputs.label(name))}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'></figure>"
        for name, png in figures.items())
    present = set(an.summary["outcome"])
    names = [n for n in OUTCOMES if n in present]
    names += [n for n in dict.fromkeys(an.summary["outcome"]) if n not in OUTCOMES
              and not n.startswith(("employment_sector_", "firms_sector_",
                                    "employment_town_", "firms_town_"))]
    month = an.decision.get("month", comp.steps)
    inc = incremental_table(an.incremental, currency)
    shocks = shocks_table(an.shocks)
    why = getattr(an, "why_html", "") or ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clustersim comparison: {html.escape(title)}</title>
<style>{CSS}</style></head>
<body>
<h1>Scenario comparison: {html.escape(title)}</h1>
{decision_html(an.decision)}

<p>{comp.reps} replicates of each scenario over {comp.steps} months; effects and costs are
measured {html.escape(an.measure)}. Replicate <i>i</i> of every scenario uses the same seed
(common random numbers), so differences from <b>{html.escape(labels[0])}</b> are paired:
identical scenarios differ by exactly zero. Intervals are t-based 95% confidence intervals over
replicates, written [low, high]. A paired difference is
<span class="good">green</span> when its interval excludes zero and the change is desirable,
<span class="bad">red</span> when it excludes zero and the change is undesirable,
<span class="sig">blue</span> when it excludes zero for an outcome with no better direction,
and <span class="ns">grey</span> when the interval includes zero. Money is in
{html.escape(currency or 'the scenario currency')}. What the model is and is not validated
for: docs/validation.md in the clustersim repository.</p>

<h2>Ranking</h2>
<p>By {html.escape(outputs.label(comp.target).lower())} at month {month:,}; "first in" is the
share of bootstrap resamples of the replicates (the same replicates for every scenario) in which
the scenario comes first.</p>
{ranking_table(an.rank)}

<h2>Public cost</h2>
<p>Every funded policy against <b>{html.escape(labels[0])}</b> with the same seeds: extra public
spending, extra units of each outcome (paired differences with 95% CIs), and the cost per extra
unit with Fieller's 95% interval. A cost is given only when the gain is significant; where the
policy gains at no extra cost it <i>dominates</i>, where it loses at no saving it is
<i>dominated</i>. Measured {html.escape(an.measure)}.</p>
{costs_table(an.costs, currency)}
{"<h3>What more money buys</h3><p>Policies that differ only in funding: the dearer one " +
 "against the cheaper, replicate by replicate (paired differences of spending and of each " +
 "outcome, the incremental cost per unit with Fieller's interval).</p>" + inc if inc else ""}
{"<h3>Shocks</h3><p>Scenarios that differ from another only by a shock are not policies: " +
 "their effect against that scenario, not a cost.</p>" + shocks if shocks else ""}

<h2>Effects</h2>
<p>At month {month:,}. &dagger;: the interval excludes zero, but the effect does not stay
significant once all the outcomes tested are accounted for (Benjamini-Hochberg).</p>
{effects_table(an.summary, labels, names)}

<h2>Employment and firms by sector and by town</h2>
{breakdown_section(an.summary, labels)}

<h2>Effects over time</h2>
<p>Paired difference from <b>{html.escape(labels[0])}</b> month by month (replicate by
replicate, same seeds), mean with its 95% band (effects_over_time.csv). Where the band leaves
the zero line the effect is clear.</p>
{figs}
{why}

<h2>Scenarios</h2>
{scenario_section(comp)}

<h2>Provenance</h2>
<div class='wide'><table>{_provenance(an.run)}</table></div>
<p class="small">Files: summary.csv, costs.csv, incremental.csv, shocks.csv, ranking.csv,
effects_over_time.csv, comparison.json, figures/*.png, and the runs as a sweep directory
(experiment.json, design.parquet, runs.parquet, series/), which <code>clustersim results</code>
queries. Produced by clustersim compare.</p>
</body></html>
"""
