"""The classroom app: the cluster model in the browser, served by ``clustersim viz``.

A page for a projector (1,280 x 720 and up): a bar of controls (scenario, seed, Reset, play and
pause, Step, speed in months per second, the month), a large map of the landscape and the live
charts (:mod:`sim.views.draw`); below them the settings (sliders in plain words, with their
units and values), the twin run and the buttons that act now (open a CFC here, trust building,
movement restrictions: :mod:`sim.views.live`).

What the page runs is always a model the command line can run too. A fresh page, Reset, and
``clustersim run`` / ``clustersim animate`` of the same scenario and seed give the same run, to
the bit: a slider only changes the model once the teacher has moved it (its value is rounded
to the slider's step, and every shipped scenario's value lies on its slider's grid), and the
sliders moved are listed as "changed" beside the scenario's own value. Picking a scenario loads
it at once with its own values; seed, sliders and the twin run apply at the next Reset.

A **twin run** steps two models of the same seed together: on the left the run as set, on the
right the same run without the scenario's interventions (or without the sliders moved). Both
maps are shown, the charts draw the right run dashed with the gap shaded, and each chart says
both values and their difference: what a counterfactual looks like. The buttons act on the
left run only, so the gap is their effect.

Run it with ``clustersim viz [SCENARIO.toml] [--port P]`` (served on 127.0.0.1 only), or in a
notebook::

    from sim.views.app import Page
    Page()

The model never imports this module. The scenario shown first and the folder the picker lists
come from the environment variables ``CLUSTERSIM_SCENARIO`` and ``CLUSTERSIM_SCENARIO_DIR``
(``clustersim viz`` sets them), else ``scenarios/baseline.toml`` and ``scenarios/``.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import reacton.core
import solara
from mesa.visualization.utils import update_counter

from sim.core.errors import InputError
from sim.core.state import FacilityState
from sim.model import ClusterModel
from sim.views import live
from sim.views.draw import COLOR_BY, FastFigure, charts_figure, map_figure

__all__ = ["ClassroomModel", "Run", "Page", "SLIDERS", "SliderSpec", "TWIN", "SPEEDS",
           "ACTIONS", "scenario_files", "scenario_values", "snap", "act", "LiveFigure",
           "map_component", "charts_component", "intervention_lines", "model_params"]


@dataclass(frozen=True)
class SliderSpec:
    """A slider: its words and unit for the class, and its range and step. The step is chosen
    so that every shipped scenario's value lies on the grid ``lo + k * step``
    (``tests/test_app.py`` checks it), so a slider never shows a value the scenario does not
    have."""

    label: str
    unit: str
    lo: float
    hi: float
    step: float

    @property
    def decimals(self) -> int:
        return max(0, -math.floor(math.log10(self.step) + 1e-9))

    @property
    def is_int(self) -> bool:
        return float(self.step).is_integer() and float(self.lo).is_integer()

    def text(self, value: float) -> str:
        return f"{value:,.{self.decimals}f}" if not self.is_int else f"{int(value):,}"


#: The parameters a class is most likely to change, with their sliders.
SLIDERS: dict[str, SliderSpec] = {
    "initial_trust": SliderSpec("trust in a new partner", "0 to 1", 0.0, 1.0, 0.01),
    "reputation_weight": SliderSpec("weight of a partner's reputation in that trust",
                                    "share", 0.0, 1.0, 0.01),
    "coop_benefit": SliderSpec("value of a partner's cooperation", "share of monthly revenue",
                               0.0, 0.1, 0.001),
    "conditional_share": SliderSpec("share of firms expected to follow others' pledges",
                                    "share", 0.0, 1.0, 0.01),
    "pledge_threshold_mean": SliderSpec("what a firm's expected share of pledgers times its "
                                        "return must reach before it pledges",
                                        "expected share x step return", 0.0, 2.0, 0.01),
    "nonmember_markup": SliderSpec("fee of a facility for non-members", "times the member fee",
                                   1.0, 5.0, 0.1),
    "beta_sector": SliderSpec("pull of a sector's own firms on newcomers",
                              "utility per log of firms", -5.0, 5.0, 0.1),
    "entry_rate": SliderSpec("newcomers from outside", "per firm per month", 0.0, 0.02, 0.0001),
    "transport_share": SliderSpec("cost of reaching the market", "share of revenue", 0.0, 0.3,
                                  0.005),
    "n_firms": SliderSpec("firms at the start", "firms", 10, 3000, 10),
}

#: Twin-run modes: what the right-hand run leaves out.
TWIN = {
    "off": "one run",
    "no_interventions": "twin: right without the scenario's interventions",
    "no_changes": "twin: right without your slider changes",
}

MIN_PAUSE = 0.005  # seconds between two months, at any speed

#: Play speeds, in months per second ("max": as fast as the page draws).
SPEEDS = ("1", "2", "5", "10", "max")
DEFAULT_SPEED = "5"

#: What each action button does, for the page and the tests.
ACTIONS = {
    "Open a CFC here": "offers a Common Facility Centre in the chosen town: a pledge drive opens",
    "Start trust building": "a year of trust building among the chosen town's firms",
    "Impose movement restrictions": "checkpoints and closures around the chosen town",
    "Lift restrictions": "ends every movement restriction in force",
}

_STATUS = {FacilityState.DRIVE: "pledge drive open", FacilityState.BUILDING: "being built",
           FacilityState.OPERATING: "operating", FacilityState.FAILED: "drive failed",
           FacilityState.CLOSED: "closed"}


def _default_scenario() -> Path:
    return Path(os.environ.get("CLUSTERSIM_SCENARIO", "scenarios/baseline.toml"))


def scenario_files(folder: str | Path | None = None) -> dict[str, str]:
    """Scenario name (file stem) -> path, for the picker: the files of ``folder`` (default
    ``CLUSTERSIM_SCENARIO_DIR``, else the first scenario's folder) and the first scenario."""
    first = _default_scenario()
    folder = Path(folder or os.environ.get("CLUSTERSIM_SCENARIO_DIR") or first.parent)
    found = {p.stem: str(p) for p in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}
    found.setdefault(first.stem, str(first))
    return found


@lru_cache(maxsize=32)
def _load(path: str):
    from sim.io.scenario import load_scenario

    return load_scenario(path)


def _scenario(scenario: str):
    files = scenario_files()
    path = files.get(scenario, scenario) if scenario else str(_default_scenario())
    return _load(str(path))


def scenario_values(scenario: str) -> dict[str, float]:
    """The scenario's own value of each :data:`SLIDERS` parameter."""
    params = _scenario(scenario).params
    return {name: params.get(name) for name in SLIDERS}


def lists_firms(scenario: str) -> int:
    """The number of firms a scenario lists town by town (0: it does not, and ``n_firms``
    sets them)."""
    return sum(g.count for g in _scenario(scenario).world.firms)


def snap(name: str, value: float) -> float | int:
    """A slider's value on its grid (the browser may send 0.30000000000000004)."""
    spec = SLIDERS[name]
    k = round((float(value) - spec.lo) / spec.step)
    out = round(spec.lo + k * spec.step, spec.decimals)
    out = min(max(out, spec.lo), spec.hi)
    return int(out) if spec.is_int else out


class ClassroomModel(ClusterModel):
    """A :class:`ClusterModel` built from a scenario file, as the app builds it.

    ``scenario`` is a scenario name from :func:`scenario_files` or a path; ``seed`` the seed;
    ``kwargs`` the sliders the teacher moved (parameter overrides, as ``--set`` gives them);
    ``interventions=False`` leaves the scenario's interventions out (a twin run's right side).
    The model stops (``running`` turns False) at the scenario's last month.
    """

    def __init__(self, scenario: str = "", seed: int = 0, interventions: bool = True,
                 **kwargs: Any):
        sc = _scenario(scenario)
        if "n_firms" in kwargs and sc.world.firms:
            raise InputError(sc.name, "n_firms", f"the scenario lists its "
                             f"{lists_firms(scenario):,} firms town by town; allowed: change "
                             "the counts in its [[firms]] tables")
        if kwargs:
            sc = sc.with_overrides(kwargs)
        super().__init__(sc.params, sc.world, sc.interventions if interventions else (),
                         rng=int(seed), agents=False)
        self.scenario = sc
        self.end_step = sc.steps

    def step(self) -> None:
        super().step()
        if self.steps >= self.end_step:
            self.running = False


@dataclass(frozen=True)
class Settings:
    """What a Reset builds: scenario, seed, the sliders moved, the twin mode."""

    scenario: str
    seed: int = 0
    moved: tuple[tuple[str, Any], ...] = ()
    twin: str = "off"


@dataclass
class Run:
    """The model (``left``) the page shows and, in a twin run, its twin (``right``), built
    from :class:`Settings` and stepped together under one lock (the play loop, the Step button
    and the action buttons come from different threads)."""

    settings: Settings
    left: ClassroomModel = field(init=False)
    right: ClassroomModel | None = field(init=False, default=None)
    lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self):
        s = self.settings
        if s.twin not in TWIN:
            raise ValueError(f"twin: got {s.twin!r}; allowed: {', '.join(TWIN)}")
        moved = dict(s.moved)
        self.left = ClassroomModel(s.scenario, s.seed, **moved)
        if s.twin == "no_interventions":
            self.right = ClassroomModel(s.scenario, s.seed, interventions=False, **moved)
        elif s.twin == "no_changes":
            self.right = ClassroomModel(s.scenario, s.seed)

    @property
    def running(self) -> bool:
        return self.left.running

    @property
    def models(self) -> tuple:
        return (self.left,) if self.right is None else (self.left, self.right)

    def step(self) -> bool:
        """One month of both models; False (and nothing done) once the run has ended."""
        with self.lock:
            if not self.left.running:
                return False
            for m in self.models:
                m.step()
            return True

    def act(self, action: str, region: str) -> str:
        """One of :data:`ACTIONS`, on the left model only."""
        with self.lock:
            return act(self.left, action, region)


