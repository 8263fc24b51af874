"""Open the real app's home page in headless Chromium: it connects, runs, and shows no exception."""

import pytest

from streamlit_server import (
    ARTIFACTS_DIR,
    launch_chromium,
    run_streamlit_server,
    wait_connected,
    wait_script_idle,
)

pytestmark = pytest.mark.browser

APP = "streamlit_app.py"


def test_home_page_renders_without_exception():
    from playwright.sync_api import sync_playwright

    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    with run_streamlit_server(APP) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            js_errors: list[str] = []
            page.on("pageerror", lambda err: js_errors.append(str(err)))

            page.goto(f"{url}/", wait_until="domcontentloaded")
            wait_connected(page)
            wait_script_idle(page)
            page.screenshot(path=str(ARTIFACTS_DIR / "home.png"), full_page=True)

            exceptions = page.locator("[data-testid='stException']")
            assert exceptions.count() == 0, exceptions.all_inner_texts()
            assert not js_errors, js_errors
        finally:
            browser.close()
