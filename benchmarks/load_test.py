"""A class on one server: N students press "Train both" at the same moment. How does it hold up?

Run with:  .venv/bin/python benchmarks/load_test.py [--levels 1,5,10,30] [--driver protocol|browser]
                                                    [--repeat K] [--slots N] [--quick]

Starts ONE real `streamlit run streamlit_app.py` (as a class server: NN_THREADS=1 and one BLAS/OpenMP
thread; NN_MAX_CONCURRENT_RUNS from --slots, else the app's default). For each level N, N students
open "/train?<preset>" and all click "Train both" at the same instant. Two ways to play a student:

  --driver protocol (default): a browser-free Streamlit session (benchmarks/st_client.py) that
      speaks the app's own websocket protocol (streamlit.proto BackMsg / ForwardMsg) as the
      frontend does: it asks for the page's script run, keeps the timed fragments' timers
      (auto_rerun) and asks for their reruns, and clicks by sending the button's trigger. It times
      the first NumPy point in the loss chart's spec and the heading "run 1: done" as the messages
      arrive. All N sessions live in one asyncio loop of this script: the machine's cores are left
      to the server and its trainer processes, as in a class where the browsers run on the
      students' own machines.
  --driver browser: one headless Chromium with one context per student (own cookies, own
      session), "/" then "/train?<preset>"; the click is scheduled inside every page for one shared
      wall-clock time, and each page times, in its own JavaScript, the first NumPy point on its
      loss chart and the heading "run 1: done". Here the browsers share the server's cores.

Meanwhile a thread samples the RSS of the server's process tree (the server, the forkserver and the
trainer processes it started: all children of the server) every 0.2 s, and its thread count.
After the level the sessions are closed (the app's session-scoped on_release stops their runs) and
the server's RSS and threads are read again once they settle. Per level it prints: runs completed,
first chart point median and worst, run done median, peak RSS of server + workers, the CPU (in
cores) of the server's own process and of its trainer processes, and the frozen sessions (whose
page never showed the run's end; if there are any, every server thread's stack is dumped into the
server's log). --repeat K plays the whole sequence of levels K times on the same server.

The "server side" line times the same runs from the server's thread list (a small sitecustomize on
the server's PYTHONPATH gives Python threads their names in /proc, so a run's driver thread
"nn-run<id>" is seen starting and ending; --no-thread-names turns it off).

Options for digging: --pin (browser driver: server on CPU 0, Chromium on the others),
--close-after S (close the sessions mid-run: are the runs of closed tabs stopped?),
--server-log PATH (keep the server's log).

A measurement, not a test: exit status 0 unless the script itself breaks. Traffic goes to
127.0.0.1 only (Chromium resolves every other host to nothing), and every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from streamlit_server import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    run_streamlit_server,
    wait_connected,
    wait_script_idle,
)

GOAL_SESSIONS = 30
GOAL_RSS_MIB = 1024
GOAL_FIRST_POINT_S = 3.0
GOAL_WORST_POINT_S = 10.0
PAGE_READY_TIMEOUT_MS = 90_000
SAMPLE_EVERY_S = 0.2
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Installed in every page before any script runs: counts the bytes the Streamlit websocket
# delivers (evidence for the cost of the live redraws).
WS_COUNTER = """(() => {
  const Native = window.WebSocket;
  window.__ws = {bytes: 0, msgs: 0};
  class Counting extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', ev => {
        const d = ev.data;
        window.__ws.msgs += 1;
        window.__ws.bytes += (d && (d.byteLength ?? d.size ?? d.length)) || 0;
      });
    }
  }
  window.WebSocket = Counting;
})();"""

# Schedules the click on "Train both" for wall-clock time `at` (ms since the epoch, the same clock
# in every page of this browser), then polls the page every 50 ms for what happens next.
# Everything is timed in the page, so Python only reads window.__lt afterwards.
ARM = """([at, limitMs]) => {
  const lt = window.__lt = {target: at, clicked: null, heading: null, firstPoint: null, admitted: null,
                            end: null, endText: null, queueMax: 0, queued: false, redraws: 0,
                            error: null, wsBytes0: 0, wsMsgs0: 0, wsBytesAdmit: null,
                            wsMsgsAdmit: null};
  const points = () => {
    let most = 0;
    for (const plot of document.querySelectorAll('.st-key-train_chart_loss .js-plotly-plot')) {
      const trace = (plot._fullData || []).find(t => t.name === 'NumPy batch');
      if (trace) most = Math.max(most, trace._length || 0);
    }
    return most;
  };
  const runHeading = () => {
    for (const h of document.querySelectorAll('h4')) {
      const t = (h.textContent || '').trim();
      if (t.startsWith('run 1:')) return t;
    }
    return null;
  };
  let lastPlot = null;
  const poll = () => {
    const now = Date.now();
    const plot = document.querySelector('.st-key-train_chart_loss .js-plotly-plot');
    if (plot && plot !== lastPlot) { lt.redraws += 1; lastPlot = plot; }
    const h = runHeading();
    if (h && lt.heading === null) lt.heading = now;
    if (lt.firstPoint === null && points() > 0) lt.firstPoint = now;
    const m = (document.body.innerText || '').match(/you are number (\\d+) in the queue/);
    if (m) { lt.queued = true; lt.queueMax = Math.max(lt.queueMax, Number(m[1])); }
    if (h && lt.admitted === null && !h.includes('waiting in the queue')) {
      lt.admitted = now;
      lt.wsBytesAdmit = window.__ws ? window.__ws.bytes : 0;
      lt.wsMsgsAdmit = window.__ws ? window.__ws.msgs : 0;
    }
    if (h && /^run 1: (done|stopped|diverged|failed)/.test(h)) { lt.end = now; lt.endText = h; }
    if (document.querySelector("[data-testid='stException']")) lt.error = 'stException on the page';
    if (lt.end !== null || now - lt.clicked > limitMs) clearInterval(lt.timer);
  };
  setTimeout(() => {
    const main = document.querySelector("[data-testid='stMainBlockContainer']") || document;
    const button = [...main.querySelectorAll('button')].find(b => b.innerText.trim() === 'Train both');
    lt.wsBytes0 = window.__ws ? window.__ws.bytes : 0;
    lt.wsMsgs0 = window.__ws ? window.__ws.msgs : 0;
    lt.clicked = Date.now();
    if (!button || button.disabled) { lt.error = 'no enabled Train both button'; lt.end = lt.clicked; return; }
    button.click();
    lt.timer = setInterval(poll, 50);
  }, Math.max(0, at - Date.now()));
  return Date.now();
}"""

# Put on the server's PYTHONPATH (in a temporary folder) unless --no-thread-names. Python 3.11 does
# not give its threads OS-level names, so /proc/<pid>/task/*/comm would say "python" for all of
# them. This names each thread after its Python name (first 15 characters; ThreadPoolExecutor ->
# TPE), so the script can see whether any "nn-run..." training thread outlives its browser tab.
# It also lets SIGUSR1 dump every thread's stack into the server's log (faulthandler): done once
# a level times out with pages that never showed their end, to show what the server was doing.
THREAD_NAMES_SITECUSTOMIZE = """\
import ctypes
import threading