def model_params(scenario_path: str | Path | None = None) -> dict[str, Any]:
    """Mesa SolaraViz ``model_params`` for :class:`ClassroomModel` (for a notebook that wants
    Mesa's own page): the picker, the seed and the sliders at the scenario's values. A slider
    given to the model changes it even at the scenario's value only if the value differs (Mesa
    passes every slider at Reset), so untouched sliders leave the scenario as it is."""
    path = Path(scenario_path or _default_scenario())
    values = scenario_values(str(path))
    out: dict[str, Any] = {
        "scenario": {"type": "Select", "value": path.stem, "values": list(scenario_files()),
                     "label": "scenario"},
        "seed": {"type": "SliderInt", "value": 0, "min": 0, "max": 99, "step": 1,
                 "label": "seed"},
    }
    for name, spec in SLIDERS.items():
        if name == "n_firms" and lists_firms(str(path)):
            continue
        out[name] = {"type": "SliderInt" if spec.is_int else "SliderFloat",
                     "value": values[name], "min": spec.lo, "max": spec.hi, "step": spec.step,
                     "label": f"{spec.label} ({spec.unit})"}
    return out


# --- pictures -------------------------------------------------------------------------------

MAP_INCHES = 6.0  # the map figure's width; 100 dpi: 600 px, scaled by the page's CSS
TWIN_MAP_INCHES = 4.2  # a twin run's maps, each about a quarter of the screen wide
CHART_INCHES = (6.6, 6.0)
DPI = 100
FONT = 12.0  # points at 100 dpi: about 17 px, readable from the back of a room


