"""A long run in headless Chromium (/train?epochs=200, 12,600 steps): every live chart stays drawn
while it trains (sampled every second from 3 s to 14 s after the run's first point), and a redraw's
message does not grow with the run (curves are cut to ~1,000 points
per trace, keeping each bucket's extremes; gradients and weights redraw on a slower cadence)."""

import statistics
import time

import pytest

from streamlit_server import launch_chromium, run_streamlit_server, wait_connected, wait_script_idle

pytestmark = pytest.mark.browser

LIVE_CHARTS = ("loss", "accuracy", "gap", "speed", "grad", "weights")   # train_chart_<name>

# Before any script runs: note every websocket message that carries a chart (its element id holds
# the chart's key), with its arrival time and size.
FIGURE_MESSAGES = """(() => {
  const Native = window.WebSocket;
  window.__figs = [];
  const latin1 = new TextDecoder('latin1');
  class Recording extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', ev => {
        if (!(ev.data instanceof ArrayBuffer)) return;
        const text = latin1.decode(ev.data);
        const m = text.match(/train_chart_([a-z]+)/);
        if (m) window.__figs.push({t: Date.now(), size: ev.data.byteLength, chart: m[1]});
      });
    }
  }
  window.WebSocket = Recording;
})();"""

FIRST_POINT = """() => [...document.querySelectorAll('.st-key-train_chart_loss .js-plotly-plot')]
  .some(plot => (plot._fullData || []).some(t => t.name === 'NumPy batch' && t._length > 0))"""

# Each live chart's state right now: "drawn" (a plotly plot with data in it, on screen, not greyed
# out as stale), "empty" (the same without data), else why not: "absent", "hidden" or "faded".
CHART_STATES = """(names) => Object.fromEntries(names.map(name => {
  let state = 'absent';
  for (const plot of document.querySelectorAll(`.st-key-train_chart_${name} .js-plotly-plot`)) {
    const box = plot.getBoundingClientRect();
    const full = plot._fullData || [];
    const hasData = full.some(t => (t._length || 0) > 0 || (t.z && t.z.length > 0));
    const card = plot.closest("[data-testid='stElementContainer']") || plot;
    const faded = Number(getComputedStyle(card).opacity) < 0.9;
    const now = !plot.querySelector('.main-svg') || box.height < 50 || box.width < 50 ? 'hidden'
              : !hasData ? 'empty' : faded ? 'faded' : 'drawn';
    if (now === 'drawn' || state === 'absent') state = now;
  }
  return [name, state];
}))"""


def sample_states(page, names, glance_s: float = 0.25, glances: int = 3) -> dict:
    """Each chart's state at one sample: its best state over a few glances `glance_s` apart. A chart
    redrawn in place can be caught between two frames for a few milliseconds (its plot is rebuilt);
    a learner sees a chart vanish only when it stays gone, so one sample looks for up to half a second."""
    rank = {"drawn": 0, "empty": 1, "faded": 2, "hidden": 3, "absent": 4}
    best = page.evaluate(CHART_STATES, names)
    for _ in range(glances - 1):
        if set(best.values()) <= {"drawn"}:
            break
        time.sleep(glance_s)
        now = page.evaluate(CHART_STATES, names)
        best = {name: min(best[name], now[name], key=rank.get) for name in names}
    return best


def test_long_run_keeps_every_chart_drawn_and_redraws_flat():
    with run_streamlit_server("streamlit_app.py") as url:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 3400})
                page.add_init_script(FIGURE_MESSAGES)
                # 200 epochs: at 100 (the issue's) a quiet machine's PyTorch twin now finishes ~12 s after
                # the first point, before the 14 s of watching are over.
                page.goto(f"{url}/train?epochs=200", wait_until="domcontentloaded")
                wait_connected(page)
                wait_script_idle(page)
                page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train both").click()
                clicked_ms = page.evaluate("Date.now()")
                # Time runs from the first point on the loss chart: the run has started (on a busy
                # 2-core machine the trainer processes, at a lower priority, can take seconds).
                page.wait_for_function(FIRST_POINT, polling=20, timeout=60_000)
                start_ms = page.evaluate("Date.now()")
                samples = []          # (s after the first point, each chart's state)
                for second in range(1, 15):
                    time.sleep(max(0.0, start_ms / 1000 + second - page.evaluate("Date.now()") / 1000))
                    samples.append((second, sample_states(page, list(LIVE_CHARTS))))
                heading = page.locator("h4").filter(has_text="run 1:").first.inner_text()
                figures = page.evaluate("window.__figs")
                page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
            finally:
                browser.close()

    print(f"\nclick -> first point {(start_ms - clicked_ms) / 1000:.1f} s; heading 14 s later: {heading!r}")
    for second, states in samples:
        missing = {name: state for name, state in states.items() if state != "drawn"}
        print(f"  {second:>2} s: {len(states) - len(missing)} of {len(LIVE_CHARTS)} drawn; {missing or ''}")
    assert "training" in heading, f"the run should still train at 14 s: {heading!r}"
    # After the first 3 s every chart is drawn at every 1 s sample, for at least 10 s (4 s ... 14 s):
    # on screen, rendered, not greyed out. "empty" is a drawn chart with no curve yet (the twin gap
    # before the PyTorch twin's first step, on a machine too busy for both to start at once).
    incomplete = [(second, states) for second, states in samples
                  if second > 3 and not set(states.values()) <= {"drawn", "empty"}]
    assert not incomplete, incomplete
    assert all(states["loss"] == "drawn" for _, states in samples)

    def mean_size(start_s: float, end_s: float) -> float:
        sizes = [f["size"] for f in figures if start_s <= (f["t"] - start_ms) / 1000 < end_s]
        assert sizes, f"no figure message between {start_s} and {end_s} s"
        return statistics.mean(sizes)

    early, late = mean_size(3, 7), mean_size(10, 14)
    by_chart = {}
    for f in figures:
        by_chart.setdefault(f["chart"], []).append(f["size"])
    print(f"mean figure message: {early / 1024:.1f} KiB at 3-7 s, {late / 1024:.1f} KiB at 10-14 s "
          f"({late / early:.2f}x); largest per chart (KiB): "
          + ", ".join(f"{k} {max(v) / 1024:.0f}" for k, v in sorted(by_chart.items())))
    assert late <= 1.5 * early
