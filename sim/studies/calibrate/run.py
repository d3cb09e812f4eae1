"""``clustersim calibrate``: the calibration file, the pipeline and its outputs.

A calibration file (TOML; reference in docs/calibration.md) names a scenario, the months to run
and to discard as burn-in, the free parameters with their ranges (parameter-table names), the
design (Latin hypercube or Sobol'), the patterns to fit and those held out for validation, and
the acceptance rule. The pipeline:

1. validate the file (nothing is written when it is wrong);
2. turn it into a sweep experiment of the ``patterns`` model (:mod:`sim.studies.calibrate.model`)
and
   run it with the project's sweep engine (:func:`sim.studies.sweep.run_sweep`): local Dask workers
   or a scheduler, one file per finished run in ``OUT/sweep``, so a calibration started again
   runs only what is missing;
3. average each point's replicates, compute distances to the observed targets, accept by the
   rule (:mod:`sim.studies.calibrate.abc`);
4. write ``calibration.json``, ``patterns.csv`` and the figures to ``OUT``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import hashlib
import json
import math
import os
import re
import tempfile
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.core.errors import InputError
from sim.core.params import ParameterError, Params
from sim.studies.calibrate import abc
from sim.studies.calibrate import model as pmodel
from sim.studies.calibrate.targets import SHIPPED, Target, load_targets, parse_targets
from sim.studies.sweep.experiment import _Check as _ExperimentCheck

__all__ = ["Calibration", "FreeParameter", "load_calibration", "sweep_toml", "calibrate",
           "CalibrationResult", "FORMAT"]

FORMAT = "clustersim-calibration/1"
MODELS = ("cluster", "ishigami")
METHODS = ("lhs", "sobol")
DISTRIBUTIONS = ("uniform", "loguniform")
_TOP = ("calibration", "design", "overrides", "parameters", "patterns", "acceptance",
        "refine", "targets")
_CAL_KEYS = ("name", "description", "model", "scenario", "steps", "burn_in", "growth_window",
             "min_tail", "sector")
_DESIGN_KEYS = ("method", "samples", "replicates", "seed", "seeding")
_PARAM_KEYS = ("name", "range", "distribution")
_PATTERN_KEYS = ("fit", "hold_out", "weights")
_ACCEPT_KEYS = ("rule", "quantile")
_REFINE_KEYS = ("method", "replicates", "share")
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


# -- validation ------------------------------------------------------------------------------------
def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


class _Check(_ExperimentCheck):
    """The sweep experiment's checks (one wording for every file), with the calibration
    file's own hint for a missing table and strings that may be empty."""

    def table(self, data: dict, key: str, required: bool = True) -> dict:
        if key not in data:
            if required:
                self.fail(key, f"missing; add a [{key}] table (docs/calibration.md)")
            return {}
        if not isinstance(data[key], dict):
            self.fail(key, f"got {data[key]!r}; allowed: a [{key}] table")
        return data[key]

    def string(self, table, prefix, key, default=None, required=False):
        if key not in table:
            if required:
                self.fail(prefix + key, "missing; allowed: a string")
            return default
        v = table[key]
        if not isinstance(v, str):
            self.fail(prefix + key, f"got {v!r}; allowed: a string")
        return v


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _table_limits(name: str) -> tuple[str, Any, Any]:
    """``(kind, lo, hi)`` of a parameter-table entry (kind: 'int', 'float', or another type)."""
    group, bare = Params.resolve(name)
    f = {fl.name: fl for fl in dataclasses.fields(getattr(Params(), group))}[bare]
    return type(f.default).__name__, f.metadata.get("lo"), f.metadata.get("hi")


def _free_parameter(chk: _Check, p: dict, i: int, model: str) -> FreeParameter:
    pre = f"parameters[{i}]."
    chk.keys(p, pre, _PARAM_KEYS)
    name = chk.string(p, pre, "name", required=True)
    r = p.get("range")
    if (not isinstance(r, list) or len(r) != 2 or not all(_num(v) for v in r)
            or not r[0] < r[1]):
        chk.fail(pre + "range", f"got {r!r}; allowed: [low, high] with low < high")
    lo, hi = float(r[0]), float(r[1])
    dist = chk.choice(p, pre, "distribution", DISTRIBUTIONS, "uniform")
    if dist == "loguniform" and lo <= 0:
        chk.fail(pre + "range", f"got {r!r}; allowed with distribution 'loguniform': "
                 "0 < low < high")
    integer = False
    if model == "ishigami":
        from sim.studies.sweep import ishigami

        if name not in ishigami.PARAMETERS:
            chk.fail(pre + "name", f"got {name!r}; allowed: a parameter of the Ishigami model "
                     f"({', '.join(ishigami.PARAMETERS)}){_suggest(name, ishigami.PARAMETERS)}")
    elif not name.startswith("interventions."):
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
        integer = kind == "int"
    return FreeParameter(name=name, low=lo, high=hi, distribution=dist, integer=integer)


