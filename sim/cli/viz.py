"""``clustersim viz [SCENARIO.toml] [--port P]``: the classroom app, in the browser.

Serves :mod:`sim.views.app` (Mesa's SolaraViz with the map, live charts, sliders and act-now
buttons) with solara's server on 127.0.0.1 only: the page is reachable from this computer, not from
the network. Solara's JavaScript and CSS come from the ``solara-assets`` package, so the page works
offline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["register", "server_command", "server_env", "port_is_free"]

HOST = "127.0.0.1"


def register(sub) -> None:
    p = sub.add_parser("viz", help="the classroom app in the browser (on 127.0.0.1)",
                       description="Serve the classroom app: a map of the cluster, live charts, "
                       "sliders, a scenario picker and buttons that act now (open a CFC, trust "
                       "building, movement restrictions). Open the printed address in a "
                       "browser on this computer; Ctrl+C stops it.")
    p.add_argument("scenario", type=Path, nargs="?", default=None,
                   help="scenario shown first (default scenarios/baseline.toml); the picker "
                   "lists the other files of its folder")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.set_defaults(func=main)


def server_command(port: int) -> list[str]:
    """The command that serves the app on 127.0.0.1:``port``."""
    return [sys.executable, "-m", "solara", "run", "sim.views.app", "--host", HOST, "--port",
            str(port), "--no-open", "--production", "--no-check-version", "--log-level", "warning"]


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now."""
    import socket

    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def server_env(scenario: Path) -> dict[str, str]:
    """The environment of the server: the scenario and its folder, no telemetry (solara
    would otherwise contact its analytics service; ``--no-check-version`` keeps it from
    asking PyPI for a newer version)."""
    env = dict(os.environ)
    env["CLUSTERSIM_SCENARIO"] = str(scenario.resolve())
    env["CLUSTERSIM_SCENARIO_DIR"] = str(scenario.resolve().parent)
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    # Mesa 3.3.1's ComponentsView trips solara's rules-of-hooks check (a known, harmless
    # early return): keep the warning out of the classroom's terminal
    env.setdefault("PYTHONWARNINGS", "ignore::UserWarning:solara.validate_hooks")
    return env


def main(args: argparse.Namespace) -> int:
    from sim.core.errors import InputError
    from sim.io.scenario import load_scenario

    if not 1 <= args.port <= 65535:
        raise InputError("--port", "", f"got {args.port}; allowed: an integer 1-65535")
    scenario = args.scenario or Path("scenarios/baseline.toml")
    load_scenario(scenario)  # bad input is reported here, in one line, before serving
    try:
        import mesa.visualization  # noqa: F401
        import solara  # noqa: F401
    except ImportError as exc:
        raise InputError("viz", "", f"the app needs the 'app' extra ({exc.name} is missing); "
                         "allowed: pip install -e '.[app]'") from None
    if not port_is_free(args.port):
        raise InputError("--port", "", f"{args.port} is in use on {HOST}; allowed: a free port "
                         "(--port 8800, say)")
    print(f"clustersim viz: http://{HOST}:{args.port}/  ({scenario}; Ctrl+C stops it)",
          flush=True)
    return subprocess.call(server_command(args.port), env=server_env(scenario))
