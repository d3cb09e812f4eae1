"""The classroom app without a browser: the page builds, the buttons act on the model through
scheduled interventions, the sliders come from the parameter table, SolaraViz takes the model
as Mesa's documentation shows, and the live interventions behave like scheduled ones."""

from __future__ import annotations

from pathlib import Path

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara

from sim.core.params import _FIELD_INFO, Params
from sim.core.state import FacilityState
from sim.interventions.shocks import MovementRestriction
from sim.model import ClusterModel
from sim.views import live

ROOT = Path(__file__).resolve().parents[1]
FREE_RIDING = ROOT / "scenarios" / "classroom_free_riding.toml"


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("CLUSTERSIM_SCENARIO", str(FREE_RIDING))
    monkeypatch.setenv("CLUSTERSIM_SCENARIO_DIR", str(ROOT / "scenarios"))
    import sim.views.app

    return sim.views.app


def _buttons(rc) -> dict[str, v.Btn]:
    return {b.children[0]: b for b in rc.find(v.Btn).widgets
            if b.children and isinstance(b.children[0], str)}


def test_page_builds_map_charts_and_buttons(app):
    box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    buttons = _buttons(rc)
    assert set(app.ACTIONS) | {"Reset", "Step"} <= set(buttons)
    images = rc.find(ipywidgets.Image).widgets
    assert len(images) == 2  # the map and the charts
    assert all(img.value[:8] == b"\x89PNG\r\n\x1a\n" and len(img.value) > 5000
               for img in images)
    before = [img.value for img in images]
    buttons["Step"].click()
    after = [img.value for img in rc.find(ipywidgets.Image).widgets]
    assert after[0] != before[0]
    assert after[1] != before[1]


def test_button_opens_a_cfc_through_a_schedule(app):
    box, rc = solara.render(app.Page(), handle_error=False)
    buttons = _buttons(rc)
    assert "cfc_now_m0" not in str([w.children for w in rc.find(v.Alert).widgets])
    buttons["Open a CFC here"].click()
    alerts = str([w.children for w in rc.find(v.Alert).widgets])
    assert "cfc_now_m0: a CFC is offered in Town" in alerts
    buttons["Open a CFC here"].click()
    alerts = str([w.children for w in rc.find(v.Alert).widgets])
    assert "cfc_now_m0_2: a CFC is offered in Town" in alerts  # the second, with its own name


def test_act_applies_interventions_on_the_next_step(app):
    model = app.ClassroomModel(scenario=str(FREE_RIDING), seed=1)
    assert "cfc_now_m0" in app.act(model, "Open a CFC here", "Town")
    n_before = model.facilities.n
    model.step()
    assert model.facilities.n == n_before + 1  # the drive opened
    assert model.facilities.status[-1] in (FacilityState.DRIVE, FacilityState.BUILDING)
    assert "restrictions" in app.act(model, "Impose movement restrictions", "Village")
    model.step()
    assert model.mods.between_mult[1] > 1.0
    assert model.mods.between_mult[0] == 1.0
    assert "lifted" in app.act(model, "Lift restrictions", "Town")
    model.step()
    assert model.mods.between_mult[1] == 1.0
    assert app.act(model, "Lift restrictions", "Town") == "no restrictions to lift"
    assert "trust building" in app.act(model, "Start trust building", "Town")
    with pytest.raises(ValueError, match="allowed"):
        app.act(model, "Build a wall", "Town")


def test_live_intervention_equals_a_scheduled_one():
    """A restriction imposed from the app after month 3 is the restriction a scenario
    schedules from month 4 (the next one simulated): same run, bit for bit."""
    spec = MovementRestriction(name="r", regions=("Core",), start=4)
    scheduled = ClusterModel(n_firms=150, rng=4, interventions=(spec,), agents=False)
    live_model = ClusterModel(n_firms=150, rng=4, agents=False)
    for _ in range(3):
        scheduled.step()
        live_model.step()
    live.intervene_now(live_model, MovementRestriction(name="r", regions=("Core",)))
    for _ in range(5):
        scheduled.step()
        live_model.step()
    a, b = scheduled.series(), live_model.series()
    assert np.array_equal(a["employment"], b["employment"])
    assert live.active(live_model, MovementRestriction) == ["r"]
    with pytest.raises(ValueError, match="not yet used"):
        live.intervene_now(live_model, MovementRestriction(name="r"))


