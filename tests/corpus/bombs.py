"""Files that are small on disk but claim or unpack to gigabytes, made at test time (nothing big is
committed). Each maker writes its file into a folder and returns the path; every one is built from
a few compressed blocks repeated, so making all of them takes about a second.

BOMBS: (file name, maker, where it goes, a substring of the one-sentence refusal), where "csv" is a
training CSV (CLI `train --data`, the Data page), "model" a model file (CLI `predict --model`, the
Inside page) and "picture" a picture to classify (the Try it page; the CLI reads no pictures).
"""
from __future__ import annotations

import gzip
import io
import struct
import zlib
from pathlib import Path

import numpy as np

from nn_core.data import LABELLED_NAMES
from nn_core.model_io import save_npz

HEADER = (",".join(LABELLED_NAMES) + "\n").encode()
ZERO_ROW = ("0," * 784 + "0\n").encode()           # a digit of label 0, all background: 1,570 bytes
MIB = 1 << 20


def gzip_rows(folder: Path, rows: int = 2_000_000) -> Path:
    """gzip CSV: the header, then `rows` rows of zeros (3.1 GB of text in 3 MB): gzip members of
    1,000 rows each, one after the other, which gzip reads as one stream."""
    block = gzip.compress(ZERO_ROW * 1000, compresslevel=9, mtime=0)
    path = folder / "rows_2M.csv.gz"
    path.write_bytes(gzip.compress(HEADER, mtime=0) + block * (rows // 1000))
    return path


def gzip_endless_line(folder: Path, gigabytes: int = 1) -> Path:
    """gzip CSV: the header, then one line of "0," that goes on for a gigabyte without an end."""
    block = gzip.compress(b"0," * (MIB // 2), compresslevel=9, mtime=0)
    path = folder / "endless_line.csv.gz"
    path.write_bytes(gzip.compress(HEADER, mtime=0) + block * (gigabytes * 1024))
    return path


def wide_line_csv(folder: Path, fields: int = 3_000_000) -> Path:
    """Plain CSV (6 MB): the header, then a line 2 with 3,000,000 fields (the browser finding)."""
    path = folder / "wide_line.csv"
    path.write_bytes(HEADER + b"0," * (fields - 1) + b"0\n")
    return path


# ---- zip archives written by hand, so their parts can be huge without compressing gigabytes ----
def _deflated(prefix: bytes, zeros: int) -> tuple[bytes, int]:
    """Raw deflate of `prefix` then `zeros` zero bytes, and the CRC-32 of that data.

    After a full flush deflate forgets what came before, so one compressed MiB of zeros can be
    repeated: the stream is built in milliseconds; only the CRC walks every byte (~1 s for 3 GB)."""
    full, rest = divmod(zeros, MIB)
    flush_block = lambda data: (lambda c: c.compress(data) + c.flush(zlib.Z_FULL_FLUSH))(
        zlib.compressobj(9, zlib.DEFLATED, -15))
    head, mib = flush_block(prefix), flush_block(bytes(MIB))
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = head + mib * full + tail.compress(bytes(rest)) + tail.flush()
    crc, zero_mib = zlib.crc32(prefix), bytes(MIB)
    for _ in range(full):
        crc = zlib.crc32(zero_mib, crc)
    return stream, zlib.crc32(bytes(rest), crc)


def _write_zip(path: Path, parts: list[tuple[str, bytes, int, int]]) -> Path:
    """parts: (name, deflated data, CRC-32, size it claims to unpack to); sizes under 4 GiB."""
    out, central = io.BytesIO(), []
    for name, data, crc, size in parts:
        offset, encoded = out.tell(), name.encode()
        fields = (20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0)
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + encoded + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, offset)
                       + encoded)
    start = out.tell()
    out.write(b"".join(central))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), out.tell() - start,
                          start, 0))
    path.write_bytes(out.getvalue())
    return path


def _npy(array_or_shape, dtype="<f4") -> tuple[bytes, int]:
    """(.npy header, bytes of data) for an array of zeros of this shape."""
    shape = tuple(array_or_shape)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue(), int(np.prod(shape)) * np.dtype(dtype).itemsize


def _zero_part(name: str, shape) -> tuple[str, bytes, int, int]:
    header, n_bytes = _npy(shape)
    data, crc = _deflated(header, n_bytes)
    return name, data, crc, len(header) + n_bytes


def _text_part(name: str, text: str) -> tuple[str, bytes, int, int]:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(text))
    raw = buffer.getvalue()
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, c.compress(raw) + c.flush(), zlib.crc32(raw), len(raw)


