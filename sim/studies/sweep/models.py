"""The models a sweep can evaluate: the cluster model (through
:func:`sim.studies.simulate.simulate`), the Ishigami stand-in, and ``patterns``, the cluster model
reported as the patterns calibration fits (:mod:`sim.studies.calibrate.model`). Each offers the same
three things: a version (part of every run id), a cheap check of a set of overrides (so a bad factor
fails before the sweep starts) and one simulation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sim import __version__
from sim.studies.sweep import ishigami

__all__ = ["MODELS", "SCENARIO_MODELS", "model_version", "known_outcomes", "open_scenario",
           "simulate"]

#: Models an experiment file may name.
MODELS: tuple[str, ...] = ("cluster", "ishigami", "patterns")
#: Models that run a scenario file (``[experiment] scenario`` is required for them).
SCENARIO_MODELS: tuple[str, ...] = ("cluster", "patterns")


def _missing(exc: ModuleNotFoundError, *names: str) -> bool:
    """True when ``exc`` says that one of ``names`` itself is absent (not one of its imports)."""
    return exc.name in names


def model_version(model: str) -> str:
    """The version of a model's code, part of every run id: results of another version differ."""
    if model == "patterns":
        from sim.studies.calibrate.model import VERSION

        return f"clustersim-{__version__}+{VERSION}"
    return ishigami.VERSION if model == "ishigami" else f"clustersim-{__version__}"


def known_outcomes(model: str) -> tuple[str, ...] | None:
    """The outcome names a model reports, or ``None`` when the model does not say in advance."""
    if model == "ishigami":
        return ishigami.OUTCOMES
    if model == "patterns":
        from sim.studies.calibrate.model import PATTERNS

        return PATTERNS
    try:
        import sim.studies.simulate as api
    except ModuleNotFoundError as exc:
        if _missing(exc, "sim.studies.simulate"):
            return None
        raise
    names = getattr(api, "OUTCOMES", None)
    return tuple(names) if names is not None else None


def open_scenario(model: str, scenario: Path | None):
    """The scenario's content hash, and a function that checks a dict of overrides cheaply.

    For the cluster model the hash is ``sim.io.scenario.load_scenario(scenario).hash`` (the
    resolved scenario, ``extends`` chain included) and the check is ``with_overrides`` on the
    scenario loaded once; both raise the model's own errors (:class:`sim.core.errors.InputError`,
    :class:`sim.core.params.ParameterError`). Without ``sim.io.scenario`` (during development) the
    hash is that of the file's bytes and the check is ``None``: bad overrides then fail when the
    runs do. The Ishigami stand-in has no scenario: ``(None, ishigami.check)``.

    Returns
    -------
    tuple of (str or None, callable or None)
    """
    if model == "ishigami":
        return None, ishigami.check
    try:
        from sim.io.scenario import load_scenario
    except ModuleNotFoundError as exc:
        if _missing(exc, "sim.io.scenario"):
            return "file:" + hashlib.sha256(Path(scenario).read_bytes()).hexdigest(), None
        raise
    base = load_scenario(scenario)
    if model == "patterns":  # the patterns.* settings are the model's own, not the scenario's
        from sim.studies.calibrate import model as patterns

        sectors = tuple(s.name for s in base.world.sectors)

        def check(overrides):
            own, rest = patterns.split_overrides(dict(overrides))
            patterns.settings(own, sectors)
            return base.with_overrides(rest)

        return base.hash, check
    return base.hash, lambda overrides: base.with_overrides(dict(overrides))


def simulate(model: str, scenario: str | None, *, steps: int | None, seed: int,
             overrides: dict[str, object]):
    """One run of ``model``; returns an object with ``final``, ``series`` and ``provenance``."""
    if model == "ishigami":
        return ishigami.simulate(steps=steps, seed=seed, overrides=overrides)
    if model == "patterns":
        from sim.studies.calibrate.model import simulate as patterns_simulate

        return patterns_simulate(scenario, steps=steps, seed=seed, overrides=dict(overrides))
    from sim.io.scenario import load_scenario
    from sim.measure.outputs import breakdown
    from sim.studies.simulate import simulate as cluster_simulate

    loaded = load_scenario(scenario)
    result = cluster_simulate(loaded, steps=steps, seed=seed, overrides=dict(overrides))
    world = loaded.world
    result.final.update(breakdown(result.firms, [s.name for s in world.sectors],
                                  [r.name for r in world.regions]))
    return result
