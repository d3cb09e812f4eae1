"""Experiment files: what to vary, how to sample it, how often to repeat, what to keep.

An experiment file (TOML, reference in ``docs/sweeps.md``) names a base scenario, the factors
(parameter path plus levels, or a range and a distribution), a design (full factorial grid, Latin
hypercube, Sobol'/Saltelli, Morris), the replicates per point, the steps and the outputs. It is
validated as strictly as a scenario file: every mistake raises :class:`sim.core.errors.InputError`
naming the file, the key path and what is allowed, and unknown keys get a "did you mean".

The designs themselves come from SALib (Sobol', Morris) and ``scipy.stats.qmc`` (Latin
hypercube); non-uniform distributions are applied by SALib's ``scale_samples``. This module only
lays the points out and gives every run its identity:

- the sampler's random generator and every run's seed derive from one
  ``numpy.random.SeedSequence(seed)``: child 0 seeds the sampler, child 1 the runs. With
  ``seeding = "common"`` (default; common random numbers) replicate ``r`` of every point gets
  ``SeedSequence(seed).spawn(2)[1].spawn(R)[r]``; with ``"independent"`` point ``p`` gets its own
  ``...spawn(2)[1].spawn(P)[p].spawn(R)[r]``. Nothing depends on which worker runs what.
- an experiment is data with explicit fields (:class:`Experiment`): the model, the factors, the
  replicates and, for a comparison of scenario files (``clustersim compare``), its
  :class:`Policy` levels and, for a robustness study (``clustersim robust``), its futures, the
  way EMA Workbench makes policies and scenarios first-class. Files come in through
  :func:`load_experiment`; the studies build theirs in code with :func:`new_experiment` and
  :func:`sim.studies.sweep.comparison.comparison_experiment`; both are checked the same way.
- a run's id hashes what determines its result: model and model version, scenario content,
  steps, every override, the seed, and its place in the design (point, replicate).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.errors import InputError, ParameterError
from sim.core.fields import FileCheck, flatten, is_int, is_num, one_of, suggest
from sim.io.inputs import parse_toml, read_input
from sim.io.limits import MAX_RUNS, MAX_SEED, MAX_STEPS, check_design
from sim.studies.sweep import models

__all__ = [
    "METHODS",
    "DISTRIBUTIONS",
    "RESERVED_COLUMNS",
    "Factor",
    "Policy",
    "Experiment",
    "RunSpec",
    "Design",
    "load_experiment",
    "new_experiment",
    "build_design",
    "run_seed",
    "canonical_json",
]

METHODS: tuple[str, ...] = ("grid", "lhs", "sobol", "morris")
#: distribution -> (SALib name, the keys it needs)
DISTRIBUTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "uniform": ("unif", ("range",)),
    "loguniform": ("logunif", ("range",)),
    "triangular": ("triang", ("range", "mode")),
    "normal": ("norm", ("mean", "sd")),
    "truncnormal": ("truncnorm", ("range", "mean", "sd")),
    "lognormal": ("lognorm", ("mean", "sd")),
}
#: Morris designs sit on the edges of the unit cube, where unbounded distributions are infinite.
BOUNDED = ("uniform", "loguniform", "triangular", "truncnormal")
SEEDINGS = ("common", "independent")
LHS_OPTIMIZATIONS = ("none", "random-cd", "lloyd")
#: Columns of the run table that no factor or outcome may shadow.
RESERVED_COLUMNS = ("id", "point", "replicate", "seed", "status", "error", "wall_time",
                    "traceback", "run_id", "step")

_TOP = {
    "experiment": "name, description, model, scenario, steps",
    "design": "method, replicates, seed, seeding and the method's own keys",
    "overrides": "parameter values fixed for every run",
    "factors": "the parameters that vary ([[factors]] tables)",
    "outputs": "final, series, every",
}
_EXPERIMENT_KEYS = ("name", "description", "model", "scenario", "steps")
_DESIGN_COMMON = ("method", "replicates", "seed", "seeding")
_DESIGN_KEYS = {
    "grid": (),
    "lhs": ("samples", "optimization"),
    "sobol": ("samples", "second_order"),
    "morris": ("trajectories", "levels", "optimal_trajectories"),
}
_FACTOR_KEYS = ("path", "name", "levels", "range", "num", "distribution", "mode", "mean", "sd",
                "integer")
_OUTPUT_KEYS = ("final", "series", "every")
# stream numbers under SeedSequence(seed): see the module docstring
_STREAM_SAMPLER, _STREAM_RUNS, _STREAM_ANALYSIS = 0, 1, 2


# -- data ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    """One varied parameter.

    Attributes
    ----------
    name : str
        Column name in the run table (default: the last part of ``path``).
    path : str
        Parameter path, as for ``clustersim run --set`` (``coop_benefit``,
        ``interventions.cfc.grant_share``).
    levels : tuple or None
        Grid designs: the values, in order.
    distribution : str or None
        Sampled designs: one of :data:`DISTRIBUTIONS`.
    bounds : tuple of float
        The distribution's numbers in SALib's convention (``unif``: low, high; ``triang``: low,
        high, peak as a share of the width; ``norm``: mean, sd; ``truncnorm``: low, high, mean,
        sd; ``lognorm``: mean and sd of the log).
    integer : bool
        Round sampled values to integers.
    """

    name: str
    path: str
    levels: tuple | None = None
    distribution: str | None = None
    bounds: tuple[float, ...] = ()
    integer: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path,
                "levels": list(self.levels) if self.levels is not None else None,
                "distribution": self.distribution, "bounds": list(self.bounds),
                "integer": self.integer}


@dataclass(frozen=True)
class Policy:
    """One scenario file of a comparison: a policy, in EMA Workbench's words.

    Attributes
    ----------
    label : str
        Unique within the comparison; the first policy is the base.
    path : str
        The scenario file (absolute).
    hash : str
        The resolved scenario's content hash; part of its runs' ids.
    overrides : dict
        The ``--set`` values that apply to it.
    final : tuple of str
        The outcomes its runs report.
    """

    label: str
    path: str
    hash: str
    overrides: dict[str, Any] = field(default_factory=dict)
    final: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "path": self.path, "hash": self.hash,
                "overrides": dict(self.overrides), "final": list(self.final)}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: what runs, with which values, how often, and what is kept.

    Build its runs with :func:`build_design`. A sweep of a file varies ``factors`` over one
    scenario; a comparison (``policies``) runs every policy, and a robustness study every
    policy in every one of its ``futures`` (parameter values that override the policy's).
    """

    source: Path
    sha256: str
    name: str
    description: str
    model: str
    scenario: Path | None
    scenario_hash: str | None
    steps: int | None
    method: str
    options: dict[str, Any]
    replicates: int
    seed: int
    seeding: str
    overrides: dict[str, Any]
    factors: tuple[Factor, ...]
    final: tuple[str, ...]
    series: tuple[str, ...] = ()
    every: int = 1
    #: The scenario files a comparison runs (the first is the base).
    policies: tuple[Policy, ...] = ()
    #: A robustness study's futures: parameter values crossed with every policy.
    futures: tuple[dict[str, float], ...] = ()
    #: The ranges the futures were sampled from: ``(name, low, high)``.
    uncertain: tuple[tuple[str, float, float], ...] = ()
    #: Posterior draws (``--posterior``): per slot (future ``f``, replicate ``r``: slot
    #: ``f * replicates + r``; without futures, ``r``), per policy, the parameter values that
    #: override the policy's in that replicate; ``posterior`` records where they came from.
    draws: tuple[tuple[dict[str, Any], ...], ...] = ()
    posterior: dict[str, Any] | None = None
    #: How the replicates were chosen (``compare --reps auto``), recorded in the design.
    replicates_rule: dict[str, Any] | None = None
    #: The git commit of the code, part of a comparison's design: a folder computed by other
    #: code is not resumed (a comparison is cheap to run again; a sweep keys on the version).
    code: str | None = None
    checked: bool = field(default=True, compare=False)
    #: The experiment as text when it was made in code, not read from a file (a comparison).
    text: str | None = field(default=None, compare=False)

    def resolved(self) -> dict[str, Any]:
        """Everything that decides the runs and what is kept of them (JSON-ready).

        Two files with the same resolved design (say, differing only in comments or in the
        description) make the same sweep.
        """
        design: dict[str, Any] = {"method": self.method, **self.options}
        if self.policies:
            design["scenarios"] = [p.to_dict() for p in self.policies]
        if self.replicates_rule is not None:
            design["replicates_rule"] = dict(self.replicates_rule)
        if self.code is not None:
            design["code"] = self.code
        if self.futures:
            design["futures"] = [dict(f) for f in self.futures]
            design["uncertain"] = [list(r) for r in self.uncertain]
        if self.posterior is not None:
            design["posterior"] = dict(self.posterior)
        design.update(replicates=self.replicates, seed=self.seed, seeding=self.seeding)
        return {
            "model": self.model,
            "model_version": models.get(self.model).version,
            "scenario_hash": self.scenario_hash,
            "steps": self.steps,
            "design": design,
            "overrides": self.overrides,
            "factors": [f.to_dict() for f in self.factors],
            "outputs": {"final": list(self.final), "series": list(self.series),
                        "every": self.every},
        }

    @functools.cached_property
    def design(self) -> Design:
        """The laid-out runs (:func:`build_design`), computed once."""
        return build_design(self)

    def fingerprint(self) -> str:
        return hashlib.sha256(canonical_json(self.resolved()).encode()).hexdigest()

    def problem(self) -> dict[str, Any]:
        """The SALib problem dict of the sampled factors."""
        return {
            "num_vars": len(self.factors),
            "names": [f.name for f in self.factors],
            "bounds": [list(f.bounds) for f in self.factors],
            "dists": [DISTRIBUTIONS[f.distribution][0] for f in self.factors],
        }

    def analysis_seed(self) -> int:
        """A nonzero seed for the analysis' bootstrap, derived from the experiment's seed."""
        ss = np.random.SeedSequence(self.seed, spawn_key=(_STREAM_ANALYSIS,))
        return int(ss.generate_state(1)[0]) or 1


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything a worker needs for one run (small and picklable)."""

    id: str
    point: int
    replicate: int
    seed: int
    model: str
    scenario: str | None
    steps: int | None
    overrides: dict[str, Any]
    factors: dict[str, Any]
    final: tuple[str, ...]
    series: tuple[str, ...]
    every: int


@dataclass(frozen=True)
class Design:
    """The laid-out design: one row of ``points`` per point, one :class:`RunSpec` per run."""

    experiment: Experiment
    points: pd.DataFrame
    runs: tuple[RunSpec, ...]

    @property
    def n_points(self) -> int:
        return len(self.points)

    def table(self) -> pd.DataFrame:
        """One row per run: id, point, replicate, seed and the factor values."""
        rows = [{"id": r.id, "point": r.point, "replicate": r.replicate, "seed": r.seed,
                 **r.factors} for r in self.runs]
        return pd.DataFrame(rows)


# -- helpers -------------------------------------------------------------------------------------
def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal data, equal text, equal hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_seed(seed: int, seeding: str, point: int, replicate: int) -> int:
    """The seed of one run, a 63-bit integer derived from the experiment's ``SeedSequence``.

    Equal to the first 64-bit word of ``SeedSequence(seed).spawn(2)[1].spawn(R)[replicate]``
    (``"common"``) or ``...spawn(2)[1].spawn(P)[point].spawn(R)[replicate]`` (``"independent"``),
    shifted right by one bit so it fits a signed 64-bit column.
    """
    key = ((_STREAM_RUNS, replicate) if seeding == "common"
           else (_STREAM_RUNS, point, replicate))
    ss = np.random.SeedSequence(seed, spawn_key=key)
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def _run_id(exp: Experiment, scenario_hash: str | None, overrides: dict[str, Any], seed: int,
            point: int, replicate: int) -> str:
    """A run's id: the hash of what determines its result and of its place in the design."""
    return hashlib.sha256(canonical_json({
        "model": exp.model, "model_version": models.get(exp.model).version,
        "scenario_hash": scenario_hash, "steps": exp.steps, "overrides": overrides,
        "seed": seed, "point": point, "replicate": replicate,
    }).encode()).hexdigest()[:16]


