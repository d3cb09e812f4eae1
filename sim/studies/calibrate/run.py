"""``clustersim calibrate``: the calibration file, the pipeline and its outputs.

A calibration file (TOML; reference in docs/calibration.md) names a scenario, the months to run
and to discard as burn-in, the free parameters with their ranges (parameter-table names), the
design (Latin hypercube or Sobol'), the patterns to fit and those held out for validation, and
the acceptance rule. The pipeline:

1. validate the file (nothing is written when it is wrong);
2. build from it a sweep experiment of the ``patterns`` model (:mod:`sim.studies.sweep.patterns`;
   :func:`sweep_experiment`, in code, nothing written and read back) and run it with the
   project's sweep engine (:func:`sim.studies.sweep.run_sweep`): local Dask workers or a
   scheduler, one file per finished run in ``OUT/sweep``, so a calibration started again runs
   only what is missing;
3. average each point's replicates, compute distances to the observed targets, accept by the
   rule (:mod:`sim.studies.calibrate.abc`);
4. write ``calibration.json``, ``patterns.csv`` and the figures to ``OUT``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.core.errors import InputError, ParameterError
from sim.core.fields import FileCheck, flatten, is_num, suggest
from sim.core.params import param_field
from sim.io.inputs import parse_toml, read_input
from sim.io.limits import MAX_REPS, MAX_RUNS, MAX_SEED, MAX_STEPS, check_workers
from sim.io.output import MARKER, check_out_folder, claim_folder, write_marker
from sim.io.provenance import git_commit
from sim.studies.calibrate import abc, posterior, smm
from sim.studies.calibrate.outputs import write_outputs
from sim.studies.calibrate.targets import SHIPPED, Target, load_targets, parse_targets
from sim.studies.sweep import ishigami, models
from sim.studies.sweep import patterns as pmodel
from sim.studies.sweep.experiment import Experiment, Factor, new_experiment
from sim.studies.sweep.runner import run_sweep
from sim.studies.sweep.store import SweepStore

__all__ = ["Calibration", "FreeParameter", "load_calibration", "sweep_toml", "sweep_experiment",
           "check_experiment", "calibrate",
           "CalibrationResult", "FORMAT"]

FORMAT = "clustersim-calibration/1"
MODELS = ("cluster", "ishigami")
METHODS = ("lhs", "sobol")
DISTRIBUTIONS = ("uniform", "loguniform")
_TOP = ("calibration", "design", "overrides", "parameters", "patterns", "acceptance",
        "refine", "posterior", "targets")
_CAL_KEYS = ("name", "description", "model", "scenario", "steps", "burn_in", "growth_window",
             "min_tail", "sector")
_DESIGN_KEYS = ("method", "samples", "replicates", "seed", "seeding")
_PARAM_KEYS = ("name", "range", "distribution")
_PATTERN_KEYS = ("fit", "hold_out", "weights")
_ACCEPT_KEYS = ("rule", "quantile")
_REFINE_KEYS = ("method", "replicates", "share")
_POSTERIOR_KEYS = ("method", "draws", "holdout", "seed", "pairs", "missing")
#: Most posterior draws written; largest share of design points held out of NPE's training.
MAX_DRAWS = 1_000_000
MAX_HOLDOUT = 0.5
#: Largest weight of a pattern (weights are relative; a sum of huge ones overflows).
MAX_WEIGHT = 1e6
#: Columns of the run and pattern tables that a parameter's column may not shadow.
_RESERVED = ("id", "point", "replicate", "seed", "status", "error", "wall_time", "traceback",
             "run_id", "step", "runs_ok", "distance", "within_all", "accepted")


@dataclass(frozen=True)
class FreeParameter:
    """A parameter the calibration varies, with its prior range."""

    name: str
    low: float
    high: float
    distribution: str = "uniform"
    integer: bool = False

    @property
    def column(self) -> str:
        return self.name.rsplit(".", 1)[-1] if self.name.startswith("interventions.") \
            else self.name.replace(".", "_")


@dataclass(frozen=True)
class Calibration:
    """A validated calibration file."""

    source: Path
    sha256: str
    name: str
    description: str
    model: str
    scenario: Path | None
    steps: int | None
    settings: dict[str, Any]
    method: str
    samples: int
    replicates: int
    seed: int
    seeding: str
    overrides: dict[str, Any]
    parameters: tuple[FreeParameter, ...]
    fit: tuple[Target, ...]
    hold_out: tuple[Target, ...]
    weights: dict[str, float]
    rule: str
    quantile: float
    refine: dict[str, Any] | None = None
    #: ``[posterior]``: method ("npe" or "rejection"), draws, holdout, seed; None without it
    posterior: dict[str, Any] | None = None

    @property
    def posterior_method(self) -> str:
        return "rejection" if self.posterior is None else self.posterior["method"]


# -- validation ------------------------------------------------------------------------------------
def _check(source: Path) -> FileCheck:
    return FileCheck(source, help="docs/calibration.md")


def _table_limits(name: str) -> tuple[str, Any, Any]:
    """``(kind, lo, hi)`` of a parameter-table entry (kind: 'int', 'float', or another type)."""
    f = param_field(name)
    return type(f.default).__name__, f.metadata.get("lo"), f.metadata.get("hi")


def _free_parameter(chk: FileCheck, p: dict, i: int, model: str) -> FreeParameter:
    pre = f"parameters[{i}]."
    chk.keys(p, pre, _PARAM_KEYS)
    name = chk.string(p, pre, "name", required=True, empty=True)
    r = p.get("range")
    lo, hi = chk.span({"range": r}, pre)
    dist = chk.choice(p, pre, "distribution", DISTRIBUTIONS, "uniform")
    if dist == "loguniform" and lo <= 0:
        chk.fail(pre + "range", f"got {r!r}; allowed with distribution 'loguniform': "
                 "0 < low < high")
    integer = False
    if model == "ishigami":
        if name not in ishigami.PARAMETERS:
            chk.fail(pre + "name", f"got {name!r}; allowed: a parameter of the Ishigami model "
                     f"({', '.join(ishigami.PARAMETERS)}){suggest(name, ishigami.PARAMETERS)}")
    elif not name.startswith("interventions."):
        integer = _table_parameter(chk, pre, name, r, lo, hi)
    return FreeParameter(name=name, low=lo, high=hi, distribution=dist, integer=integer)


def _table_parameter(chk: FileCheck, pre: str, name: str, r, lo: float, hi: float) -> bool:
    """Check a free parameter of the parameter table; returns whether it is an integer."""
    try:
        kind, tlo, thi = _table_limits(name)
    except ParameterError as exc:
        chk.fail(pre + "name", f"got {name!r}: {exc.detail}; see `clustersim params`")
    if kind not in ("int", "float"):
        chk.fail(pre + "name", f"got {name!r}, a {kind} parameter; allowed: a numeric "
                 "parameter (`clustersim params` lists them with their ranges)")
    if (tlo is not None and lo < tlo) or (thi is not None and hi > thi):
        chk.fail(pre + "range", f"got {r!r}, outside the parameter table's limits for "
                 f"{name}; allowed: within [{tlo}, {thi}]")
    return kind == "int"


def load_calibration(path: str | Path) -> Calibration:
    """Read and validate a calibration file; raise :class:`InputError` naming file and key."""
    source = Path(path)
    chk = _check(source)
    # the reader of every input file: a regular file of at most 1 MiB, nesting capped
    raw = read_input(source, "a calibration file (TOML)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        chk.fail("", "not a text file in UTF-8")
    data = parse_toml(text, str(source))
    chk.keys(data, "", _TOP)
    head = _calibration_table(chk, data, source)
    design = _design_table(chk, data)
    overrides = flatten(chk.table(data, "overrides", required=False))
    for k in overrides:
        if k.startswith(pmodel.PREFIX):
            chk.fail(f"overrides.{k}", "set the pattern settings in [calibration] (burn_in, "
                     "growth_window, min_tail, sector)")
    params = _parameters(chk, data, head["model"], overrides)
    patterns = _patterns_table(chk, data, source, head["model"], head["settings"])
    result = Calibration(source=source.resolve(), sha256=hashlib.sha256(raw).hexdigest(),
                         **head, **design, overrides=overrides, parameters=params, **patterns,
                         **_acceptance_table(chk, data), refine=_refine_table(chk, data),
                         posterior=_posterior_table(chk, data, design["seed"]))
    _check_on_model(chk, result)
    return result


def _calibration_table(chk: FileCheck, data: dict, source: Path) -> dict[str, Any]:
    cal = chk.table(data, "calibration")
    chk.keys(cal, "calibration.", _CAL_KEYS)
    name = chk.string(cal, "calibration.", "name", default=source.stem, empty=True)
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name):  # it names the --out folder
        chk.fail("calibration.name", f"got {name!r}; allowed: letters, digits, '_', '-', '.', "
                 "not starting with '.'")
    description = chk.string(cal, "calibration.", "description", default="", empty=True)
    model = chk.choice(cal, "calibration.", "model", MODELS, "cluster")
    steps = chk.integer(cal, "calibration.", "steps", 1, required=model == "cluster",
                        what=" (months to simulate)", hi=MAX_STEPS)
    settings: dict[str, Any] = {}
    scenario = None
    if model == "cluster":
        rel = chk.string(cal, "calibration.", "scenario", required=True, empty=True)
        scenario = (source.parent / rel).resolve()
        if not scenario.is_file():
            chk.fail("calibration.scenario", f"got {rel!r}; no such file ({scenario})")
        settings = _pattern_settings(chk, cal, steps)
    else:
        for k in ("scenario", "burn_in", "growth_window", "min_tail", "sector"):
            if k in cal:
                chk.fail(f"calibration.{k}", f"not used by model {model!r}; remove it")
    return {"name": name, "description": description, "model": model, "scenario": scenario,
            "steps": steps, "settings": settings}


def _pattern_settings(chk: FileCheck, cal: dict, steps: int) -> dict[str, Any]:
    """How the patterns model measures: burn-in, growth window, tail size, sector."""
    settings = {
        "burn_in": chk.integer(cal, "calibration.", "burn_in", 0, required=True,
                               what=" (months discarded before measuring)"),
        "growth_window": chk.integer(cal, "calibration.", "growth_window", 1, default=12),
        "min_tail": chk.integer(cal, "calibration.", "min_tail", 5, default=20),
        "sector": chk.string(cal, "calibration.", "sector", default="", empty=True)}
    need = max(settings["burn_in"], settings["growth_window"]) + 1
    if steps < need:
        chk.fail("calibration.steps", f"got {steps}; allowed: at least {need} (more than "
                 "burn_in and growth_window)")
    return settings


def _design_table(chk: FileCheck, data: dict) -> dict[str, Any]:
    de = chk.table(data, "design")
    chk.keys(de, "design.", _DESIGN_KEYS)
    method = chk.choice(de, "design.", "method", METHODS, "lhs")
    samples = chk.integer(de, "design.", "samples", 2, required=True, hi=MAX_RUNS,
                          what=" (design points; a power of two for 'sobol')")
    if method == "sobol" and samples & (samples - 1):
        chk.fail("design.samples", f"got {samples}; allowed for 'sobol': a power of two")
    return {"method": method, "samples": samples,
            "replicates": chk.integer(de, "design.", "replicates", 1, default=1, hi=MAX_REPS),
            "seed": chk.integer(de, "design.", "seed", 0, required=True, hi=MAX_SEED),
            # ABC needs each point to be an independent draw of the model: independent seeds
            "seeding": chk.choice(de, "design.", "seeding", ("independent", "common"),
                                  "independent")}


def _parameters(chk: FileCheck, data: dict, model: str,
                overrides: dict[str, Any]) -> tuple[FreeParameter, ...]:
    plist = data.get("parameters")
    if not isinstance(plist, list) or not plist or not all(isinstance(p, dict) for p in plist):
        chk.fail("parameters", f"got {plist!r}; allowed: one or more [[parameters]] tables "
                 "with name and range")
    params = tuple(_free_parameter(chk, p, i, model) for i, p in enumerate(plist))
    outputs = pmodel.PATTERNS if model == "cluster" else ("y",)
    for i, p in enumerate(params):
        for j in range(i):
            if params[j].name == p.name or params[j].column == p.column:
                chk.fail(f"parameters[{i}].name", f"got {p.name!r} again (parameters[{j}]); "
                         "vary each parameter once")
        if p.name in overrides:
            chk.fail(f"overrides.{p.name}", f"also a free parameter (parameters[{i}]); a "
                     "parameter is either fixed or free")
        if p.column in outputs or p.column in _RESERVED:
            chk.fail(f"parameters[{i}].name", f"got {p.name!r}, whose column {p.column!r} is "
                     "also an outcome or reserved column; use its group path (GROUP.NAME)")
    return params


def _patterns_table(chk: FileCheck, data: dict, source: Path, model: str,
                    settings: dict[str, Any]) -> dict[str, Any]:
    """The fitted and held-out targets (shipped, then the file's own) and their weights."""
    targets = load_targets()
    if "targets" in data:
        targets.update(parse_targets(data["targets"], str(source)))
    pa = chk.table(data, "patterns")
    chk.keys(pa, "patterns.", _PATTERN_KEYS)
    chosen = {key: _chosen_targets(chk, pa, key, targets, model, settings)
              for key in ("fit", "hold_out")}
    keys_fit = [t.key for t in chosen["fit"]]
    for i, t in enumerate(chosen["hold_out"]):
        if t.key in keys_fit:
            chk.fail(f"patterns.hold_out[{i}]", f"got {t.key!r}, also fitted; a pattern is "
                     "either fitted or held out")
    for i, t in enumerate(chosen["fit"]):
        if t.key in keys_fit[:i]:
            chk.fail(f"patterns.fit[{i}]", f"got {t.key!r} twice")
    weights_raw = pa.get("weights", {})
    if not isinstance(weights_raw, dict):
        chk.fail("patterns.weights", f"got {weights_raw!r}; allowed: a table NAME = weight")
    weights = {}
    for k, v in weights_raw.items():
        if k not in keys_fit:
            chk.fail(f"patterns.weights.{k}", f"not a fitted pattern; allowed: "
                     f"{', '.join(keys_fit)}")
        if not is_num(v) or not 0 < v <= MAX_WEIGHT:
            chk.fail(f"patterns.weights.{k}", f"got {v!r}; allowed: a number > 0 and at most "
                     f"{MAX_WEIGHT:g}")
        weights[k] = float(v)
    return {"fit": chosen["fit"], "hold_out": chosen["hold_out"], "weights": weights}


def _chosen_targets(chk: FileCheck, pa: dict, key: str, targets: dict[str, Target], model: str,
                    settings: dict[str, Any]) -> tuple[Target, ...]:
    outcomes = pmodel.PATTERNS if model == "cluster" else ("y",)
    names = pa.get(key, [] if key == "hold_out" else None)
    if (not isinstance(names, list) or (key == "fit" and not names)
            or not all(isinstance(n, str) for n in names)):
        chk.fail(f"patterns.{key}", f"got {names!r}; allowed: a "
                 f"{'non-empty ' if key == 'fit' else ''}list of target names")
    picked = []
    for i, n in enumerate(names):
        if n not in targets:
            chk.fail(f"patterns.{key}[{i}]", f"got {n!r}; allowed: a target of {SHIPPED} "
                     f"or of this file ({', '.join(sorted(targets))}){suggest(n, targets)}")
        t = targets[n]
        if t.pattern not in outcomes:
            chk.fail(f"patterns.{key}[{i}]", f"target {n!r} compares pattern "
                     f"{t.pattern!r}, which model {model!r} does not report; it reports: "
                     f"{', '.join(outcomes)}")
        if t.pattern.startswith("sector_") and not settings.get("sector"):
            chk.fail(f"patterns.{key}[{i}]", f"target {n!r} needs calibration.sector "
                     "(the sector whose firms, employment and facility use it counts)")
        picked.append(t)
    return tuple(picked)


def _acceptance_table(chk: FileCheck, data: dict) -> dict[str, Any]:
    ac = chk.table(data, "acceptance", required=False)
    chk.keys(ac, "acceptance.", _ACCEPT_KEYS)
    rule = chk.choice(ac, "acceptance.", "rule", abc.RULES, "tolerance")
    quantile = chk.share(ac, "acceptance.", "quantile", 0.1, "the share of design points with "
                         "the smallest distance")
    if "quantile" in ac and rule == "tolerance":
        chk.fail("acceptance.quantile", "not used by rule 'tolerance'; use rule 'quantile' "
                 "or 'both'")
    return {"rule": rule, "quantile": quantile}


def _refine_table(chk: FileCheck, data: dict) -> dict[str, Any] | None:
    if "refine" not in data:
        return None
    rf = chk.table(data, "refine")
    chk.keys(rf, "refine.", _REFINE_KEYS)
    chk.choice(rf, "refine.", "method", ("smm",), "smm")
    share = chk.share(rf, "refine.", "share", 0.25, "the share of design points nearest the "
                      "targets that the metamodel is fitted to")
    return {"method": "smm",
            "replicates": chk.integer(rf, "refine.", "replicates", 0, default=10, hi=MAX_REPS,
                                      what=" (runs at the estimate to check it)"),
            "share": share}


def _posterior_table(chk: FileCheck, data: dict, design_seed: int) -> dict[str, Any] | None:
    if "posterior" not in data:
        return None
    po = chk.table(data, "posterior")
    chk.keys(po, "posterior.", _POSTERIOR_KEYS)
    method = chk.choice(po, "posterior.", "method", posterior.METHODS, "npe")
    if method == "rejection":
        for k in ("draws", "holdout", "seed", "pairs", "missing"):
            if k in po:
                chk.fail(f"posterior.{k}", "not used by method 'rejection' (its draws are the "
                         "accepted points); remove it or use method 'npe'")
        return {"method": method}
    holdout = po.get("holdout", 0.1)
    if not is_num(holdout) or not 0 <= holdout <= MAX_HOLDOUT:
        chk.fail("posterior.holdout", f"got {holdout!r}; allowed: a number from 0 to "
                 f"{MAX_HOLDOUT} (the share of design points kept out of training)")
    return {"method": method,
            "draws": chk.integer(po, "posterior.", "draws", 1, default=4000, hi=MAX_DRAWS,
                                 what=" (posterior draws written)"),
            "holdout": float(holdout),
            "seed": chk.integer(po, "posterior.", "seed", 0, default=design_seed,
                                hi=MAX_SEED),
            "pairs": chk.choice(po, "posterior.", "pairs", posterior.PAIRS, "runs"),
            "missing": chk.choice(po, "posterior.", "missing", posterior.MISSING, "drop")}


def _check_on_model(chk: FileCheck, cal: Calibration) -> None:
    """Try the fixed overrides and every free parameter at both ends on the model itself."""
    try:
        check = models.get(_model_name(cal)).open(cal.scenario).check
    except (ParameterError, InputError) as exc:
        chk.fail("calibration.scenario", str(exc))
    fixed = {**cal.overrides, **_settings_overrides(cal)}
    try:
        check(fixed)
    except ParameterError as exc:
        if exc.key == pmodel.PREFIX + "sector":
            chk.fail("calibration.sector", exc.detail)
        chk.fail("overrides", f"{exc.key}: {exc.detail}")
    except InputError as exc:
        chk.fail("overrides", f"{exc.key}: {exc.message}")
    for i, p in enumerate(cal.parameters):
        for v in (p.low, p.high):
            v = int(round(v)) if p.integer else v
            try:
                check({**fixed, p.name: v})
            except ParameterError as exc:
                chk.fail(f"parameters[{i}]", f"{exc.key}: {exc.detail}")
            except InputError as exc:
                chk.fail(f"parameters[{i}]", f"{exc.key}: {exc.message}")


def _model_name(cal: Calibration) -> str:
    """The sweep model that runs a calibration: ``patterns`` for the cluster model."""
    return "patterns" if cal.model == "cluster" else "ishigami"


def _settings_overrides(cal: Calibration) -> dict[str, Any]:
    return {pmodel.PREFIX + k: v for k, v in cal.settings.items()}


# -- the sweep -----------------------------------------------------------------------------------
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    return json.dumps(v)


def _sweep_text(cal: Calibration, name: str, design: list[str], factors: list[list[str]]
                ) -> str:
    kind = "patterns" if cal.model == "cluster" else "ishigami"
    outcomes = pmodel.PATTERNS if cal.model == "cluster" else ("y",)
    lines = [f"# Generated by `clustersim calibrate` from {cal.source.name}; the runs of "
             "calibration", f"# {cal.name!r}. Edit the calibration file, not this one.", "",
             "[experiment]", f"name = {json.dumps(name)}", f"model = {json.dumps(kind)}"]
    if cal.scenario is not None:
        lines.append(f"scenario = {json.dumps(str(cal.scenario))}")
    if cal.steps is not None:
        lines.append(f"steps = {cal.steps}")
    lines += ["", "[design]", *design]
    fixed = {**cal.overrides, **_settings_overrides(cal)}
    if fixed:
        lines += ["", "[overrides]"]
        lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in sorted(fixed.items())]
    for f in factors:
        lines += ["", "[[factors]]", *f]
    lines += ["", "[outputs]", f"final = {_toml_value(list(outcomes))}", ""]
    return "\n".join(lines)


