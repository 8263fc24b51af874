"""The server's drawing turn: pages drawn one at a time.

Every page run and every live redraw is Python work in the one server process, and Python runs one
thread at a time. Thirty students' redraws started at once share it: each goes forward a little at
a time, so all thirty end late, together (measured: every page of a class of 30 was blank for 13 s
after their clicks). Drawn one after another, most end much sooner and none later. A page that
waits for something slow gives its turn away meanwhile (turn_given_up), and a page still waiting
for its turn after TURN_WAIT seconds draws anyway.

Standard library only: the router takes the turn before the first page is drawn, and a fresh
server's first page must not wait for NumPy or pandas to load.
"""

import collections
import contextlib
import threading

TURN_WAIT = 5.0


class FairTurn:
    """A lock handed to its waiters in the order they came. (A plain lock or semaphore lets a
    newcomer take it before a page that has waited longer: at 30 sessions one page waited 8 s.)"""

    def __init__(self):
        self._lock = threading.Lock()
        self._held = False
        self._waiting = collections.deque()     # one Event per waiting thread, oldest first

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if not self._held and not self._waiting:
                self._held = True
                return True
            handed = threading.Event()
            self._waiting.append(handed)
        if handed.wait(timeout):
            return True
        with self._lock:
            if handed.is_set():                 # handed over just as the wait ran out
                return True
            self._waiting.remove(handed)
            return False

    def release(self) -> None:
        with self._lock:
            if not self._held:
                raise RuntimeError("the drawing turn was given back twice")
            if self._waiting:
                self._waiting.popleft().set()   # straight to the oldest waiter: it stays held
            else:
                self._held = False


_turn = FairTurn()
_this_thread = threading.local()      # .has_turn: whether the script running in this thread holds it


@contextlib.contextmanager
def drawing_turn():
    """Hold the server's drawing turn while the block runs (at once if this thread holds it already:
    a fragment drawn inside its page's run)."""
    if getattr(_this_thread, "has_turn", False):
        yield
        return
    _this_thread.has_turn = _turn.acquire(timeout=TURN_WAIT)
    try:
        yield
    finally:
        if _this_thread.has_turn:
            _this_thread.has_turn = False
            _turn.release()


@contextlib.contextmanager
def turn_given_up():
    """Let other pages draw while this one waits for something slow, then take the turn back."""
    if not getattr(_this_thread, "has_turn", False):
        yield
        return
    _this_thread.has_turn = False
    _turn.release()
    try:
        yield
    finally:
        _this_thread.has_turn = _turn.acquire(timeout=TURN_WAIT)