def _plain(v):
    """A numpy scalar as the Python scalar JSON and the models expect."""
    return v.item() if isinstance(v, np.generic) else v


# -- loading ---------------------------------------------------------------------------------------
def load_experiment(path: str | Path, *, check_model: bool = True) -> Experiment:
    """Read and validate an experiment file.

    Parameters
    ----------
    path : str or Path
        The TOML file. Relative paths inside it are relative to its folder.
    check_model : bool
        Also check, cheaply, that the model accepts every factor's extreme values and the fixed
        overrides (the cluster model through ``sim.io.scenario.load_scenario(...).with_overrides``).

    Raises
    ------
    InputError
        Naming the file, the key path and what is allowed.
    """
    source = Path(path)
    chk = FileCheck(source, _TOP)
    try:
        raw = read_input(source, "an experiment file (TOML)")
    except InputError as exc:
        chk.fail("", f"cannot read the experiment file: {exc.message}")
    try:
        data = parse_toml(raw.decode("utf-8"), str(source))
    except UnicodeDecodeError:
        chk.fail("", "not a text file in UTF-8")
    chk.keys(data, "", tuple(_TOP))
    head = _experiment_table(chk, data, source)
    method, design = _design_table(chk, data)
    outputs = _outputs_table(chk, data)
    if "factors" not in data:
        chk.fail("factors", "missing; add at least one [[factors]] table with a path")
    fl = data["factors"]
    if not isinstance(fl, list) or not fl or not all(isinstance(f, dict) for f in fl):
        chk.fail("factors", f"got {fl!r}; allowed: one or more [[factors]] tables")
    factors = tuple(_factor(chk, f, i, method) for i, f in enumerate(fl))
    return new_experiment(**head, **design, **outputs, overrides=_overrides_table(chk, data),
                          factors=factors, source=source.resolve(),
                          sha256=hashlib.sha256(raw).hexdigest(), check_model=check_model,
                          chk=chk)


