"""Scenario files: a cluster, its parameters and the policies applied to it, as data.

A scenario is a TOML file (reference: ``docs/scenarios.md``, generated in part by
:func:`reference_markdown`) with these parts::

    extends = "baseline.toml"        # optional: start from another scenario (relative path)
    [scenario]                       # metadata: name, description, sources, currency, steps
    [[regions]]  [[sectors]]         # the world (default: sim.core.world.default_world())
    [[firms]]                        # initial firms per region and sector (default: n_firms)
    [params]                         # parameter overrides: bare names or [params.GROUP] tables
    [[interventions]]                # policies and shocks: kind = "cfc", name = "...", fields

Loading is strict: every mistake (malformed TOML, an unknown key, a wrong type, a value out of
range, a name that does not exist, an inconsistent schedule, a missing or cyclic ``extends``)
raises one :class:`sim.core.errors.InputError` naming the file, the key path inside it and what is
allowed, with a "did you mean" for misspelt keys. Nothing in a scenario file is ever executed.

Merge rule for ``extends`` (the parent is resolved first, recursively):

- tables (``[scenario]``, ``[params]`` and its groups) merge key by key, the child winning;
  ``scenario.name`` and ``scenario.description`` are never inherited (each file describes
  itself; the name defaults to the file's stem);
- the arrays ``regions``, ``sectors`` and ``firms`` are replaced wholesale when the child gives
  them;
- ``interventions`` are matched by ``name``: an entry with a name the parent uses is merged key
  by key onto the parent's entry (a different ``kind`` replaces it wholesale); new names are
  appended in order.

Errors name the file (and key) where the offending value was written, even when it came from a
parent; values set through :meth:`Scenario.with_overrides` are reported as source ``--set``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.core.errors import InputError, ParameterError
from sim.core.fields import coerce, describe_allowed, suggest
from sim.core.fields import names as _names
from sim.core.fields import param as _p
from sim.core.params import MAX_FIRMS, Params, param_field
from sim.core.world import FirmGroup, Region, Sector, World, default_world
from sim.interventions import KINDS, Intervention
from sim.io.inputs import check_intervention_name, parse_toml, parse_value, read_input
from sim.io.provenance import text_hash
from sim.measure.outputs import SERIES

__all__ = ["Scenario", "load_scenario", "parse_set", "known_outputs", "reference_markdown",
           "TOP_KEYS", "META_FIELDS", "REGION_FIELDS", "SECTOR_FIELDS", "FIRM_FIELDS"]

#: Top-level keys of a scenario file and what each holds.
TOP_KEYS: dict[str, str] = {
    "extends": "path of a scenario this one starts from, relative to this file",
    "scenario": "table of metadata: name, description, sources, currency, steps",
    "regions": "array of tables [[regions]]: the towns or districts",
    "sectors": "array of tables [[sectors]]: the industries",
    "firms": "array of tables [[firms]]: initial firms per region and sector",
    "params": "table of parameter overrides (bare names or [params.GROUP] tables)",
    "interventions": "array of tables [[interventions]]: policies and shocks",
}

#: ``[scenario]`` metadata.
META_FIELDS: dict[str, dataclasses.Field] = {
    "name": _p("", doc="short name used in reports and tables (default: the file's stem); "
               "not inherited through `extends`"),
    "title": _p("", doc="title labelling it in reports (default: its name); not inherited"),
    "description": _p("", doc="what the scenario represents; not inherited through `extends`"),
    "sources": _p((), doc="where its figures come from (array of strings)"),
    "currency": _p("", doc="the money unit of the scenario's figures, e.g. 'thousand USD'"),
    "steps": _p(120, 1, 100_000, "months", "default number of months to simulate"),
}

#: ``[[regions]]`` fields; defaults are those of :class:`sim.core.world.Region`.
REGION_FIELDS: dict[str, dataclasses.Field] = {
    "name": _p("", doc="unique name of the town or district"),
    "x": _p(0.0, 0.0, 10_000.0, "km", "centre, east coordinate, within the landscape"),
    "y": _p(0.0, 0.0, 10_000.0, "km", "centre, north coordinate, within the landscape"),
    "radius": _p(3.0, 0.01, 10_000.0, "km", "spread of firm locations around the centre"),
    "land_cost": _p(0.03, 0.0, 1e6, "money/worker-month", "rent of serviced land"),
    "market_access": _p(1.0, 0.0, 100.0, "multiple", "multiplier on the price firms receive"),
    "infrastructure": _p(0.5, 0.0, 1.0, "quality", "roads and utilities; lowers transport cost"),
    "wage_index": _p(1.0, 0.0, 100.0, "multiple", "multiplier on the model's wage"),
}

#: ``[[sectors]]`` fields; defaults are those of :class:`sim.core.world.Sector`.
SECTOR_FIELDS: dict[str, dataclasses.Field] = {
    "name": _p("", doc="unique name of the industry"),
    "input": _p("", doc="name of the input it buys; sectors may share an input"),
    "input_per_output": _p(0.3, 0.0, 100.0, "input units/output unit", "input intensity"),
    "input_price": _p(1.0, 0.0, 1e6, "money/input unit", "base price of the input"),
    "productivity": _p(1.0, 0.001, 1e6, "output units/worker-month",
                       "mean output per worker (lognormal across firms)"),
    "productivity_sd": _p(0.3, 0.0, 5.0, "log units", "spread of log productivity"),
    "price": _p(1.0, 0.001, 1e6, "money/output unit", "base output price"),
    "waste_per_output": _p(0.0, 0.0, 100.0, "waste units/output unit",
                           "waste to dispose of or treat (slurry, effluent)"),
    "demand_weight": _p(1.0, 0.0, 1e6, "weight",
                        "share of initial firms when `firms` is not given"),
    "size_floor": _p(1.0, 1.0, 1e6, "workers",
                     "smallest size a firm of the sector is set up at (its technology's "
                     "minimum scale): the floor of the Pareto law of initial firms' and "
                     "entrants' sizes"),
}

#: ``[[firms]]`` fields.
FIRM_FIELDS: dict[str, dataclasses.Field] = {
    "region": _p("", doc="a region name"),
    "sector": _p("", doc="a sector name"),
    "count": _p(0, 0, MAX_FIRMS, "firms", "number of firms"),
    "size_tail": _p(1.5, 0.1, 10.0, "exponent",
                    "Pareto exponent of initial sizes (default: the parameter `size_tail`)"),
}

_REQUIRED = {"regions": ("name", "x", "y"), "sectors": ("name", "input"),
             "firms": ("region", "sector", "count")}
_ARRAY_FIELDS = {"regions": REGION_FIELDS, "sectors": SECTOR_FIELDS, "firms": FIRM_FIELDS}
_NOT_INHERITED = ("name", "title", "description")
_SET_SOURCE = "--set"
#: Longest ``extends`` chain: a file and at most this many ancestors.
MAX_EXTENDS = 32


# -- the scenario ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """A loaded and validated scenario.

    Attributes
    ----------
    name, description : str
    path : Path or None
        The file it was loaded from.
    steps : int
        Default number of months to simulate.
    params : Params
    world : World
    interventions : tuple of Intervention
        In the file's order (the order the model applies them each month).
    meta : dict
        The metadata: name, description, sources, currency, steps, the ``extends`` chain.
    hash : str
        SHA-256 of the canonical JSON of the resolved scenario (metadata, every parameter,
        world and intervention, after ``extends`` and overrides): equal hashes, same scenario.
    text : str
        The source texts of the ``extends`` chain (parents first) and any overrides, for
        reports.
    """

    name: str
    description: str
    path: Path | None
    steps: int
    params: Params
    world: World
    interventions: tuple[Intervention, ...]
    meta: dict[str, Any]
    hash: str
    text: str
    _data: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    _origins: dict[str, tuple[str, str]] = field(repr=False, compare=False,
                                                 default_factory=dict)

    def __hash__(self) -> int:  # equal scenarios have equal content hashes
        return hash(self.hash)

    def _repr_html_(self) -> str:  # a short summary in notebooks
        from sim.measure.summary import scenario_html

        return scenario_html(self)

    def __repr__(self) -> str:  # one short line, not the scenario's whole text
        from sim.measure.summary import scenario_text

        return scenario_text(self)

    def build(self, rng: Any = None, agents: bool = True, threads: int | None = None,
              recording=None):
        """A fresh :class:`sim.model.ClusterModel` of this scenario (``threads``: numba threads
        for large models, results do not depend on it; ``recording``: what it records, a
        :class:`sim.measure.collect.Recording`, by default everything every month)."""
        from sim.model import ClusterModel  # here: loading a scenario builds no model

        return ClusterModel(self.params, self.world, self.interventions, rng=rng, agents=agents,
                            threads=threads, recording=recording)

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A new scenario with some values changed, as ``clustersim ... --set`` does.

        Keys: ``steps``; a parameter by bare name (``coop_benefit``) or group path
        (``cooperation.trust_gain``, also ``params.cooperation.trust_gain``); an intervention
        field ``interventions.NAME.FIELD``. Values are checked exactly as in a file; errors
        name the source ``--set`` and the key.
        """
        if not overrides:
            return self
        data = copy.deepcopy(self._data)
        origins = dict(self._origins)
        names = [e["name"] for e in data["interventions"]]
        for key, value in overrides.items():
            if not isinstance(key, str) or not key:
                raise InputError(_SET_SOURCE, str(key), "an empty key; allowed: " + _SET_KEYS)
            if key in ("steps", "scenario.steps"):
                data["scenario"]["steps"] = value
                origins["scenario.steps"] = (_SET_SOURCE, key)
            elif key.startswith("interventions."):
                parts = key.split(".")
                if len(parts) != 3 or not parts[2]:
                    raise InputError(_SET_SOURCE, key, "allowed: interventions.NAME.FIELD, "
                                     f"NAME one of {_names(names)}")
                _, name, fld = parts
                if name not in names:
                    raise InputError(_SET_SOURCE, key, f"no intervention named {name!r}; "
                                     f"allowed: {_names(names)}{suggest(name, names)}")
                if fld == "name":  # the rules of a file's names
                    check_intervention_name(value, _SET_SOURCE, key, set(names) - {name})
                data["interventions"][names.index(name)][fld] = value
                origins[f"interventions.{name}.{fld}"] = (_SET_SOURCE, key)
            else:
                bare = key.removeprefix("params.")
                try:
                    group, name = Params.resolve(bare)
                except ParameterError:
                    options = ["steps", *Params.names(),
                               *(f"{g}.{n}" for n, g in Params.names().items()),
                               *(f"interventions.{n}.{f}" for n, e in zip(
                                   names, data["interventions"], strict=True)
                                 for f in _kind_fields(e.get("kind")))]
                    raise InputError(_SET_SOURCE, key, "unknown key" + suggest(key, options)
                                     + "; allowed: " + _SET_KEYS) from None
                data["params"].setdefault(group, {})[name] = value
                origins[f"params.{group}.{name}"] = (_SET_SOURCE, key)
        text = self.text + "\n# --set\n" + "".join(
            f"# {k} = {_toml_value(v)}\n" for k, v in overrides.items())
        return _build(data, origins, self.path, self.meta.get("files", ()), text)