try:
    _prctl = ctypes.CDLL(None).prctl
    _bootstrap_inner = threading.Thread._bootstrap_inner

    def _named_bootstrap_inner(self):
        try:
            name = self.name.replace("ThreadPoolExecutor", "TPE")
            _prctl(15, name.encode("utf-8", "replace")[:15], 0, 0, 0)   # PR_SET_NAME
        except Exception:
            pass
        _bootstrap_inner(self)

    threading.Thread._bootstrap_inner = _named_bootstrap_inner
except Exception:
    pass

try:    # SIGUSR1: every thread's Python stack into the server's log (sent when pages are stuck)
    import faulthandler
    import signal
    faulthandler.register(signal.SIGUSR1, all_threads=True)
except Exception:
    pass
"""

READ = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  const h = [...document.querySelectorAll('h4')].map(e => (e.textContent || '').trim())
                                               .find(t => t.startsWith('run 1:')) || null;
  let pts = 0;
  for (const plot of document.querySelectorAll('.st-key-train_chart_loss .js-plotly-plot')) {
    const trace = (plot._fullData || []).find(t => t.name === 'NumPy batch');
    if (trace) pts = Math.max(pts, trace._length || 0);
  }
  return Object.assign({}, window.__lt || {}, {timer: undefined, ws: window.__ws || null,
    now: Date.now(), lastHeading: h, points: pts,
    conn: app && app.getAttribute('data-test-connection-state'),
    script: app && app.getAttribute('data-test-script-state')});
}"""


# ---- /proc readings ------------------------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                text = f.read()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def tree(pid: int, kids: dict | None = None) -> list[int]:
    kids = _children_map() if kids is None else kids
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _proc_kib(path: str, field: str) -> int:
    """The KiB figure of `field` ("VmRSS:", "Pss:") in a /proc file; 0 if the process is gone."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pid: int) -> int:
    return _proc_kib(f"/proc/{pid}/status", "VmRSS:")


def pss_kib(pid: int) -> int:
    """Proportional set size: resident memory with each shared page divided among the processes
    that share it. The trainer processes are forked from a forkserver that imported torch, so they
    share its pages: summed RSS counts those pages once per process, summed PSS counts them once."""
    return _proc_kib(f"/proc/{pid}/smaps_rollup", "Pss:")


def cpu_s(pid: int, reaped_children: bool = False) -> float:
    """utime + stime of one process, in seconds (0 if it is gone); with reaped_children, plus the
    CPU of its children that have ended and been waited for (a trainer process recycled after its
    50th twin, ...), so that a process tree's sum does not drop when one of them ends."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15 if reaped_children else 13]) / CLK_TCK


def n_threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def thread_kinds(pid: int) -> dict[str, int]:
    """Thread name (digits replaced by #) -> count, from /proc/<pid>/task/*/comm."""
    import re
    kinds: dict[str, int] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kinds
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = re.sub(r"\d+", "#", f.read().strip())
        except OSError:
            continue
        kinds[name] = kinds.get(name, 0) + 1
    return dict(sorted(kinds.items()))


def task_cpu(pid: int) -> dict[int, tuple[str, float, str]]:
    """tid -> (thread name with digits as #, utime + stime in s, name) for every thread of pid."""
    import re
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
        except OSError:
            continue
        raw = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        out[int(tid)] = (re.sub(r"\d+", "#", raw), (int(fields[11]) + int(fields[12])) / CLK_TCK, raw)
    return out


def nn_run_threads(pid: int) -> int:
    return sum(n for name, n in thread_kinds(pid).items() if name.startswith("nn-run"))


def machine_busy_s() -> float:
    """All CPUs' non-idle time since boot, in seconds."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]           # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def find_server(port: int) -> int:
    """The pid of this script's `streamlit run ... --server.port <port>` child."""
    me = os.getpid()
    for pid in tree(me):
        line = cmdline(pid)
        if pid != me and "streamlit run" in line and f"--server.port {port} " in line + " ":
            return pid
    raise RuntimeError(f"streamlit server on port {port} not found among this script's children")


def chromium_pids(server_pid: int) -> set[int]:
    kids = _children_map()
    mine = set(tree(os.getpid(), kids)) - set(tree(server_pid, kids))
    return {p for p in mine if "chrom" in cmdline(p).split(" ")[0]}


def pin(pids, cpus: set[int]) -> int:
    """Set the CPU affinity of every thread of `pids` (new threads and children inherit it)."""
    done = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
                done += 1
            except OSError:
                pass
    return done


def apply_pinning(args, server_pid: int) -> None:
    """--pin: the server's process tree on CPU 0, Chromium on the other CPUs."""
    if args.pin:
        pin(tree(server_pid), {0})
        pin(chromium_pids(server_pid), set(range(1, os.cpu_count())))