def _experiment_table(chk: FileCheck, data: dict, source: Path) -> dict[str, Any]:
    ex = chk.table(data, "experiment")
    chk.keys(ex, "experiment.", _EXPERIMENT_KEYS)
    name = chk.string(ex, "experiment.", "name", default=source.stem)
    description = ex.get("description", "")
    if not isinstance(description, str):
        chk.fail("experiment.description", f"got {description!r}; allowed: a string")
    model = chk.choice(ex, "experiment.", "model", tuple(models.MODELS), default="cluster")
    steps = chk.integer(ex, "experiment.", "steps", 1, hi=MAX_STEPS,
                        what=" (months to simulate; omit for the scenario's own horizon)")
    scenario = None
    if models.get(model).uses_scenario:
        rel = chk.string(ex, "experiment.", "scenario", required=True,
                         what="the path of a scenario file, relative to this file")
        scenario = (source.parent / rel).resolve()
        if not scenario.is_file():
            chk.fail("experiment.scenario", f"got {rel!r}; no such file ({scenario})")
    elif "scenario" in ex:
        chk.fail("experiment.scenario", f"not used by model {model!r}; remove it")
    return {"name": name, "description": description, "model": model, "steps": steps,
            "scenario": scenario}


def _design_table(chk: FileCheck, data: dict) -> tuple[str, dict[str, Any]]:
    de = chk.table(data, "design")
    method = chk.choice(de, "design.", "method", METHODS)
    allowed = _DESIGN_COMMON + _DESIGN_KEYS[method]
    why = {k: f"not used by method {method!r}; allowed for {method!r}: {', '.join(allowed)}"
           for m, ks in _DESIGN_KEYS.items() if m != method for k in ks if k not in allowed}
    chk.keys(de, "design.", allowed, why)
    return method, {
        "method": method,
        "replicates": chk.integer(de, "design.", "replicates", 1, default=1, hi=MAX_RUNS),
        "seed": chk.integer(de, "design.", "seed", 0, required=True, hi=MAX_SEED,
                            what=" (the sweep's base seed)"),
        "seeding": chk.choice(de, "design.", "seeding", SEEDINGS, default="common"),
        "options": _design_options(chk, de, method)}


