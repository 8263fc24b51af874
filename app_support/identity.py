"""Who is this student? A random token their browser keeps in a cookie, so a reload finds their runs.

Never a query parameter: a teacher's shared preset link must not carry one student's runs to
another. The token is read from the cookies the browser sent when its page connected
(st.context.cookies); a browser without one gets a new token, and a one-line script (st.html with
unsafe_allow_javascript, Streamlit's own element) stores it in a cookie for the next page load.
Another browser (or a private window) has no such cookie, so it never sees these runs.
"""

import re
import secrets

import streamlit as st

COOKIE = "nn_student"
TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")      # secrets.token_urlsafe(24) is 32 characters
KEEP_DAYS = 400                                  # browsers keep a cookie at most 400 days
STUDENT = "app.student"                          # session_state key: this session's token

SET_COOKIE = """<script>
document.cookie = "{name}={token}; Max-Age={seconds}; Path=/; SameSite=Strict"
  + (location.protocol === "https:" ? "; Secure" : "");
</script>"""


def token_from_cookie(value) -> str | None:
    """The token in a cookie value, or None if it is missing or is not one of ours."""
    return value if isinstance(value, str) and TOKEN.fullmatch(value) else None


def student() -> str:
    """This browser's token: from its cookie, or new (and kept for this session either way)."""
    token = st.session_state.get(STUDENT)
    if token is None:
        token = token_from_cookie(st.context.cookies.get(COOKIE)) or secrets.token_urlsafe(24)
        st.session_state[STUDENT] = token
    return token


def keep_in_browser() -> None:
    """Store this session's token in the browser's cookie, unless the browser sent it already."""
    token = student()
    if st.context.cookies.get(COOKIE) != token:
        st.html(SET_COOKIE.format(name=COOKIE, token=token, seconds=KEEP_DAYS * 86_400),
                unsafe_allow_javascript=True)
