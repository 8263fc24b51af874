"""Pictures of digits: make a drawn or uploaded picture look like an MNIST digit, and tile many
digits into one picture for display.

MNIST's recipe, which `to_mnist` follows: light ink on a black background; the digit's bounding box
scaled so its longest side is 20 px (aspect kept); pasted into a 28x28 field so that its centre of
mass sits at pixel (14, 14). Arrays here are images, shape (height, width); a digit is uint8 (28, 28)
with 0 = background and 255 = full ink, exactly like one row of the CSV reshaped.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DataError

SIDE = 28                        # MNIST images are 28 x 28
BOX = 20                         # ... with the digit scaled into a 20 x 20 box
CENTRE = 14.0                    # ... and its centre of mass at pixel (row 14, column 14)
MIN_SIDE = 8                     # smaller pictures cannot hold a readable digit
MAX_SIDE = 4096                  # larger ones are refused before their pixels are decoded
WORK_SIDE = 1024                 # decoded pictures are scaled down to this many pixels a side
MAX_BYTES = 20 * 1024 * 1024     # 20 MB
INK_LEVEL = 0.2                  # after contrast stretching, pixels below 20 % of full ink are background
MIN_CONTRAST = 24                # darkest and lightest pixel closer than this (of 255): a blank picture

# First bytes of files people pick by mistake, for a clearer message than "not an image".
NOT_IMAGES = {
    b"PK\x03\x04": "a zip archive",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
}


# ---- reading a picture -------------------------------------------------------------------------------

def read_image(data: bytes, name: str = "the picture") -> np.ndarray:
    """Encoded bytes (PNG, JPEG, GIF, BMP, WebP, ...) -> grey levels float64 (height, width), 0-255.

    255 is white. Transparent parts are laid on a background that contrasts with the drawing (see
    `flatten_alpha`). Raises DataError for empty, oversized, tiny, damaged or non-image files.
    """
    if not data:
        raise DataError(f"{name} is empty (0 bytes); choose a PNG or JPEG picture of a digit.")
    if len(data) > MAX_BYTES:
        raise DataError(f"{name} is {len(data) / 2**20:.1f} MB, over the limit of "
                        f"{MAX_BYTES // 2**20} MB; shrink or crop the picture first.")
    for magic, what in NOT_IMAGES.items():
        if data.startswith(magic):
            raise DataError(f"{name} is {what}, not a picture; choose a PNG or JPEG of a digit.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))       # reads the header only, not the pixels
    except Image.DecompressionBombError:                # PIL's own guard against huge headers
        raise DataError(f"{name} claims to be far over the limit of {MAX_SIDE:,} pixels a side; "
                        "shrink it first.") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise DataError(_not_an_image(data, name)) from None
    width, height = image.size
    if max(width, height) > MAX_SIDE:
        raise DataError(f"{name} is {width:,} x {height:,} pixels, over the limit of {MAX_SIDE:,} "
                        "pixels a side; shrink it first.")
    if min(width, height) < MIN_SIDE:
        raise DataError(f"{name} is only {width} x {height} pixels; a picture of a digit needs at "
                        f"least {MIN_SIDE} pixels a side.")
    try:
        image.load()                                   # now decode the pixels
        image = ImageOps.exif_transpose(image)         # phone photos: apply the rotation flag
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise DataError(f"{name} is a damaged or truncated picture; save or export it again.") from None
    if image.mode.startswith("I") or image.mode == "F":   # 16/32-bit grey: rescale, don't clip
        values = np.asarray(_shrink(image.convert("F")), dtype=np.float64)
        return np.clip(values * (255 / (255 if values.max() <= 255 else 65535)), 0, 255)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if has_alpha:
        return flatten_alpha(np.asarray(_shrink(image.convert("RGBA"))))
    return np.asarray(_shrink(image.convert("L")), dtype=np.float64)


def _shrink(image: Image.Image) -> Image.Image:
    """The picture scaled down (aspect kept) to at most WORK_SIDE pixels a side.

    A 28x28 digit needs no more, and a 4096 x 4096 picture with transparency (65 KB as a PNG)
    would take over 1 GB as float64 arrays.
    """
    if max(image.size) > WORK_SIDE:
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    return image


def _not_an_image(data: bytes, name: str) -> str:
    """The message for bytes that no image decoder accepts: say 'text file' when it is one."""
    head = data[:4096]
    try:
        head.decode("utf-8")
        is_text = b"\x00" not in head
    except UnicodeDecodeError as e:
        is_text = e.start > len(head) - 4             # only a character cut in half at the end
    if is_text:
        return f"{name} is a text file, not a picture; choose a PNG or JPEG of a digit (CSV files of digits go on the Data page)."
    return f"{name} is not a picture this app can read; choose a PNG or JPEG file."


def flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 (height, width, 4) -> grey float64 (height, width), 0-255, without transparency.

    Transparent pixels become background. The background is white for a dark drawing (a pen on
    transparent paper) and black for a light one (the canvas's white strokes), so the ink shows.
    """
    rgba = np.asarray(rgba, dtype=np.float64)
    grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])   # ITU-R 601 luma, as PIL's "L"
    alpha = rgba[..., 3] / 255
    if alpha.min() == 1:
        return grey
    visible = alpha.sum()
    ink_brightness = (grey * alpha).sum() / visible if visible > 0 else 0.0
    background = 0.0 if ink_brightness > 127.5 else 255.0
    return grey * alpha + background * (1 - alpha)