class CpuGroups:
    """CPU seconds of the server tree, Chromium, and this driver (+ Playwright's node process)."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid

    def read(self) -> dict:
        kids = _children_map()
        server = set(tree(self.server_pid, kids))
        mine = set(tree(os.getpid(), kids)) - server
        chromium = {p for p in mine if "chrom" in cmdline(p).split(" ")[0]}
        driver = mine - chromium
        return {"server": sum(cpu_s(p, reaped_children=True) for p in server),
                "server_main": cpu_s(self.server_pid),
                "chromium": sum(map(cpu_s, chromium)),
                "driver": sum(map(cpu_s, driver)), "machine": machine_busy_s(),
                "t": time.monotonic()}


class Sampler(threading.Thread):
    """Peak RSS (sum over the server's process tree) and peak thread count, every 0.2 s."""

    def __init__(self, server_pid: int, max_s: float):
        super().__init__(name="rss-sampler", daemon=True)
        self.server_pid, self.max_s = server_pid, max_s
        self.peak_kib = self.peak_pss_kib = self.peak_threads = self.peak_nn_run = 0
        self.samples = 0
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._base: dict | None = None      # tid -> CPU s when mark_start() was called
        self._last: dict = {}               # tid -> (name, CPU s, name) last seen since then
        self.run_threads: dict = {}         # "nn-run12-numpy" -> (first, last seen), wall-clock s

    def _read_tasks(self):
        tasks = task_cpu(self.server_pid)
        now = time.time()
        with self._lock:
            if self._base is not None:
                self._last.update(tasks)
            for _, _, raw in tasks.values():      # nn-run<id>-queue / -numpy / -torch
                if raw.startswith("nn-run"):
                    first, _ = self.run_threads.get(raw, (now, now))
                    self.run_threads[raw] = (first, now)

    def server_side_runs(self, since: float) -> dict[str, dict[str, tuple[float, float]]]:
        """run id -> {"queue"/"numpy"/"torch": (first seen, last seen)} for runs started after
        `since` (wall-clock s), as seen in the server's thread list every 0.2 s."""
        with self._lock:
            seen = dict(self.run_threads)
        runs: dict[str, dict] = {}
        for raw, span in seen.items():
            run_id, _, part = raw[len("nn-run"):].partition("-")
            runs.setdefault(run_id, {})[part] = span
        return {rid: parts for rid, parts in runs.items()
                if min(first for first, _ in parts.values()) >= since}

    def mark_start(self):
        """Start adding up CPU per thread name (threads that end meanwhile keep their last value)."""
        tasks = task_cpu(self.server_pid)
        with self._lock:
            self._base = {tid: cpu for tid, (_, cpu, _) in tasks.items()}
            self._last = dict(tasks)

    def mark_end(self) -> dict[str, float]:
        """Thread name -> CPU s used since mark_start(), largest first."""
        self._read_tasks()
        with self._lock:
            base, last, self._base = self._base or {}, self._last, None
        by_name: dict[str, float] = {}
        for tid, (name, cpu, _) in last.items():
            by_name[name] = by_name.get(name, 0.0) + cpu - base.get(tid, 0.0)
        return dict(sorted(by_name.items(), key=lambda kv: -kv[1]))

    def run(self):
        deadline = time.monotonic() + self.max_s
        while not self._halt.is_set() and time.monotonic() < deadline:
            pids = tree(self.server_pid)
            self.peak_kib = max(self.peak_kib, sum(map(rss_kib, pids)))
            self.peak_pss_kib = max(self.peak_pss_kib, sum(map(pss_kib, pids)))
            self.peak_threads = max(self.peak_threads, n_threads(self.server_pid))
            self.peak_nn_run = max(self.peak_nn_run, nn_run_threads(self.server_pid))
            self._read_tasks()
            self.samples += 1
            self._halt.wait(SAMPLE_EVERY_S)

    def stop(self):
        self._halt.set()
        self.join(timeout=5)


def server_log_size(pid: int) -> int:
    """Size of the server's log (its stdout, a file run_streamlit_server made); 0 if unknown."""
    try:
        return os.path.getsize(os.readlink(f"/proc/{pid}/fd/1"))
    except OSError:
        return 0


def server_log_notes(pid: int, offset: int, limit: int = 6) -> list[str]:
    """Distinct lines about errors or warnings the server logged after `offset` bytes."""
    try:
        with open(os.readlink(f"/proc/{pid}/fd/1"), "rb") as f:
            f.seek(offset)
            text = f.read(4_000_000).decode(errors="replace")
    except OSError:
        return []
    notes: list[str] = []
    for line in text.splitlines():
        if any(word in line for word in ("Traceback", "Error", "error", "Exception", "WARNING", "Warning")):
            line = line.strip()[:220]
            if line not in notes:
                notes.append(line)
    return notes[:limit]


def server_rss_mib(pid: int) -> float:
    return sum(map(rss_kib, tree(pid))) / 1024


# ---- one level -------------------------------------------------------------------------------------
@dataclass
class Level:
    sessions: int
    ready_s: list = field(default_factory=list)       # per session: page open -> Train page ready
    click_lag_s: list = field(default_factory=list)   # actual click - scheduled click
    heading_s: list = field(default_factory=list)     # click -> "run 1: ..." heading
    first_s: list = field(default_factory=list)       # click -> first NumPy point
    done_s: list = field(default_factory=list)        # click -> "run 1: done"
    admitted_s: list = field(default_factory=list)    # click -> leaves the queue
    ends: dict = field(default_factory=dict)          # end heading -> count
    queued: int = 0
    queue_max: int = 0
    ws_kib_per_s: list = field(default_factory=list)  # websocket KiB received per second of run
    ws_msgs_per_s: list = field(default_factory=list) # websocket messages per second of run
    queued_kib_per_s: list = field(default_factory=list)   # the same while waiting in the queue
    queued_msgs_per_s: list = field(default_factory=list)
    redraws_per_s: list = field(default_factory=list) # new loss-chart plot elements per second
    errors: list = field(default_factory=list)
    rss_before: float = 0.0
    rss_peak: float = 0.0             # MiB, summed over the server's process tree
    pss_peak: float = 0.0             # MiB, the same as proportional set size (shared pages once)
    rss_end: float = 0.0
    rss_after: float = 0.0
    threads_before: int = 0
    threads_peak: int = 0
    threads_end: int = 0
    threads_after: int = 0
    nn_run_peak: int = 0            # "nn-run..." threads (needs the thread-name sitecustomize)
    nn_run_end: int = 0
    nn_run_after: int = 0
    stacks_dumped: bool = False     # SIGUSR1 sent: the server's log has every thread's stack
    nn_run_at_close: int = 0        # nn-run threads alive when the tabs were closed
    nn_run_gone_s: float | None = None  # s from closing the first tab until none was left
    kinds_before: dict = field(default_factory=dict)
    kinds_after: dict = field(default_factory=dict)
    settle_s: float = 0.0
    cpu: dict = field(default_factory=dict)
    cpu_by_thread: dict = field(default_factory=dict)   # server thread name -> CPU s (training window)
    srv_started_s: list = field(default_factory=list)   # server side, from the click: Run.start()
    srv_admitted_s: list = field(default_factory=list)  #   ... its twins' threads start (admitted)
    srv_finished_s: list = field(default_factory=list)  #   ... its last thread ends
    srv_train_s: list = field(default_factory=list)     #   the NumPy twin's thread lifetime
    stuck: list = field(default_factory=list)           # what the pages that never ended showed
    log_notes: list = field(default_factory=list)       # server log lines with errors/warnings
    wall_s: float = 0.0
    t_level: float = 0.0                # time.monotonic() when the level began
    barrier_s: float | None = None      # wall-clock time of the click (protocol driver)
    cpu0: dict = field(default_factory=dict)
    load_before: str = ""
    load_after: str = ""

    @property
    def completed(self) -> int:
        return self.ends.get("done", 0)


def open_session(browser, url: str, preset: str, viewport: tuple[int, int]):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                  reduced_motion="reduce", service_workers="block")
    context.add_init_script(WS_COUNTER)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)[:200]))
    return context, page, errors


