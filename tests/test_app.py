"""The classroom app without a browser: the page builds, the buttons act on the model through
scheduled interventions, the sliders come from the parameter table, SolaraViz takes the model
as Mesa's documentation shows, and the live interventions behave like scheduled ones."""

from __future__ import annotations

import os
from pathlib import Path

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara

from sim.core.errors import InputError
from sim.core.params import FIELD_INFO, Params
from sim.core.state import FacilityState
from sim.interventions.shocks import MovementRestriction
from sim.model import ClusterModel
from sim.views import live

ROOT = Path(__file__).resolve().parents[1]
FREE_RIDING = ROOT / "scenarios" / "classroom_free_riding.toml"
JPEG = b"\xff\xd8\xff"


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("CLUSTERSIM_SCENARIO", str(FREE_RIDING))
    monkeypatch.setenv("CLUSTERSIM_SCENARIO_DIR", str(ROOT / "scenarios"))
    import sim.views.app

    return sim.views.app


def _buttons(rc) -> dict[str, v.Btn]:
    return {b.children[0]: b for b in rc.find(v.Btn).widgets
            if b.children and isinstance(b.children[0], str)}


def _widget(rc, cls, label_start: str):
    found = [w for w in rc.find(cls).widgets if str(w.label).startswith(label_start)]
    assert len(found) == 1, (label_start, [w.label for w in rc.find(cls).widgets])
    return found[0]


def _texts(rc) -> str:
    return " | ".join(str(w.children) for w in rc.find(v.Html).widgets)


def _page(app, **kw):
    runs = []
    box, rc = solara.render(app.Page(on_run=runs.append, **kw), handle_error=False)
    return rc, runs


def test_page_builds_map_charts_and_buttons(app):
    rc, runs = _page(app)
    buttons = _buttons(rc)
    assert set(app.ACTIONS) | {"Reset", "Step", "▶"} <= set(buttons)
    assert set(app.SPEEDS) <= set(buttons)  # the speed control
    images = rc.find(ipywidgets.Image).widgets
    assert len(images) == 2  # the map and the charts
    assert all(img.value[:3] == JPEG and img.format == "jpeg" and len(img.value) > 5000
               for img in images)  # JPEG on the projector page: a third of PNG's time
    before = [img.value for img in images]
    buttons["Step"].click()
    after = [img.value for img in rc.find(ipywidgets.Image).widgets]
    assert after[0] != before[0]
    assert after[1] != before[1]
    assert runs[-1].left.steps == 1
    assert "Month 1 of 60" in _texts(rc)


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


# --- Reset is the same model ----------------------------------------------------------------

SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
CLASSROOM = sorted((ROOT / "scenarios").glob("classroom_*.toml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_sliders_hold_every_shipped_scenarios_values(app, path):
    """Each slider's grid (lo + k * step) holds the scenario's value exactly, within the
    parameter table's range, so the page never shows (or sends back) a value the scenario
    does not have."""
    values = app.scenario_values(str(path))
    for name, spec in app.SLIDERS.items():
        group, _ = Params.resolve(name)
        meta = FIELD_INFO[group][name].metadata
        assert meta["lo"] <= spec.lo < spec.hi <= meta["hi"], name
        if name == "n_firms" and app.lists_firms(str(path)):
            continue  # disabled: the scenario lists its firms
        assert spec.lo <= values[name] <= spec.hi, (name, values[name])
        assert app.snap(name, values[name]) == values[name], (name, values[name])


def test_snap_rounds_to_the_grid(app):
    assert app.snap("transport_share", 0.051) == 0.05
    assert app.snap("transport_share", 0.30000000000000004) == 0.3
    assert app.snap("entry_rate", 0.0068000000000000005) == 0.0068
    assert app.snap("n_firms", 1234) == 1230
    assert app.snap("beta_sector", 99.0) == 5.0  # clipped to the slider


def test_a_slider_changes_the_model_only_when_moved(app):
    """The browser's echo of a slider at the scenario's value (even off the grid by a float's
    last bit) is no change; a move is, shown as changed beside the scenario's value; moving
    back, or the button, undoes it."""
    rc, runs = _page(app)
    first = runs[-1].settings
    transport = _widget(rc, v.Slider, "cost of reaching the market")
    transport.v_model = 0.05
    transport.v_model = 0.05000000000000001
    assert "changed" not in transport.label
    _buttons(rc)["Reset"].click()
    assert runs[-1].settings == first
    assert runs[-1].settings.moved == ()
    transport.v_model = 0.1
    assert "changed; the scenario has 0.050" in transport.label
    assert "press Reset" in str([w.children for w in rc.find(v.Alert).widgets])
    _buttons(rc)["Reset"].click()
    assert runs[-1].settings.moved == (("transport_share", 0.1),)
    assert runs[-1].left.params.get("transport_share") == 0.1
    _buttons(rc)["Back to the scenario's values"].click()
    assert "changed" not in transport.label
    _buttons(rc)["Reset"].click()
    assert runs[-1].settings == first


def test_the_picker_loads_a_scenario_with_its_own_values(app):
    rc, runs = _page(app)
    trust = _widget(rc, v.Slider, "trust in a new partner")
    trust.v_model = 0.9
    _widget(rc, v.Select, "scenario").v_model = "classroom_shocks"
    run = runs[-1]
    assert run.left.scenario.name == "classroom_shocks"
    assert run.settings.moved == ()  # the picker resets the sliders
    assert run.left.params.get("initial_trust") == 0.5  # classroom_shocks' own
    trust = _widget(rc, v.Slider, "trust in a new partner")
    assert trust.v_model == 0.5
    assert "changed" not in trust.label
    assert run.left.params.get("transport_share") == 0.1


def test_n_firms_is_disabled_where_the_scenario_lists_its_firms(app, tmp_path, monkeypatch):
    rc, runs = _page(app)
    slider = _widget(rc, v.Slider, "firms at the start")
    assert slider.disabled
    assert "lists its 150 firms town by town" in _texts(rc)
    with pytest.raises(InputError, match="lists its 150 firms"):
        app.ClassroomModel(str(FREE_RIDING), n_firms=500)
    # a scenario without [[firms]]: the slider works
    text = FREE_RIDING.read_text()
    unlisted = tmp_path / "unlisted.toml"
    unlisted.write_text(text[:text.index("[[firms]]")] + text[text.index("[params]"):])
    monkeypatch.setenv("CLUSTERSIM_SCENARIO", str(unlisted))
    monkeypatch.setenv("CLUSTERSIM_SCENARIO_DIR", str(tmp_path))
    rc, runs = _page(app)
    slider = _widget(rc, v.Slider, "firms at the start")
    assert not slider.disabled
    slider.v_model = 80
    _buttons(rc)["Reset"].click()
    assert runs[-1].left.params.get("n_firms") == 80
    assert 60 < int(runs[-1].left.firms.alive.sum()) <= 80  # (some close in the burn-in)


@pytest.mark.slow  # every control of every kind in turn
def test_every_control_in_turn_leaves_a_working_page(app):
    """Every slider to both ends, every choice of every picker and toggle, every button; then
    Reset and Step: the page still runs, with no error shown."""
    rc, runs = _page(app)
    for spec in app.SLIDERS.values():
        slider = _widget(rc, v.Slider, spec.label)
        if not slider.disabled:
            for value in (spec.hi, spec.lo):
                slider.v_model = value
    _widget(rc, v.Slider, "seed").v_model = 99
    for choice in app.TWIN.values():
        _widget(rc, v.Select, "twin run").v_model = choice
        _buttons(rc)["Reset"].click()
        for action in app.ACTIONS:
            _buttons(rc)[action].click()
        _buttons(rc)["Step"].click()
    for speed in app.SPEEDS:
        _buttons(rc)[speed].click()
    _buttons(rc)["cooperation"].click()
    _buttons(rc)["Step"].click()
    for name in app.scenario_files():
        _widget(rc, v.Select, "scenario").v_model = name
        _buttons(rc)["Step"].click()
        assert runs[-1].left.steps == 1, name
    assert not [w for w in rc.find(v.Alert).widgets if w.type == "error"]
    images = rc.find(ipywidgets.Image).widgets
    assert images
    assert all(img.value[:3] == JPEG for img in images)


def test_a_bad_setting_is_one_line_on_the_page(app, monkeypatch):
    rc, runs = _page(app)
    n = len(runs)
    monkeypatch.setattr(app, "Run", lambda settings: (_ for _ in ()).throw(
        InputError("--set", "coop_benefit", "got -1; allowed: 0-1")))
    _buttons(rc)["Reset"].click()
    errors = [w.children for w in rc.find(v.Alert).widgets if w.type == "error"]
    assert errors
    assert "coop_benefit" in str(errors)
    assert len(runs) == n  # the page keeps the run it had
    _buttons(rc)["Step"].click()
    assert runs[-1].left.steps == 1


def _run_to_end(model):
    while model.running:
        model.step()
    return model.series()


def _same(a, b) -> None:
    import pandas as pd

    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=True, check_dtype=False)


@pytest.mark.slow
@pytest.mark.parametrize("path", CLASSROOM, ids=lambda p: p.stem)
def test_fresh_page_reset_cli_and_animate_are_the_same_run(app, path, monkeypatch, tmp_path):
    """For seeds 0-3: the run of a fresh page, of Reset (after moving the seed, and after a
    slider went to the scenario's value and back), of ``clustersim run`` and of
    ``clustersim animate``'s model are the same to the bit."""
    import pandas as pd

    from sim.cli import main
    from sim.io.scenario import load_scenario
    from sim.views.animate import animation_model

    monkeypatch.setenv("CLUSTERSIM_SCENARIO", str(path))
    rc, runs = _page(app)
    sc = load_scenario(path)
    for seed in range(4):
        if seed == 0:
            page = _run_to_end(runs[-1].left)  # the fresh page's model
        else:
            transport = _widget(rc, v.Slider, "cost of reaching the market")
            transport.v_model = 0.2
            transport.v_model = sc.params.get("transport_share")  # and back
            _widget(rc, v.Slider, "seed").v_model = seed
            _buttons(rc)["Reset"].click()
            assert runs[-1].settings.moved == ()
            page = _run_to_end(runs[-1].left)
        out = tmp_path / f"run{seed}"
        assert main(["run", str(path), "--seed", str(seed), "--out", str(out)]) == 0
        _same(page, pd.read_parquet(out / "timeseries.parquet"))
        _same(page, _run_to_end_steps(animation_model(sc, seed), sc.steps))
    _buttons(rc)["Reset"].click()  # Reset at seed 3 again: the same run as the last
    _same(page, _run_to_end(runs[-1].left))


def _run_to_end_steps(model, steps):
    for _ in range(steps):
        model.step()
    return model.series()


def test_animate_draws_the_pages_run(app, tmp_path):
    """The animation's frames are the frames of the page's model (same scenario and seed)."""
    import numpy as np

    from sim.views.animate import animate, frames

    out = animate(FREE_RIDING, tmp_path / "a.gif", steps=3, seed=2)
    model = app.ClassroomModel(str(FREE_RIDING), 2)
    from PIL import Image

    ours = list(frames(model, 3))
    with Image.open(out) as im:
        assert im.n_frames == len(ours)
    ref = list(frames(app.ClassroomModel(str(FREE_RIDING), 2), 3))
    assert all(np.array_equal(a, b) for a, b in zip(ours, ref, strict=True))


# --- twin runs -------------------------------------------------------------------------------

def test_twin_without_interventions_is_the_counterfactual(app, monkeypatch):
    """classroom_shocks as a twin: both runs step together; the right one is the same seed
    without the restrictions, to the bit; the charts say both values and their gap."""
    monkeypatch.setenv("CLUSTERSIM_SCENARIO", str(ROOT / "scenarios" / "classroom_shocks.toml"))
    rc, runs = _page(app)
    _widget(rc, v.Select, "twin run").v_model = app.TWIN["no_interventions"]
    _buttons(rc)["Reset"].click()
    run = runs[-1]
    assert run.right is not None
    assert len(rc.find(ipywidgets.Image).widgets) == 3  # two maps and the charts
    for _ in range(30):
        assert run.step()
    assert run.left.steps == run.right.steps == 30
    calm = app.ClassroomModel("classroom_shocks", 0, interventions=False)
    for _ in range(30):
        calm.step()
    _same(run.right.series(), calm.series())
    _same(run.left.series().iloc[:24], calm.series().iloc[:24])  # apart from month 24 on
    assert (run.left.series()["employment"].iloc[25:] != calm.series()["employment"].iloc[25:]
            ).any()
    _buttons(rc)["Step"].click()
    view = None
    for fig in rc.find(ipywidgets.Image).widgets:
        assert fig.value[:3] == JPEG
    from sim.views.draw import charts_figure

    _, view = charts_figure(run.left, twin_model=run.right, end=96)
    texts = [t.get_text() for _, _, t in view.values]
    assert all(" vs " in t for t in texts if t), texts


def test_twin_without_changes_and_the_buttons_act_on_the_left(app):
    rc, runs = _page(app)
    _widget(rc, v.Slider, "trust in a new partner").v_model = 0.8
    _widget(rc, v.Select, "twin run").v_model = app.TWIN["no_changes"]
    _buttons(rc)["Reset"].click()
    run = runs[-1]
    assert run.left.params.get("initial_trust") == 0.8
    assert run.right.params.get("initial_trust") == pytest.approx(0.3)
    _buttons(rc)["Open a CFC here"].click()
    assert [s.spec.name for s in run.left.schedules] == ["tool_room", "cfc_now_m0"]
    assert [s.spec.name for s in run.right.schedules] == ["tool_room"]
    with pytest.raises(ValueError, match="allowed"):
        app.Run(app.Settings("classroom_free_riding", twin="sideways"))


# --- clustersim viz stops cleanly --------------------------------------------------------------

@pytest.mark.slow
def test_viz_stops_its_server_on_sigterm(tmp_path):
    """SIGTERM to ``clustersim viz`` (a service manager, a closed terminal) stops the solara
    server too: the port is free again and the command exits 0."""
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from sim.cli.viz import port_is_free

    with socket_free_port() as port:
        pass
    log = open(tmp_path / "viz.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "viz", str(FREE_RIDING),
                             "--port", str(port)], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "viz.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.5)
        assert not port_is_free(port)
        proc.send_signal(signal.SIGTERM)  # to the command only, not its process group
        assert proc.wait(timeout=20) == 0
        deadline = time.monotonic() + 10
        while not port_is_free(port):
            assert time.monotonic() < deadline, "the server still holds the port"
            time.sleep(0.2)
        assert "stopped" in (tmp_path / "viz.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


class socket_free_port:  # noqa: N801 - a context manager used like a function
    def __enter__(self) -> int:
        import socket

        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        return self.s.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.s.close()
