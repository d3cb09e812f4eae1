"""Short summaries of a run, a scenario and a model: one plain line for a terminal or a saved
notebook (a few hundred characters, not the tables), beside the HTML table notebooks show."""

from __future__ import annotations

from pathlib import Path

from sim.io.scenario import load_scenario
from sim.measure.summary import MAX_LINE, line, model_text, scenario_text
from sim.studies.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
CFC = ROOT / "scenarios" / "cfc.toml"


def test_a_line_quotes_text_and_is_cut_to_its_maximum():
    text = line("T", [("a b", "x, y"), ("n", 3), ("v", 0.1234567)])
    assert text == "T(a_b='x, y', n=3, v=0.123457)"
    long = line("T", [(f"k{i}", "v" * 20) for i in range(40)])
    assert len(long) == MAX_LINE
    assert long.endswith("...)")


def test_a_run_result_repr_is_one_short_line_of_its_headline():
    result = simulate(CFC, steps=3, seed=1)
    text = repr(result)
    assert text.startswith("RunResult(scenario='cfc', seed=1, months=3, firms=")
    assert "\n" not in text
    assert len(text) <= MAX_LINE
    assert f"firms={result.final['firms']:.6g}" in text


def test_scenario_and_model_summaries_name_what_they_hold():
    scenario = load_scenario(CFC)
    text = scenario_text(scenario)
    assert repr(scenario) == text
    assert text.startswith("Scenario(name='cfc', file=")
    assert "interventions='cfc (cfc)'" in text
    assert len(text) <= MAX_LINE
    model = scenario.build(rng=1, agents=False)
    model.step()
    text = model_text(model)
    assert repr(model) == text
    assert text.startswith("ClusterModel(month=1, firms=")
    assert "interventions='cfc (cfc, waiting)'" in text
    assert len(text) <= MAX_LINE