def _overrides_table(chk: FileCheck, data: dict) -> dict[str, Any]:
    overrides = flatten(chk.table(data, "overrides", required=False))
    for k, v in overrides.items():
        ok = (isinstance(v, bool | str) or is_num(v)
              or (isinstance(v, list) and all(isinstance(x, bool | str) or is_num(x)
                                              for x in v)))
        if not ok:
            chk.fail(f"overrides.{k}", f"got {v!r}; allowed: a number, true/false, a string "
                     "or a list of these")
    return overrides


def _outputs_table(chk: FileCheck, data: dict) -> dict[str, Any]:
    out = chk.table(data, "outputs")
    chk.keys(out, "outputs.", _OUTPUT_KEYS)
    final = chk.names(out, "outputs.", "final", required=True)
    series = chk.names(out, "outputs.", "series")
    if "every" in out and not series:
        chk.fail("outputs.every", "only used with outputs.series; add the series to keep")
    every = chk.integer(out, "outputs.", "every", 1, default=1,
                        what=" (keep the series every this many steps)")
    for key, names in (("final", final), ("series", series)):
        for i, n in enumerate(names):
            if n in RESERVED_COLUMNS:
                chk.fail(f"outputs.{key}[{i}]", f"got {n!r}, a reserved column name; "
                         f"reserved: {', '.join(RESERVED_COLUMNS)}")
    return {"final": final, "series": series, "every": every}


def new_experiment(*, name: str, model: str, scenario: Path | None, steps: int | None,
                   method: str, options: dict[str, Any], replicates: int, seed: int,
                   seeding: str, overrides: dict[str, Any], factors: tuple[Factor, ...],
                   final: tuple[str, ...], series: tuple[str, ...] = (), every: int = 1,
                   description: str = "", source: Path, sha256: str | None = None,
                   text: str | None = None, check_model: bool = True,
                   chk: FileCheck | None = None) -> Experiment:
    """An experiment from its fields, checked as strictly as a file: factors and overrides
    against each other, the outcomes against what the model reports, and (with
    ``check_model``) the fixed overrides and every factor's extremes on the model itself.

    ``source`` is the file the experiment comes from (or was made from, for one built in
    code, whose ``text`` then describes it); errors name it and the key path of the
    experiment-file format.

    Raises
    ------
    InputError
        Naming ``source``, the key path and what is allowed.
    """
    chk = chk or FileCheck(source, _TOP)
    _check_factors(chk, factors, overrides, final, series, steps, method)
    points = design_points(method, options, factors)
    if points * replicates > MAX_RUNS:
        chk.fail("design", f"{points:,} points x {replicates:,} replicates = "
                 f"{points * replicates:,} runs; allowed: at most {MAX_RUNS:,} runs in one "
                 "sweep (split it into several experiments)")
    check_design(points * replicates, steps or 0, source=str(source), key="design")
    try:
        opened = models.get(model).open(scenario)
    except (ParameterError, InputError) as exc:  # the scenario file itself is bad
        chk.fail("experiment.scenario", _describe(exc))
    for key, names, known in (("final", final, opened.final),
                              ("series", series, opened.series)):
        for i, n in enumerate(names):
            if n not in known:
                listed = (one_of(known) if len(known) <= 20 else f"{len(known)} {key} "
                          "outcomes, listed in docs/ODD.md (Observation)")
                chk.fail(f"outputs.{key}[{i}]", f"got {n!r}; model {model!r} reports "
                         f"{listed}{suggest(n, known)}")
    if sha256 is None:
        sha256 = hashlib.sha256((text or "").encode()).hexdigest()
    exp = Experiment(
        source=source, sha256=sha256, name=name, description=description, model=model,
        scenario=scenario, scenario_hash=opened.scenario_hash, steps=steps, method=method,
        options=options, replicates=replicates, seed=seed, seeding=seeding,
        overrides=dict(sorted(overrides.items())), factors=factors, final=final,
        series=series, every=every, checked=check_model, text=text)
    if check_model:
        _check_model(chk, exp, opened.check)
    return exp


def _check_factors(chk: FileCheck, factors, overrides, final, series, steps, method) -> None:
    """Each parameter fixed or varied once, no column twice, ``steps`` set in one place."""
    for i, f in enumerate(factors):
        for j in range(i):
            if factors[j].path == f.path:
                chk.fail(f"factors[{i}].path", f"got {f.path!r} again (factors[{j}]); "
                         "vary each parameter once")
            if factors[j].name == f.name:
                chk.fail(f"factors[{i}].name", f"got {f.name!r} again (factors[{j}]); give "
                         "one of them another name")
        if f.path in overrides:
            chk.fail(f"overrides.{f.path}", f"also varied by factors[{i}]; a parameter is "
                     "either fixed or varied")
        if f.name in final or f.name in series:
            chk.fail(f"factors[{i}].name", f"got {f.name!r}, also an output name; give the "
                     "factor another name")
    if steps is not None:
        for where in ("steps", "scenario.steps"):
            if where in overrides:
                chk.fail(f"overrides.{where}", "also set by experiment.steps; give one of them")
            for i, f in enumerate(factors):
                if f.path == where:
                    chk.fail(f"factors[{i}].path", f"got {where!r}, also set by "
                             "experiment.steps; remove experiment.steps to vary it")
    if method == "morris" and len(factors) < 2:
        chk.fail("factors", "a Morris screening needs at least two factors")


def design_points(method: str, options: dict[str, Any], factors) -> int:
    """The number of points a design will have, computed without laying it out."""
    d = len(factors)
    if method == "grid":
        return math.prod(len(f.levels) for f in factors)
    if method == "lhs":
        return options["samples"]
    if method == "sobol":
        return options["samples"] * ((2 * d + 2) if options["second_order"] else (d + 2))
    return (options["optimal_trajectories"] or options["trajectories"]) * (d + 1)


def _design_options(chk: FileCheck, de: dict, method: str) -> dict[str, Any]:
    if method == "lhs":
        return {"samples": chk.integer(de, "design.", "samples", 2, required=True,
                                       what=" (the number of points)", hi=MAX_RUNS),
                "optimization": chk.choice(de, "design.", "optimization", LHS_OPTIMIZATIONS,
                                           default="none")}
    if method == "sobol":
        n = chk.integer(de, "design.", "samples", 2, required=True,
                        what=" and a power of two (the base sample N; runs = N (D + 2) x "
                             "replicates)", hi=MAX_RUNS)
        if n & (n - 1):
            lo = 1 << (n.bit_length() - 1)
            chk.fail("design.samples", f"got {n}; allowed: a power of two (Sobol' sequences "
                     f"are balanced only there), e.g. {lo} or {2 * lo}")
        return {"samples": n, "second_order": chk.boolean(de, "design.", "second_order", False)}
    if method == "morris":
        return _morris_options(chk, de)
    return {}


def _morris_options(chk: FileCheck, de: dict) -> dict[str, Any]:
    n = chk.integer(de, "design.", "trajectories", 2, required=True, hi=MAX_RUNS)
    levels = chk.integer(de, "design.", "levels", 2, default=4, what=" and even")
    if levels % 2:
        chk.fail("design.levels", f"got {levels}; allowed: an even integer >= 2 "
                 "(Morris' step of levels/(2 (levels-1)) needs an even grid)")
    opt = de.get("optimal_trajectories")
    if opt is not None and (not is_int(opt) or not 2 <= opt < n):
        chk.fail("design.optimal_trajectories", f"got {opt!r}; allowed: an integer from 2 "
                 f"to trajectories - 1 = {n - 1} (the best spread are chosen from the "
                 "trajectories)")
    return {"trajectories": n, "levels": levels, "optimal_trajectories": opt}


def _factor(chk: FileCheck, f: dict, i: int, method: str) -> Factor:
    pre = f"factors[{i}]."
    grid = method == "grid"
    keys_grid = ("path", "name", "levels", "range", "num", "integer")
    keys_sampled = ("path", "name", "range", "distribution", "mode", "mean", "sd", "integer")
    allowed = keys_grid if grid else keys_sampled
    why = {k: f"not used by method {method!r}; allowed: {', '.join(allowed)}"
           for k in _FACTOR_KEYS if k not in allowed}
    chk.keys(f, pre, allowed, why)
    path = chk.string(f, pre, "path", required=True,
                      what="a parameter path such as 'coop_benefit' or "
                           "'interventions.cfc.grant_share'")
    name = chk.string(f, pre, "name", default=path.rsplit(".", 1)[-1],
                      what="a column name: letters, digits and _")
    if not name.isidentifier():
        chk.fail(pre + ("name" if "name" in f else "path"),
                 f"gives the column name {name!r}; allowed: letters, digits and _ (set name)")
    if name in RESERVED_COLUMNS:
        chk.fail(pre + "name", f"got {name!r}, a reserved column name; set another name")
    integer = chk.boolean(f, pre, "integer", False)
    if grid:
        vals = _grid_levels(chk, f, pre, integer)
        return Factor(name=name, path=path, levels=vals, integer=integer)
    dist, bounds = _distribution(chk, f, pre, method)
    return Factor(name=name, path=path, distribution=dist, bounds=bounds, integer=integer)


def _grid_levels(chk: FileCheck, f: dict, pre: str, integer: bool) -> tuple:
    """A grid factor's levels: listed, or ``num`` evenly spaced across ``range``."""
    if "levels" in f and ("range" in f or "num" in f):
        chk.fail(pre + ("range" if "range" in f else "num"),
                 "give either levels = [...] or range = [low, high] with num = N, not both")
    if "levels" in f:
        vals = _listed_levels(chk, f["levels"], pre, integer)
    elif "range" in f:
        vals = _spaced_levels(chk, f, pre, integer)
    else:
        chk.fail(pre + "levels", "missing; a grid factor needs levels = [...] or range = "
                 "[low, high] with num = N")
    for j, v in enumerate(vals):
        if v in vals[:j]:
            chk.fail(pre + "levels", f"got {v!r} twice; list each level once")
    return vals


