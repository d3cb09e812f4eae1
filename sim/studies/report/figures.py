"""Effects over time: each alternative's paired difference from the base month by month, with its
t-based 95% band (an effect band, not two overlapping level bands)."""

from __future__ import annotations

import io

from sim.core.errors import printable
from sim.measure import outputs
from sim.studies.paired import effect_over_time

__all__ = ["effect_figures", "COLOURS"]

#: Line colours of the alternatives: none of them red or green, which mean bad and good here.
COLOURS = ("#1f5f8b", "#d68910", "#8e44ad", "#16a085", "#7f8c8d", "#5d4037")


def effect_figures(comp, names, horizon: int | None = None) -> dict[str, bytes]:
    """One PNG per output with a monthly series: each alternative's paired difference from the
    base, month by month, with its 95% band and the zero line; a dashed line marks
    ``horizon`` when the report measures effects before the end."""
    from matplotlib.figure import Figure

    figures: dict[str, bytes] = {}
    for column in names:
        if column not in comp.series:
            continue
        fig = Figure(figsize=(6.4, 3.6), dpi=100)
        ax = fig.add_subplot()
        ax.axhline(0.0, color="#555", lw=0.8)
        drawn = False
        for k, label in enumerate(comp.labels[1:]):
            res = effect_over_time(comp, label, column)
            if res is None:
                continue
            steps, mean, lo, hi = res
            colour = COLOURS[k % len(COLOURS)]
            ax.plot(steps, mean, color=colour, lw=1.8,  # names shown, not obeyed
                    label=printable(f"{label} \u2212 {comp.base}"))
            ax.fill_between(steps, lo, hi, color=colour, alpha=0.2, lw=0)
            drawn = True
        if not drawn:
            continue
        if horizon is not None and horizon < comp.steps:
            ax.axvline(horizon, color="#333", lw=0.8, ls="--")
        way = {1: " (up is better)", -1: " (down is better)"}.get(outputs.direction(column), "")
        ax.set_title(f"Effect on {outputs.label(column).lower()}{way}", fontsize=10)
        ax.set_xlabel("month")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        figures[column] = buf.getvalue()
    return figures
