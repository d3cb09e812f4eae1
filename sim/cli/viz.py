"""``clustersim viz [SCENARIO.toml] [--port P]``: the classroom app, in the browser.

Serves :mod:`sim.views.app` (Mesa's SolaraViz with the map, live charts, sliders and act-now
buttons) with solara's server on 127.0.0.1 only: the page is reachable from this computer, not from
the network. Solara's JavaScript and CSS come from the ``solara-assets`` package, so the page works
offline.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from sim.core.errors import InputError

__all__ = ["register", "server_command", "server_env", "port_is_free", "serve"]

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

    with socket.socket() as s:
        # as the server will: a port whose last connections are still closing (TIME_WAIT,
        # right after a stop) is free to listen on
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
    env["SOLARA_THEME_SHOW_BANNER"] = "False"  # no "runs on Solara" badge over the charts
    env["SOLARA_THEME_TITLE"] = "clustersim classroom"
    # keep two harmless warnings out of the classroom's terminal: Mesa 3.3.1's ComponentsView
    # trips solara's rules-of-hooks check (a known, harmless
    # early return); and solara's note that its cookies want https, on a server that is
    # reachable from this computer only
    env.setdefault("PYTHONWARNINGS", "ignore::UserWarning:solara.validate_hooks,"
                   "ignore:Cookies with samesite=none require https")
    return env


def main(args: argparse.Namespace) -> int:
    from sim.io.scenario import load_scenario

    if not 1 <= args.port <= 65535:
        raise InputError("--port", "", f"got {args.port}; allowed: an integer 1-65535")
    scenario = args.scenario or Path("scenarios/baseline.toml")
    load_scenario(scenario)  # bad input is reported here, in one line, before serving
    try:
        import warnings

        with warnings.catch_warnings():  # Mesa 3.3.1's ComponentsView trips solara's hook
            warnings.simplefilter("ignore", UserWarning)  # check (see server_env)
            import mesa.visualization  # noqa: F401
            import solara  # noqa: F401
    except ImportError as exc:
        raise InputError("viz", "", f"the app needs the 'app' extra ({exc.name} is missing); "
                         "allowed: pip install -e '.[app]'") from None
    if not port_is_free(args.port):
        raise InputError("--port", "", f"{args.port} is in use on {HOST}; allowed: a free port "
                         "(--port 8800, say)")
    print(f"clustersim viz: open http://{HOST}:{args.port}/ in a browser on this computer "
          f"({scenario}; Ctrl+C stops it)", flush=True)
    return serve(server_command(args.port), server_env(scenario))


def serve(command: list[str], env: dict[str, str], grace: float = 10.0) -> int:
    """Run the server ``command`` until it ends or we are told to stop: SIGTERM or SIGHUP (a
    service manager, a closed terminal) stop the server too (SIGTERM, then SIGKILL after
    ``grace`` seconds), so that no server is left holding the port; Ctrl+C reaches both (one
    process group). Returns the server's exit code, or 0 after a stop we asked for."""
    proc = subprocess.Popen(command, env=env)
    stopping: list[int] = []

    def stop(signum, frame) -> None:
        stopping.append(signum)
        if proc.poll() is None:
            proc.terminate()

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                code = proc.wait(timeout=grace if stopping else None)
                break
            except subprocess.TimeoutExpired:
                proc.kill()
            except KeyboardInterrupt:  # the server got Ctrl+C too: let it finish
                stopping.append(signal.SIGINT)
                if proc.poll() is None:
                    proc.terminate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if stopping:
        print("clustersim viz: stopped", flush=True)
        return 0
    return code