# ---- making it look like MNIST ----------------------------------------------------------------------

def ink_image(grey: np.ndarray, name: str = "the picture") -> np.ndarray:
    """Grey levels (height, width), 0-255 -> ink in [0, 1] (height, width), background exactly 0.

    The background is the colour of the picture's border: a light border means dark ink on light
    paper, so the picture is inverted. Contrast is stretched so the strongest ink is 1, and faint
    pixels (paper texture, JPEG noise) below INK_LEVEL become 0.
    """
    grey = np.asarray(grey, dtype=np.float64)
    if grey.max() - grey.min() < MIN_CONTRAST:
        raise DataError(f"{name} is blank (a single flat colour, no digit on it); draw a digit, "
                        "or choose a picture of one.")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    ink = grey if background < 127.5 else 255 - grey        # light on dark, like MNIST
    ink = np.clip(ink - min(background, 255 - background), 0, None)
    if ink.max() < MIN_CONTRAST:
        raise DataError(f"{name} is blank (nothing stands out from its background); draw a "
                        "digit, or choose a picture of one.")
    ink = ink / ink.max()
    ink[ink < INK_LEVEL] = 0
    return ink


def to_mnist(grey: np.ndarray, name: str = "the picture") -> np.ndarray:
    """Grey levels (height, width), 0-255 (255 = white) -> an MNIST-like digit, uint8 (28, 28).

    Crop to the ink's bounding box, scale its longest side to 20 px (aspect kept), paste it into a
    28x28 field with its centre of mass at (14, 14).
    """
    ink = ink_image(grey, name)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]                   # (h, w)
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray(np.round(crop * 255).astype(np.uint8)).resize(
        (new_w, new_h), Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR)
    box = np.asarray(small, dtype=np.float64)                                 # (new_h, new_w)
    if box.sum() == 0:
        box = np.full_like(box, 255.0)    # a 1-pixel dot scaled away: keep it as a filled box
    com_row, com_col = centre_of_mass(box)
    top = int(np.clip(round(CENTRE - com_row), 0, SIDE - new_h))
    left = int(np.clip(round(CENTRE - com_col), 0, SIDE - new_w))
    digit = np.zeros((SIDE, SIDE))
    digit[top:top + new_h, left:left + new_w] = box
    return np.clip(np.round(digit), 0, 255).astype(np.uint8)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted mean position of image (height, width)."""
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    rows, cols = np.arange(image.shape[0]), np.arange(image.shape[1])
    return float(image.sum(axis=1) @ rows / total), float(image.sum(axis=0) @ cols / total)


def image_to_digit(data: bytes, name: str = "the picture") -> np.ndarray:
    """An uploaded picture's bytes -> uint8 (28, 28) MNIST-like digit (DataError if unusable)."""
    return to_mnist(read_image(data, name), name)


