"""The models a sweep can evaluate: the cluster model (through :func:`sim.api.simulate`) and the
Ishigami stand-in. Each offers the same three things: a version (part of every run id), a cheap
check of a set of overrides (so a bad factor fails before the sweep starts) and one simulation.
"""

from __future__ import annotations

from pathlib import Path

from sim import __version__
from sim.sweep import ishigami

__all__ = ["MODELS", "model_version", "known_outcomes", "checker", "simulate"]

#: Models an experiment file may name.
MODELS: tuple[str, ...] = ("cluster", "ishigami")


def _missing(exc: ModuleNotFoundError, *names: str) -> bool:
    """True when ``exc`` says that one of ``names`` itself is absent (not one of its imports)."""
    return exc.name in names


def model_version(model: str) -> str:
    """The version of a model's code, part of every run id: results of another version differ."""
    return ishigami.VERSION if model == "ishigami" else f"clustersim-{__version__}"


def known_outcomes(model: str) -> tuple[str, ...] | None:
    """The outcome names a model reports, or ``None`` when the model does not say in advance."""
    if model == "ishigami":
        return ishigami.OUTCOMES
    try:
        import sim.api as api
    except ModuleNotFoundError as exc:
        if _missing(exc, "sim.api"):
            return None
        raise
    names = getattr(api, "OUTCOMES", None)
    return tuple(names) if names is not None else None


def checker(model: str, scenario: Path | None):
    """A function that checks, cheaply, that a dict of overrides applies to the model.

    The function raises the model's own error (:class:`sim.params.ParameterError` or
    :class:`sim.errors.InputError`) for a bad override. For the cluster model it is
    ``load_scenario(scenario).with_overrides(overrides)``, the scenario loaded once. Returns
    ``None`` when ``sim.scenario`` is not available: bad overrides then fail when the runs do.
    """
    if model == "ishigami":
        return ishigami.check
    try:
        from sim.scenario import load_scenario
    except ModuleNotFoundError as exc:
        if _missing(exc, "sim.scenario"):
            return None
        raise
    base = load_scenario(scenario)
    return lambda overrides: base.with_overrides(dict(overrides))


def simulate(model: str, scenario: str | None, *, steps: int | None, seed: int,
             overrides: dict[str, object]):
    """One run of ``model``; returns an object with ``final``, ``series`` and ``provenance``."""
    if model == "ishigami":
        return ishigami.simulate(steps=steps, seed=seed, overrides=overrides)
    from sim.api import simulate as cluster_simulate

    return cluster_simulate(scenario, steps=steps, seed=seed, overrides=dict(overrides))
