"""Pictures of a running model: the map of the landscape and the live charts.

:class:`MapView` draws the towns, the firms (coloured by sector or by cooperation, sized by
employees), their cooperation ties, the suppliers and the facilities (operating, pledge drive,
being built, declining); :class:`ChartsView` draws the main series from the model's
``mesa.DataCollector``, one panel each, with the latest value written on the panel, and in a
twin run (:mod:`sim.views.app`) a second model's series dashed beside the first, the gap between
them shaded. Both build their matplotlib artists once and then only move them, so that a redraw
of a 1,000-firm cluster costs a few tens of milliseconds: the classroom app (:mod:`sim.views.app`)
and ``clustersim animate`` (:mod:`sim.views.animate`) share them. Nothing here changes the model.

One colour means one thing on the map and on the charts: green a facility operating (and the
chart of facilities operating), amber a pledge drive (and the chart of pledges), grey a
facility being built, red a facility declining; sectors take colours from a palette without
green, amber, grey or red, and the cooperation colouring a purple scale.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from sim.core.state import FacilityState

__all__ = ["MapView", "ChartsView", "FastFigure", "Panel", "CHART_PANELS", "COLOR_BY",
           "FACILITY_COLOURS", "SECTOR_COLOURS", "chart_panels", "figure_png", "tie_segments",
           "map_figure", "charts_figure"]

#: What the firms' colour can show.
COLOR_BY = ("sector", "cooperation")

#: Facility marker colour by state; a facility operating below full quality is "declining".
#: The charts use the same colours for the same states.
FACILITY_COLOURS = {"drive": "#e6a100", "building": "#8c8c8c", "operating": "#1a7f37",
                    "declining": "#c0392b", "failed": "#bbbbbb", "closed": "#444444"}
#: Sector colours: none of them green, amber, grey or red (the facilities' states).
SECTOR_COLOURS = ("#1f77b4", "#e377c2", "#17becf", "#8c564b", "#9467bd", "#bcbd22",
                  "#393b79", "#ff9896")
_LINE = "#1f3b73"  # the charts' lines that are not a facility state
_MAX_TIES = 4000  # ties drawn at most (the first ones by slot): enough to see the network


@dataclass(frozen=True)
class Panel:
    """One chart: a title in plain words with its unit, and its series as (series of
    ``model.datacollector``, colour, line style, legend label or "")."""

    title: str
    series: tuple[tuple[str, str, str, str], ...]
    scale: float = 1.0  # shown values are the series times this (shares as percentages)
    fmt: str = "{:,.0f}"
    ymin: float = 1.0  # the y axis shows at least 0 to this
    note: str = ""  # a line of explanation, small, at the bottom of the panel


#: Every chart the app can show, by key; :func:`chart_panels` picks those that mean something
#: for a model (concentration needs two sectors or more).
CHART_PANELS: dict[str, Panel] = {
    "firms": Panel("firms in business", (("firms", _LINE, "-", ""),), ymin=10),
    "employment": Panel("jobs (workers in all firms)", (("employment", _LINE, "-", ""),),
                        ymin=10),
    "cooperation": Panel("promises to partners kept (%)",
                         (("cooperation_rate", _LINE, "-", ""),), scale=100.0, ymin=100),
    "trust": Panel("mean trust in partners (0 to 1)", (("mean_trust", _LINE, "-", ""),),
                   fmt="{:.2f}"),
    "concentration": Panel("concentration of sectors (EG gamma)",
                           (("eg_gamma_mean", _LINE, "-", ""),), fmt="{:.2f}", ymin=0.1),
    "facilities": Panel("facilities operating (green squares)",
                        (("facilities_operating", FACILITY_COLOURS["operating"], "-", ""),),
                        ymin=2),
    "pledges": Panel("pledges; members needed (dotted)",
                     (("pledges", FACILITY_COLOURS["drive"], "-", ""),
                      ("pledges_needed", "#7a5600", ":", "")), ymin=25),
}


def chart_panels(model) -> dict[str, Panel]:
    """The charts for this model: all of :data:`CHART_PANELS`, without concentration when
    the model has one sector (the EG gamma needs two to compare)."""
    import dataclasses

    panels = {k: p for k, p in CHART_PANELS.items()
              if k != "concentration" or len(model.world.sectors) > 1}
    fp = model.params.facilities
    if fp.private_cost > 0:  # the model's private attempts show as spikes of "needed"
        panels["pledges"] = dataclasses.replace(
            panels["pledges"], note=f"spikes every {fp.drive_interval} months: firms try a "
            f"private facility\nfor a month ({fp.spv_min_members} per town and sector needed)")
    return panels


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

    def jpeg(self, quality: int = 92) -> bytes:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(self.rgba()).convert("RGB").save(buf, format="jpeg", quality=quality,
                                                         subsampling=0)
        return buf.getvalue()

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


def _cooperation_colours(share: np.ndarray) -> np.ndarray:
    from matplotlib import colormaps

    return colormaps["Purples"](0.25 + 0.75 * np.clip(share, 0.0, 1.0))


def _extent(model, axis: int = 0) -> tuple[float, float]:
    """The square of the landscape the map shows: the towns (with twice their radius) and the
    firms at set-up, with a margin, within the world; the same width on both axes."""
    size = model.params.world.world_size
    regions = model.world.regions
    f = model.firms
    xs = [r.x for r in regions] + list(f.x[f.alive])
    ys = [r.y for r in regions] + list(f.y[f.alive])
    pad = 2.5 * max(r.radius for r in regions) + 0.06 * size
    lo = np.array([min(xs), min(ys)]) - pad
    hi = np.array([max(xs), max(ys)]) + pad
    half = 0.5 * min(max(hi - lo), size)
    mid = np.clip(0.5 * (lo + hi), half, size - half)
    return float(mid[axis] - half), float(mid[axis] + half)


class MapView:
    """The landscape on a matplotlib axes; :meth:`update` redraws it for the model's state.

    ``fontsize`` sets the size of the towns' names, the title and the legend (the app uses a
    projector's size); ``legend`` is "inside" (lower left of the map), "below" (a strip under
    the axes, in the figure) or "none"; ``title`` a prefix of the title (a twin run's side)."""

    def __init__(self, ax, model, color_by: str = "sector", fontsize: float = 8.0,
                 legend: str = "inside", title: str = "", legend_cols: int = 4):
        if color_by not in COLOR_BY:
            raise ValueError(f"color_by: got {color_by!r}; allowed: {', '.join(COLOR_BY)}")
        if legend not in ("inside", "below", "none"):
            raise ValueError(f"legend: got {legend!r}; allowed: inside, below, none")
        self.ax, self.color_by, self.fontsize, self.prefix = ax, color_by, fontsize, title
        self.dot = max(1.0, fontsize / 8.0) ** 2  # larger dots with a projector's fonts
        self.legend_cols = legend_cols
        ax.set_xlim(*_extent(model))
        ax.set_ylim(*_extent(model, 1))
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for region in model.world.regions:  # towns: a disc of two radii, and the name
            ax.add_patch(Circle((region.x, region.y), 2 * region.radius, facecolor="#eef2f7",
                                edgecolor="#9fb3c8", lw=0.8, zorder=0))
            ax.text(region.x, region.y + 2 * region.radius, region.name, ha="center",
                    va="bottom", fontsize=fontsize, color="#34495e", zorder=5,
                    fontweight="bold")
        n_sectors = len(model.world.sectors)
        from matplotlib.colors import to_rgba_array

        # as RGBA numbers: a colour per firm as a name would be parsed per firm and frame
        self.sector_colours = to_rgba_array([SECTOR_COLOURS[i % len(SECTOR_COLOURS)]
                                             for i in range(n_sectors)])
        sup = model.suppliers
        ax.scatter(sup.x, sup.y, marker="v", s=22, c="#7f8c8d", edgecolors="none", zorder=2,
                   label="suppliers")
        self.ties = LineCollection([], colors="#5d6d7e", linewidths=0.4, alpha=0.35, zorder=1,
                                   animated=True)
        ax.add_collection(self.ties)
        self.firms = ax.scatter([], [], s=[], zorder=3, edgecolors="none", alpha=0.8,
                                animated=True)
        self.facilities = ax.scatter([], [], marker="s", s=110, zorder=4, edgecolors="black",
                                     linewidths=0.8, animated=True)
        self.labels: list = []
        self.title = ax.set_title("", fontsize=fontsize + 1, animated=True)
        if legend != "none":
            self._legend(model, legend)
        self.update(model)

    def _legend(self, model, where: str) -> None:
        from matplotlib.lines import Line2D

        ms = 0.7 * self.fontsize
        handles = []
        if self.color_by == "sector":
            handles += [Line2D([], [], ls="", marker="o", color=c, label=f"{s.name} firm",
                               ms=ms)
                        for s, c in zip(model.world.sectors, self.sector_colours, strict=True)]
        else:
            handles += [Line2D([], [], ls="", marker="o", color=c, label=label, ms=ms)
                        for c, label in ((_cooperation_colours(np.array([1.0]))[0],
                                          "kept all promises"),
                                         (_cooperation_colours(np.array([0.0]))[0],
                                          "kept none"),
                                         ((0.7, 0.7, 0.7, 1.0), "no partner"))]
        handles.append(Line2D([], [], ls="", marker="v", color="#7f8c8d", label="supplier",
                              ms=ms))
        handles += [Line2D([], [], ls="", marker="s", color=FACILITY_COLOURS[k], mec="black",
                           label=label, ms=ms + 1)
                    for k, label in (("operating", "facility operating"),
                                     ("drive", "pledge drive"),
                                     ("building", "being built"), ("declining", "declining"),
                                     ("closed", "closed"))]
        if where == "inside":
            self.ax.legend(handles=handles, loc="lower left", fontsize=self.fontsize - 2,
                           framealpha=0.8, ncol=2)
        else:
            self.ax.figure.legend(handles=handles, loc="lower center", ncol=self.legend_cols,
                                  fontsize=self.fontsize - 1, frameon=False,
                                  handletextpad=0.2, columnspacing=0.9)

    @property
    def artists(self) -> list:
        """The moving artists, in drawing order (see :class:`FastFigure`)."""
        return [self.ties, self.firms, self.facilities, *self.labels, self.title]

    def update(self, model) -> bool:
        """Redraw for the model's state; returns False (the still parts never change)."""
        f = model.firms
        idx = np.flatnonzero(f.alive)
        self.firms.set_offsets(np.column_stack([f.x[idx], f.y[idx]]))
        self.firms.set_sizes(self.dot * np.clip(3.0 + 2.5 * np.sqrt(f.employees[idx]), 3.0,
                                                120.0))
        if self.color_by == "sector":
            self.firms.set_facecolor(self.sector_colours[f.sector[idx]])
        else:  # share of its partners a firm kept its promise to this month; grey: no partner
            degree = (model.ties.partner[idx] >= 0).sum(axis=1)
            share = np.divide(f.coop_acts[idx], degree, out=np.zeros(idx.size),
                              where=degree > 0)
            colours = _cooperation_colours(share)
            colours[degree == 0] = (0.7, 0.7, 0.7, 1.0)
            self.firms.set_facecolor(colours)
        self.ties.set_segments(tie_segments(model))
        self._draw_facilities(model)
        self.title.set_text(f"{self.prefix}month {model.steps}: {idx.size:,} firms, "
                            f"{int(f.employees[idx].sum()):,} jobs")
        return False

    def _draw_facilities(self, model) -> None:
        fac, w = model.facilities, model.world
        for label in self.labels:
            label.remove()
        self.labels = []
        # a failed drive leaves no mark, nor does a private one-month attempt that got no
        # pledge (the model tries one every drive_interval months: see the pledges chart)
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
            colours.append(FACILITY_COLOURS[state])
            if state == "drive":
                self.labels.append(self.ax.text(pos[0] + 0.9, pos[1], f"{fac.pledged[f]} of "
                                                f"{fac.spv_min[f]} pledged",
                                                fontsize=self.fontsize - 1, va="center",
                                                zorder=6, animated=True,
                                                bbox={"fc": "white", "ec": "none",
                                                      "alpha": 0.7, "pad": 1}))
        self.facilities.set_offsets(np.array(xy))
        self.facilities.set_facecolor(colours)


class ChartsView:
    """The main series, one panel each (:class:`Panel`), from ``model.datacollector``.

    ``end`` is the run's last month: the months axis ends there (None: it grows by doubling
    from 24). :meth:`update` takes the model and, in a twin run, the twin: its series are
    drawn dashed, the gap between the two shaded, and each panel says both latest values
    and their difference."""

    def __init__(self, axes, panels: dict[str, Panel] | None = None, end: int | None = None,
                 fontsize: float = 7.0, twin: bool = False):
        self.panels = dict(CHART_PANELS if panels is None else panels)
        axes = list(np.ravel(axes))
        if len(axes) < len(self.panels):
            raise ValueError(f"ChartsView: {len(self.panels)} panels need as many axes")
        for ax in axes[len(self.panels):]:
            ax.set_visible(False)
        self.end, self.twin, self.fontsize = end, twin, fontsize
        self.axes = axes[:len(self.panels)]
        self.lines: list[tuple] = []  # (ax, key, line, scale, twin side)
        self.values: list = []  # (ax, panel, text) the latest values, written on the panel
        self.gaps: dict = {}  # ax -> the shading between the two runs (twin)
        for ax, panel in zip(self.axes, self.panels.values(), strict=True):
            ax.set_title(panel.title, fontsize=fontsize, loc="left")
            ax.tick_params(labelsize=fontsize - 1.5)
            for key, colour, style, label in panel.series:
                sides = ((0, style, label), (1, "--", "")) if twin else ((0, style, label),)
                for side, ls, lab in sides:
                    (line,) = ax.plot([], [], color=colour, ls=ls if side == 0 or style == "-"
                                      else ":", lw=2.0 if side == 0 else 1.6,
                                      alpha=1.0 if side == 0 else 0.75, label=lab or None,
                                      animated=True)
                    self.lines.append((ax, key, line, panel.scale, side))
            if panel.note:
                ax.figure.text(0.99, 0.004, panel.note.replace("\n", " "), ha="right",
                               va="bottom", fontsize=fontsize - 3, color="#555555")
            if any(label for *_, label in panel.series):
                ax.legend(fontsize=fontsize - 2, loc="upper left", bbox_to_anchor=(0, 0.86),
                          frameon=False)
            text = ax.text(0.99, 0.97, "", transform=ax.transAxes, ha="right", va="top",
                           fontsize=fontsize, fontweight="bold", animated=True)
            self.values.append((ax, panel, text))
            ax.set_xlim(0, end if end else 24)
            ax.set_ylim(0, panel.ymin)
            ax.grid(alpha=0.25)
        for ax in self.axes[-2:]:
            ax.set_xlabel("month", fontsize=fontsize - 1.5)

    @property
    def artists(self) -> list:
        """The moving artists (see :class:`FastFigure`)."""
        return [*self.gaps.values(), *(line for _, _, line, _, _ in self.lines),
                *(text for _, _, text in self.values)]

    def update(self, model, twin_model=None) -> bool:
        """Redraw the lines; returns True when an axis had to grow (the still parts changed).
        Limits grow by steps (values with a margin; months by doubling when the run's end is
        not known), so that they rarely do."""
        models = (model, twin_model)
        changed = False
        bounds: dict = {}
        latest: dict = {}
        for ax, key, line, scale, side in self.lines:
            m = models[side]
            if m is None:
                line.set_data([], [])
                continue
            values = scale * np.asarray(m.datacollector.model_vars.get(key, []), dtype=float)
            line.set_data(np.arange(values.size), values)
            latest[(ax, key, side)] = values
            finite = values[np.isfinite(values)]
            if finite.size:
                lo, hi = bounds.get(ax, (np.inf, -np.inf))
                bounds[ax] = (min(lo, finite.min()), max(hi, finite.max()))
            n = values.size
            x1 = ax.get_xlim()[1]
            if n - 1 > x1:  # months past the axis: 24, 48, 96, ... (doubling)
                while x1 < n - 1:
                    x1 *= 2
                ax.set_xlim(0, x1)
                changed = True
        for ax, (lo, hi) in bounds.items():
            y0, y1 = ax.get_ylim()
            if lo < y0 or hi > y1 - 0.03 * (y1 - y0):  # grow by half again (growth is rare),
                # also for a line at the top edge, where it would look cut off
                new0 = y0 if lo >= y0 else lo - 0.5 * max(abs(lo), 0.1 * (y1 - y0))
                new1 = (y1 if hi <= y1 - 0.03 * (y1 - y0)
                        else hi + 0.5 * max(hi - new0, abs(hi)))
                ax.set_ylim(new0, new1)
                changed = True
        for ax, panel, text in self.values:
            key = panel.series[0][0]
            text.set_text(self._value_text(panel, latest.get((ax, key, 0)),
                                           latest.get((ax, key, 1))))
            if self.twin:
                self._shade(ax, latest.get((ax, key, 0)), latest.get((ax, key, 1)))
        return changed

    def _value_text(self, panel: Panel, a, b) -> str:
        def last(v):
            return v[-1] if v is not None and v.size and np.isfinite(v[-1]) else None

        va, vb = last(a), last(b)
        if va is None:
            return ""
        if vb is None:
            return panel.fmt.format(va)
        diff = panel.fmt.format(abs(va - vb))
        if diff.strip("0.,") == "":  # no difference at the shown precision
            diff = panel.fmt.format(0.0)
        else:
            diff = ("+" if va > vb else "-") + diff
        return f"{panel.fmt.format(va)} vs {panel.fmt.format(vb)} ({diff})"

    def _shade(self, ax, a, b) -> None:
        old = self.gaps.pop(ax, None)
        if old is not None:
            old.remove()
        if a is None or b is None or not a.size:
            return
        n = min(a.size, b.size)
        x = np.arange(n)
        self.gaps[ax] = ax.fill_between(x, a[:n], b[:n], color="#f4a6a6", alpha=0.45,
                                        lw=0, animated=True, zorder=0.5)


def map_figure(model, color_by: str = "sector", size: float = 5.0, fontsize: float = 8.0,
               legend: str = "inside", title: str = "") -> tuple[Figure, MapView]:
    """A figure holding only the map (with the legend "below" it, a strip is kept for it)."""
    import math

    cols = max(2, int(size / 1.4))  # legend columns that fit the width
    entries = (len(model.world.sectors) if color_by == "sector" else 3) + 6
    strip = (math.ceil(entries / cols) * 1.5 * fontsize / 72 + 0.08) if legend == "below" \
        else 0.0
    height = size + strip
    fig = Figure(figsize=(size, height))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=max(strip, 0.05) / height,
                        top=1 - 1.9 * fontsize / 72 / height)
    view = MapView(fig.add_subplot(), model, color_by, fontsize=fontsize, legend=legend,
                   title=title, legend_cols=cols)
    return fig, view


def charts_figure(model, width: float = 6.0, height: float = 5.0, fontsize: float = 7.0,
                  end: int | None = None, twin_model=None) -> tuple[Figure, ChartsView]:
    """A figure of the live charts (:func:`chart_panels`), two columns."""
    panels = chart_panels(model)
    rows = (len(panels) + 1) // 2
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.1, top=0.95, wspace=0.22,
                        hspace=0.55)
    view = ChartsView(fig.subplots(rows, 2), panels, end=end, fontsize=fontsize,
                      twin=twin_model is not None)
    view.update(model, twin_model)
    return fig, view
