"""The CSV corpus: small files in tests/corpus/csv/ and what loading each one must say.

CSV_CASES: (file name, a substring of the DataError message, stage), where stage "load" means
`nn_core.data.load_csv(path)` raises, and "split" means it loads but `make_split` raises.
GOOD_CSV_CASES: (file name, number of rows, `labelled` argument) for files that must load.
Regenerate the files with `python tests/corpus/make_corpus.py`.
"""
from pathlib import Path

CSV_DIR = Path(__file__).resolve().parent / "csv"

CSV_CASES: list[tuple[str, str, str]] = [
    ("empty.csv", "is empty (0 bytes)", "load"),
    ("blank_text.csv", "holds no text", "load"),
    ("header_only.csv", "has a header but no data rows", "load"),
    ("header_784_columns.csv", "line 1: the header has 784 columns; expected 785", "load"),
    ("header_renamed.csv", 'line 1: column 1 of the header is named "digit"; expected "label"', "load"),
    ("header_typo.csv", 'line 1: column 12 of the header is named "pixl10"; expected "pixel10"', "load"),
    ("no_header.csv", "has no header: line 1 holds numbers", "load"),
    ("no_label_column.csv", "has no label column", "load"),
    ("short_line.csv", "line 3: has 700 fields; every line needs 785", "load"),
    ("long_line.csv", "line 2: has 786 fields; every line needs 785", "load"),
    ("semicolons.csv", "is separated by semicolons; save it as comma-separated CSV", "load"),
    ("tabs.csv", "is separated by tabs; save it as comma-separated CSV", "load"),
    ("index_column.csv", "has an extra first column (a row index", "load"),
    ("index_unnamed.csv", "has an extra first column (a row index", "load"),
    ("blank_line_inside.csv", "line 3: is blank", "load"),
    ("non_numeric.csv", 'line 3, column pixel12: "abc" is not a number', "load"),
    ("empty_cell.csv", "line 2, column pixel5: the cell is empty", "load"),
    ("nan_cell.csv", 'line 5, column pixel100: the cell is empty ("NaN")', "load"),
    ("pixel_negative.csv", "line 2, column pixel0: -1 is outside 0-255", "load"),
    ("pixel_256.csv", "line 3, column pixel783: 256 is outside 0-255", "load"),
    ("pixel_fraction.csv", "line 4, column pixel300: 3.5 is not a whole number", "load"),
    ("label_10.csv", "line 3, column label: 10 is outside 0-9", "load"),
    ("label_negative.csv", "line 2, column label: -1 is outside 0-9", "load"),
    ("label_fraction.csv", "line 4, column label: 3.5 is not a whole number", "load"),
    ("label_text.csv", 'line 3, column label: "seven" is not a number', "load"),
    ("random_bytes.csv", "is not a CSV text file", "load"),
    ("digit.png", "is a PNG image, not a CSV text file", "load"),
    ("train.zip", "is a zip archive (or an Excel workbook), not a CSV text file", "load"),
    ("fake.csv.gz", "is named .gz but is not gzip-compressed", "load"),
    ("truncated.csv.gz", "is a damaged or truncated gzip file", "load"),
    ("corrupt.csv.gz", "is a damaged or truncated gzip file", "load"),
    ("latin1.csv", "line 3: holds bytes that are not UTF-8 text", "load"),
    ("one_row.csv", "Only 1 row in one_row.csv", "split"),
    ("single_class.csv", "Only digit 3 appears in single_class.csv; training needs at least two different digits", "split"),
    ("digit_once.csv", "Digit 7 appears only once in digit_once.csv", "split"),
]

GOOD_CSV_CASES: list[tuple[str, int, bool | None]] = [
    ("good_bom_crlf.csv", 20, True),  # UTF-8 BOM, CRLF, spaces around header names, blank lines at the end
    ("good_gzip_named.csv", 20, True),  # gzip bytes under a .csv name
    ("good_test_layout.csv", 5, False),  # Kaggle test.csv layout: no label column
]