class LiveFigure:
    """A figure of one view kept between redraws of one model (or twin): ``kind`` is "map"
    or "charts"; ``twin`` the right-hand model of a twin run."""

    def __init__(self, kind: str, model, twin=None, color_by: str = "sector", title: str = "",
                 projector: bool = True):
        font = FONT if projector else 8.0
        if kind == "map":
            size = (TWIN_MAP_INCHES if title else MAP_INCHES) if projector else 5.4
            fig, self.view = map_figure(model, color_by, size=size,
                                        fontsize=font, legend="below" if projector else
                                        "inside", title=title)
        elif kind == "charts":
            size = CHART_INCHES if projector else (6.4, 5.4)
            fig, self.view = charts_figure(model, *size, fontsize=font - 1 if projector else 7,
                                           end=getattr(model, "end_step", None),
                                           twin_model=twin)
        else:
            raise ValueError(f"kind: got {kind!r}; allowed: map, charts")
        self.kind, self.twin = kind, twin
        self.fast = FastFigure(fig, dpi=DPI if projector else 72)
        self.format = "jpeg" if projector else "png"

    def image(self, model) -> bytes:
        """The picture for the model's state, in :attr:`format`: JPEG for the projector's
        large pictures (a third of PNG's encoding time; quality 92, full colour resolution,
        so the states' colours stay exact to the eye), PNG otherwise."""
        self._update(model)
        return self.fast.jpeg() if self.format == "jpeg" else self.fast.png()

    def png(self, model) -> bytes:
        self._update(model)
        return self.fast.png()

    def _update(self, model) -> None:
        changed = (self.view.update(model) if self.kind == "map"
                   else self.view.update(model, self.twin))
        if changed:
            self.fast.invalidate()
        self.fast.artists = self.view.artists


