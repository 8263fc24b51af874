"""Train & compare in headless Chromium: the live loss chart grows while training, Stop stops it."""

import time

import pytest

from streamlit_server import (
    ARTIFACTS_DIR,
    launch_chromium,
    run_streamlit_server,
    wait_connected,
    wait_script_idle,
)

pytestmark = pytest.mark.browser

# Points of the NumPy twin's batch-loss trace in the live loss chart (0 before the chart exists).
# plotly keeps the trace's length in _fullData; while Streamlit swaps in a redrawn chart two
# plots can exist for a moment, so take the larger count.
NUMPY_LOSS_POINTS = """() => {
  let most = 0;
  for (const plot of document.querySelectorAll('.st-key-train_chart_loss .js-plotly-plot')) {
    const trace = (plot._fullData || []).find(t => t.name === 'NumPy batch');
    if (trace) most = Math.max(most, trace._length || 0);
  }
  return most;
}"""
# The last step the NumPy twin's loss curve reaches (long curves are thinned, so their number of
# points can shrink; the last step only grows while training).
NUMPY_LOSS_LAST_STEP = """() => {
  let last = 0;
  for (const plot of document.querySelectorAll('.st-key-train_chart_loss .js-plotly-plot')) {
    const trace = (plot._fullData || []).find(t => t.name === 'NumPy batch');
    if (trace && trace._length) last = Math.max(last, Number(trace.x[trace._length - 1]));
  }
  return last;
}"""


def open_train_page(page, url: str, query: str = "") -> None:
    # Straight to /train, as a teacher's shared link does, on a server nobody has visited yet.
    # (The page files live in app_pages/, not pages/: a folder named pages/ would make Streamlit
    # serve such a first deep link in its old folder mode, without streamlit_app.py's router.)
    page.goto(f"{url}/train{query}", wait_until="domcontentloaded")
    wait_connected(page)
    wait_script_idle(page)


def test_live_loss_chart_grows_and_stop_stops():
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    with run_streamlit_server("streamlit_app.py") as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            js_errors: list[str] = []
            page.on("pageerror", lambda err: js_errors.append(str(err)))
            open_train_page(page, url, "?hidden=128,64&epochs=200")
            expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("200")   # the link's preset
            expect(page.get_by_test_id("stSidebarNav")).to_contain_text("Train & compare")

            page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train both").click()
            clicked = time.perf_counter()
            page.wait_for_function(NUMPY_LOSS_POINTS, polling=20, timeout=30_000)
            first_point_s = time.perf_counter() - clicked
            print(f"\nclick on Train both -> first NumPy loss point in the browser: {first_point_s:.2f} s")

            steps = [page.evaluate(NUMPY_LOSS_LAST_STEP)]
            deadline = time.monotonic() + 30
            while len(set(steps)) < 4 and time.monotonic() < deadline:
                time.sleep(0.25)
                steps.append(page.evaluate(NUMPY_LOSS_LAST_STEP))
            print(f"last step on the NumPy loss curve, polled while training: {sorted(set(steps))}")
            assert len(set(steps)) >= 4 and steps == sorted(steps), steps    # grew at least 3 times

            page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
            page.get_by_role("heading", name="run 1: stopped").wait_for(timeout=20_000)
            stopped_at = page.evaluate(NUMPY_LOSS_LAST_STEP)
            time.sleep(1.5)
            assert page.evaluate(NUMPY_LOSS_LAST_STEP) == stopped_at      # no more steps after Stop
            assert page.get_by_text("stopped by the user").count() >= 1

            # Streamlit scrolls inside its main block, so a full-page shot needs a tall window.
            page.set_viewport_size({"width": 1400, "height": 3200})
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS_DIR / "train.png"), full_page=True)
            exceptions = page.locator("[data-testid='stException']")
            assert exceptions.count() == 0, exceptions.all_inner_texts()
            assert not js_errors, js_errors
        finally:
            browser.close()
