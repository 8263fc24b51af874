"""How big an upload each file uploader lets through.

The uploader's limit (shown in its drop zone and checked by the browser) sits 10 % above the app's
own cap on that kind of file, so a file a little over the cap still reaches the app, which then
says in one sentence what the cap is and how to change it. The limit never exceeds the server's
server.maxUploadSize (.streamlit/config.toml): above that the server would refuse the file with a
bare HTTP 413 and the page would show no sentence at all.
"""
import math

import streamlit as st

MARGIN = 1.1          # the uploader's limit / the app's own cap


def upload_limit_mb(cap_bytes: int) -> int:
    """The uploader's limit in MB (Streamlit's MB are MiB) for files the app caps at cap_bytes."""
    server_mb = int(st.get_option("server.maxUploadSize"))
    return max(1, min(math.ceil(cap_bytes * MARGIN / 2**20), server_mb))