@solara.component
def MapImage(model, tick: int = 0, color_by: str = "sector", title: str = "",
             projector: bool = True):
    """The landscape of ``model``, redrawn for each ``tick``."""
    fig = solara.use_memo(lambda: LiveFigure("map", model, color_by=color_by, title=title,
                                             projector=projector),
                          dependencies=[model, color_by, title, projector])
    solara.Image(fig.image(model), format=fig.format)


@solara.component
def ChartsImage(model, twin=None, tick: int = 0, projector: bool = True):
    """The live charts of ``model`` (and its ``twin``), redrawn for each ``tick``."""
    fig = solara.use_memo(lambda: LiveFigure("charts", model, twin=twin, projector=projector),
                          dependencies=[model, twin, projector])
    solara.Image(fig.image(model), format=fig.format)


@solara.component
def _MapComponent(model, tick: int = 0):
    color_by, set_color_by = solara.use_state("sector")
    with solara.Column(classes=["clustersim-map"]):
        solara.ToggleButtonsSingle(value=color_by, values=list(COLOR_BY),
                                   on_value=set_color_by, dense=True)
        MapImage(model, tick, color_by, projector=False)


@solara.component
def _ChartsComponent(model, tick: int = 0):
    with solara.Column(classes=["clustersim-charts"]):
        ChartsImage(model, None, tick, projector=False)


def map_component(model):
    """The map as a component for Mesa's own ``SolaraViz``, which redraws it each step:
    ``SolaraViz(ClusterModel(...), components=[map_component, charts_component])`` (the
    model's space is its arrays, not a Mesa grid, so Mesa's space component has none)."""
    return _MapComponent(model, update_counter.value)  # a new tick: redrawn, not skipped


def charts_component(model):
    """The live charts as a component for Mesa's own ``SolaraViz`` (see :func:`map_component`)."""
    return _ChartsComponent(model, update_counter.value)


# --- actions --------------------------------------------------------------------------------

def act(model, action: str, region: str) -> str:
    """Carry out one of :data:`ACTIONS` on the model; returns what happened, in words."""
    if action == "Open a CFC here":
        name = live.open_cfc(model, region)
        return f"{name}: a CFC is offered in {region}; its pledge drive opens next month"
    if action == "Start trust building":
        name = live.start_trust_building(model, region)
        return f"{name}: trust building starts in {region}"
    if action == "Impose movement restrictions":
        name = live.impose_restrictions(model, (region,))
        return f"{name}: movement restrictions around {region}"
    if action == "Lift restrictions":
        lifted = live.lift_restrictions(model)
        return ("lifted: " + ", ".join(lifted)) if lifted else "no restrictions to lift"
    raise ValueError(f"action: got {action!r}; allowed: {', '.join(ACTIONS)}")


