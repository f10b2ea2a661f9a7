"""Hostile files: every reader refuses damaged input with one error type, quickly and small.

Specification
-------------
Each file reader of mmscratch -- the MNIST IDX reader (``datasets.mnist.read_idx``),
the FSDD WAV reader (``datasets.fsdd.read_wav``), the text corpus loader
(``datasets.load_text``) and the checkpoint loader (``nn.load_model``) -- fed a
truncated, bit-flipped, overwritten, wrong-magic, huge-declared-size or empty file:

* either returns a well-formed result (a flipped pixel byte is still a valid IDX file;
  a checkpoint that still loads predicts exactly what the undamaged one predicted), or
* raises :class:`mmscratch.DataError` (a ``ValueError``) whose message names the file;
* never any other exception, and never an allocation driven by an untrusted header
  before the header was checked against the file's length: the peak memory traced
  while reading stays below a small multiple of the file's size.

Hypothesis draws the damage from small valid files built here. CI runs
``FUZZ_EXAMPLES`` (50) examples per reader; the long run is
``HYPOTHESIS_PROFILE=fuzz pytest tests/test_fuzz_files.py`` (profile registered in
``tests/conftest.py``; see docs/RELIABILITY.md for the counts of the last long run).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mmscratch import DataError, backend, nn  # noqa: E402
from mmscratch.datasets import fsdd, load_text, mnist  # noqa: E402
from mmscratch.datasets.text import TEXT_SUBDIR  # noqa: E402

# ----------------------------------------------------------------------------- settings
#: Examples per reader: 50 in CI, the profile's count under HYPOTHESIS_PROFILE=fuzz.
FUZZ_EXAMPLES = (settings.default.max_examples
                 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 50)
_LONG = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                derandomize=not _LONG,  # CI: the same 50 inputs every run; fuzz: new ones
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

#: Peak traced memory allowed while reading a file of n bytes: a header may not make a
#: reader allocate more than this before it has compared the header with the file.
def memory_bound(n_bytes):
    return 4 * 2**20 + 64 * n_bytes  # 4 MiB: a few 1 MiB read chunks and the parsers


def read_bounded(reader, path):
    """Run reader(path) under tracemalloc; return (result or exception, peak bytes)."""
    tracemalloc.start()
    try:
        try:
            out = reader(path)
        except Exception as exc:  # noqa: BLE001 - the property inspects every outcome
            out = exc
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_refused_or_valid(out, path, peak, n_bytes, is_valid):
    """The property every reader must satisfy on every input."""
    assert peak <= memory_bound(n_bytes), (
        f"reading a {n_bytes}-byte file allocated {peak} bytes at peak (header-driven "
        f"allocation?); outcome: {out!r}")
    if isinstance(out, BaseException):
        if not isinstance(out, DataError):
            raise AssertionError(f"{type(out).__name__} instead of DataError: {out}") from out
        assert str(path) in str(out), f"the message does not name the file: {out}"
    else:
        is_valid(out)


# ----------------------------------------------------------------------------- damage
MUTATIONS = ("truncate", "flip", "overwrite", "insert", "append", "empty", "header_word")


@st.composite
def damaged(draw, valid: bytes, header_len: int, endian: str = ">"):
    """``valid`` with one drawn kind of damage (biased towards the header bytes)."""
    kind = draw(st.sampled_from(MUTATIONS))
    b = bytearray(valid)
    n = len(b)
    pos = st.one_of(st.integers(0, max(0, header_len - 1)), st.integers(0, n - 1))
    if kind == "empty":
        return b""
    if kind == "truncate":
        return bytes(b[:draw(st.integers(0, n - 1))])
    if kind == "flip":
        for p in draw(st.lists(pos, min_size=1, max_size=8)):
            b[p] ^= 1 << draw(st.integers(0, 7))
        return bytes(b)
    if kind == "overwrite":
        p = draw(pos)
        junk = draw(st.binary(min_size=1, max_size=16))
        b[p:p + len(junk)] = junk
        return bytes(b[:max(n, p + len(junk))])
    if kind == "insert":
        p = draw(pos)
        return bytes(b[:p] + draw(st.binary(min_size=1, max_size=16)) + b[p:])
    if kind == "append":
        return bytes(b + draw(st.binary(min_size=1, max_size=64)))
    # header_word: a 4-byte size/magic field set to an arbitrary (often huge) value
    word = draw(st.integers(0, max(0, header_len // 4 - 1))) * 4
    value = draw(st.one_of(st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**32 - 1]),
                           st.integers(0, 2**32 - 1)))
    b[word:word + 4] = struct.pack(endian + "I", value)
    return bytes(b)


# ----------------------------------------------------------------------------- MNIST IDX
def idx_bytes(n=3, rows=28, cols=28, seed=0):
    """A valid IDX3 image file: magic 2051, sizes, then n*rows*cols uint8 pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, (n, rows, cols), dtype=np.uint8)
    return struct.pack(">iiii", 2051, n, rows, cols) + pixels.tobytes()


