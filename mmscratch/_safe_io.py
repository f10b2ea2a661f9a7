"""Reading untrusted files without letting their headers decide how much memory we take.

A header is a claim, not a fact: a 100-byte file may announce 10^9 images. Every
reader in mmscratch compares such a claim with the bytes actually present before it
allocates anything of that size, and turns every failure into
:class:`mmscratch.DataError` naming the file. Two helpers do the common work:

* :func:`read_exactly` reads ``n`` bytes in bounded chunks, so memory grows with the
  data that really arrives, never with what a header promised;
* :func:`read_wav` walks the chunks of a RIFF/WAVE file and returns what
  ``scipy.io.wavfile.read`` returns, checking every size against the file first;
* :func:`read_npz` opens a ``.npz`` archive like ``numpy.load(allow_pickle=False)``
  but checks each ``.npy`` member's declared shape and dtype against the member's
  size in the zip directory first (NumPy allocates the full array before reading).

See docs/RELIABILITY.md for the fuzzing that exercises them.
"""

from __future__ import annotations

import os
import struct
import zipfile

import numpy as np

from .errors import DataError

__all__ = ["read_exactly", "read_npz", "read_wav", "CHUNK", "new_file_mode"]

#: Read granularity for untrusted streams (bytes).
CHUNK = 1 << 20
#: Deflate cannot expand more than ~1032:1; a larger claimed ratio is a zip bomb.
_MAX_RATIO = 1100