def _listed_levels(chk: FileCheck, levels, pre: str, integer: bool) -> tuple:
    if not isinstance(levels, list) or not levels:
        chk.fail(pre + "levels", f"got {levels!r}; allowed: a non-empty list of values")
    kinds = {("num" if is_num(v) else type(v).__name__) for v in levels}
    if len(kinds) != 1 or not kinds <= {"num", "bool", "str"}:
        chk.fail(pre + "levels", f"got {levels!r}; allowed: a list of numbers, of "
                 "true/false or of strings (one kind)")
    if integer and not all(is_int(v) for v in levels):
        chk.fail(pre + "levels", f"got {levels!r}; allowed with integer = true: integers")
    mixed = kinds == {"num"} and not all(is_int(x) for x in levels)
    return tuple(float(v) if mixed else v for v in levels)


def _spaced_levels(chk: FileCheck, f: dict, pre: str, integer: bool) -> tuple:
    lo, hi = chk.span(f, pre)
    if "num" not in f:
        chk.fail(pre + "num", "missing; allowed: an integer >= 2 (evenly spaced levels "
                 "across range)")
    num = chk.integer(f, pre, "num", 2, hi=MAX_RUNS)
    grid_vals = np.linspace(lo, hi, num)
    if not integer:
        return tuple(float(v) for v in grid_vals)
    grid_vals = np.rint(grid_vals)
    if len(set(grid_vals)) < num:
        chk.fail(pre + "num", f"got {num}; with integer = true the range {lo:g} to "
                 f"{hi:g} holds fewer distinct integers")
    return tuple(int(v) for v in grid_vals)


def _distribution(chk: FileCheck, f: dict, pre: str, method: str) -> tuple[str, tuple]:
    """A sampled factor's distribution and its numbers in SALib's convention."""
    dist = chk.choice(f, pre, "distribution", tuple(DISTRIBUTIONS), default="uniform")
    if method == "morris" and dist not in BOUNDED:
        chk.fail(pre + "distribution", f"got {dist!r}; allowed for method 'morris': "
                 f"{one_of(BOUNDED)} (Morris points lie on the edges of the range)")
    needs = DISTRIBUTIONS[dist][1]
    for k in ("range", "mode", "mean", "sd"):
        if k in f and k not in needs:
            chk.fail(pre + k, f"not used by distribution {dist!r}, which takes "
                     f"{', '.join(needs)}")
        if k not in f and k in needs:
            chk.fail(pre + k, f"missing; distribution {dist!r} takes {', '.join(needs)}")
    if dist in ("uniform", "loguniform"):
        return dist, chk.span(f, pre, positive=dist == "loguniform")
    if dist == "triangular":
        lo, hi = chk.span(f, pre)
        mode = chk.number(f, pre, "mode")
        if not lo <= mode < hi:
            chk.fail(pre + "mode", f"got {mode!r}; allowed: a number from {lo:g} up to (not "
                     f"including) {hi:g}, within range")
        return dist, (lo, hi, (mode - lo) / (hi - lo))
    mean = chk.number(f, pre, "mean")
    sd = chk.number(f, pre, "sd")
    if sd <= 0:
        chk.fail(pre + "sd", f"got {f['sd']!r}; allowed: a number > 0")
    return dist, ((*chk.span(f, pre), mean, sd) if dist == "truncnormal" else (mean, sd))


def _check_model(chk: FileCheck, exp: Experiment, check) -> None:
    """Try the fixed overrides, then each factor at its extremes, on the model itself."""
    try:
        check(exp.overrides)
    except (ParameterError, InputError) as exc:
        chk.fail("overrides", _describe(exc))
    points = exp.design.points
    for i, f in enumerate(exp.factors):
        col = points[f.name]
        values = list(f.levels) if f.levels is not None else [col.min(), col.max()]
        for v in values:
            try:
                check({**exp.overrides, f.path: _plain(v)})
            except (ParameterError, InputError) as exc:
                chk.fail(f"factors[{i}]", _describe(exc))


def _describe(exc: Exception) -> str:
    if isinstance(exc, ParameterError):
        return f"{exc.key}: {exc.detail}"
    if isinstance(exc, InputError):
        return f"{exc.key}: {exc.message}" if exc.key else exc.message
    return str(exc)  # pragma: no cover


