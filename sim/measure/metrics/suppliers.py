"""Supplier concentration: the Herfindahl index of each input market.

Part of :mod:`sim.measure.metrics` (its docstring gives the sources and conventions).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from sim.measure.metrics.agglomeration import pairwise_sum
from sim.measure.metrics.checks import NAN, as_vector, check_codes, check_count, check_finite


def supplier_concentration(volume: npt.ArrayLike, supplier_input: npt.ArrayLike,
                           n_inputs: int) -> float:
    """Mean Herfindahl index of supplier volume shares within each input market.

    For each input m with positive total volume, ``H_m = sum_s (v_s / V_m)^2`` over the
    suppliers s of that input; the result is the unweighted mean of H_m over those inputs.

    Parameters
    ----------
    volume : array_like of float, shape (M,)
        Volume sold by each supplier, finite and >= 0.
    supplier_input : array_like of int, shape (M,)
        Input code of each supplier, ``0..n_inputs-1``.
    n_inputs : int
        Number of inputs (>= 1).

    Returns
    -------
    float
        In (0, 1]; ``nan`` if no input has positive volume.
    """
    v = as_vector("volume", volume)
    n_inputs = check_count("n_inputs", n_inputs)
    code = np.asarray(supplier_input)
    if code.shape == v.shape and code.dtype == np.int64 and v.flags.c_contiguous:
        # the model's arrays: one compiled pass, which also checks them
        hhi, ok = _supplier_hhi(np.ascontiguousarray(code), v, n_inputs)
        if ok:
            return float(hhi)
    return _supplier_concentration(v, code, n_inputs)


@numba.njit(cache=True, error_model="numpy")
def _supplier_hhi(code, v, n_inputs):
    """:func:`supplier_concentration` of checked arguments (int64[M], float64[M], int), adding
    as its numpy twin :func:`_supplier_concentration` does (per-input totals in supplier order,
    the mean by numpy's pairwise sum), so the two agree to the bit. Returns ``(value, ok)``;
    ``ok`` is False when a volume is negative or not finite or a code is out of range (the twin
    then says which)."""
    m = v.shape[0]
    total = np.zeros(n_inputs)
    for i in range(m):
        c = code[i]
        if c < 0 or c >= n_inputs or not (np.isfinite(v[i]) and v[i] >= 0.0):
            return np.nan, False
        total[c] += v[i]
    hhi = np.zeros(n_inputs)
    for i in range(m):
        c = code[i]
        t = total[c] if total[c] > 0 else 1.0
        share = v[i] / t
        hhi[c] += share * share
    active = np.empty(n_inputs)
    k = 0
    for c in range(n_inputs):
        if total[c] > 0:
            active[k] = hhi[c]
            k += 1
    if k == 0:
        return np.nan, True
    return pairwise_sum(active, 0, k) / k, True


def _supplier_concentration(v: np.ndarray, supplier_input: npt.ArrayLike, n_inputs: int
                            ) -> float:
    """:func:`supplier_concentration` in numpy, checking every argument (``v`` float64[M])."""
    check_finite("volume", v, nonnegative=True)
    code = check_codes("supplier_input", supplier_input, n_inputs)
    if code.shape != v.shape:
        raise ValueError(f"supplier_input: expected shape {v.shape}, got {code.shape}")
    total = np.bincount(code, weights=v, minlength=n_inputs)
    active = total > 0
    if not active.any():
        return NAN
    share = v / np.where(total > 0, total, 1.0)[code]  # shares, so squares cannot overflow
    hhi = np.bincount(code, weights=share * share, minlength=n_inputs)
    return float(hhi[active].mean())