def npz_wide_layer(folder: Path, width: int = 1_000_000) -> Path:
    """A complete 784-1,000,000-10 model, float32 zeros, saved compressed (np.savez_compressed's
    layout): 3 MB on disk, 3.2 GB of weights."""
    parts = [_zero_part("W0.npy", (784, width)), _zero_part("b0.npy", (width,)),
             _zero_part("W1.npy", (width, 10)), _zero_part("b1.npy", (10,)),
             _text_part("activation.npy", "relu")]
    return _write_zip(folder / "wide_layer.npz", parts)


def npz_claims_huge(folder: Path) -> Path:
    """A valid small 784-3-10 model whose W0.npy part claims to unpack to 4,000,000,000 bytes."""
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    save_npz(buffer, [(rng.normal(size=(784, 3)).astype(np.float32), np.zeros(3, np.float32)),
                      (rng.normal(size=(3, 10)).astype(np.float32), np.zeros(10, np.float32))], "relu")
    import zipfile
    parts = []
    with zipfile.ZipFile(buffer) as archive:
        for info in archive.infolist():
            raw = archive.read(info)
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            claimed = 4_000_000_000 if info.filename == "W0.npy" else len(raw)
            parts.append((info.filename, c.compress(raw) + c.flush(), zlib.crc32(raw), claimed))
    return _write_zip(folder / "claims_huge.npz", parts)


def pt_wide_layer(folder: Path, width: int = 5000) -> Path:
    """A .pt state_dict saved by torch.save: a 784-5,000-10 model (hidden width over the default
    cap of 4,096, 3.97 M parameters), 16 MB on disk (torch does not compress)."""
    import torch
    state = {"linears.0.weight": torch.zeros(width, 784), "linears.0.bias": torch.zeros(width),
             "linears.1.weight": torch.zeros(10, width), "linears.1.bias": torch.zeros(10)}
    path = folder / "wide_layer.pt"
    torch.save({"state_dict": state, "activation": "relu", "format": "nn_core-mlp-1"}, path)
    return path


# ---- pictures that claim an enormous size in a few bytes -----------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_huge(folder: Path, side: int = 100_000) -> Path:
    """PNG whose header says 100,000 x 100,000 grey pixels (10 GB decoded) in 70 bytes."""
    path = folder / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))
    return path


def gif_huge(folder: Path, side: int = 65_535) -> Path:
    """GIF whose screen and only frame are 65,535 x 65,535 pixels (4.3 G pixels) in 40 bytes."""
    size = struct.pack("<HH", side, side)
    frame = b"," + struct.pack("<HH", 0, 0) + size + b"\x00" + b"\x02\x02\x4c\x01\x00"   # clear, end
    path = folder / "huge.gif"
    path.write_bytes(b"GIF89a" + size + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff" + frame + b";")
    return path


def tiff_huge(folder: Path, side: int = 100_000) -> Path:
    """Uncompressed grey TIFF whose tags say 100,000 x 100,000 pixels, with 64 bytes of pixels.

    Named .png: the picture uploader accepts names, but Pillow reads a file by its content."""
    tags = [(256, 4, side), (257, 4, side), (258, 3, 8), (259, 3, 1), (262, 3, 1),
            (273, 4, 8 + 2 + 12 * 9 + 4), (277, 3, 1), (278, 4, side), (279, 4, 64)]
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, value in tags) + struct.pack("<I", 0)
    path = folder / "huge_tiff.png"
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(64))
    return path


WIDE_CAP = "over this server's cap of 4,096 (NN_MAX_WIDTH)"
PICTURE_CAP = "over the limit of 4,096 pixels a side"
BOMBS = [
    ("rows_2M.csv.gz", gzip_rows, "csv", "has more than 60,000 rows but the cap on this host is 60,000"),
    ("endless_line.csv.gz", gzip_endless_line, "csv", "line 2: is longer than any line of a Kaggle digit file"),
    ("wide_line.csv", wide_line_csv, "csv", "line 2: is longer than any line of a Kaggle digit file"),
    ("wide_layer.npz", npz_wide_layer, "model", "hidden layer 1 has 1,000,000 units, " + WIDE_CAP),
    ("claims_huge.npz", npz_claims_huge, "model", "its part 'W0.npy' claims to unpack to 3,814.7 MB"),
    ("wide_layer.pt", pt_wide_layer, "model", "hidden layer 1 has 5,000 units, " + WIDE_CAP),
    ("huge.png", png_huge, "picture", PICTURE_CAP),
    ("huge.gif", gif_huge, "picture", PICTURE_CAP),
    ("huge_tiff.png", tiff_huge, "picture", PICTURE_CAP),
]


def make_bombs(folder: Path) -> dict[str, Path]:
    """Write every bomb into `folder`: {file name: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    return {name: make(folder) for name, make, _, _ in BOMBS}
