"""deploy/replicas.sh: two replicas behind HAProxy. Two browser sessions land on different replicas
(sticky cookie, websockets through HAProxy), both train to the end; stopping one replica leaves the
other replica's session training."""

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from streamlit_server import REPO_ROOT, free_port, launch_chromium, wait_connected, wait_script_idle

pytestmark = pytest.mark.browser

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
PRESET = "hidden=16&epochs=2"
COOKIE = "NNREPLICA"


def command_line(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:100]
    except OSError:
        return "?"


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.read().strip() == b"ok"
    except OSError:
        return False


def start_replicas(n: int, port: int, log: Path) -> tuple[subprocess.Popen, dict]:
    """bash deploy/replicas.sh n port; returns the process and {"r1": pid, ...} once it is ready."""
    out = open(log, "w")
    proc = subprocess.Popen(["bash", "deploy/replicas.sh", str(n), str(port)], cwd=REPO_ROOT,
                            env={**os.environ, "BIND": "127.0.0.1", "REPLICA_LOG_DIR": str(log.parent)},
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        text = log.read_text()
        if "replicas.sh: ready" in text and healthy(f"http://127.0.0.1:{port}"):
            return proc, {m[0]: int(m[1]) for m in re.findall(r"replica (r\d+): pid (\d+)", text)}
        assert proc.poll() is None, text
        time.sleep(0.3)
    raise AssertionError(f"replicas not ready: {log.read_text()}")


def train_to_done(page, run: int) -> None:
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train both").click()
    page.get_by_role("heading", name=f"run {run}: done").wait_for(timeout=90_000)


@pytest.mark.skipif(not os.path.exists(HAPROXY) and not os.environ.get("CI"),
                    reason="haproxy not installed (apt-get install -y haproxy)")
def test_two_replicas_behind_haproxy_sticky_and_one_can_stop(tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc, replicas = start_replicas(2, port, tmp_path / "replicas.log")
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                sessions = {}            # replica name -> page, one session on each replica
                for _ in range(4):
                    context = browser.new_context(viewport={"width": 1200, "height": 900})
                    page = context.new_page()
                    page.goto(f"{url}/train?{PRESET}", wait_until="domcontentloaded")
                    wait_connected(page, 60_000)
                    wait_script_idle(page, 60_000)
                    replica = {c["name"]: c["value"] for c in context.cookies()}.get(COOKIE)
                    assert replica in replicas, (replica, context.cookies())
                    if replica in sessions:
                        context.close()
                    else:
                        sessions[replica] = page
                    if len(sessions) == 2:
                        break
                assert sorted(sessions) == ["r1", "r2"], "round robin should put 2 sessions on 2 replicas"

                for page in sessions.values():      # both train at once, each on its own replica
                    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train both").click()
                for page in sessions.values():
                    page.get_by_role("heading", name="run 1: done").wait_for(timeout=90_000)

                os.kill(replicas["r1"], signal.SIGTERM)           # stop one replica
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and healthy(f"http://127.0.0.1:{port + 1}"):
                    time.sleep(0.2)
                assert not healthy(f"http://127.0.0.1:{port + 1}"), "replica r1 did not stop"

                survivor = sessions["r2"]                          # its session carries on
                train_to_done(survivor, 2)
                assert survivor.locator("[data-testid='stException']").count() == 0
                assert {c["name"]: c["value"] for c in survivor.context.cookies()}[COOKIE] == "r2"
            finally:
                browser.close()
    finally:
        os.kill(proc.pid, signal.SIGINT)        # Ctrl-C: the script stops HAProxy and the replicas
        try:
            proc.wait(timeout=30)
        finally:
            time.sleep(1.0)
            pids = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split()
            left = [f"{pid}: {command_line(pid)}" for pid in pids if Path(f"/proc/{pid}").exists()]
            if left:
                os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"processes left after Ctrl-C: {left}"