def idx_label_bytes(n=10):
    return struct.pack(">ii", 2049, n) + bytes(range(n))


VALID_IDX = idx_bytes()
VALID_LABELS = idx_label_bytes()


def _valid_idx(out):
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@FUZZ
@given(data=st.data())
def test_idx_reader_refuses_damaged_images(tmp_path, compress, data):
    raw = data.draw(damaged(VALID_IDX, header_len=16, endian=">"))
    blob = gzip.compress(raw, mtime=0) if compress else raw
    path = tmp_path / ("images-idx3-ubyte.gz" if compress else "images-idx3-ubyte")
    path.write_bytes(blob)
    out, peak = read_bounded(lambda p: mnist.read_idx(p, 2051), path)
    # gzip: what may be held in memory is bounded by the decompressed bytes present
    assert_refused_or_valid(out, path, peak, len(raw), _valid_idx)


@FUZZ
@given(data=st.data())
def test_idx_reader_refuses_damaged_gzip_streams(tmp_path, data):
    """Damage to the compressed bytes themselves (CRC, deflate blocks, gzip header)."""
    blob = data.draw(damaged(gzip.compress(VALID_LABELS, mtime=0), header_len=10))
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(blob)
    out, peak = read_bounded(lambda p: mnist.read_idx(p, 2049), path)
    # deflate expands at most ~1032:1, so that bounds what a damaged stream yields
    assert_refused_or_valid(out, path, peak, 1032 * len(blob), _valid_idx)


@pytest.mark.parametrize("count,rows,cols", [
    (10**9, 28, 28),        # far beyond any real data set
    (9_000_000, 28, 28),    # plausible for a header alone, 7 GB for this 100-byte file
    (1000, 4096, 4096),     # 16 GB of pixels announced
])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_idx_header_announcing_gigabytes_fails_fast_without_allocating(
        tmp_path, count, rows, cols, compress):
    raw = struct.pack(">iiii", 2051, count, rows, cols) + bytes(84)
    blob = gzip.compress(raw) if compress else raw
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(blob)
    out, peak = read_bounded(lambda p: mnist.read_idx(p, 2051), path)
    assert isinstance(out, DataError), out
    assert str(path) in str(out)
    assert peak <= memory_bound(len(raw)), f"allocated {peak} bytes for a 100-byte file"


