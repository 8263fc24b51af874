"""Uploads every bomb of tests/corpus/bombs.py in the app (streamlit.testing AppTest), in a process of
its own so that its peak memory is the app's alone. Run by tests/test_bombs.py:

    python tests/bomb_app_check.py FOLDER      # FOLDER holds the bombs; prints one JSON line

Per bomb: the st.error texts, exceptions, the peak resident memory (VmHWM, reset before each bomb
through /proc/self/clear_refs) and the resident memory before the upload, in MB, and whether this session's dataset and uploaded models are
what they were before. Then whether the page still works: a good picture still gets predictions.
"""
import json
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), str(TESTS.parent)]     # corpus/ and the repo root (nn_core, app_support)
from corpus import CSV_DIR                                      # noqa: E402
from corpus.bombs import BOMBS                                 # noqa: E402
from corpus.images import GOOD_IMAGE_CASES, IMAGE_DIR           # noqa: E402
from corpus.models import MODELS_DIR                            # noqa: E402

PAGES = {"csv": ("app_pages/data.py", "data.file"), "model": ("app_pages/inside.py", "inside.model_file"),
         "picture": ("app_pages/try_it.py", "try.picture")}


def memory_mb(field: str) -> float:
    """VmRSS (resident memory now) or VmHWM (its peak since the last reset_peak()), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def upload(at, key: str, name: str, content: bytes) -> None:
    at.file_uploader(key=key).set_value((name, content, "application/octet-stream")).run()


def main(folder: Path) -> dict:
    at = AppTest.from_file(str(TESTS.parent / "streamlit_app.py"), default_timeout=60)
    at.run()
    results, page_now = {}, None
    for name, _, kind, _ in BOMBS:
        page, key = PAGES[kind]
        if page != page_now:
            at.switch_page(page).run()
            page_now = page
            if kind == "csv":           # a good dataset first: a refused file must leave it in use
                upload(at, key, "good.csv", (CSV_DIR / "good_bom_crlf.csv").read_bytes())
            if kind == "model":         # a good model first; Try it then uses it
                upload(at, key, "valid.npz", (MODELS_DIR / "valid.npz").read_bytes())
            if kind == "picture":
                at.segmented_control(key="try.way").set_value("Upload a picture").run()
        dataset = at.session_state["app.dataset"].name if "app.dataset" in at.session_state else None
        models = sorted(at.session_state["app.models"]) if "app.models" in at.session_state else []
        content = (folder / name).read_bytes()
        reset_peak()
        before = memory_mb("VmRSS")
        upload(at, key, name, content)
        results[name] = {
            "errors": [e.value for e in at.error],
            "exceptions": [e.value for e in at.exception],
            "before_mb": round(before, 1),
            "peak_mb": round(memory_mb("VmHWM"), 1),
            "dataset_kept": (at.session_state["app.dataset"].name if "app.dataset" in at.session_state
                             else None) == dataset,
            "models_kept": (sorted(at.session_state["app.models"]) if "app.models" in at.session_state
                            else []) == models,
        }
        del content
    good = GOOD_IMAGE_CASES[0]
    upload(at, PAGES["picture"][1], good, (IMAGE_DIR / good).read_bytes())
    results["page still works"] = {"says": [m.value for m in at.markdown if "says" in m.value],
                                   "errors": [e.value for e in at.error]}
    return results


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
