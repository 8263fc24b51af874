"""Kaggle Digit Recognizer CSV files: load, validate, split, scale, one-hot.

A file is a header line `label,pixel0,...,pixel783` (Kaggle's test.csv has no `label`), then one
digit per line: the label 0-9 and 784 pixel intensities 0-255 (a 28x28 image, row by row).
Anything else raises `DataError` with one sentence that names the line and column at fault.
"""
from __future__ import annotations

import codecs
import functools
import gzip
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nn_core.errors import ConfigError, DataError

DATA_DIR = Path(__file__).resolve().parent.parent / "Data"
SHIPPED_SAMPLE = DATA_DIR / "mnist_5k.csv.gz"
SHIPPED_KEY = "MNIST sample (5,000 digits, shipped)"
N_PIXELS = 784
N_CLASSES = 10
IMAGE_SIDE = 28

PIXEL_NAMES = [f"pixel{i}" for i in range(N_PIXELS)]
LABELLED_NAMES = ["label", *PIXEL_NAMES]
LAYOUTS = {True: [LABELLED_NAMES], False: [PIXEL_NAMES], None: [LABELLED_NAMES, PIXEL_NAMES]}
SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
PICTURE_HINT = "choose a CSV file of digits, or classify the picture on the Try it page"
# The first bytes of files people pick by mistake: what the file is, and what to do instead.
MAGIC = {
    b"PK\x03\x04": ("a zip archive (or an Excel workbook)", "unzip it, or save the sheet as CSV"),
    b"\x89PNG": ("a PNG image", PICTURE_HINT),
    b"\xff\xd8\xff": ("a JPEG image", PICTURE_HINT),
    b"%PDF": ("a PDF document", "choose a CSV file of digits such as Kaggle's train.csv"),
}
NUMBER = re.compile(r"\s*\d+(\.\d*)?\s*")  # a cell that reads as a number >= 0
NOT_PLAIN = str.maketrans("", "", "0123456789,")  # deletes all that a plain data line is made of
EMPTY = "choose a CSV file with a header line and one digit per line"
# The longest line a Kaggle digit file can have: 785 numbers of at most 3 digits, 784 commas and a
# "\r" (the "\n" not counted). Reading stops at once at a longer line, so one line that never ends
# costs nothing.
MAX_LINE_BYTES = len("255,") * (N_PIXELS + 1)                      # 3,140
MAX_HEADER_BYTES = 16 * 1024     # label,pixel0,...,pixel783 is 6,951; room for quotes and spaces
READ_CHUNK = 1 << 20             # bytes of text read (and gunzipped) at a time


@dataclass(frozen=True, eq=False)
class Dataset:
    """images: uint8 (n, 784); labels: int64 (n,), or None for test.csv; both read-only."""

    images: np.ndarray
    labels: np.ndarray | None
    name: str

    def __post_init__(self):
        self.images.flags.writeable = False
        if self.labels is not None:
            self.labels.flags.writeable = False

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True, eq=False)
class Split:
    """x_train, x_val: float (n, 784) in [0, 1]; y_train, y_val: int64 (n,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def _plural(n: int, word: str) -> str:
    """'1 row', '2 rows', '42,000 rows'."""
    return f"{n:,} {word}{'s' * (n != 1)}"


def _shown(text: str) -> str:
    """`text` as it can be quoted in a one-line message: escaped if odd, cut if long."""
    text = text if text.isprintable() else ascii(text)[1:-1]
    return text if len(text) <= 30 else text[:27] + "..."


def max_csv_bytes(max_rows: int) -> int:
    """The most text a CSV of `max_rows` data rows can hold: the header, then each row at its longest."""
    return MAX_HEADER_BYTES + max_rows * (MAX_LINE_BYTES + 1)


def _row_cap_hint() -> str:
    return "use a smaller file (or raise the cap with the environment variable NN_MAX_ROWS)"


def _open_source(source, name: str | None) -> tuple[io.IOBase, str, int | None]:
    """A binary stream over a path, bytes or binary file-like object, a name for messages, and the
    stream's size in bytes when it is known without reading it (None otherwise)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source), name or "the uploaded file", len(source)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path} does not exist; check the path, or use the shipped sample "
                            f"Data/{SHIPPED_SAMPLE.name}.")
        if path.is_dir():
            raise DataError(f"{path} is a folder, not a CSV file; choose a file inside it.")
        try:
            return path.open("rb"), name or path.name, path.stat().st_size
        except OSError as e:
            raise DataError(f"{path} cannot be read ({e.strerror}); check its permissions.") from None
    if hasattr(source, "read"):  # an open binary file, io.BytesIO, Streamlit's UploadedFile
        name = name or Path(str(getattr(source, "name", None) or "the uploaded file")).name
        if not hasattr(source, "seek"):
            data = source.read()
            return _open_source(data.encode("utf-8") if isinstance(data, str) else data, name)
        source.seek(0, io.SEEK_END)
        size = source.tell()
        source.seek(0)
        if isinstance(source, io.TextIOBase):
            return io.BytesIO(source.read().encode("utf-8")), name, None
        return source, name, size
    raise TypeError(f"load_csv needs a path, bytes or a binary file, not {type(source).__name__}")