def test_idx_wrong_magic_and_empty_file_name_the_file(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(struct.pack(">i", 2049) + VALID_IDX[4:])
    with pytest.raises(DataError, match="wrong magic") as info:
        mnist.read_idx(path, 2051)
    assert str(path) in str(info.value)
    path.write_bytes(b"")
    with pytest.raises(DataError, match="truncated") as info:
        mnist.read_idx(path, 2051)
    assert str(path) in str(info.value)


# ----------------------------------------------------------------------------- FSDD WAV
def wav_bytes(n=400, rate=8000, seed=0):
    """A valid 16-bit mono PCM WAV file (scipy's writer)."""
    from scipy.io import wavfile

    samples = (np.random.default_rng(seed).standard_normal(n) * 3000).astype(np.int16)
    buf = io.BytesIO()
    wavfile.write(buf, rate, samples)
    return buf.getvalue()


VALID_WAV = wav_bytes()


def _valid_wav(out):
    assert isinstance(out, np.ndarray) and out.ndim == 1 and out.size > 0


@FUZZ
@given(data=st.data())
def test_wav_reader_refuses_damaged_files(tmp_path, data):
    blob = data.draw(damaged(VALID_WAV, header_len=44, endian="<"))
    path = tmp_path / "7_theo_3.wav"
    path.write_bytes(blob)
    out, peak = read_bounded(fsdd.read_wav, path)
    assert_refused_or_valid(out, path, peak, len(blob), _valid_wav)


@pytest.mark.parametrize("field", [4, 40], ids=["riff_size", "data_size"])
def test_wav_header_announcing_4_gb_fails_fast_without_allocating(tmp_path, field):
    b = bytearray(VALID_WAV)
    b[field:field + 4] = struct.pack("<I", 2**32 - 1)
    path = tmp_path / "0_george_0.wav"
    path.write_bytes(bytes(b))
    out, peak = read_bounded(fsdd.read_wav, path)
    assert isinstance(out, DataError) and str(path) in str(out), out
    assert peak <= memory_bound(len(b))


def test_wav_wrong_magic_and_empty_file_name_the_file(tmp_path):
    path = tmp_path / "1_lucas_1.wav"
    path.write_bytes(b"RIFZ" + VALID_WAV[4:])  # (RIFX is a valid big-endian WAV)
    with pytest.raises(DataError, match="not a WAV") as info:
        fsdd.read_wav(path)
    assert str(path) in str(info.value)
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty") as info:
        fsdd.read_wav(path)
    assert str(path) in str(info.value)


# ------------------------------------------------------- WAV: same values as scipy
# Issue 14 item 1: a valid WAV file with metadata chunks (fact, PEAK, bext, id3, LIST,
# cue ...) must read exactly as scipy.io.wavfile.read reads it. The files are built
# here byte by byte, so the chunk layout is ours to choose.
META_IDS = [b"fact", b"PEAK", b"bext", b"id3 ", b"LIST", b"cue ", b"JUNK", b"smpl", b"iXML"]


def _chunk(cid, payload, order="<"):
    """One RIFF chunk: id, size, payload and the pad byte after an odd size."""
    return cid + struct.pack(order + "I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def _fmt_chunk(tag, channels, rate, width, bits, order="<", extensible=False):
    block = channels * width
    body = struct.pack(order + "HHIIHH", 0xFFFE if extensible else tag, channels, rate,
                       rate * block, block, bits)
    if extensible:  # cbSize 22, valid bits, channel mask, sub-format GUID
        guid = struct.pack(order + "I", tag) + (
            b"\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71" if order == "<"
            else b"\x00\x00\x00\x10\x80\x00\x00\xAA\x00\x38\x9B\x71")
        body += struct.pack(order + "HHI", 22, bits, 0) + guid
    return _chunk(b"fmt ", body, order)


def _pcm_payload(samples, width, order):
    """Raw sample bytes; 24-bit (width 3) keeps the low 3 bytes of each int32."""
    if width == 3:
        b = samples.astype(order + "i4").view("u1").reshape(-1, 4)
        return (b[:, :3] if order == "<" else b[:, 1:]).tobytes()
    return samples.astype(f"{order}{samples.dtype.kind}{width}").tobytes()


def wav_file(samples, kind, rate=8000, order="<", extensible=False, before=(), between=(),
             after=()):
    """WAV bytes: [before] fmt [between] data [after]; ``kind`` is u8/i16/i24/i32/f32/f64."""
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    tag = 3 if kind[0] == "f" else 1
    bits = int(kind[1:])
    width = bits // 8
    body = b"".join(_chunk(c, p, order) for c, p in before)
    body += _fmt_chunk(tag, channels, rate, width, bits, order, extensible)
    body += b"".join(_chunk(c, p, order) for c, p in between)
    body += _chunk(b"data", _pcm_payload(samples.reshape(-1), width, order), order)
    body += b"".join(_chunk(c, p, order) for c, p in after)
    magic = b"RIFF" if order == "<" else b"RIFX"
    return magic + struct.pack(order + "I", 4 + len(body)) + b"WAVE" + body


def _samples(kind, n, channels, rng):
    if kind == "u8":
        x = rng.integers(0, 256, size=(n, channels)).astype(np.uint8)
    elif kind[0] == "i":
        hi = 2 ** (int(kind[1:]) - 1)
        x = rng.integers(-hi, hi, size=(n, channels)).astype(np.int64)
    else:
        x = rng.standard_normal((n, channels)).astype("f" + str(int(kind[1:]) // 8))
    return x[:, 0] if channels == 1 else x


def _scipy_read(path):
    from scipy.io import wavfile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wavfile.WavFileWarning)  # "chunk not understood"
        return wavfile.read(str(path))


def _assert_same_as_scipy(path):
    from mmscratch._safe_io import read_wav

    rate, data = read_wav(path)
    ref_rate, ref = _scipy_read(path)
    assert rate == ref_rate
    assert data.dtype == ref.dtype and data.shape == ref.shape
    np.testing.assert_array_equal(data, ref)
    return data


meta_chunks = st.lists(st.tuples(st.sampled_from(META_IDS), st.binary(max_size=21)),
                       max_size=3)


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["u8", "i16", "i24", "i32", "f32", "f64"]),
       channels=st.integers(1, 3), n=st.integers(0, 40), order=st.sampled_from("<>"),
       extensible=st.booleans(), before=meta_chunks, between=meta_chunks, after=meta_chunks,
       seed=st.integers(0, 2**16))
def test_wav_with_metadata_chunks_reads_like_scipy(tmp_path, kind, channels, n, order,
                                                   extensible, before, between, after, seed):
    samples = _samples(kind, n, channels, np.random.default_rng(seed))
    path = tmp_path / "x.wav"
    path.write_bytes(wav_file(samples, kind, 11025, order, extensible, before, between, after))
    data = _assert_same_as_scipy(path)
    if kind != "i24":  # the values themselves, not only scipy's reading of them
        np.testing.assert_array_equal(data, samples)
    else:  # scipy's convention: 24-bit samples in the high bytes of an int32
        np.testing.assert_array_equal(data, samples * 256)


def test_libsndfile_float_wav_with_fact_and_peak(tmp_path):
    # The file: mono 8 kHz float32, chunks fmt, fact, PEAK, data (libsndfile's
    # layout for float WAVs), 800 samples. It was refused; scipy reads it.
    x = np.sin(np.arange(800) / 10.0).astype(np.float32) * 0.5
    peak = struct.pack("<II", 1, 0) + struct.pack("<fI", 0.5, 16)  # version, time, value@pos
    blob = wav_file(x, "f32", 8000, between=[(b"fact", struct.pack("<I", 800)),
                                             (b"PEAK", peak)])
    path = tmp_path / "3_theo_7.wav"
    path.write_bytes(blob)
    out = fsdd.read_wav(path)
    assert out.dtype == np.float32 and out.shape == (800,)
    np.testing.assert_array_equal(out, _scipy_read(path)[1])
    np.testing.assert_array_equal(out, x)


def test_wav_written_by_scipy_with_bext_and_id3(tmp_path):
    # scipy's own float writer (fmt + fact) plus a Broadcast-WAV bext chunk and a tag.
    from scipy.io import wavfile

    x = np.linspace(-1, 1, 101, dtype=np.float64)
    buf = io.BytesIO()
    wavfile.write(buf, 8000, x)
    raw = buf.getvalue()
    extra = _chunk(b"bext", b"\1" * 31) + _chunk(b"id3 ", b"ID3\3\0")  # odd size: pad byte
    raw = raw[:4] + struct.pack("<I", len(raw) - 8 + len(extra)) + raw[8:] + extra
    path = tmp_path / "2_nicolas_9.wav"
    path.write_bytes(raw)
    np.testing.assert_array_equal(fsdd.read_wav(path), x)
    _assert_same_as_scipy(path)


def test_rf64_wav_reads_like_scipy(tmp_path):
    # RF64 (EBU Tech 3306): 32-bit sizes set to 0xFFFFFFFF, the real ones in a ds64 chunk.
    x = (np.arange(30) - 15).astype("<i2")
    payload = x.tobytes()
    rest = (_fmt_chunk(1, 1, 8000, 2, 16) + _chunk(b"LIST", b"abc")
            + b"data" + struct.pack("<I", 0xFFFFFFFF) + payload)
    ds64 = b"ds64" + struct.pack("<I", 28) + struct.pack("<QQQI", 4 + 36 + len(rest),
                                                         len(payload), 30, 0)
    path = tmp_path / "rf64.wav"
    path.write_bytes(b"RF64" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + ds64 + rest)
    np.testing.assert_array_equal(_assert_same_as_scipy(path), x)


@pytest.mark.parametrize("case", ["no_fmt", "no_data", "data_first", "two_data",
                                  "partial_frame", "chunk_past_end", "stray_bytes",
                                  "riff_past_end"])
def test_wav_really_broken_files_are_refused(tmp_path, case):
    x = np.arange(10, dtype=np.int64)
    fmt = _fmt_chunk(1, 1, 8000, 2, 16)
    data = _chunk(b"data", x.astype("<i2").tobytes())
    body = {
        "no_fmt": data,
        "no_data": fmt + _chunk(b"LIST", b"INFO"),
        "data_first": data + fmt,
        "two_data": fmt + data + data,
        "partial_frame": fmt + _chunk(b"data", x.astype("<i2").tobytes()[:-1]),
        "chunk_past_end": fmt + data[:4] + struct.pack("<I", 1000) + data[8:],
        "stray_bytes": fmt + data + b"PE",
        "riff_past_end": fmt + data,
    }[case]
    riff = 4 + len(body) + (100 if case == "riff_past_end" else 0)
    path = tmp_path / "4_yweweler_1.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", riff) + b"WAVE" + body)
    with pytest.raises(DataError) as info:
        fsdd.read_wav(path)
    assert str(path) in str(info.value)


