"""Where numba keeps the model's compiled kernels, compiling them once per machine, and saying
so when it must.

Every kernel is compiled with ``cache=True``; the first run on a machine (or after the code
changed) compiles them, which takes about 20 s for one scenario and 1-2 minutes for a comparison
of several on a slow machine (docs/performance.md), and later runs load them from the cache in
well under a second. :func:`cache_dir` is the one folder every entry point uses:
``NUMBA_CACHE_DIR`` if set (the Makefile sets ``.cache/numba`` in the project), else the same
``.cache/numba`` of the source tree the package runs from, else a per-user folder
(``$XDG_CACHE_HOME/clustersim/numba``, by default ``~/.cache/clustersim/numba``).

Nothing here changes the environment of the process when :mod:`sim` is imported. :func:`install`
(run by the modules that define kernels, before they define them) gives numba a cache locator for
the files of this package alone, so that a ``clustersim`` command, a notebook, the app, pytest and
a sweep's workers (local processes or Dask workers elsewhere, which inherit nothing) all use that
one folder without setting ``NUMBA_CACHE_DIR``; numba's own order is kept (``NUMBA_CACHE_DIR``,
when set, wins), and other packages' kernels are left where numba puts them. It also prints
``compiling kernels (first run only, 20 s to 2 minutes)`` on stderr once, just before numba's first
real compilation in the process: numba raises its ``numba:compile`` event only on a cache miss,
so a warm cache prints nothing and costs nothing.

:func:`configure` holds the process settings that entry points make first thing (the
``clustersim`` command, the app's server, pytest's conftest): today OpenMP's spin before its
threads sleep. :func:`ahead` compiles before a sweep's workers start, so that they never do.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "install", "silence", "configure", "ahead", "compilations", "MESSAGE",
           "SPIN_COUNT"]

MESSAGE = "compiling kernels (first run only, 20 s to 2 minutes)"
_state = {"installed": False, "told": False, "compilations": 0}

#: The package's folder: kernels defined in files under it are cached in :func:`cache_dir`.
PACKAGE = Path(__file__).resolve().parents[1]

#: How numba's OpenMP worker threads wait between parallel kernels (``GOMP_SPINCOUNT``): they
#: spin for this many iterations (tens of microseconds), then sleep. A step runs some thirty
#: kernels with short serial gaps between them; sleeping at once made every kernel pay ~60 us to
#: wake a worker, and libgomp's default spin (300,000 iterations) kept idle workers burning the
#: core the serial parts needed. Measured at 100,000 firms on 2 threads: 1.46x the one-thread
#: speed sleeping at once, 1.70x with this (docs/performance.md). Runs on one thread never spin.
SPIN_COUNT = "30000"


def cache_dir(environ=os.environ) -> Path:
    """The numba cache folder this process should use (see the module docstring)."""
    if environ.get("NUMBA_CACHE_DIR"):
        return Path(environ["NUMBA_CACHE_DIR"])
    root = PACKAGE.parent
    if (root / "pyproject.toml").is_file() and (root / "sim").is_dir():
        return root / ".cache" / "numba"  # a source tree (editable install): as the Makefile
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clustersim" / "numba"


def configure(environ: MutableMapping[str, str] = os.environ) -> None:
    """The settings of a process that runs the model, made by its entry point before the model
    runs (before numba's thread pool starts, which reads them): ``GOMP_SPINCOUNT`` =
    :data:`SPIN_COUNT` unless the user chose it (or ``OMP_WAIT_POLICY``, which then rules).
    Child processes (the app's server, a sweep's local workers) inherit it. Idempotent."""
    environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)


def _tell(*_args) -> None:
    _state["compilations"] += 1
    if not _state["told"]:
        _state["told"] = True
        print(MESSAGE, file=sys.stderr, flush=True)


def silence() -> None:
    """Never print the notice in this process (as if it had been printed already)."""
    _state["told"] = True


def compilations() -> int:
    """How many times numba compiled a function in this process since :func:`install` (0 in a
    process that only loaded kernels from the cache)."""
    return _state["compilations"]


def _numba(caching, name: str):
    """``caching.Name`` or, in numba before 0.61, ``caching._Name``."""
    return getattr(caching, name, None) or getattr(caching, "_" + name)


def _locator_class():
    """A numba cache locator for this package's files: :func:`cache_dir`, laid out as numba lays
    out ``NUMBA_CACHE_DIR`` (so the Makefile's folder and this one are the same files)."""
    from numba.core import caching

    class ProjectCacheLocator(_numba(caching, "UserProvidedCacheLocator")):
        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = os.path.join(str(cache_dir()),
                                            self.get_suitable_cache_subpath(py_file))

        @classmethod
        def from_function(cls, py_func, py_file):
            try:
                Path(py_file).resolve().relative_to(PACKAGE)
            except (OSError, ValueError):
                return None
            return caching._SourceFileBackedLocatorMixin.from_function.__func__(
                cls, py_func, py_file)

    return ProjectCacheLocator


def install() -> None:
    """Cache this package's kernels in :func:`cache_dir` and listen for numba's first
    compilation in this process (idempotent). Run before a module defines its kernels."""
    if _state["installed"]:
        return
    from numba.core import caching, event

    class _FirstCompile(event.Listener):
        def on_start(self, ev):
            _tell()

        def on_end(self, ev):
            pass

    event.register("numba:compile", _FirstCompile())
    classes = _numba(caching, "CacheImpl")._locator_classes
    # after numba's NUMBA_CACHE_DIR locator, before its __pycache__ one
    user = _numba(caching, "UserProvidedCacheLocator")
    classes.insert(1 if classes and classes[0] is user else 0, _locator_class())
    _state["installed"] = True


def ahead(run: Callable[[], Any]) -> dict[str, float]:
    """Compile (or load) in this process the kernels that ``run`` calls, before a sweep starts
    its workers: call it in the parent with a run of the sweep's own model (best its first run,
    kept as a result, so that nothing is wasted), so that the workers, started after, find every
    kernel in :func:`cache_dir` and load it instead of compiling it each (which printed the
    notice once per worker and took minutes on a loaded machine). A cold cache prints the one
    notice here; a warm one costs the run. Returns ``{"seconds": ..., "compilations": ...}``."""
    install()
    before = _state["compilations"]
    t0 = time.perf_counter()
    run()
    return {"seconds": time.perf_counter() - t0,
            "compilations": float(_state["compilations"] - before)}