def _read_text(stream, name: str, size: int | None, max_rows: int | None) -> bytes:
    """The file's text (gunzipped when it is gzip, found by its magic bytes), read as a stream.

    Reading stops, with one sentence, as soon as a line is longer than any Kaggle line can be, the
    row cap is passed, or the text outgrows max_csv_bytes(max_rows): memory stays within that
    bound whatever the compression ratio. Binary files, images, zips and PDFs are refused too.
    """
    bound = None if max_rows is None else max_csv_bytes(max_rows)
    if bound is not None and size is not None and size > bound:
        raise DataError(f"{name} is {size / 2**20:,.1f} MB, more than a CSV of {_plural(max_rows, 'row')} (the "
                        f"cap on this host) can be ({bound / 2**20:,.1f} MB); {_row_cap_hint()}.")
    is_gzip = stream.read(2) == b"\x1f\x8b"
    stream.seek(0)
    if not is_gzip and name.lower().endswith(".gz"):
        raise DataError(f"{name} is named .gz but is not gzip-compressed; rename it to .csv, "
                        "or compress it with gzip.")
    reader = gzip.GzipFile(fileobj=stream, mode="rb") if is_gzip else stream
    lines = _LineGuard(name, max_rows)
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := reader.read(READ_CHUNK):
            if not chunks:
                _check_magic(chunk, name)
            chunks.append(chunk)
            total += len(chunk)
            problem = lines.check(chunk)
            if problem is None and bound is not None and total > bound:
                problem = (f"{name} unpacks to more than {bound / 2**20:,.1f} MB of text, more than a "
                           f"CSV of {_plural(max_rows, 'row')} (the cap on this host) can hold; {_row_cap_hint()}.")
            if problem:
                _check_utf8(chunks[0], name, final=False)     # binary data from the start: say that instead
                raise DataError(problem)
    except (OSError, EOFError, zlib.error):
        if not is_gzip:
            raise DataError(f"{name} cannot be read; check the file and try again.") from None
        raise DataError(f"{name} is a damaged or truncated gzip file; download it again, "
                        "or unpack it and use the .csv.") from None
    data = b"".join(chunks)
    del chunks
    if not data:
        raise DataError(f"{name} is {'empty when unpacked' if is_gzip else 'empty (0 bytes)'}; {EMPTY}.")
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise DataError(f"{name} holds no text; {EMPTY}.")
    if b"\x00" in data or not data.isascii():  # the full UTF-8 check only when it can fail
        _check_utf8(data, name)
    return data


