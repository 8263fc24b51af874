"""Write the CSV corpus in tests/corpus/csv/: small bad (and a few good) Kaggle-layout files.

Run `python tests/corpus/make_corpus.py` after changing a case; the output is deterministic and
the files are kept in the repository. The expected messages live in tests/corpus/__init__.py.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import struct
import sys
import zipfile
import zlib
from pathlib import Path

CSV_DIR = Path(__file__).resolve().parent / "csv"
PIXELS = [f"pixel{i}" for i in range(784)]
LABELLED = ["label", *PIXELS]


def image(label: int, variant: int = 0) -> list[int]:
    """784 pixels, mostly 0, with a short diagonal stroke that depends on the label."""
    pixels = [0] * 784
    for k in range(10):
        pixels[(28 * (4 + 2 * k) + 3 + label * 2 + k + variant) % 784] = 250 - 9 * k
    return pixels


def row(label: int | None, variant: int = 0) -> list[str]:
    """One data line as cells: the label (unless None) then 784 pixels."""
    return ([] if label is None else [str(label)]) + [str(p) for p in image(label or 0, variant)]


def csv(lines: list[list[str]], header: list[str] = LABELLED, sep: str = ",", newline: str = "\n") -> bytes:
    return "".join(sep.join(cells) + newline for cells in [header, *lines]).encode()


def edit(cells: list[str], column: str, value: str, header: list[str] = LABELLED) -> list[str]:
    """A copy of a data line with one cell replaced."""
    cells = list(cells)
    cells[header.index(column)] = value
    return cells


def png_1x1() -> bytes:
    """A real 1x1 black PNG."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")


def zip_of(name: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), payload)
    return buffer.getvalue()


def corpus() -> dict[str, bytes]:
    """{file name: content} for every corpus file."""
    three = [row(d % 10, d) for d in range(3)]  # labels 0, 1, 2
    good = csv([row(d % 10, d) for d in range(20)])  # two of each digit
    gz = gzip.compress(good, mtime=0)
    damaged = bytearray(gz)
    damaged[len(damaged) // 2 : len(damaged) // 2 + 8] = b"\xff" * 8
    return {
        # files that fail to load
        "empty.csv": b"",
        "blank_text.csv": b"\n\r\n  \n",
        "header_only.csv": csv([]),
        "header_784_columns.csv": csv(three, header=LABELLED[:-1]),
        "header_renamed.csv": csv(three, header=["digit", *PIXELS]),
        "header_typo.csv": csv(three, header=edit(LABELLED, "pixel10", "pixl10")),
        "no_header.csv": csv(three[1:], header=three[0]),
        "no_label_column.csv": csv([row(None, d) for d in range(3)], header=PIXELS),
        "short_line.csv": csv([three[0], three[1][:700], three[2]]),
        "long_line.csv": csv([three[0] + ["0"], *three[1:]]),
        "semicolons.csv": csv(three, sep=";"),
        "tabs.csv": csv(three, sep="\t"),
        "index_column.csv": csv([[str(i), *r] for i, r in enumerate(three)], header=["", *LABELLED]),
        "index_unnamed.csv": csv([[str(i), *r] for i, r in enumerate(three)], header=["Unnamed: 0", *LABELLED]),
        "blank_line_inside.csv": csv([three[0], [], three[1]]),
        "non_numeric.csv": csv([three[0], edit(three[1], "pixel12", "abc"), three[2]]),
        "empty_cell.csv": csv([edit(three[0], "pixel5", ""), *three[1:]]),
        "nan_cell.csv": csv([*three, edit(row(3), "pixel100", "NaN")]),
        "pixel_negative.csv": csv([edit(three[0], "pixel0", "-1"), *three[1:]]),
        "pixel_256.csv": csv([three[0], edit(three[1], "pixel783", "256"), three[2]]),
        "pixel_fraction.csv": csv([*three[:2], edit(three[2], "pixel300", "3.5")]),
        "label_10.csv": csv([three[0], edit(three[1], "label", "10"), three[2]]),
        "label_negative.csv": csv([edit(three[0], "label", "-1"), *three[1:]]),
        "label_fraction.csv": csv([*three[:2], edit(three[2], "label", "3.5")]),
        "label_text.csv": csv([three[0], edit(three[1], "label", "seven"), three[2]]),
        "random_bytes.csv": b"".join(hashlib.sha256(bytes([i])).digest() for i in range(16)),
        "digit.png": png_1x1(),
        "train.zip": zip_of("train.csv", good),
        "fake.csv.gz": csv(three),
        "truncated.csv.gz": gz[: len(gz) // 2],
        "corrupt.csv.gz": bytes(damaged),
        "latin1.csv": csv([three[0], edit(three[1], "pixel7", "\u00e9"), three[2]]).decode().encode("latin-1"),
        # files that load but cannot be split for training
        "one_row.csv": csv([row(4)]),
        "single_class.csv": csv([row(3, v) for v in range(6)]),
        "digit_once.csv": csv([row(d, v) for d in (0, 1) for v in range(3)] + [row(7)]),
        # files that load (see GOOD_CSV_CASES)
        "good_bom_crlf.csv": b"\xef\xbb\xbf" + csv([row(d % 10, d) for d in range(20)], header=[f" {c} " for c in LABELLED], newline="\r\n") + b"\r\n\r\n",
        "good_test_layout.csv": csv([row(None, d) for d in range(5)], header=PIXELS),
        "good_gzip_named.csv": gz,
    }


def write_corpus(out_dir: Path = CSV_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in corpus().items():
        (out_dir / name).write_bytes(content)
        paths.append(out_dir / name)
    return paths


if __name__ == "__main__":
    written = write_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else CSV_DIR)
    print(f"wrote {len(written)} files, {sum(p.stat().st_size for p in written):,} bytes")
