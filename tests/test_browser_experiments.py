"""Experiments in headless Chromium: a three-value experiment from a shared link trains live, and
its three loss curves grow side by side; after a reload (F5) the page draws the same experiment,
its curves whole and still growing."""

import time

import pytest

from streamlit_server import ARTIFACTS_DIR, launch_chromium, run_streamlit_server, wait_connected, wait_script_idle

pytestmark = pytest.mark.browser

# run label -> the last epoch its batch-loss curve reaches (the curve only grows while it trains).
LAST_EPOCHS = """() => {
  const last = {};
  for (const plot of document.querySelectorAll('.st-key-experiments_chart_loss .js-plotly-plot')) {
    for (const trace of plot._fullData || []) {
      if (trace._length) last[trace.name] = Math.max(last[trace.name] || 0, Number(trace.x[trace._length - 1]));
    }
  }
  return last;
}"""
FIRST_EPOCHS = LAST_EPOCHS.replace("trace._length - 1", "0").replace("Math.max", "Math.min").replace(
    "last[trace.name] || 0", "last[trace.name] ?? Infinity")
LABELS = ["lr=0.01", "lr=0.03", "lr=0.1"]


def three_curves_grow(page) -> list[dict]:
    """Poll the loss chart until each of the three curves has grown three times; the polls."""
    page.wait_for_function(f"() => Object.keys(({LAST_EPOCHS})()).length === 3", polling=50,
                           timeout=30_000)
    seen = [page.evaluate(LAST_EPOCHS)]
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not all(
            len({s.get(label) for s in seen}) >= 4 for label in LABELS):
        time.sleep(0.3)
        seen.append(page.evaluate(LAST_EPOCHS))
    for label in LABELS:
        curve = [s[label] for s in seen if label in s]
        print(f"\n{label}: last epoch on its loss curve, polled: {sorted(set(curve))[:8]} ...")
        assert len(set(curve)) >= 4 and curve == sorted(curve), (label, curve)   # grew 3 times
    assert sorted(seen[-1]) == sorted(LABELS)
    return seen


def test_three_value_experiment_trains_live_and_three_curves_grow():
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    # Three trainer processes, so the three runs train at once instead of waiting in the queue.
    with run_streamlit_server("streamlit_app.py", env={"NN_WORKERS": "3"}) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            js_errors: list[str] = []
            page.on("pageerror", lambda err: js_errors.append(str(err)))
            # batch 16: long enough that no run ends before Stop, also on a quiet machine (at batch 64
            # the runs finished in about 55 s, before the second round of polls was over)
            page.goto(f"{url}/experiments?vary=lr&values=0.01,0.03,0.1&twin=numpy&epochs=150&hidden=64"
                      "&batch_size=16",
                      wait_until="domcontentloaded")
            wait_connected(page)
            wait_script_idle(page)
            expect(page.get_by_role("textbox", name="Values (2 to 6, separated by commas)")).to_have_value("0.01,0.03,0.1")

            page.get_by_role("button", name="Run the experiment").click()
            before = three_curves_grow(page)

            page.reload(wait_until="domcontentloaded")          # F5 mid-run: a new session
            wait_connected(page)
            after = three_curves_grow(page)
            first = page.evaluate(FIRST_EPOCHS)
            for label in LABELS:       # the whole curve came back (from its first step), and went on
                assert first[label] < 1 and after[0][label] >= before[-1][label], (label, first, before[-1], after[0])

            page.get_by_role("button", name="Stop").click()
            for label in LABELS:
                expect(page.get_by_text(f"{label}: stopped")).to_be_visible(timeout=20_000)
            page.screenshot(path=str(ARTIFACTS_DIR / "experiments.png"), full_page=True)
            assert not js_errors, js_errors
        finally:
            browser.close()
