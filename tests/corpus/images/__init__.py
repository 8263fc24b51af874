"""The picture corpus written by tests/corpus/make_images.py.

IMAGE_CASES: (file name, a substring of the one-sentence DataError message it must raise).
GOOD_IMAGE_CASES: file names that must turn into a 28x28 digit.
"""
from pathlib import Path

IMAGE_DIR = Path(__file__).resolve().parent

IMAGE_CASES: list[tuple[str, str]] = [
    ("empty.png", "is empty (0 bytes)"),
    ("random_bytes.png", "is not a picture this app can read"),
    ("text_file.png", "is a text file, not a picture"),
    ("zip_renamed.png", "is a zip archive, not a picture"),
    ("truncated.png", "is a damaged or truncated picture"),
    ("tiny.png", "needs at least 8 pixels a side"),
    ("huge_side.png", "over the limit of 4,096 pixels a side"),
    ("bomb_header.png", "over the limit of 4,096 pixels a side"),
    ("all_white.png", "is blank"),
    ("all_black.jpg", "is blank"),
    ("fully_transparent.png", "is blank"),
    ("grey_noise_free.gif", "is blank"),
]

GOOD_IMAGE_CASES: list[str] = [
    "seven_dark_on_white.png",
    "seven_white_on_black.jpg",
    "seven_dark_on_transparent.png",
    "seven_white_on_transparent.png",
    "seven_wide_canvas.png",
]
