"""The field kit: one way to declare a field and to check a value against it, for every schema.

Model parameters (:mod:`sim.core.params`), the scenario file's world and metadata
(:mod:`sim.io.scenario`), each intervention kind's own fields (:mod:`sim.interventions`), the
experiment files of the sweeps (:mod:`sim.studies.sweep.experiment`) and the calibration files
(:mod:`sim.studies.calibrate.run`) all declare and check their values with the pieces below, so
that a value out of range, a wrong type or a misspelt key gets the same wording wherever it is
written:

- :func:`param` declares a field (default, range, unit, description, source, choices);
- :func:`coerce` checks one value against its field (types, ranges, choices) and
  :func:`describe_allowed` says in words what it accepts;
- :func:`suggest`, :func:`one_of` and :func:`names` are the "did you mean" and the lists of
  what is allowed;
- :class:`FileCheck` checks the tables of one input file and raises
  :class:`~sim.core.errors.InputError` naming the file, the key path and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import field
from pathlib import Path
from typing import Any, NoReturn

from sim.core.errors import InputError, ParameterError

__all__ = ["param", "coerce", "describe_allowed", "suggest", "one_of", "names", "is_int",
           "is_num", "flatten", "FileCheck"]


def param(default, lo=None, hi=None, unit="", doc="", source="assumption", choices=None):
    """A field with its range, unit, description and source in the metadata."""
    return field(
        default=default,
        metadata={"lo": lo, "hi": hi, "unit": unit, "doc": doc, "source": source,
                  "choices": choices},
    )


# -- words ---------------------------------------------------------------------------------------
def suggest(word: Any, options) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options``, or an empty string."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def one_of(options) -> str:
    return "one of " + ", ".join(repr(o) for o in options)


def names(items) -> str:
    """Names as a quoted list, or ``(none)``."""
    return ", ".join(repr(n) for n in items) if items else "(none)"


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# -- one value against its field -----------------------------------------------------------------
def describe_allowed(f: dataclasses.Field) -> str:
    """Human text for what a field accepts, used in error messages and docs."""
    md = f.metadata
    kind = type(f.default).__name__
    choices = md.get("choices")
    if kind == "tuple":
        what = "a list of strings"
        return what + (" from " + ", ".join(repr(c) for c in choices) if choices else "")
    if choices:
        return "one of " + ", ".join(repr(c) for c in choices)
    if kind == "bool":
        return "true or false"
    if kind == "str":
        return "a string"
    lo, hi = md.get("lo"), md.get("hi")
    what = "an integer" if kind == "int" else "a number"
    if lo is not None and hi is not None:
        return f"{what} from {lo} to {hi}"
    if lo is not None:
        return f"{what} >= {lo}"
    return what


def _as_bool(value):
    return value if isinstance(value, bool) else None


def _as_int(value):
    if is_int(value):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_float(value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _as_str(value):
    return value if isinstance(value, str) else None


_TYPED = {bool: _as_bool, int: _as_int, float: _as_float, str: _as_str}


def coerce(key: str, value: Any, f: dataclasses.Field) -> Any:
    """Check one value against its field: type (ints accepted for floats), range, choices.

    Raises
    ------
    ParameterError
        Naming ``key``, the bad value and what the field allows.
    """
    kind = type(f.default)
    allowed = describe_allowed(f)
    choices = f.metadata.get("choices")
    if kind is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ParameterError(key, f"got {value!r}; allowed: {allowed}")
        bad = [v for v in value if choices and v not in choices]
        if bad:
            raise ParameterError(key, f"got {bad[0]!r}; allowed: {allowed}"
                                 f"{suggest(bad[0], choices)}")
        return tuple(value)
    typed = _TYPED[kind](value) if kind in _TYPED else value
    if typed is None:
        raise ParameterError(key, f"got {value!r}; allowed: {allowed}")
    value = typed
    if choices and value not in choices:
        raise ParameterError(key, f"got {value!r}; allowed: {allowed}"
                             f"{suggest(str(value), choices)}")
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    if kind in (int, float) and ((lo is not None and value < lo)
                                 or (hi is not None and value > hi)):
        raise ParameterError(key, f"got {value!r}; allowed: {allowed}")
    return value


# -- the tables of one file ----------------------------------------------------------------------
class FileCheck:
    """Check the tables of one input file; every failure is one :class:`InputError` naming the
    file, the key path and what is allowed.

    Parameters
    ----------
    source : Path or str
        The file.
    tables : dict of str to str, optional
        What each top-level table holds, for the message of a missing or malformed table
        (``missing; this table holds ...``). Without it: ``missing; add a [KEY] table (HELP)``.
    help : str
        Where the format is described (for the messages without ``tables``).
    """

    def __init__(self, source: Path | str, tables: dict[str, str] | None = None,
                 help: str = ""):
        self.source = source
        self.tables = tables
        self.help = help

    def fail(self, key: str, message: str) -> NoReturn:
        raise InputError(str(self.source), key, message)

    def keys(self, table: dict, prefix: str, allowed, why: dict[str, str] | None = None):
        """Refuse keys not in ``allowed`` (with ``why[key]`` as the message when given)."""
        for k in table:
            if k not in allowed:
                hint = (why or {}).get(k)
                if hint:
                    self.fail(f"{prefix}{k}", hint)
                self.fail(f"{prefix}{k}", f"unknown key{suggest(k, allowed)}; allowed: "
                          f"{', '.join(allowed)}")

    def table(self, data: dict, key: str, required: bool = True) -> dict:
        if key not in data:
            if required:
                self.fail(key, f"missing; this table holds {self.tables[key]}" if self.tables
                          else f"missing; add a [{key}] table ({self.help})")
            return {}
        if not isinstance(data[key], dict):
            self.fail(key, f"got {data[key]!r}; allowed: a table [{key}] holding "
                      f"{self.tables[key]}" if self.tables
                      else f"got {data[key]!r}; allowed: a [{key}] table")
        return data[key]

    def integer(self, table, prefix, key, lo, default=None, required=False, what="", hi=None):
        if key not in table:
            if required:
                self.fail(prefix + key, f"missing; allowed: an integer >= {lo}{what}")
            return default
        v = table[key]
        if not is_int(v) or v < lo:
            self.fail(prefix + key, f"got {v!r}; allowed: an integer >= {lo}{what}")
        if hi is not None and v > hi:
            self.fail(prefix + key, f"got {v!r}; allowed: an integer from {lo} to {hi:,}{what}")
        return v

    def string(self, table, prefix, key, default=None, required=False, what="a string",
               empty=False):
        """A string (non-empty unless ``empty``)."""
        if key not in table:
            if required:
                self.fail(prefix + key, f"missing; allowed: {what}")
            return default
        v = table[key]
        if not isinstance(v, str) or (not v and not empty):
            self.fail(prefix + key, f"got {v!r}; allowed: {what}")
        return v

    def choice(self, table, prefix, key, options, default=None):
        if key not in table:
            if default is None:
                self.fail(prefix + key, f"missing; allowed: {one_of(options)}")
            return default
        v = table[key]
        if v not in options:
            self.fail(prefix + key, f"got {v!r}; allowed: {one_of(options)}"
                      f"{suggest(v, options)}")
        return v

    def boolean(self, table, prefix, key, default):
        v = table.get(key, default)
        if not isinstance(v, bool):
            self.fail(prefix + key, f"got {v!r}; allowed: true or false")
        return v

    def number(self, table, prefix, key, what="a number"):
        v = table[key]
        if not is_num(v):
            self.fail(prefix + key, f"got {v!r}; allowed: {what}")
        return float(v)

    def share(self, table, prefix, key, default, what):
        """A number in (0, 1]; ``what`` says what it is a share of."""
        v = table.get(key, default)
        if not is_num(v) or not 0 < v <= 1:
            self.fail(prefix + key, f"got {v!r}; allowed: a number in (0, 1] ({what})")
        return float(v)

    def span(self, table, prefix, positive=False) -> tuple[float, float]:
        """``range = [low, high]`` with low < high (and 0 < low with ``positive``)."""
        if "range" not in table:
            self.fail(prefix + "range", "missing; allowed: [low, high] with low < high")
        r = table["range"]
        what = ("[low, high] with 0 < low < high" if positive
                else "[low, high] with low < high")
        if (not isinstance(r, list) or len(r) != 2 or not all(is_num(v) for v in r)
                or not r[0] < r[1] or (positive and r[0] <= 0)):
            self.fail(prefix + "range", f"got {r!r}; allowed: {what}")
        if not math.isfinite(r[1] - r[0]):  # a width that overflows samples nothing
            self.fail(prefix + "range", f"got {r!r}, whose width high - low overflows; "
                      f"allowed: {what} and a finite width")
        return float(r[0]), float(r[1])

    def names(self, table, prefix, key, required=False):
        """A non-empty list of distinct outcome names."""
        if key not in table:
            if required:
                self.fail(prefix + key, "missing; allowed: a non-empty list of outcome names")
            return ()
        v = table[key]
        if (not isinstance(v, list) or not v
                or not all(isinstance(x, str) and x for x in v)):
            self.fail(prefix + key, f"got {v!r}; allowed: a non-empty list of outcome names")
        for i, x in enumerate(v):
            if x in v[:i]:
                self.fail(f"{prefix}{key}[{i}]", f"got {x!r} twice; list each outcome once")
        return tuple(v)


def flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
