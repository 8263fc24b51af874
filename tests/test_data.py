"""Tests for nn_core.data: the bad-CSV corpus, good files, split, scaling, one-hot, discovery."""
import gzip
import io
import random

import numpy as np
import pytest

from nn_core import data
from nn_core.data import (
    DATA_DIR, IMAGE_SIDE, N_CLASSES, N_PIXELS, SHIPPED_SAMPLE, Dataset, find_datasets, load_csv, max_csv_bytes,
    load_shipped_sample, make_split, one_hot, scale_pixels, stratified_split,
)
from nn_core.errors import ConfigError, DataError
from tests.corpus import CSV_CASES, CSV_DIR, GOOD_CSV_CASES
from tests.corpus.make_corpus import corpus, csv, row

PIXEL_HEADER = ",".join(f"pixel{i}" for i in range(N_PIXELS))
HEADER = "label," + PIXEL_HEADER


def small_csv(labels, newline="\n") -> str:
    """A valid labelled CSV text, one row per label."""
    return newline.join([HEADER, *(",".join(row(d, i)) for i, d in enumerate(labels))]) + newline


def message_of(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message.endswith("."), message
    return message


# --- the corpus ------------------------------------------------------------------------------

@pytest.mark.parametrize("filename, expected, stage", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_corpus_case(filename, expected, stage):
    path = CSV_DIR / filename
    if stage == "load":
        with pytest.raises(DataError) as excinfo:
            load_csv(path)
    else:
        dataset = load_csv(path)
        with pytest.raises(DataError) as excinfo:
            make_split(dataset)
    assert expected in message_of(excinfo)


@pytest.mark.parametrize("filename, n_rows, labelled", GOOD_CSV_CASES)
def test_corpus_good_files_load(filename, n_rows, labelled):
    dataset = load_csv(CSV_DIR / filename, labelled=labelled)
    assert dataset.images.shape == (n_rows, N_PIXELS) and dataset.images.dtype == np.uint8
    assert (dataset.labels is None) == (labelled is False)


def test_corpus_files_match_the_generator_and_the_table():
    generated = corpus()
    named = {c[0] for c in CSV_CASES} | {c[0] for c in GOOD_CSV_CASES}
    on_disk = {p.name for p in CSV_DIR.iterdir()}
    assert named == set(generated) == on_disk
    assert len(CSV_CASES) >= 20
    for name, content in generated.items():
        if content[:2] in (b"\x1f\x8b", b"PK"):
            continue  # compressed bytes may differ between zlib builds
        assert (CSV_DIR / name).read_bytes() == content, f"{name}: run tests/corpus/make_corpus.py"


def test_random_damage_gives_data_error_or_valid_dataset():
    """Bytes deleted, replaced or inserted anywhere: never a raw pandas / numpy / gzip error."""
    rng = random.Random(0)
    clean = csv([row(d % 10, d) for d in range(20)])
    for _ in range(150):
        damaged = bytearray(clean)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(damaged))
            action = rng.choice(["delete", "replace", "insert"])
            if action == "delete":
                del damaged[at]
            else:
                damaged[at:at + (action == "replace")] = bytes([rng.choice(b"0123456789,;\n\r .-ax\x00\xff")])
        for content in (bytes(damaged), gzip.compress(bytes(damaged), mtime=0)[: rng.randint(1, 400)]):
            try:
                dataset = load_csv(content, name="damaged.csv")
            except DataError as e:
                assert "\n" not in str(e)
                continue
            assert dataset.images.dtype == np.uint8 and dataset.labels.max() <= 9


# --- good input ------------------------------------------------------------------------------

def test_shipped_sample():
    dataset = load_shipped_sample()
    assert len(dataset) == 5000 and dataset.name == "mnist_5k.csv.gz"
    assert dataset.images.shape == (5000, N_PIXELS) and dataset.images.dtype == np.uint8
    assert dataset.labels.dtype == np.int64
    assert np.bincount(dataset.labels).tolist() == [500] * N_CLASSES
    assert not dataset.images.flags.writeable and not dataset.labels.flags.writeable
    assert dataset.images.max() == 255 and load_shipped_sample() is dataset
    assert SHIPPED_SAMPLE == DATA_DIR / "mnist_5k.csv.gz" and IMAGE_SIDE ** 2 == N_PIXELS


def test_bom_crlf_spaces_and_trailing_blank_lines_read_like_a_clean_file():
    clean = load_csv(small_csv(range(10)).encode())
    messy_header = ", ".join(f" {c} " for c in HEADER.split(","))
    messy = "\ufeff" + small_csv(range(10), "\r\n").replace(HEADER, messy_header) + "\r\n\r\n  \n"
    loaded = load_csv(messy.encode())
    assert np.array_equal(loaded.images, clean.images) and np.array_equal(loaded.labels, clean.labels)
    assert loaded.labels.tolist() == list(range(10))


def test_test_csv_layout():
    text = csv([row(None, i) for i in range(3)], header=PIXEL_HEADER.split(",")).decode()
    for labelled in (False, None):
        dataset = load_csv(text.encode(), labelled=labelled)
        assert dataset.labels is None and dataset.images.shape == (3, N_PIXELS)
    with pytest.raises(DataError, match="no label column"):
        load_csv(text.encode())
    with pytest.raises(DataError, match="no labels"):
        make_split(load_csv(text.encode(), labelled=None))
    with pytest.raises(DataError, match="has a label column"):
        load_csv(small_csv(range(3)).encode(), labelled=False)
    assert load_csv(small_csv(range(3)).encode(), labelled=None).labels.tolist() == [0, 1, 2]


def test_bytes_file_objects_and_names():
    content = small_csv(range(10)).encode()
    assert load_csv(content).name == "the uploaded file"
    assert len(load_csv(io.BytesIO(content), name="mine.csv")) == 10

    class Upload(io.BytesIO):  # like Streamlit's UploadedFile: a BytesIO with a name
        name = "upload.csv"

    upload = Upload(content)
    upload.read()  # already read once: load_csv rewinds it
    assert load_csv(upload).name == "upload.csv"
    with pytest.raises(DataError, match=r"^upload.csv, line 2, column label: 12 is outside"):
        load_csv(Upload(content.replace(b"\n0,", b"\n12,", 1)))


def test_gzip_found_by_magic_bytes(tmp_path):
    content = small_csv(range(10)).encode()
    packed = gzip.compress(content)
    (tmp_path / "digits.csv").write_bytes(packed)
    (tmp_path / "digits.csv.gz").write_bytes(packed)
    for source in (packed, tmp_path / "digits.csv", str(tmp_path / "digits.csv.gz")):
        assert np.array_equal(load_csv(source).images, load_csv(content).images)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        load_csv(tmp_path)


def test_max_rows_cap():
    content = small_csv(range(10)).encode()
    assert len(load_csv(content, max_rows=10)) == 10
    with pytest.raises(DataError) as excinfo:
        load_csv(content, max_rows=5, name="big.csv")
    message = message_of(excinfo)
    assert "big.csv has more than 5 rows" in message and "cap on this host is 5" in message
    assert "smaller file" in message and "NN_MAX_ROWS" in message


# --- split, scaling, one-hot -----------------------------------------------------------------

def test_stratified_split_is_stratified_disjoint_and_covering():
    labels = np.repeat(np.arange(10), [5, 7, 10, 23, 40, 2, 3, 100, 11, 60])  # sorted, unbalanced
    train_idx, val_idx = stratified_split(labels, val_fraction=0.25, seed=3)
    assert train_idx.dtype == val_idx.dtype == np.int64
    assert np.array_equal(np.sort(np.concatenate([train_idx, val_idx])), np.arange(len(labels)))
    for digit, count in enumerate(np.bincount(labels)):
        n_val = np.sum(labels[val_idx] == digit)
        assert 1 <= n_val <= count - 1 and abs(n_val - 0.25 * count) <= 1
    assert not np.all(np.diff(val_idx) > 0) and not np.all(np.diff(train_idx) > 0)  # shuffled


def test_stratified_split_seeds():
    labels = load_shipped_sample().labels
    first, again, other = (stratified_split(labels, 0.2, seed) for seed in (0, 0, 1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[1], other[1])
    assert np.bincount(labels[first[1]]).tolist() == [100] * N_CLASSES


def test_stratified_split_refuses_bad_input():
    with pytest.raises(DataError, match="Only 3 rows in the data"):
        stratified_split(np.array([0, 1, 1]))
    with pytest.raises(DataError, match="Only digit 3 appears"):
        stratified_split(np.full(10, 3))
    with pytest.raises(DataError, match="Digit 2 appears only once"):
        stratified_split(np.array([0, 0, 1, 1, 2]))
    for fraction in (0, 1, 1.5, -0.1):
        with pytest.raises(ConfigError):
            stratified_split(np.repeat(np.arange(10), 5), val_fraction=fraction)


def test_make_split():
    dataset = load_shipped_sample()
    split = make_split(dataset, val_fraction=0.2, seed=0)
    assert split.x_train.shape == (4000, N_PIXELS) and split.x_val.shape == (1000, N_PIXELS)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    assert 0 <= split.x_train.min() and split.x_val.max() == 1.0
    train_idx, _ = stratified_split(dataset.labels, 0.2, 0)
    assert np.array_equal(split.y_train, dataset.labels[train_idx])
    assert np.allclose(split.x_train * 255, dataset.images[train_idx])
    assert make_split(dataset, dtype=np.float64).x_val.dtype == np.float64


def test_scale_pixels():
    images = np.arange(256, dtype=np.uint8).reshape(1, 256)
    scaled = scale_pixels(images)
    assert scaled.dtype == np.float32 and scaled[0, 0] == 0.0 and scaled[0, -1] == 1.0
    assert np.allclose(scaled * 255, images)
    assert scale_pixels(images, np.float64).dtype == np.float64
    assert images[0, -1] == 255  # input untouched


def test_one_hot():
    labels = np.array([3, 0, 9, 3])
    encoded = one_hot(labels)
    assert encoded.shape == (4, N_CLASSES) and encoded.dtype == np.float32
    assert np.array_equal(encoded.argmax(axis=1), labels) and np.all(encoded.sum(axis=1) == 1)
    assert one_hot(labels, n_classes=12, dtype=np.float64).shape == (4, 12)


def test_dataset_len_and_read_only():
    dataset = Dataset(np.zeros((3, N_PIXELS), np.uint8), np.zeros(3, np.int64), "x")
    assert len(dataset) == 3
    with pytest.raises(ValueError):
        dataset.images[0, 0] = 1


# --- discovery -------------------------------------------------------------------------------

def test_find_datasets(tmp_path):
    (tmp_path / "train.csv").write_text(small_csv(range(10)))
    (tmp_path / "b_train.csv.gz").write_bytes(gzip.compress(small_csv(range(10)).encode()))
    (tmp_path / "test.csv").write_text(PIXEL_HEADER + "\n" + "0," * 783 + "0\n")
    (tmp_path / "junk.csv").write_bytes(bytes(range(256)))
    (tmp_path / "broken.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    (tmp_path / "notes.txt").write_text(HEADER)
    found = find_datasets(tmp_path)
    assert list(found) == [data.SHIPPED_KEY, "b_train.csv.gz", "train.csv"]
    assert found[data.SHIPPED_KEY] == SHIPPED_SAMPLE and found["train.csv"] == tmp_path / "train.csv"
    assert list(find_datasets(tmp_path / "missing")) == [data.SHIPPED_KEY]
    assert list(find_datasets())[0] == "MNIST sample (5,000 digits, shipped)"


def test_subsample_keeps_each_digits_share_and_respects_the_cap():
    full = data.load_shipped_sample()
    small = data.subsample(full, 1000, seed=0)
    assert len(small) == 1000
    assert np.bincount(small.labels, minlength=10).tolist() == [100] * 10
    assert "1,000-row sample" in small.name
    assert data.subsample(full, 1000, seed=0).labels.tolist() == small.labels.tolist()
    assert data.subsample(full, 10_000) is full


def test_a_file_bigger_than_the_row_cap_allows_is_refused_by_its_size_and_blank_lines_at_the_end_count_not():
    content = small_csv(range(10)).encode()
    assert len(load_csv(content + b"\n" * 5, max_rows=10)) == 10          # blank lines past the cap
    with pytest.raises(DataError, match=r"^big.csv is 0\.0 MB, more than a CSV of 1 row \(the cap on this host\)"):
        load_csv(content + b" " * max_csv_bytes(1), max_rows=1, name="big.csv")
