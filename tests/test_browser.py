"""The classroom app in a real browser: Debian's chromium driven by Playwright.

The server is ``clustersim viz`` on 127.0.0.1 on a free port, started once for the module and
always stopped. Without chromium these tests skip locally (``make browser-deps`` installs it,
as root) and fail in CI (CI=true), where ``make test`` installs it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
READY_TIMEOUT = 120.0  # seconds for the server to answer (a cold numba cache compiles first)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: `make browser-deps` (as root) installs Debian's chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log_path = tmp_path_factory.mktemp("viz") / "server.log"
    scenario = ROOT / "scenarios" / "classroom_free_riding.toml"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "viz", str(scenario),
                                 "--port", str(port)], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"clustersim viz exited ({proc.returncode}): "
                            f"{log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"clustersim viz not ready after {READY_TIMEOUT:.0f} s: "
                            f"{log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.requests = []  # every URL the page asks for
    pg.failed = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("requestfailed", lambda r: pg.failed.append(r.url))
    pg.goto(server, wait_until="domcontentloaded", timeout=60_000)
    pg.get_by_text("Act now").wait_for(timeout=90_000)
    pg.locator(".clustersim-map img").wait_for(timeout=30_000)
    pg.locator(".clustersim-charts img").wait_for(timeout=30_000)
    try:
        yield pg
    finally:
        context.close()


def _step(page) -> int:
    text = page.get_by_text(re.compile(r"^Step: \d+$")).inner_text(timeout=10_000)
    return int(text.split(":")[1])


def _src(page, which: str) -> str:
    return page.locator(f".clustersim-{which} img").get_attribute("src")


def test_page_renders_map_and_charts_offline(page):
    for which in ("map", "charts"):
        img = page.locator(f".clustersim-{which} img")
        width = img.evaluate("el => el.naturalWidth")
        assert width > 300, which
    assert _step(page) == 0
    for label in ("Open a CFC here", "Start trust building", "Impose movement restrictions",
                  "Lift restrictions", "Reset", "Step"):
        assert page.get_by_role("button", name=label, exact=True).count() == 1, label
    outside = [u for u in page.requests
               if urlparse(u).hostname not in ("127.0.0.1", None) and not u.startswith(
                   ("data:", "blob:"))]
    assert outside == []  # nothing from a CDN: solara-assets serves it all
    assert page.failed == []


def test_play_advances_the_step_counter_and_the_charts(page):
    before = _src(page, "charts")
    page.get_by_role("button", name="▶", exact=True).click()
    page.wait_for_function(
        "() => /Step: ([3-9]|\\d\\d)/.test(document.body.innerText)", timeout=30_000)
    pause = page.get_by_role("button", name="❚❚", exact=True)
    if pause.is_enabled():  # a short classroom run may have reached its last month already
        pause.click()
    assert _step(page) >= 3
    assert _src(page, "charts") != before


def test_intervention_button_changes_the_page(page):
    assert page.get_by_text("cfc_now_m0").count() == 0
    page.get_by_role("button", name="Open a CFC here", exact=True).click()
    page.get_by_text(re.compile("cfc_now_m0: a CFC is offered in Town")).wait_for(
        timeout=15_000)
    page.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text(re.compile(r"cfc_now_m0: active, (pledge drive open|being built)")).wait_for(
        timeout=15_000)


def test_screenshot_is_saved(page, tmp_path):
    for _ in range(3):
        page.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_timeout(300)
    out = tmp_path / "clustersim-viz.png"
    page.screenshot(path=str(out), full_page=True)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000
