"""The Network health page in headless Chromium, live: train on Train & compare, open Network health from
the sidebar, and see its five charts drawn and its step count grow while the run trains; stopped,
the page shows the run as stopped (tests/artifacts/health.png: look at it)."""

import re
import time

import pytest

from streamlit_server import ARTIFACTS_DIR, wait_script_idle
from test_browser_limits import app_page

pytestmark = pytest.mark.browser

CHARTS = ("weights", "gradients", "activations", "units", "update_ratio")     # health_chart_<name>
# The charts among CHARTS whose plot holds data (plotly's own traces, not just the chart's frame).
DRAWN = """(names) => names.filter(name => [...document.querySelectorAll(`.st-key-health_chart_${name} .js-plotly-plot`)]
  .some(plot => (plot._fullData || []).some(t => (t._length || 0) > 0)))"""


def shown_step(page) -> int:
    heading = page.get_by_role("heading", name=re.compile("NumPy twin · step")).inner_text()
    return int(re.search(r"step ([\d,]+)", heading).group(1).replace(",", ""))


def test_health_page_draws_a_training_run_live():
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    # 200 epochs of batch 16 (50,000 steps) on a wider network: long enough to watch it live, also
    # on a quiet machine (100 epochs could end before the page had looked). lr 0.01: at the default
    # 0.1 this run kills its ReLU units and its loss explodes near step 11,000 (about 16 s in).
    with app_page("/train?hidden=256,128&epochs=200&batch_size=16&lr=0.01") as page:
        page.set_viewport_size({"width": 1400, "height": 3000})
        page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="NumPy only").click()
        page.get_by_text("NumPy · epoch").first.wait_for(timeout=60_000)      # the run has started

        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Network health").click()
        page.get_by_role("heading", name=re.compile("NumPy twin · step")).wait_for(timeout=30_000)
        page.wait_for_function(f"names => ({DRAWN})(names).length === names.length", arg=list(CHARTS),
                               timeout=30_000)
        first = shown_step(page)
        time.sleep(4)                        # two redraws at the page's 2 s interval
        later = shown_step(page)
        assert page.get_by_text("training…").count() >= 1
        assert later > first, (first, later)
        assert page.evaluate(DRAWN, list(CHARTS)) == list(CHARTS)

        # Stopped, the page stops redrawing: a steady picture to look at (a redraw can catch a
        # chart mid-way in a screenshot).
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train & compare").click()
        wait_script_idle(page)
        page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
        try:
            page.get_by_role("heading", name="run 1: stopped").wait_for(timeout=30_000)
        except Exception:
            page.screenshot(path=str(ARTIFACTS_DIR / "health-stop.png"), full_page=True)
            raise
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Network health").click()
        page.get_by_role("heading", name=re.compile("NumPy twin · step .* · stopped")).wait_for(timeout=30_000)
        wait_script_idle(page)
        page.wait_for_function(f"names => ({DRAWN})(names).length === names.length", arg=list(CHARTS))
        time.sleep(1)                        # plotly's drawing settles
        page.screenshot(path=str(ARTIFACTS_DIR / "health.png"), full_page=True)
        exceptions = page.locator("[data-testid='stException']")
        assert exceptions.count() == 0, exceptions.all_inner_texts()