# -- designs ---------------------------------------------------------------------------------------
def build_design(exp: Experiment) -> Design:
    """Lay out the points of ``exp`` and give every run its seed and id.

    Grids are the Cartesian product of the levels (first factor slowest). Latin hypercubes come
    from ``scipy.stats.qmc.LatinHypercube``, Sobol'/Saltelli from ``SALib.sample.sobol.sample``,
    Morris trajectories from ``SALib.sample.morris.sample``; all draw from child 0 of
    ``SeedSequence(exp.seed)``. A comparison's points are its policies (crossed with its
    futures, if any): :func:`_policy_design`.
    """
    if exp.policies:
        return _policy_design(exp)
    names = [f.name for f in exp.factors]
    rng = np.random.default_rng(np.random.SeedSequence(exp.seed, spawn_key=(_STREAM_SAMPLER,)))
    if exp.method == "grid":
        points = pd.DataFrame(list(itertools.product(*(f.levels for f in exp.factors))),
                              columns=names)
    else:
        x = _sample(exp, rng)
        for j, f in enumerate(exp.factors):
            if f.integer:
                x[:, j] = np.rint(x[:, j])
        points = pd.DataFrame(x, columns=names)
        for f in exp.factors:
            if f.integer:
                points[f.name] = points[f.name].astype(np.int64)

    scenario = str(exp.scenario) if exp.scenario is not None else None
    runs = []
    records = points.to_dict("records")
    for p, values in enumerate(records):
        values = {k: _plain(v) for k, v in values.items()}
        overrides = {**exp.overrides, **{f.path: values[f.name] for f in exp.factors}}
        for r in range(exp.replicates):
            seed = run_seed(exp.seed, exp.seeding, p, r)
            runs.append(RunSpec(id=_run_id(exp, exp.scenario_hash, overrides, seed, p, r),
                                point=p, replicate=r, seed=seed, model=exp.model,
                                scenario=scenario, steps=exp.steps, overrides=overrides,
                                factors=values, final=exp.final, series=exp.series,
                                every=exp.every))
    return Design(experiment=exp, points=points, runs=tuple(runs))


def _sample(exp: Experiment, rng: np.random.Generator) -> np.ndarray:
    # deferred on purpose: SALib pulls in scipy.stats (seconds), which only sampled designs
    # need; reading a sweep folder (clustersim results, analyze) does not
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample
    from SALib.util import scale_samples
    from scipy.stats import qmc

    problem = exp.problem()
    opts = exp.options
    if exp.method == "lhs":
        optimization = None if opts["optimization"] == "none" else opts["optimization"]
        unit = qmc.LatinHypercube(d=len(exp.factors), optimization=optimization,
                                  rng=rng).random(opts["samples"])
        return scale_samples(unit, copy.deepcopy(problem))
    if exp.method == "sobol":
        return sobol_sample.sample(copy.deepcopy(problem), opts["samples"],
                                   calc_second_order=opts["second_order"], seed=rng)
    return morris_sample.sample(copy.deepcopy(problem), opts["trajectories"],
                                num_levels=opts["levels"],
                                optimal_trajectories=opts["optimal_trajectories"], seed=rng)


# -- comparisons -----------------------------------------------------------------------------------
def _policy_design(exp: Experiment) -> Design:
    """The runs of a comparison: point ``p`` is policy ``p``; replicate ``r`` of every point
    has the same seed. With futures (a robustness study, :mod:`sim.studies.robust`) the points
    are every future crossed with every policy, the future's parameter values overriding the
    policy's. With posterior draws (:attr:`Experiment.draws`) replicate ``r`` of every policy
    (in future ``f``) also takes the values of its draw, on top of the future's."""
    cells = ([(None, {}, pol) for pol in exp.policies] if not exp.futures else
             [(f, values, pol) for f, values in enumerate(exp.futures) for pol in exp.policies])
    points = pd.DataFrame([({} if f is None else {"future": f}) | {"scenario": pol.label}
                           | values for f, values, pol in cells])
    runs = []
    for p, (f, values, pol) in enumerate(cells):
        base = {**pol.overrides, **values}
        factors = ({} if f is None else {"future": f}) | {"scenario": pol.label} | values
        k = p % len(exp.policies)  # cells run future by future, policy by policy
        for r in range(exp.replicates):
            seed = run_seed(exp.seed, "common", p, r)
            overrides = ({**base, **exp.draws[(f or 0) * exp.replicates + r][k]}
                         if exp.draws else base)
            runs.append(RunSpec(id=_run_id(exp, pol.hash, overrides, seed, p, r), point=p,
                                replicate=r, seed=seed, model=exp.model, scenario=pol.path,
                                steps=exp.steps, overrides=overrides, factors=factors,
                                final=tuple(pol.final), series=exp.series, every=exp.every))
    return Design(experiment=exp, points=points, runs=tuple(runs))
