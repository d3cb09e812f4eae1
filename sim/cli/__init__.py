"""The ``clustersim`` command. Thin: each subcommand parses its arguments and calls one function.

Subcommands live in the modules of this package; each defines ``register(subparsers)``, which
adds its parser and sets ``func`` to a callable taking the parsed arguments and returning an exit
code. Bad input (:class:`sim.core.errors.InputError` or a parameter error) is reported as one line
on stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import pkgutil
import signal
import sys
import warnings

from sim import __version__
from sim.core import interrupts
from sim.core.errors import InputError, printable
from sim.core.params import ParameterError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clustersim",
        description="Agent-based simulator of MSME cluster formation and cluster policy.",
    )
    parser.add_argument("--version", action="version", version=f"clustersim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from sim.core import compiling

    compiling.configure()  # before any model runs; the app's server and workers inherit it
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with terminate_as_interrupt(), warnings.catch_warnings():
            # a name in a script the figures' font lacks is drawn as a box, not worth a warning
            warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font",
                                    UserWarning)
            code = int(args.func(args) or 0)
            if interrupts.requested():  # a library swallowed the interrupt: it still stops
                raise KeyboardInterrupt
            return code
    except (InputError, ParameterError) as exc:
        print(f"clustersim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        note = getattr(args, "on_interrupt", "")  # what a command keeps of its work, if anything
        how = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"clustersim {args.command}: {how}" + (f"; {note}" if note else ""),
              file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
    except OSError as exc:  # the disk filled, a quota was reached, a file could not be written
        note = getattr(args, "on_interrupt", "")
        print(f"clustersim {args.command}: error: {system_error(exc)}"
              + (f"; {note}" if note else ""), file=sys.stderr)
        return 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C is, so that it unwinds the same way: the
    local Dask cluster is closed (its workers and their semaphores released), finished runs
    stay stored, and one line says so."""


@contextlib.contextmanager
def terminate_as_interrupt():
    """Within the block, the first SIGTERM raises :class:`Terminated` (later ones, during the
    clean-up, are ignored: the clean-up is what they would cut short)."""
    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        interrupts.note()
        raise Terminated

    def interrupt(signum, frame):
        interrupts.note()
        raise KeyboardInterrupt

    interrupts.clear()
    try:
        old = signal.signal(signal.SIGTERM, stop)
        old_int = signal.signal(signal.SIGINT, interrupt)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, old_int)


def system_error(exc: OSError) -> str:
    """One line for an error of the system (not of the input): what failed, where, and what to
    do about a full disk."""
    where = f"{exc.filename}: " if exc.filename else ""
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what += " (the disk or your quota is full; free space and run the same command again)"
    return printable(where + what)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
