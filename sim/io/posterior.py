"""Read the posterior of a calibration: ``calibration.json`` and its ``posterior_draws.csv``.

``clustersim calibrate`` writes, in its output folder, ``calibration.json`` with a key
``"posterior_draws": {"file": "posterior_draws.csv", "n": N, "method": "npe" | "rejection"}``
and the draws themselves: a CSV with a column ``draw`` (0 to N-1), then one column per free
parameter, named as the calibration file names it: a bare parameter (``growth_sd``), a grouped
one (``demography.growth_sd``) or an intervention field (``interventions.NAME.FIELD``).

:func:`load_posterior` reads them strictly (a missing file or key, a value that is not a
finite number, an unknown parameter or a value outside the parameter table's limits is one
:class:`~sim.core.errors.InputError` naming the file and what is wrong), and
:meth:`Posterior.choose` picks the draw each replicate takes, from a seed:
``clustersim compare --posterior`` and ``clustersim robust --posterior`` run every policy of
replicate ``r`` with the same draw and the same seed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.errors import InputError, ParameterError
from sim.core.params import FIELD_INFO, Params, coerce

__all__ = ["Posterior", "load_posterior", "choose_draws", "canonical", "STREAM"]

#: The ``SeedSequence`` spawn key of the draw choice (apart from the run seeds, key 1, the
#: sampler, 0, the analysis, 2, and the ranking's bootstrap, 3).
STREAM = 7
METHODS = ("npe", "rejection")


@dataclass(frozen=True)
class Posterior:
    """Draws of the free parameters from a calibration's posterior.

    Attributes
    ----------
    source : str
        The ``calibration.json`` read (as given).
    file : str
        The draws file (as named in ``calibration.json``).
    sha256 : str
        SHA-256 of the draws file.
    method : str
        How the calibration drew them (``npe`` or ``rejection``).
    names : tuple of str
        The parameters, as the calibration names them.
    values : ndarray, shape (n, len(names))
        Draw ``i`` is row ``i``.
    """

    source: str
    file: str
    sha256: str
    method: str
    names: tuple[str, ...]
    values: np.ndarray = field(repr=False)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    def draw(self, i: int) -> dict[str, Any]:
        """Draw ``i`` as overrides ``{name: value}`` (integers stay integers)."""
        return {name: _plain(name, v) for name, v in zip(self.names, self.values[i],
                                                          strict=True)}

    def choose(self, slots: int, seed: int) -> tuple[np.ndarray, bool]:
        """The draw of each of ``slots`` replicates: :func:`choose_draws`."""
        return choose_draws(self.n, slots, seed)

    def record(self, chosen) -> dict[str, Any]:
        """What a study records of the posterior it used (JSON-ready)."""
        chosen = [int(i) for i in chosen]
        return {"calibration": _shown(self.source), "file": self.file, "sha256": self.sha256,
                "method": self.method, "n": self.n, "parameters": list(self.names),
                "draws": chosen, "reused": len(set(chosen)) < len(chosen),
                "choice": f"seeded permutations of the {self.n} draws, one after another "
                          f"(SeedSequence(seed, spawn_key=({STREAM},))): every draw is used "
                          "once before any is used again",
                "calibration_provenance": self.provenance}


def choose_draws(n: int, slots: int, seed: int) -> tuple[np.ndarray, bool]:
    """The draw (0 to ``n``-1) of each of ``slots`` replicates, and whether a draw is reused.

    The draws are taken in the order of a seeded permutation; with more replicates than draws
    the next replicates take a fresh permutation, and so on (sampling with replacement, every
    draw used once before any is used twice). Replicate ``r`` gets the same draw whatever the
    number of slots, so ``--reps auto`` adds replicates without changing the first ones.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM,)))
    rounds = max(1, math.ceil(slots / n))
    order = np.concatenate([rng.permutation(n) for _ in range(rounds)])[:slots]
    return order.astype(np.int64), slots > n


def canonical(name: str) -> str:
    """``group.name`` of a parameter, or the intervention path itself."""
    if name.startswith("interventions."):
        return name
    group, bare = Params.resolve(name)
    return f"{group}.{bare}"


def _plain(name: str, v: float) -> Any:
    if not name.startswith("interventions."):
        group, bare = Params.resolve(name)
        default = FIELD_INFO[group][bare].default
        if isinstance(default, int) and not isinstance(default, bool):
            return int(v)
    return float(v)


