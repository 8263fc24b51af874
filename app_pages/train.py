"""Train & compare: the same network trained by the NumPy twin and the PyTorch twin, live.

The page only reads widgets and draws. The twins train in worker processes (nn_core.run.Run, one of
this student's runs: app_support.session); two timed fragments redraw its records while it runs
(app_support.live_view), and the run history lists every run of the student (app_support.run_history).
"""

import streamlit as st

from app_support import live_view, run_history, server, session
from app_support import train_form as form
from app_support import train_settings as ts
from nn_core.errors import UserError

START_ERROR = "train.start_error"   # why the last click on Train did not start a run

limits = server.host_limits()
torch_ok = server.torch_available()
server.warm_up_plotly()      # once per server: the first live chart after a click is then quick


# ---- button callbacks (they run before the page, so the page draws the new state) ---------------
def on_train(impls: tuple) -> None:
    form.forget_link_warning()
    try:
        run = session.start_run(ts.config_from_settings(form.settings_now()), impls)   # checks them
    except UserError as e:
        st.session_state[START_ERROR] = str(e)
        return
    session.wait_for_first_record(run)      # so the page drawn next already shows the first point


def on_control(action: str) -> None:
    run = session.current_run()
    if run is not None:
        getattr(run, action)()      # run.pause(), run.resume(), run.step() or run.stop()
        if action == "stop":
            run.join(timeout=2)     # the threads end within a step: the page then shows "stopped"


# ---- page ------------------------------------------------------------------------------------
st.title("Train & compare")
st.caption("The NumPy twin and the PyTorch twin train the same network, from the same starting "
           "weights, on the same mini-batches in the same order. Their curves should overlap.")

settings_error = form.settings_form(limits)

run = session.current_run()
active = run is not None and not run.finished
buttons = st.columns([1.2, 1, 1, 0.4, 1, 1, 1, 1])
torch_help = None if torch_ok else server.TORCH_MISSING
buttons[0].button("Train both", type="primary", on_click=on_train, args=(("numpy", "torch"),),
                  disabled=not torch_ok, help=torch_help, key="train.b.both")
buttons[1].button("NumPy only", on_click=on_train, args=(("numpy",),), key="train.b.numpy")
buttons[2].button("PyTorch only", on_click=on_train, args=(("torch",),), disabled=not torch_ok,
                  help=torch_help, key="train.b.torch")
buttons[4].button("Pause", on_click=on_control, args=("pause",), key="train.b.pause",
                  disabled=not active or run.paused)
buttons[5].button("Resume", on_click=on_control, args=("resume",), key="train.b.resume",
                  disabled=not active or not run.paused)
buttons[6].button("Step", on_click=on_control, args=("step",), key="train.b.step", disabled=not active,
                  help="Pause, then let each twin take exactly one more step.")
buttons[7].button("Stop", on_click=on_control, args=("stop",), key="train.b.stop", disabled=not active)
if not torch_ok:
    st.info(f"{server.TORCH_MISSING}. Until then, **NumPy only** trains the NumPy twin alone.")
start_error = st.session_state.pop(START_ERROR, None)
if start_error and start_error != settings_error:       # (that one is shown under the settings)
    st.error(start_error)

live_view.draw(run)
run_history.show(session.runs(), torch_ok)
