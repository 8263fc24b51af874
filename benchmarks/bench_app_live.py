"""How much do the live charts cost? Run with: .venv/bin/python benchmarks/bench_app_live.py

Prints
  1. the time from a click on "Train both" to the first NumPy point in the loss chart, in a real
     browser (headless Chromium driving the real server; goal < 1 s), and
  2. the training throughput (samples/s) of each twin with the charts live in the browser, against
     the same run headless (nn_core.run.Run, as the CLI drives it, with the same trainer processes
     and thread caps) from a plain Python process. Runs alternate, headless / browser / headless / ..., because the
     machine's load drifts; each browser run is compared with the mean of its two neighbours
     (goal >= 0.8).

Two set-ups: "shared", where the browser draws on the same cores as the server (as on a laptop
that serves itself), and "pinned", where the server and the headless runs share CPU 0 and the
browser has CPU 1 (as in a classroom, where the browsers run on the students' machines). Every
chart redraw is a full plotly re-plot in the browser (Streamlit gives a chart whose data changed a
new element), so with 2 cores the shared set-up mostly measures the browser's drawing.
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import pandas as pd  # noqa: E402

from app_support.train_settings import settings_from_config, settings_to_query  # noqa: E402
from nn_core.config import TrainConfig  # noqa: E402
from nn_core.data import load_shipped_sample, make_split  # noqa: E402
from nn_core.run import Run, run_to_end  # noqa: E402
from nn_core.threads import configured_threads  # noqa: E402
from streamlit_server import launch_chromium, run_streamlit_server, wait_script_idle  # noqa: E402
from test_browser_train import NUMPY_LOSS_POINTS, open_train_page  # noqa: E402

TWINS = ("numpy", "torch")


def throughput(records: pd.DataFrame) -> dict:
    """impl -> samples per second of wall-clock time over the whole run (from its last record)."""
    result = {}
    for impl, rows in records.groupby("impl"):
        last = rows.sort_values("step").iloc[-1]
        result[impl] = last["samples_seen"] / last["wall_time"]
    return result


def headless(config: TrainConfig) -> dict:
    """Train both twins with no app at all, through the same Run and trainer processes the server
    uses (same thread caps: each worker applies NN_THREADS)."""
    split = make_split(load_shipped_sample(), config.val_fraction, config.seed)
    run = run_to_end(Run(config, split, impls=TWINS))
    assert run.status == "done", run.messages()
    rows = [r.to_dict() for impl in TWINS for r in run.records(impl)]
    return throughput(pd.DataFrame(rows))


def click_train(page):
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train both").click()


def train_in_browser(page, n: int) -> tuple[float, dict]:
    """Click Train both (run n of the page), wait for the end; (s to first point, throughput)."""
    click_train(page)
    clicked = time.perf_counter()
    page.get_by_role("heading", name=f"run {n}:").wait_for(timeout=60_000)
    page.wait_for_function(NUMPY_LOSS_POINTS, polling=10, timeout=60_000)
    latency = time.perf_counter() - clicked
    page.get_by_role("heading", name=f"run {n}: done").wait_for(timeout=600_000)
    wait_script_idle(page)      # the page reruns once when a run ends
    with page.expect_download() as download:      # the newest run's metrics, as a user gets them
        page.get_by_role("button", name="Metrics CSV").click()
    records = pd.read_csv(io.BytesIO(Path(download.value.path()).read_bytes()))
    return latency, throughput(records)


def on_cpus(cpus):
    """Run this thread, and the threads and processes it starts from now on, on these CPUs only."""
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def measure(config: TrainConfig, rounds: int, server_cpus=None, browser_cpus=None):
    """H B H B ... H: ([headless throughput, ...], [browser throughput, ...], [click -> first point s])."""
    from playwright.sync_api import sync_playwright

    everything = os.sched_getaffinity(0)
    query = "?" + "&".join(f"{k}={v}" for k, v in settings_to_query(settings_from_config(config)).items())
    on_cpus(server_cpus)
    plain, live, latencies = [headless(config)], [], []
    try:
        with run_streamlit_server("streamlit_app.py") as url:
            on_cpus(browser_cpus)
            with sync_playwright() as p:
                browser = launch_chromium(p)
                on_cpus(server_cpus)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    open_train_page(page, url, query)
                    time.sleep(5)       # a person reads the page before clicking; torch is imported
                    for n in range(1, rounds + 1):
                        latency, result = train_in_browser(page, n)
                        latencies.append(latency)
                        live.append(result)
                        plain.append(headless(config))      # the page is idle meanwhile: no polling
                finally:
                    browser.close()
    finally:
        on_cpus(everything)
    return plain, live, latencies


def report(title: str, plain: list, live: list, latencies: list) -> None:
    print(f"\n=== {title}")
    print("1. click on Train both -> first NumPy point in the browser's loss chart: first click "
          f"{latencies[0]:.2f} s; later clicks " + ", ".join(f"{s:.2f} s" for s in latencies[1:])
          + f"; median {statistics.median(latencies):.2f} s (goal < 1 s)")
    print("2. training throughput, samples/s of wall-clock time (headless | browser, charts live)")
    ratios = {impl: [] for impl in (*TWINS, "both")}
    for k, result in enumerate(live):
        around = (plain[k], plain[k + 1])
        cells = []
        for impl in TWINS:
            baseline = statistics.mean(h[impl] for h in around)
            ratios[impl].append(result[impl] / baseline)
            cells.append(f"{impl} {plain[k][impl]:7,.0f} | {result[impl]:7,.0f}")
        ratios["both"].append(sum(result.values()) / statistics.mean(sum(h.values()) for h in around))
        print(f"   round {k + 1}: " + "   ".join(cells))
    print("   after:   " + "   ".join(f"{impl} {plain[-1][impl]:7,.0f}" for impl in TWINS))
    for impl, values in ratios.items():
        shown = ", ".join(f"{r:.2f}" for r in values)
        print(f"   ratio browser / headless, {impl:5}: median {statistics.median(values):.2f} "
              f"({shown}) (goal >= 0.8)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", default="128,64")
    parser.add_argument("--rounds", type=int, default=3, help="browser runs, each between two headless runs")
    parser.add_argument("--setup", choices=("shared", "pinned", "both"), default="both")
    args = parser.parse_args()
    config = TrainConfig(hidden=tuple(int(w) for w in args.hidden.split(",")), epochs=args.epochs)
    cpus = sorted(os.sched_getaffinity(0))
    print(f"config: hidden {args.hidden}, {args.epochs} epochs, batch {config.batch_size}, "
          f"{config.optimizer}, both twins; NN_THREADS={configured_threads()}; CPUs {cpus}")
    if args.setup in ("shared", "both"):
        report("shared: browser and server on the same CPUs", *measure(config, args.rounds))
    if args.setup in ("pinned", "both") and len(cpus) >= 2:
        report(f"pinned: server and headless runs on CPU {cpus[0]}, browser on CPU {cpus[1]}",
               *measure(config, args.rounds, server_cpus={cpus[0]}, browser_cpus={cpus[1]}))


if __name__ == "__main__":
    main()
