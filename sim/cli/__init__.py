"""The ``clustersim`` command. Thin: each subcommand parses its arguments and calls one function.

Subcommands live in the modules of this package; each defines ``register(subparsers)``, which
adds its parser and sets ``func`` to a callable taking the parsed arguments and returning an exit
code. Bad input (:class:`sim.core.errors.InputError` or a parameter error) is reported as one line
on stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from sim import __version__
from sim.core.errors import InputError
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
        return int(args.func(args) or 0)
    except (InputError, ParameterError) as exc:
        print(f"clustersim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        note = getattr(args, "on_interrupt", "")  # what a command keeps of its work, if anything
        print(f"clustersim {args.command}: interrupted" + (f"; {note}" if note else ""),
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
