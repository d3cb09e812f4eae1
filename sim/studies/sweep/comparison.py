"""Comparisons as experiments: policies (scenario files) crossed with replicates, and futures.

``clustersim compare`` and ``clustersim robust`` (:mod:`sim.studies.compare`,
:mod:`sim.studies.robust`) build their experiments here, in code: the scenario files are the
experiment's :class:`~sim.studies.sweep.experiment.Policy` levels, and a robustness study's
futures are parameter values crossed with every policy. The runs are laid out by
:func:`sim.studies.sweep.experiment.build_design`, seeded under common random numbers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sim.studies.sweep.experiment import Experiment, Factor

__all__ = ["comparison_experiment"]


def comparison_experiment(policies, *, replicates: int, seed: int, steps: int,
                          series: tuple[str, ...], name: str = "comparison",
                          description: str = "", overrides: dict[str, Any] | None = None,
                          rule: dict[str, Any] | None = None, code: str | None = None,
                          futures=(), uncertain=(), draws=(),
                          posterior: dict[str, Any] | None = None) -> Experiment:
    """A comparison as an experiment: its policies (scenario files), crossed with
    ``replicates`` replicates under common random numbers, and with ``futures`` for a
    robustness study.

    Parameters
    ----------
    policies : sequence of Policy
        One per scenario, the base first.
    replicates, seed, steps : int
        Replicate ``r`` of every point gets the same seed (:func:`run_seed`, ``"common"``),
        so identical scenarios give identical runs.
    series : tuple of str
        Per-step outputs kept for every run (every step).
    overrides : dict, optional
        The ``--set`` values as given, recorded in the design.
    rule : dict, optional
        How the number of replicates was chosen (``--reps auto``), recorded in the design.
    code : str, optional
        The git commit of the code; part of the design (:attr:`Experiment.code`).
    futures : sequence of dict, optional
        Parameter values, one dict per future, each crossed with every policy (its values
        override the policy's); ``uncertain`` gives the ranges they were sampled from,
        ``(name, low, high)``, recorded as uniform factors.
    draws, posterior : optional
        Posterior draws (``--posterior``): per slot (future, replicate), per policy, the
        parameter values of that replicate's draw (:attr:`Experiment.draws`), and the record
        of the posterior they come from (in the design, so a folder run at other draws is not
        resumed).
    """
    policies = tuple(policies)
    futures = tuple(dict(f) for f in futures)
    uncertain = tuple((str(n), float(lo), float(hi)) for n, lo, hi in uncertain)
    labels = tuple(p.label for p in policies)
    final = tuple(dict.fromkeys(n for p in policies for n in p.final))
    factors: tuple[Factor, ...] = (Factor(name="scenario", path="scenario", levels=labels),)
    if futures:
        factors = (Factor(name="future", path="future", levels=tuple(range(len(futures)))),
                   *factors, *(Factor(name=n, path=n, distribution="uniform", bounds=(lo, hi))
                               for n, lo, hi in uncertain))
    text = _comparison_text(policies, name, steps, replicates, seed, futures)
    if posterior is not None:
        text += ("\n# parameters drawn from the posterior of " + json.dumps(
            posterior.get("calibration")) + " (sha256 " + str(posterior.get("sha256"))
            + "), draw per replicate: " + json.dumps(posterior.get("draws")) + "\n")
    return Experiment(
        source=Path(policies[0].path), sha256=hashlib.sha256(text.encode()).hexdigest(),
        name=name, description=description, model="cluster", scenario=None,
        scenario_hash=None, steps=int(steps), method="grid", options={},
        replicates=int(replicates), seed=int(seed), seeding="common",
        overrides=dict(sorted((overrides or {}).items())), factors=factors, final=final,
        series=tuple(series), every=1, policies=policies, futures=futures,
        uncertain=uncertain, draws=tuple(tuple(dict(d) for d in slot) for slot in draws),
        posterior=dict(posterior) if posterior is not None else None,
        replicates_rule=dict(rule) if rule is not None else None,
        code=code, checked=True, text=text)


def _comparison_text(policies, name, steps, replicates, seed, futures) -> str:
    """What a comparison's folder records as its ``experiment.toml`` (not read back)."""
    made_by = "clustersim robust" if futures else "clustersim compare"
    lines = [f"# A comparison made by `{made_by}` ({name}); not an experiment file.",
             "[experiment]", f"name = {json.dumps(name)}", f"steps = {steps}", "",
             "[design]", f"replicates = {replicates}", f"seed = {seed}",
             'seeding = "common"', ""]
    for p in policies:
        lines += ["[[scenarios]]", f"label = {json.dumps(p.label)}",
                  f"path = {json.dumps(p.path)}", f"hash = {json.dumps(p.hash)}"]
        lines += [f"set.{json.dumps(k)} = {json.dumps(v)}" for k, v in p.overrides.items()]
        lines.append("")
    text = "\n".join(lines)
    if futures:
        text += "\n# futures (Latin hypercube):\n" + "\n".join(
            "# " + json.dumps(f) for f in futures) + "\n"
    return text