def sweep_toml(cal: Calibration) -> str:
    """The calibration's design as a sweep experiment file (``clustersim sweep`` format): the
    record a calibration's sweep folder keeps as ``experiment.toml``."""
    design = [f"method = {json.dumps(cal.method)}", f"samples = {cal.samples}",
              f"replicates = {cal.replicates}", f"seed = {cal.seed}",
              f"seeding = {json.dumps(cal.seeding)}"]
    factors = []
    for p in cal.parameters:
        f = [f"path = {json.dumps(p.name)}", f"name = {json.dumps(p.column)}",
             f"range = [{p.low!r}, {p.high!r}]", f"distribution = {json.dumps(p.distribution)}"]
        if p.integer:
            f.append("integer = true")
        factors.append(f)
    return _sweep_text(cal, cal.name, design, factors)


def _check_toml(cal: Calibration, values: dict[str, Any]) -> str:
    design = ['method = "grid"', f"replicates = {cal.refine['replicates']}",
              f"seed = {cal.seed}"]
    factors = [[f"path = {json.dumps(p.name)}", f"name = {json.dumps(p.column)}",
                f"levels = [{_toml_value(values[p.column])}]"] for p in cal.parameters]
    return _sweep_text(cal, f"{cal.name}_smm_check", design, factors)