_SET_KEYS = ("steps, a parameter (bare name such as coop_benefit, or group.name such as "
             "cooperation.trust_gain) or interventions.NAME.FIELD")


# -- public functions -----------------------------------------------------------------------------
def load_scenario(path: str | Path) -> Scenario:
    """Read, resolve (``extends``) and validate a scenario file.

    Raises
    ------
    sim.core.errors.InputError
        Naming the file, the key path and what is allowed.
    """
    path = Path(path)
    data, origins, files, texts = _resolve(path, ())
    text = "".join(f"# ---- {f}\n{t}" + ("" if t.endswith("\n") else "\n")
                   for f, t in zip(files, texts, strict=True))
    return _build(data, origins, path, tuple(str(f) for f in files), text)


def parse_set(items: list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """Parse ``--set KEY=VALUE`` items; values are TOML values (``0.3``, ``true``, ``"text"``,
    ``["a", "b"]``). A value that is not valid TOML and looks like a plain word
    (``region=Hebron``) is taken as a string.

    Raises
    ------
    sim.core.errors.InputError
        Source ``--set``, for an item without ``=``, an empty key, a key given twice or a
        malformed value.
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise InputError(_SET_SOURCE, key or item, f"got {item!r}; allowed: KEY=VALUE, "
                             "e.g. coop_benefit=0.03 or interventions.cfc.region=\"Hebron\"")
        if key in out:
            raise InputError(_SET_SOURCE, key, "given twice; allowed: each key once")
        try:
            value = parse_value(raw, _SET_SOURCE, key)  # the nesting cap of a file
        except tomllib.TOMLDecodeError:
            if re.fullmatch(r"[A-Za-z_][\w\- ]*", raw):
                value = raw
            else:
                raise InputError(_SET_SOURCE, key, f"got {raw!r}; allowed: a TOML value such as "
                                 "0.3, true, \"text\" or [\"a\", \"b\"]") from None
        out[key] = value
    return out


def known_outputs(world: World) -> tuple[str, ...]:
    """Names of the per-step outputs of a model of ``world`` (what ``when_metric`` may name).

    Derived once from :func:`sim.measure.collect.snapshot` of a tiny model, with the per-sector and
    per-region names expanded for ``world``.
    """
    out: list[str] = []
    for key in SERIES:
        if "{sector}" in key or "{region}" in key:
            for s in world.sectors:
                for r in (world.regions if "{region}" in key else (None,)):
                    name = key.replace("{sector}", s.name)
                    out.append(name.replace("{region}", r.name) if r is not None else name)
        else:
            out.append(key)
    return tuple(dict.fromkeys(out))


# -- reading and merging --------------------------------------------------------------------------
def _resolve(path: Path, chain: tuple[tuple[Path, str], ...]):
    """Read ``path`` and its ``extends`` chain; returns (data, origins, files, texts).

    ``chain`` holds (resolved path, path as given) of the files that extend this one.
    """
    source = str(path)
    resolved = path.resolve()
    seen = [r for r, _ in chain]
    if resolved in seen:
        cycle = " -> ".join(p.name for p in (*seen[seen.index(resolved):], resolved))
        raise InputError(chain[-1][1], "extends",
                         f"cycle: {cycle}; allowed: a chain of scenarios that ends")
    if len(chain) > MAX_EXTENDS:
        raise InputError(chain[0][1], "extends", f"a chain of more than {MAX_EXTENDS} extends "
                         f"(reached {source}); allowed: at most {MAX_EXTENDS} levels")
    try:
        text = read_input(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise InputError(source, "", f"not UTF-8 text (line {line}: {exc.reason}); allowed: "
                         "a TOML file saved as UTF-8") from None
    raw = parse_toml(text, source)
    own, own_origins = _normalise(raw, source)
    if "extends" not in raw:
        base = {"scenario": {}, "params": {}, "interventions": []}
        data, origins = _merge(base, {}, own, own_origins)
        return data, origins, (path,), (text,)
    target = raw["extends"]
    if not isinstance(target, str) or not target:
        raise InputError(source, "extends", f"got {target!r}; allowed: the path of a scenario "
                         "file, relative to this file")
    parent_path = Path(target) if Path(target).is_absolute() else path.parent / target
    if not parent_path.is_file():
        raise InputError(source, "extends", f"got {target!r}; no such file ({parent_path})")
    pdata, porigins, pfiles, ptexts = _resolve(parent_path, (*chain, (resolved, source)))
    for key in _NOT_INHERITED:
        pdata["scenario"].pop(key, None)
        porigins.pop(f"scenario.{key}", None)
    data, origins = _merge(pdata, porigins, own, own_origins)
    return data, origins, (*pfiles, path), (*ptexts, text)


def _normalise(raw: dict[str, Any], source: str):
    """Check one file's structure and put it in canonical form.

    Returns (data, origins): ``params`` as {group: {name: value}}, interventions as a list of
    dicts each with a ``name``; origins map canonical key paths to (source, key as written).
    """
    data: dict[str, Any] = {"scenario": {}, "params": {}, "interventions": []}
    origins: dict[str, tuple[str, str]] = {}
    _check_top(raw, source)
    for key, value in raw.get("scenario", {}).items():
        if key not in META_FIELDS:
            raise InputError(source, f"scenario.{key}", "unknown key"
                             + suggest(key, META_FIELDS) + f"; allowed: {', '.join(META_FIELDS)}")
        data["scenario"][key] = value
        origins[f"scenario.{key}"] = (source, f"scenario.{key}")
    for key in ("regions", "sectors", "firms"):
        if key in raw:
            data[key] = raw[key]
            origins[key] = (source, key)
    for key, value in raw.get("params", {}).items():
        if isinstance(value, dict) and key in Params.groups():
            for name, v in value.items():
                _add_param(data, origins, source, f"{key}.{name}", f"params.{key}.{name}", v)
        elif isinstance(value, dict):
            raise InputError(source, f"params.{key}", "unknown parameter group"
                             + suggest(key, Params.groups())
                             + f"; allowed: {', '.join(Params.groups())}")
        else:
            _add_param(data, origins, source, key, f"params.{key}", value)
    _normalise_interventions(raw, source, data, origins)
    return data, origins


def _check_top(raw: dict[str, Any], source: str) -> None:
    """The top-level keys: known, and tables or arrays of tables as each should be."""
    for key, value in raw.items():
        if key not in TOP_KEYS:
            raise InputError(source, key, "unknown key" + suggest(key, TOP_KEYS)
                             + f"; allowed: {', '.join(TOP_KEYS)}")
        if key == "extends":
            continue
        if key in ("scenario", "params"):
            if not isinstance(value, dict):
                raise InputError(source, key, f"got {_show(value)}; allowed: a table "
                                 f"([{key}] followed by key = value lines)")
        elif not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise InputError(source, key, f"got {_show(value)}; allowed: an array of tables "
                             f"([[{key}]] blocks)")


def _normalise_interventions(raw, source: str, data, origins) -> None:
    """Give every intervention entry its name (unique) and record where its keys were set."""
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw.get("interventions", [])):
        where = f"interventions[{i}]"
        name = entry.get("name", entry.get("kind"))
        if name is None:
            raise InputError(source, where, "needs a name (and a kind, unless it changes an "
                             "intervention of the scenario it extends)")
        check_intervention_name(name, source, f"{where}.name")
        if name in seen:
            raise InputError(source, f"{where}.name", f"{name!r} is already the name of "
                             f"interventions[{seen[name]}]; allowed: a unique name")
        seen[name] = i
        data["interventions"].append({**entry, "name": name})
        origins[f"interventions.{name}"] = (source, where)
        for k in entry:
            origins[f"interventions.{name}.{k}"] = (source, f"{where}.{k}")


def _add_param(data, origins, source, key, written, value) -> None:
    try:
        group, name = Params.resolve(key)
    except ParameterError as exc:
        raise InputError(source, written, exc.detail + "; see `clustersim params` for the "
                         "list") from None
    canonical = f"params.{group}.{name}"
    if canonical in origins:
        raise InputError(source, written, f"given twice (also as {origins[canonical][1]}); "
                         "allowed: each parameter once")
    data["params"].setdefault(group, {})[name] = value
    origins[canonical] = (source, written)


def _merge(parent, porigins, child, corigins):
    """``child`` onto ``parent`` by the merge rule of the module docstring."""
    data = copy.deepcopy(parent)
    origins = dict(porigins)
    data["scenario"].update(child["scenario"])
    for group, values in child["params"].items():
        data["params"].setdefault(group, {}).update(values)
    for key in ("regions", "sectors", "firms"):
        if key in child:
            data[key] = copy.deepcopy(child[key])
    names = [e["name"] for e in data["interventions"]]
    for entry in child["interventions"]:
        name = entry["name"]
        if name in names:
            i = names.index(name)
            old = data["interventions"][i]
            if "kind" in entry and entry["kind"] != old.get("kind"):
                data["interventions"][i] = copy.deepcopy(entry)
                origins = {k: v for k, v in origins.items()
                           if not k.startswith(f"interventions.{name}.")}
            else:
                old.update(copy.deepcopy(entry))
        else:
            data["interventions"].append(copy.deepcopy(entry))
            names.append(name)
    origins.update(corigins)
    return data, origins


# -- building and validating ----------------------------------------------------------------------
class _Where:
    """Turns a canonical key path into (source, key as written) for error messages."""

    def __init__(self, origins: dict[str, tuple[str, str]], default: str):
        self.origins, self.default = origins, default

    def fail(self, path: str, message: str):
        cut = [m.start() for m in re.finditer(r"[.\[]", path)]
        for end in [len(path), *reversed(cut)]:
            origin = self.origins.get(path[:end])
            if origin is not None:
                source, written = origin
                return InputError(source, written + path[end:], message)
        return InputError(self.default, path, message)

    def check(self, path: str, value: Any, f: dataclasses.Field) -> Any:
        """Validate one scalar with the parameter machinery; strings, numbers, booleans."""
        if isinstance(f.default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.fail(path, f"got {_show(value)}; allowed: an array of strings"
                                + (" from " + ", ".join(map(repr, f.metadata["choices"]))
                                   if f.metadata.get("choices") else ""))
            choices = f.metadata.get("choices")
            for j, v in enumerate(value):
                if choices and v not in choices:
                    raise self.fail(f"{path}[{j}]", f"got {v!r}; allowed: one of "
                                    + ", ".join(map(repr, choices)) + suggest(v, choices))
            return tuple(value)
        if isinstance(f.default, str) and not isinstance(value, str):
            raise self.fail(path, f"got {_show(value)}; allowed: a string")
        try:
            return coerce(path, value, f)
        except ParameterError as exc:
            raise self.fail(path, exc.detail) from None


def _build(data, origins, path, files, text) -> Scenario:
    where = _Where(origins, str(path) if path is not None else "scenario")
    # metadata
    meta_in = data["scenario"]
    meta: dict[str, Any] = {}
    for key, f in META_FIELDS.items():
        if key in meta_in:
            meta[key] = where.check(f"scenario.{key}", meta_in[key], f)
        else:
            meta[key] = f.default
    if not meta["name"]:
        meta["name"] = Path(path).stem if path is not None else "scenario"
    meta = {k: v for k, v in meta.items() if k != "title" or v}  # unset: not in the hash
    meta["sources"] = list(meta["sources"])
    meta["files"] = tuple(files)
    # parameters
    params = Params()
    for group, values in data["params"].items():
        for name, value in values.items():
            info = Params.resolve(f"{group}.{name}")
            try:
                params = params.replace({f"{info[0]}.{info[1]}": value})
            except ParameterError as exc:
                raise where.fail(f"params.{group}.{name}", exc.detail) from None
    # world
    world = _build_world(data, where, params)
    if "firms" in data and "n_firms" in data["params"].get("world", {}):
        # a scenario that lists its firms creates exactly those: n_firms would be ignored (and
        # yet recorded as if it had been used), so it is refused wherever it was set
        firms_file = origins.get("firms", (str(path), "firms"))[0]
        raise where.fail("params.world.n_firms", f"the scenario lists its initial firms "
                         f"([[firms]] in {firms_file}), so n_firms would be ignored; allowed: "
                         "change the counts in [[firms]] (or use a scenario without [[firms]])")
    # interventions
    interventions = _build_interventions(data, where, world, params)
    resolved = {
        "scenario": {k: v for k, v in meta.items() if k != "files"},
        "params": params.to_dict(),
        "world": dataclasses.asdict(world),
        "interventions": [iv.to_dict() for iv in interventions],
    }
    digest = text_hash(_canonical_json(resolved))
    return Scenario(name=meta["name"], description=meta["description"],
                    path=Path(path) if path is not None else None, steps=int(meta["steps"]),
                    params=params, world=world, interventions=interventions, meta=meta,
                    hash=digest, text=text, _data=data, _origins=origins)


def _build_world(data, where: _Where, params: Params) -> World:
    default = default_world()
    items: dict[str, list[Any]] = {}
    for key, cls in (("regions", Region), ("sectors", Sector), ("firms", FirmGroup)):
        items[key] = (_build_entries(data[key], key, cls, where) if key in data
                      else list(getattr(default, key)))
    for key in ("regions", "sectors"):
        if not items[key]:
            raise where.fail(key, f"empty; allowed: at least one entry ([[{key}]])")
        names = [x.name for x in items[key]]
        for i, name in enumerate(names):
            if names.index(name) != i:
                raise where.fail(f"{key}[{i}].name", f"{name!r} is already the name of "
                                 f"{key}[{names.index(name)}]; allowed: a unique name")
    side = params.world.world_size
    for i, r in enumerate(items["regions"]):
        for k in ("x", "y"):
            if getattr(r, k) > side:
                raise where.fail(f"regions[{i}].{k}", f"got {getattr(r, k)!r}; allowed: a "
                                 f"number from 0 to world_size ({side:g} km)")
    _check_firm_groups(items, "firms" in data, where)
    try:
        return World(regions=tuple(items["regions"]), sectors=tuple(items["sectors"]),
                     firms=tuple(items["firms"]))
    except ValueError as exc:  # pragma: no cover - the checks above come first
        raise where.fail("", str(exc)) from None


def _build_entries(entries, key: str, cls, where: _Where) -> list[Any]:
    """The ``[[regions]]``, ``[[sectors]]`` or ``[[firms]]`` entries, each field checked."""
    fields_ = _ARRAY_FIELDS[key]
    built = []
    for i, entry in enumerate(entries):
        at = f"{key}[{i}]"
        for k in entry:
            if k not in fields_:
                raise where.fail(f"{at}.{k}", "unknown key" + suggest(k, fields_)
                                 + f"; allowed: {', '.join(fields_)}")
        for k in _REQUIRED[key]:
            if k not in entry:
                raise where.fail(f"{at}.{k}", f"missing; allowed: {_allowed(fields_[k])}")
        values = {k: where.check(f"{at}.{k}", v, fields_[k]) for k, v in entry.items()}
        for k in ("name", "input", "region", "sector"):
            if k in values and not values[k].strip():
                raise where.fail(f"{at}.{k}", "empty; allowed: a non-empty name")
        built.append(cls(**values))
    return built


def _check_firm_groups(items: dict[str, list[Any]], listed: bool, where: _Where) -> None:
    """Firm groups name regions and sectors of the world; there are some, and not too many."""
    rnames = [r.name for r in items["regions"]]
    snames = [s.name for s in items["sectors"]]
    for i, g in enumerate(items["firms"]):
        for k, names in (("region", rnames), ("sector", snames)):
            v = getattr(g, k)
            if v not in names:
                raise where.fail(f"firms[{i}].{k}", f"got {v!r}; allowed: one of "
                                 f"{_names(names)}{suggest(v, names)}")
    total = sum(g.count for g in items["firms"])
    if listed and total == 0:
        raise where.fail("firms", "no firms at all; allowed: at least one firm (a count > 0)")
    if total > MAX_FIRMS:
        raise where.fail("firms", f"{total:,} firms in all; allowed: at most {MAX_FIRMS:,} "
                         "(the memory a model of more would need)")


def _build_interventions(data, where: _Where, world: World,
                         params: Params) -> tuple[Intervention, ...]:
    """The enabled interventions, each kind checking its own fields
    (:meth:`sim.interventions.base.Intervention.check_fields`); no kind's rule lives here."""
    entries = []
    for entry in data["interventions"]:  # `enabled = false` drops an (inherited) intervention
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            raise where.fail(f"interventions.{entry['name']}.enabled", f"got {_show(enabled)}; "
                             "allowed: true or false (false drops the intervention)")
        if enabled:
            entries.append(entry)
    names = [e["name"] for e in entries]
    refs = {"regions": [r.name for r in world.regions], "sectors": [s.name for s in world.sectors],
            "inputs": list(world.inputs)}
    out: list[Intervention] = []
    for entry in entries:
        at = f"interventions.{entry['name']}"
        kind = entry.get("kind")
        if kind is None:
            raise where.fail(f"{at}.kind", "missing; allowed: one of " + ", ".join(KINDS))
        if not isinstance(kind, str) or kind not in KINDS:
            raise where.fail(f"{at}.kind", f"got {_show(kind)}; allowed: one of "
                             + ", ".join(KINDS) + suggest(str(kind), KINDS))
        ctx = _EntryContext(where, at, params, refs, [n for n in names if n != entry["name"]],
                            world)
        values = KINDS[kind].check_fields(entry, ctx)
        try:
            out.append(KINDS[kind](**values))
        except (TypeError, ValueError) as exc:  # pragma: no cover - checked above
            raise where.fail(at, str(exc)) from None
    _check_after_chains(out, where)
    return tuple(out)


def _check_after_chains(interventions, where: _Where) -> None:
    """``after`` must not form a cycle: none of the interventions in it could ever start."""
    after = {iv.name: iv.after for iv in interventions if iv.after}
    for start in after:
        seen, node = [start], after[start]
        while node in after and node not in seen:
            seen.append(node)
            node = after[node]
        if node == start:
            raise where.fail(f"interventions.{start}.after", "cycle: " + " -> ".join(
                [*seen, start]) + "; allowed: a chain that ends (none of these could start)")


class _EntryContext:
    """What an intervention kind sees of the scenario while it checks its entry (see
    :meth:`sim.interventions.base.Intervention.check_fields`)."""

    def __init__(self, where: _Where, at: str, params: Params, refs: dict[str, list[str]],
                 others: list[str], world: World):
        self.where, self.at, self.params = where, at, params
        self.refs, self.others, self.world = refs, others, world

    def fail(self, field_: str, message: str):
        raise self.where.fail(f"{self.at}.{field_}", message)

    def check(self, field_: str, value: Any, f: dataclasses.Field) -> Any:
        return self.where.check(f"{self.at}.{field_}", value, f)

    def check_from_param(self, field_: str, value: Any, f: dataclasses.Field,
                         param: str) -> Any:
        """An intervention field that stands for a model parameter: -1 (take the
        parameter's value) or a value the parameter itself allows."""
        path = f"{self.at}.{field_}"
        allowed = _from_param_allowed(param).replace("`", "")
        try:
            value = coerce(path, value, f)
            if value != -1:
                value = coerce(path, value, param_field(param))
        except ParameterError:
            raise self.where.fail(path, f"got {_show(value)}; allowed: {allowed}") from None
        return value

    def outputs(self) -> tuple[str, ...]:
        return known_outputs(self.world)


def _from_param_allowed(param: str) -> str:
    name = Params.resolve(param)[1]
    return f"-1 (the model's `{name}`) or {describe_allowed(param_field(param))}"


# -- helpers --------------------------------------------------------------------------------------
def _allowed(f: dataclasses.Field) -> str:
    if isinstance(f.default, str):
        return "a string"
    if isinstance(f.default, tuple):
        return "an array of strings"
    return describe_allowed(f)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def _kind_fields(kind: Any) -> tuple[str, ...]:
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    return tuple(cls.fields_info()) if cls is not None else ()


def _canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


# -- documentation --------------------------------------------------------------------------------
def reference_markdown() -> str:
    """The field-by-field reference of the scenario format, as Markdown tables.

    ``docs/scenarios.md`` embeds this text; a test keeps the two in step.
    """
    lines: list[str] = []
    common = Intervention.fields_info()

    def table(title: str, fields_: dict[str, dataclasses.Field], required=(),
              from_params=None) -> None:
        if title:
            lines.extend([f"### {title}", ""])
        lines.extend(["| key | default | allowed | unit | meaning |", "|---|---|---|---|---|"])
        for k, f in fields_.items():
            default = "required" if k in required else _doc_default(f.default)
            if fields_ is common and k == "name":
                default = "the kind"
            doc = f.metadata.get("doc", "")
            src = f.metadata.get("source", "assumption")
            if src and src != "assumption":
                doc += f" (source: {src})"
            allowed = (_from_param_allowed(from_params[k]) if from_params and k in from_params
                       else _allowed(f))
            lines.append(f"| `{k}` | {default} | {allowed} | {f.metadata.get('unit', '')} "
                         f"| {doc.replace('|', '/')} |")
        lines.append("")

    table("`[scenario]`", META_FIELDS)
    table("`[[regions]]`", REGION_FIELDS, _REQUIRED["regions"])
    table("`[[sectors]]`", SECTOR_FIELDS, _REQUIRED["sectors"])
    table("`[[firms]]`", FIRM_FIELDS, _REQUIRED["firms"])
    table("`[[interventions]]`: fields every kind accepts", common)
    for kind, cls in KINDS.items():
        own = {k: f for k, f in cls.fields_info().items() if k not in common}
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        reach = (", ".join(f"`{t}`" for t in cls.targets) if cls.targets
                 else "none (it acts on all firms)")
        lines.extend([f"#### `kind = \"{kind}\"`", "", doc, "",
                      f"Targeting fields it uses: {reach}.", ""])
        if own:
            table("", own, from_params=cls.from_params)
    outputs = ", ".join(f"`{k}`" for k in SERIES)
    lines.extend(["### Outputs `when_metric` may name", "",
                  "The per-step outputs of the model (`{sector}` and `{region}` stand for the "
                  "names in the scenario's world): " + outputs + ".", ""])
    return "\n".join(lines).rstrip() + "\n"


def _doc_default(value: Any) -> str:
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return "`[]`"
    return f"`{value}`"
