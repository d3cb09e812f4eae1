"""The tables of the comparison report: effects, public cost, incremental cost, shocks, ranking,
breakdowns. Every table sits in a ``div.wide`` that scrolls sideways when it is wider than
the page, so no column is ever cut off.

Colours say whether a change is desirable (declared per outcome in :mod:`sim.measure.outputs`):
green when a significant change is good, red when it is bad, blue when the outcome has no
desirable direction, grey when the interval includes zero.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from sim.measure import outputs
from sim.studies import costeff
from sim.studies.report.numbers import decimals, fmt, interval, pct, plural, signed

__all__ = ["effect_class", "wide", "effects_table", "cost_text", "costs_table",
           "incremental_table", "shocks_table", "ranking_table", "breakdown_section",
           "estimate", "Q_LEVEL"]

#: Adjusted p-value (Benjamini-Hochberg q) below which an effect stays significant.
Q_LEVEL = 0.05


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


def wide(table: str) -> str:
    """``table`` in a wrapper that scrolls sideways when the page is narrower."""
    return f"<div class='wide'>{table}</div>"


def estimate(mean, lo, hi, sign: bool = True) -> tuple[str, str]:
    """(estimate, interval) to the same decimals."""
    d = decimals(mean, lo, hi)
    return (signed(mean, d) if sign else fmt(mean, d)), interval(lo, hi, d)


def _cell(cls: str, mean, lo, hi, sign: bool = True, mark: str = "") -> str:
    top, iv = estimate(mean, lo, hi, sign)
    return (f"<td class='{cls}'>{top}{mark}<br><span class='small'>{iv}</span></td>"
            if top else "<td></td>")


def effects_table(summary: pd.DataFrame, labels: list[str], names) -> str:
    """Means with intervals per scenario, and each alternative's paired difference from the
    base; a dagger marks a difference that is significant alone but not once every outcome
    tested is accounted for (Benjamini-Hochberg q >= 0.05)."""
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
                         _cell("", r["mean"], r["ci_low"], r["ci_high"], sign=False))
        for lab in labels[1:]:
            if lab not in part.index or not np.isfinite(part.loc[lab, "diff_mean"]):
                cells.append("<td></td>")
                continue
            r = part.loc[lab]
            cls = effect_class(outcome, r["diff_ci_low"], r["diff_ci_high"])
            q = r.get("diff_q", np.nan)
            mark = "&dagger;" if cls != "ns" and np.isfinite(q) and q >= Q_LEVEL else ""
            cells.append(_cell(cls, r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"],
                               mark=mark))
        way = {1: "&uarr; better", -1: "&darr; better"}.get(outputs.direction(outcome), "")
        name = html.escape(outputs.label(outcome))
        rows.append(f"<tr><th class='l'>{name}<br><span class='small'>{html.escape(outcome)}"
                    f" {way}</span></th>{''.join(cells)}</tr>")
    return wide(f"<table><tr><th class='l'>outcome</th>{head}</tr>\n" + "\n".join(rows)
                + "</table>")


def cost_text(r, currency: str = "") -> tuple[str, str]:
    """(css class, plain text) for the cost per unit in a row of a cost table."""
    status, unit = r["status"], r["unit"]
    ratio = (r.get("ratio", np.nan), r.get("ratio_ci_low", np.nan), r.get("ratio_ci_high", np.nan))
    if currency.startswith("thousand ") and np.isfinite(ratio[0]) and abs(ratio[0]) < 1:
        # a fraction of a thousand per unit (a tonne treated for 0.52 USD) reads in units
        ratio, currency = tuple(1000.0 * x for x in ratio), currency.removeprefix("thousand ")
    money = f" {currency}" if currency else ""
    if status == costeff.COST_PER_UNIT:
        top, iv = estimate(*ratio, sign=False)
        return "", f"{top}{money} per extra {unit} (95% CI {iv})"
    if status == costeff.DOMINATES:
        return "good", f"dominates: more at no extra public cost (per {unit})"
    if status == costeff.DOMINATED:
        return "bad", f"dominated: fewer at no saving (per {unit})"
    if status == costeff.SAVING_PER_LOSS:
        top, iv = estimate(*ratio, sign=False)
        return "bad", f"saves {top}{money} per {unit} lost (95% CI {iv})"
    if status == costeff.NO_GAIN:
        return "ns", f"no significant gain: no cost per {unit}"
    return "ns", str(status)


def _cost_rows_html(costs: pd.DataFrame, first: str) -> list[str]:
    rows = []
    for (label, against), part in costs.groupby(["scenario", "against"], sort=False):
        r0 = part.iloc[0]
        span = len(part)
        spend = _cell("", r0["d_public"], r0["d_public_ci_low"], r0["d_public_ci_high"])
        head = (f"<th class='l' rowspan='{span}'>{html.escape(str(label))}"
                + first.format(against=html.escape(str(against)),
                             change=html.escape(str(r0.get("change", "")))) + "</th>"
                + spend.replace("<td", f"<td rowspan='{span}'", 1))
        for k, (_, r) in enumerate(part.iterrows()):
            cls = effect_class(r["outcome"], r["gain_ci_low"], r["gain_ci_high"])
            gain = _cell(cls, r["gain"], r["gain_ci_low"], r["gain_ci_high"])
            ccls, text = cost_text(r)
            what = (f"{html.escape(outputs.label(r['outcome']))}<br><span class='small'>in "
                    f"{html.escape(plural(r['unit']))}</span>")
            rows.append(f"<tr>{head if k == 0 else ''}<td class='l'>{what}</td>{gain}"
                        f"<td class='l {ccls}'>{html.escape(text)}</td></tr>")
    return rows


def costs_table(costs: pd.DataFrame, currency: str) -> str:
    """Every funded policy against the base: extra spending, and per outcome the gain and
    the cost per unit."""
    if costs.empty:
        return "<p>No funded alternative.</p>"
    return _money_table(_cost_rows_html(costs, ""), "policy", "cost per extra unit", currency)


def incremental_table(inc: pd.DataFrame, currency: str) -> str:
    """What the dearer of two policies differing only in funding buys over the cheaper."""
    if inc.empty:
        return ""
    rows = _cost_rows_html(inc, "<br><span class='small'>over {against}: {change}</span>")
    return _money_table(rows, "dearer policy", "incremental cost per unit", currency)


def _money_table(rows: list[str], policy: str, per_unit: str, currency: str) -> str:
    """A cost table: policy, extra public spending, outcome, extra units, cost per unit."""
    unit = f" ({html.escape(currency)})" if currency else ""
    return wide(f"<table><tr><th class='l'>{policy}</th>"
                f"<th>extra public spending{unit}<br><span class='small'>[95% CI]</span></th>"
                "<th class='l'>outcome</th><th>extra units<br><span class='small'>[95% CI]"
                f"</span></th><th class='l'>{per_unit}{unit}</th></tr>\n"
                + "\n".join(rows) + "</table>")


def shocks_table(shocks: pd.DataFrame) -> str:
    """Each shock's paired effect against the scenario it changes."""
    if shocks.empty:
        return ""
    rows = []
    for _, r in shocks.iterrows():
        cls = effect_class(r["outcome"], r["ci_low"], r["ci_high"])
        rows.append(f"<tr><th class='l'>{html.escape(r['scenario'])}<br><span class='small'>"
                    f"{html.escape(r['shocks'])} against {html.escape(r['against'])}</span>"
                    f"</th><td class='l'>{html.escape(outputs.label(r['outcome']))}</td>"
                    + _cell(cls, r["mean"], r["ci_low"], r["ci_high"]) + "</tr>")
    return wide("<table><tr><th class='l'>shock</th><th class='l'>outcome</th>"
                "<th>paired difference<br><span class='small'>[95% CI]</span></th></tr>"
                + "".join(rows) + "</table>")


