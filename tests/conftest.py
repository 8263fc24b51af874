"""Shared pytest setup. The repo root is on sys.path via `pythonpath = .` in pytest.ini."""

import os

# One BLAS / torch thread per process while testing (torch reads OMP_NUM_THREADS): on 2 shared
# cores, spinning BLAS and torch threads make these small networks 10-50x slower under load. Set
# before anything imports NumPy or torch; the CLI and server subprocesses the tests start inherit it.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

# The run store (NN_DB) of this test process: a fresh file, never the app's own store/ folder.
# (Each server that tests/streamlit_server.py starts gets a fresh one of its own, unless told.)
import tempfile  # noqa: E402

os.environ["NN_DB"] = os.path.join(tempfile.mkdtemp(prefix="nn-test-store-"), "runs.sqlite3")

import pytest  # noqa: E402

from streamlit_server import CHROMIUM  # noqa: E402


def pytest_collection_modifyitems(config, items):
    # Without Chromium, browser tests skip on a laptop but fail in CI (CI=true), where .ci/run installs it.
    if os.path.exists(CHROMIUM) or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not installed (apt-get install -y chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
