"""Limits as a person meets them in headless Chromium: an upload over the app's cap gets the app's own
sentence (not a bare HTTP 413), and a learning rate typed out of range is the same number in the
field, in the message and in what trains (nothing trains until it is fixed).
"""
import contextlib
import math
import re

import pytest

from app_support.uploads import MARGIN
from nn_core.data import LABELLED_NAMES, max_csv_bytes
from streamlit_server import launch_chromium, run_streamlit_server, wait_connected, wait_script_idle

pytestmark = pytest.mark.browser

ROWS_CAP = 1000            # NN_MAX_ROWS for the server: the Data page's CSV cap is then ~3 MB


def settle(page, ms=800):
    page.wait_for_timeout(ms)
    wait_script_idle(page)


@contextlib.contextmanager
def app_page(path: str, env: dict | None = None):
    """A fresh server (with `env`) and a Chromium page opened at `path`, connected and idle."""
    from playwright.sync_api import sync_playwright

    with run_streamlit_server(env=env) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}{path}", wait_until="domcontentloaded")
            wait_connected(page)
            wait_script_idle(page)
            yield page
        finally:
            browser.close()


def errors(page) -> list[str]:
    return page.locator("[data-testid='stAlertContentError']").all_inner_texts()


def test_an_upload_over_the_cap_gets_the_apps_own_sentence(tmp_path):
    from playwright.sync_api import expect

    cap_mb = max_csv_bytes(ROWS_CAP) / 2**20
    header = (",".join(LABELLED_NAMES) + "\n").encode()
    big = tmp_path / "big.csv"
    big.write_bytes(header + ("0," * 784 + "0\n").encode() * int(cap_mb * 1.05 * 2**20 / 1570))
    size_mb = big.stat().st_size / 2**20
    assert cap_mb < size_mb < cap_mb * MARGIN                 # over the cap, under the uploader's limit
    with app_page("/data", env={"NN_MAX_ROWS": str(ROWS_CAP)}) as page:
        dropzone = page.get_by_test_id("stFileUploaderDropzoneInstructions").first
        shown_mb = math.ceil(max_csv_bytes(ROWS_CAP) * MARGIN / 2**20)
        expect(dropzone).to_contain_text(f"{shown_mb}MB per file")       # the limit the page shows
        page.locator("input[type=file]").first.set_input_files(str(big))
        error = page.locator("[data-testid='stAlertContentError']").first
        error.wait_for(timeout=30_000)
        settle(page)
        text = error.inner_text()
        assert text.startswith(f"big.csv is {size_mb:,.1f} MB, more than a CSV of {ROWS_CAP:,} rows"), text
        assert "NN_MAX_ROWS" in text
        assert page.get_by_text("AxiosError").count() == 0 and page.get_by_text("413").count() == 0
        expect(page.get_by_test_id("stMainBlockContainer")).to_contain_text("Still using: mnist_5k.csv.gz")


def test_a_learning_rate_out_of_range_is_the_same_number_everywhere():
    from playwright.sync_api import expect

    with app_page("/train?hidden=16&epochs=1&batch_size=500") as page:
        main = page.get_by_test_id("stMainBlockContainer")
        field = page.get_by_role("spinbutton", name="Learning rate")
        for typed in ("-1", "1000"):
            field.fill(typed)
            field.press("Enter")
            settle(page)
            expect(field).to_have_value(typed)
            assert any(f"learning rate {typed} is outside (0, 100]" in e for e in errors(page)), errors(page)
            main.get_by_role("button", name="NumPy only").click()
            settle(page, 1500)
            expect(field).to_have_value(typed)                      # Train changed nothing ...
            assert any(f"learning rate {typed} is outside" in e for e in errors(page)), errors(page)
            assert main.get_by_role("heading", name=re.compile("^run 1")).count() == 0   # ... and trained nothing

        field.fill("0.05")
        field.press("Enter")
        settle(page)
        expect(field).to_have_value("0.05")
        assert not errors(page), errors(page)
        main.get_by_role("button", name="NumPy only").click()
        main.get_by_role("heading", name="run 1: done").wait_for(timeout=60_000)
        settle(page)
        expect(field).to_have_value("0.05")
        assert "lr=0.05" in page.url
        history = main.get_by_test_id("stDataFrame").first
        expect(history).to_contain_text("lr 0.05")              # what the run trained with
        assert not errors(page), errors(page)