def ranking_table(rank: pd.DataFrame) -> str:
    rows = []
    for _, r in rank.iterrows():
        cls = effect_class(r["outcome"], r["diff_ci_low"], r["diff_ci_high"])
        settled = ("" if not isinstance(r["settled"], bool | np.bool_) else
                   ("yes" if r["settled"] else "no"))
        versus = ("<td class='ns'>reference</td>" if not np.isfinite(r["wins_vs_base"])
                  else _cell(cls, r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"]))
        rows.append(f"<tr><td>{int(r['rank'])}</td><th class='l'>{html.escape(r['scenario'])}"
                    f"</th><td>{fmt(r['mean'])}</td>" + versus
                    + f"<td>{pct(r['p_best'])}</td><td>{pct(r['wins_vs_base'])}</td>"
                    f"<td>{settled}</td></tr>")
    return wide("<table><tr><th>rank</th><th class='l'>scenario</th><th>mean</th>"
                "<th>vs base [95% CI]</th><th>first in (resamples)</th><th>beats base "
                "(replicates)</th><th>ahead of next (significant)</th></tr>"
                + "".join(rows) + "</table>")


def breakdown_section(summary: pd.DataFrame, labels: list[str]) -> str:
    parts = []
    for title, prefixes in (("By sector", ("employment_sector_", "firms_sector_")),
                            ("By town", ("employment_town_", "firms_town_"))):
        names = [n for n in dict.fromkeys(summary["outcome"]) if n.startswith(prefixes)]
        names.sort(key=lambda n: (n.split("_", 2)[2], not n.startswith("employment")))
        if names:
            parts.append(f"<h3>{title}</h3>" + effects_table(summary, labels, names))
    return "\n".join(parts) or "<p>No breakdown in these runs.</p>"
