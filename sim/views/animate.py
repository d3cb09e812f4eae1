"""Animations of a run: the map and the live charts side by side, one frame a month.

``clustersim animate SCENARIO.toml --steps N --out FILE.gif`` calls :func:`animate`. A GIF is
written with Pillow (no ffmpeg needed); an MP4 needs the ``imageio-ffmpeg`` package (a wheel
with its own ffmpeg binary). Frames are drawn with :mod:`sim.views.draw` and written to a temporary
file that replaces ``out`` only when the animation is complete, so a failed or interrupted
run leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from sim.core.errors import InputError

__all__ = ["animate", "FORMATS", "check_output", "frames", "animation_model"]

#: Output formats by file suffix.
FORMATS = (".gif", ".mp4")


def check_output(out: Path, force: bool = False) -> None:
    """Refuse an output path before any work: wrong suffix, an existing file (without
    ``force``), a folder, or a missing MP4 encoder."""
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(str(out), "--out", f"got suffix {out.suffix or '(none)'!r}; "
                         f"allowed: {', '.join(FORMATS)}")
    if out.is_dir():
        raise InputError(str(out), "--out", "is a folder; allowed: a file name ending in "
                         + " or ".join(FORMATS))
    if out.exists() and not force:
        raise InputError(str(out), "--out", "exists; allowed: a new file, or --force to "
                         "replace it")
    if suffix == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise InputError(str(out), "--out", "an MP4 needs the imageio-ffmpeg package "
                             "(pip install imageio-ffmpeg); allowed without it: .gif") from None


def frames(model, steps: int, color_by: str = "sector", progress=None):
    """Yield ``steps + 1`` RGB frames (uint8 arrays): the state at set-up, then after each
    month. ``progress`` (a callable) is told after each month. The map and the charts are the
    classroom app's (:mod:`sim.views.draw`), the months axis ending at the last month."""
    from matplotlib.figure import Figure

    from sim.views.draw import ChartsView, FastFigure, MapView, chart_panels

    panels = chart_panels(model)
    rows = (len(panels) + 1) // 2
    fig = Figure(figsize=(12.0, 5.6))
    grid = fig.add_gridspec(rows, 3, left=0.01, right=0.985, bottom=0.07, top=0.95,
                            wspace=0.25, hspace=0.6, width_ratios=(1.9, 1.0, 1.0))
    map_view = MapView(fig.add_subplot(grid[:, 0]), model, color_by=color_by, fontsize=9)
    charts = ChartsView([fig.add_subplot(grid[r, 1 + c]) for r in range(rows) for c in range(2)],
                        panels, end=model.steps + steps, fontsize=8)
    fast = FastFigure(fig, dpi=80)
    for k in range(steps + 1):
        if k:
            model.step()
            if progress is not None:
                progress(1)
        map_view.update(model)
        if charts.update(model):
            fast.invalidate()
        fast.artists = map_view.artists + charts.artists
        yield np.array(fast.rgba()[..., :3])


def animation_model(scenario, seed: int = 0):
    """The model an animation of ``scenario`` (a loaded scenario) at ``seed`` runs: the
    scenario's own, as ``clustersim run`` and the classroom app build it."""
    return scenario.build(rng=seed, agents=False)


def animate(scenario, out: str | Path, *, steps: int | None = None, seed: int = 0,
            fps: int = 8, color_by: str = "sector", force: bool = False,
            progress=None) -> Path:
    """Run ``scenario`` (a path or a loaded :class:`sim.io.scenario.Scenario`) for ``steps``
    months and write its animation to ``out`` (.gif or .mp4); returns the path."""
    from sim.io.scenario import Scenario, load_scenario

    out = Path(out)
    check_output(out, force)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(Path(scenario))
    steps = scenario.steps if steps is None else int(steps)
    model = animation_model(scenario, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".animate-", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as a plainly created file would be
    try:
        pictures = frames(model, steps, color_by, progress)
        if out.suffix.lower() == ".gif":
            _write_gif(pictures, tmp, fps)
        else:
            _write_mp4(pictures, tmp, fps)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _write_gif(pictures, path: Path, fps: int) -> None:
    from PIL import Image

    images = [Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=128)
              for rgb in pictures]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=int(round(1000 / fps)), loop=0, optimize=False)


def _write_mp4(pictures, path: Path, fps: int) -> None:
    import imageio.v2 as imageio

    with imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264",
                            macro_block_size=8, quality=7) as writer:
        for rgb in pictures:
            writer.append_data(rgb)
