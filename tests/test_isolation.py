"""Two students on one server: each session sees and controls only its own runs.

Two AppTest instances are two sessions of the same server process: they share module-level state
and st.cache_resource (the dataset, the pool of trainer processes), but each has its own
st.session_state. Training runs in real worker processes (nn_core.run.Run), as in the app.

One AppTest quirk matters here: every AppTest runs its script under the same fixed session id
("test session id"), so a `st.cache_resource(scope="session")` resource is ONE object for all
AppTest instances of a process. A real server gives each browser tab its own id. So the release
test below releases that id (exactly what Streamlit's AppSession.shutdown does when a tab's
websocket goes away) with one AppTest session only. AppTest sends no cookies, so each AppTest
session is a student of its own (app_support.identity gives it a new token).
"""

import threading
import time

import pytest
from streamlit.runtime.caching import clear_session_resource_cache
from streamlit.testing.v1 import AppTest

from app_support import server, session
from nn_core.config import TrainConfig
from nn_core.data import make_split
from nn_core.limits import Limits
from nn_core.pool import WorkerPool
from nn_core.run import Run
from nn_core.store import DatasetRef, RunStore
from nn_core.students import Students

torch = pytest.importorskip("torch")

TIMEOUT = 60
RUNS = "app.runs"
SERIES = "train.series"
APPTEST_SESSION_ID = "test session id"     # streamlit/testing/v1/local_script_runner.py
# Long enough (16 units, 200 epochs of 63 steps: the cap) that a run is still training when the
# other stops, and through the grace-period test (its NumPy twin once finished 50 epochs there).
LONG = {"hidden": "16", "epochs": 200}


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


def test_a_released_session_leaves_its_run_training_until_the_grace_period_ends(sessions):
    at = sessions()
    run = start(at, **LONG)
    assert not run.finished and run_threads(run)
    registry = session.students()
    token = at.session_state["app.student"]
    assert registry.pages(token) >= 1

    # What Streamlit does when a tab's websocket closes: AppSession.shutdown ->
    # clear_session_caches -> clear_session_resource_cache(session id) -> on_release(page).
    clear_session_resource_cache(APPTEST_SESSION_ID)
    assert registry.pages(token) == 0

    # The run no longer stops at once (it did before the run store): a reload can find it again.
    steps = n_records(run)
    time.sleep(1.0)
    assert not run.finished and n_records(run) > steps

    # ... until NN_ORPHAN_SECONDS pass with no page of this student's open.
    registry.sweep(now=registry.clock() + registry.orphan_seconds + 1)
    assert run.join(timeout=5), "the run's threads did not end within 5 s of the grace period"
    assert run.status == "stopped" and not run_threads(run)
    assert all("NN_ORPHAN_SECONDS" in m for m in run.messages().values()), run.messages()


def test_one_student_leaving_does_not_stop_another_students_run(tmp_path):
    split = make_split(server.shipped_dataset())
    pool = WorkerPool(4)                 # both runs train at once
    registry = Students(RunStore(tmp_path / "runs.sqlite3"), Limits(orphan_seconds=5), sweep_every=None)
    runs = {}
    try:
        for token in ("alice", "bob"):
            registry.attach(token)
            runs[token] = registry.start(token, TrainConfig(hidden=(16,), epochs=50), split,
                                         ("numpy", "torch"), DatasetRef("shipped"), limits=Limits(), pool=pool)
        assert registry.runs("alice") == [runs["alice"]] and registry.runs("bob") == [runs["bob"]]
        registry.detach("alice")
        registry.sweep(now=registry.clock() + 6)

        assert runs["alice"].join(timeout=5) and runs["alice"].status == "stopped"
        steps = n_records(runs["bob"])
        deadline = time.monotonic() + 10
        while n_records(runs["bob"]) == steps and time.monotonic() < deadline:
            time.sleep(0.05)
        assert n_records(runs["bob"]) > steps and not runs["bob"].finished
    finally:
        for run in runs.values():
            run.stop()
            run.join(timeout=5)
        pool.shutdown()
