"""Comparisons with parameters drawn from a calibration's posterior (``clustersim compare
--posterior``, ``robust --posterior``, ``validate --anchors --posterior``): which values each
scenario takes in each replicate, the chance that each scenario is best, which drawn parameter
drives each effect, and how a comparison labels its parameters (a posterior, or a point
estimate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.errors import InputError
from sim.core.fields import names as _quoted
from sim.core.fields import suggest
from sim.measure import outputs
from sim.studies.paired import p_best, variance_shares

__all__ = ["POINT_LABEL", "parameters_label", "posterior_answer", "parameter_shares",
           "posterior_draws"]


#: How a comparison without ``--posterior`` labels its results.
POINT_LABEL = "point estimate: parameters fixed at the scenario's values"


def parameters_label(comp) -> str:
    """Point mode: :data:`POINT_LABEL`; with ``--posterior``: what the replicates drew."""
    post = comp.posterior
    if not post:
        return POINT_LABEL
    used = post["draws"][:comp.reps]
    reused = len(set(used)) < len(used)
    return (f"parameters drawn from the posterior of {post['calibration']} ({post['method']}, "
            f"{post['n']} draws): each replicate takes one draw, the same in every scenario"
            + (f"; {comp.reps} replicates > {post['n']} draws, so draws are reused"
               if reused else f"; {len(set(used))} distinct draws"))


def posterior_answer(comp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``--posterior``: P(best) of every scenario on the comparison's target over its
    replicates (each with its own posterior draw; :func:`sim.studies.paired.p_best`), and
    :func:`parameter_shares`. Two empty tables in point mode."""
    if not comp.posterior:
        return pd.DataFrame(), pd.DataFrame()
    wide = comp.runs.pivot(index="replicate", columns="scenario", values=comp.target)
    best = p_best(wide, comp.labels, outputs.direction(comp.target) or 1)
    best.insert(1, "outcome", comp.target)
    return best, parameter_shares(comp)


def parameter_shares(comp, target: str | None = None) -> pd.DataFrame:
    """``--posterior``: for each alternative, the first-order share of the variance of its
    paired effect on ``target`` (default the comparison's) across replicates due to each
    drawn parameter (:func:`sim.studies.paired.variance_shares`), largest first. Columns
    ``scenario``, ``outcome``, ``parameter``, ``s1``, ``s1_conf``, ``n``."""
    target = target or comp.target
    draws = comp.draws
    if draws.empty:
        return pd.DataFrame()
    x = draws.drop(columns="draw")
    frames = []
    seed = int(np.random.SeedSequence(comp.seed, spawn_key=(8,)).generate_state(1)[0])
    for label in comp.labels[1:]:
        a = comp.runs[comp.runs["scenario"] == label].set_index("replicate")[target]
        b = comp.runs[comp.runs["scenario"] == comp.base].set_index("replicate")[target]
        d = (a - b).reindex(x.index)
        sh = variance_shares(x, d.to_numpy(), seed)
        if sh.empty:
            continue
        sh.insert(0, "outcome", target)
        sh.insert(0, "scenario", label)
        frames.append(sh.sort_values("s1", ascending=False, kind="stable"))
    return (pd.concat(frames, ignore_index=True) if frames else
            pd.DataFrame(columns=["scenario", "outcome", "parameter", "s1", "s1_conf", "n"]))


def posterior_draws(posterior, scenarios, own, overrides, slots: int, seed: int,
                    uncertain=(), fixed_wins: bool = False
                    ) -> tuple[list[list[dict[str, Any]]], dict[str, Any]]:
    """The parameter values each scenario takes in each of ``slots`` replicates
    (:meth:`sim.io.posterior.Posterior.choose`, from ``seed``): per slot, per scenario, the
    slot's draw, where a parameter applies to every scenario and an
    ``interventions.NAME.FIELD`` to those with intervention NAME; and the record of the
    posterior (:meth:`~sim.io.posterior.Posterior.record`, with the draws' ``values``).

    Refuses (:class:`InputError`, naming the draws file): an intervention no scenario has; a
    parameter also given with ``--set`` or also varied by the futures (``uncertain``); a draw
    that is not valid for a scenario. With ``fixed_wins`` (``--why``, whose mechanism limits
    are fixed values) a parameter also fixed keeps its fixed value instead."""
    from sim.io.posterior import canonical

    src = str(Path(posterior.source).parent / posterior.file)
    have = [{iv.name for iv in sc.interventions} for sc in scenarios]
    fixed = {_canonical_or_self(k) for k in overrides or {}}
    varied = {_canonical_or_self(str(r[0])) for r in uncertain}
    for name in posterior.names:
        key = canonical(name)
        if key in fixed and not fixed_wins:
            raise InputError(src, name, "also given with --set; allowed: a parameter either "
                             "drawn from the posterior or fixed with --set, not both")
        if key in varied:
            raise InputError(src, name, "also varied by the futures (--uncertain); allowed: "
                             "a parameter either drawn from the posterior or sampled over a "
                             "range, not both (drop it from --uncertain)")
        if name.startswith("interventions."):
            iv = name.split(".")[1]
            if not any(iv in h for h in have):
                every = sorted(set().union(*have))
                raise InputError(src, name, f"no scenario has an intervention named "
                                 f"{iv!r}{suggest(iv, every)}; allowed: {_quoted(every)}")
    chosen, _ = posterior.choose(slots, seed)
    per_draw: dict[int, list[dict[str, Any]]] = {}
    for i in dict.fromkeys(int(c) for c in chosen):
        values = {k: v for k, v in posterior.draw(i).items()
                  if not (fixed_wins and canonical(k) in fixed)}
        mine = [{k: v for k, v in values.items() if not k.startswith("interventions.")
                 or k.split(".")[1] in h} for h in have]
        for sc, o, m in zip(scenarios, own, mine, strict=True):
            try:
                sc.with_overrides({**o, **m})
            except InputError as exc:
                raise InputError(src, f"draw {i}", f"not valid for scenario {sc.name}: "
                                 f"{exc.key + ': ' if exc.key else ''}{exc.message}") from None
        per_draw[i] = mine
    record = posterior.record(chosen)
    record["values"] = [posterior.values[int(i)].tolist() for i in chosen]
    return [per_draw[int(i)] for i in chosen], record


def _canonical_or_self(key: str) -> str:
    from sim.core.errors import ParameterError
    from sim.io.posterior import canonical

    try:
        return canonical(key)
    except ParameterError:
        return key
