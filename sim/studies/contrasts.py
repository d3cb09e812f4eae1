"""What tells two scenarios of a comparison apart: a shock only, funding only, or more.

A comparison's cost table is about funded policies. Two kinds of alternative need another
treatment, and both are recognised from the loaded scenarios, not from their file names:

- an alternative whose only difference from the base, or from another scenario of the
  comparison, is a shock (interventions whose kind declares ``is_shock``,
  :mod:`sim.interventions.shocks`) is not a policy: it is reported as that shock against that
  scenario (:func:`shocks_of`), never as a "dominated" funded policy;
- two alternatives that differ only in how an intervention is funded (fields about money: a
  grant share, a cost, a budget, a subsidy) are the same policy at two prices: what the dearer
  one buys over the cheaper is their incremental cost (:func:`funding_pairs`).

Parameters and the world must be equal for either to hold; the interventions are matched by
name, and their ``description`` does not count as a difference.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Difference", "difference", "shock_only", "shocks_of", "funding_only",
           "funding_pairs", "is_funding"]

#: Intervention fields that never make two scenarios differ.
_IGNORED = ("name", "description")
#: Words that mark a field as about money, besides a money unit.
_MONEY_WORDS = ("grant", "budget", "subsid", "cost", "loan", "fee", "interest")


@dataclass
class Difference:
    """How scenario ``a`` differs from scenario ``b``.

    Attributes
    ----------
    setting : bool
        Their parameters or world differ.
    added, removed : list of Intervention
        Interventions (matched by name) only in ``a``, only in ``b``.
    changed : list of (name, field, value in a, value in b)
        Fields of interventions both have that differ (``kind`` included).
    """

    setting: bool
    added: list[Any] = field(default_factory=list)
    removed: list[Any] = field(default_factory=list)
    changed: list[tuple[str, str, Any, Any]] = field(default_factory=list)
    kinds: dict[str, Any] = field(default_factory=dict)

    @property
    def none(self) -> bool:
        return not (self.setting or self.added or self.removed or self.changed)


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def difference(a, b) -> Difference:
    """How scenario ``a`` differs from scenario ``b`` (loaded :class:`Scenario` objects)."""
    setting = (_canon(a.params.to_dict()) != _canon(b.params.to_dict())
               or _canon(dataclasses.asdict(a.world)) != _canon(dataclasses.asdict(b.world)))
    mine = {iv.name: iv for iv in a.interventions}
    theirs = {iv.name: iv for iv in b.interventions}
    diff = Difference(setting=setting,
                      added=[iv for n, iv in mine.items() if n not in theirs],
                      removed=[iv for n, iv in theirs.items() if n not in mine],
                      kinds={**theirs, **mine})
    for name in mine.keys() & theirs.keys():
        x, y = mine[name].to_dict(), theirs[name].to_dict()
        for key in sorted(x.keys() | y.keys()):
            if key not in _IGNORED and _canon(x.get(key)) != _canon(y.get(key)):
                diff.changed.append((name, key, x.get(key), y.get(key)))
    return diff


def shock_only(a, b) -> list[str]:
    """The names of the shocks that are all that tells ``a`` from ``b``; [] when they differ
    in anything else, or not at all."""
    d = difference(a, b)
    if d.none or d.setting:
        return []
    touched = {iv.name for iv in d.added + d.removed} | {c[0] for c in d.changed}
    if all(getattr(d.kinds[n], "is_shock", False) for n in touched):
        return sorted(touched)
    return []


def shocks_of(labels, scenarios) -> dict[str, tuple[str, list[str]]]:
    """The alternatives of a comparison that are a shock to another of its scenarios:
    ``{label: (reference label, shock names)}``, the reference being the first scenario
    before it in the comparison's order (the base first) that it differs from by shocks
    only. A scenario is thus never a shock to one listed after it."""
    out: dict[str, tuple[str, list[str]]] = {}
    for i, (la, sa) in enumerate(zip(labels, scenarios, strict=True)):
        if i == 0 or sa is None:
            continue
        for lb, sb in zip(labels[:i], scenarios[:i], strict=True):
            if sb is None:
                continue
            names = shock_only(sa, sb)
            if names:
                out[la] = (lb, names)
                break
    return out


def is_funding(intervention, name: str) -> bool:
    """Whether field ``name`` of ``intervention`` is about money (its unit is money, or its
    name says grant, budget, subsidy, cost, loan, fee or interest)."""
    f = type(intervention).fields_info().get(name)
    unit = str(f.metadata.get("unit", "")) if f is not None else ""
    return unit.startswith("money") or any(w in name for w in _MONEY_WORDS)


def funding_only(a, b) -> list[tuple[str, str, Any, Any]]:
    """The funding fields that are all that tells ``a`` from ``b`` (as in
    :attr:`Difference.changed`); [] when they differ in anything else, or not at all."""
    d = difference(a, b)
    if d.none or d.setting or d.added or d.removed:
        return []
    if all(c[1] != "kind" and is_funding(d.kinds[c[0]], c[1]) for c in d.changed):
        return d.changed
    return []


def funding_pairs(labels, scenarios) -> list[tuple[str, str, list]]:
    """Every pair of scenarios of a comparison that differ only in funding:
    ``(label a, label b, changed fields)`` with ``a`` after ``b`` in the comparison's order.
    Scenarios that could not be loaded (None) are skipped."""
    pairs = []
    for i, (la, sa) in enumerate(zip(labels, scenarios, strict=True)):
        for lb, sb in zip(labels[:i], scenarios[:i], strict=True):
            if sa is None or sb is None:
                continue
            changed = funding_only(sa, sb)
            if changed:
                pairs.append((la, lb, changed))
    return pairs
