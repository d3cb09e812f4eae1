"""Observed targets: what each pattern should be, within what interval, and from which source.

The shipped targets are in ``sim/data/calibration_targets.toml`` (read with
:mod:`importlib.resources`); a calibration file may add or replace targets with its own
``[targets.KEY]`` tables, in the same format::

    [targets.micro_share]
    pattern = "micro_share"          # the model outcome compared with it
    value = 0.91                     # observed
    interval = [0.86, 0.96]          # or: tolerance = 0.05 (value +- tolerance)
    source = "docs/sources.md#firm-size-distribution"
    description = "share of firms with fewer than 5 workers"
    kind = "observation"             # default; or "requirement"

A target of ``kind = "requirement"`` is a property asked of the model (say, entry balancing
exit in the steady state), not data: it is fitted like an observation but reported apart.

A simulated value ``s`` is scaled by the half-interval on its own side of the observed value,
``z = (s - value) / (high - value)`` above it and ``(s - value) / (value - low)`` below, so
``|z| <= 1`` exactly when ``s`` lies in the interval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.errors import InputError
from sim.core.fields import FileCheck, is_num
from sim.io.inputs import read_data_table

__all__ = ["Target", "KINDS", "SHIPPED", "load_targets", "parse_targets"]

#: Where the shipped targets live, for messages.
SHIPPED = "sim/data/calibration_targets.toml"
_KEYS = ("pattern", "value", "interval", "tolerance", "source", "description", "kind")
#: What a target is: a figure observed in data, or a property asked of the model.
KINDS = ("observation", "requirement")
#: Largest magnitude of a target's value and interval: the patterns are shares, rates and
#: counts; beyond this the distance arithmetic and the figures' axes overflow.
MAX_MAGNITUDE = 1e12


@dataclass(frozen=True)
class Target:
    """One observed pattern."""

    key: str
    pattern: str
    value: float
    low: float
    high: float
    source: str
    description: str = ""
    kind: str = "observation"

    def z(self, simulated) -> np.ndarray:
        """Signed distance of simulated values from the observed one, in half-intervals (NaN
        stays NaN)."""
        s = np.asarray(simulated, dtype=np.float64)
        up = (s - self.value) / (self.high - self.value)
        down = (s - self.value) / (self.value - self.low)
        return np.where(s >= self.value, up, down)

    def within(self, simulated) -> np.ndarray:
        """True where the simulated value lies in ``[low, high]``."""
        s = np.asarray(simulated, dtype=np.float64)
        return (s >= self.low) & (s <= self.high)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "pattern": self.pattern, "observed": self.value,
                "interval": [self.low, self.high], "source": self.source,
                "description": self.description, "kind": self.kind}


def parse_targets(table: Any, where: str, prefix: str = "targets.") -> dict[str, Target]:
    """Validate a ``{KEY: {pattern, value, interval | tolerance, source, description}}`` table.

    Raises
    ------
    InputError
        Naming ``where`` (the file) and the key path.
    """
    if not isinstance(table, dict):
        raise InputError(where, prefix.rstrip("."), f"got {table!r}; allowed: [targets.KEY] "
                         "tables")
    for key in table:  # a key names a figure and a row of the report
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", key):
            raise InputError(where, f"{prefix}{key}", "a target's name; allowed: letters, "
                             "digits, '_', '-' and '.', not starting with '.'")
    return {key: _target(FileCheck(where), key, t, f"{prefix}{key}") for key, t in table.items()}


def _target(chk: FileCheck, key: str, t: Any, pre: str) -> Target:
    if not isinstance(t, dict):
        chk.fail(pre, f"got {t!r}; allowed: a table with pattern, value, interval or "
                 "tolerance, source")
    for k in t:
        if k not in _KEYS:
            chk.fail(f"{pre}.{k}", f"unknown key; allowed: {', '.join(_KEYS)}")
    for k in ("pattern", "source"):
        if not isinstance(t.get(k), str) or not t.get(k):
            chk.fail(f"{pre}.{k}", f"got {t.get(k)!r}; allowed: a string"
                     + (" such as 'docs/sources.md#firm-size-distribution'"
                        if k == "source" else " naming a model outcome"))
    if not t["source"].startswith("docs/sources.md#"):
        chk.fail(f"{pre}.source", f"got {t['source']!r}; allowed: a section of "
                 "docs/sources.md, 'docs/sources.md#ANCHOR'")
    if not is_num(t.get("value")) or abs(t["value"]) > MAX_MAGNITUDE:
        chk.fail(f"{pre}.value", f"got {t.get('value')!r}; allowed: a number within "
                 f"+-{MAX_MAGNITUDE:g}")
    value = float(t["value"])
    low, high = _interval(chk, t, pre, value)
    desc = t.get("description", "")
    if not isinstance(desc, str):
        chk.fail(f"{pre}.description", f"got {desc!r}; allowed: a string")
    kind = chk.choice(t, f"{pre}.", "kind", KINDS, "observation")
    return Target(key=key, pattern=t["pattern"], value=value, low=low, high=high,
                  source=t["source"], description=desc, kind=kind)


def _interval(chk: FileCheck, t: dict, pre: str, value: float) -> tuple[float, float]:
    """``interval = [low, high]`` around the value, or ``value +- tolerance``."""
    if ("interval" in t) == ("tolerance" in t):
        chk.fail(pre, "give either interval = [low, high] or tolerance = a number > 0, not "
                 "both or neither")
    if "interval" in t:
        iv = t["interval"]
        if (not isinstance(iv, list) or len(iv) != 2 or not all(is_num(v) for v in iv)
                or not iv[0] < value < iv[1] or max(abs(iv[0]), abs(iv[1])) > MAX_MAGNITUDE):
            chk.fail(f"{pre}.interval", f"got {iv!r}; allowed: [low, high] with low < value "
                     f"({value:g}) < high, within +-{MAX_MAGNITUDE:g}")
        return float(iv[0]), float(iv[1])
    tol = t["tolerance"]
    if not is_num(tol) or tol <= 0:
        chk.fail(f"{pre}.tolerance", f"got {tol!r}; allowed: a number > 0")
    low, high = value - float(tol), value + float(tol)
    if not (low < value < high and low >= -MAX_MAGNITUDE and high <= MAX_MAGNITUDE):
        # after the arithmetic: 1e308 + 1e308 is infinite, 1e20 + 1 is 1e20
        chk.fail(f"{pre}.tolerance", f"got {tol!r} around value {value:g}: the interval "
                 f"[{low:g}, {high:g}] is {'empty' if low == high else 'out of range'}; "
                 f"allowed: a tolerance that gives low < value < high within "
                 f"+-{MAX_MAGNITUDE:g}")
    return low, high


def load_targets(path: str | Path | None = None) -> dict[str, Target]:
    """The targets of a TOML file, by default the shipped ``calibration_targets.toml``."""
    table, where = read_data_table(path, SHIPPED, "targets", "a targets file (TOML)", {})
    return parse_targets(table, where)
