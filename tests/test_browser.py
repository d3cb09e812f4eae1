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
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    pg = context.new_page()
    pg.requests = []  # every URL the page asks for
    pg.failed = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("requestfailed", lambda r: pg.failed.append(r.url))
    pg.goto(server, wait_until="domcontentloaded", timeout=60_000)
    pg.get_by_text("Act now").wait_for(timeout=90_000)
    pg.locator(".clustersim-map img").first.wait_for(timeout=30_000)
    pg.locator(".clustersim-charts img").wait_for(timeout=30_000)
    try:
        yield pg
    finally:
        context.close()


def _month(page) -> int:
    text = page.get_by_text(re.compile(r"^Month \d+ of \d+")).inner_text(timeout=10_000)
    return int(text.split()[1])


def _wait_month(page, month: int) -> None:
    page.wait_for_function(f"() => /Month {month} of/.test(document.body.innerText)",
                           timeout=30_000)


def _src(page, which: str) -> str:
    return page.locator(f".clustersim-{which} img").first.get_attribute("src")


def _picture(page, which: str) -> str:
    """SHA-256 of the image's bytes as the browser holds them (its src is a blob URL), once
    the page is quiet (the month's text may arrive before its pictures)."""
    page.wait_for_timeout(800)
    return page.locator(f".clustersim-{which} img").first.evaluate(
        """async el => {
            const buf = await (await fetch(el.src)).arrayBuffer();
            const digest = await crypto.subtle.digest("SHA-256", buf);
            return Array.from(new Uint8Array(digest)).map(b => b.toString(16)).join("");
        }""")


def _button(page, name: str):
    return page.get_by_role("button", name=name, exact=True)


def _steps(page, n: int) -> None:
    start = _month(page)
    for k in range(1, n + 1):
        _button(page, "Step").click()
        _wait_month(page, start + k)


def _play_until(page, month: int) -> None:
    """Wait, playing, until the month reaches ``month``, then pause (unless the run ended
    first, on a slow machine); the page is then quiet."""
    page.wait_for_function(f"() => {{ const m = /Month (\\d+) of/.exec(document.body.innerText);"
                           f" return m && Number(m[1]) >= {month}; }}", timeout=90_000,
                           polling=100)
    pause = _button(page, "❚❚")
    if pause.count():
        pause.click()
    page.wait_for_timeout(800)


def _no_error(page) -> None:
    assert page.locator(".v-alert.error").count() == 0
    assert "Traceback" not in page.inner_text("body")


def test_page_renders_map_and_charts_offline(page):
    for which in ("map", "charts"):
        img = page.locator(f".clustersim-{which} img")
        assert img.evaluate("el => el.naturalWidth") > 500, which
    assert _month(page) == 0
    for label in ("Open a CFC here", "Start trust building", "Impose movement restrictions",
                  "Lift restrictions", "Reset", "Step", "▶", "1", "5", "max"):
        assert _button(page, label).count() == 1, label
    outside = [u for u in page.requests
               if urlparse(u).hostname not in ("127.0.0.1", None) and not u.startswith(
                   ("data:", "blob:"))]
    assert outside == []  # nothing from a CDN: solara-assets serves it all
    assert page.failed == []


def test_projector_layout_at_1280_by_720(page):
    """Map and charts fill the screen below the controls, nothing of them cut off; slider
    values are written in their labels; no badge over the charts."""
    map_box = page.locator(".clustersim-map img").bounding_box()
    charts_box = page.locator(".clustersim-charts img").bounding_box()
    assert map_box["height"] >= 560
    assert map_box["y"] + map_box["height"] <= 720
    assert charts_box["x"] >= map_box["x"] + map_box["width"] - 1
    assert charts_box["x"] + charts_box["width"] <= 1280
    assert charts_box["y"] + charts_box["height"] <= 720
    assert (map_box["width"] * map_box["height"] + charts_box["width"] * charts_box["height"]
            ) > 0.6 * 1280 * 720
    body = page.inner_text("body")
    assert "trust in a new partner: 0.30 (0 to 1)" in body
    assert "cost of reaching the market: 0.050 (share of revenue)" in body
    assert "This website runs on" not in body


def test_play_advances_the_month_and_the_charts(page):
    before = _src(page, "charts")
    _button(page, "10").click()
    _button(page, "▶").click()
    _play_until(page, 3)
    stopped = _month(page)
    page.wait_for_timeout(1000)
    assert _month(page) == stopped  # paused
    assert _month(page) >= 3
    assert _src(page, "charts") != before


@pytest.mark.slow  # a run, Reset and the same run again in a real browser
def test_reset_shows_the_fresh_pages_run(page):
    """The map after 8 months of a fresh page and after Reset and 8 months are the same
    picture: Reset runs the same model (the sliders' echoes of the scenario's values are no
    change)."""
    _steps(page, 8)
    fresh = _picture(page, "map"), _picture(page, "charts")
    _button(page, "Reset").click()
    _wait_month(page, 0)
    _steps(page, 8)
    assert (_picture(page, "map"), _picture(page, "charts")) == fresh
    _steps(page, 1)
    assert _picture(page, "map") != fresh[0]  # (the pictures do change from month to month)
    _no_error(page)