def file_to_digit(path) -> np.ndarray:
    """A picture file on disk -> uint8 (28, 28) (for the CLI and tests)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}.") from None
    return image_to_digit(data, path.name)


def canvas_grey(rgba: np.ndarray, name: str = "the drawing") -> np.ndarray:
    """The drawing canvas's pixels uint8 (height, width, 3 or 4) -> grey float64 (height, width)."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4):
        raise DataError(f"{name} is not an RGB(A) picture (its array has shape {rgba.shape}).")
    if rgba.shape[2] == 3:
        return rgba.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return flatten_alpha(rgba)


def canvas_to_digit(rgba: np.ndarray, name: str = "the drawing") -> np.ndarray:
    """The drawing canvas's RGBA pixels uint8 (height, width, 4) -> uint8 (28, 28)."""
    return to_mnist(canvas_grey(rgba, name), name)


MIN_INK_SPAN = 0.25   # a drawing whose ink spans less of the canvas than this is too small to be a digit


def ink_span(rgba: np.ndarray) -> float:
    """How much of the canvas the drawing's ink spans: its bounding box's longer side divided by the
    canvas's shorter side (0 for a blank canvas). rgba: the canvas's pixels (height, width, 3 or 4)."""
    try:
        ink = ink_image(canvas_grey(rgba))
    except DataError:
        return 0.0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) / min(ink.shape)


def little_ink_hint(rgba: np.ndarray) -> str | None:
    """A sentence for a drawing too small to be a digit (a dot, a short tick), else None."""
    span = ink_span(rgba)
    if span == 0 or span >= MIN_INK_SPAN:
        return None
    return (f"This drawing spans only {span:.0%} of the square: too little ink to be a digit. "
            f"Like MNIST, every drawing is scaled up to fill a 20 × 20 box, so a dot becomes a blob "
            f"the network reads as some digit anyway. Draw bigger, filling most of the square.")


def never_inked_pixels(x: np.ndarray) -> np.ndarray:
    """bool (784,): True for the pixels that are 0 in every row of x (n, 784). Their first-layer
    weights never get a gradient from these digits."""
    return ~np.asarray(x != 0).any(axis=0)


def as_input(digit: np.ndarray, dtype=np.float32) -> np.ndarray:
    """uint8 (28, 28) -> what the network reads: dtype (1, 784) in [0, 1]."""
    return (np.asarray(digit, dtype=dtype).reshape(1, SIDE * SIDE) / 255).astype(dtype)


# ---- looking at a dataset -----------------------------------------------------------------------------

def class_counts(labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """labels int (n,) -> how many of each digit, int64 (n_classes,)."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)[:n_classes]


def mean_digits(images: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """The average picture of each digit: images uint8 (n, 784) -> float64 (n_classes, 28, 28).

    A digit that does not occur gets an all-zero picture.
    """
    labels = np.asarray(labels)
    means = np.zeros((n_classes, SIDE * SIDE))
    for digit in range(n_classes):
        members = images[labels == digit]                     # (count, 784)
        if len(members):
            means[digit] = members.mean(axis=0, dtype=np.float64)
    return means.reshape(n_classes, SIDE, SIDE)


def sample_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 8, seed: int = 0,
                gap: int = 2, n_classes: int = 10) -> np.ndarray:
    """One picture holding `per_class` random examples of each digit, one row per digit.

    images uint8 (n, 784), labels (n,) -> uint8 (n_classes * (28 + gap) - gap,
    per_class * (28 + gap) - gap). Missing examples stay black.
    """
    rng = np.random.default_rng(seed)
    cell = SIDE + gap
    grid = np.zeros((n_classes * cell - gap, per_class * cell - gap), dtype=np.uint8)
    for digit in range(n_classes):
        members = np.flatnonzero(labels == digit)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for column, index in enumerate(np.sort(chosen)):
            grid[digit * cell:digit * cell + SIDE, column * cell:column * cell + SIDE] = (
                images[index].reshape(SIDE, SIDE))
    return grid
