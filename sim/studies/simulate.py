"""One run of a scenario, from Python: the unit that ``run``, ``compare`` and ``sweep`` share.

>>> from sim.studies.simulate import simulate
>>> result = simulate("scenarios/baseline.toml", steps=24, seed=1)   # doctest: +SKIP
>>> result.series[["step", "firms", "cooperation_rate"]].tail()       # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.io.provenance import provenance

__all__ = ["RunResult", "simulate", "run_model"]


@dataclass
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
        from sim.views.notebook import result_html

        return result_html(self)


def run_model(model, steps: int, progress=None) -> None:
    """Step ``model`` ``steps`` times; ``progress`` (a callable) is told after each step."""
    for _ in range(steps):
        model.step()
        if progress is not None:
            progress(1)


def simulate(scenario, *, steps: int | None = None, seed: int = 0,
             overrides: dict[str, Any] | None = None, agents: bool = False,
             threads: int | None = None, progress=None) -> RunResult:
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
    """
    from sim.io.scenario import Scenario, load_scenario

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(Path(scenario))
    if overrides:
        scenario = scenario.with_overrides(overrides)
    n_steps = scenario.steps if steps is None else int(steps)
    t0 = time.perf_counter()
    model = scenario.build(rng=seed, agents=agents, threads=threads)
    run_model(model, n_steps, progress)
    wall = time.perf_counter() - t0
    prov = provenance(scenario=scenario, seed=seed, params=model.params, steps=n_steps,
                      overrides=overrides or {}, wall_time_s=wall)
    full = model.series(burn_in=True)
    return RunResult(series=model.series(), final=model.final_outcomes(),
                     firms=model.firm_table(), provenance=prov,
                     burn_in=full[full["step"] < 0].reset_index(drop=True))
