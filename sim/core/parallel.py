"""Parallel kernels that compile only when they run in parallel.

Every per-firm kernel of the model is written so that its result does not depend on the number
of threads (each firm writes only its own outputs; totals add within fixed chunks, see
:mod:`sim.core.totals`). numba compiles a ``prange`` kernel with ``parallel=`` through its parfor
passes, which makes it two to five times slower to compile than the same function compiled
plainly, where ``prange`` runs as ``range``. A :class:`ParallelKernel` holds both builds and runs
the parallel one only when numba runs on more than one thread in the calling thread: the model
sets that per step (``ClusterModel(threads=...)``, and always one thread for small models), so a
classroom run, a sweep's replicates and every one-thread run never compile a parallel build.
Both builds are cached on disk (``cache=True``) under their own names.

Choosing the build costs no thread look-up per call: :func:`set_threads` sets numba's threads
and records, for the calling thread, which build the kernels run until it is called again.
Callers that set numba's threads directly (``numba.set_num_threads``) still get the right build:
while :func:`set_threads` has not been called in a thread, each call reads numba's setting
through its C function (about 0.2 us, where ``numba.get_num_threads()`` takes about 1.5 us and
a month at 500 firms makes some forty kernel calls). Either way the results are the same, as
both builds compute the same thing; only which one runs differs.
"""

from __future__ import annotations

import functools
import threading
import types

import numba
from numba.core.cpu_options import ParallelOptions

from sim.core import compiling

compiling.install()  # a cold cache says "compiling kernels" before the first compilation

__all__ = ["PRANGE_ONLY", "ParallelKernel", "parallel_kernel", "set_threads", "num_threads"]

#: ``parallel=`` for kernels whose only parallel loop is their ``prange``. ``parallel=True`` also
#: turns array expressions (``out += part[c]``, ``a.sum(axis=0)``, even ``np.zeros``) into
#: parallel loops, which wake the threads again for each small serial step. An options object,
#: not a dict: numba empties a dict on the first compilation, so a second signature of the same
#: kernel would silently get ``parallel=True``.
PRANGE_ONLY = ParallelOptions({"comprehension": False, "reduction": False,
                               "inplace_binop": False, "setitem": False, "numpy": False,
                               "stencil": False, "fusion": False})


#: per Python thread: ``parallel`` is True or False once :func:`set_threads` ran in the thread
_local = threading.local()
_lookup: list = []  # numba's C function returning the calling thread's setting, once launched


def num_threads() -> int:
    """``numba.get_num_threads()`` without its Python overhead (the pool is launched once)."""
    if not _lookup:
        numba.get_num_threads()  # launches numba's thread pool and binds its C functions
        from numba.np.ufunc import parallel as _numba_parallel

        _lookup.append(getattr(_numba_parallel, "_get_num_threads", None)
                       or numba.get_num_threads)
    return _lookup[0]()


class _Previous(int):
    """What :func:`set_threads` returns: the thread count before, and whether :func:`set_threads`
    had chosen the build in this thread (restoring an unchosen state lets numba's own setting
    decide again, as before the first call)."""

    chosen: bool


def set_threads(n: int) -> int:
    """Run numba's parallel kernels on ``n`` threads in the calling thread (1 <= n <=
    ``numba.config.NUMBA_NUM_THREADS``), and every :class:`ParallelKernel` called from it on
    its parallel build when ``n > 1``, its serial build otherwise; returns the setting before,
    to restore with ``set_threads(previous)`` (which also restores whether the build followed
    numba's own setting, so a caller's later ``numba.set_num_threads`` is obeyed)."""
    previous = _Previous(num_threads())
    previous.chosen = hasattr(_local, "parallel")
    if n != previous:  # the model sets its threads twice a month, nearly always the same
        numba.set_num_threads(n)
    if isinstance(n, _Previous) and not n.chosen:
        _local.__dict__.pop("parallel", None)
    else:
        _local.parallel = n > 1
    return previous


def _renamed(fn: types.FunctionType, suffix: str) -> types.FunctionType:
    """A copy of ``fn`` under another name, so that numba caches its build apart from fn's."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix,
                              fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__ + suffix
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    return copy


class ParallelKernel:
    """A ``prange`` kernel built twice: ``parallel`` (its prange loops on numba's threads) and
    ``serial`` (a plain build), each compiled on first use. Calling it runs ``parallel`` when
    numba runs on more than one thread (as :func:`set_threads` last set it in the calling
    thread, else numba's own setting) and ``serial`` otherwise; the two give the same results.
    ``py_func`` is the Python function, as on a numba dispatcher. Call it from Python only: a
    numba-compiled function cannot call this object (use ``.parallel`` or ``.serial``)."""

    def __init__(self, fn: types.FunctionType):
        self.py_func = fn
        self.parallel = numba.njit(cache=True, parallel=PRANGE_ONLY)(fn)
        self.serial = numba.njit(cache=True)(_renamed(fn, "__serial"))
        functools.update_wrapper(self, fn)

    def __call__(self, *args):
        par = getattr(_local, "parallel", None)
        if par is None:
            par = num_threads() > 1
        if par:
            return self.parallel(*args)
        return self.serial(*args)

    def __repr__(self) -> str:
        return f"<ParallelKernel {self.py_func.__module__}.{self.py_func.__qualname__}>"


def parallel_kernel(fn: types.FunctionType) -> ParallelKernel:
    """Decorator: ``fn`` as a :class:`ParallelKernel`."""
    return ParallelKernel(fn)
