"""The comparison report: time-series figures with confidence bands and a self-contained HTML page.

:func:`series_figures` draws, for each chosen output, the mean over replicates of every
scenario month by month with its t-based 95% confidence band, as PNG bytes (matplotlib's Agg
renderer through :class:`matplotlib.figure.Figure`; pyplot's global state is not touched).
:func:`render_html` builds one HTML page that opens without a server or network: figures are
embedded as base64 data, styles are inline, there are no scripts and no outside links; scenario
texts and sources are shown as escaped text. It reads only the comparison's tables.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["series_figures", "series_band", "render_html", "LABELS"]

#: Readable names of outputs, for figures and tables.
LABELS: dict[str, str] = {
    "firms": "Firms in business",
    "employment": "Employment (workers)",
    "jobs_created": "Jobs created since month 0",
    "output": "Output",
    "mean_productivity": "Mean productivity",
    "survival": "Survival of initial firms (share)",
    "entries_total": "Entries (total)",
    "exits_total": "Exits (total)",
    "cooperation_rate": "Cooperation rate",
    "mean_trust": "Mean trust",
    "jp_share": "Joint-purchasing share",
    "facilities_built": "Facilities built",
    "facilities_operating": "Facilities operating",
    "public_facilities_built": "Policy facilities (CFCs) built",
    "public_facilities_operating": "Policy facilities (CFCs) operating",
    "facility_users": "Facility users",
    "spv_members": "SPV members",
    "time_to_first_facility": "Month of the first facility",
    "eg_gamma_mean": "Spatial concentration (EG gamma, mean)",
    "herfindahl_regions": "Regional Herfindahl of employment",
    "public_spending_total": "Public spending (cumulative)",
}
_COLOURS = ("#1f5f8b", "#c0392b", "#27ae60", "#8e44ad", "#d68910", "#16a085", "#7f8c8d")


def series_band(series: pd.DataFrame, label: str, column: str, level: float = 0.95):
    """Per step: mean over the replicates of one scenario and its t-based confidence band.

    Returns (steps, mean, low, high) arrays; where fewer than two replicates have a finite
    value, or they do not vary, the band collapses to the mean.
    """
    part = series.loc[series["scenario"] == label, ["replicate", "step", column]]
    wide = part.pivot(index="step", columns="replicate", values=column)
    values = wide.to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    n = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(finite, values, 0.0).sum(axis=1)
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        dev = np.where(finite, values - mean[:, None], 0.0)
        sd = np.sqrt((dev ** 2).sum(axis=1) / np.maximum(n - 1, 1))
        tq = stats.t.ppf(0.5 + level / 2.0, np.maximum(n - 1, 1))
        half = np.where(n >= 2, tq * sd / np.sqrt(np.maximum(n, 1)), 0.0)
    return wide.index.to_numpy(), mean, mean - half, mean + half


def series_figures(comp, outputs) -> dict[str, bytes]:
    """One PNG per output present in the series: every scenario's mean with its 95% band."""
    from matplotlib.figure import Figure

    figures: dict[str, bytes] = {}
    for column in outputs:
        if column not in comp.series:
            continue
        fig = Figure(figsize=(6.4, 3.6), dpi=100)
        ax = fig.add_subplot()
        for k, label in enumerate(comp.labels):
            steps, mean, lo, hi = series_band(comp.series, label, column)
            colour = _COLOURS[k % len(_COLOURS)]
            ax.plot(steps, mean, color=colour, lw=1.8, label=label)
            ax.fill_between(steps, lo, hi, color=colour, alpha=0.2, lw=0)
        ax.set_title(LABELS.get(column, column), fontsize=11)
        ax.set_xlabel("month")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        figures[column] = buf.getvalue()
    return figures