def wait_train_ready(page, timeout_ms: float) -> None:
    wait_connected(page, timeout_ms)
    wait_script_idle(page, timeout_ms)
    page.wait_for_selector(".st-key-train_chart_loss .js-plotly-plot", state="attached",
                           timeout=timeout_ms)
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train both").wait_for(
        timeout=timeout_ms)


def begin_level(server_pid: int, n: int, args) -> tuple[Level, "Sampler", int]:
    """A level's readings before any session opens; the sampler runs until end_level."""
    lv = Level(sessions=n)
    lv.load_before = loadavg()
    lv.rss_before = server_rss_mib(server_pid)
    lv.threads_before = n_threads(server_pid)
    lv.kinds_before = thread_kinds(server_pid)
    log_offset = server_log_size(server_pid)
    sampler = Sampler(server_pid, max_s=args.timeout + 600)
    sampler.start()
    lv.t_level = time.monotonic()
    return lv, sampler, log_offset


def after_training(lv: Level, sampler: "Sampler", server_pid: int, barrier_s: float, cpu0: dict) -> None:
    """What the server did between the click (barrier_s, wall clock) and now."""
    cpu1 = CpuGroups(server_pid).read()
    lv.cpu_by_thread = sampler.mark_end()
    time.sleep(2 * SAMPLE_EVERY_S)      # one more look at the thread list
    for parts in sampler.server_side_runs(since=barrier_s - 0.5).values():
        # A run's driver thread, "nn-run<id>" (part ""), lives from Run.start() to the run's end;
        # its twins train in worker processes, so admission is seen only by the page.
        started = parts.get("queue") or parts.get("")
        if started:
            lv.srv_started_s.append(started[0] - barrier_s)
            lv.srv_finished_s.append(max(last for _, last in parts.values()) - barrier_s)
        if "numpy" in parts:
            lv.srv_admitted_s.append(parts["numpy"][0] - barrier_s)
            lv.srv_train_s.append(parts["numpy"][1] - parts["numpy"][0])
    lv.rss_end = server_rss_mib(server_pid)
    lv.threads_end = n_threads(server_pid)
    lv.nn_run_end = nn_run_threads(server_pid)
    span = cpu1["t"] - cpu0["t"]
    lv.cpu = {k: cpu1[k] - cpu0[k] for k in ("server", "server_main", "chromium", "driver", "machine")}
    lv.cpu["span"] = span


def end_level(lv: Level, sampler: "Sampler", server_pid: int, args, log_offset: int) -> None:
    """After the sessions closed: let the server end their threads, then read it again."""
    # Let the server notice the closed websockets and end the sessions' threads: wait until
    # no nn-run thread is left and the thread count has not changed for 2 s (bounded).
    closing = closed = time.monotonic()
    last, stable_since = n_threads(server_pid), time.monotonic()
    while time.monotonic() - closed < args.settle:
        time.sleep(0.25)
        now = n_threads(server_pid)
        left = nn_run_threads(server_pid)
        if left == 0 and lv.nn_run_gone_s is None:
            lv.nn_run_gone_s = time.monotonic() - closing
        if now != last:
            last, stable_since = now, time.monotonic()
        elif left == 0 and time.monotonic() - stable_since >= 2.0:
            break
    lv.settle_s = time.monotonic() - closed
    sampler.stop()
    lv.rss_peak = sampler.peak_kib / 1024
    lv.pss_peak = sampler.peak_pss_kib / 1024
    lv.threads_peak = sampler.peak_threads
    lv.rss_after = server_rss_mib(server_pid)
    lv.threads_after = n_threads(server_pid)
    lv.nn_run_peak = sampler.peak_nn_run
    lv.nn_run_after = nn_run_threads(server_pid)
    lv.kinds_after = thread_kinds(server_pid)
    lv.log_notes = server_log_notes(server_pid, log_offset)
    lv.load_after = loadavg()
    lv.wall_s = time.monotonic() - lv.t_level


def dump_stacks_if_stuck(lv: Level, server_pid: int, args) -> None:
    if lv.stuck and not args.no_thread_names:
        import signal
        os.kill(server_pid, signal.SIGUSR1)     # stacks of a server whose pages are stuck
        lv.stacks_dumped = True
        time.sleep(1.0)