def test_sliders_follow_the_parameter_table(app):
    params = app.model_params(FREE_RIDING)
    assert params["scenario"]["value"] == "classroom_free_riding"
    assert "classroom_trust_first" in params["scenario"]["values"]
    for name in app.SLIDERS:
        group, _ = Params.resolve(name)
        meta = _FIELD_INFO[group][name].metadata
        slider = params[name]
        assert meta["lo"] <= slider["min"] <= slider["value"] <= slider["max"] <= meta["hi"]
    # the scenario's own value, not the default
    assert params["initial_trust"]["value"] == pytest.approx(0.3)


def test_untouched_sliders_keep_the_picked_scenarios_values(app):
    params = app.model_params(FREE_RIDING)
    base = params["slider_base"]
    values = {k: v["value"] for k, v in params.items() if isinstance(v, dict) and "type" in v}
    values["scenario"] = "baseline"
    model = app.ClassroomModel(slider_base=base, **values)
    assert model.params.get("initial_trust") == pytest.approx(0.5)  # baseline's, not 0.3
    values["initial_trust"] = 0.9  # a slider that was moved
    model = app.ClassroomModel(slider_base=base, **values)
    assert model.params.get("initial_trust") == pytest.approx(0.9)


def test_classroom_model_stops_at_the_scenarios_end(app):
    model = app.ClassroomModel(scenario=str(FREE_RIDING), seed=0)
    while model.running:
        model.step()
    assert model.steps == model.scenario.steps == 60


def test_solaraviz_takes_the_plain_model_as_mesas_docs_show():
    from mesa.visualization import SolaraViz, make_plot_component
    from mesa.visualization.user_param import Slider

    model = ClusterModel(n_firms=60, rng=1)
    page = SolaraViz(model, components=[make_plot_component(["firms", "cooperation_rate"])],
                     model_params={"n_firms": Slider("firms", 60, 10, 300, 10), "seed": 1})
    box, rc = solara.render(solara.AppLayout(children=[page]), handle_error=False)
    buttons = _buttons(rc)
    assert {"Reset", "Step"} <= set(buttons)
    assert len(rc.find(ipywidgets.Image).widgets) == 1  # the plot component's figure
    buttons["Step"].click()
    assert model.steps == 1
    assert len(model.datacollector.model_vars["firms"]) == 2



def test_notebook_summaries():
    from sim.io.scenario import load_scenario
    from sim.studies.simulate import simulate

    sc = load_scenario(FREE_RIDING)
    html = sc._repr_html_()
    assert "classroom_free_riding" in html
    assert "tool_room (cfc)" in html
    model = sc.build(rng=1, agents=False)
    model.step()
    html = model._repr_html_()
    assert "<th style='text-align:left'>month</th><td style='text-align:left'>1</td>" in html
    assert "tool_room (cfc, waiting)" in html
    result = simulate(sc, steps=2, seed=1)
    html = result._repr_html_()
    assert "RunResult" in html
    assert "cooperation_rate" in html
    assert "<script" not in html.lower()


def test_app_update_benchmark_reports_its_parts():
    from sim.bench.model import app_updates_per_s

    res = app_updates_per_s(n_firms=200, updates=3)
    assert res["updates_per_s"] > 0
    parts = res["step_ms"] + res["map_ms"] + res["charts_ms"]
    assert res["updates_per_s"] == pytest.approx(1e3 / parts)


def test_map_and_charts_components_in_a_plain_solaraviz(app):
    from mesa.visualization import SolaraViz

    model = ClusterModel(n_firms=80, rng=2)
    page = SolaraViz(model, components=[app.map_component, app.charts_component])
    box, rc = solara.render(solara.AppLayout(children=[page]), handle_error=False)
    before = [img.value for img in rc.find(ipywidgets.Image).widgets]
    assert len(before) == 2
    _buttons(rc)["Step"].click()
    after = [img.value for img in rc.find(ipywidgets.Image).widgets]
    assert after[0] != before[0]
    assert after[1] != before[1]


def test_viz_serves_on_loopback_only_and_refuses_bad_input(tmp_path, capsys, monkeypatch):
    from sim.cli import main
    from sim.cli.viz import server_command, server_env

    cmd = server_command(8123)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert "--no-check-version" in cmd
    env = server_env(FREE_RIDING)
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    assert env["CLUSTERSIM_SCENARIO"] == str(FREE_RIDING.resolve())
    monkeypatch.chdir(tmp_path)
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    taken = busy.getsockname()[1]
    cases = ((["viz", "missing.toml"], "missing.toml"),
             (["viz", str(FREE_RIDING), "--port", "0"], "--port"),
             (["viz", str(FREE_RIDING), "--port", str(taken)], "in use"))
    try:
        for args, message in cases:
            assert main(args) == 2
            err = capsys.readouterr().err.strip()
            assert message in err
            assert len(err.splitlines()) == 1
    finally:
        busy.close()
    assert list(tmp_path.iterdir()) == []
