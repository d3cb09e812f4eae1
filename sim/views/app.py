"""The classroom app: Mesa's SolaraViz around the cluster model, served by ``clustersim viz``.

The page shows the map of the landscape and the live charts (:mod:`sim.views.draw`), Mesa's own
controls (Reset, play/pause, Step, the play interval), a scenario picker and sliders made from
the parameter table's ranges (both used at the next Reset), and buttons that act now: open a
CFC here, start trust building, impose movement restrictions, lift them (:mod:`sim.views.live`).

Run it with ``clustersim viz [SCENARIO.toml] [--port P]`` (served on 127.0.0.1 only), or in a
notebook::

    from sim.views.app import Page
    Page()

The model never imports this module. The scenario shown first and the folder the picker lists
come from the environment variables ``CLUSTERSIM_SCENARIO`` and ``CLUSTERSIM_SCENARIO_DIR``
(``clustersim viz`` sets them), else ``scenarios/baseline.toml`` and ``scenarios/``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from sim.core.params import _FIELD_INFO, Params
from sim.core.state import FacilityState
from sim.model import ClusterModel
from sim.views import live
from sim.views.draw import COLOR_BY, ChartsView, FastFigure, MapView

__all__ = ["ClassroomModel", "Page", "model_params", "scenario_files", "SLIDERS",
           "LiveFigure", "ACTIONS", "map_component", "charts_component"]

#: Parameters with a slider, and the window of the parameter table's range the slider covers
#: where that range is too wide to slide through (None: the table's own bound).
SLIDERS: dict[str, tuple[float | None, float | None]] = {
    "initial_trust": (None, None),
    "reputation_weight": (None, None),
    "coop_benefit": (None, 0.1),
    "trust_weight": (None, None),
    "pledge_threshold_mean": (0.0, 1.0),
    "nonmember_markup": (None, 5.0),
    "beta_sector": (-5.0, 5.0),
    "entry_rate": (None, 0.02),
    "transport_share": (None, 0.3),
    "n_firms": (10, 3000),
}

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


class ClassroomModel(ClusterModel):
    """A :class:`ClusterModel` built from a scenario file, as the app's Reset makes it.

    ``scenario`` is a scenario name from :func:`scenario_files` or a path; ``seed`` the seed;
    ``kwargs`` parameter overrides (the sliders). A slider still at ``slider_base`` (the value
    it was made with) is not an override, so that picking another scenario keeps that
    scenario's own values for the sliders nobody moved. The model stops (``running`` turns
    False) at the scenario's last month.
    """

    def __init__(self, scenario: str = "", seed: int = 0,
                 slider_base: dict[str, Any] | None = None, **kwargs: Any):
        files = scenario_files()
        path = files.get(scenario, scenario) if scenario else str(_default_scenario())
        sc = _load(str(path))
        base = slider_base or {}
        overrides = {k: v for k, v in kwargs.items() if k not in base or v != base[k]}
        if overrides:
            sc = sc.with_overrides(overrides)
        super().__init__(sc.params, sc.world, sc.interventions, rng=int(seed), agents=False)
        self.scenario = sc
        self.end_step = sc.steps

    def step(self) -> None:
        super().step()
        if self.steps >= self.end_step:
            self.running = False


def model_params(scenario_path: str | Path | None = None) -> dict[str, Any]:
    """SolaraViz's ``model_params``: the scenario picker, the seed and one slider per
    :data:`SLIDERS` entry, ranged from the parameter table and set at the scenario's value."""
    files = scenario_files()
    path = Path(scenario_path or _default_scenario())
    params: Params = _load(str(path)).params
    out: dict[str, Any] = {
        "scenario": {"type": "Select", "value": path.stem, "values": list(files),
                     "label": "scenario (at Reset)"},
        "seed": {"type": "SliderInt", "value": 0, "min": 0, "max": 99, "step": 1,
                 "label": "seed"},
    }
    base = {}
    for name, (lo_app, hi_app) in SLIDERS.items():
        group, _ = Params.resolve(name)
        f = _FIELD_INFO[group][name]
        lo, hi = f.metadata["lo"], f.metadata["hi"]
        lo = lo if lo_app is None else max(lo, lo_app)
        hi = hi if hi_app is None else min(hi, hi_app)
        value = params.get(name)
        is_int = isinstance(f.default, int)
        value = min(max(value, lo), hi)
        base[name] = value
        out[name] = {"type": "SliderInt" if is_int else "SliderFloat", "value": value,
                     "min": lo, "max": hi, "step": 1 if is_int else (hi - lo) / 100,
                     "label": name}
    out["slider_base"] = base  # fixed: a dict without "type"
    return out


