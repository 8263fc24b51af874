"""Shared pytest setup. The repo root is on sys.path via `pythonpath = .` in pytest.ini."""

import os

import pytest

from streamlit_server import CHROMIUM


def pytest_collection_modifyitems(config, items):
    # Without Chromium, browser tests skip on a laptop but fail in CI (CI=true), where .ci/run installs it.
    if os.path.exists(CHROMIUM) or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not installed (apt-get install -y chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