def intervention_lines(model) -> list[str]:
    """One line per intervention: name, state and, for a CFC, its facility's state."""
    lines = []
    for sch in model.schedules:
        state = ("ended" if sch.ended else "active" if sch.active
                 else f"from month {sch.spec.start}")
        fac = sch.data.get("facility")
        if fac is not None:
            f = model.facilities
            state += f", {_STATUS[f.status[fac]]}"
            if f.status[fac] == FacilityState.DRIVE:
                state += f" ({f.pledged[fac]} of {f.spv_min[fac]} pledged)"
        lines.append(f"{sch.spec.name}: {state}")
    return lines


# --- the page -------------------------------------------------------------------------------

_CSS = """
.clustersim-page { font-size: 16px; }
.clustersim-bar { gap: 10px; align-items: center; flex-wrap: wrap; padding: 10px 8px 0 8px;
                  background: #f3f6fa; border-bottom: 1px solid #d0d7de; }
.clustersim-bar .v-btn { font-size: 16px !important; min-width: 48px !important;
                         padding: 0 10px !important; }
.clustersim-bar .v-input__slot { margin-bottom: 0 !important; }
.clustersim-bar .v-messages { display: none; }
.clustersim-month { font-size: 20px; font-weight: bold; min-width: 9.5em; }
.clustersim-main { flex-wrap: nowrap; align-items: flex-start; gap: 4px; padding: 2px 4px; }
.clustersim-map img { height: calc(100vh - 76px); max-width: 48vw; width: auto;
                      object-fit: contain; }
.clustersim-twin .clustersim-map img { height: auto; width: 24vw; max-width: 24vw; }
.clustersim-twin .clustersim-twin-maps { max-width: 49vw; }
.clustersim-twin .clustersim-charts img { max-width: 49vw; }
.clustersim-charts img { height: calc(100vh - 76px); max-width: 51vw; width: auto;
                         object-fit: contain; }
.clustersim-settings .v-label, .clustersim-settings .v-input { font-size: 15px; }
.clustersim-moved { color: #b35900; font-weight: bold; }
"""


def _settings_of(scenario: str, seed: int, moved: dict, twin: str) -> Settings:
    return Settings(scenario, int(seed), tuple(sorted(moved.items())), twin)


