"""Two students on one server: each session sees and controls only its own runs.

Two AppTest instances are two sessions of the same server process: they share module-level state
and st.cache_resource (the dataset, the pool of trainer processes), but each has its own
st.session_state. Training runs in real worker processes (nn_core.run.Run), as in the app.

One AppTest quirk matters here: every AppTest runs its script under the same fixed session id
("test session id"), so a `st.cache_resource(scope="session")` resource is ONE object for all
AppTest instances of a process. A real server gives each browser tab its own id. So the release
test below releases that id (exactly what Streamlit's AppSession.shutdown does when a tab's
websocket goes away) with one AppTest session only.
"""

import threading
import time

import pytest
from streamlit.runtime.caching import clear_session_resource_cache
from streamlit.testing.v1 import AppTest

from app_support import state
from nn_core.config import TrainConfig
from nn_core.pool import WorkerPool
from nn_core.run import Run

torch = pytest.importorskip("torch")

TIMEOUT = 60
RUNS = "app.runs"
SERIES = "train.series"
APPTEST_SESSION_ID = "test session id"     # streamlit/testing/v1/local_script_runner.py
# Long enough (16 units, 50 epochs of 63 steps) that a run is still training when the other stops.
LONG = {"hidden": "16", "epochs": 50}


def open_train_page() -> AppTest:
    at = AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def start(at: AppTest, hidden: str, epochs: int) -> Run:
    at.text_input(key="train.w.hidden").set_value(hidden)
    at.number_input(key="train.w.epochs").set_value(epochs)
    at.run()
    at.button(key="train.b.both").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at.session_state[RUNS][-1]


def heading(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("#### run "))


def n_records(run: Run) -> int:
    return sum(len(run.records(impl)) for impl in run.impls)


def run_threads(run: Run) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"nn-run{run.id}"]


@pytest.fixture
def sessions():
    """Two sessions; any run they started is stopped and joined afterwards, even on failure."""
    made = []

    def make() -> AppTest:
        made.append(open_train_page())
        return made[-1]
    yield make
    for at in made:
        for run in at.session_state[RUNS] if RUNS in at.session_state else []:
            run.stop()
            run.join(timeout=5)


def test_two_sessions_train_at_once_and_see_only_their_own_run(sessions):
    a, b = sessions(), sessions()
    run_a = start(a, **LONG)
    run_b = start(b, **LONG)

    # Each session holds exactly its own run: two different Run objects with different ids.
    assert a.session_state[RUNS] == [run_a] and b.session_state[RUNS] == [run_b]
    assert run_a is not run_b and run_a.id != run_b.id
    assert not run_a.finished and not run_b.finished       # both train at the same time

    a.run()
    b.run()
    # A's run never shows up in B's state (nor B's in A's), not even in the chart caches.
    assert all(r is not run_a for r in b.session_state[RUNS])
    assert all(r is not run_b for r in a.session_state[RUNS])
    assert set(a.session_state[SERIES]) == {run_a.id}
    assert set(b.session_state[SERIES]) == {run_b.id}
    # Each page calls its own first run "run 1" (numbered per session, not per server).
    assert heading(a).startswith("#### run 1:") and heading(b).startswith("#### run 1:")
    assert run_a.name.startswith("run 1 ") and run_b.name.startswith("run 1 ")

    # Stopping A (its own Stop button) does not stop B: B keeps taking steps.
    a.button(key="train.b.stop").click().run()
    assert run_a.join(timeout=5) and run_a.status == "stopped"
    assert not run_b.finished, run_b.status
    before = n_records(run_b)
    deadline = time.monotonic() + 10
    while n_records(run_b) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert n_records(run_b) > before, "B stopped taking steps when A was stopped"
    assert not run_b._stop.is_set()

    b.run()
    assert not b.button(key="train.b.stop").disabled        # B's page still offers Stop
    assert "stopped" not in heading(b), heading(b)

    b.button(key="train.b.stop").click().run()
    assert run_b.join(timeout=5) and run_b.status == "stopped"


def test_releasing_the_session_resource_stops_its_runs(sessions):
    at = sessions()
    run = start(at, **LONG)
    assert not run.finished and run_threads(run)

    # What Streamlit does when a tab's websocket closes: AppSession.shutdown ->
    # clear_session_caches -> clear_session_resource_cache(session id) -> on_release(holder).
    clear_session_resource_cache(APPTEST_SESSION_ID)

    assert run.join(timeout=2), "the run's threads did not end within 2 s of the release"
    assert run.status == "stopped" and not run_threads(run)


def test_session_runs_stop_all_stops_a_real_run_and_its_threads():
    split = state.shipped_dataset()
    from nn_core.data import make_split
    split = make_split(split)
    pool = WorkerPool(4)                 # both runs train at once
    runs = [Run(TrainConfig(hidden=(16,), epochs=50), split, impls=("numpy", "torch"), pool=pool)
            for _ in range(2)]
    for run in runs:
        run.start()
    try:
        deadline = time.monotonic() + 60    # every twin training (a fresh worker may be busy starting)
        while not all(r.latest(impl) is not None for r in runs for impl in r.impls) \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(run_threads(r) for r in runs)

        state._SessionRuns(runs=runs).stop_all()

        assert all(r.join(timeout=5) for r in runs), "runs still going 5 s after stop_all"
        assert [r.status for r in runs] == ["stopped", "stopped"]
        assert not any(run_threads(r) for r in runs)
    finally:
        for run in runs:
            run.stop()
            run.join(timeout=5)
        pool.shutdown()
