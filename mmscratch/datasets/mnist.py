"""MNIST handwritten digits from the original IDX ``.gz`` files (chapters/04-code-example.md).

The image branch of the document's code example reads 28 x 28 grey-scale digits. The
four canonical files live in ``<data_dir>/mnist/`` (see :func:`data_dir`):

=============================  ======  ==========================
file                           magic   contents
=============================  ======  ==========================
train-images-idx3-ubyte.gz     2051    60000 x 28 x 28 uint8
train-labels-idx1-ubyte.gz     2049    60000 uint8 (0-9)
t10k-images-idx3-ubyte.gz      2051    10000 x 28 x 28 uint8
t10k-labels-idx1-ubyte.gz      2049    10000 uint8 (0-9)
=============================  ======  ==========================

IDX layout (big-endian): a 4-byte magic, one 4-byte size per dimension, then the
bytes row by row. The reader checks the magic and the header's sizes against what
is expected *before* reading the payload, so a corrupt header can never make it
allocate gigabytes; a short payload, trailing bytes, a broken gzip stream or a wrong
SHA-256 raise :class:`mmscratch.DataError` naming the file.

Arrays are returned on the host (NumPy); ``Sequential.fit`` and
``backend.asarray`` move them to the active backend.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from .._safe_io import read_exactly
from ..errors import DataError
from ..extmath import sha256_file as _sha256
from ._paths import data_dir as _resolve_data_dir

__all__ = ["FILES", "SHA256", "N_SAMPLES", "read_idx", "load_mnist", "load"]

#: File names per split: (images, labels).
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: Published SHA-256 of the four compressed files (as in the data folder's README).
SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: Number of samples in each split.
N_SAMPLES = {"train": 60000, "test": 10000}

_MAGIC_IMAGES, _MAGIC_LABELS = 2051, 2049
#: Largest item count accepted from a header when no exact count is expected.
_MAX_ITEMS = 10_000_000


def _open(path: Path):
    """Open plain or gzip-compressed IDX files alike (by the gzip magic bytes)."""
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path, magic, item_shape=None, count=None):
    """Read one IDX file (``.gz`` or plain) into a uint8 array of shape ``(count, *item_shape)``.

    Parameters
    ----------
    path : str or Path
    magic : int
        Expected magic number: 2051 (images, 3 dimensions) or 2049 (labels, 1).
    item_shape : tuple of int, optional
        Expected sizes after the first dimension, e.g. ``(28, 28)``; checked before
        any payload is read.
    count : int, optional
        Expected number of items; without it the header's count is accepted up to
        ten million.

    Raises
    ------
    DataError
        Missing file, wrong magic, unexpected header sizes, truncated payload,
        trailing bytes, or a corrupt gzip stream; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found. Put the MNIST IDX files in "
                        f"{path.parent} (or set MMSCRATCH_DATA to the data folder).")
    ndim = magic & 0xFF
    try:
        with _open(path) as f:
            header = f.read(4 + 4 * ndim)
            if len(header) < 4:
                raise DataError(f"{path}: truncated: {len(header)} bytes, no IDX header")
            (got_magic,) = struct.unpack(">i", header[:4])
            if got_magic != magic:
                raise DataError(f"{path}: wrong magic number {got_magic} "
                                f"(0x{got_magic & 0xFFFFFFFF:08x}), expected {magic} "
                                f"(0x{magic:08x}); not an IDX file of this kind")
            if len(header) < 4 + 4 * ndim:
                raise DataError(f"{path}: truncated IDX header ({len(header)} bytes)")
            dims = struct.unpack(f">{ndim}i", header[4:])
            n, rest = dims[0], tuple(dims[1:])
            if item_shape is not None and rest != tuple(item_shape):
                raise DataError(f"{path}: header says items of shape {rest}, "
                                f"expected {tuple(item_shape)}")
            if count is not None and n != count:
                raise DataError(f"{path}: header says {n} items, expected {count}")
            if n < 0 or n > _MAX_ITEMS or any(d < 1 or d > 4096 for d in rest):
                raise DataError(f"{path}: implausible header sizes {dims}")
            size = n * int(np.prod(rest, dtype=np.int64))
            # The header is only a claim: read in bounded chunks so memory follows the
            # bytes really present (a 100-byte file announcing 7 GB fails at once).
            payload = read_exactly(f, size, path)
            if f.read(1):
                raise DataError(f"{path}: trailing bytes after the {size} payload bytes "
                                "the header announces")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or unreadable file ({type(exc).__name__}: "
                        f"{exc})") from exc
    return np.frombuffer(payload, dtype=np.uint8).reshape((n, *rest))


def load_mnist(data_dir=None, kind="train", scaled=True, verify=False):
    """One MNIST split as channels-last images and integer labels.

    Parameters
    ----------
    data_dir : str or Path, optional
        The data folder (holding ``mnist/``); default ``$MMSCRATCH_DATA``, else
        ``~/.cache/mmscratch``.
    kind : {"train", "test"}
    scaled : bool
        True: float32 pixels x / 255 in [0, 1]; False: the raw uint8 bytes.
    verify : bool
        Also compare each file's SHA-256 with the published value.

    Returns
    -------
    images : numpy.ndarray (N, 28, 28, 1), float32 or uint8
    labels : numpy.ndarray (N,), int64 in 0..9

    N is 60000 for ``"train"`` and 10000 for ``"test"``. See
    chapters/04-code-example.md.
    """
    if kind not in FILES:
        raise ValueError(f"load_mnist: kind must be 'train' or 'test', got {kind!r}")
    folder = _resolve_data_dir(data_dir) / "mnist"
    image_file, label_file = (folder / name for name in FILES[kind])
    n = N_SAMPLES[kind]
    if verify:
        for path in (image_file, label_file):
            if path.is_file() and _sha256(path) != SHA256[path.name]:
                raise DataError(f"{path}: SHA-256 {_sha256(path)} does not match the "
                                f"published {SHA256[path.name]}")
    images = read_idx(image_file, _MAGIC_IMAGES, item_shape=(28, 28), count=n)
    labels = read_idx(label_file, _MAGIC_LABELS, item_shape=(), count=n)
    if labels.max() > 9:
        raise DataError(f"{label_file}: labels must be digits 0-9, found {labels.max()}")
    images = images.reshape(n, 28, 28, 1)
    if scaled:
        images = images.astype(np.float32) / np.float32(255)
    return images, labels.astype(np.int64)


def load(data_dir=None, scaled=True, verify=False):
    """Both splits, Keras style: ``(x_train, y_train), (x_test, y_test)``.

    See :func:`load_mnist` for the arguments and shapes.
    """
    return (load_mnist(data_dir, "train", scaled, verify),
            load_mnist(data_dir, "test", scaled, verify))