# ----------------------------------------------------------------------------- text CSV
def csv_bytes(rows):
    buf = io.StringIO(newline="")
    import csv

    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["id", "label", "text"])
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


VALID_TRAIN = csv_bytes([
    (1, "sci.space", "From: a@b\nSubject: orbit\n\nThe shuttle, \"Atlantis\", flew."),
    (2, "comp.graphics", "Subject: ray tracing\n\nPolygons and shaders."),
    (3, "alt.atheism", "No header here"),
])
VALID_TEST = csv_bytes([(4, "sci.space", "Subject: moon\n\nApollo 11, 1969.")])


def _write_corpus(root, train, test=VALID_TEST):
    folder = root / TEXT_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.csv").write_bytes(train)
    (folder / "test.csv").write_bytes(test)
    return folder


def _valid_text(out):
    assert len(out.train_texts) == len(out.train_labels) > 0
    assert len(out.test_texts) == len(out.test_labels) > 0
    assert all(isinstance(t, str) for t in out.train_texts + out.test_texts)
    assert out.train_labels.max() < len(out.label_names)


@pytest.mark.parametrize("which", ["train", "test"])
@FUZZ
@given(data=st.data())
def test_text_loader_refuses_damaged_csv(tmp_path, which, data):
    valid = VALID_TRAIN if which == "train" else VALID_TEST
    blob = data.draw(damaged(valid, header_len=16))
    folder = (_write_corpus(tmp_path, blob) if which == "train"
              else _write_corpus(tmp_path, VALID_TRAIN, blob))
    out, peak = read_bounded(lambda p: load_text(p), tmp_path)
    # a test label that training never saw is reported against test.csv, naming
    # train.csv too: both are in the folder checked here.
    assert_refused_or_valid(out, folder, peak, len(blob) + len(VALID_TRAIN), _valid_text)