def _experiment(cal: Calibration, name: str, text: str, **design: Any) -> Experiment:
    """A sweep experiment of the calibration's model, scenario, settings and overrides."""
    return new_experiment(
        name=name, model=_model_name(cal), scenario=cal.scenario, steps=cal.steps,
        overrides={**cal.overrides, **_settings_overrides(cal)},
        final=pmodel.PATTERNS if cal.model == "cluster" else ("y",), source=cal.source,
        text=text, **design)


def sweep_experiment(cal: Calibration) -> Experiment:
    """The sweep experiment that runs the calibration's design (its record:
    :func:`sweep_toml`)."""
    options = ({"samples": cal.samples, "optimization": "none"} if cal.method == "lhs"
               else {"samples": cal.samples, "second_order": False})
    factors = tuple(Factor(name=p.column, path=p.name, distribution=p.distribution,
                           bounds=(p.low, p.high), integer=p.integer) for p in cal.parameters)
    return _experiment(cal, cal.name, sweep_toml(cal), method=cal.method, options=options,
                       replicates=cal.replicates, seed=cal.seed, seeding=cal.seeding,
                       factors=factors)


def check_experiment(cal: Calibration, values: dict[str, Any]) -> Experiment:
    """A sweep of ``cal.refine["replicates"]`` runs at one parameter point (``values`` by
    column), seeded from the calibration's seed."""
    factors = tuple(Factor(name=p.column, path=p.name, levels=(values[p.column],))
                    for p in cal.parameters)
    return _experiment(cal, f"{cal.name}_smm_check", _check_toml(cal, values), method="grid",
                       options={}, replicates=cal.refine["replicates"], seed=cal.seed,
                       seeding="common", factors=factors)