def run_level(browser, url: str, server_pid: int, n: int, args) -> Level:
    """One level with N Chromium contexts (--driver browser)."""
    lv, sampler, log_offset = begin_level(server_pid, n, args)
    sessions = []
    try:
        # Open every session's "/" first (pipelined: navigations overlap), then its Train page.
        opened = time.monotonic()
        for _ in range(n):
            sessions.append(open_session(browser, url, args.preset, args.viewport))
        for _, page, _ in sessions:
            page.goto(f"{url}/", wait_until="commit", timeout=PAGE_READY_TIMEOUT_MS)
        for _, page, _ in sessions:
            wait_connected(page, PAGE_READY_TIMEOUT_MS)
            wait_script_idle(page, PAGE_READY_TIMEOUT_MS)
        for _, page, _ in sessions:
            page.goto(f"{url}/train?{args.preset}", wait_until="commit", timeout=PAGE_READY_TIMEOUT_MS)
        for _, page, _ in sessions:
            wait_train_ready(page, PAGE_READY_TIMEOUT_MS)
            lv.ready_s.append(time.monotonic() - opened)
        apply_pinning(args, server_pid)      # new renderer processes: pinned like their parent
        time.sleep(1.0)     # let the pages' last redraws settle before the barrier

        # The barrier: every page clicks at the same wall-clock instant.
        now_ms = sessions[0][1].evaluate("Date.now()")
        at = now_ms + 1500 + 20 * n
        limit_ms = args.timeout * 1000
        for _, page, _ in sessions:
            page.evaluate(ARM, [at, limit_ms])
        cpu0 = CpuGroups(server_pid).read()
        sampler.mark_start()

        # Wait for every page to end its run (or the timeout), reading the pages once a second.
        deadline = time.monotonic() + (at - now_ms) / 1000 + args.timeout + 5
        if args.close_after is not None:      # close the tabs mid-run: do their runs stop?
            deadline = time.monotonic() + (at - now_ms) / 1000 + args.close_after
        results = [None] * n
        while time.monotonic() < deadline:
            results = [page.evaluate(READ) for _, page, _ in sessions]
            if all(r.get("end") is not None for r in results):
                break
            time.sleep(1.0)
        after_training(lv, sampler, server_pid, at / 1000, cpu0)

        for (_, page, errors), r in zip(sessions, results):
            clicked = r.get("clicked")
            if clicked is None:
                lv.errors.append("never clicked")
                lv.ends["not clicked"] = lv.ends.get("not clicked", 0) + 1
                continue
            lv.click_lag_s.append((clicked - r["target"]) / 1000)
            for key, out in (("heading", lv.heading_s), ("firstPoint", lv.first_s),
                             ("admitted", lv.admitted_s)):
                if r.get(key) is not None:
                    out.append((r[key] - clicked) / 1000)
            end_text = r.get("endText") or ""
            kind = end_text.split(":", 1)[1].strip().split(" ")[0] if end_text else "timeout"
            if not end_text:
                lv.stuck.append(f"heading {r.get('lastHeading')!r}, {r.get('points')} NumPy points, "
                                f"connection {r.get('conn')}, script {r.get('script')}")
            lv.ends[kind] = lv.ends.get(kind, 0) + 1
            if kind == "done":
                lv.done_s.append((r["end"] - clicked) / 1000)
            span_s = max(0.001, ((r.get("end") or r["now"]) - clicked) / 1000)
            if r.get("ws"):
                lv.ws_kib_per_s.append((r["ws"]["bytes"] - r["wsBytes0"]) / 1024 / span_s)
                lv.ws_msgs_per_s.append((r["ws"]["msgs"] - r["wsMsgs0"]) / span_s)
                wait_s = ((r.get("admitted") or 0) - clicked) / 1000
                if r.get("queued") and r.get("wsBytesAdmit") is not None and wait_s > 1:
                    lv.queued_kib_per_s.append((r["wsBytesAdmit"] - r["wsBytes0"]) / 1024 / wait_s)
                    lv.queued_msgs_per_s.append((r["wsMsgsAdmit"] - r["wsMsgs0"]) / wait_s)
            lv.redraws_per_s.append(r.get("redraws", 0) / span_s)
            if r.get("queued"):
                lv.queued += 1
                lv.queue_max = max(lv.queue_max, r.get("queueMax", 0))
            if r.get("error"):
                lv.errors.append(r["error"])
            lv.errors.extend(errors)
        dump_stacks_if_stuck(lv, server_pid, args)
    finally:
        lv.nn_run_at_close = nn_run_threads(server_pid)
        for context, _, _ in sessions:
            try:
                context.close()
            except Exception as e:      # a crashed page must not stop the measurement
                lv.errors.append(f"close: {type(e).__name__}: {e}"[:200])
        end_level(lv, sampler, server_pid, args, log_offset)
    return lv


