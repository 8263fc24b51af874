"""Try it in headless Chromium: freehand drawing on the canvas (mouse down, move, up) gets a prediction.

AppTest cannot drive the canvas (a Components v2 component, JavaScript); this is its end-to-end check.
"""

import pytest

from corpus.models import MODELS_DIR
from streamlit_server import ARTIFACTS_DIR, launch_chromium, run_streamlit_server, wait_connected, wait_script_idle

pytestmark = pytest.mark.browser

SEVEN = [(80, 60), (200, 60), (120, 230)]   # canvas pixels: a top bar, then a slanted stroke


def settle(page, ms=1500):
    page.wait_for_timeout(ms)
    wait_script_idle(page)


def test_drawing_on_the_canvas_gets_a_prediction():
    from playwright.sync_api import sync_playwright

    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    with run_streamlit_server("streamlit_app.py") as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            js_errors = []
            page.on("pageerror", lambda err: js_errors.append(str(err)))
            page.goto(f"{url}/", wait_until="domcontentloaded")   # via the router, not a deep link
            wait_connected(page)
            wait_script_idle(page)
            page.get_by_test_id("stSidebarNav").get_by_role("link", name="Try it").click()
            settle(page)
            page.locator("input[type=file]").first.set_input_files(str(MODELS_DIR / "valid.npz"))
            settle(page, 2500)
            canvas = page.locator("canvas.upper-canvas").first     # fabric.js takes the mouse here
            canvas.wait_for(state="visible", timeout=15_000)
            box = canvas.bounding_box()
            says = "Uploaded .npz model says"          # an uploaded file is not called "NumPy"
            assert page.get_by_text(says).count() == 0

            # one click in a corner: a dot is too little ink to be a digit, and the page says so
            page.mouse.click(box["x"] + 20, box["y"] + 20)
            page.get_by_text("too little ink to be a digit").wait_for(timeout=20_000)
            assert page.get_by_text(says).count() == 1

            page.mouse.move(box["x"] + SEVEN[0][0], box["y"] + SEVEN[0][1])
            page.mouse.down()
            for (ax, ay), (bx, by) in zip(SEVEN, SEVEN[1:]):
                for t in range(1, 21):
                    page.mouse.move(box["x"] + ax + (bx - ax) * t / 20, box["y"] + ay + (by - ay) * t / 20)
            page.mouse.up()
            page.get_by_text("too little ink to be a digit").wait_for(state="detached", timeout=20_000)
            page.get_by_text(says).wait_for(timeout=20_000)
            settle(page)
            page.screenshot(path=str(ARTIFACTS_DIR / "try_it_drawn.png"))

            assert page.locator("[data-testid='stException']").count() == 0
            assert page.locator("[data-testid='stAlertContentError']").count() == 0
            assert not js_errors, js_errors
        finally:
            browser.close()
