"""Short summaries of a model, a scenario and a run: the ``_repr_html_`` notebooks show, and
the plain ``repr`` a terminal or a saved notebook shows.

Each is what one wants to see first (not the data itself: ``model.series()`` and
``result.series`` are DataFrames with their own display): an HTML table whose every value is
escaped, or one line of a few hundred characters at most.
"""

from __future__ import annotations

import html
import re
from pathlib import PurePath
from typing import Any

__all__ = ["table", "line", "model_html", "scenario_html", "result_html", "model_text",
           "scenario_text", "result_text"]

#: longest plain repr, in characters (values are cut to fit)
MAX_LINE = 300


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def table(title: str, rows: list[tuple[str, Any]]) -> str:
    """A two-column HTML table under a bold title."""
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                   f"<td style='text-align:left'>{html.escape(_fmt(v))}</td></tr>"
                   for k, v in rows)
    return f"<div><b>{html.escape(title)}</b><table>{body}</table></div>"


def _plain(value: Any) -> str:
    if isinstance(value, str | PurePath):
        return repr(str(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def line(title: str, rows: list[tuple[str, Any]]) -> str:
    """``title(key=value, ...)`` on one line of at most :data:`MAX_LINE` characters."""
    parts = [f"{re.sub(r'[^0-9a-zA-Z]+', '_', k).strip('_')}={_plain(v)}" for k, v in rows]
    text = f"{title}({', '.join(parts)})"
    return text if len(text) <= MAX_LINE else text[:MAX_LINE - 4] + "...)"


def _interventions(specs) -> str:
    return ", ".join(f"{s.name} ({s.kind})" for s in specs) or "none"


def model_rows(model) -> list[tuple[str, Any]]:
    latest = model.recorder.latest
    states = []
    for sch in model.schedules:
        state = "ended" if sch.ended else "active" if sch.active else "waiting"
        states.append(f"{sch.spec.name} ({sch.spec.kind}, {state})")
    return [
        ("month", model.steps),
        ("firms", latest.get("firms", 0)),
        ("employment", latest.get("employment", 0.0)),
        ("cooperation rate", latest.get("cooperation_rate", 0.0)),
        ("mean trust", latest.get("mean_trust", 0.0)),
        ("facilities operating", latest.get("facilities_operating", 0)),
        ("regions", ", ".join(r.name for r in model.world.regions)),
        ("sectors", ", ".join(s.name for s in model.world.sectors)),
        ("interventions", ", ".join(states) or "none"),
    ]


def model_html(model) -> str:
    return table(type(model).__name__, model_rows(model))


def model_text(model) -> str:
    return line(type(model).__name__, model_rows(model))


def scenario_rows(scenario) -> list[tuple[str, Any]]:
    return [
        ("file", scenario.path or "(none)"),
        ("months", scenario.steps),
        ("regions", ", ".join(r.name for r in scenario.world.regions)),
        ("sectors", ", ".join(s.name for s in scenario.world.sectors)),
        ("initial firms", sum(g.count for g in scenario.world.firms) if scenario.world.firms
         else scenario.params.world.n_firms),
        ("interventions", _interventions(scenario.interventions)),
        ("hash", scenario.hash[:12]),
    ]


def scenario_html(scenario) -> str:
    desc = " ".join(scenario.description.split())
    rows = [("description", desc if len(desc) <= 240 else desc[:237] + "...")]
    return table(f"Scenario {scenario.name}", rows + scenario_rows(scenario))


def scenario_text(scenario) -> str:
    return line("Scenario", [("name", scenario.name)] + scenario_rows(scenario))


def result_rows(result) -> list[tuple[str, Any]]:
    from sim.measure.collect import HEADLINE

    prov, final = result.provenance, result.final
    rows: list[tuple[str, Any]] = [
        ("scenario", prov.get("scenario") or "(model)"),
        ("seed", prov.get("seed", "")),
        ("months", prov.get("steps", len(result.series) - 1)),
    ]
    rows += [(key, final[key]) for key in HEADLINE if key in final]
    if "wall_time_s" in prov:
        rows.append(("wall time (s)", prov["wall_time_s"]))
    return rows


def result_html(result) -> str:
    return table("RunResult", result_rows(result))


def result_text(result) -> str:
    return line("RunResult", result_rows(result))