def run_level_protocol(url: str, server_pid: int, n: int, args) -> Level:
    """One level with N browser-free sessions (--driver protocol): benchmarks/st_client.py speaks
    Streamlit's websocket protocol to the server, as the frontend would, from one asyncio loop."""
    import asyncio

    from st_client import ProtocolSession

    lv, sampler, log_offset = begin_level(server_pid, n, args)

    async def play() -> list:
        sessions = [ProtocolSession(url, "train", args.preset) for _ in range(n)]
        try:
            opened = time.time()
            # Open the sessions a few at a time, as a class's browsers would trickle in.
            for i in range(0, n, 5):
                await asyncio.gather(*(s.open(PAGE_READY_TIMEOUT_MS / 1000) for s in sessions[i:i + 5]))
            lv.ready_s.extend(s.ready - opened for s in sessions)
            await asyncio.sleep(1.0)
            at = time.time() + 0.5
            lv.barrier_s = at
            lv.cpu0 = CpuGroups(server_pid).read()
            sampler.mark_start()
            await asyncio.sleep(at - time.time())
            await asyncio.gather(*(s.click("Train both") for s in sessions))
            limit = args.close_after if args.close_after is not None else args.timeout
            deadline = time.time() + limit
            while time.time() < deadline and not all(s.end for s in sessions):
                await asyncio.sleep(0.25)
            return sessions
        finally:
            if lv.barrier_s is not None:
                after_training(lv, sampler, server_pid, lv.barrier_s, lv.cpu0)
            lv.nn_run_at_close = nn_run_threads(server_pid)
            await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)

    try:
        sessions = asyncio.run(play())
        for s in sessions:
            lv.click_lag_s.append(s.clicked - lv.barrier_s)
            for value, out in ((s.heading, lv.heading_s), (s.first_point, lv.first_s),
                               (s.admitted, lv.admitted_s)):
                if value is not None:
                    out.append(value - s.clicked)
            kind = s.end_text.split(":", 1)[1].strip().split(" ")[0] if s.end_text else "timeout"
            lv.ends[kind] = lv.ends.get(kind, 0) + 1
            if not s.end_text:
                lv.stuck.append(f"heading {s.last_heading!r}, first point "
                                f"{'seen' if s.first_point else 'not seen'}")
            if kind == "done":
                lv.done_s.append(s.end - s.clicked)
            span_s = max(0.001, (s.end or time.time()) - s.clicked)
            lv.ws_kib_per_s.append((s.bytes - s.bytes_at_click) / 1024 / span_s)
            lv.ws_msgs_per_s.append((s.msgs - s.msgs_at_click) / span_s)
            if s.queue_max:
                lv.queued += 1
                lv.queue_max = max(lv.queue_max, s.queue_max)
            if s.exception:
                lv.errors.append(f"exception on the page: {s.exception}")
            lv.errors.extend(s.errors)
        dump_stacks_if_stuck(lv, server_pid, args)
    finally:
        end_level(lv, sampler, server_pid, args, log_offset)
    return lv


# ---- report ----------------------------------------------------------------------------------------
def med(values) -> float:
    return statistics.median(values) if values else float("nan")


def worst(values) -> float:
    return max(values) if values else float("nan")


def fmt(x: float, digits: int = 2) -> str:
    return "-" if x != x else f"{x:.{digits}f}"


HEADER = (f"{'sessions':>8} | {'done/sess':>9} | {'1st pt med':>10} | {'1st pt max':>10} | "
          f"{'done med':>8} | {'peak RSS MiB':>12} | {'peak PSS MiB':>12} | {'server CPU':>10} | {'workers CPU':>11} | {'frozen':>6}")


def cores_used(lv: Level, key: str) -> float:
    span = lv.cpu.get("span", float("nan"))
    return lv.cpu.get(key, float("nan")) / span if span == span and span > 0 else float("nan")


def row(lv: Level) -> str:
    """Peak RSS: the server and its trainer processes; CPU in cores while the runs lasted: the
    server's own process, and its children (the trainer processes and their forkserver)."""
    workers = lv.cpu.get("server", float("nan")) - lv.cpu.get("server_main", float("nan"))
    span = lv.cpu.get("span", float("nan"))
    return (f"{lv.sessions:>8} | {f'{lv.completed}/{lv.sessions}':>9} | {fmt(med(lv.first_s)) + ' s':>10} | "
            f"{fmt(worst(lv.first_s)) + ' s':>10} | {fmt(med(lv.done_s), 1) + ' s':>8} | "
            f"{fmt(lv.rss_peak, 0):>12} | {fmt(lv.pss_peak, 0):>12} | {fmt(cores_used(lv, 'server_main')):>10} | "
            f"{fmt(workers / span if span == span and span > 0 else float('nan')):>11} | {len(lv.stuck):>6}")


def details(lv: Level) -> str:
    c = lv.cpu
    span = c.get("span", float("nan"))
    cores = lambda s: fmt(s / span, 2) if span == span and span > 0 else "-"   # noqa: E731
    other = c.get("machine", 0) - c.get("server", 0) - c.get("chromium", 0) - c.get("driver", 0)
    lines = [
        f"  level {lv.sessions}: load {lv.load_before} -> {lv.load_after}; wall {lv.wall_s:.0f} s; "
        f"pages ready {fmt(max(lv.ready_s, default=float('nan')), 1)} s after opening",
        f"    click lag behind the barrier: med {fmt(med(lv.click_lag_s))} s, max {fmt(worst(lv.click_lag_s))} s; "
        f"click -> 'run 1:' heading med {fmt(med(lv.heading_s))} s, max {fmt(worst(lv.heading_s))} s",
        f"    click -> admitted (left the queue) med {fmt(med(lv.admitted_s))} s, max {fmt(worst(lv.admitted_s))} s; "
        f"sessions that saw 'number N in the queue': {lv.queued} (largest N: {lv.queue_max}); "
        f"time to done max {fmt(worst(lv.done_s), 1)} s",
        f"    ends: {dict(sorted(lv.ends.items()))}",
        f"    CPU while training ({fmt(span, 1)} s): server {fmt(c.get('server', float('nan')), 1)} s "
        f"({cores(c.get('server', 0))} cores), Chromium {fmt(c.get('chromium', float('nan')), 1)} s "
        f"({cores(c.get('chromium', 0))} cores), driver {fmt(c.get('driver', float('nan')), 1)} s, "
        f"other {fmt(other, 1)} s; machine busy {cores(c.get('machine', 0))} of {os.cpu_count()} cores",
        f"    per session while its run lasts (med): websocket {fmt(med(lv.ws_kib_per_s), 0)} KiB/s in "
        f"{fmt(med(lv.ws_msgs_per_s), 1)} messages/s; new loss-chart plot elements "
        f"{fmt(med(lv.redraws_per_s), 1)}/s"
        + (f"; while queued: {fmt(med(lv.queued_kib_per_s), 0)} KiB/s in "
           f"{fmt(med(lv.queued_msgs_per_s), 1)} messages/s" if lv.queued_kib_per_s else ""),
        f"    server RSS MiB: before {lv.rss_before:.0f}, peak {lv.rss_peak:.0f}, at the end {lv.rss_end:.0f}, "
        f"after closing {lv.rss_after:.0f}; threads: before {lv.threads_before}, peak {lv.threads_peak}, "
        f"at the end {lv.threads_end}, after closing {lv.threads_after} "
        f"(settled for {lv.settle_s:.1f} s)",
        f"    nn-run training threads: peak {lv.nn_run_peak}, at the end {lv.nn_run_end}, "
        f"when the tabs closed {lv.nn_run_at_close}, after closing {lv.nn_run_after}"
        + (f" (none left {lv.nn_run_gone_s:.2f} s after the first tab closed, +-0.25 s)"
           if lv.nn_run_at_close and lv.nn_run_gone_s is not None else "") + ("" if lv.kinds_before else " (thread names not available)"),
        f"    server threads by name, before -> after closing: {kinds_diff(lv.kinds_before, lv.kinds_after)}",
        f"    server side (from its thread list, +-{SAMPLE_EVERY_S:g} s; {len(lv.srv_started_s)} runs seen): "
        f"click -> run started med {fmt(med(lv.srv_started_s))} s max {fmt(worst(lv.srv_started_s))} s; "
        f"-> admitted med {fmt(med(lv.srv_admitted_s))} s max {fmt(worst(lv.srv_admitted_s))} s; "
        f"-> run's threads ended med {fmt(med(lv.srv_finished_s))} s max {fmt(worst(lv.srv_finished_s))} s; "
        f"NumPy twin trained for med {fmt(med(lv.srv_train_s))} s",
        "    server CPU s by thread name while training: "
        + (", ".join(f"{name} {cpu:.1f}" for name, cpu in list(lv.cpu_by_thread.items())[:7]) or "-"),
    ]
    if lv.stuck:
        states: dict[str, int] = {}
        for state in lv.stuck:
            states[state] = states.get(state, 0) + 1
        lines.append(f"    pages that never showed an end ({len(lv.stuck)}), as they were at the timeout: "
                     + "; ".join(f"{n} x [{state}]" for state, n in
                                 sorted(states.items(), key=lambda kv: -kv[1])[:4]))
    if lv.log_notes:
        lines.append("    server log: " + " | ".join(lv.log_notes))
    if lv.stacks_dumped:
        lines.append("    the server's thread stacks were dumped into its log (SIGUSR1; see --server-log)")
    if lv.errors:
        shown = sorted(set(lv.errors))[:5]
        lines.append(f"    errors ({len(lv.errors)}): {shown}")
    return "\n".join(lines)