# -- HTML ----------------------------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
th { background: #f4f6f8; } td.l, th.l { text-align: left; }
.pos { color: #1e7d32; font-weight: 600; } .neg { color: #b71c1c; font-weight: 600; }
.ns { color: #777; } .small { font-size: 0.85em; color: #555; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
figure { display: inline-block; margin: 0.4em; } img { max-width: 100%; }
"""


def _fmt(x: Any) -> str:
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
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


def _effect_cell(row: pd.Series) -> str:
    lo, hi = row["diff_ci_low"], row["diff_ci_high"]
    if not np.isfinite(row["diff_mean"]):
        return "<td></td>"
    cls = "ns"
    if np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0):
        cls = "pos" if lo > 0 else "neg"
    return (f'<td class="{cls}">{_fmt(row["diff_mean"])}<br>'
            f'<span class="small">{_interval(lo, hi)}</span></td>')


def _effects_table(summary: pd.DataFrame, labels: list[str]) -> str:
    base = labels[0]
    head = "".join(f"<th>{html.escape(lab)}<br><span class='small'>mean [95% CI]</span></th>"
                   for lab in labels)
    head += "".join(f"<th>{html.escape(lab)} &minus; {html.escape(base)}<br>"
                    "<span class='small'>paired difference [95% CI]</span></th>"
                    for lab in labels[1:])
    rows = []
    for outcome in dict.fromkeys(summary["outcome"]):
        part = summary[summary["outcome"] == outcome].set_index("scenario")
        cells = []
        for lab in labels:
            r = part.loc[lab] if lab in part.index else None
            cells.append("<td></td>" if r is None else
                         f"<td>{_fmt(r['mean'])}<br><span class='small'>"
                         f"{_interval(r['ci_low'], r['ci_high'])}</span></td>")
        for lab in labels[1:]:
            cells.append(_effect_cell(part.loc[lab]) if lab in part.index else "<td></td>")
        name = html.escape(LABELS.get(outcome, outcome))
        rows.append(f"<tr><th class='l'>{name}<br><span class='small'>{html.escape(outcome)}"
                    f"</span></th>{''.join(cells)}</tr>")
    return (f"<table><tr><th class='l'>outcome</th>{head}</tr>\n" + "\n".join(rows)
            + "</table>")


def _cost_cell(r: pd.Series, name: str) -> str:
    v = r[f"cost_per_{name}"]
    if not np.isfinite(v):
        gain = r[f"d_{name}s"]
        why = "no gain" if np.isfinite(gain) and gain <= 0 else "undefined"
        return f"<td class='ns'>{why}</td>"
    iv = _interval(r[f"cost_per_{name}_ci_low"], r[f"cost_per_{name}_ci_high"])
    note = iv or "<span class='ns'>interval undefined: gain not clearly above 0</span>"
    return f"<td>{_fmt(v)}<br><span class='small'>{note}</span></td>"


def _costs_table(costs: pd.DataFrame, currency: str) -> str:
    if costs.empty:
        return "<p>No alternative scenarios.</p>"
    unit = f" ({html.escape(currency)})" if currency else ""
    rows = []
    for _, r in costs.iterrows():
        cells = "".join(
            f"<td>{_fmt(r[f'd_{k}'])}<br><span class='small'>"
            f"{_interval(r[f'd_{k}_ci_low'], r[f'd_{k}_ci_high'])}</span></td>"
            for k in ("public", "jobs", "firms"))
        rows.append(f"<tr><th class='l'>{html.escape(r['scenario'])}</th>{cells}"
                    f"{_cost_cell(r, 'job')}{_cost_cell(r, 'firm')}</tr>")
    return ("<table><tr><th class='l'>scenario</th>"
            f"<th>extra public spending{unit}</th><th>extra jobs</th>"
            f"<th>extra firms in business</th><th>public cost per job{unit}</th>"
            f"<th>public cost per firm kept{unit}</th></tr>\n" + "\n".join(rows) + "</table>")


def _scenario_section(comp) -> str:
    parts = []
    for label, sc in zip(comp.labels, comp.scenarios, strict=True):
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
                figures: dict[str, bytes], run: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (no scripts, no outside resources)."""
    labels = comp.labels
    title = f"{labels[0]} vs {', '.join(labels[1:])}"
    currency = comp.scenarios[0].meta.get("currency", "")
    figs = "\n".join(
        f"<figure><img alt='{html.escape(LABELS.get(name, name))}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'></figure>"
        for name, png in figures.items())
    prov_rows = [
        ("package version", run.get("version")), ("git commit", run.get("git_commit")),
        ("created", run.get("created")), ("replicates", run.get("reps")),
        ("months", run.get("steps")), ("root seed", run.get("seed")),
        ("replicate seeds", ", ".join(str(s) for s in run.get("seeds", []))),
        ("overrides (--set)", ", ".join(f"{k} = {v}" for k, v in
                                        (run.get("overrides") or {}).items()) or "none"),
        ("workers", run.get("workers")), ("wall time (s)", _fmt(run.get("wall_time_s"))),
        ("python / numpy / numba / mesa", " / ".join(str(run.get(k)) for k in
                                                     ("python", "numpy", "numba", "mesa"))),
    ] + [(f"scenario {s['label']}", f"{s['file']} sha256 {s['hash']}")
         for s in run.get("scenarios", [])]
    prov = "".join(f"<tr><th class='l'>{html.escape(str(k))}</th>"
                   f"<td class='l'>{html.escape(str(v))}</td></tr>" for k, v in prov_rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clustersim comparison: {html.escape(title)}</title>
<style>{_CSS}</style></head>
<body>
<h1>Scenario comparison: {html.escape(title)}</h1>
<p>{comp.reps} replicates of each scenario over {comp.steps} months. Replicate <i>i</i> of every
scenario uses the same seed (common random numbers), so differences from
<b>{html.escape(labels[0])}</b> are paired: identical scenarios differ by exactly zero. Intervals
are t-based 95% confidence intervals over replicates; a paired difference is shown in
<span class="pos">green</span> or <span class="neg">red</span> when its interval excludes
zero, in grey otherwise. Money is in {html.escape(currency or 'the scenario currency')}.</p>

<h2>Effects</h2>
{_effects_table(summary, labels)}

<h2>Public cost</h2>
<p>Extra public spending, jobs and firms in business at the end, relative to
<b>{html.escape(labels[0])}</b> (paired differences with 95% CIs), and their ratios.
The cost per job is the extra public spending over the extra jobs; its interval (paired
bootstrap) is given only when the job gain is clearly above zero.</p>
{_costs_table(costs, currency)}

<h2>Over time</h2>
<p>Mean over replicates with 95% confidence bands.</p>
{figs}

<h2>Scenarios</h2>
{_scenario_section(comp)}

<h2>Provenance</h2>
<table>{prov}</table>
<p class="small">Files: summary.csv, costs.csv, runs.parquet, series.parquet, figures/*.png,
run.json. Produced by clustersim compare.</p>
</body></html>
"""