def new_file_mode():
    """Permission bits a plain ``open(path, "w")`` would give: ``0o666 & ~umask``.

    ``tempfile.mkstemp`` creates its file with mode 0600 (private), so a file written
    atomically through it and renamed into place would end up unreadable by others,
    unlike every other file written beside it. Writers chmod the temporary file to
    this mode before the rename. (Reading the umask means setting it and restoring it
    at once; there is no read-only call.)
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


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


# --------------------------------------------------------------------------- WAV
_WAVE_PCM, _WAVE_FLOAT, _WAVE_EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
# KSDATAFORMAT_SUBTYPE GUID tail {XXXXXXXX-0000-0010-8000-00AA00389B71} (RFC 2361)
_GUID_TAIL = {"<": b"\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71",
              ">": b"\x00\x00\x00\x10\x80\x00\x00\xAA\x00\x38\x9B\x71"}


def _wav_chunks(raw, path, order, start, end, rf64_data_size=None):
    """Yield ``(chunk id, payload offset, payload size)`` for the chunks in ``raw[start:end]``.

    RIFF: each chunk is a 4-byte id, a 4-byte size and ``size`` bytes of payload,
    followed by one pad byte when ``size`` is odd (chunks are word-aligned). A
    chunk that runs past the RIFF end is a truncated file. A missing final pad
    byte is tolerated (many writers omit it).
    """
    pos = start
    while pos < end:
        if end - pos < 8:
            raise DataError(f"{path}: truncated WAV file ({end - pos} stray bytes where a "
                            f"chunk header of 8 bytes should start, at offset {pos})")
        cid = raw[pos:pos + 4]
        size = struct.unpack(order + "I", raw[pos + 4:pos + 8])[0]
        if cid == b"data" and rf64_data_size is not None and size == 0xFFFFFFFF:
            size = rf64_data_size  # RF64: the real size is in the ds64 chunk
        if pos + 8 + size > end:
            raise DataError(f"{path}: truncated WAV file (chunk {cid!r} at offset {pos} "
                            f"announces {size} bytes, only {end - pos - 8} remain)")
        yield cid, pos + 8, size
        pos += 8 + size + (size & 1)


def _wav_format(raw, off, size, path, order):
    """Parse a ``fmt `` chunk -> (format tag, channels, rate, block align, bits)."""
    if size < 16:
        raise DataError(f"{path}: WAV 'fmt ' chunk of {size} bytes, need at least 16")
    tag, channels, rate, byte_rate, block_align, bits = struct.unpack(
        order + "HHIIHH", raw[off:off + 16])
    if tag == _WAVE_EXTENSIBLE:
        if size < 40 or struct.unpack(order + "H", raw[off + 16:off + 18])[0] < 22:
            raise DataError(f"{path}: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk too short "
                            f"({size} bytes, need 40)")
        guid = raw[off + 24:off + 40]
        if guid.endswith(_GUID_TAIL[order]):
            tag = struct.unpack(order + "I", guid[:4])[0]
    if tag not in (_WAVE_PCM, _WAVE_FLOAT):
        raise DataError(f"{path}: unsupported WAV encoding (format tag {tag:#06x}); only "
                        "PCM integer and IEEE float samples are read")
    if channels == 0 or block_align == 0 or block_align % channels:
        raise DataError(f"{path}: inconsistent WAV header ({channels} channels, "
                        f"{block_align}-byte frames)")
    if tag == _WAVE_PCM and byte_rate != rate * block_align:
        raise DataError(f"{path}: inconsistent WAV header (bytes per second {byte_rate} != "
                        f"sample rate {rate} x frame size {block_align})")
    return tag, channels, rate, block_align, bits


def _wav_samples(payload, tag, channels, block_align, bits, path, order):
    """Decode the ``data`` payload exactly as ``scipy.io.wavfile.read`` does."""
    width = block_align // channels  # bytes per sample container
    if len(payload) % block_align:
        raise DataError(f"{path}: WAV data chunk of {len(payload)} bytes is not a whole "
                        f"number of {block_align}-byte frames")
    if tag == _WAVE_FLOAT:
        if bits not in (32, 64) or width != bits // 8:
            raise DataError(f"{path}: unsupported WAV float samples ({bits} bits in "
                            f"{width}-byte containers)")
        data = np.frombuffer(payload, dtype=f"{order}f{width}").copy()
    elif 1 <= bits <= 8:
        if width != 1:
            raise DataError(f"{path}: unsupported WAV samples ({bits} bits in "
                            f"{width}-byte containers)")
        data = np.frombuffer(payload, dtype="u1").copy()  # 8-bit WAV is unsigned
    elif bits > 64 or width > 8:
        raise DataError(f"{path}: unsupported WAV integer samples ({bits} bits in "
                        f"{width}-byte containers)")
    elif width in (1, 2, 4, 8):
        data = np.frombuffer(payload, dtype=f"{order}i{width}").copy()
    else:  # 3, 5, 6 or 7 bytes
        # No NumPy dtype of that width: put the bytes in the high end of an int32/int64
        # (scipy's convention, e.g. 24-bit samples come back as int32 * 256).
        wide = 4 if width == 3 else 8
        b = np.frombuffer(payload, dtype="u1").reshape(-1, width)
        a = np.zeros((b.shape[0], wide), dtype="u1")
        if order == "<":
            a[:, wide - width:] = b
        else:
            a[:, :width] = b
        data = a.view(f"{order}i{wide}").reshape(-1)
    return data.reshape(-1, channels) if channels > 1 else data


def read_wav(path):
    """Read a WAV file -> ``(rate, data)``, what ``scipy.io.wavfile.read(path)`` returns.

    The RIFF chunks are walked as the format defines them (4-byte id, 4-byte size,
    payload, a pad byte after odd sizes); ``fmt `` and ``data`` are read and every
    other chunk (``fact``, ``PEAK``, ``bext``, ``id3 ``, ``LIST``, ``cue `` ...) is
    skipped, wherever it sits. Little-endian ``RIFF``, big-endian ``RIFX`` and
    ``RF64`` containers; PCM integer (1-64 bits; 8-bit unsigned; 24-bit as int32
    with the samples in the high bytes) and IEEE float (32/64-bit) samples, plain or
    ``WAVE_FORMAT_EXTENSIBLE``.

    Returns
    -------
    rate : int, samples per second
    data : numpy array (n,) for mono, (n, channels) otherwise, in the file's sample
        dtype and byte order (as scipy returns it).

    Raises
    ------
    DataError
        Naming ``path``: missing or empty file, not RIFF/WAVE, a chunk or the RIFF
        size running past the end of the file, no ``fmt `` or no ``data`` chunk (or
        ``data`` before ``fmt ``), two ``data`` chunks, an inconsistent header, a data
        size that is not a whole number of frames, an encoding other than PCM/float.
        scipy reads some of these with a warning (truncating or guessing); here a
        file whose sizes disagree is refused rather than half read.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise DataError(f"{path}: file is empty (0 bytes)")
    magic = raw[:4]
    if len(raw) < 12 or magic not in (b"RIFF", b"RIFX", b"RF64") or raw[8:12] != b"WAVE":
        raise DataError(f"{path}: not a WAV file (no RIFF/WAVE header)")
    order = ">" if magic == b"RIFX" else "<"
    start, rf64_data_size = 12, None
    if magic == b"RF64":
        if raw[12:16] != b"ds64" or len(raw) < 36:
            raise DataError(f"{path}: RF64 WAV file without its ds64 chunk")
        ds64_size = struct.unpack("<I", raw[16:20])[0]
        riff_end, rf64_data_size = struct.unpack("<QQ", raw[20:36])
        riff_end += 8
        start = 20 + ds64_size + (ds64_size & 1)
    else:
        riff_end = struct.unpack(order + "I", raw[4:8])[0] + 8
    if riff_end > len(raw):
        raise DataError(f"{path}: truncated WAV file (header announces {riff_end} bytes, "
                        f"file has {len(raw)})")
    fmt = data = None
    for cid, off, size in _wav_chunks(raw, path, order, start, riff_end, rf64_data_size):
        if cid == b"fmt ":
            fmt = _wav_format(raw, off, size, path, order)
        elif cid == b"data":
            if fmt is None:
                raise DataError(f"{path}: WAV 'data' chunk before any 'fmt ' chunk")
            if data is not None:
                raise DataError(f"{path}: WAV file with two 'data' chunks")
            data = _wav_samples(raw[off:off + size], *fmt[:2], *fmt[3:], path, order)
        # any other chunk id: metadata (fact, PEAK, bext, LIST, id3, cue, JUNK ...), skipped
    if fmt is None or data is None:
        raise DataError(f"{path}: WAV file without a {'fmt' if fmt is None else 'data'} "
                        "chunk")
    return fmt[2], data
