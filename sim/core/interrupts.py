"""Whether the user asked a command to stop (Ctrl-C or SIGTERM), for code that must not mistake
an interrupted run for a failed one.

The command line's signal handlers (:func:`sim.cli.terminate_as_interrupt`) call :func:`note`
before raising :class:`KeyboardInterrupt`. A library can catch that exception where it catches
a run's errors (a kernel's dispatcher, a context manager's clean-up), and the run would then be
recorded as failed and the study go on; the sweep runner asks :func:`requested` after each run,
so that an interrupted run is never stored and the study stops.
"""

from __future__ import annotations

__all__ = ["note", "requested", "clear"]

_state = {"requested": False}


def note() -> None:
    """Record that the user asked to stop."""
    _state["requested"] = True


def requested() -> bool:
    """Has the user asked to stop since the last :func:`clear`?"""
    return _state["requested"]


def clear() -> None:
    """Forget a request to stop (a new command starts)."""
    _state["requested"] = False
