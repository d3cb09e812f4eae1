"""sim.core.numerics: numpy's elementwise arithmetic for one float at a time, to the bit.

Each kernel is checked against numpy itself on random and edge values (bits, signed zeros
included), and against its own Python function (its twin)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from sim.core.numerics import np_max, np_min, numpy_power


def _special(rng, n):
    """Floats, among them NaN, infinities, signed zeros and the exponents numpy's power takes a
    shortcut for."""
    return np.array([float(rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, 1.0, 2.0, -1.0,
                                       rng.uniform(-3, 3), rng.uniform(0, 3)]))
                     for _ in range(n)])


@numba.njit
def _powers(x, e):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = numpy_power(x[i], e)
    return out


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("exponent", [2.0, 0.5, -1.0, 1.0, 0.0, -0.0, 3.0, -2.0, -0.5, 0.25,
                                      1.0 / 3.0, 20.0, -0.15, 1.5, 0.05, 1.0 / 0.3, -1 / 1.2])
def test_numpy_power_is_numpys_array_power_to_the_bit(seed, exponent):
    """numpy squares, takes square roots and reciprocals (and copies, and gives ones) for the
    exponents 2, 0.5, -1 (1, 0) where libm's pow, numba's ``**``, may differ in the last bit."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.exp(rng.uniform(-30.0, 30.0, 50_000)),
                        [0.0, 1.0, 1e-300, 1e300, np.inf, np.nan]])
    with np.errstate(all="ignore"):
        want = x ** exponent
    np.testing.assert_array_equal(_powers(x, exponent), want)
    # its Python function (the twin), on Python floats: the same bits
    with np.errstate(all="ignore"):
        twin = np.array([numpy_power.py_func(float(v), exponent) if v != 0.0 or exponent >= 0
                         else want[i] for i, v in enumerate(x[:2_000])])
    np.testing.assert_array_equal(twin, want[:2_000])


@pytest.mark.parametrize("seed", range(4))
def test_np_max_and_min_are_numpys_with_signed_zeros_and_nan(seed):
    rng = np.random.default_rng(seed)
    a, b = _special(rng, 600), _special(rng, 600)
    for ufunc, kernels in ((np.maximum, (np_max, np_max.py_func)),
                           (np.minimum, (np_min, np_min.py_func))):
        for fn in kernels:
            got = np.array([fn(x, y) for x, y in zip(a, b, strict=True)])
            want = ufunc(a, b)
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_equal_zeros_give_the_second_as_numpy_does():
    assert np.signbit(np_max(-0.0, 0.0)) == np.signbit(np.maximum(-0.0, 0.0))
    assert np.signbit(np_max(0.0, -0.0)) == np.signbit(np.maximum(0.0, -0.0))
    assert np.signbit(np_min(0.0, -0.0)) == np.signbit(np.minimum(0.0, -0.0))


def test_libm_probe_is_its_python_twin_and_a_verdict():
    from sim.core import numerics

    rng = np.random.default_rng(1)
    x, y = rng.uniform(-5, 5, 300), rng.uniform(1e-3, 50, 300)
    np.testing.assert_allclose(numerics._libm(x, y), numerics._libm.py_func(x, y), rtol=1e-13)
    assert numerics.numpy_is_libm() in (True, False)


@pytest.mark.parametrize("seed", range(3))
def test_elementwise_functions_are_numpys_where_numpy_is_libm(seed):
    """exp, log, log1p and power of sim.core.numerics (libm's on every machine) give numpy's
    bits on a machine whose numpy calls libm, on arrays of any shape."""
    from sim.core import numerics

    if not numerics.numpy_is_libm():
        pytest.skip("numpy's exp, log and pow are not libm's on this CPU")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-30.0, 30.0, (40, 25))
    y = np.exp(rng.uniform(-20.0, 20.0, (40, 25)))
    e = rng.uniform(-3.0, 3.0, (40, 25))
    np.testing.assert_array_equal(numerics.exp(x), np.exp(x))
    np.testing.assert_array_equal(numerics.log(y), np.log(y))
    np.testing.assert_array_equal(numerics.log1p(y), np.log1p(y))
    np.testing.assert_array_equal(numerics.log1p(np.arange(7)), np.log1p(np.arange(7)))
    np.testing.assert_array_equal(numerics.power(y, e), y ** e)
    for scalar in (2.0, 0.5, -1.0, 1.0, 0.0, -1.0 / 1.3, 0.65):
        np.testing.assert_array_equal(numerics.power(y, scalar), y ** scalar)
    assert numerics.exp(np.zeros((0,))).shape == (0,)


def test_unary_and_powers_kernels_equal_their_python_functions():
    from sim.core import numerics

    x = np.linspace(0.1, 5.0, 50)
    for which in (0, 1, 2):
        np.testing.assert_allclose(numerics._unary(x, which), numerics._unary.py_func(x, which),
                                   rtol=1e-13)
    e = np.linspace(-2.0, 2.0, 50)
    np.testing.assert_allclose(numerics._powers(x, e, False),
                               numerics._powers.py_func(x, e, False), rtol=1e-13)
    np.testing.assert_allclose(numerics._powers(x, np.array([0.5]), True),
                               numerics._powers.py_func(x, np.array([0.5]), True), rtol=1e-13)


@pytest.mark.parametrize("scenario", ["baseline.toml", "cfc.toml", "tirupur_cetp.toml"])
def test_runs_and_their_patterns_call_no_numpy_transcendental_function(scenario, monkeypatch):
    """A pattern run (the model, its set-up and the patterns measured) calls numpy's exp, log,
    log1p, log2, expm1 or power from no module of ``sim``: they go through libm (kernels and
    sim.core.numerics), whose bits do not depend on numpy's vectorised functions for the CPU.
    (``**`` on arrays cannot be watched this way; the source has none on the model's path.)"""
    import sys
    from pathlib import Path

    from sim.studies.sweep import patterns as pmodel

    path = Path(__file__).resolve().parents[1] / "scenarios" / scenario
    args = dict(steps=48, seed=2, overrides={"patterns.burn_in": 12})
    first = pmodel.simulate(path, **args)  # every kernel on the path compiled before the watch
    callers: set[str] = set()

    def watched(name):
        ufunc = getattr(np, name)

        def call(*a, **k):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller.split(".")[0] == "sim":
                callers.add(f"{caller}: np.{name}")
            return ufunc(*a, **k)
        return call

    for name in ("exp", "log", "log1p", "log2", "expm1", "power"):
        monkeypatch.setattr(np, name, watched(name))
    second = pmodel.simulate(path, **args)
    monkeypatch.undo()
    assert not callers, sorted(callers)
    for k, v in first.final.items():  # and the watch changed nothing
        assert v == second.final[k] or (v != v and second.final[k] != second.final[k]), k
