"""MNIST IDX loader (chapters/04-code-example.md): real files and small synthetic ones.

Specification:
* ``load_mnist`` returns (N, 28, 28, 1) images, float32 in [0, 1] (or the raw uint8)
  and int64 labels; 60000 training and 10000 test samples;
* the data folder is the argument, else $MMSCRATCH_DATA, else ~/.cache/mmscratch;
* a missing, truncated, wrong-magic, corrupt-gzip or wrong-checksum file raises
  ``mmscratch.DataError`` naming the file; header sizes are checked before any
  payload is read.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from mmscratch import DataError
from mmscratch.datasets import data_dir, load_mnist, mnist
from mmscratch.datasets.mnist import read_idx


# ------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def test_split(data_dir):
    return load_mnist(data_dir, "test")


def test_test_split_shapes_dtypes_and_values(test_split):
    x, y = test_split
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.float32
    assert y.shape == (10000,) and y.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y, minlength=10),
                                  [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    np.testing.assert_array_equal(y[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])


def test_uint8_mode_is_the_raw_bytes(data_dir, test_split):
    x8, y8 = load_mnist(data_dir, "test", scaled=False)
    assert x8.dtype == np.uint8 and x8.shape == (10000, 28, 28, 1)
    np.testing.assert_allclose(test_split[0], x8 / np.float32(255))
    np.testing.assert_array_equal(y8, test_split[1])


@pytest.mark.slow
def test_train_split_statistics_and_checksums(data_dir):
    (x, y), (xt, yt) = mnist.load(data_dir, verify=True)
    assert x.shape == (60000, 28, 28, 1) and xt.shape == (10000, 28, 28, 1)
    np.testing.assert_array_equal(np.bincount(y, minlength=10),
                                  [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    assert float(x.mean()) == pytest.approx(0.1307, abs=1e-4)
    assert float(x.std()) == pytest.approx(0.3081, abs=1e-4)


def test_published_checksums_match_the_data_folder(data_dir):
    sums = dict(line.split()[::-1] for line in
                (data_dir / "mnist" / "SHA256SUMS").read_text().splitlines() if line.strip())
    assert sums == mnist.SHA256


# ------------------------------------------------------------------ data folder
def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("MMSCRATCH_DATA", str(tmp_path / "env"))
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir() == tmp_path / "env"
    monkeypatch.delenv("MMSCRATCH_DATA")
    assert data_dir() == Path.home() / ".cache" / "mmscratch"


def test_missing_folder_names_the_file(tmp_path):
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: file not found"):
        load_mnist(tmp_path, "train")


def test_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        load_mnist(kind="validation")


# ------------------------------------------------------------------ synthetic IDX files
def _idx_bytes(array, magic):
    header = struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write(path, data, compress=True):
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _images(n=5, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "plain"])
def test_read_idx_round_trip(tmp_path, compress):
    imgs = _images()
    path = _write(tmp_path / "imgs.idx", _idx_bytes(imgs, 2051), compress)
    np.testing.assert_array_equal(read_idx(path, 2051, (28, 28)), imgs)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    path = _write(tmp_path / "labels.idx", _idx_bytes(labels, 2049), compress)
    np.testing.assert_array_equal(read_idx(path, 2049, ()), labels)


def test_truncated_payload(tmp_path):
    data = _idx_bytes(_images(), 2051)
    path = _write(tmp_path / "short.gz", data[:-100])
    with pytest.raises(DataError, match=r"short\.gz: truncated: 3820 of 3920 payload bytes"):
        read_idx(path, 2051, (28, 28))


def test_truncated_header(tmp_path):
    path = _write(tmp_path / "tiny.gz", b"\x00\x00")
    with pytest.raises(DataError, match=r"tiny\.gz: truncated"):
        read_idx(path, 2051, (28, 28))


def test_wrong_magic(tmp_path):
    path = _write(tmp_path / "labels-as-images.gz", _idx_bytes(np.zeros(5), 2049))
    with pytest.raises(DataError, match=r"labels-as-images\.gz: wrong magic number 2049"):
        read_idx(path, 2051, (28, 28))


def test_corrupt_gzip(tmp_path):
    # a gzip header followed by bytes that are not a deflate stream
    path = tmp_path / "corrupt.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 64)
    with pytest.raises(DataError, match=r"corrupt\.gz: corrupt or unreadable"):
        read_idx(path, 2051, (28, 28))


def test_gzip_checksum_error(tmp_path):
    good = bytearray(gzip.compress(_idx_bytes(_images(), 2051)))
    good[-8] ^= 0xFF  # the CRC-32 of the gzip trailer
    path = tmp_path / "badcrc.gz"
    path.write_bytes(bytes(good))
    with pytest.raises(DataError, match=r"badcrc\.gz: corrupt or unreadable.*CRC"):
        read_idx(path, 2051, (28, 28))


def test_gzip_cut_short(tmp_path):
    good = gzip.compress(_idx_bytes(_images(), 2051))
    path = tmp_path / "cut.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"cut\.gz"):
        read_idx(path, 2051, (28, 28))


def test_trailing_bytes(tmp_path):
    path = _write(tmp_path / "long.gz", _idx_bytes(_images(), 2051) + b"\x00")
    with pytest.raises(DataError, match=r"long\.gz: trailing bytes"):
        read_idx(path, 2051, (28, 28))


def test_header_sizes_are_checked_before_reading(tmp_path):
    # A header claiming 2**31 - 1 images must fail at once, without allocating 1.6 TB.
    header = struct.pack(">4i", 2051, 2**31 - 1, 28, 28)
    path = _write(tmp_path / "huge.gz", header + bytes(784))
    with pytest.raises(DataError, match=r"huge\.gz: implausible header sizes"):
        read_idx(path, 2051, (28, 28))
    with pytest.raises(DataError, match=r"huge\.gz: header says 2147483647 items, expected 5"):
        read_idx(path, 2051, (28, 28), count=5)
    wrong = _write(tmp_path / "32px.gz", struct.pack(">4i", 2051, 1, 32, 32) + bytes(1024))
    with pytest.raises(DataError, match=r"32px\.gz: header says items of shape \(32, 32\)"):
        read_idx(wrong, 2051, (28, 28))


def _fake_mnist_folder(root, n_test=10000, labels=None):
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    imgs = np.zeros((n_test, 28, 28), dtype=np.uint8)
    imgs[:, 0, 0] = 255
    lab = np.arange(n_test) % 10 if labels is None else labels
    _write(folder / "t10k-images-idx3-ubyte.gz", _idx_bytes(imgs, 2051))
    _write(folder / "t10k-labels-idx1-ubyte.gz", _idx_bytes(np.asarray(lab), 2049))
    return folder


def test_load_mnist_on_a_synthetic_folder(tmp_path):
    _fake_mnist_folder(tmp_path)
    x, y = load_mnist(tmp_path, "test")
    assert x.shape == (10000, 28, 28, 1) and x[0, 0, 0, 0] == 1.0 and x[0, 1, 1, 0] == 0.0
    np.testing.assert_array_equal(y[:12], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])


def test_wrong_sample_count_and_bad_labels(tmp_path):
    _fake_mnist_folder(tmp_path / "small", n_test=100)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: header says 100 items, "
                                         r"expected 10000"):
        load_mnist(tmp_path / "small", "test")
    _fake_mnist_folder(tmp_path / "bad", labels=np.full(10000, 12))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: labels must be digits"):
        load_mnist(tmp_path / "bad", "test")


def test_checksum_mismatch_with_verify(tmp_path):
    _fake_mnist_folder(tmp_path)
    assert load_mnist(tmp_path, "test")[0].shape[0] == 10000  # fine without verify
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: SHA-256 .* does not "
                                         r"match the published 8d422c7b"):
        load_mnist(tmp_path, "test", verify=True)