# -- outputs ---------------------------------------------------------------------------------------
@dataclass
class CalibrationResult:
    """What :func:`calibrate` did."""

    out: Path
    summary: Any
    report: dict[str, Any]
    files: list[Path] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.summary.exit_code == 0

    def __str__(self) -> str:
        r = self.report
        lines = [str(self.summary),
                 f"calibration {r['name']!r}: {r['accepted']} of {r['runs']['points']} design "
                 f"points accepted (rule {r['acceptance']['rule']!r})"]
        method = (r.get("inference") or {}).get("method", "rejection")
        if method == "npe":
            tr = r["inference"].get("training", {})
            unit = "design points" if r["inference"]["pairs"].get("unit") == "points" else "runs"
            lines.append(f"posterior by NPE (sbi) on {r['inference']['pairs']['used']} {unit} "
                         f"({r['inference']['pairs']['dropped_missing_pattern']} dropped for a "
                         f"missing pattern), {tr.get('held_out_points', 0)} design points "
                         "held out for the checks")
        for name, p in r["posterior"].items():
            if p["median"] is None:
                lines.append(f"  {name}: {'no posterior' if method == 'npe' else 'none accepted'}"
                             f" (prior {p['prior']})")
                continue
            line = (f"  {name}: median {p['median']:.4g}, 5-95% [{p['q05']:.4g}, "
                    f"{p['q95']:.4g}] (prior {p['prior'][0]:g}-{p['prior'][1]:g})")
            if p.get("at_prior_edge"):
                line += ", AT THE PRIOR'S EDGE"
            if p.get("recovery"):
                line += (f"; held out: 90% coverage {p['coverage']['central_90']:.2f}, SBC KS p "
                         f"{p['sbc']['ks_pvalue']:.2g}, recovery R^2 {p['recovery']['r2']:.2f} "
                         f"({p['recovery']['verdict']})")
            lines.append(line)
        if r["best"] is not None:
            lines.append(f"  best point: distance {r['best']['distance']:.3g}")
        smm_est = (r.get("smm") or {}).get("estimate")
        if smm_est:
            chk = r["smm"].get("check")
            lines.append("  SMM estimate: " + ", ".join(f"{k} = {v:.4g}" for k, v in
                                                        smm_est.items())
                         + (f" (distance of {chk['ok']} check runs: {chk['distance']:.3g})"
                            if chk else ""))
        pd_ = r.get("posterior_draws")
        draws = (f", {pd_['file']} ({pd_['n']} {pd_['method']} draws)"
                 if pd_ and pd_["file"] else "")
        lines.append(f"written: {self.out / 'calibration.json'}, patterns.csv{draws} and "
                     f"{len(self.files)} figures")
        return "\n".join(lines)


