"""Policy anchors: published policy effects, each with its source and how to measure it.

The shipped anchors are ``sim/data/policy_anchors.toml`` (read with :mod:`importlib.resources`;
docs/anchors.md lists them). One anchor::

    [anchors.cfc_users_productivity]
    figure = 0.125                    # observed; or sign = "negative" for a direction only
    interval = [0.10, 0.15]           # a simulated value within it covers the anchor
    unit = "relative change (after / before - 1)"
    source = "mse-cdp-evaluation"     # a section of docs/sources.md
    source_estimator = "before/after comparison of sampled CFC users..."
    estimator = "before_after"        # a function of sim.measure.anchors
    model_quantity = "output per worker of the firms that use a public CFC..."
    role = "fit"                      # or "hold_out"
    why = "..."                       # the reason for the role, decided before any fit
    expressible = true                # false: the model cannot produce it yet

Loading is strict: a malformed file, an unknown or missing key, a wrong type, an interval that
does not hold its figure, an unknown estimator or role raises one
:class:`sim.core.errors.InputError` naming the file and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.core.errors import InputError
from sim.core.fields import FileCheck, is_num, one_of
from sim.io.inputs import read_data_table
from sim.measure.anchors import ESTIMATORS

__all__ = ["Anchor", "SHIPPED", "ROLES", "SIGNS", "load_anchors", "parse_anchors",
           "anchors_markdown"]

#: Where the shipped anchors live, for messages.
SHIPPED = "sim/data/policy_anchors.toml"
ROLES = ("fit", "hold_out")
SIGNS = ("negative", "positive")
_TEXT = ("unit", "source", "source_estimator", "model_quantity", "why")
_KEYS = ("figure", "interval", "sign", *_TEXT, "estimator", "role", "expressible")
#: Largest magnitude of a figure or an interval's end (counts, rupees and shares all fit).
MAX_MAGNITUDE = 1e12


@dataclass(frozen=True)
class Anchor:
    """One published policy effect.

    ``figure``, ``low`` and ``high`` are None for a sign anchor, whose ``sign`` is -1 or +1
    (0 for an anchor with a figure)."""

    key: str
    unit: str
    source: str
    source_estimator: str
    estimator: str
    model_quantity: str
    role: str
    why: str
    figure: float | None = None
    low: float | None = None
    high: float | None = None
    sign: int = 0
    expressible: bool = True

    def covers(self, simulated: float) -> bool:
        """Whether a simulated value (for a sign anchor: an estimate significant at 5%, its
        sign as :attr:`sim.measure.anchors.DidResult.sign`) agrees with the anchor."""
        if self.sign:
            return simulated == self.sign
        return bool(self.low <= simulated <= self.high)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key}
        if self.sign:
            out["sign"] = SIGNS[(self.sign + 1) // 2]
        else:
            out.update(figure=self.figure, interval=[self.low, self.high])
        out.update(unit=self.unit, source=self.source, source_estimator=self.source_estimator,
                   estimator=self.estimator, model_quantity=self.model_quantity,
                   role=self.role, why=self.why, expressible=self.expressible)
        return out


def parse_anchors(table: Any, where: str, prefix: str = "anchors.") -> dict[str, Anchor]:
    """Validate a ``{KEY: {...}}`` table of anchors.

    Raises
    ------
    InputError
        Naming ``where`` (the file) and the key path.
    """
    if not isinstance(table, dict) or not table:
        raise InputError(where, prefix.rstrip("."), f"got {table!r}; allowed: one or more "
                         "[anchors.KEY] tables")
    chk = FileCheck(where)
    for key in table:  # a key names a row of the validation table
        if not re.fullmatch(r"[a-z0-9_]+", key):
            chk.fail(f"{prefix}{key}", "an anchor's name; allowed: lower-case letters, digits "
                     "and '_'")
    return {key: _anchor(chk, key, a, f"{prefix}{key}.") for key, a in table.items()}


def _anchor(chk: FileCheck, key: str, a: Any, pre: str) -> Anchor:
    if not isinstance(a, dict):
        chk.fail(pre.rstrip("."), f"got {a!r}; allowed: a table with {', '.join(_KEYS)}")
    chk.keys(a, pre, _KEYS)
    text = {k: chk.string(a, pre, k, required=True, what="a non-empty string") for k in _TEXT}
    if not re.fullmatch(r"[a-z0-9-]+", text["source"]):
        chk.fail(pre + "source", f"got {text['source']!r}; allowed: the anchor of a section "
                 "of docs/sources.md, such as 'mse-cdp-evaluation'")
    estimator = chk.choice(a, pre, "estimator", tuple(ESTIMATORS))
    role = chk.choice(a, pre, "role", ROLES)
    expressible = chk.boolean(a, pre, "expressible", True)
    common = dict(key=key, estimator=estimator, role=role, expressible=expressible, **text)
    if "sign" in a:
        for k in ("figure", "interval"):
            if k in a:
                chk.fail(pre + k, f"not allowed with sign; a sign anchor has no {k}")
        sign = chk.choice(a, pre, "sign", SIGNS)
        return Anchor(sign=-1 if sign == "negative" else 1, **common)
    for k in ("figure", "interval"):
        if k not in a:
            chk.fail(pre + k, f"missing; allowed: figure = a number and interval = [low, high] "
                     f"around it, or sign = {one_of(SIGNS)}")
    figure = a["figure"]
    if not is_num(figure) or abs(figure) > MAX_MAGNITUDE:
        chk.fail(pre + "figure", f"got {figure!r}; allowed: a number within "
                 f"+-{MAX_MAGNITUDE:g}")
    iv = a["interval"]
    if (not isinstance(iv, list) or len(iv) != 2 or not all(is_num(v) for v in iv)
            or not iv[0] <= figure <= iv[1] or not iv[0] < iv[1]
            or max(abs(iv[0]), abs(iv[1])) > MAX_MAGNITUDE):
        chk.fail(pre + "interval", f"got {iv!r}; allowed: [low, high] with low <= figure "
                 f"({figure:g}) <= high and low < high, within +-{MAX_MAGNITUDE:g}")
    return Anchor(figure=float(figure), low=float(iv[0]), high=float(iv[1]), **common)


def load_anchors(path: str | Path | None = None) -> dict[str, Anchor]:
    """The anchors of a TOML file, by default the shipped ``policy_anchors.toml``."""
    table, where = read_data_table(path, SHIPPED, "anchors", "an anchors file (TOML)")
    return parse_anchors(table, where)


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:g}"


def anchors_markdown(anchors: dict[str, Anchor]) -> str:
    """The anchors as the Markdown table of docs/anchors.md (tests check the doc against it)."""
    lines = ["| anchor | observed | unit | source | estimator | role |",
             "|---|---|---|---|---|---|"]
    for a in anchors.values():
        if a.sign:
            seen = SIGNS[(a.sign + 1) // 2] + " (sign)"
        else:
            seen = f"{_number(a.figure)} ({_number(a.low)}-{_number(a.high)})"
        role = "fitted" if a.role == "fit" else "held out"
        if not a.expressible:
            role += "; not yet expressible"
        lines.append(f"| `{a.key}` | {seen} | {a.unit} | [{a.source}](sources.md#{a.source}) "
                     f"| `{a.estimator}` | {role} |")
    return "\n".join(lines)
