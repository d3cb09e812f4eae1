"""numpy's elementwise arithmetic for one float at a time, to the bit, inside kernels.

A month fused into kernels must give the bits the numpy formulation gave, so that results do not
change when code moves from numpy into a kernel. Most operations agree by themselves (``+``,
``*``, ``/``, ``sqrt``; and on machines whose numpy calls libm, ``exp``, ``log`` and ``pow``,
which numba calls too). Three do not:

- numpy's ``array ** e`` with a scalar exponent takes shortcuts for ``e`` = 2, 0.5, -1, 1 and 0
  (square, square root, reciprocal, copy, ones) where libm's ``pow`` may differ in the last bit:
  :func:`numpy_power` takes the same ones;
- ``np.maximum`` and ``np.minimum`` return their second argument of two equal numbers (so
  ``np.maximum(-0.0, 0.0)`` is ``0.0`` and ``np.maximum(0.0, -0.0)`` is ``-0.0``) and a NaN if
  either is NaN: :func:`np_max` and :func:`np_min`;
- numpy divides by zero to ``inf`` or ``nan`` where numba raises: the kernels here, and those
  that divide, are compiled with ``error_model="numpy"``.

Outside the kernels, the model calls :func:`exp`, :func:`log`, :func:`log1p` and :func:`power`
of this module, not numpy's, wherever a result feeds the simulation (the set-up's draws, the
pledge thresholds): they give numpy's bits where numpy itself calls libm, and libm's on every
machine, where numpy on a CPU with AVX512 takes vectorised functions of its own whose last bits
differ. So a seed gives the same run on either kind of CPU (:func:`numpy_is_libm` says which
kind this is).

tests/test_numerics.py checks each against numpy on random and edge values.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from sim.core import compiling

compiling.install()  # the package's cache folder, before the kernels below are defined

__all__ = ["numpy_power", "np_max", "np_min", "exp", "log", "log1p", "log2", "power",
           "numpy_is_libm"]


@numba.njit(cache=True, error_model="numpy")
def numpy_power(x, e):
    """``x ** e`` to the bit of numpy's ``array ** e`` for a float exponent ``e`` (numpy's
    shortcuts for 2, 0.5, -1, 1 and 0, ``pow`` otherwise); ``0 ** -1`` is ``inf``, as in
    numpy."""
    if e == 2.0:
        return x * x
    if e == 0.5:
        return np.sqrt(x)
    if e == -1.0:
        return 1.0 / x
    if e == 1.0:
        return x
    if e == 0.0:
        return 1.0
    return x ** e


@numba.njit(cache=True)
def np_max(a, b):
    """``np.maximum(a, b)`` of two floats: ``a`` when it is NaN or above ``b``, else ``b``."""
    return a if a > b or a != a else b


@numba.njit(cache=True)
def np_min(a, b):
    """``np.minimum(a, b)`` of two floats: ``a`` when it is NaN or below ``b``, else ``b``."""
    return a if a < b or a != a else b


@numba.njit(cache=True)
def _libm(x, y):
    """exp, log, log1p and pow of each element as the kernels compute them (libm's)."""
    out = np.empty((4, x.size))
    for i in range(x.size):
        out[0, i] = np.exp(x[i])
        out[1, i] = np.log(y[i])
        out[2, i] = np.log1p(y[i])
        out[3, i] = y[i] ** x[i]
    return out


@functools.lru_cache(maxsize=1)
def numpy_is_libm() -> bool:
    """Whether numpy's float64 ``exp``, ``log``, ``log1p`` and ``**`` give libm's bits on this
    machine, as the kernels' do (checked once, on 20,000 values). They do where numpy has no
    SIMD version of its own for the CPU (no AVX512: the project's machines of the kind that
    wrote its recorded results); on AVX512 CPUs numpy takes its own vectorised functions,
    whose last bits differ, so the model's remaining numpy calls make a seed's results differ
    in the last bits from one kind of CPU to the other (docs/performance.md)."""
    rng = np.random.default_rng(20261207)
    x = rng.uniform(-20.0, 20.0, 20_000)
    y = rng.uniform(1e-6, 1e3, 20_000)
    with np.errstate(all="ignore"):
        numpy = np.stack([np.exp(x), np.log(y), np.log1p(y), y ** x])
    return bool(np.array_equal(numpy, _libm(x, y)))


@numba.njit(cache=True)
def _unary(x, which):
    """exp (0), log (1), log1p (2) or log2 (3) of each element of ``x`` (float64[:]), by
    libm."""
    out = np.empty_like(x)
    for i in range(x.size):
        if which == 0:
            out[i] = np.exp(x[i])
        elif which == 1:
            out[i] = np.log(x[i])
        elif which == 2:
            out[i] = np.log1p(x[i])
        else:
            out[i] = np.log2(x[i])
    return out


@numba.njit(cache=True, error_model="numpy")
def _powers(x, e, scalar):
    """``x ** e`` of each element (float64[:]): as numpy's :func:`numpy_power` with the scalar
    ``e[0]`` when ``scalar``, else ``pow(x[i], e[i])``, as numpy computes an array exponent."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = numpy_power(x[i], e[0]) if scalar else x[i] ** e[i]
    return out


def _apply(a, which: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return _unary(np.ascontiguousarray(a).ravel(), which).reshape(a.shape)


def exp(a) -> np.ndarray:
    """``np.exp(a)`` by libm (a float64 array of ``a``'s shape)."""
    return _apply(a, 0)


def log(a) -> np.ndarray:
    """``np.log(a)`` by libm."""
    return _apply(a, 1)


def log1p(a) -> np.ndarray:
    """``np.log1p(a)`` by libm."""
    return _apply(a, 2)


def log2(a) -> np.ndarray:
    """``np.log2(a)`` by libm."""
    return _apply(a, 3)


def power(x, e) -> np.ndarray:
    """numpy's ``x ** e`` (``np.power``) by libm: ``e`` a scalar (numpy's shortcuts kept:
    :func:`numpy_power`) or an array of ``x``'s shape."""
    x = np.asarray(x, dtype=np.float64)
    flat = np.ascontiguousarray(x).ravel()
    if np.ndim(e) == 0:
        return _powers(flat, np.array([float(e)]), True).reshape(x.shape)
    e = np.broadcast_to(np.asarray(e, dtype=np.float64), x.shape)
    return _powers(flat, np.ascontiguousarray(e).ravel(), False).reshape(x.shape)