@solara.component
def Page(on_run=None):
    """The app's page (what ``solara run sim.views.app`` serves). ``on_run``, if given, is
    called with each :class:`Run` the page starts (a fresh page, Reset, a scenario picked):
    a notebook can follow the models the page shows."""
    first = _default_scenario().stem
    files = solara.use_memo(scenario_files, dependencies=[])
    scenario, set_scenario = solara.use_state(first)
    seed, set_seed = solara.use_state(0)
    moved, set_moved = solara.use_state({})
    twin, set_twin = solara.use_state("off")
    color_by, set_color_by = solara.use_state("sector")
    error, set_error = solara.use_state("")
    run = solara.use_reactive(solara.use_memo(lambda: Run(Settings(first)), dependencies=[]))
    tick = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    speed = solara.use_reactive(DEFAULT_SPEED)
    generation = solara.use_memo(lambda: [0], dependencies=[])  # the current play loop
    context = reacton.core.get_render_context()

    def advance() -> None:
        """Tell the components that show the month (the bar, the pictures, the actions'
        list) that it changed, in one render pass rather than one each."""
        with context:
            tick.set(tick.value + 1)

    def rebuild(settings: Settings) -> None:
        playing.set(False)
        generation[0] += 1
        try:
            new = Run(settings)
        except (InputError, ValueError) as exc:  # one line for the class, the page stays
            set_error(str(exc))
            return
        set_error("")
        run.set(new)
        advance()

    def reset() -> None:
        rebuild(_settings_of(scenario, seed, moved, twin))

    def pick(name: str) -> None:  # a scenario loads at once, with its own values
        set_scenario(name)
        set_moved({})
        rebuild(_settings_of(name, seed, {}, twin))

    def step_once() -> None:
        if not playing.value:
            run.value.step()
            advance()

    def loop() -> None:
        mine = generation[0] = generation[0] + 1
        while playing.value and generation[0] == mine:
            t0 = time.perf_counter()
            try:
                advanced = run.value.step()
            except Exception as exc:  # noqa: BLE001 - the page shows it and stops playing
                set_error(f"error in month {run.value.left.steps + 1}: {exc}")
                advanced = False
            if generation[0] != mine:
                break
            advance()
            if not advanced:
                playing.set(False)
                break
            # wait for the next month at the chosen speed, and always a moment: the server's
            # event loop needs the interpreter to send this month's pictures to the browser
            wait = 0.0 if speed.value == "max" else 1.0 / float(speed.value)
            time.sleep(max(MIN_PAUSE, wait - (time.perf_counter() - t0)))

    solara.lab.use_task(loop, dependencies=[playing.value], prefer_threaded=True)

    def move(name: str, value) -> None:
        value = snap(name, value)
        own = scenario_values(scenario)[name]
        new = dict(moved)
        if value == snap(name, own):  # back at (or the browser's echo of) the scenario's value
            new.pop(name, None)
        else:
            new[name] = value
        set_moved(new)

    solara.use_effect(lambda: on_run(run.value) if on_run else None, [run.value])
    pending = _settings_of(scenario, seed, moved, twin) != run.value.settings
    solara.Style(_CSS)
    with solara.Column(classes=["clustersim-page"], gap="0px"):
        with solara.Row(classes=["clustersim-bar"]):
            solara.Select("scenario (loads now)", value=scenario, values=list(files),
                          on_value=pick, style={"max-width": "250px"}, dense=True)
            with solara.Column(style={"width": "130px"}, gap="0px"):
                solara.SliderInt(f"seed: {seed}", value=seed, min=0, max=99,
                                 on_value=set_seed, thumb_label=False)
            RunButtons(run.value, tick, playing, reset, step_once, pending)
            with solara.Row(gap="4px", style={"align-items": "center"}):
                solara.Text("speed, months/s:")
                solara.ToggleButtonsSingle(value=speed.value, values=list(SPEEDS),
                                           on_value=speed.set, dense=True,
                                           classes=["clustersim-speed"])
        with solara.Column(gap="0px"):  # always there, so that the panels keep their place
            if error:
                solara.Error(error, classes=["clustersim-error"])
        LivePanels(run.value, tick, color_by)
        with solara.Row(style={"flex-wrap": "wrap", "align-items": "flex-start"}):
            with solara.Card("Settings (used at the next Reset)",
                             classes=["clustersim-settings"], style={"max-width": "640px"}):
                with solara.Column(gap="0px"):
                    if pending:
                        solara.Warning("Changed settings: press Reset to run them.",
                                       classes=["clustersim-pending"])
                solara.Select("twin run", value=TWIN[twin], values=list(TWIN.values()),
                              on_value=lambda label: set_twin(
                                  next(k for k, v in TWIN.items() if v == label)))
                solara.ToggleButtonsSingle(value=color_by, values=list(COLOR_BY),
                                           on_value=set_color_by, dense=True)
                Sliders(scenario, moved, move)
                solara.Button("Back to the scenario's values", on_click=lambda: set_moved({}),
                              outlined=True, disabled=not moved)
            ActionsPanel(run.value, tick)


@solara.component
def RunButtons(run: Run, tick, playing, reset, step_once, pending: bool):
    """Reset, play/pause, Step and the month; redrawn each ``tick`` (a reactive counter: only
    the components that read it are redrawn each month, not the whole page)."""
    tick.value  # noqa: B018 - subscribes this component to the month's updates
    running = run.running
    with solara.Row(gap="8px", style={"align-items": "center"}):
        _run_buttons(run, running, playing, reset, step_once, pending)


def _run_buttons(run, running, playing, reset, step_once, pending) -> None:
    solara.Button("Reset", color="warning" if pending else "primary", on_click=reset)
    solara.Button("❚❚" if playing.value else "▶", color="primary",
                  on_click=lambda: playing.set(not playing.value),
                  disabled=not running and not playing.value)
    solara.Button("Step", color="primary", on_click=step_once,
                  disabled=playing.value or not running)
    m = run.left
    solara.Text(f"Month {m.steps} of {m.end_step}" + ("" if running else " (end)"),
                classes=["clustersim-month"])


