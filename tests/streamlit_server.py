"""Helpers for tests that need the real app served over HTTP (not a test module).

    with run_streamlit_server() as url:          # url = "http://127.0.0.1:<port>"
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page()
            page.goto(url + "/")
            wait_connected(page)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO_ROOT / "tests" / "artifacts"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

STARTUP_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0

SERVER_PIDS: dict[str, int] = {}   # base URL -> pid of the `streamlit run` process serving it

APP_CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
APP_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, chars: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "<no server log>"
    return text[-chars:] if text else "<server log is empty>"


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group; SIGKILL it if still there after STOP_GRACE_S."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_GRACE_S)


@contextlib.contextmanager
def run_streamlit_server(
    app_path: str | os.PathLike = "streamlit_app.py",
    env: Mapping[str, str] | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """Serve `app_path` (relative to the repo root, or absolute) with `streamlit run`.

    Runs from the repo root, so the repo's .streamlit/config.toml applies. `env` is merged over
    os.environ; the server gets a fresh run store (NN_DB) unless `env` names one. Yields the base
    URL without a trailing slash once /_stcore/health answers "ok";
    raises RuntimeError with the server log's tail if that doesn't happen within 60 s. On exit the
    whole process group is stopped; if the `with` body raised, the log tail goes to stderr (pytest
    shows it with the failure).
    """
    app = Path(app_path)
    if not app.is_absolute():
        app = REPO_ROOT / app
    if not app.is_file():
        raise FileNotFoundError(f"Streamlit app not found: {app}")

    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]
    # A run store of its own (NN_DB), unless the caller gives one (to restart on the same store).
    store_dir = tempfile.mkdtemp(prefix="streamlit-store-")
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "NN_DB": os.path.join(store_dir, "runs.sqlite3"),
                **(env or {})}

    fd, log_name = tempfile.mkstemp(prefix="streamlit-server-", suffix=".log")
    log_path = Path(log_name)
    with os.fdopen(fd, "wb") as log_file:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group, so _stop reaches any children too
        )
    try:
        _wait_healthy(proc, base_url, log_path)
        SERVER_PIDS[base_url] = proc.pid
        try:
            yield base_url
        except BaseException:
            sys.stderr.write(f"--- streamlit server log ({app.name}) ---\n{_log_tail(log_path)}\n")
            raise
    finally:
        SERVER_PIDS.pop(base_url, None)
        _stop(proc)
        with contextlib.suppress(OSError):
            log_path.unlink()
        shutil.rmtree(store_dir, ignore_errors=True)


def _wait_healthy(proc: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    health = f"{base_url}/_stcore/health"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with code {proc.returncode} before answering {health}:\n"
                f"{_log_tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(health, timeout=2) as resp:
                if resp.status == 200 and resp.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{health} did not answer 'ok' within {STARTUP_TIMEOUT_S:.0f} s:\n"
                f"{_log_tail(log_path)}"
            )
        time.sleep(0.2)


def launch_chromium(playwright, **kwargs):
    """Headless Debian Chromium via Playwright (Playwright's own browser download fails here)."""
    if not os.path.exists(CHROMIUM):
        raise FileNotFoundError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    kwargs.setdefault("headless", True)
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), **kwargs
    )


def wait_connected(page, timeout_ms: float = 30_000) -> None:
    """Wait until the page's websocket to the Streamlit server is connected."""
    page.wait_for_selector(APP_CONNECTED, state="attached", timeout=timeout_ms)


def wait_script_idle(page, timeout_ms: float = 60_000) -> None:
    """Wait until the current script run has finished (data-test-script-state='notRunning')."""
    page.wait_for_selector(APP_IDLE, state="attached", timeout=timeout_ms)


def session_processes(session_id: int) -> list[int]:
    """Pids of the processes (zombies included) in this session: a server started by
    run_streamlit_server leads its own session, so these are the server and everything it started."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session_id:        # stat field 6: the session id
            pids.append(int(entry))
    return pids


def has_loaded(pid: int, library: str) -> bool:
    """True if the process has a shared library whose path contains `library` mapped (libtorch_cpu:
    it has imported torch)."""
    with open(f"/proc/{pid}/maps") as f:
        return library in f.read()
