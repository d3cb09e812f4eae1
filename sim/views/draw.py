"""Pictures of a running model: the map of the landscape and the live charts.

:class:`MapView` draws the towns, the firms (coloured by sector or by cooperation, sized by
employees), their cooperation ties, the suppliers and the facilities (operating, being pledged,
declining); :class:`ChartsView` draws the main series from the model's ``mesa.DataCollector``.
Both build their matplotlib artists once and then only move them, so that a redraw of a
1,000-firm cluster costs a few tens of milliseconds: the classroom app (:mod:`sim.views.app`) and
``clustersim animate`` (:mod:`sim.views.animate`) share them. Nothing here changes the model.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from sim.core.state import FacilityState

__all__ = ["MapView", "ChartsView", "FastFigure", "CHART_PANELS", "COLOR_BY", "figure_png",
           "tie_segments", "map_figure", "charts_figure"]

#: What the firms' colour can show.
COLOR_BY = ("sector", "cooperation")

#: The live charts: panel title -> (series of ``model.datacollector``, colour, line style).
CHART_PANELS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "firms": (("firms", "C0", "-"),),
    "employment": (("employment", "C1", "-"),),
    "cooperation rate": (("cooperation_rate", "C2", "-"),),
    "mean trust": (("mean_trust", "C4", "-"),),
    "concentration (EG gamma)": (("eg_gamma_mean", "C5", "-"),),
    "facilities and pledges": (("facilities_operating", "C3", "-"), ("pledges", "C7", "-"),
                               ("pledges_needed", "C7", ":")),
}

#: Facility marker colour by status; a facility operating below full quality is "declining".
_FACILITY_COLOURS = {"drive": "#f0b400", "building": "#8c8c8c", "operating": "#1a7f37",
                     "declining": "#c0392b", "failed": "#bbbbbb", "closed": "#444444"}
_MAX_TIES = 4000  # ties drawn at most (the first ones by slot): enough to see the network


def figure_png(fig: Figure, dpi: int = 72) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class FastFigure:
    """PNG frames of a figure whose moving parts are ``animated`` artists: the still parts
    (axes, ticks, towns, legend) are drawn once and kept as a background, until
    :meth:`invalidate` says they changed (a chart's limits grew); each frame then draws only
    the moving artists over that background (matplotlib's blitting, on the Agg canvas)."""

    def __init__(self, fig: Figure, dpi: int = 72):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig.set_dpi(dpi)
        self.fig, self.canvas = fig, FigureCanvasAgg(fig)
        self.background = None
        self.artists: list = []  # the moving artists, drawn in order over the background

    def invalidate(self) -> None:
        self.background = None

    def rgba(self) -> np.ndarray:
        if self.background is None:
            self.canvas.draw()  # animated artists are left out of a full draw
            self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        else:
            self.canvas.restore_region(self.background)
        renderer = self.canvas.get_renderer()
        for artist in self.artists:
            if artist.get_visible():
                artist.draw(renderer)
        return np.asarray(self.canvas.buffer_rgba())

    def png(self) -> bytes:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(self.rgba()[..., :3]).save(buf, format="png", compress_level=1)
        return buf.getvalue()


def tie_segments(model, limit: int = _MAX_TIES) -> np.ndarray:
    """Line segments (n, 2, 2) of the cooperation ties between live firms, each tie once."""
    f, partner = model.firms, model.ties.partner
    rows, cols = np.nonzero(partner >= 0)
    other = partner[rows, cols].astype(np.int64)
    keep = (rows < other) & f.alive[rows] & f.alive[other]
    a, b = rows[keep][:limit], other[keep][:limit]
    seg = np.empty((a.size, 2, 2))
    seg[:, 0, 0], seg[:, 0, 1] = f.x[a], f.y[a]
    seg[:, 1, 0], seg[:, 1, 1] = f.x[b], f.y[b]
    return seg


def _facility_state(fac: FacilityState, f: int) -> str:
    status = fac.status[f]
    if status == FacilityState.OPERATING:
        return "declining" if fac.quality[f] < 0.999 else "operating"
    return ("drive", "building", "operating", "failed", "closed")[status]


class MapView:
    """The landscape on a matplotlib axes; :meth:`update` redraws it for the model's state."""

    def __init__(self, ax, model, color_by: str = "sector"):
        if color_by not in COLOR_BY:
            raise ValueError(f"color_by: got {color_by!r}; allowed: {', '.join(COLOR_BY)}")
        self.ax, self.color_by = ax, color_by
        size = model.params.world.world_size
        ax.set_xlim(0, size)
        ax.set_ylim(0, size)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for region in model.world.regions:  # towns: a disc of two radii, and the name
            ax.add_patch(Circle((region.x, region.y), 2 * region.radius, facecolor="#eef2f7",
                                edgecolor="#9fb3c8", lw=0.8, zorder=0))
            ax.text(region.x, region.y + 2 * region.radius, region.name, ha="center",
                    va="bottom", fontsize=8, color="#34495e", zorder=5)
        self.sector_colours = np.array([f"C{i % 10}" for i in range(len(model.world.sectors))])
        sup = model.suppliers
        ax.scatter(sup.x, sup.y, marker="v", s=22, c="#7f8c8d", edgecolors="none", zorder=2,
                   label="suppliers")
        self.ties = LineCollection([], colors="#5d6d7e", linewidths=0.4, alpha=0.35, zorder=1,
                                   animated=True)
        ax.add_collection(self.ties)
        self.firms = ax.scatter([], [], s=[], zorder=3, edgecolors="none", alpha=0.8,
                                animated=True)
        self.facilities = ax.scatter([], [], marker="s", s=90, zorder=4, edgecolors="black",
                                     linewidths=0.8, animated=True)
        self.labels: list = []
        self.title = ax.set_title("", fontsize=9, animated=True)
        self._legend(model)
        self.update(model)

    def _legend(self, model) -> None:
        from matplotlib.lines import Line2D

        handles = []
        if self.color_by == "sector":
            handles += [Line2D([], [], ls="", marker="o", color=c, label=s.name, ms=5)
                        for s, c in zip(model.world.sectors, self.sector_colours, strict=True)]
        else:
            from matplotlib import colormaps

            cmap = colormaps["RdYlGn"]
            handles += [Line2D([], [], ls="", marker="o", color=c, label=label, ms=5)
                        for c, label in ((cmap(1.0), "kept all promises"),
                                         (cmap(0.0), "kept none"),
                                         ((0.7, 0.7, 0.7, 1.0), "no partner"))]
        handles.append(Line2D([], [], ls="", marker="v", color="#7f8c8d", label="supplier", ms=5))
        handles += [Line2D([], [], ls="", marker="s", color=_FACILITY_COLOURS[k], mec="black",
                           label=label, ms=6)
                    for k, label in (("operating", "facility"), ("drive", "pledging"),
                                     ("building", "being built"), ("declining", "declining"))]
        self.ax.legend(handles=handles, loc="lower left", fontsize=6, framealpha=0.8, ncol=2)

    @property
    def artists(self) -> list:
        """The moving artists, in drawing order (see :class:`FastFigure`)."""
        return [self.ties, self.firms, self.facilities, *self.labels, self.title]

    def update(self, model) -> bool:
        """Redraw for the model's state; returns False (the still parts never change)."""
        f = model.firms
        idx = np.flatnonzero(f.alive)
        self.firms.set_offsets(np.column_stack([f.x[idx], f.y[idx]]))
        self.firms.set_sizes(np.clip(3.0 + 2.5 * np.sqrt(f.employees[idx]), 3.0, 120.0))
        if self.color_by == "sector":
            self.firms.set_facecolor(self.sector_colours[f.sector[idx]])
        else:  # share of its partners a firm kept its promise to this month; grey: no partner
            degree = (model.ties.partner[idx] >= 0).sum(axis=1)
            share = np.divide(f.coop_acts[idx], degree, out=np.zeros(idx.size),
                              where=degree > 0)
            from matplotlib import colormaps

            colours = colormaps["RdYlGn"](np.clip(share, 0.0, 1.0))
            colours[degree == 0] = (0.7, 0.7, 0.7, 1.0)
            self.firms.set_facecolor(colours)
        self.ties.set_segments(tie_segments(model))
        self._draw_facilities(model)
        self.title.set_text(f"month {model.steps}: {idx.size} firms, "
                            f"{int(f.employees[idx].sum())} jobs")
        return False

    def _draw_facilities(self, model) -> None:
        fac, w = model.facilities, model.world
        for label in self.labels:
            label.remove()
        self.labels = []
        shown = [f for f in range(fac.n) if fac.status[f] != FacilityState.FAILED]
        if not shown:
            self.facilities.set_offsets(np.zeros((0, 2)))
            return
        xy, colours, per_region = [], [], {}
        for f in shown:
            region = w.regions[fac.region[f]]
            k = per_region.get(fac.region[f], 0)
            per_region[fac.region[f]] = k + 1
            pos = (region.x + 1.6 * k - 0.8, region.y - 1.2 * region.radius)
            xy.append(pos)
            state = _facility_state(fac, f)
            colours.append(_FACILITY_COLOURS[state])
            if state == "drive":
                self.labels.append(self.ax.text(pos[0] + 0.9, pos[1], f"{fac.pledged[f]}/"
                                                f"{fac.spv_min[f]} pledged", fontsize=7,
                                                va="center", zorder=6, animated=True))
        self.facilities.set_offsets(np.array(xy))
        self.facilities.set_facecolor(colours)


class ChartsView:
    """The main series, one small panel each, from ``model.datacollector``."""

    def __init__(self, axes, panels: dict | None = None):
        self.panels = CHART_PANELS if panels is None else panels
        axes = list(np.ravel(axes))
        if len(axes) < len(self.panels):
            raise ValueError(f"ChartsView: {len(self.panels)} panels need as many axes")
        self.lines: list[tuple] = []
        self.axes = axes[:len(self.panels)]
        for ax, (title, series) in zip(self.axes, self.panels.items(), strict=True):
            ax.set_title(title, fontsize=8)
            ax.tick_params(labelsize=6)
            for key, colour, style in series:
                (line,) = ax.plot([], [], color=colour, ls=style, lw=1.2, label=key,
                                  animated=True)
                self.lines.append((ax, key, line))
            if len(series) > 1:
                ax.legend(fontsize=5, loc="upper left")
            ax.set_xlim(0, 24)
            ax.set_ylim(0, 1)

    @property
    def artists(self) -> list:
        """The moving artists (the lines; see :class:`FastFigure`)."""
        return [line for _, _, line in self.lines]

    def update(self, model) -> bool:
        """Redraw the lines; returns True when an axis had to grow (the still parts changed).
        Limits grow by steps (months by years, values with a margin), so that they rarely do."""
        data = model.datacollector.model_vars
        changed = False
        bounds: dict = {}
        for ax, key, line in self.lines:
            values = np.asarray(data.get(key, []), dtype=float)
            line.set_data(np.arange(values.size), values)
            finite = values[np.isfinite(values)]
            if finite.size:
                lo, hi = bounds.get(ax, (np.inf, -np.inf))
                bounds[ax] = (min(lo, finite.min()), max(hi, finite.max()))
            n = values.size
            x1 = ax.get_xlim()[1]
            if n > x1:  # months: 24, 48, 96, ... (doubling)
                while x1 < n:
                    x1 *= 2
                ax.set_xlim(0, x1)
                changed = True
        for ax, (lo, hi) in bounds.items():
            y0, y1 = ax.get_ylim()
            if lo < y0 or hi > y1:  # grow by half again, so that growth is rare
                new0 = y0 if lo >= y0 else lo - 0.5 * max(abs(lo), 0.1 * (y1 - y0))
                new1 = y1 if hi <= y1 else hi + 0.5 * max(hi - new0, abs(hi))
                ax.set_ylim(new0, new1)
                changed = True
        return changed


def map_figure(model, color_by: str = "sector", size: float = 5.0) -> tuple[Figure, MapView]:
    """A figure holding only the map."""
    fig = Figure(figsize=(size, size))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.95)
    return fig, MapView(fig.add_subplot(), model, color_by)


def charts_figure(model, width: float = 6.0, height: float = 5.0) -> tuple[Figure, ChartsView]:
    """A figure of the live charts, three rows of two."""
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.06, top=0.94, wspace=0.3, hspace=0.45)
    view = ChartsView(fig.subplots(3, 2))
    view.update(model)
    return fig, view
