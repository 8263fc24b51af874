"""app_support.turns, the server's drawing turn: the server draws one page at a time, a page waiting on
something slow lets others draw meanwhile, and no page waits for its turn longer than TURN_WAIT."""

import threading
import time

import pytest

from app_support import turns


def draw_in_turn(log: list, name: str, seconds: float) -> None:
    with turns.drawing_turn():
        log.append(("start", name, time.monotonic()))
        time.sleep(seconds)
        log.append(("end", name, time.monotonic()))


def assert_turn_free() -> None:
    """Nobody holds the turn, and it was given back exactly once."""
    assert turns._turn.acquire(timeout=0)
    assert not turns._turn.acquire(timeout=0)
    turns._turn.release()


def in_threads(*targets) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)


def test_pages_are_drawn_one_after_another():
    log = []
    in_threads(*[lambda n=n: draw_in_turn(log, f"page {n}", 0.05) for n in range(4)])
    # Each page ends before the next one starts: start, end, start, end, ...
    assert [event for event, _, _ in log] == ["start", "end"] * 4
    assert all(log[i][1] == log[i + 1][1] for i in range(0, 8, 2))


def test_a_fragment_drawn_inside_its_page_keeps_the_turn():
    done = []
    with turns.drawing_turn():
        with turns.drawing_turn():              # would deadlock if it asked for the turn again
            done.append("fragment")
        done.append("page")
    assert done == ["fragment", "page"]
    assert_turn_free()                           # released once, at the end of the page


def test_the_turn_is_released_when_the_page_fails():
    with pytest.raises(ValueError), turns.drawing_turn():
        raise ValueError("a bug in a page")
    assert_turn_free()


def test_a_page_waiting_on_something_slow_lets_others_draw():
    other_page_drawn = threading.Event()
    order = []

    def slow_page():
        with turns.drawing_turn():
            order.append("slow page starts")
            with turns.turn_given_up():          # e.g. waiting for a trainer process
                assert other_page_drawn.wait(timeout=5), "the other page could not draw meanwhile"
            order.append("slow page ends")

    def other_page():
        time.sleep(0.05)
        with turns.drawing_turn():
            order.append("other page")
        other_page_drawn.set()

    in_threads(slow_page, other_page)
    assert order == ["slow page starts", "other page", "slow page ends"]
    assert_turn_free()


def test_no_page_waits_for_its_turn_longer_than_turn_wait(monkeypatch):
    monkeypatch.setattr(turns, "TURN_WAIT", 0.2)
    release = threading.Event()
    waited = []

    def stuck_page():
        with turns.drawing_turn():
            release.wait(timeout=5)

    def next_page():
        time.sleep(0.05)
        start = time.monotonic()
        with turns.drawing_turn():
            waited.append(time.monotonic() - start)
        release.set()

    in_threads(stuck_page, next_page)
    assert 0.1 < waited[0] < 2.0
    assert_turn_free()                           # the page that drew without the turn gave none back


def test_a_page_that_gives_the_turn_away_gets_it_back_only_after_the_pages_waiting():
    """The turn goes to pages in the order they asked: a page that gives it away and asks again at
    once (turn_given_up around a quick call) must not take it before a page already waiting."""
    drawn = []
    with turns.drawing_turn():
        waiting = threading.Thread(target=lambda: draw_in_turn(drawn, "waiting page", 0.0))
        waiting.start()
        time.sleep(0.2)                          # it now waits for the turn
        with turns.turn_given_up():
            pass                                 # and asks for it back at once
        assert [name for event, name, _ in drawn if event == "end"] == ["waiting page"]
    waiting.join(5)
    assert_turn_free()
