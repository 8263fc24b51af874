"""Write the picture corpus in tests/corpus/images/: bad pictures (and a few good ones) for Try it.

Run `python tests/corpus/make_images.py` after changing a case; the output is deterministic (PIL
draws and encodes the same bytes each time) and the files are kept in the repository. The expected
messages live in tests/corpus/images/__init__.py (IMAGE_CASES, GOOD_IMAGE_CASES).
"""
from __future__ import annotations

import hashlib
import io
import struct
import sys
import zipfile
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

IMAGE_DIR = Path(__file__).resolve().parent / "images"


def encode(image: Image.Image, kind: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def seven(size=(120, 160), ink=0, paper=255, mode="L", width=12) -> Image.Image:
    """A hand-drawn-looking 7: a top bar and a slanted stroke, ink on paper."""
    image = Image.new(mode, size, paper)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.line([(0.2 * w, 0.2 * h), (0.8 * w, 0.2 * h), (0.45 * w, 0.85 * h)], fill=ink, width=width)
    return image


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels (its pixel data is a stub)."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def zip_of(name: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), payload)
    return buffer.getvalue()


def corpus() -> dict[str, bytes]:
    """{file name: content} for every corpus file."""
    good_png = encode(seven())
    transparent_dark = seven(mode="RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0))
    transparent_light = seven(mode="RGBA", ink=(255, 255, 255, 255), paper=(255, 255, 255, 0))
    return {
        # pictures that must be refused, each with one sentence
        "empty.png": b"",
        "random_bytes.png": b"".join(hashlib.sha256(bytes([i])).digest() for i in range(16)),
        "text_file.png": b"label,pixel0,pixel1\n5,0,0\n",
        "zip_renamed.png": zip_of("digit.png", good_png),
        "truncated.png": good_png[: len(good_png) // 2],
        "tiny.png": encode(Image.new("L", (5, 5), 255)),
        "huge_side.png": encode(Image.new("L", (5000, 10), 255)),
        "bomb_header.png": png_header_only(100_000, 100_000),
        "all_white.png": encode(Image.new("L", (64, 64), 255)),
        "all_black.jpg": encode(Image.new("RGB", (64, 64), (0, 0, 0)), "JPEG", quality=90),
        "fully_transparent.png": encode(Image.new("RGBA", (64, 64), (0, 0, 0, 0))),
        "grey_noise_free.gif": encode(Image.new("P", (40, 40), 7), "GIF"),
        # pictures that must work
        "seven_dark_on_white.png": good_png,
        "seven_white_on_black.jpg": encode(seven(mode="RGB", ink=(250, 250, 250), paper=(5, 5, 5)), "JPEG", quality=90),
        "seven_dark_on_transparent.png": encode(transparent_dark),
        "seven_white_on_transparent.png": encode(transparent_light),
        "seven_wide_canvas.png": encode(seven(size=(600, 200), width=14)),
    }


def write_corpus(out_dir: Path = IMAGE_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in corpus().items():
        (out_dir / name).write_bytes(content)
        paths.append(out_dir / name)
    return paths


if __name__ == "__main__":
    written = write_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else IMAGE_DIR)
    print(f"wrote {len(written)} files, {sum(p.stat().st_size for p in written):,} bytes")
