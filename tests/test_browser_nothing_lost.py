"""Nothing lost, in headless Chromium: a student's runs survive F5, a dropped connection and a server
restart; another browser never sees them; reloads never duplicate a run.

The student is a random token in a cookie (app_support.identity); runs live server-wide per student
(nn_core.students) and in the run store (nn_core.store, NN_DB).
"""

import sqlite3
import time

import numpy as np
import pytest

from nn_core.data import LABELLED_NAMES, load_shipped_sample
from nn_core.model_io import load_model
from streamlit_server import (
    ARTIFACTS_DIR,
    SERVER_PIDS,
    launch_chromium,
    run_streamlit_server,
    session_processes,
    wait_connected,
    wait_script_idle,
)
from test_browser_train import NUMPY_LOSS_LAST_STEP

pytestmark = pytest.mark.browser

COOKIE = "nn_student"
SMALL = "?hidden=16&epochs=1"             # done in a few seconds
LONG = "?hidden=128,64&epochs=200"        # minutes: still training at the end of a test


def main(page):
    return page.get_by_test_id("stMainBlockContainer")


def history(page):
    """The run-history table, scrolled into view (the grid draws its cells' text only when shown)."""
    table = main(page).get_by_test_id("stDataFrame").first
    table.scroll_into_view_if_needed(timeout=30_000)
    return table


def heading(page, text: str, timeout_ms: float = 60_000):
    main(page).get_by_role("heading", name=text).wait_for(timeout=timeout_ms)


def open_page(page, url: str, path: str) -> None:
    page.goto(f"{url}{path}", wait_until="domcontentloaded")
    wait_connected(page)
    wait_script_idle(page)


