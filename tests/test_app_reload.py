"""AppTest of a reload: a new session of the same student (the same token, as the browser's cookie
would bring) finds their runs, the one still training, and their uploaded dataset; a new student
finds none of it. And an unreadable run store: the app starts, says so once, and trains.

AppTest sends no cookies, so the token is put into the new session's state by hand, where
app_support.identity keeps what it read from the cookie. The browser version, with a real cookie,
is tests/test_browser_nothing_lost.py.
"""

import time

import pytest
from streamlit.testing.v1 import AppTest

from test_app_pages import small_csv

pytest.importorskip("torch")

TIMEOUT = 60
STUDENT = "app.student"
RUNS = "app.runs"


def open_app(page: str, token: str | None = None) -> AppTest:
    at = AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT)
    if token:
        at.session_state[STUDENT] = token
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def train(at, hidden: str, epochs: int):
    at.text_input(key="train.w.hidden").set_value(hidden).run()
    at.number_input(key="train.w.epochs").set_value(epochs).run()
    at.button(key="train.b.both").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at.session_state[RUNS][-1]


def headings(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("#### run ")]


def test_a_reload_finds_the_runs_the_live_run_and_the_upload():
    first = open_app("app_pages/data.py")
    first.file_uploader(key="data.file").set_value(("mine.csv", small_csv(20), "text/csv")).run()
    first.switch_page("app_pages/train.py").run()
    done = train(first, "8", 1)
    assert done.join(timeout=TIMEOUT) and done.status == "done"
    live = train(first, "16", 200)
    first.button(key="train.b.pause").click().run()     # (200 digits train fast: hold it mid-run)
    token = first.session_state[STUDENT]

    again = open_app("app_pages/train.py", token)                       # F5
    assert again.session_state[RUNS] is first.session_state[RUNS]       # the very same runs
    assert again.session_state[RUNS] == [done, live] and not live.finished
    assert headings(again)[0].startswith("#### run 2: paused")          # drawn live again
    again.button(key="train.b.resume").click().run()                    # and driven from here
    steps = len(live.records("numpy"))
    deadline = time.monotonic() + 10
    while len(live.records("numpy")) == steps and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(live.records("numpy")) > steps or live.status == "done"
    assert again.dataframe[0].value["run"].tolist() == ["run 1", "run 2"]
    assert again.session_state["app.dataset"].name == "mine.csv"         # no upload needed
    assert len(again.session_state["app.dataset"]) == 200

    again.switch_page("app_pages/data.py").run()
    assert any("Continuing with **mine.csv**" in i.value for i in again.info)
    assert again.selectbox(key="data.choice").value == "uploaded: mine.csv"

    stranger = open_app("app_pages/train.py")                           # another browser
    assert stranger.session_state[STUDENT] != token
    assert stranger.session_state[RUNS] == [] and "Run history" not in [h.value for h in stranger.header]
    assert stranger.session_state["app.dataset"].name != "mine.csv"

    live.stop()
    assert live.join(timeout=TIMEOUT)


def test_a_cookie_that_is_not_a_token_gets_a_new_one():
    from app_support.identity import TOKEN, token_from_cookie

    assert token_from_cookie("../../etc/passwd") is None and token_from_cookie("") is None
    assert token_from_cookie(None) is None and token_from_cookie("a" * 31) is None
    good = "Ab3_-" * 7
    assert token_from_cookie(good) == good and TOKEN.fullmatch(good)
    at = open_app("app_pages/home.py")
    assert TOKEN.fullmatch(at.session_state[STUDENT])


def test_the_app_starts_on_an_unreadable_store_with_one_warning_and_an_empty_history(tmp_path, monkeypatch):
    from app_support import session

    bad = tmp_path / "runs.sqlite3"
    bad.write_bytes(b"\x00garbage" * 1000)
    monkeypatch.setenv("NN_DB", str(bad))
    session.students.clear()                      # as on a fresh server
    try:
        at = AppTest.from_file("../streamlit_app.py", default_timeout=60).run()
        at.switch_page("app_pages/train.py").run()
        assert not at.exception, [e.value for e in at.exception]
        warnings = [w.value for w in at.sidebar.warning]
        assert len(warnings) == 1 and "could not be read" in warnings[0], warnings
        assert "history starts empty" in warnings[0]
        assert "Run history" not in [h.value for h in at.header]
        at.text_input(key="train.w.hidden").set_value("8").run()
        at.number_input(key="train.w.epochs").set_value(1).run()
        at.button(key="train.b.numpy").click().run()            # and it trains, and keeps the run
        run = at.session_state["app.runs"][-1]
        assert run.join(timeout=60) and run.status == "done"
        assert session.students().store.count_runs(at.session_state["app.student"]) == 1
    finally:
        session.students.clear()
