"""The models a sweep can evaluate, each an object that declares what it reports.

:data:`MODELS` maps the name an experiment gives (``[experiment] model = "cluster"``) to a
:class:`Model`:

- ``cluster``: the cluster model (:func:`sim.studies.simulate.simulate`), reporting every final
  outcome of :func:`sim.measure.outputs.final_names` for the scenario's world, breakdowns by
  sector and town included;
- ``patterns``: the cluster model reported as the patterns calibration fits
  (:mod:`sim.studies.sweep.patterns`);
- ``ishigami``: the Ishigami stand-in (:mod:`sim.studies.sweep.ishigami`).

Each offers the same things: a version (part of every run id), the outcomes it reports (so a
misspelt outcome is refused before any run), a cheap check of a set of overrides (so a bad
factor fails before the sweep starts) and one simulation. The engine knows the models only
through this registry; the studies built on it (compare, robust, calibrate) are its clients and
are not imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sim import __version__
from sim.studies.sweep import ishigami

# The scenario models' code (the scenario loader, the model, the patterns) is imported by the
# methods that use it, not here: reading a sweep folder (clustersim results, analyze) imports
# this registry and needs none of it. The arrows are downward (studies -> io, measure).

__all__ = ["Model", "Opened", "MODELS", "SCENARIO_MODELS", "get"]


@dataclass(frozen=True)
class Opened:
    """A model opened on its scenario: what the experiment records and checks with.

    Attributes
    ----------
    scenario_hash : str or None
        The resolved scenario's content hash (``extends`` chain included); part of every run id.
    final, series : tuple of str
        The final and per-step outcomes a run reports.
    check : callable
        ``check(overrides)`` raises the model's own errors
        (:class:`sim.core.errors.InputError`, :class:`sim.core.errors.ParameterError`) for
        overrides it would refuse, without running anything.
    """

    scenario_hash: str | None
    final: tuple[str, ...]
    series: tuple[str, ...]
    check: Any


class Model:
    """A model the sweep engine runs. Subclasses set :attr:`name`, :attr:`uses_scenario` and
    implement :attr:`version`, :meth:`open` and :meth:`simulate`."""

    name: ClassVar[str] = ""
    #: Whether runs read a scenario file (``[experiment] scenario`` is then required).
    uses_scenario: ClassVar[bool] = True

    @property
    def version(self) -> str:  # pragma: no cover - abstract
        """The version of the model's code, part of every run id."""
        raise NotImplementedError

    def open(self, scenario: Path | None) -> Opened:  # pragma: no cover - abstract
        """Load ``scenario`` once: its hash, the outcomes and the override check."""
        raise NotImplementedError

    def simulate(self, scenario: str | None, *, steps: int | None, seed: int,
                 overrides: dict[str, Any]):  # pragma: no cover - abstract
        """One run; returns an object with ``final``, ``series`` and ``provenance``."""
        raise NotImplementedError

    def simulate_many(self, scenario: str | None, *, steps: int | None, seeds: list[int],
                      overrides: list[dict[str, Any]], final: tuple[str, ...],
                      series: tuple[str, ...], every: int):
        """Runs of one scenario in this process, one per seed (with its overrides), yielded as
        each finishes: its result, or the exception it raised. ``final`` and ``series`` (kept
        every ``every`` months) are what the caller will read, so a model may compute only
        those. The default runs :meth:`simulate` after :meth:`simulate`."""
        for seed, own in zip(seeds, overrides, strict=True):
            try:
                yield self.simulate(scenario, steps=steps, seed=seed, overrides=own)
            except Exception as exc:  # the caller records the run as failed and goes on
                yield exc

    def __reduce__(self):  # the registry's instance, wherever it is unpickled
        return (get, (self.name,))