def load_calibration(path: str | Path) -> Calibration:
    """Read and validate a calibration file; raise :class:`InputError` naming file and key."""
    source = Path(path)
    chk = _Check(source)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        chk.fail("", f"cannot read the calibration file: {exc.strerror or exc}")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        chk.fail("", "not a text file in UTF-8")
    except tomllib.TOMLDecodeError as exc:
        chk.fail("", f"not valid TOML: {exc}")
    chk.keys(data, "", _TOP)

    cal = chk.table(data, "calibration")
    chk.keys(cal, "calibration.", _CAL_KEYS)
    name = chk.string(cal, "calibration.", "name", default=source.stem)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        chk.fail("calibration.name", f"got {name!r}; allowed: letters, digits, '_', '-', '.'")
    description = chk.string(cal, "calibration.", "description", default="")
    model = chk.choice(cal, "calibration.", "model", MODELS, "cluster")
    steps = chk.integer(cal, "calibration.", "steps", 1, required=model == "cluster",
                        what=" (months to simulate)")
    settings: dict[str, Any] = {}
    scenario = None
    if model == "cluster":
        rel = chk.string(cal, "calibration.", "scenario", required=True)
        scenario = (source.parent / rel).resolve()
        if not scenario.is_file():
            chk.fail("calibration.scenario", f"got {rel!r}; no such file ({scenario})")
        settings["burn_in"] = chk.integer(cal, "calibration.", "burn_in", 0, required=True,
                                          what=" (months discarded before measuring)")
        settings["growth_window"] = chk.integer(cal, "calibration.", "growth_window", 1,
                                                default=12)
        settings["min_tail"] = chk.integer(cal, "calibration.", "min_tail", 5, default=20)
        settings["sector"] = chk.string(cal, "calibration.", "sector", default="")
        need = max(settings["burn_in"], settings["growth_window"]) + 1
        if steps < need:
            chk.fail("calibration.steps", f"got {steps}; allowed: at least {need} (more than "
                     "burn_in and growth_window)")
    else:
        for k in ("scenario", "burn_in", "growth_window", "min_tail", "sector"):
            if k in cal:
                chk.fail(f"calibration.{k}", f"not used by model {model!r}; remove it")

    de = chk.table(data, "design")
    chk.keys(de, "design.", _DESIGN_KEYS)
    method = chk.choice(de, "design.", "method", METHODS, "lhs")
    samples = chk.integer(de, "design.", "samples", 2, required=True,
                          what=" (design points; a power of two for 'sobol')")
    if method == "sobol" and samples & (samples - 1):
        chk.fail("design.samples", f"got {samples}; allowed for 'sobol': a power of two")
    replicates = chk.integer(de, "design.", "replicates", 1, default=1)
    seed = chk.integer(de, "design.", "seed", 0, required=True)
    # ABC needs each point to be an independent draw of the model: independent seeds by default
    seeding = chk.choice(de, "design.", "seeding", ("independent", "common"), "independent")

    overrides = _flatten(chk.table(data, "overrides", required=False))
    for k in overrides:
        if k.startswith(pmodel.PREFIX):
            chk.fail(f"overrides.{k}", "set the pattern settings in [calibration] (burn_in, "
                     "growth_window, min_tail, sector)")

    plist = data.get("parameters")
    if not isinstance(plist, list) or not plist or not all(isinstance(p, dict) for p in plist):
        chk.fail("parameters", f"got {plist!r}; allowed: one or more [[parameters]] tables "
                 "with name and range")
    params = tuple(_free_parameter(chk, p, i, model) for i, p in enumerate(plist))
    for i, p in enumerate(params):
        for j in range(i):
            if params[j].name == p.name or params[j].column == p.column:
                chk.fail(f"parameters[{i}].name", f"got {p.name!r} again (parameters[{j}]); "
                         "vary each parameter once")
        if p.name in overrides:
            chk.fail(f"overrides.{p.name}", f"also a free parameter (parameters[{i}]); a "
                     "parameter is either fixed or free")
        outputs = pmodel.PATTERNS if model == "cluster" else ("y",)
        if p.column in outputs or p.column in _RESERVED:
            chk.fail(f"parameters[{i}].name", f"got {p.name!r}, whose column {p.column!r} is "
                     "also an outcome or reserved column; use its group path (GROUP.NAME)")

    # targets: shipped, then the file's own
    targets = load_targets()
    if "targets" in data:
        targets.update(parse_targets(data["targets"], str(source)))
    outcomes = pmodel.PATTERNS if model == "cluster" else ("y",)
    pa = chk.table(data, "patterns")
    chk.keys(pa, "patterns.", _PATTERN_KEYS)
    chosen: dict[str, tuple[Target, ...]] = {}
    for key in ("fit", "hold_out"):
        names = pa.get(key, [] if key == "hold_out" else None)
        if (not isinstance(names, list) or (key == "fit" and not names)
                or not all(isinstance(n, str) for n in names)):
            chk.fail(f"patterns.{key}", f"got {names!r}; allowed: a "
                     f"{'non-empty ' if key == 'fit' else ''}list of target names")
        picked = []
        for i, n in enumerate(names):
            if n not in targets:
                chk.fail(f"patterns.{key}[{i}]", f"got {n!r}; allowed: a target of {SHIPPED} "
                         f"or of this file ({', '.join(sorted(targets))}){_suggest(n, targets)}")
            t = targets[n]
            if t.pattern not in outcomes:
                chk.fail(f"patterns.{key}[{i}]", f"target {n!r} compares pattern "
                         f"{t.pattern!r}, which model {model!r} does not report; it reports: "
                         f"{', '.join(outcomes)}")
            if t.pattern.startswith("sector_"):
                if not settings.get("sector"):
                    chk.fail(f"patterns.{key}[{i}]", f"target {n!r} needs calibration.sector "
                             "(the sector whose firms, employment and facility use it counts)")
            picked.append(t)
        chosen[key] = tuple(picked)
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
        if not _num(v) or v <= 0:
            chk.fail(f"patterns.weights.{k}", f"got {v!r}; allowed: a number > 0")
        weights[k] = float(v)

    ac = chk.table(data, "acceptance", required=False)
    chk.keys(ac, "acceptance.", _ACCEPT_KEYS)
    rule = chk.choice(ac, "acceptance.", "rule", abc.RULES, "tolerance")
    quantile = ac.get("quantile", 0.1)
    if not _num(quantile) or not 0 < quantile <= 1:
        chk.fail("acceptance.quantile", f"got {quantile!r}; allowed: a number in (0, 1] (the "
                 "share of design points with the smallest distance)")
    if "quantile" in ac and rule == "tolerance":
        chk.fail("acceptance.quantile", "not used by rule 'tolerance'; use rule 'quantile' "
                 "or 'both'")

    refine = None
    if "refine" in data:
        rf = chk.table(data, "refine")
        chk.keys(rf, "refine.", _REFINE_KEYS)
        chk.choice(rf, "refine.", "method", ("smm",), "smm")
        share = rf.get("share", 0.25)
        if not _num(share) or not 0 < share <= 1:
            chk.fail("refine.share", f"got {share!r}; allowed: a number in (0, 1] (the share of "
                     "design points nearest the targets that the metamodel is fitted to)")
        refine = {"method": "smm",
                  "replicates": chk.integer(rf, "refine.", "replicates", 0, default=10,
                                            what=" (runs at the estimate to check it)"),
                  "share": float(share)}

    result = Calibration(
        source=source.resolve(), sha256=hashlib.sha256(raw).hexdigest(), name=name,
        description=description, model=model, scenario=scenario, steps=steps,
        settings=settings, method=method, samples=samples, replicates=replicates, seed=seed,
        seeding=seeding, overrides=overrides, parameters=params, fit=chosen["fit"],
        hold_out=chosen["hold_out"], weights=weights, rule=rule, quantile=float(quantile),
        refine=refine)
    _check_on_model(chk, result)
    return result


