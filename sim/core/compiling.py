"""Where numba keeps its compiled kernels, and saying so when it must compile them.

Every kernel is compiled with ``cache=True``; the first run on a machine (or after the code
changed) compiles them all, which takes about 20 s, and later runs load them from the cache in
well under a second. :func:`cache_dir` is the one folder every entry point uses:
``NUMBA_CACHE_DIR`` if set (the Makefile sets ``.cache/numba`` in the project), else the same
``.cache/numba`` of the source tree the package runs from, else a per-user folder
(``$XDG_CACHE_HOME/clustersim/numba``, by default ``~/.cache/clustersim/numba``).
``sim/__init__.py`` sets it before numba is imported; nothing is written until numba caches a
kernel.

:func:`install` prints ``compiling kernels (first run only, about 20 s)`` on stderr once, just
before numba's first real compilation in the process: numba raises its ``numba:compile`` event
only on a cache miss, so a warm cache prints nothing and costs nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["cache_dir", "install", "silence", "MESSAGE"]

MESSAGE = "compiling kernels (first run only, about 20 s)"
_state = {"installed": False, "told": False}


def cache_dir(environ=os.environ) -> Path:
    """The numba cache folder this process should use (see the module docstring)."""
    if environ.get("NUMBA_CACHE_DIR"):
        return Path(environ["NUMBA_CACHE_DIR"])
    root = Path(__file__).resolve().parents[2]  # sim/core/compiling.py -> the source tree
    if (root / "pyproject.toml").is_file() and (root / "sim").is_dir():
        return root / ".cache" / "numba"  # a source tree (editable install): as the Makefile
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clustersim" / "numba"


def _tell(*_args) -> None:
    if not _state["told"]:
        _state["told"] = True
        print(MESSAGE, file=sys.stderr, flush=True)


def silence() -> None:
    """Never print the notice in this process (as if it had been printed already)."""
    _state["told"] = True


def install() -> None:
    """Listen for numba's first compilation in this process (idempotent)."""
    if _state["installed"]:
        return
    from numba.core import event

    class _FirstCompile(event.Listener):
        def on_start(self, ev):
            _tell()

        def on_end(self, ev):
            pass

    event.register("numba:compile", _FirstCompile())
    _state["installed"] = True