def _check_magic(first_chunk: bytes, name: str) -> None:
    """DataError if the text starts like a file people pick by mistake (an image, a zip, a PDF)."""
    for magic, (what, hint) in MAGIC.items():
        if first_chunk.startswith(magic):
            raise DataError(f"{name} is {what}, not a CSV text file; {hint}.")


class _LineGuard:
    """Watches a CSV's text chunk by chunk: every line within its longest possible length (the
    header MAX_HEADER_BYTES, a data line MAX_LINE_BYTES), and no rows past `max_rows` (blank lines
    at the very end are allowed). `check(chunk)` returns the sentence for the first problem, or None."""

    def __init__(self, name: str, max_rows: int | None):
        self.name, self.max_rows = name, max_rows
        self.lines_done = 0          # lines ended so far (line 1 is the header)
        self.open_line = 0           # bytes of the line not ended yet

    def _limit(self, line_number: int) -> int:
        return MAX_HEADER_BYTES if line_number == 1 else MAX_LINE_BYTES

    def _too_long(self, line_number: int) -> str:
        if line_number == 1:
            return (f"{self.name}, line 1: is longer than {MAX_HEADER_BYTES:,} characters, far "
                    "longer than the header label,pixel0,...,pixel783; check that it is a Kaggle CSV.")
        return (f"{self.name}, line {line_number:,}: is longer than any line of a Kaggle digit file can "
                f"be ({MAX_LINE_BYTES:,} characters: 785 whole numbers from 0 to 255 and their commas); "
                "write one digit per line, each line with 785 fields like the header.")

    def check(self, chunk: bytes) -> str | None:
        ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == ord("\n"))   # (k,)
        lengths = np.diff(ends, prepend=-1 - self.open_line) - 1                   # (k,) without \n
        limits = np.full(len(ends), MAX_LINE_BYTES)
        if self.lines_done == 0 and len(ends):
            limits[0] = MAX_HEADER_BYTES
        too_long = np.flatnonzero(lengths > limits)
        if len(too_long):
            return self._too_long(self.lines_done + int(too_long[0]) + 1)
        first_new_line = self.lines_done + 1
        self.open_line = len(chunk) - int(ends[-1]) - 1 if len(ends) else self.open_line + len(chunk)
        self.lines_done += len(ends)
        if self.open_line > self._limit(self.lines_done + 1):
            return self._too_long(self.lines_done + 1)
        if self.max_rows is not None and self.lines_done > self.max_rows + 1:
            # Lines past the header and max_rows rows may only be blank ones at the end of the file.
            past_cap = max(0, self.max_rows + 2 - first_new_line)   # first ended line past the cap
            start = int(ends[past_cap - 1]) + 1 if past_cap else 0
            if chunk[start:].strip():
                return (f"{self.name} has more than {self.max_rows:,} rows but the cap on this host is "
                        f"{self.max_rows:,}; {_row_cap_hint()}.")
        return None