def test_text_field_beyond_the_csv_limit_is_a_data_error(tmp_path):
    folder = _write_corpus(tmp_path, csv_bytes([(1, "sci.space", "x" * 300_000)]))
    with pytest.raises(DataError, match="malformed CSV") as info:
        load_text(tmp_path)
    assert str(folder / "train.csv") in str(info.value)


def test_text_empty_file_names_the_file(tmp_path):
    folder = _write_corpus(tmp_path, b"")
    with pytest.raises(DataError, match="bad header") as info:
        load_text(tmp_path)
    assert str(folder / "train.csv") in str(info.value)


# ----------------------------------------------------------------------------- checkpoints
X_PROBE = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)


def _checkpoint():
    """(bytes of a small valid checkpoint, its members as arrays, its predictions)."""
    import tempfile

    with backend.use("numpy"), tempfile.TemporaryDirectory() as d:
        model = nn.Sequential([nn.Dense(5, activation="relu", seed=0), nn.Dense(3, seed=1)])
        y = backend.to_numpy(model.predict(X_PROBE))
        path = os.path.join(d, "m.npz")
        model.save(path)
        with open(path, "rb") as f:
            blob = f.read()
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    return blob, arrays, y


VALID_CKPT, CKPT_ARRAYS, CKPT_PRED = _checkpoint()