def _shown(path: str) -> str:
    """A path as recorded: relative to the working folder when inside it (no machine paths)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return f"{p.parent.name}/{p.name}" if p.is_absolute() else str(p)


def load_posterior(path: str | Path) -> Posterior:
    """Read a calibration's posterior draws; ``path`` is its folder or its ``calibration.json``.

    Raises
    ------
    InputError
        One line naming the file and what is wrong: missing folder or file, a
        ``calibration.json`` that is not JSON or lacks ``posterior_draws`` (or its ``file``,
        ``n``, ``method``), a draws file without a ``draw`` column 0 to n-1, a parameter the
        model does not know, an empty, non-numeric or non-finite value, or a value outside the
        parameter table's limits (``clustersim params``).
    """
    path = Path(path)
    cal = path / "calibration.json" if path.is_dir() else path
    src = str(cal)
    if not cal.is_file():
        raise InputError(src, "", "no such file; allowed: a calibration folder (written by "
                         "`clustersim calibrate`) or its calibration.json")
    try:
        meta = json.loads(cal.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(src, "", f"not readable as JSON ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("posterior_draws"), dict):
        raise InputError(src, "posterior_draws", "missing; this calibration has no posterior "
                         "draws (allowed: a calibration.json with \"posterior_draws\": "
                         "{\"file\", \"n\", \"method\"})")
    pd_ = meta["posterior_draws"]
    for key in ("file", "n", "method"):
        if key not in pd_:
            raise InputError(src, f"posterior_draws.{key}", "missing")
    name, n, method = pd_["file"], pd_["n"], pd_["method"]
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise InputError(src, "posterior_draws.file", f"got {name!r}; allowed: a file name "
                         "in the calibration folder")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(src, "posterior_draws.n", f"got {n!r}; allowed: an integer >= 1")
    if method not in METHODS:
        raise InputError(src, "posterior_draws.method", f"got {method!r}; allowed: "
                         + " or ".join(METHODS))
    draws = cal.parent / name
    if not draws.is_file():
        raise InputError(str(draws), "", f"no such file (named by {cal.name}: "
                         "posterior_draws.file)")
    raw = draws.read_bytes()
    names, values = _read_draws(str(draws), raw, n)
    prov = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    try:  # recorded in a study's design, whose JSON admits no NaN
        json.dumps(prov, allow_nan=False)
    except (TypeError, ValueError):
        prov = {"unrecorded": "calibration.json's provenance holds values JSON cannot keep"}
    return Posterior(source=src, file=name, sha256=hashlib.sha256(raw).hexdigest(),
                     method=method, names=names, values=values, provenance=prov)


def _read_draws(src: str, raw: bytes, n: int) -> tuple[tuple[str, ...], np.ndarray]:
    try:
        rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(src, "", f"not a readable CSV ({exc})") from None
    if not rows or not rows[0]:
        raise InputError(src, "", "empty; allowed: a header `draw,PARAM,...` and one row per "
                         "draw")
    header = [h.strip() for h in rows[0]]
    if header[0] != "draw":
        raise InputError(src, "draw", f"the first column is {header[0]!r}; allowed: draw")
    names = header[1:]
    if not names:
        raise InputError(src, "", "no parameter columns after `draw`")
    seen: set[str] = set()
    for name in names:
        key = _check_name(src, name)
        if key in seen:
            raise InputError(src, name, "a parameter named twice")
        seen.add(key)
    body = [r for r in rows[1:] if r]
    if len(body) != n:
        raise InputError(src, "", f"{len(body)} draws, but calibration.json says n = {n}")
    values = np.empty((n, len(names)), dtype=np.float64)
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise InputError(src, f"row {i + 2}", f"{len(row)} values; allowed: "
                             f"{len(header)} (one per column)")
        if row[0].strip() != str(i):
            raise InputError(src, f"row {i + 2}", f"draw {row[0]!r}; allowed: {i} (draws "
                             f"numbered 0 to {n - 1} in order)")
        for j, (name, cell) in enumerate(zip(names, row[1:], strict=True)):
            try:
                v = float(cell)
            except ValueError:
                raise InputError(src, f"{name} (draw {i})", f"got {cell!r}; allowed: a "
                                 "number") from None
            if not math.isfinite(v):
                raise InputError(src, f"{name} (draw {i})", f"got {cell.strip()}; allowed: "
                                 "a finite number")
            if not name.startswith("interventions."):
                group, bare = Params.resolve(name)
                f = FIELD_INFO[group][bare]
                try:
                    coerce(f"{group}.{bare}", _plain(name, v) if float(v).is_integer() else v,
                           f)
                except ParameterError as exc:
                    raise InputError(src, f"{name} (draw {i})", exc.detail) from None
            values[i, j] = v
    return tuple(names), values


def _check_name(src: str, name: str) -> str:
    if name.startswith("interventions."):
        parts = name.split(".")
        if len(parts) != 3 or not all(parts):
            raise InputError(src, name, "allowed: interventions.NAME.FIELD")
        return name
    try:
        return canonical(name)
    except ParameterError as exc:
        raise InputError(src, name, f"{exc.detail}; allowed: a parameter of `clustersim "
                         "params` (bare or group.name) or interventions.NAME.FIELD") from None
