"""DataLoader, the embedded digits, and the MNIST IDX reader (on files written here)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.data import (
    DataLoader,
    TensorDataset,
    load_digits,
    load_mnist_idx,
    mnist,
    read_idx,
)

# --- DataLoader ------------------------------------------------------------------------------


def _epoch(loader):
    return [tuple(np.asarray(t) for t in batch) for batch in loader]


def test_every_sample_once_per_epoch_in_a_new_order():
    X = np.arange(103 * 2, dtype=np.float32).reshape(103, 2)
    y = np.arange(103, dtype=np.int64)
    loader = DataLoader(X, y, batch_size=10, shuffle=True, seed=0)
    assert len(loader) == 11
    orders = []
    for _ in range(3):
        batches = _epoch(loader)
        assert [len(b[1]) for b in batches] == [10] * 10 + [3]
        seen = np.concatenate([b[1] for b in batches])
        assert sorted(seen.tolist()) == list(range(103))  # each sample exactly once
        for xb, yb in batches:  # rows stay aligned across the arrays
            np.testing.assert_array_equal(xb[:, 0], 2 * yb)
        orders.append(seen)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    assert not np.array_equal(orders[0], np.arange(103))


def test_seeded_order_is_reproducible_and_unshuffled_is_in_order():
    y = np.arange(50)
    a = DataLoader(y, batch_size=7, shuffle=True, seed=42)
    b = DataLoader(y, batch_size=7, shuffle=True, seed=42)
    c = DataLoader(y, batch_size=7, shuffle=True, seed=43)
    ea = [np.concatenate([np.asarray(t) for t in a]) for _ in range(2)]
    eb = [np.concatenate([np.asarray(t) for t in b]) for _ in range(2)]
    ec = np.concatenate([np.asarray(t) for t in c])
    np.testing.assert_array_equal(ea[0], eb[0])
    np.testing.assert_array_equal(ea[1], eb[1])  # the sequence of epochs repeats too
    assert not np.array_equal(ea[0], ec)
    plain = np.concatenate([np.asarray(t) for t in DataLoader(y, batch_size=7)])
    np.testing.assert_array_equal(plain, y)
    # seed=None: tg.manual_seed fixes the order
    tg.manual_seed(9)
    first = np.concatenate([np.asarray(t) for t in DataLoader(y, batch_size=8, shuffle=True)])
    tg.manual_seed(9)
    again = np.concatenate([np.asarray(t) for t in DataLoader(y, batch_size=8, shuffle=True)])
    np.testing.assert_array_equal(first, again)


def test_drop_last_types_and_errors():
    X = np.ones((10, 3), dtype=np.float32)
    y = np.zeros(10, dtype=np.int64)
    loader = DataLoader(X, y, batch_size=4, drop_last=True)
    assert len(loader) == 2
    batches = list(loader)
    assert len(batches) == 2 and all(b[0].shape == (4, 3) for b in batches)
    xb, yb = batches[0]
    assert isinstance(xb, tg.Tensor) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert not xb.requires_grad
    xb, yb = next(iter(DataLoader(X, y, batch_size=4, as_tensors=False)))
    assert isinstance(xb, np.ndarray) and xb.shape == (4, 3)
    single = next(iter(DataLoader(tg.Tensor(X), batch_size=3)))  # one array: no tuple
    assert isinstance(single, tg.Tensor) and single.shape == (3, 3)
    assert (
        len(DataLoader(X, batch_size=20)) == 1
        and len(DataLoader(X, batch_size=20, drop_last=True)) == 0
    )
    with pytest.raises(ValueError, match=r"same length, got lengths \[10, 9\]"):
        DataLoader(X, y[:9])
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(X, batch_size=0)
    with pytest.raises(ValueError, match="at least one array"):
        DataLoader()


def test_dataset_objects_are_collated():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6)
    batches = list(DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, seed=1))
    assert [b[0].shape for b in batches] == [(4, 2), (2, 2)]
    got = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(got.tolist()) == list(range(6))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())


# --- the embedded digits -------------------------------------------------------------------


def test_digits_split_sizes_balance_and_types():
    X, y = load_digits("train")
    Xt, yt = load_digits("test")
    Xa, ya = load_digits("all")
    assert X.shape == (4000, 784) and Xt.shape == (1000, 784) and Xa.shape == (5000, 784)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.bincount(y).tolist() == [400] * 10
    assert np.bincount(yt).tolist() == [100] * 10
    assert np.bincount(ya).tolist() == [500] * 10
    # train and test are disjoint and together are all 5,000 digits
    key = lambda A: {a.tobytes() for a in (A * 255).round().astype(np.uint8)}  # noqa: E731
    assert not key(X) & key(Xt)
    assert key(X) | key(Xt) == key(Xa)
    # shuffled: the classes are mixed (the first 100 labels hold every digit)
    assert len(set(y[:100].tolist())) == 10


def test_digits_are_repeatable_raw_and_reshapable():
    X1, y1 = load_digits("train", seed=0)
    X2, y2 = load_digits("train", seed=0)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = load_digits("train", seed=1)
    assert not np.array_equal(X1, X3)
    Xs, ys = load_digits("train", shuffle=False)  # the stored order: sorted by class
    assert (np.diff(ys) >= 0).all() and ys[0] == 0 and ys[-1] == 9
    raw, _ = load_digits("test", normalize=False, flatten=False)
    assert raw.dtype == np.uint8 and raw.shape == (1000, 28, 28) and raw.max() == 255
    X1[0, 0] = 5.0  # callers get copies: the cache is untouched
    assert load_digits("train")[0][0, 0] != 5.0
    with pytest.raises(ValueError, match="split must be"):
        load_digits("validation")


def test_bad_digits_file_is_named(tmp_path):
    bad = tmp_path / "digits.csv.gz"
    bad.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(ValueError, match="digits.csv.gz: rows have 3 values"):
        load_digits(path=bad)
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="digits.csv.gz"):
        load_digits(path=bad)


# --- IDX files ------------------------------------------------------------------------------


def _idx_bytes(arr: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write_mnist(folder, n_train=5, n_test=3, gz=True, rng=None):
    rng = rng or np.random.default_rng(0)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        for kind, arr, name in (("images", images, "idx3"), ("labels", labels, "idx1")):
            raw = _idx_bytes(arr, 0x08)
            path = folder / (f"{prefix}-{kind}-{name}-ubyte" + (".gz" if gz else ""))
            path.write_bytes(gzip.compress(raw) if gz else raw)
        data[prefix] = (images, labels)
    return data


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_idx_reads_what_was_written(tmp_path, gz):
    data = _write_mnist(tmp_path, gz=gz)
    (x, y), (xt, yt) = load_mnist_idx(tmp_path)
    assert x.shape == (5, 784) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, data["train"][0].reshape(5, 784) / np.float32(255))
    np.testing.assert_array_equal(y, data["train"][1])
    np.testing.assert_array_equal(yt, data["t10k"][1])
    (xr, _), _ = load_mnist_idx(tmp_path, normalize=False, flatten=False)
    np.testing.assert_array_equal(xr, data["train"][0])


@pytest.mark.parametrize(
    "dtype, code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.int32, 0x0C),
                    (np.float32, 0x0D), (np.float64, 0x0E)],
)  # fmt: skip
def test_read_idx_dtypes_and_byte_order(tmp_path, dtype, code):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = tmp_path / "x.idx"
    path.write_bytes(_idx_bytes(arr, code))
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative and got.flags.writeable
    np.testing.assert_array_equal(got, arr)


def test_bad_idx_files_are_named(tmp_path):
    good = _idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8), 0x08)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x07\x03" + good[4:])  # unknown dtype code
    with pytest.raises(ValueError, match="train-images-idx3-ubyte: not an IDX file"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04" + good[4:])
    with pytest.raises(ValueError, match="not an IDX file .magic number 504b0304"):
        read_idx(path)
    path.write_bytes(good[:-10])
    with pytest.raises(
        ValueError, match=r"train-images-idx3-ubyte: truncated.*shape \(4, 28, 28\)"
    ):
        read_idx(path)
    path.write_bytes(good[:10])  # inside the header
    with pytest.raises(ValueError, match="truncated IDX header"):
        read_idx(path)
    path.write_bytes(good + b"\x00")
    with pytest.raises(ValueError, match="too long"):
        read_idx(path)
    gz = tmp_path / "x.gz"
    gz.write_bytes(gzip.compress(good)[:-20])
    with pytest.raises(ValueError, match="x.gz: damaged gzip data"):
        read_idx(gz)


def test_load_mnist_idx_checks_the_set(tmp_path):
    _write_mnist(tmp_path, gz=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(_idx_bytes(np.zeros(4, dtype=np.uint8), 0x08))  # 3 images, 4 labels
    with pytest.raises(ValueError, match="has 3 images but .*t10k-labels-idx1-ubyte has 4 labels"):
        load_mnist_idx(tmp_path)
    labels.write_bytes(_idx_bytes(np.full(3, 12, dtype=np.uint8), 0x08))
    with pytest.raises(ValueError, match="labels outside 0-9"):
        load_mnist_idx(tmp_path)
    labels.unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist_idx(tmp_path)


def test_download_checksums_are_the_published_ones():
    assert mnist.MNIST_FILES["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert set(mnist.MNIST_FILES) == {
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
    }  # fmt: skip


def test_download_rejects_a_bad_checksum(tmp_path, monkeypatch):
    """No network: urlretrieve is replaced by a writer of wrong bytes."""

    def fake(url, filename):
        with open(filename, "wb") as f:
            f.write(b"definitely not MNIST")

    monkeypatch.setattr(mnist.urllib.request, "urlretrieve", fake)
    with pytest.raises(ValueError, match="could not download train-images-idx3-ubyte.gz.*MD5"):
        mnist.download_mnist(tmp_path, mirrors=("https://example.invalid/",))
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind
