"""Updates per second of the classroom app in a real browser, at 1,000 firms.

    python docs/teaching/measure_updates.py [--firms 1000] [--seconds 20]

Serves ``clustersim viz`` on a free port with a copy of ``classroom_free_riding`` scaled to
``--firms`` firms (written to a temporary folder), opens it in Debian's chromium (Playwright)
at 1,280 x 720, sets the speed to "max", presses play and counts, in the page, how often the
map and the charts pictures change and how many months pass, over ``--seconds`` after a
5-second warm-up. Prints one line; docs/teaching/README.md reports it. A measurement, not a
test: its figure depends on the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COUNTER = """() => {
    window.__changes = {map: 0, charts: 0};
    for (const which of ["map", "charts"]) {
        const img = document.querySelector(`.clustersim-${which} img`);
        new MutationObserver(() => { window.__changes[which] += 1; })
            .observe(img, {attributes: true, attributeFilter: ["src"]});
    }
}"""


def _month(page) -> int:
    return int(re.search(r"Month (\d+) of", page.inner_text("body")).group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    text = (ROOT / "scenarios" / "classroom_free_riding.toml").read_text()
    town = round(0.8 * args.firms)
    text = (text.replace("count = 120", f"count = {town}")
            .replace("count = 30", f"count = {args.firms - town}")
            .replace("steps = 60", "steps = 1200")
            .replace('name = "classroom_free_riding"', 'name = "classroom_measure"'))
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        scenario = Path(tmp) / "classroom_measure.toml"
        scenario.write_text(text)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "viz", str(scenario),
                                 "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}/"
            for _ in range(240):
                try:
                    urllib.request.urlopen(url, timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.5)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--headless", "--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                page.goto(url, timeout=120_000)
                page.locator(".clustersim-charts img").wait_for(timeout=120_000)
                firms = None  # (the count is drawn in the map, not written in the page)
                page.get_by_role("button", name="max", exact=True).click()
                page.get_by_role("button", name="▶", exact=True).click()
                page.wait_for_timeout(5000)
                page.evaluate(COUNTER)
                m0, t0 = _month(page), time.perf_counter()
                page.wait_for_timeout(1000 * args.seconds)
                changes = page.evaluate("() => window.__changes")
                m1, dt = _month(page), time.perf_counter() - t0
                page.get_by_role("button", name="❚❚", exact=True).click()
                browser.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
    print(f"{args.firms} firms ({firms.group(1) if firms else '?'} alive at month 0): "
          f"{changes['map'] / dt:.1f} map and {changes['charts'] / dt:.1f} chart updates a "
          f"second, {(m1 - m0) / dt:.1f} months a second, over {dt:.0f} s in chromium at "
          "1,280 x 720")
    return 0


if __name__ == "__main__":
    sys.exit(main())