def kinds_diff(before: dict, after: dict) -> str:
    names = sorted(set(before) | set(after))
    changed = [f"{name} {before.get(name, 0)}->{after.get(name, 0)}" for name in names
               if before.get(name, 0) != after.get(name, 0)]
    return ", ".join(changed) if changed else "no change"


def goal_line(levels: list[Level]) -> str:
    at_goal = [lv for lv in levels if lv.sessions == GOAL_SESSIONS]
    if not at_goal:
        top = max(levels, key=lambda lv: lv.sessions)
        return (f"GOAL (at {GOAL_SESSIONS} sessions): not measured (largest level: {top.sessions} "
                f"sessions, {top.completed}/{top.sessions} done, peak RSS {top.rss_peak:.0f} MiB, "
                f"median first point {fmt(med(top.first_s))} s)")
    lv = at_goal[0]
    checks = [
        (lv.completed == lv.sessions, f"all complete: {lv.completed}/{lv.sessions}"),
        (lv.rss_peak < GOAL_RSS_MIB, f"peak RSS summed over server + workers {lv.rss_peak:.0f} MiB < {GOAL_RSS_MIB} "
                                     f"(PSS {lv.pss_peak:.0f} MiB)"),
        (med(lv.first_s) <= GOAL_FIRST_POINT_S,
         f"median first point {fmt(med(lv.first_s))} s <= {GOAL_FIRST_POINT_S:g} s"),
        (worst(lv.first_s) <= GOAL_WORST_POINT_S,
         f"worst first point {fmt(worst(lv.first_s))} s <= {GOAL_WORST_POINT_S:g} s"),
        (not lv.stuck, f"frozen sessions: {len(lv.stuck)}"),
    ]
    verdict = "MET" if all(ok for ok, _ in checks) else "MISSED"
    return (f"GOAL at {GOAL_SESSIONS} sessions: {verdict} -- "
            + "; ".join(f"{text} [{'ok' if ok else 'no'}]" for ok, text in checks))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="1,5,10,30", help="sessions per level, e.g. 1,5,10,30")
    ap.add_argument("--quick", action="store_true", help="levels 1,5 only")
    ap.add_argument("--slots", type=int, default=None,
                    help="NN_MAX_CONCURRENT_RUNS for the server (default: the app's default)")
    ap.add_argument("--preset", default="hidden=32&epochs=2", help="query string of /train")
    ap.add_argument("--timeout", type=float, default=180.0, help="s from the click to 'run 1: done'")
    ap.add_argument("--viewport", default="800x600", help="each page's viewport, WxH")
    ap.add_argument("--settle", type=float, default=20.0,
                    help="max s to wait after closing a level's pages for the server's threads")
    ap.add_argument("--close-after", type=float, default=None, metavar="S",
                    help="close every tab S s after the click, finished or not (with a long preset: "
                         "shows whether the server stops the runs of closed tabs)")
    ap.add_argument("--server-log", metavar="PATH", default=None,
                    help="copy the server's log (stdout and stderr) to PATH at the end")
    ap.add_argument("--pin", action="store_true",
                    help="server on CPU 0, Chromium on the other CPUs (the server then has a core "
                         "of its own, as when the students' browsers run on their own machines)")
    ap.add_argument("--no-thread-names", action="store_true",
                    help="don't name the server's threads in /proc (then only their count is shown)")
    ap.add_argument("--max-sessions", type=int, default=60, help="refuse levels above this")
    ap.add_argument("--driver", choices=("protocol", "browser"), default="protocol",
                    help="protocol (default): each student is a browser-free Streamlit session "
                         "(benchmarks/st_client.py) on the server's own websocket protocol; "
                         "browser: each student is a headless Chromium context")
    ap.add_argument("--repeat", type=int, default=1, metavar="K",
                    help="play the whole sequence of levels K times on the same server")
    args = ap.parse_args(argv)
    levels = [1, 5] if args.quick else [int(x) for x in args.levels.split(",") if x.strip()]
    if not levels or min(levels) < 1 or max(levels) > args.max_sessions:
        ap.error(f"levels must be 1..{args.max_sessions}")
    w, h = args.viewport.lower().split("x")
    args.viewport = (int(w), int(h))
    args.preset = args.preset.lstrip("?")

    from nn_core.limits import Limits
    env = {"NN_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if args.slots is not None:
        env["NN_MAX_CONCURRENT_RUNS"] = str(args.slots)
    names_dir = None
    if not args.no_thread_names:
        import tempfile
        names_dir = tempfile.mkdtemp(prefix="load-test-thread-names-")
        Path(names_dir, "sitecustomize.py").write_text(THREAD_NAMES_SITECUSTOMIZE)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [names_dir, os.environ.get("PYTHONPATH")]))
    slots = args.slots if args.slots is not None else (
        os.environ.get("NN_MAX_CONCURRENT_RUNS") or Limits().max_concurrent_runs)
    if args.pin and (os.cpu_count() or 1) < 2:
        ap.error("--pin needs at least 2 CPUs")
    print(f"load test: levels {levels} x {args.repeat}, driver {args.driver}, preset /train?{args.preset}, "
          f"run slots {slots}, timeout {args.timeout:g} s"
          + (f", viewport {args.viewport[0]}x{args.viewport[1]}" if args.driver == "browser" else "")
          + (", server pinned to CPU 0 and Chromium to the others" if args.pin else ""))
    print(f"machine: {os.cpu_count()} cores, load average {loadavg()} at start")

    results: list[Level] = []
    port = free_port()
    try:
        run_all(args, env, port, levels * args.repeat, results)
    finally:
        if names_dir:
            import shutil
            shutil.rmtree(names_dir, ignore_errors=True)

    print()
    sharing = ("server on CPU 0, Chromium on the rest" if args.pin
               else f"{os.cpu_count()} cores shared with Chromium" if args.driver == "browser"
               else f"{os.cpu_count()} cores, no browsers")
    print(f"=== summary (driver {args.driver}, preset /train?{args.preset}, run slots {slots}, NN_THREADS=1, "
          f"{sharing}; load average {loadavg()} at the end) ===")
    print(HEADER)
    print("-" * len(HEADER))
    for i in range(0, len(results), len(levels)):
        sequence = results[i:i + len(levels)]
        if args.repeat > 1:
            print(f"sequence {i // len(levels) + 1} of {args.repeat}:")
        for lv in sequence:
            print(row(lv))
        if sequence:
            print(goal_line(sequence))
    if args.repeat > 1:
        frozen = [len(lv.stuck) for lv in results]
        print(f"{args.repeat} sequences: {sum(f == 0 for f in frozen)} of {len(frozen)} levels with no frozen "
              f"session; {sum(frozen)} frozen sessions in all")
    return 0