class LiveFigure:
    """A figure of one view (map or charts) kept between redraws of one model."""

    def __init__(self, view_cls, model, **kw):
        from matplotlib.figure import Figure

        if view_cls is MapView:
            fig = Figure(figsize=(5.4, 5.4))
            fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.95)
            self.view = MapView(fig.add_subplot(), model, **kw)
        else:
            fig = Figure(figsize=(6.4, 5.4))
            fig.subplots_adjust(left=0.09, right=0.98, bottom=0.06, top=0.94, wspace=0.3,
                                hspace=0.45)
            self.view = ChartsView(fig.subplots(3, 2))
        self.fast = FastFigure(fig, dpi=72)

    def png(self, model) -> bytes:
        if self.view.update(model):
            self.fast.invalidate()
        self.fast.artists = self.view.artists
        return self.fast.png()


@solara.component
def MapPanel(model, tick: int = 0):
    """The landscape, redrawn for each ``tick`` (its parent's count of updates)."""
    color_by, set_color_by = solara.use_state("sector")
    live_fig = solara.use_memo(lambda: LiveFigure(MapView, model, color_by=color_by),
                               dependencies=[model, color_by])
    with solara.Column(classes=["clustersim-map"]):
        solara.ToggleButtonsSingle(value=color_by, values=list(COLOR_BY),
                                   on_value=set_color_by, dense=True)
        solara.Image(live_fig.png(model), format="png")


@solara.component
def ChartsPanel(model, tick: int = 0):
    """Firms, employment, cooperation, trust, concentration, facilities and pledges."""
    live_fig = solara.use_memo(lambda: LiveFigure(ChartsView, model), dependencies=[model])
    with solara.Column(classes=["clustersim-charts"]):
        solara.Image(live_fig.png(model), format="png")


def map_component(model):
    """The map as a component for Mesa's own ``SolaraViz``, which redraws it each step:
    ``SolaraViz(ClusterModel(...), components=[map_component, charts_component])`` (the
    model's space is its arrays, not a Mesa grid, so Mesa's space component has none)."""
    return MapPanel(model, update_counter.value)  # a new tick: redrawn, not skipped


def charts_component(model):
    """The live charts as a component for Mesa's own ``SolaraViz`` (see :func:`map_component`)."""
    return ChartsPanel(model, update_counter.value)


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


@solara.component
def ActionsPanel(model, lines: tuple[str, ...] = ()):
    """Buttons that act now, and ``lines``, the interventions of the run
    (:func:`intervention_lines`)."""
    regions = [r.name for r in model.world.regions]
    region, set_region = solara.use_state(regions[0])
    if region not in regions:
        region = regions[0]
    message, set_message = solara.use_state("")

    def run(action: str) -> None:
        set_message(act(model, action, region))
        force_update()

    with solara.Card("Act now", classes=["clustersim-actions"]):
        solara.Select("town", value=region, values=regions, on_value=set_region)
        with solara.Row():
            for action, help_text in ACTIONS.items():
                solara.Button(action, on_click=lambda a=action: run(a), outlined=True,
                              color="primary").meta(title=help_text)
        if message:
            solara.Info(message)
        # plain text, not solara.Markdown: that loads KaTeX, which solara-assets does not ship
        solara.Text("Interventions:" if lines else "Interventions: none yet",
                    style={"font-weight": "bold"})
        for line in lines:
            solara.Text(line, style={"display": "block", "margin-left": "1em"})


@solara.component
def Page():
    """The app's page (what ``solara run sim.views.app`` serves): Mesa's SolaraViz gives the
    controls, the parameters and the step counter in the sidebar; the map, the charts and the
    buttons are laid out below it (rather than in SolaraViz's draggable grid, whose fixed cell
    height would crop the map). Reset replaces ``model.value``, which the panels follow."""
    first = _default_scenario()
    initial = solara.use_memo(lambda: ClassroomModel(scenario=first.stem), dependencies=[])
    model = solara.use_reactive(initial)
    params = solara.use_memo(lambda: model_params(first), dependencies=[])
    SolaraViz(model, components=[], model_params=params, play_interval=1,
              name="clustersim classroom")
    LivePanels(model.value)


@solara.component
def LivePanels(model):
    """The map, the charts and the buttons: the one component that listens to Mesa's
    update counter, so that each step re-renders the page once, not once per panel."""
    tick = update_counter.get()
    with solara.Column(style={"padding": "8px"}):
        with solara.Row(style={"flex-wrap": "wrap", "align-items": "flex-start"}):
            MapPanel(model, tick)
            ChartsPanel(model, tick)
        ActionsPanel(model, tuple(intervention_lines(model)))