def test_intervention_button_changes_the_page(page):
    assert page.get_by_text("cfc_now_m0").count() == 0
    _button(page, "Open a CFC here").click()
    page.get_by_text(re.compile("cfc_now_m0: a CFC is offered in Town")).wait_for(
        timeout=15_000)
    _steps(page, 1)
    page.get_by_text(re.compile(r"cfc_now_m0: active, (pledge drive open|being built)")).wait_for(
        timeout=15_000)


def _select(page, label: str, option: str) -> None:
    page.locator(".v-select").filter(has_text=label).first.click()
    page.locator(".v-menu__content .v-list-item").filter(has_text=option).first.click()
    page.wait_for_timeout(300)


@pytest.mark.slow  # every control in a real browser
def test_every_control_then_reset_leaves_a_working_page(page):
    """Every slider to both ends (the keyboard's End and Home), every speed, both colourings,
    every twin mode with every action button, every scenario in the picker; then Reset and
    Step: the page runs, without an error or a traceback."""
    sliders = page.locator(".clustersim-settings .v-slider")
    for k in range(sliders.count()):
        slider = sliders.nth(k)
        if "v-slider--disabled" in (slider.get_attribute("class") or ""):
            continue
        thumb = slider.locator(".v-slider__thumb-container")
        thumb.focus()
        for key in ("End", "Home"):
            page.keyboard.press(key)
            page.wait_for_timeout(100)
    n_firms = page.locator(".clustersim-slider-n_firms")
    assert "lists its 150 firms" in n_firms.inner_text()
    assert n_firms.locator(".v-slider--disabled").count() == 1
    for speed in ("1", "2", "10", "max", "5"):
        _button(page, speed).click()
    for colour in ("cooperation", "sector"):
        _button(page, colour).click()
    for twin in ("right without the scenario's interventions",
                 "right without your slider changes", "one run"):
        _select(page, "twin run", twin)
        _button(page, "Reset").click()
        _wait_month(page, 0)
        for action in ("Open a CFC here", "Start trust building",
                       "Impose movement restrictions", "Lift restrictions"):
            _button(page, action).click()
        _steps(page, 1)
        _no_error(page)
    for scenario in ("classroom_shocks", "baseline", "classroom_free_riding"):
        _select(page, "scenario", scenario)
        _wait_month(page, 0)
        _steps(page, 1)
        _no_error(page)
    _button(page, "Reset").click()
    _wait_month(page, 0)
    _steps(page, 2)
    _no_error(page)


@pytest.mark.slow  # two runs side by side in a real browser
def test_twin_run_steps_together_and_draws_the_gap(page):
    """Lesson 4's counterfactual: classroom_shocks with its twin without the restrictions;
    two maps, both at the same month, and the charts saying both values and the gap."""
    _select(page, "scenario", "classroom_shocks")
    _wait_month(page, 0)
    _select(page, "twin run", "right without the scenario's interventions")
    _button(page, "Reset").click()
    page.locator(".clustersim-map-right img").wait_for(timeout=30_000)
    assert page.locator(".clustersim-map img").count() == 2
    left, charts = _src(page, "map-left"), _src(page, "charts")
    _button(page, "10").click()
    _button(page, "▶").click()
    _play_until(page, 30)
    assert _src(page, "map-left") != left
    assert _src(page, "charts") != charts
    assert "Left: the run as set" in page.inner_text("body")
    # the two maps' titles: the same month
    month = _month(page)
    charts = page.locator(".clustersim-charts img").bounding_box()
    for side in ("left", "right"):
        box = page.locator(f".clustersim-map-{side} img").bounding_box()
        assert box["width"] > 250, side
        assert box["x"] + box["width"] <= charts["x"] + 1, side
    assert charts["x"] + charts["width"] <= 1280  # nothing cut off
    assert month >= 30
    _no_error(page)


@pytest.mark.slow  # a screenshot of each lesson scenario
def test_screenshots_at_1280_by_720(page, tmp_path):
    """What a class sees, at a projector's 1,280 x 720: after 14 months of lesson 2, and
    lesson 4's twin run at month 40. Saved to $CLUSTERSIM_SHOTS (docs/teaching/ when the
    docs' pictures are renewed), else to a temporary folder."""
    from PIL import Image

    out = Path(os.environ.get("CLUSTERSIM_SHOTS") or tmp_path)
    _steps(page, 14)
    shots = {"app-lesson2.png": None}
    page.screenshot(path=str(out / "app-lesson2.png"))
    _select(page, "scenario", "classroom_shocks")
    _wait_month(page, 0)
    _select(page, "twin run", "right without the scenario's interventions")
    _button(page, "Reset").click()
    page.locator(".clustersim-map-right img").wait_for(timeout=30_000)
    _steps(page, 40)  # month by month: the picture is of month 40 on any machine
    page.wait_for_timeout(800)
    shots["app-lesson4-twin.png"] = None
    page.screenshot(path=str(out / "app-lesson4-twin.png"))
    for name in shots:
        with Image.open(out / name) as im:
            assert im.size == (1280, 720)
            # 256 colours without dithering keep each state's colour (a 128-colour
            # palette turned amber and red both brown): a third of the file
            im.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                       dither=Image.Dither.NONE).save(out / name,
                                                                      optimize=True)
        assert (out / name).stat().st_size > 30_000