def _check_utf8(data: bytes, name: str, final: bool = True) -> None:
    """DataError if `data` has NUL bytes or is not UTF-8: binary in line 1, else the line named.

    final=False: `data` is the start of the text, so a character cut in half at its end is fine."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
        bad = data.find(b"\x00")
    except UnicodeDecodeError as e:
        bad = e.start
    if bad < 0:
        return
    line = data[:bad].count(b"\n") + 1
    if line == 1:
        raise DataError(f"{name} is not a CSV text file (it holds binary data); choose a "
                        "comma-separated text file such as Kaggle's train.csv.")
    raise DataError(f"{name}, line {line}: holds bytes that are not UTF-8 text; "
                    "save the file again as UTF-8 CSV.")


def _separator(line: str) -> str | None:
    """The separator `line` uses instead of commas ("semicolons", "tabs", ...), or None."""
    return next((word for sep, word in SEPARATORS.items() if line.count(sep) > line.count(",")), None)


def _check_header(line: str, name: str, labelled: bool | None) -> list[str]:
    """The column names in header `line` (file line 1) if it is an accepted layout, else DataError."""
    layouts = LAYOUTS[labelled]
    expected = " or ".join(f"{layout[0]},{layout[1]},...,pixel783" for layout in layouts)
    if not line.strip():
        raise DataError(f"{name}, line 1: is blank; the first line must be the header {expected}.")
    if _separator(line):
        raise DataError(f"{name} is separated by {_separator(line)}; save it as comma-separated CSV.")
    cells = [c.strip().strip('"').strip().lower() for c in line.split(",")]
    if all(NUMBER.fullmatch(c) for c in cells):
        raise DataError(f"{name} has no header: line 1 holds numbers; add the header line "
                        f"{expected} as line 1.")
    if cells in layouts:
        return cells
    if labelled is True and cells == PIXEL_NAMES:
        raise DataError(f"{name} has no label column (it looks like Kaggle's test.csv); training "
                        "needs a labelled file such as train.csv.")
    if labelled is False and cells == LABELLED_NAMES:
        raise DataError(f"{name} has a label column; this needs the test.csv layout "
                        "pixel0,...,pixel783 without labels.")
    if cells[1:] in layouts:
        raise DataError(f"{name} has an extra first column (a row index, as pandas to_csv writes by "
                        "default); save it with index=False or delete that column.")
    layout = min(layouts, key=lambda names: abs(len(names) - len(cells)))
    if len(cells) != len(layout):
        raise DataError(f"{name}, line 1: the header has {_plural(len(cells), 'column')}; "
                        f"expected {len(layout)} ({expected}).")
    col = next(i for i, (got, want) in enumerate(zip(cells, layout)) if got != want)
    raise DataError(f'{name}, line 1: column {col + 1} of the header is named "{_shown(cells[col])}"; '
                    f'expected "{layout[col]}" (the header is {expected}).')


def _cell_error(name: str, line: int, column: str, cell: str) -> str | None:
    """The message for one bad cell, or None if it is a valid label / pixel."""
    where, text = f"{name}, line {line}, column {column}:", cell.strip()
    if len(text) > 2 and text[0] == text[-1] == '"':  # "5" is a quoted number
        text = text[1:-1].strip()
    hi = 9 if column == "label" else 255
    rule = f"a {'label' if column == 'label' else 'pixel'} must be a whole number from 0 to {hi}"
    try:
        value = float(text.replace("_", "!"))  # Python reads 1_0 as 10; CSV readers do not
    except ValueError:
        return f'{where} "{_shown(text)}" is not a number; {rule}.' if text else f"{where} the cell is empty; {rule}."
    if value != value:
        return f'{where} the cell is empty ("{_shown(text)}"); {rule}.'
    if not 0 <= value <= hi:
        return f"{where} {_shown(text)} is outside 0-{hi}; {rule}."
    if value != int(value):
        return f"{where} {_shown(text)} is not a whole number; {rule}."
    return None


def _line_error(name: str, number: int, line: str, columns: list[str]) -> str | None:
    """The message for what is wrong with data line `number` of the file, or None if it is fine."""
    line = line.rstrip("\r")
    where, n_fields = f"{name}, line {number}:", line.count(",") + 1
    if not line.strip():
        return f"{where} is blank; delete it (only the end of the file may have blank lines)."
    if n_fields != len(columns) and _separator(line):
        return f"{where} is separated by {_separator(line)}; save the file as comma-separated CSV."
    if n_fields != len(columns):
        return f"{where} has {_plural(n_fields, 'field')}; every line needs {len(columns)}, like the header."
    cells = zip(columns, line.split(","))
    return next(filter(None, (_cell_error(name, number, col, cell) for col, cell in cells)), None)


def _is_plain(line: str, n_columns: int) -> bool:
    """Fast test (str methods run in C): `line` has n_columns cells made of digits only."""
    return line.count(",") == n_columns - 1 and not line.rstrip("\r").translate(NOT_PLAIN)


def _parse(body: bytes, name: str, columns: list[str]) -> np.ndarray:
    """Data lines (file line 2 on) -> float32 (n, len(columns)), every cell checked.

    pandas parses and NumPy checks the ranges in one vectorised pass; only when that finds a
    problem are lines split in Python, to name the first bad line and column.
    """
    import pandas as pd  # here, not at the top: trainer processes unpickle a Split and never parse

    suspects = None  # data rows to look at; None: every row that is not plain digits
    try:
        frame = pd.read_csv(io.BytesIO(body), header=None, dtype=np.float32, engine="c",
                            lineterminator="\n", skip_blank_lines=False)
        values = frame.to_numpy()
        if values.shape == (body.count(b"\n") + 1, len(columns)):  # one row per line
            highest = np.array([9 if c == "label" else 255 for c in columns], dtype=np.float32)
            with np.errstate(invalid="ignore"):  # NaN compares False, so it is bad too
                bad = ~((values >= 0) & (values <= highest) & (values == np.round(values)))
            if not bad.any():
                return values
            suspects = np.flatnonzero(bad.any(axis=1))
    except (ValueError, pd.errors.ParserError):  # a cell that is not a number, a line too long
        pass
    lines = body.decode("utf-8").split("\n")
    for row in range(len(lines)) if suspects is None else suspects:
        if suspects is None and _is_plain(lines[row], len(columns)):
            continue
        message = _line_error(name, row + 2, lines[row], columns)
        if message:
            raise DataError(message)
    raise DataError(f"{name} could not be read as numbers; check that it is a Kaggle-layout CSV.")


def load_csv(source, *, labelled: bool | None = True, max_rows: int | None = None,
             name: str | None = None) -> Dataset:
    """Read a Kaggle-layout .csv or .csv.gz from a path, bytes or binary file object.

    labelled: True needs `label,pixel0..783`; False needs `pixel0..783`; None accepts either.
    max_rows: the host's cap on data rows; reading stops as soon as it is passed (see _read_text).
    name: for messages (default: the file's name).
    Returns a Dataset: images uint8 (n, 784), labels int64 (n,) or None.
    """
    stream, name, size = _open_source(source, name)
    try:
        text = _read_text(stream, name, size, max_rows)
    finally:
        if isinstance(source, (str, Path)):
            stream.close()
    header, _, body = text.partition(b"\n")
    del text
    columns = _check_header(header.decode("utf-8").rstrip("\r"), name, labelled)
    body = body.rstrip()  # trailing blank lines
    if not body:
        raise DataError(f"{name} has a header but no data rows; add one line per digit below it.")
    values = _parse(body, name, columns)
    if columns[0] == "label":
        return Dataset(values[:, 1:].astype(np.uint8), values[:, 0].astype(np.int64), name)
    return Dataset(values.astype(np.uint8), None, name)


@functools.lru_cache(maxsize=1)
def load_shipped_sample() -> Dataset:
    """The 5,000 MNIST digits shipped in Data/ (500 per digit, sorted by label); cached."""
    return load_csv(SHIPPED_SAMPLE)


def _header_names(path: Path) -> list[str]:
    """Lower-cased column names on a .csv / .csv.gz file's first line (raises if unreadable)."""
    with path.open("rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if is_gzip else path.open("rb")) as f:
        first = f.readline(1 << 16).decode("utf-8-sig")
    return [c.strip().strip('"').strip().lower() for c in first.split(",")]


def find_datasets(data_dir: Path = DATA_DIR) -> dict[str, Path]:
    """{display name: path}: the shipped sample first, then labelled *.csv / *.csv.gz in data_dir."""
    found = {SHIPPED_KEY: SHIPPED_SAMPLE} if SHIPPED_SAMPLE.is_file() else {}
    data_dir = Path(data_dir)
    paths = sorted({*data_dir.glob("*.csv"), *data_dir.glob("*.csv.gz")}) if data_dir.is_dir() else []
    for path in paths:
        if not path.is_file() or path.resolve() == SHIPPED_SAMPLE.resolve():
            continue
        try:
            if "label" in _header_names(path):  # test.csv-style files have no label column
                found[path.name] = path
        except (OSError, EOFError, zlib.error, UnicodeDecodeError):
            continue
    return found


def stratified_split(labels: np.ndarray, val_fraction: float = 0.2, seed: int = 0, *,
                     name: str = "the data") -> tuple[np.ndarray, np.ndarray]:
    """Seeded split that keeps each digit's share: (train_idx, val_idx), int64, each shuffled.

    labels: (n,). Each digit puts round(count * val_fraction) of its rows, at least 1 and at most
    count - 1, in validation. name: the file, for messages.
    """
    if not 0 < val_fraction < 1:
        raise ConfigError(f"The validation fraction must be between 0 and 1, not {val_fraction}.")
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if len(labels) < 4:
        raise DataError(f"Only {_plural(len(labels), 'row')} in {name}; training needs at least "
                        "two rows of each of at least two different digits.")
    if len(classes) < 2:
        raise DataError(f"Only digit {classes[0]} appears in {name}; training needs at least "
                        "two different digits.")
    if counts.min() < 2:
        raise DataError(f"Digit {classes[counts.argmin()]} appears only once in {name}; every digit "
                        "needs at least two rows (one to train on, one to validate).")
    rng = np.random.default_rng(seed)
    train, val = [], []
    for digit, count in zip(classes, counts):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        n_val = min(max(int(round(count * val_fraction)), 1), int(count) - 1)
        val.append(rows[:n_val])
        train.append(rows[n_val:])
    train_idx, val_idx = np.concatenate(train).astype(np.int64), np.concatenate(val).astype(np.int64)
    rng.shuffle(train_idx)
    rng.shuffle(val_idx)
    return train_idx, val_idx


def subsample(dataset: Dataset, max_rows: int, seed: int = 0) -> Dataset:
    """At most max_rows rows of a labelled Dataset, each digit keeping its share (seeded).

    Used for a big train.csv on a host with a row cap (the Community Cloud profile): the app trains
    on a fair sample instead of refusing the file. Returns the dataset itself if it is small enough.
    """
    if len(dataset) <= max_rows or dataset.labels is None:
        return dataset
    keep_fraction = max_rows / len(dataset)
    _, keep = stratified_split(dataset.labels, keep_fraction, seed, name=dataset.name)
    keep = np.sort(keep[:max_rows])
    return Dataset(dataset.images[keep], dataset.labels[keep],
                   f"{dataset.name} (a {len(keep):,}-row sample)")


def scale_pixels(images: np.ndarray, dtype=np.float32) -> np.ndarray:
    """uint8 (n, 784) -> dtype (n, 784) in [0, 1] (a new array)."""
    scaled = np.asarray(images).astype(dtype)
    scaled /= 255
    return scaled


def one_hot(labels: np.ndarray, n_classes: int = N_CLASSES, dtype=np.float32) -> np.ndarray:
    """int labels (n,) -> (n, n_classes): 1 in each row's label column, 0 elsewhere."""
    labels = np.asarray(labels, dtype=np.int64)
    encoded = np.zeros((len(labels), n_classes), dtype=dtype)
    encoded[np.arange(len(labels)), labels] = 1
    return encoded


def make_split(dataset: Dataset, val_fraction: float = 0.2, seed: int = 0, dtype=np.float32) -> Split:
    """Stratified train / validation split of a labelled Dataset, pixels scaled to [0, 1]."""
    if dataset.labels is None:
        raise DataError(f"{dataset.name} has no labels (Kaggle's test.csv layout); training needs "
                        "a labelled file such as train.csv.")
    train_idx, val_idx = stratified_split(dataset.labels, val_fraction, seed, name=dataset.name)
    return Split(
        x_train=scale_pixels(dataset.images[train_idx], dtype),
        y_train=dataset.labels[train_idx],
        x_val=scale_pixels(dataset.images[val_idx], dtype),
        y_val=dataset.labels[val_idx],
    )
