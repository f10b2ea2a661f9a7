"""Reading untrusted files without letting their headers decide how much memory we take.

A header is a claim, not a fact: a 100-byte file may announce 10^9 images. Every
reader in mmscratch compares such a claim with the bytes actually present before it
allocates anything of that size, and turns every failure into
:class:`mmscratch.DataError` naming the file. Two helpers do the common work:

* :func:`read_exactly` reads ``n`` bytes in bounded chunks, so memory grows with the
  data that really arrives, never with what a header promised;
* :func:`read_npz` opens a ``.npz`` archive like ``numpy.load(allow_pickle=False)``
  but checks each ``.npy`` member's declared shape and dtype against the member's
  size in the zip directory first (NumPy allocates the full array before reading).

See docs/RELIABILITY.md for the fuzzing that exercises them.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from .errors import DataError

__all__ = ["read_exactly", "read_npz", "CHUNK"]

#: Read granularity for untrusted streams (bytes).
CHUNK = 1 << 20
#: Deflate cannot expand more than ~1032:1; a larger claimed ratio is a zip bomb.
_MAX_RATIO = 1100


def read_exactly(f, n, path, what="payload"):
    """Read exactly ``n`` bytes from ``f`` in chunks; DataError naming ``path`` if fewer.

    Memory use is bounded by the bytes that actually arrive, so a header announcing
    gigabytes costs nothing when the file is short.
    """
    parts, got = [], 0
    while got < n:
        chunk = f.read(min(CHUNK, n - got))
        if not chunk:
            raise DataError(f"{path}: truncated: {got} of {n} {what} bytes after the header")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _read_npy(zf, info, path):
    """One ``.npy`` member as an array, its header checked against the member size."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise DataError(f"{path}: member {info.filename}: unsupported .npy version "
                            f"{version}")
        if dtype.hasobject:
            raise DataError(f"{path}: member {info.filename} holds Python objects; "
                            "checkpoints are read with allow_pickle=False")
        count = 1
        for d in shape:
            count *= int(d)
        nbytes = count * dtype.itemsize
        available = info.file_size - f.tell()
        if nbytes != available:
            raise DataError(f"{path}: member {info.filename} declares shape {shape} "
                            f"{dtype} ({nbytes} bytes) but holds {available} bytes")
        data = read_exactly(f, nbytes, path, what=f"{info.filename} data")
    arr = np.frombuffer(data, dtype=dtype)
    return arr.reshape(shape, order="F" if fortran else "C").copy()


def read_npz(path, what="checkpoint"):
    """All members of a ``.npz`` file as ``{name: numpy array}``, safely.

    Equivalent to ``dict(numpy.load(path, allow_pickle=False))`` for a good file.
    For a damaged or hostile one it raises :class:`DataError` naming ``path``:
    missing or empty file, not a zip, an encrypted or unknown-method member, a
    member that is not ``.npy``, a compression ratio beyond deflate's limit, a
    ``.npy`` header whose shape does not match the member's size, object arrays,
    or a failed CRC. No allocation exceeds the sizes written in the zip directory,
    which are themselves bounded by the file's length.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: {what} file not found")
    size = os.path.getsize(path)
    if size == 0:
        raise DataError(f"{path}: {what} file is empty (0 bytes)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            if len(set(names)) != len(names):
                raise DataError(f"{path}: duplicate members in the archive")
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise DataError(f"{path}: unexpected member {info.filename!r} "
                                    "(a .npz holds only .npy members)")
                if info.flag_bits & 0x1:
                    raise DataError(f"{path}: member {info.filename} is encrypted")
                if info.compress_size > size or \
                        info.file_size > _MAX_RATIO * max(info.compress_size, 1):
                    raise DataError(f"{path}: member {info.filename} claims {info.file_size} "
                                    f"bytes from {info.compress_size} compressed bytes in a "
                                    f"{size}-byte file")
            return {info.filename[:-4]: _read_npy(zf, info, path) for info in infos}
    except DataError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, NotImplementedError, EOFError, ...
        raise DataError(f"{path}: not a readable {what} ({type(exc).__name__}: {exc})") \
            from None