def run_all(args, env: dict, port: int, levels: list[int], results: list) -> None:
    with run_streamlit_server("streamlit_app.py", env=env, port=port) as url:
        server_pid = find_server(port)
        print(f"server: pid {server_pid} at {url}; RSS {server_rss_mib(server_pid):.0f} MiB, "
              f"{n_threads(server_pid)} threads before any session: {thread_kinds(server_pid)}")
        try:
            if args.driver == "browser":
                run_browser_levels(args, url, server_pid, levels, results)
            else:
                run_protocol_levels(args, url, server_pid, levels, results)
        finally:
            if args.server_log:      # the log is deleted when the server stops: keep a copy
                try:
                    import shutil
                    shutil.copyfile(os.readlink(f"/proc/{server_pid}/fd/1"), args.server_log)
                    print(f"server log copied to {args.server_log}")
                except OSError as e:
                    print(f"could not copy the server log: {e}")


def report_level(lv: Level, results: list) -> None:
    results.append(lv)
    print(HEADER)
    print(row(lv))
    print(details(lv), flush=True)


def after_warm_up(server_pid: int) -> None:
    print(f"after warm-up: RSS {server_rss_mib(server_pid):.0f} MiB, "
          f"{n_threads(server_pid)} threads {thread_kinds(server_pid)}, load {loadavg()}", flush=True)


def run_protocol_levels(args, url: str, server_pid: int, levels: list[int], results: list) -> None:
    import asyncio

    from st_client import ProtocolSession

    async def warm_up():
        # One session opens the Train page, so the server has imported plotly and loaded the data
        # before the first level (as after the teacher's own check).
        session = ProtocolSession(url, "train", args.preset)
        await session.open(PAGE_READY_TIMEOUT_MS / 1000)
        await asyncio.sleep(2)
        await session.close()

    asyncio.run(warm_up())
    time.sleep(2)
    after_warm_up(server_pid)
    for n in levels:
        print(f"... level {n}: opening {n} sessions", flush=True)
        report_level(run_level_protocol(url, server_pid, n, args), results)


def run_browser_levels(args, url: str, server_pid: int, levels: list[int], results: list) -> None:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise FileNotFoundError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                  "--mute-audio", "--disable-extensions"])
        apply_pinning(args, server_pid)
        try:
            # Warm-up: one session opens both pages, so the server has imported torch and plotly
            # and loaded the data before the first level (as after the teacher's own check).
            context, page, _ = open_session(browser, url, args.preset, args.viewport)
            page.goto(f"{url}/", wait_until="domcontentloaded")
            wait_connected(page, PAGE_READY_TIMEOUT_MS)
            wait_script_idle(page, PAGE_READY_TIMEOUT_MS)
            page.goto(f"{url}/train?{args.preset}", wait_until="domcontentloaded")
            wait_train_ready(page, PAGE_READY_TIMEOUT_MS)
            time.sleep(3)
            context.close()
            time.sleep(2)
            after_warm_up(server_pid)
            for n in levels:
                print(f"... level {n}: opening {n} sessions", flush=True)
                report_level(run_level(browser, url, server_pid, n, args), results)
        finally:
            browser.close()


if __name__ == "__main__":
    sys.exit(main())
