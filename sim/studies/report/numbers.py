"""One number format for every report: thousands separators, decimals by magnitude, intervals
as ``[a, b]`` with both ends (and the estimate beside them) to the same decimals.

Decimals follow the largest magnitude in view: none from 100 up (``4,753``), one from 10
(``42.5``), two from 1 (``2.96``), three significant digits below 1 (``0.0123``). So an
interval never mixes ``2.962`` with ``4,753``: it reads ``[3, 4,753]``.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

__all__ = ["decimals", "fmt", "signed", "interval", "pct", "shown_path", "plural"]

#: Most decimals shown (numbers below 10^-6 show as 0).
_MOST = 6


def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, str):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def decimals(*values: Any) -> int:
    """Decimals for the largest finite magnitude among ``values`` (0 when there is none)."""
    finite = [abs(v) for v in map(_finite, values) if v is not None]
    top = max(finite, default=0.0)
    if top == 0.0 or top >= 100:
        return 0
    if top >= 10:
        return 1
    if top >= 1:
        return 2
    return min(_MOST, 2 - math.floor(math.log10(top)))


def fmt(x: Any, digits: int | None = None) -> str:
    """``x`` in the report's format (``digits`` decimals, default :func:`decimals` of
    ``x``); blank for a missing number, escaped text for anything else."""
    v = _finite(x)
    if v is None:
        return "" if x is None or _is_number(x) else html.escape(str(x))
    d = decimals(v) if digits is None else digits
    text = f"{v:,.{d}f}"
    return "0" if float(text.replace(",", "")) == 0 else text


def _is_number(x: Any) -> bool:
    try:
        float(x)
    except (TypeError, ValueError):
        return False
    return not isinstance(x, str)


def signed(x: Any, digits: int | None = None) -> str:
    """:func:`fmt` with a ``+`` on positive numbers."""
    text = fmt(x, digits)
    v = _finite(x)
    return f"+{text}" if v is not None and v > 0 and text != "0" else text


def interval(lo: Any, hi: Any, digits: int | None = None) -> str:
    """``[lo, hi]``, both ends to the same decimals; blank when either is missing."""
    if _finite(lo) is None or _finite(hi) is None:
        return ""
    d = decimals(lo, hi) if digits is None else digits
    return f"[{fmt(lo, d)}, {fmt(hi, d)}]"


def pct(x: Any) -> str:
    """A share as a whole percentage; blank when missing."""
    v = _finite(x)
    return "" if v is None else f"{v:.0%}"


def shown_path(path: Any) -> str:
    """A file as a report shows it: relative to the working folder when inside it, else its
    name alone (a report never prints a machine's absolute paths)."""
    if not path:
        return ""
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return p.name


#: First words of a unit label that stay as they are in the plural ("2 million litres").
_INVARIANT = frozenset({"hundred", "thousand", "million", "billion"})


def plural(unit: str) -> str:
    """The plural of a unit label, given in the singular: its first word takes an s (``job`` ->
    ``jobs``, ``firm in business`` -> ``firms in business``, ``tonne of slurry`` -> ``tonnes
    of slurry``), unless it is a count (``million litres``) or already ends in s."""
    first, _, rest = unit.partition(" ")
    if first.lower() in _INVARIANT or first.endswith("s"):
        return unit
    return f"{first}s" + (f" {rest}" if rest else "")
