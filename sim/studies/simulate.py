"""One run of a scenario, from Python: the unit that ``run``, ``compare`` and ``sweep`` share.

>>> from sim.studies.simulate import simulate
>>> result = simulate("scenarios/baseline.toml", steps=24, seed=1)   # doctest: +SKIP
>>> result.series[["step", "firms", "cooperation_rate"]].tail()       # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.io.provenance import provenance
from sim.io.scenario import Scenario, load_scenario
from sim.measure.collect import Recording

__all__ = ["RunResult", "simulate", "simulate_many", "run_model", "Recording"]


@dataclass(repr=False)
class RunResult:
    """What one run produced.

    series : one row per step (from step 0, the initial state), a ``step`` column and one
        column per output;
    final : final value of every output plus per-run outcomes (survival, time to first facility,
        public cost per job...);
    firms : the final firm table;
    provenance : version, git commit, scenario hash, seed, parameters, wall time;
    burn_in : the months simulated before month 0 (:attr:`sim.core.params.WorldParams.burn_in`).
    """

    series: pd.DataFrame
    final: dict[str, float]
    firms: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)
    #: the burn-in's rows (steps before 0, flagged ``burn_in``), or None
    burn_in: pd.DataFrame | None = None

    def _repr_html_(self) -> str:  # a short summary in notebooks
        from sim.measure.summary import result_html

        return result_html(self)

    def __repr__(self) -> str:  # one short line, not the tables (a saved notebook keeps it)
        from sim.measure.summary import result_text

        return result_text(self)


def run_model(model, steps: int, progress=None) -> None:
    """Step ``model`` ``steps`` times; ``progress`` (a callable) is told after each step."""
    for _ in range(steps):
        model.step()
        if progress is not None:
            progress(1)


def simulate(scenario, *, steps: int | None = None, seed: int = 0,
             overrides: dict[str, Any] | None = None, agents: bool = False,
             threads: int | None = None, progress=None, recording: Recording | None = None,
             firms: bool = True) -> RunResult:
    """Run a scenario once.

    Parameters
    ----------
    scenario : str, Path or sim.io.scenario.Scenario
        A scenario file, or an already loaded scenario.
    steps : int, optional
        Months to simulate (default: the scenario's ``steps``).
    seed : int
        The run's seed; the same seed gives a bit-identical result.
    overrides : dict, optional
        ``{"coop_benefit": 0.03, "interventions.cfc.grant_share": 0.8}``, as ``--set``.
    agents : bool
        Build Mesa agent views (not needed for outputs; off by default for speed).
    threads : int, optional
        Numba threads for a large model (default 1); the results are bit-identical whatever
        the number.
    recording : sim.measure.collect.Recording, optional
        Which per-step outputs the series keeps, and how often (default: all, every month,
        burn-in included). ``Recording(outputs=("firms", "entries"), every=12, burn_in=False,
        mesa=False)`` computes only those; ``final`` is the same whatever the recording.
    firms : bool
        Build the final firm table (default True; False leaves ``firms`` empty).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(Path(scenario))
    if overrides:
        scenario = scenario.with_overrides(overrides)
    return _run(scenario, steps=steps, seed=seed, overrides=overrides, agents=agents,
                threads=threads, progress=progress, recording=recording, firms=firms)


def _run(scenario, *, steps, seed, overrides, agents, threads, progress, recording,
         firms) -> RunResult:
    """One run of a loaded scenario (overrides already applied, named for the provenance)."""
    n_steps = scenario.steps if steps is None else int(steps)
    t0 = time.perf_counter()
    model = scenario.build(rng=seed, agents=agents, threads=threads, recording=recording)
    run_model(model, n_steps, progress)
    model.finish()
    wall = time.perf_counter() - t0
    prov = provenance(scenario=scenario, seed=seed, params=model.params, steps=n_steps,
                      overrides=overrides or {}, wall_time_s=wall)
    full = model.series(burn_in=True)
    series = (full[full["step"] >= 0].reset_index(drop=True) if not full.empty else full)
    return RunResult(series=series, final=model.final_outcomes(),
                     firms=model.firm_table() if firms else pd.DataFrame(), provenance=prov,
                     burn_in=(full[full["step"] < 0].reset_index(drop=True) if not full.empty
                              else full))


def simulate_many(scenario, seeds, *, steps: int | None = None,
                  overrides: dict[str, Any] | Sequence[dict[str, Any] | None] | None = None,
                  recording: Recording | None = None, firms: bool = True,
                  threads: int | None = None, progress=None,
                  errors: str = "raise") -> Iterator[RunResult | Exception]:
    """Many runs of one scenario in this process: replicates, or design points of a sweep.

    The scenario is loaded once, each distinct set of overrides applied once, and the kernels
    compiled (or loaded from the cache) once for the whole batch; each run is otherwise exactly
    :func:`simulate` of its seed and overrides, to the bit. Runs are yielded one by one, in the
    order of ``seeds``, so a caller can store each as it comes (and resume at run granularity).

    Parameters
    ----------
    scenario : str, Path or sim.io.scenario.Scenario
    seeds : iterable of int
        One run per seed.
    overrides : dict, or a sequence of dicts (one per seed), optional
        The same overrides for every run, or each run's own (None or {} for none).
    steps, recording, firms, threads, progress
        As in :func:`simulate` (``progress`` is told after each month of each run).
    errors : {"raise", "return"}
        What a run that fails does: raise (ending the batch), or be yielded as its exception
        (with its traceback) while the batch goes on, as a sweep's worker needs.

    Examples
    --------
    >>> from sim.measure.collect import Recording
    >>> lean = Recording(outputs=("firms", "employment"), every=12, burn_in=False, mesa=False)
    >>> runs = simulate_many("scenarios/baseline.toml", range(8), recording=lean)
    >>> [r.final["employment"] for r in runs]  # doctest: +SKIP
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(Path(scenario))
    if errors not in ("raise", "return"):
        raise ValueError(f"simulate_many: errors={errors!r}; allowed: 'raise', 'return'")
    seeds = list(seeds)
    if overrides is None or isinstance(overrides, dict):
        per_run = [overrides] * len(seeds)
    else:
        per_run = list(overrides)
        if len(per_run) != len(seeds):
            raise ValueError(f"simulate_many: {len(seeds)} seeds but {len(per_run)} sets of "
                             "overrides; give one set, or one per seed")
    return _many(scenario, seeds, per_run, errors == "raise", steps=steps, recording=recording,
                 firms=firms, threads=threads, progress=progress)


def _many(scenario, seeds, per_run, raise_, **kwargs) -> Iterator[RunResult | Exception]:
    loaded: dict[str, Any] = {}  # each distinct set of overrides is applied once
    for seed, over in zip(seeds, per_run, strict=True):
        try:
            key = json.dumps(over or {}, sort_keys=True, default=repr)
            sc = loaded.get(key)
            if sc is None:
                sc = loaded[key] = scenario.with_overrides(over) if over else scenario
            result = _run(sc, seed=seed, overrides=over, agents=False, **kwargs)
        except Exception as exc:  # a bad design point, or the model's own error
            if raise_:
                raise
            result = exc
        yield result
