"""A Streamlit session without a browser: the app's own websocket protocol, spoken from Python.

Used by benchmarks/load_test.py --driver protocol to play a class of N students against a real
`streamlit run` server at the cost of a few protobuf messages per student, not a Chromium page.

One `ProtocolSession` does what the browser's Streamlit frontend does for the Train page:
  - opens ws://HOST/_stcore/stream (subprotocol "streamlit", as the frontend) and asks for a
    script run of the page (BackMsg.rerun_script with the page name and the preset's query string);
  - reads every ForwardMsg: the page's elements (buttons by label, the "#### run 1: ..." heading,
    the loss chart's plotly spec), the new query string (page_info_changed), and the timed
    fragments' timers (auto_rerun / stop_auto_rerun; all dropped when a full script run starts,
    like the frontend's cleanupAutoReruns);
  - while a fragment has a timer, asks for that fragment's rerun every `interval` seconds
    (rerun_script with fragment_id and is_auto_rerun), as the frontend's setInterval does;
  - clicks a button: a full rerun whose widget states carry the button's trigger_value.

It records, in wall-clock seconds: when the click was sent, when the heading first said
"run 1: ...", when the loss chart first held a NumPy point, when the heading said the run ended,
and the bytes and messages received. Widgets other than the clicked button are not sent: their
values stay what the server holds (the page keeps them under keys in session state).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from websockets.asyncio.client import connect

END = re.compile(r"^run 1: (done|stopped|diverged|failed|stopped at this server's limit)")
QUEUE = re.compile(r"you are number (\d+) in the queue")


def n_values(array) -> int:
    """Length of a plotly data array: a JSON list, or {dtype, bdata} for a binary-encoded one."""
    if isinstance(array, dict) and "bdata" in array:
        itemsize = int(re.sub(r"\D", "", array.get("dtype", "f8")) or 8)
        return len(base64.b64decode(array["bdata"])) // itemsize
    return len(array or [])


@dataclass
class ProtocolSession:
    url: str                      # http://127.0.0.1:PORT
    page: str = "train"
    query: str = ""
    # what this session saw, wall-clock s (time.time())
    opened: float | None = None
    ready: float | None = None            # the page's first script run finished with its button there
    clicked: float | None = None
    heading: float | None = None          # first "run 1: ..." heading
    first_point: float | None = None      # first NumPy point on the loss chart
    admitted: float | None = None         # first heading that is not the queue's
    end: float | None = None
    end_text: str | None = None
    last_heading: str | None = None
    queue_max: int = 0
    bytes: int = 0
    msgs: int = 0
    bytes_at_click: int = 0
    msgs_at_click: int = 0
    fragment_reruns: int = 0
    full_runs: int = 0
    errors: list = field(default_factory=list)
    buttons: dict = field(default_factory=dict)       # label -> widget id
    exception: str | None = None

    def __post_init__(self):
        self._page_hash = ""
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}
        self._ws = None
        self._script_done = asyncio.Event()
        self._closed = False

    # ---- sending -----------------------------------------------------------------------------------
    def _client_state(self, **kw) -> ClientState:
        return ClientState(query_string=self.query, page_script_hash=self._page_hash,
                           page_name="" if self._page_hash else self.page, **kw)

    async def _send(self, back: BackMsg) -> None:
        if self._ws is not None and not self._closed:
            await self._ws.send(back.SerializeToString())

    async def rerun(self, triggers: tuple[str, ...] = ()) -> None:
        widgets = [WidgetState(id=w, trigger_value=True) for w in triggers]
        await self._send(BackMsg(rerun_script=self._client_state(widget_states=WidgetStates(widgets=widgets))))

    async def click(self, label: str) -> bool:
        """Press the button with this label (False if the page has none)."""
        widget = self.buttons.get(label)
        self.clicked = time.time()
        self.bytes_at_click, self.msgs_at_click = self.bytes, self.msgs
        if widget is None:
            self.errors.append(f"no button {label!r}")
            return False
        await self.rerun((widget,))
        return True

    async def _tick(self, fragment_id: str, interval: float) -> None:
        """The frontend's setInterval for one timed fragment: ask for its rerun every interval s."""
        try:
            while not self._closed:
                await asyncio.sleep(interval)
                self.fragment_reruns += 1
                await self._send(BackMsg(rerun_script=self._client_state(
                    fragment_id=fragment_id, is_auto_rerun=True, widget_states=WidgetStates())))
        except Exception as e:          # the connection closed: the timer ends with it
            if not self._closed:
                self.errors.append(f"fragment timer: {type(e).__name__}: {e}"[:200])

    def _drop_timers(self, ids=None) -> None:
        for fid in list(self._timers if ids is None else ids):
            entry = self._timers.pop(fid, None)
            if entry:
                entry[1].cancel()

    # ---- receiving ---------------------------------------------------------------------------------
    def _on_element(self, element) -> None:
        kind = element.WhichOneof("type")
        if kind == "button":
            self.buttons[element.button.label] = element.button.id
        elif kind == "markdown":
            body = element.markdown.body.strip()
            if body.startswith("#### run 1:"):
                self._on_heading(body[5:].strip())
        elif kind == "alert":
            m = QUEUE.search(element.alert.body)
            if m:
                self.queue_max = max(self.queue_max, int(m.group(1)))
        elif kind == "exception":
            self.exception = element.exception.message[:200]
        elif kind == "plotly_chart" and self.first_point is None and self.clicked is not None:
            if "train_chart_loss" in element.plotly_chart.id:
                spec = json.loads(element.plotly_chart.spec or "{}")
                for trace in spec.get("data", []):
                    if trace.get("name") == "NumPy batch" and n_values(trace.get("x")) > 0:
                        self.first_point = time.time()

    def _on_heading(self, text: str) -> None:
        now = time.time()
        self.last_heading = text
        if self.clicked is None:
            return
        if self.heading is None:
            self.heading = now
        if self.admitted is None and "waiting in the queue" not in text:
            self.admitted = now
        if self.end is None and END.match(text):
            self.end, self.end_text = now, text

    def _on_message(self, data: bytes) -> None:
        self.bytes += len(data)
        self.msgs += 1
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._script_done.clear()
            if not msg.metadata.run.fragment_ids:
                self.full_runs += 1
                self._drop_timers()       # a full run: the script registers its fragments again
        elif kind == "delta":
            delta = msg.delta
            if delta.WhichOneof("type") == "new_element":
                self._on_element(delta.new_element)
        elif kind == "navigation":      # the page this run shows (new_session names the main script)
            self._page_hash = msg.navigation.page_script_hash or self._page_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            fid, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fid and (fid not in self._timers or self._timers[fid][0] != interval):
                self._drop_timers([fid])
                self._timers[fid] = (interval, asyncio.ensure_future(self._tick(fid, interval)))
        elif kind == "stop_auto_rerun":
            self._drop_timers(list(msg.stop_auto_rerun.fragment_ids))
        elif kind == "script_finished":
            self._script_done.set()
        elif kind == "ref_hash":
            self.errors.append("ref_hash from the server (this client caches nothing)")

    async def open(self, timeout: float = 90.0) -> None:
        """Connect and run the page once; returns when its 'Train both' button has arrived."""
        ws_url = self.url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.opened = time.time()
        self._ws = await connect(ws_url, subprotocols=["streamlit"], max_size=None,
                                 open_timeout=timeout, ping_interval=None)
        self._reader = asyncio.ensure_future(self._read())
        await self.rerun()
        deadline = time.monotonic() + timeout
        while "Train both" not in self.buttons or not self._script_done.is_set():
            if time.monotonic() > deadline or self._reader.done():
                raise TimeoutError(f"page not ready after {timeout:.0f} s")
            await asyncio.sleep(0.05)
        self.ready = time.time()

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                if isinstance(data, bytes):
                    self._on_message(data)
        except Exception as e:       # a closed connection ends the session's reading
            if not self._closed:
                self.errors.append(f"websocket: {type(e).__name__}: {e}"[:200])

    async def close(self) -> None:
        self._closed = True
        self._drop_timers()
        if self._ws is not None:
            await self._ws.close()
        if getattr(self, "_reader", None):
            self._reader.cancel()
