"""nn_core.images: pictures -> MNIST-like 28x28 digits, and the one-sentence errors for bad pictures."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from corpus.images import GOOD_IMAGE_CASES, IMAGE_CASES, IMAGE_DIR
from nn_core import images
from nn_core.errors import DataError


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def paper(size=(200, 200), colour=255, mode="L"):
    return Image.new(mode, size, colour)


def ink_rows_cols(digit):
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_output_is_uint8_28x28_and_input_is_float_in_unit_range():
    image = paper()
    ImageDraw.Draw(image).ellipse((60, 40, 140, 160), outline=0, width=14)
    digit = images.image_to_digit(png(image))
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert digit.max() == 255
    x = images.as_input(digit)
    assert x.shape == (1, 784) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() == 1


def test_digit_drawn_in_a_corner_ends_up_centred_by_mass():
    image = paper((300, 300))
    ImageDraw.Draw(image).line([(10, 10), (60, 10), (30, 90)], fill=0, width=8)   # top-left corner
    digit = images.image_to_digit(png(image))
    row, col = images.centre_of_mass(digit)
    assert abs(row - images.CENTRE) <= 1 and abs(col - images.CENTRE) <= 1


def test_centring_matches_mnist_convention():
    """The shipped MNIST digits have their centre of mass at (14, 14) too."""
    from nn_core.data import load_shipped_sample
    sample = load_shipped_sample().images[::250].reshape(-1, 28, 28)
    centres = np.array([images.centre_of_mass(d) for d in sample])
    assert np.allclose(centres.mean(axis=0), images.CENTRE, atol=0.3)


def test_longest_side_is_20_pixels_and_aspect_is_kept():
    tall = paper((300, 300))
    ImageDraw.Draw(tall).rectangle((120, 50, 170, 250), fill=0)        # 51 wide, 201 tall: ~1:4
    height, width = ink_rows_cols(images.image_to_digit(png(tall)))
    assert height == images.BOX
    assert 4 <= width <= 6

    wide = paper((300, 300))
    ImageDraw.Draw(wide).rectangle((50, 120, 250, 220), fill=0)        # 2:1
    height, width = ink_rows_cols(images.image_to_digit(png(wide)))
    assert width == images.BOX and 9 <= height <= 11


def test_light_background_is_inverted_and_dark_background_is_not():
    stroke = [(70, 40), (130, 40), (90, 160)]
    dark_on_light = paper()
    ImageDraw.Draw(dark_on_light).line(stroke, fill=20, width=12)
    light_on_dark = paper(colour=0)
    ImageDraw.Draw(light_on_dark).line(stroke, fill=235, width=12)
    a = images.image_to_digit(png(dark_on_light))
    b = images.image_to_digit(png(light_on_dark))
    assert a[0, 0] == 0 and b[0, 0] == 0                   # background is black, like MNIST
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2  # same digit either way


def test_grey_paper_and_faint_noise_become_pure_background():
    rng = np.random.default_rng(0)
    grey = 200 + rng.integers(-8, 9, size=(120, 120))        # textured grey paper
    grey[30:90, 55:65] = 40                                   # a "1"
    digit = images.to_mnist(grey)
    assert (digit[:, :8] == 0).all() and (digit[:, -8:] == 0).all()


def test_transparency_is_accepted_for_dark_and_light_ink():
    """A pen on transparent paper composites on white; canvas-style white ink on black."""
    stroke = [(40, 30), (90, 30), (60, 120)]
    dark = Image.new("RGBA", (128, 150), (0, 0, 0, 0))
    ImageDraw.Draw(dark).line(stroke, fill=(0, 0, 0, 255), width=10)
    light = Image.new("RGBA", (128, 150), (255, 255, 255, 0))
    ImageDraw.Draw(light).line(stroke, fill=(255, 255, 255, 255), width=10)
    a, b = images.image_to_digit(png(dark)), images.image_to_digit(png(light))
    assert a.max() == 255 and np.array_equal(a, b)


def test_canvas_rgba_array_path():
    """What st_canvas returns: RGBA (280, 280, 4), white strokes on an opaque black background."""
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).line([(100, 40), (180, 40), (130, 240)], fill=(255, 255, 255, 255), width=20)
    digit = images.canvas_to_digit(np.asarray(canvas))
    assert digit.shape == (28, 28) and digit.max() == 255
    row, col = images.centre_of_mass(digit)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1
    # The same strokes with a transparent background (if the canvas leaves the background out).
    transparent = np.asarray(canvas).copy()
    transparent[..., 3] = np.where(transparent[..., 0] > 0, 255, 0)
    assert np.array_equal(images.canvas_to_digit(transparent), digit)


@pytest.mark.parametrize("pixels", [np.zeros((280, 280, 4), np.uint8),                       # transparent
                                    np.tile(np.uint8([0, 0, 0, 255]), (280, 280, 1)),        # blank canvas
                                    np.full((280, 280, 4), 255, np.uint8)])                   # all white
def test_blank_canvas_says_draw_a_digit(pixels):
    with pytest.raises(DataError, match="is blank.*draw a digit"):
        images.canvas_to_digit(pixels)


@pytest.mark.parametrize("name, expected", IMAGE_CASES)
def test_bad_pictures_raise_one_sentence(name, expected):
    with pytest.raises(DataError) as caught:
        images.image_to_digit((IMAGE_DIR / name).read_bytes(), name)
    message = str(caught.value)
    assert expected in message
    assert message.startswith(name) and message.count(". ") == 0 and "\n" not in message


@pytest.mark.parametrize("name", GOOD_IMAGE_CASES)
def test_good_pictures_become_digits(name):
    digit = images.file_to_digit(IMAGE_DIR / name)
    assert digit.shape == (28, 28) and digit.dtype == np.uint8 and digit.max() == 255


def test_16_bit_grey_picture_is_rescaled_not_clipped():
    pixels = np.full((100, 100), 60_000, np.uint16)
    pixels[20:80, 45:55] = 1_000                              # a dark "1" on light 16-bit paper
    digit = images.image_to_digit(png(Image.fromarray(pixels)))
    assert digit.max() == 255 and ink_rows_cols(digit)[0] == images.BOX


def test_oversized_file_is_refused_before_decoding():
    data = b"\x89PNG\r\n\x1a\n" + bytes(images.MAX_BYTES)
    with pytest.raises(DataError, match="over the limit of 20 MB"):
        images.image_to_digit(data, "big.png")


def test_dataset_helpers():
    labels = np.array([0, 0, 1, 3])
    pixels = np.zeros((4, 784), np.uint8)
    pixels[:, 0] = [10, 30, 50, 70]
    assert images.class_counts(labels).tolist() == [2, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    means = images.mean_digits(pixels, labels)
    assert means.shape == (10, 28, 28) and means[0, 0, 0] == 20 and means[2].max() == 0
    grid = images.sample_grid(pixels, labels, per_class=3, gap=2)
    assert grid.shape == (10 * 30 - 2, 3 * 30 - 2) and grid.dtype == np.uint8