def _check_on_model(chk: _Check, cal: Calibration) -> None:
    """Try the fixed overrides and every free parameter at both ends on the model itself."""
    from sim.studies.sweep import models

    kind = "patterns" if cal.model == "cluster" else "ishigami"
    try:
        _, check = models.open_scenario(kind, cal.scenario)
    except (ParameterError, InputError) as exc:
        chk.fail("calibration.scenario", str(exc))
    if check is None:  # pragma: no cover - only without sim.io.scenario
        return
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
    """The sweep experiment (``clustersim sweep`` format) that runs the calibration's design."""
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


def check_toml(cal: Calibration, values: dict[str, Any]) -> str:
    """A sweep of ``cal.refine["replicates"]`` runs at one parameter point (``values`` by
    column), seeded from the calibration's seed."""
    design = ['method = "grid"', f"replicates = {cal.refine['replicates']}",
              f"seed = {cal.seed}"]
    factors = [[f"path = {json.dumps(p.name)}", f"name = {json.dumps(p.column)}",
                f"levels = [{_toml_value(values[p.column])}]"] for p in cal.parameters]
    return _sweep_text(cal, f"{cal.name}_smm_check", design, factors)


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
        for name, p in r["posterior"].items():
            if p["median"] is None:
                lines.append(f"  {name}: none accepted (prior {p['prior']})")
            else:
                lines.append(f"  {name}: median {p['median']:.4g}, 5-95% [{p['q05']:.4g}, "
                             f"{p['q95']:.4g}] (prior {p['prior'][0]:g}-{p['prior'][1]:g})")
        if r["best"] is not None:
            lines.append(f"  best point: distance {r['best']['distance']:.3g}")
        smm_est = (r.get("smm") or {}).get("estimate")
        if smm_est:
            chk = r["smm"].get("check")
            lines.append("  SMM estimate: " + ", ".join(f"{k} = {v:.4g}" for k, v in
                                                        smm_est.items())
                         + (f" (distance of {chk['ok']} check runs: {chk['distance']:.3g})"
                            if chk else ""))
        lines.append(f"written: {self.out / 'calibration.json'}, patterns.csv and "
                     f"{len(self.files)} figures")
        return "\n".join(lines)


