"""The Ishigami function, a stand-in model for testing the sweep and sensitivity machinery.

``y = sin(x1) + a sin(x2)^2 + b x3^4 sin(x1)`` on ``[-pi, pi]^3`` (Ishigami & Homma 1990). Its
Sobol' indices are known in closed form (Sobol' & Levitan 1999; SALib's
``SALib.test_functions.Ishigami``), so a sweep of it checks the whole chain, design -> runs ->
storage -> analysis, against analytic values. With ``a = 7`` and ``b = 0.1``:
S1 = (0.314, 0.442, 0), ST = (0.558, 0.442, 0.244).

The stand-in takes the replicate seed and, by default, ignores it (``noise = 0``). Two extra
constants exist for testing the machinery, not the function: ``noise`` adds Normal(0, noise)
drawn from the seed, so results depend on the seed; ``cost_ms`` keeps a CPU busy for that long,
so a run costs something measurable (benchmarks, killing a worker in the middle of a sweep).
"""

from __future__ import annotations

import difflib
import math
import time

import numpy as np
import pandas as pd

from sim.core.params import ParameterError

__all__ = ["PARAMETERS", "OUTCOMES", "ishigami", "sobol_indices", "check", "simulate"]

#: Parameters of the stand-in and their defaults.
PARAMETERS: dict[str, float] = {
    "x1": 0.0, "x2": 0.0, "x3": 0.0, "a": 7.0, "b": 0.1, "noise": 0.0, "cost_ms": 0.0,
}
#: Outcomes it reports.
OUTCOMES: tuple[str, ...] = ("y",)
#: Bumped whenever the stand-in's results change; part of every run id.
VERSION = "ishigami-1"


def ishigami(x1, x2, x3, a: float = 7.0, b: float = 0.1):
    """The Ishigami function, elementwise on scalars or arrays."""
    return np.sin(x1) + a * np.sin(x2) ** 2 + b * np.asarray(x3) ** 4 * np.sin(x1)


def sobol_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total Sobol' indices for inputs uniform on ``[-pi, pi]^3``.

    Returns
    -------
    s1, st : numpy.ndarray of shape (3,)
    """
    pi = math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    s1 = np.array([v1 / v, v2 / v, 0.0])
    st = np.array([(v1 + v13) / v, v2 / v, v13 / v])
    return s1, st


def check(overrides: dict[str, object]) -> dict[str, float]:
    """Resolve overrides against :data:`PARAMETERS`; raise ParameterError for a bad one."""
    values = dict(PARAMETERS)
    for key, value in overrides.items():
        if key not in PARAMETERS:
            close = difflib.get_close_matches(key, list(PARAMETERS), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(key, f"unknown parameter of the Ishigami model{hint}; "
                                 f"allowed: {', '.join(PARAMETERS)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParameterError(key, f"got {value!r}; allowed: a number")
        values[key] = float(value)
    if values["noise"] < 0 or values["cost_ms"] < 0:
        bad = "noise" if values["noise"] < 0 else "cost_ms"
        raise ParameterError(bad, f"got {values[bad]!r}; allowed: a number >= 0")
    return values


def simulate(*, steps: int | None, seed: int, overrides: dict[str, object]):
    """One 'run' of the stand-in, shaped like :func:`sim.studies.simulate.simulate`'s result.

    Parameters
    ----------
    steps : int or None
        Length of the (constant) series; ``None`` means 0.
    seed : int
        Used only when ``noise > 0``.
    overrides : dict
        Values of ``x1, x2, x3, a, b, noise, cost_ms``.

    Returns
    -------
    IshigamiResult
        With ``final = {"y": ...}``, ``series`` (a ``step`` and a ``y`` column) and
        ``provenance``.
    """
    p = check(overrides)
    if p["cost_ms"] > 0:  # burn CPU, not sleep: a benchmark should load the core it runs on
        end = time.perf_counter() + p["cost_ms"] / 1e3
        while time.perf_counter() < end:
            pass
    y = float(ishigami(p["x1"], p["x2"], p["x3"], p["a"], p["b"]))
    if p["noise"] > 0:
        y += p["noise"] * float(np.random.default_rng(seed).standard_normal())
    return IshigamiResult({"y": y}, int(steps or 0),
                          {"version": VERSION, "seed": seed, "params": p})


class IshigamiResult:
    """What :func:`simulate` returns: ``final``, ``series`` (built when asked for; the
    stand-in's runs are so cheap that an unused DataFrame would dominate them), ``provenance``.
    """

    __slots__ = ("final", "steps", "provenance")

    def __init__(self, final: dict[str, float], steps: int, provenance: dict):
        self.final, self.steps, self.provenance = final, steps, provenance

    @property
    def series(self) -> pd.DataFrame:
        n = self.steps
        return pd.DataFrame({"step": np.arange(n + 1), "y": np.full(n + 1, self.final["y"])})
