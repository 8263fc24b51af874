"""AppTest of the router and the Home page."""

from streamlit.testing.v1 import AppTest

TIMEOUT = 60


def test_home_runs_and_links_every_page():
    at = AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "One network, two twins"
    links = {link.proto.page for link in at.get("page_link")}      # the pages' url paths
    assert links == {"data", "train", "experiments", "inside", "health", "step", "try_it",
                     "gradient_check", "speed"}, links
    # The sidebar names the dataset in use and the run status.
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "5,000 rows" in sidebar and "none yet" in sidebar