def _stats(values) -> dict[str, Any]:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return {"n": 0, "median": None, "q05": None, "q95": None}
    q05, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
    return {"n": int(v.size), "median": float(q50), "q05": float(q05), "q95": float(q95)}


def analyse(cal: Calibration, runs: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-point patterns, distances and acceptance, and the report (calibration.json)."""
    cols = [p.column for p in cal.parameters]
    targets = [*cal.fit, *cal.hold_out]
    pattern_names = sorted({t.pattern for t in targets})
    ok = runs[runs["status"] == "ok"]
    points = (runs.groupby("point")[cols].first() if len(runs)
              else pd.DataFrame(columns=cols))
    means = ok.groupby("point")[pattern_names].mean() if len(ok) else pd.DataFrame(
        columns=pattern_names)
    table = points.join(means, how="left")
    table.insert(0, "runs_ok", ok.groupby("point").size().reindex(table.index).fillna(0)
                 .astype(int))
    table = table.reset_index()
    dist = abc.distances(table, cal.fit, cal.weights)
    inside = abc.within(table, cal.fit)
    accepted = abc.accept(dist, inside, cal.rule, cal.quantile)
    table["distance"] = dist
    table["within_all"] = inside
    table["accepted"] = accepted
    prior = {p.column: (p.low, p.high) for p in cal.parameters}
    post = abc.summarise(table, accepted, dist, prior)
    if accepted.any() and len(cal.fit):
        z = abc.z_scores(table.loc[accepted], cal.fit).to_numpy()
        theta = table.loc[accepted, cols].to_numpy(dtype=np.float64)
        adjusted = abc.adjusted_summary(theta, z, dist[accepted], prior)
        for c in cols:
            post["parameters"][c]["adjusted"] = adjusted[c]
    for p in cal.parameters:
        e = post["parameters"][p.column]
        e["at_prior_edge"] = posterior.edge_flag(p, e["q05"], e["q95"])
    best = post["best"]
    if best is not None:
        row = table.iloc[best["index"]]
        best["point"] = int(row["point"])
        best["patterns"] = {t.key: float(row[t.pattern]) for t in targets}
        del best["index"]

    def describe(t: Target) -> dict[str, Any]:
        sim_all = table[t.pattern].to_numpy(dtype=np.float64)
        sim_acc = sim_all[accepted]
        d = {**t.to_dict(), "weight": cal.weights.get(t.key, 1.0),
             "simulated_all": _stats(sim_all), "simulated_accepted": _stats(sim_acc)}
        finite = np.isfinite(sim_acc)
        d["accepted_within_share"] = (float(t.within(sim_acc[finite]).mean())
                                      if finite.any() else None)
        return d

    report = {
        "format": FORMAT,
        "name": cal.name,
        "description": cal.description,
        "model": cal.model,
        "method": {"pattern_oriented_modelling": "Grimm et al. 2005",
                   "abc": "rejection (Beaumont, Zhang & Balding 2002)",
                   "design": cal.method, "samples": cal.samples,
                   "replicates": cal.replicates,
                   "distance": "sqrt(sum w z^2 / sum w), z in half-intervals of the target"},
        "settings": cal.settings,
        "acceptance": {"rule": cal.rule,
                       "quantile": cal.quantile if cal.rule != "tolerance" else None},
        "runs": {"total": int(len(runs)), "ok": int(len(ok)),
                 "failed": int((runs["status"] == "failed").sum()) if len(runs) else 0,
                 "points": int(len(table))},
        "fitted": [describe(t) for t in cal.fit if t.kind == "observation"],
        "requirements": [describe(t) for t in cal.fit if t.kind == "requirement"],
        "held_out": [describe(t) for t in cal.hold_out],
        "accepted": post["accepted"],
        "posterior": {p.name: post["parameters"][p.column] for p in cal.parameters},
        "inference": {"method": "rejection",
                      "rules": {"at_prior_edge": "5% or 95% quantile of the accepted points "
                                "within 2% of the prior's width of its edge",
                                "adjusted": f"reported with at least {abc.PER_STATISTIC} x "
                                "(fitted patterns + 1) accepted points, refused when it "
                                "leaves the prior range"}},
        "best": best,
        "distances": {"min": float(np.min(dist)) if dist.size else None,
                      "median": float(np.median(dist)) if dist.size else None,
                      "accepted_max": (float(dist[accepted].max()) if accepted.any()
                                       else None)},
    }
    return table, report


def refine(cal: Calibration, table: pd.DataFrame, out: Path, *, workers: int | None = None,
           scheduler: str | None = None, progress: bool = False) -> dict[str, Any]:
    """The SMM estimate on the metamodel (:mod:`sim.studies.calibrate.smm`) and, with
    ``refine.replicates > 0``, that many runs at it (in ``OUT/smm-HASH``, resumable) to check
    the patterns it gives."""
    cols = [p.column for p in cal.parameters]
    est = smm.estimate(table[cols].to_numpy(dtype=np.float64),
                       np.column_stack([table[t.pattern].to_numpy(dtype=np.float64)
                                        for t in cal.fit]),
                       table["distance"].to_numpy(dtype=np.float64),
                       [(p.low, p.high) for p in cal.parameters], cal.fit,
                       [cal.weights.get(t.key, 1.0) for t in cal.fit], cal.refine["share"])
    result: dict[str, Any] = {
        "method": "simulated method of moments on a local polynomial metamodel "
                  "(McFadden 1989; Gourieroux & Monfort 1996)",
        "share": cal.refine["share"]}
    if est is None:
        return {**result, "estimate": None,
                "note": "too few design points with every fitted pattern for a metamodel"}
    values = {p.column: (int(round(v)) if p.integer else float(v))
              for p, v in zip(cal.parameters, est["theta"], strict=True)}
    result.update(
        estimate={p.name: values[p.column] for p in cal.parameters},
        metamodel={"degree": est["degree"], "points": est["n_points"],
                   "r2": {t.key: float(r) for t, r in zip(cal.fit, est["r2"], strict=True)},
                   "q2_leave_one_out": {t.key: float(r)
                                        for t, r in zip(cal.fit, est["q2"], strict=True)}},
        predicted={t.key: float(v) for t, v in zip(cal.fit, est["predicted"], strict=True)},
        distance_predicted=est["distance"])
    if cal.refine["replicates"] == 0:
        return result
    exp = check_experiment(cal, values)
    folder = out / f"smm-{exp.sha256[:10]}"
    summary = run_sweep(exp, folder, workers=workers, scheduler=scheduler, progress=progress)
    runs = SweepStore(folder).read_runs()
    ok = runs[runs["status"] == "ok"]
    check: dict[str, Any] = {"folder": folder.name, "replicates": cal.refine["replicates"],
                             "ok": int(len(ok)), "complete": summary.exit_code == 0,
                             "patterns": {}}
    means = {}
    for t in [*cal.fit, *cal.hold_out]:
        v = ok[t.pattern].to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        mean = float(v.mean()) if v.size else float("nan")
        sd = float(v.std(ddof=1)) if v.size > 1 else float("nan")
        means[t.pattern] = mean
        check["patterns"][t.key] = {
            "fitted": t in cal.fit, "observed": t.value, "interval": [t.low, t.high],
            "mean": mean, "sd": sd, "se": sd / np.sqrt(v.size) if v.size > 1 else float("nan"),
            "within": bool(t.within(mean))}
    check["distance"] = float(abc.distances(pd.DataFrame([means]), cal.fit, cal.weights)[0])
    result["check"] = check
    return result


def _provenance(cal: Calibration, scenario_hash: str | None) -> dict[str, Any]:
    return {"package_version": __version__, "git_commit": git_commit(),
            "calibration_file": {"path": str(cal.source), "sha256": cal.sha256},
            "scenario": ({"path": str(cal.scenario), "hash": scenario_hash}
                         if cal.scenario is not None else None),
            "seed": cal.seed,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}


# -- the pipeline ----------------------------------------------------------------------------------
def default_out(cal: Calibration) -> Path:
    return Path("results") / "calibrate" / cal.name


def calibrate(path: str | Path, out: str | Path | None = None, *, workers: int | None = None,
              scheduler: str | None = None, progress: bool = True) -> CalibrationResult:
    """Run (or resume) a calibration and write its outputs; see the module docstring.

    Raises
    ------
    InputError
        A bad calibration file, a bad --workers/--scheduler, or an --out directory that holds
        something else; nothing is written then.
    """
    if out is not None:
        check_out_folder(out)  # '' is not the current folder, nor a link another's folder
    cal = load_calibration(path)
    out = Path(out) if out is not None else default_out(cal)
    if scheduler is not None and workers is not None:
        raise InputError("--workers", "", "not used with --scheduler (the cluster has its own "
                         "workers); give one or the other")
    check_workers(workers)
    with claim_folder(out):  # held until the last figure is written
        return _calibrate(cal, out, workers=workers, scheduler=scheduler, progress=progress)


def _calibrate(cal: Calibration, out: Path, *, workers: int | None, scheduler: str | None,
               progress: bool) -> CalibrationResult:
    sweep_dir = out / "sweep"
    if out.exists():
        if not out.is_dir():
            raise InputError(str(out), "", "exists and is not a directory; give a new --out")
        if any(p.name != MARKER for p in out.iterdir()) \
                and not (sweep_dir / "experiment.json").is_file():
            raise InputError(str(out), "", "exists and is not a calibration directory (no "
                             "sweep/experiment.json); give a new or empty --out directory")
    exp = sweep_experiment(cal)
    try:  # a different design: refused before any write
        SweepStore(sweep_dir).check(exp)
    except InputError as exc:
        raise InputError(str(cal.source), "", exc.message) from None
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "calibration")
    summary = run_sweep(exp, sweep_dir, workers=workers, scheduler=scheduler,
                        progress=progress)
    runs = SweepStore(sweep_dir).read_runs()
    table, report = analyse(cal, runs)
    draws, ranks = posterior.attach(cal, runs, table, report)
    if cal.refine is not None:
        report["smm"] = refine(cal, table, out, workers=workers, scheduler=scheduler,
                               progress=progress)
    report = {"format": report.pop("format"), "name": report.pop("name"),
              "provenance": _provenance(cal, exp.scenario_hash), **report}
    report["runs"]["complete"] = summary.exit_code == 0
    report["runs"]["runs_per_minute"] = (summary.ran / summary.wall * 60
                                         if summary.ran and summary.wall > 0 else None)
    report["runs"]["mean_run_seconds"] = (float(runs["wall_time"].mean()) if len(runs)
                                          else None)
    files = write_outputs(out, cal, table, report, draws=draws, ranks=ranks)
    return CalibrationResult(out=out, summary=summary, report=report, files=files)