class ClusterModel(Model):
    """The cluster model: a scenario file run by :func:`sim.studies.simulate.simulate`."""

    name = "cluster"

    @property
    def version(self) -> str:
        return f"clustersim-{__version__}"

    def open(self, scenario: Path | None) -> Opened:
        from sim.io.scenario import load_scenario
        from sim.measure.outputs import final_names, series_names

        base = load_scenario(scenario)
        return Opened(base.hash, final_names(base.world),
                      tuple(n for n in series_names(base.world) if n != "step"),
                      lambda overrides: base.with_overrides(dict(overrides)))

    def simulate(self, scenario, *, steps, seed, overrides):
        from sim.io.scenario import load_scenario
        from sim.measure.outputs import breakdown
        from sim.studies import simulate as cluster

        loaded = load_scenario(scenario)
        result = cluster.simulate(loaded, steps=steps, seed=seed, overrides=dict(overrides))
        world = loaded.world
        result.final.update(breakdown(result.firms, [s.name for s in world.sectors],
                                      [r.name for r in world.regions]))
        return result

    def simulate_many(self, scenario, *, steps, seeds, overrides, final, series, every):
        """One process, compiled kernels and the scenario loaded once; only the series kept
        are recorded (at the rows kept), and the firm table is built only when a breakdown by
        sector or town is asked for. Each result equals :meth:`simulate`'s in what is read."""
        from sim.io.scenario import load_scenario
        from sim.measure.collect import Recording
        from sim.measure.outputs import PURPOSE_TOTALS, breakdown, breakdown_names
        from sim.studies import simulate as cluster

        loaded = load_scenario(scenario)
        world = loaded.world
        by_place = bool(set(final) & set(breakdown_names(world)))
        recording = Recording(outputs=tuple(series), every=every if series else None,
                              burn_in=False, mesa=False,
                              totals=bool(set(final) & set(PURPOSE_TOTALS)))
        runs = cluster.simulate_many(loaded, seeds, steps=steps, overrides=overrides,
                                     recording=recording, firms=by_place, errors="return")
        for result in runs:
            if by_place and not isinstance(result, Exception):
                result.final.update(breakdown(result.firms, [s.name for s in world.sectors],
                                              [r.name for r in world.regions]))
            yield result


class PatternsModel(Model):
    """The cluster model reported as the patterns the calibration fits."""

    name = "patterns"

    @property
    def version(self) -> str:
        from sim.studies.sweep import patterns as pattern_model

        return f"clustersim-{__version__}+{pattern_model.VERSION}"

    def open(self, scenario: Path | None) -> Opened:
        from sim.io.scenario import load_scenario
        from sim.studies.sweep import patterns as pattern_model

        base = load_scenario(scenario)
        sectors = tuple(s.name for s in base.world.sectors)

        def check(overrides):  # the patterns.* settings are the model's, not the scenario's
            own, rest = pattern_model.split_overrides(dict(overrides))
            pattern_model.settings(own, sectors)
            return base.with_overrides(rest)

        return Opened(base.hash, pattern_model.PATTERNS, pattern_model.PATTERNS, check)

    def simulate(self, scenario, *, steps, seed, overrides):
        from sim.studies.sweep import patterns as pattern_model

        return pattern_model.simulate(scenario, steps=steps, seed=seed,
                                      overrides=dict(overrides))

    def simulate_many(self, scenario, *, steps, seeds, overrides, final, series, every):
        """The scenario read once for the batch (:func:`sim.studies.sweep.patterns.simulate_many`);
        each result equals :meth:`simulate`'s."""
        from sim.studies.sweep import patterns as pattern_model

        yield from pattern_model.simulate_many(scenario, steps=steps, seeds=seeds,
                                               overrides=overrides)


class IshigamiModel(Model):
    """The Ishigami stand-in: no scenario, one outcome ``y``."""

    name = "ishigami"
    uses_scenario = False

    @property
    def version(self) -> str:
        return ishigami.VERSION

    def open(self, scenario: Path | None) -> Opened:
        return Opened(None, ishigami.OUTCOMES, ishigami.OUTCOMES, ishigami.check)

    def simulate(self, scenario, *, steps, seed, overrides):
        return ishigami.simulate(steps=steps, seed=seed, overrides=overrides)


#: The models an experiment may name, by name.
MODELS: dict[str, Model] = {m.name: m for m in (ClusterModel(), IshigamiModel(),
                                                PatternsModel())}
#: Models that run a scenario file (``[experiment] scenario`` is required for them).
SCENARIO_MODELS: tuple[str, ...] = tuple(n for n, m in MODELS.items() if m.uses_scenario)


def get(name: str) -> Model:
    """The registered model ``name`` (``KeyError`` if there is none)."""
    return MODELS[name]
