"""The host's caps: profiles, overrides, and the one-sentence message of each cap."""

import pytest
from streamlit.testing.v1 import AppTest

from nn_core.config import TrainConfig
from nn_core.errors import ConfigError, LimitError
from nn_core.limits import CLOUD_PROFILE, Limits, limits_from_env


def test_default_profile_and_overrides():
    assert limits_from_env({}) == Limits()
    assert limits_from_env({"NN_PROFILE": "cloud"}) == CLOUD_PROFILE
    tuned = limits_from_env({"NN_PROFILE": "cloud", "NN_MAX_EPOCHS": "5", "NN_MAX_SECONDS": "30"})
    assert tuned.max_epochs == 5 and tuned.max_seconds == 30.0
    assert tuned.max_params == CLOUD_PROFILE.max_params


@pytest.mark.parametrize("raw", ["abc", "-3", "0"])
def test_a_bad_host_setting_is_one_clear_sentence(raw):
    with pytest.raises(ConfigError) as e:
        limits_from_env({"NN_MAX_EPOCHS": raw})
    assert "NN_MAX_EPOCHS" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("config, words", [
    (TrainConfig(hidden=(100_000,)), ("widest layer", "NN_MAX_WIDTH")),
    (TrainConfig(hidden=(16,) * 9), ("hidden layers", "NN_MAX_LAYERS")),
    (TrainConfig(hidden=(2000, 2000)), ("parameters", "NN_MAX_PARAMS")),
    (TrainConfig(epochs=10_000), ("epochs", "NN_MAX_EPOCHS")),
])
def test_each_cap_names_itself(config, words):
    with pytest.raises(LimitError) as e:
        config.validated(Limits())
    assert all(w in str(e.value) for w in words), str(e.value)


def test_cloud_profile_from_streamlit_secrets():
    """On Community Cloud the profile is switched on in the app's Secrets box."""
    from app_support import server
    server.host_limits.clear()
    try:
        at = AppTest.from_file("../streamlit_app.py")
        at.secrets["NN_PROFILE"] = "cloud"
        at.switch_page("app_pages/train.py").run(timeout=30)    # the page reads the caps
        assert not at.exception
        assert server.host_limits() == CLOUD_PROFILE             # cached by that run
        at.text_input(key="train.w.hidden").set_value("1024").run(timeout=30)
        assert any("NN_MAX_WIDTH" in e.value for e in at.error)  # the cloud cap is 512
    finally:
        server.host_limits.clear()