def _load_and_predict(path):
    with backend.use("numpy"):
        model = nn.load_model(path)
        return backend.to_numpy(model.predict(X_PROBE))


def _same_predictions(out):
    # Zip CRCs cover every member: damage that still loads must not change a number.
    np.testing.assert_array_equal(out, CKPT_PRED)


@FUZZ
@given(data=st.data())
def test_load_model_refuses_damaged_bytes(tmp_path, data):
    blob = data.draw(damaged(VALID_CKPT, header_len=128, endian="<"))
    path = tmp_path / "model.npz"
    path.write_bytes(blob)
    out, peak = read_bounded(_load_and_predict, path)
    assert_refused_or_valid(out, path, peak, len(blob), _same_predictions)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=8)


@st.composite
def tampered_members(draw):
    """Well-formed zip and .npy members with hostile *contents* (CRCs are valid)."""
    arrays = dict(CKPT_ARRAYS)
    meta = json.loads(str(arrays["__config__"]))
    kind = draw(st.sampled_from(["config_text", "config_value", "meta_value", "version",
                                 "format", "param_shape", "param_dtype", "drop", "rename",
                                 "input_spec"]))
    params = sorted(k for k in arrays if k.startswith("param:"))
    if kind == "config_text":
        text = bytearray(arrays["__config__"].item().encode())
        for p in draw(st.lists(st.integers(0, len(text) - 1), min_size=1, max_size=4)):
            text[p] = draw(st.integers(32, 126))
        arrays["__config__"] = np.array(text.decode())
    elif kind == "config_value":
        layer = draw(st.sampled_from(meta["config"]["layers"]))
        key = draw(st.sampled_from(sorted(layer["config"]) + ["class", "extra"]))
        target = layer if key == "class" else layer["config"]
        target[key] = draw(json_values)
        arrays["__config__"] = np.array(json.dumps(meta))
    elif kind == "meta_value":
        meta[draw(st.sampled_from(["class", "config", "input_spec"]))] = draw(json_values)
        arrays["__config__"] = np.array(json.dumps(meta))
    elif kind == "input_spec":
        meta["input_spec"] = {"shape": draw(st.lists(st.integers(-2, 9), max_size=3)),
                              "dtype": draw(st.sampled_from(["float32", "int8", "U3", "?"]))}
        arrays["__config__"] = np.array(json.dumps(meta))
    elif kind == "version":
        arrays["__version__"] = draw(st.sampled_from([
            np.array(0), np.array(2), np.array(1.5), np.array("1"), np.array([1, 1]),
            np.array(True), np.zeros((0,))]))
    elif kind == "format":
        arrays["__format__"] = draw(st.sampled_from([
            np.array("mmscratch-checkpoinT"), np.array(7), np.array(["mmscratch-checkpoint"])]))
    elif kind == "param_shape":
        k = draw(st.sampled_from(params))
        shape = tuple(draw(st.lists(st.integers(0, 6), max_size=3)
                           .filter(lambda s: tuple(s) != arrays[k].shape)))
        arrays[k] = np.zeros(shape, dtype=np.float32)
    elif kind == "param_dtype":
        k = draw(st.sampled_from(params))
        dtype = draw(st.sampled_from(["int32", "bool", "U2", "complex64", "float16"]))
        arrays[k] = arrays[k].astype(dtype)
    elif kind == "drop":
        del arrays[draw(st.sampled_from(sorted(arrays)))]
    else:  # rename a member
        old = draw(st.sampled_from(sorted(arrays)))
        arrays[draw(st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s))] = \
            arrays.pop(old)
    return kind, arrays


