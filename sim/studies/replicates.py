"""How many replicates a comparison runs: ``--reps N`` checked, or ``--reps auto``, which adds
replicates until the widest paired 95% interval of the target outcome is narrow enough."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.core.errors import InputError
from sim.studies.paired import OUTCOMES, paired_columns, paired_difference

__all__ = ["AUTO_START", "AUTO_CAP", "replicates_rule", "until_narrow", "interval_widths"]

#: ``--reps auto`` starts at this many replicates and by default stops at the cap.
AUTO_START, AUTO_CAP = 5, 40


def replicates_rule(reps, workers, target, width, max_reps) -> dict[str, Any] | None:
    """Check the options of :func:`compare`; the ``--reps auto`` rule, or None."""
    auto = reps == "auto"
    if not auto and (not isinstance(reps, int) or isinstance(reps, bool) or reps < 2):
        raise InputError("--reps", "", f"got {reps}; allowed: an integer >= 2 (confidence "
                         "intervals need at least two replicates) or auto")
    if workers is not None and workers < 1:
        raise InputError("--workers", "", f"got {workers}; allowed: an integer >= 1")
    if target not in OUTCOMES:
        raise InputError("--target", "", f"got {target!r}; allowed: one of "
                         + ", ".join(OUTCOMES))
    if not auto:
        if width is not None:
            raise InputError("--width", "", "only used with --reps auto")
        return None
    if width is None or not width > 0:
        raise InputError("--width", "", f"got {width}; allowed: a number > 0 (with --reps "
                         "auto: the widest paired 95% interval of --target accepted)")
    if not isinstance(max_reps, int) or max_reps < AUTO_START:
        raise InputError("--max-reps", "", f"got {max_reps}; allowed: an integer >= "
                         f"{AUTO_START}")
    return {"target": target, "width": float(width), "start": AUTO_START, "cap": max_reps}


def until_narrow(comp, summary, rule: dict[str, Any], n: int, run, load):
    """``--reps auto``: from ``n`` replicates, add more (``run(n)``, then ``load(n)``) until
    the widest paired interval of the rule's target is at most its width, or the cap is
    reached."""
    width, cap = rule["width"], rule["cap"]
    history = []
    while True:
        widths = interval_widths(comp, rule["target"])
        worst = max(widths.values()) if widths else 0.0
        history.append({"reps": n, "widest": worst})
        if worst <= width or n >= cap or not summary.exit_code == 0:
            break
        # the interval narrows as 1/sqrt(n): aim at the width, at least two more
        need = math.ceil(n * (worst / width) ** 2) if worst > 0 else n + 2
        n = min(cap, max(n + 2, need))
        summary = run(n)
        comp = load(n)
    comp.rule = {**rule, "reps": n, "met": bool(worst <= width), "widest": worst,
                 "widths": widths, "history": history}
    return comp, summary


def interval_widths(comp, target: str) -> dict[str, float]:
    """Width of the paired 95% interval of ``target``, per alternative."""
    out = {}
    for label in comp.labels[1:]:
        a, b = paired_columns(comp, label, target)
        d = paired_difference(a, b)
        w = d["ci_high"] - d["ci_low"]
        out[label] = float(w) if np.isfinite(w) else float("inf")
    return out
