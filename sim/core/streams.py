"""Counter-based random numbers: every draw is a pure function of (key, month, stream, firm).

The per-firm draws of a month (who keeps their word, who looks for a partner, whom they meet,
who reconsiders a supplier, growth noise, spin-offs) are made inside the parallel kernels that
use them, so they can neither depend on the number of threads nor hold a thread back. Each draw
comes from Philox4x32-10 (Salmon, Moraes, Dror & Shaw 2011, "Parallel random numbers: as easy
as 1, 2, 3", SC'11), a bijection of a 128-bit counter under a 64-bit key that passes BigCrush:

    words = philox(counter = (firm_id, block, month, stream), key)

gives four independent 32-bit words. A firm is named by its ``firm_id`` (never reused), not its
memory slot, so a firm's luck does not depend on where it is stored. ``block`` numbers the groups
of four words one firm needs in one month and stream. The key comes from the model's seeded
generator, once, at set-up. Draws that are not per firm (how many entrants, where they go) still
come from the model's :class:`numpy.random.Generator` in a fixed order.

Uniforms are ``(w + 0.5) / 2**32`` for a 32-bit word ``w``: in (0, 1), never 0 or 1, with a
resolution of 2**-32 (ample for comparisons with probabilities). Normals use Marsaglia's polar
method on pairs of such uniforms (exact, no trigonometry; tails reach 6.7 standard deviations).
"""

from __future__ import annotations

import numba
import numpy as np

from sim.core import compiling

compiling.install()  # the package's cache folder, before the kernels below are defined

__all__ = ["philox", "uniform4", "normal", "normal_pair", "make_key", "DECIDE", "MEET", "IMITATE",
           "SUPPLIER", "GROWTH", "SPINOFF", "PRODUCTIVITY", "TALENT", "CLOSURE", "STREAMS"]

# stream numbers: one per kind of per-firm draw (never renumber: it changes every result)
DECIDE = 1  #: keep one's word with each partner (four tie slots a block)
MEET = 2  #: look for a partner this month, then which neighbour to meet
IMITATE = 3  #: compare with a partner, which partner, whether to copy its attitude
SUPPLIER = 4  #: reconsider one's supplier
GROWTH = 5  #: the noise in employment growth
SPINOFF = 6  #: spin off a new firm
PRODUCTIVITY = 7  #: retired: a firm's productivity shock is the GROWTH draw's second normal
TALENT = 8  #: the shock to an owner's talent (capabilities)
CLOSURE = 9  #: a firm closes for its owner's own reasons
STREAMS = {"decide": DECIDE, "meet": MEET, "imitate": IMITATE, "supplier": SUPPLIER,
           "growth": GROWTH, "spinoff": SPINOFF,
           "productivity": PRODUCTIVITY, "talent": TALENT, "closure": CLOSURE}

_MASK = np.uint64(0xFFFFFFFF)
_M0 = np.uint64(0xD2511F53)  # Philox4x32 multipliers and Weyl key increments (Salmon et al.)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_SHIFT = np.uint64(32)
_TO_UNIT = 2.0 ** -32


@numba.njit(cache=True)
def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of the counter (c0, c1, c2, c3) under the key (k0, k1).

    All arguments and results are 32-bit words held in uint64. Matches the known-answer vectors
    of Random123's ``tests/kat_vectors`` (see tests/test_streams.py).
    """
    c0 = np.uint64(c0) & _MASK
    c1 = np.uint64(c1) & _MASK
    c2 = np.uint64(c2) & _MASK
    c3 = np.uint64(c3) & _MASK
    k0 = np.uint64(k0) & _MASK
    k1 = np.uint64(k1) & _MASK
    for r in range(10):
        if r > 0:  # the key is bumped before every round but the first
            k0 = (k0 + _W0) & _MASK
            k1 = (k1 + _W1) & _MASK
        p0 = _M0 * c0  # 32 x 32 -> 64-bit products: their high and low halves
        p1 = _M1 * c2
        c0, c1, c2, c3 = ((p1 >> _SHIFT) ^ c1 ^ k0, p1 & _MASK,
                          (p0 >> _SHIFT) ^ c3 ^ k1, p0 & _MASK)
    return c0, c1, c2, c3


@numba.njit(cache=True)
def uniform4(key, month, stream, firm_id, block):
    """Four uniforms in (0, 1) for (month, stream, firm_id, block) under ``key`` (uint64[2])."""
    fid = np.uint64(firm_id)
    a, b, c, d = philox(fid & _MASK, (np.uint64(block) << np.uint64(8)) | (fid >> _SHIFT),
                        np.uint64(month), np.uint64(stream), key[0], key[1])
    return ((a + 0.5) * _TO_UNIT, (b + 0.5) * _TO_UNIT, (c + 0.5) * _TO_UNIT,
            (d + 0.5) * _TO_UNIT)


@numba.njit(cache=True)
def _polar_pair(u1, u2):
    """Marsaglia's polar step: both standard normals from two uniforms, or (nan, nan) if the
    point (2 u1 - 1, 2 u2 - 1) falls outside the unit disc (probability 1 - pi / 4)."""
    v1 = 2.0 * u1 - 1.0
    v2 = 2.0 * u2 - 1.0
    s = v1 * v1 + v2 * v2
    if s <= 0.0 or s >= 1.0:
        return np.nan, np.nan
    f = np.sqrt(-2.0 * np.log(s) / s)
    return v1 * f, v2 * f


@numba.njit(cache=True)
def _polar(u1, u2):
    """The first normal of :func:`_polar_pair`, or nan."""
    return _polar_pair(u1, u2)[0]


@numba.njit(cache=True)
def normal_pair(key, month, stream, firm_id):
    """Two independent standard normals for (month, stream, firm_id) (Marsaglia & Bray 1964):
    the polar method on the words of blocks 0, 1, ... in order, two tries a block, until a
    point falls in the unit disc (the first block fails with probability (1 - pi / 4)^2 =
    4.6%). Half the hashing of two draws."""
    block = 0
    while True:
        u0, u1, u2, u3 = uniform4(key, month, stream, firm_id, block)
        a, b = _polar_pair(u0, u1)
        if a == a:  # not nan
            return a, b
        a, b = _polar_pair(u2, u3)
        if a == a:
            return a, b
        block += 1


@numba.njit(cache=True)
def normal(key, month, stream, firm_id):
    """A standard normal for (month, stream, firm_id): the first of :func:`normal_pair`."""
    return normal_pair(key, month, stream, firm_id)[0]


def make_key(rng: np.random.Generator) -> np.ndarray:
    """A Philox key (two 32-bit words in uint64[2]) drawn from the model's generator."""
    return rng.integers(0, 2 ** 32, size=2, dtype=np.uint64)