@FUZZ
@given(case=tampered_members())
def test_load_model_refuses_hostile_contents(tmp_path, case):
    kind, arrays = case
    path = tmp_path / "model.npz"
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    out, peak = read_bounded(_load_and_predict, path)

    def loaded(pred):
        # Only harmless edits may load: widened float dtypes or an unused extra key.
        assert kind in ("config_value", "meta_value", "config_text", "param_dtype",
                        "rename", "input_spec"), kind
        assert pred.shape[0] == X_PROBE.shape[0] and np.isfinite(pred).all()

    assert_refused_or_valid(out, path, peak, path.stat().st_size, loaded)


def _npy_header_claiming(shape, dtype="<f4"):
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}"
    header = header + " " * (118 - len(header)) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


@pytest.mark.parametrize("member", ["param:0:Dense.W.npy", "__config__.npy"])
def test_checkpoint_member_announcing_gigabytes_fails_fast_without_allocating(tmp_path, member):
    """A .npy header inside the zip claims 400 GB; the member holds 16 bytes."""
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(io.BytesIO(VALID_CKPT)) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            body = src.read(name)
            if name == member:
                body = _npy_header_claiming((10**9, 100)) + bytes(16)
            dst.writestr(name, body)
    out, peak = read_bounded(_load_and_predict, path)
    assert isinstance(out, DataError) and str(path) in str(out), repr(out)
    assert peak <= memory_bound(path.stat().st_size), f"allocated {peak} bytes"


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_checkpoint_with_unexpected_zip_compression_still_loads_or_is_refused(tmp_path,
                                                                             method):
    """np.savez_compressed-style members are fine; a corrupt stream is a DataError."""
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(io.BytesIO(VALID_CKPT)) as src, \
            zipfile.ZipFile(path, "w", compression=method) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    np.testing.assert_array_equal(_load_and_predict(path), CKPT_PRED)
    blob = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("param:0:Dense.W.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    blob[start:start + 8] = b"\xff" * 8  # the compressed stream itself
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError) as exc:
        _load_and_predict(path)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("flag,value", [("method", 99), ("encrypted", 1)])
def test_checkpoint_with_unsupported_zip_features_is_a_data_error(tmp_path, flag, value):
    """An unknown compression method or the 'encrypted' bit: DataError, not a crash."""
    blob = bytearray(VALID_CKPT)
    with zipfile.ZipFile(io.BytesIO(VALID_CKPT)) as z:
        infos = z.infolist()
    cd = blob.find(b"PK\x01\x02")
    for info in infos:  # patch both the local header and the central directory entry
        lh = info.header_offset
        if flag == "method":
            blob[lh + 8:lh + 10] = struct.pack("<H", value)
            blob[cd + 10:cd + 12] = struct.pack("<H", value)
        else:
            blob[lh + 6:lh + 8] = struct.pack("<H", value)
            blob[cd + 8:cd + 10] = struct.pack("<H", value)
        n_name, n_extra, n_comment = struct.unpack("<HHH", blob[cd + 28:cd + 34])
        cd += 46 + n_name + n_extra + n_comment
    path = tmp_path / "model.npz"
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError) as exc:
        _load_and_predict(path)
    assert str(path) in str(exc.value)


def test_empty_and_missing_checkpoints_name_the_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(DataError) as exc:
        nn.load_model(path)
    assert str(path) in str(exc.value)
    with pytest.raises(DataError, match="not found"):
        nn.load_model(tmp_path / "missing.npz")
