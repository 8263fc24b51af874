"""The real app starts under `streamlit run` and serves its health check and page."""

import urllib.request

from streamlit_server import run_streamlit_server

APP = "streamlit_app.py"


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode("utf-8", errors="replace")


def test_health_and_main_page_served():
    with run_streamlit_server(APP) as url:
        status, body = _get(f"{url}/_stcore/health")
        assert (status, body.strip()) == (200, "ok")

        status, html = _get(f"{url}/")
        assert status == 200
        assert '<div id="root">' in html, html[:500]
