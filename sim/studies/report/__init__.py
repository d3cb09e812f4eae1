"""The comparison report: a decision summary, effects with desirable-direction colours, cost per
job and per unit of purpose, incremental costs, shocks, breakdowns by sector and town, and
effects over time, as one self-contained HTML page.

- :mod:`~sim.studies.report.numbers`: one number format for every figure and interval;
- :mod:`~sim.studies.report.figures`: paired effects month by month;
- :mod:`~sim.studies.report.tables`: the tables;
- :mod:`~sim.studies.report.summary`: the decision summary in plain words;
- :mod:`~sim.studies.report.page`: the HTML page.
"""

from sim.measure import outputs
from sim.studies.report.figures import effect_figures
from sim.studies.report.numbers import fmt, interval, pct, shown_path, signed
from sim.studies.report.page import CSS, render_html
from sim.studies.report.summary import decision_currency, decision_summary
from sim.studies.report.tables import cost_text, effect_class

__all__ = ["effect_figures", "decision_summary", "decision_currency", "render_html", "LABELS",
           "effect_class", "cost_text", "CSS", "fmt", "signed", "interval", "pct",
           "shown_path"]

#: Readable names of outputs (declared in :mod:`sim.measure.outputs`).
LABELS = outputs.LABELS