@solara.component
def Sliders(scenario: str, moved: dict, move):
    """One slider per :data:`SLIDERS` entry at the scenario's value, or the teacher's."""
    own = scenario_values(scenario)
    listed = lists_firms(scenario)
    with solara.Column(gap="2px"):
        for name, spec in SLIDERS.items():
            value = moved.get(name, own[name])
            shown = min(max(value, spec.lo), spec.hi)
            label = f"{spec.label}: {spec.text(value)} ({spec.unit})"
            if name in moved:
                label += f"  - changed; the scenario has {spec.text(own[name])}"
            slider = solara.SliderInt if spec.is_int else solara.SliderFloat
            disabled = name == "n_firms" and listed > 0
            with solara.Column(gap="0px", classes=[f"clustersim-slider-{name}"]):
                slider(label, value=shown, min=spec.lo, max=spec.hi, step=spec.step,
                       on_value=lambda v, n=name: move(n, v), thumb_label=False,
                       disabled=disabled)
                if disabled:  # the last child: nothing after it moves
                    solara.Text(f"This scenario lists its {listed:,} firms town by town: "
                                "change their counts in its file.",
                                style={"font-size": "13px", "color": "#555"})


@solara.component
def LivePanels(run: Run, tick, color_by: str):
    """The map(s) and the charts, redrawn each ``tick``."""
    tick = tick.value
    twin = run.right is not None
    with solara.Row(classes=["clustersim-main"] + (["clustersim-twin"] if twin else [])):
        if twin:
            with solara.Column(gap="0px", classes=["clustersim-twin-maps"]):
                with solara.Row(gap="2px"):
                    with solara.Column(classes=["clustersim-map", "clustersim-map-left"]):
                        MapImage(run.left, tick, color_by, "left: ")
                    with solara.Column(classes=["clustersim-map", "clustersim-map-right"]):
                        MapImage(run.right, tick, color_by, "right: ")
                right = TWIN[run.settings.twin].split("right ", 1)[1]
                solara.Text(f"Left: the run as set. Right (dashed on the charts): the same "
                            f"seed {right}. Shaded on the charts: the gap between them; the "
                            "numbers: left vs right (difference).",
                            style={"max-width": "48vw", "font-size": "15px"})
        else:
            with solara.Column(classes=["clustersim-map"]):
                MapImage(run.left, tick, color_by)
        with solara.Column(classes=["clustersim-charts"]):
            ChartsImage(run.left, run.right, tick)


@solara.component
def ActionsPanel(run: Run, tick):
    """Buttons that act now, and the interventions of the run (:func:`intervention_lines`),
    the list redrawn each ``tick``."""
    regions = [r.name for r in run.left.world.regions]
    region, set_region = solara.use_state(regions[0])
    if region not in regions:
        region = regions[0]
    message, set_message = solara.use_state("")

    def do(action: str) -> None:
        set_message(run.act(action, region))
        tick.set(tick.value + 1)

    title = "Act now" + (" (on the left run)" if run.right is not None else "")
    with solara.Card(title, classes=["clustersim-actions"], style={"max-width": "620px"}):
        solara.Select("town", value=region, values=regions, on_value=set_region)
        with solara.Row(style={"flex-wrap": "wrap"}):
            for action, help_text in ACTIONS.items():
                solara.Button(action, on_click=lambda a=action: do(a), outlined=True,
                              color="primary").meta(title=help_text)
        if message:
            solara.Info(message)
        InterventionLines(run, tick)


@solara.component
def InterventionLines(run: Run, tick):
    """The interventions of the run and their state, redrawn each ``tick``."""
    tick.value  # noqa: B018 - subscribes this component to the month's updates
    lines = intervention_lines(run.left)
    with solara.Column(gap="0px"):
        # plain text, not solara.Markdown: that loads KaTeX, which solara-assets does not ship
        solara.Text("Interventions:" if lines else "Interventions: none yet",
                    style={"font-weight": "bold"})
        for line in lines:
            solara.Text(line, style={"display": "block", "margin-left": "1em"})