def train_both(page, settings: dict | None = None) -> None:
    """Type the settings into the Train page's fields, then click Train both."""
    for name, value in (settings or {}).items():
        field = (page.get_by_role("textbox", name="Hidden layer sizes") if name == "hidden"
                 else page.get_by_role("spinbutton", name=name))
        field.fill(str(value))
        field.press("Enter")
        page.wait_for_timeout(300)
        wait_script_idle(page)
    main(page).get_by_role("button", name="Train both").click()


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label` (a react-aria combobox: ArrowDown opens it)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = main(page).get_by_test_id("stSelectbox").filter(has_text=label).get_by_role("combobox")
    for attempt in range(3):
        wait_script_idle(page)
        box.click()
        box.press("ArrowDown")
        try:
            page.get_by_role("option", name=option).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


def last_step(page) -> float:
    return page.evaluate(NUMPY_LOSS_LAST_STEP)


def still_progressing(page, timeout_s: float = 20.0) -> bool:
    start = last_step(page)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if last_step(page) > start:
            return True
        time.sleep(0.25)
    return False


def student_cookie(context, timeout_s: float = 15.0) -> str:
    """The student token in this browser's cookie. The page stores it with a one-line script drawn
    after the sidebar's status, so it can arrive a moment after the page looks ready: wait for it."""
    deadline = time.monotonic() + timeout_s
    while True:
        cookies = [c["value"] for c in context.cookies() if c["name"] == COOKIE]
        if cookies or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(cookies) == 1, f"expected one {COOKIE} cookie within {timeout_s:.0f} s, got {cookies}"
    return cookies[0]


def no_exception(page) -> None:
    exceptions = page.locator("[data-testid='stException']")
    assert exceptions.count() == 0, exceptions.all_inner_texts()


def screenshot(page, name: str) -> None:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 3200})   # Streamlit scrolls inside its main block
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS_DIR / name), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def small_csv(path, per_digit: int = 100):
    """A Kaggle-layout CSV of per_digit digits of each class from the shipped sample."""
    shipped = load_shipped_sample()
    rows = np.concatenate([np.flatnonzero(shipped.labels == d)[:per_digit] for d in range(10)])
    table = np.column_stack([shipped.labels[rows], shipped.images[rows]])
    path.write_text(",".join(LABELLED_NAMES) + "\n" + "\n".join(",".join(map(str, r)) for r in table) + "\n")
    return path


def test_f5_and_a_dropped_connection_lose_nothing(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    csv = small_csv(tmp_path / "mini.csv")
    with run_streamlit_server() as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            open_page(page, url, "/data")
            page.locator("input[type='file']").first.set_input_files(str(csv))
            expect(main(page)).to_contain_text("In use: mini.csv, 1,000 digits", timeout=30_000)
            page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train & compare").click()
            wait_script_idle(page)

            train_both(page, {"hidden": "16", "Epochs": 2})
            heading(page, "run 1: done")
            train_both(page)
            heading(page, "run 2: done")
            train_both(page, {"hidden": "384,384", "Epochs": 200})           # most of a minute
            heading(page, "run 3: training…")
            assert still_progressing(page)

            page.reload(wait_until="domcontentloaded")                     # F5
            wait_connected(page)
            heading(page, "run 3: training…", timeout_ms=30_000)           # reattached, live
            assert still_progressing(page), "the run's curve stopped growing after F5"
            for run in ("run 1", "run 2", "run 3"):
                expect(history(page)).to_contain_text(run)
            expect(page.get_by_test_id("stSidebar")).to_contain_text("Data: mini.csv · 1,000 rows")

            assert main(page).get_by_role("heading", name="run 3: training…").count() == 1
            context.set_offline(True)                                      # the Wi-Fi drops ...
            time.sleep(3)
            context.set_offline(False)                                     # ... and comes back
            heading(page, "run 3: done", timeout_ms=240_000)
            expect(page.get_by_test_id("stSidebar")).to_contain_text("run 3 · done", timeout=30_000)
            assert page.get_by_text("NumPy twin: finished 200 epochs").count() >= 1
            no_exception(page)
            screenshot(page, "nothing_lost_f5_and_offline.png")

            page.get_by_test_id("stSidebarNav").get_by_role("link", name="Data").click()
            page.wait_for_url("**/data")
            page.reload(wait_until="domcontentloaded")
            wait_connected(page)
            expect(main(page)).to_contain_text("Continuing with mini.csv", timeout=30_000)
            expect(main(page)).to_contain_text("In use: mini.csv, 1,000 digits")
            no_exception(page)
        finally:
            browser.close()


def test_two_browsers_never_see_each_others_runs():
    from playwright.sync_api import expect, sync_playwright

    with run_streamlit_server() as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            alice_context, bob_context = browser.new_context(), browser.new_context()
            alice, bob = alice_context.new_page(), bob_context.new_page()
            open_page(alice, url, "/train" + SMALL)
            train_both(alice)
            heading(alice, "run 1: done")
            assert COOKIE not in alice.url and student_cookie(alice_context) not in alice.url

            open_page(bob, url, alice.url.removeprefix(url))                # her link, query string and all
            expect(bob.get_by_test_id("stSidebar")).to_contain_text("Run: none yet")
            assert main(bob).get_by_role("heading", name="Run history").count() == 0
            assert student_cookie(bob_context) != student_cookie(alice_context)

            train_both(bob, {"Epochs": 2})
            heading(bob, "run 1: done")
            expect(history(bob)).to_contain_text("2 epochs")
            expect(history(bob)).not_to_contain_text("1 epochs")            # only his own run

            alice.reload(wait_until="domcontentloaded")
            wait_connected(alice)
            heading(alice, "run 1: done", timeout_ms=30_000)
            expect(history(alice)).to_contain_text("1 epochs")
            expect(history(alice)).not_to_contain_text("2 epochs")
            expect(history(alice)).not_to_contain_text("run 2")
            no_exception(alice)
            no_exception(bob)
        finally:
            browser.close()


def test_a_server_restart_keeps_finished_runs_with_charts_and_downloads(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    env = {"NN_DB": str(tmp_path / "runs.sqlite3")}              # both servers use this store
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page = context.new_page()
            with run_streamlit_server(env=env) as url:
                open_page(page, url, "/train" + SMALL)
                train_both(page)
                heading(page, "run 1: done")
                train_both(page, {"hidden": "256,256", "Epochs": 200})
                heading(page, "run 2: training…")
            # The server is stopped mid-run; a new one starts on the same store.
            with run_streamlit_server(env=env) as url:
                open_page(page, url, "/train")
                heading(page, "run 2: interrupted by a server restart", timeout_ms=30_000)
                expect(history(page)).to_contain_text("run 1")
                expect(history(page)).to_contain_text("interrupted")
                # run 1's curves, back from the store, in the overlay of finished runs
                page.locator(".st-key-train_history_loss .js-plotly-plot").first.wait_for(timeout=30_000)
                points = page.evaluate("""() => {
                  const plot = document.querySelector('.st-key-train_history_loss .js-plotly-plot');
                  return (plot._fullData || []).filter(t => t.name.startsWith('run 1'))
                                               .map(t => t._length);
                }""")
                assert points and min(points) > 0, points

                choose(page, "Download the files of", "run 1")
                page.wait_for_timeout(800)
                wait_script_idle(page)
                with page.expect_download() as download:
                    main(page).get_by_role("button", name="Metrics CSV").click()
                assert download.value.suggested_filename == "run-1-metrics.csv"
                csv = download.value.path().read_text()
                assert csv.startswith("impl,step,epoch") and csv.count("\n") == 2 * 63 + 1
                with page.expect_download() as download:
                    main(page).get_by_role("button", name="NumPy model .npz").click()
                model = load_model(download.value.path().read_bytes(), name="run-1-numpy.npz")
                assert model.hidden == (16,)
                no_exception(page)
                screenshot(page, "nothing_lost_after_restart.png")
        finally:
            browser.close()


def busy_workers(server: int, seconds: float = 3.0) -> int:
    """How many of the server's helper processes used the CPU over `seconds` (a trainer waiting for
    work sleeps on its pipe and uses none; one training uses what the shared machine leaves it)."""
    def cpu_ticks() -> dict:
        ticks = {}
        for pid in session_processes(server):
            if pid == server:
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks[pid] = int(fields[11]) + int(fields[12])          # utime + stime
            except (OSError, IndexError):
                pass
        return ticks
    before = cpu_ticks()
    time.sleep(seconds)
    after = cpu_ticks()
    return sum(1 for pid, t in after.items() if t - before.get(pid, t) > 0.02 * seconds * 100)


def test_a_hundred_reloads_during_training_leave_one_run_and_one_worker_per_twin(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    store = tmp_path / "runs.sqlite3"
    with run_streamlit_server(env={"NN_DB": str(store), "NN_WORKERS": "3"}) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_page(page, url, "/train" + LONG)
            train_both(page)
            heading(page, "run 1: training…")
            assert still_progressing(page)
            # Paused, so that 100 page loads on 2 shared cores fit in the suite's time: the run is
            # mid-training all the while, each twin holding its trainer process between two steps.
            main(page).get_by_role("button", name="Pause").click()
            heading(page, "run 1: paused")
            started = time.perf_counter()
            for i in range(100):                                  # F5, as fast as a student can
                page.reload(wait_until="domcontentloaded")
                if i % 10 == 9:                                   # now and then, the whole page too
                    wait_connected(page)
                    heading(page, "run 1: paused", timeout_ms=30_000)
            print(f"\n100 reloads in {time.perf_counter() - started:.1f} s")

            heading(page, "run 1: paused", timeout_ms=30_000)
            main(page).get_by_role("button", name="Resume").click()       # driven from the 101st page
            heading(page, "run 1: training…", timeout_ms=30_000)
            assert still_progressing(page)
            expect(history(page)).to_contain_text("run 1")
            expect(history(page)).not_to_contain_text("run 2")
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
                assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
            assert busy_workers(SERVER_PIDS[url]) == 2            # NumPy's and PyTorch's, no third

            main(page).get_by_role("button", name="Stop").click()
            heading(page, "run 1: stopped")
            no_exception(page)
        finally:
            browser.close()