def _atomic_write(path: Path, data: str | bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _stats(values) -> dict[str, Any]:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return {"n": 0, "median": None, "q05": None, "q95": None}
    q05, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
    return {"n": int(v.size), "median": float(q50), "q05": float(q05), "q95": float(q95)}


def _clean(obj):
    """JSON-ready: NaN and infinities become null."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


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
    if accepted.sum() > len(cal.fit) + 1 and len(cal.fit):
        z = abc.z_scores(table.loc[accepted], cal.fit).to_numpy()
        theta = table.loc[accepted, cols].to_numpy(dtype=np.float64)
        adj = abc.regression_adjust(theta, z, dist[accepted])
        for j, c in enumerate(cols):
            post["parameters"][c]["adjusted"] = _stats(adj[:, j])
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
        "fitted": [describe(t) for t in cal.fit],
        "held_out": [describe(t) for t in cal.hold_out],
        "accepted": post["accepted"],
        "posterior": {p.name: post["parameters"][p.column] for p in cal.parameters},
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
    from sim.studies.calibrate import smm
    from sim.studies.sweep import load_experiment, run_sweep
    from sim.studies.sweep.store import SweepStore

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
    text = check_toml(cal, values)
    folder = out / f"smm-{hashlib.sha256(text.encode()).hexdigest()[:10]}"
    with tempfile.TemporaryDirectory(prefix="clustersim-calibrate-") as tmp:
        exp_file = Path(tmp) / f"{cal.name}.smm.toml"
        exp_file.write_text(text, encoding="utf-8")
        load_experiment(exp_file)
        summary = run_sweep(exp_file, folder, workers=workers, scheduler=scheduler,
                            progress=progress)
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
    from sim.studies.sweep.store import git_commit

    return {"package_version": __version__, "git_commit": git_commit(),
            "calibration_file": {"path": str(cal.source), "sha256": cal.sha256},
            "scenario": ({"path": str(cal.scenario), "hash": scenario_hash}
                         if cal.scenario is not None else None),
            "seed": cal.seed,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _pattern_figure(table: pd.DataFrame, t: Target, fitted: bool) -> bytes:
    import io

    fig = _figure(5.5, 3.6)
    ax = fig.subplots()
    v = table[t.pattern].to_numpy(dtype=np.float64)
    acc = table["accepted"].to_numpy(dtype=bool)
    finite = np.isfinite(v)
    lo = min([t.low, *v[finite]]) if finite.any() else t.low
    hi = max([t.high, *v[finite]]) if finite.any() else t.high
    wide = lo > 0 and hi / lo > 20  # counts spanning more than an order of magnitude: log scale
    bins = (np.geomspace(lo, hi, 31) if wide else np.linspace(lo, hi, 31)) if hi > lo else 10
    if wide:
        ax.set_xscale("log")
    ax.axvspan(t.low, t.high, color="tab:green", alpha=0.15, label="observed interval")
    if finite.any():
        ax.hist(v[finite], bins=bins, color="0.6", label=f"all points ({finite.sum()})")
    if (finite & acc).any():
        ax.hist(v[finite & acc], bins=bins, color="tab:blue",
                label=f"accepted ({(finite & acc).sum()})")
    ax.axvline(t.value, color="tab:green", lw=2, label=f"observed {t.value:g}")
    ax.set_xlabel(f"{t.pattern} ({t.key})")
    ax.set_ylabel("design points")
    ax.set_title(f"{t.key}: {'fitted' if fitted else 'held out'}", fontsize=10)
    ax.legend(fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _parameter_figure(cal: Calibration, report: dict[str, Any]) -> bytes:
    import io

    n = len(cal.parameters)
    fig = _figure(6.5, 1.0 + 0.55 * n)
    ax = fig.subplots()
    for i, p in enumerate(cal.parameters):
        post = report["posterior"][p.name]
        width = p.high - p.low

        def scale(x, p=p, width=width):
            return (x - p.low) / width

        ax.plot([0, 1], [i, i], color="0.8", lw=8, solid_capstyle="butt",
                label="prior range" if i == 0 else None)
        if post["median"] is not None:
            ax.plot([scale(post["q05"]), scale(post["q95"])], [i, i], color="tab:blue", lw=8,
                    solid_capstyle="butt", label="accepted 5-95%" if i == 0 else None)
            ax.plot(scale(post["median"]), i, "o", color="k",
                    label="accepted median" if i == 0 else None)
        smm_est = (report.get("smm") or {}).get("estimate")
        if smm_est:
            ax.plot(scale(smm_est[p.name]), i, "*", color="tab:orange", markersize=12,
                    label="SMM estimate" if i == 0 else None)
        best = report["best"]
        if best is not None:
            ax.plot(scale(best[p.column]) if p.column in best else np.nan, i, "D",
                    color="tab:red", label="best point" if i == 0 else None)
    ax.set_yticks(range(n), [f"{p.name}\n[{p.low:g}, {p.high:g}]" for p in cal.parameters],
                  fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.invert_yaxis()  # the first parameter on top
    ax.set_xlabel("position within the prior range")
    ax.set_title(f"{cal.name}: accepted parameter ranges ({report['accepted']} of "
                 f"{report['runs']['points']} points)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def write_outputs(out: Path, cal: Calibration, table: pd.DataFrame, report: dict[str, Any]
                  ) -> list[Path]:
    """``calibration.json``, ``patterns.csv`` and the figures; returns the figure paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for t, fitted in [*((t, True) for t in cal.fit), *((t, False) for t in cal.hold_out)]:
        path = out / f"pattern_{_safe(t.key)}.png"
        _atomic_write(path, _pattern_figure(table, t, fitted))
        files.append(path)
    path = out / "parameters.png"
    _atomic_write(path, _parameter_figure(cal, report))
    files.append(path)
    report = {**report, "figures": [p.name for p in files]}
    _atomic_write(out / "patterns.csv", table.to_csv(index=False))
    _atomic_write(out / "calibration.json",
                  json.dumps(_clean(report), indent=2, allow_nan=False) + "\n")
    return files


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
    from sim.studies.sweep import load_experiment, run_sweep
    from sim.studies.sweep.store import SweepStore

    cal = load_calibration(path)
    out = Path(out) if out is not None else default_out(cal)
    if scheduler is not None and workers is not None:
        raise InputError("--workers", "", "not used with --scheduler (the cluster has its own "
                         "workers); give one or the other")
    if workers is not None and workers < 1:
        raise InputError("--workers", "", f"got {workers}; allowed: an integer >= 1")
    sweep_dir = out / "sweep"
    if out.exists():
        if not out.is_dir():
            raise InputError(str(out), "", "exists and is not a directory; give a new --out")
        if any(out.iterdir()) and not (sweep_dir / "experiment.json").is_file():
            raise InputError(str(out), "", "exists and is not a calibration directory (no "
                             "sweep/experiment.json); give a new or empty --out directory")
    with tempfile.TemporaryDirectory(prefix="clustersim-calibrate-") as tmp:
        exp_file = Path(tmp) / f"{cal.name}.sweep.toml"
        exp_file.write_text(sweep_toml(cal), encoding="utf-8")
        exp = load_experiment(exp_file)
        try:  # a different design: refused before any write
            SweepStore(sweep_dir).check(exp)
        except InputError as exc:
            raise InputError(str(cal.source), "", exc.message) from None
        summary = run_sweep(exp_file, sweep_dir, workers=workers, scheduler=scheduler,
                            progress=progress)
    runs = SweepStore(sweep_dir).read_runs()
    table, report = analyse(cal, runs)
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
    files = write_outputs(out, cal, table, report)
    return CalibrationResult(out=out, summary=summary, report=report, files=files)
