"""Free Spoken Digit Dataset (FSDD): 3,000 WAV recordings of the digits 0-9, 8 kHz mono.

Files live under ``<data_dir>/fsdd/recordings/{digit}_{speaker}_{index}.wav`` (see
``DESIGN.md``, "Data"). Labels and speakers come from the file names. Two splits:

* ``"official"`` (the FSDD README): takes with index 0-4 are the test set, 5-49 train;
  both contain all six speakers.
* ``"speaker"``: every clip of ``test_speaker`` is the test set, the other speakers
  train, which measures generalisation to an unseen voice.

Clips are padded with zeros or trimmed to one length, and the true lengths are kept so
that features can ignore the padding (:class:`mmscratch.features.MFCC` takes them).

Chapter: chapters/03-1-feature-extraction.md (audio features) and
chapters/04-code-example.md (the spoken-digit model).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._safe_io import read_wav as _safe_read_wav
from ..errors import DataError, check_count
from ._paths import data_dir as _data_dir

__all__ = ["FSDD", "FSDDSplit", "SAMPLE_RATE", "SPEAKERS", "load_fsdd", "read_wav",
           "parse_name"]

#: FSDD's sampling rate in Hz.
SAMPLE_RATE = 8000
#: The six speakers of FSDD v1.0.10.
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


class FSDDSplit(NamedTuple):
    """One split: host (NumPy) arrays, one row per clip.

    waveforms : float32 (N, max_len), zero-padded or trimmed
    lengths : int64 (N,), samples kept from each clip (<= max_len)
    labels : int64 (N,), the spoken digit
    speakers : str array (N,)
    files : str array (N,), file names
    """

    waveforms: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    speakers: np.ndarray
    files: np.ndarray


class FSDD(NamedTuple):
    """``load_fsdd`` result: ``train`` and ``test`` :class:`FSDDSplit` and the sample rate."""

    train: FSDDSplit
    test: FSDDSplit
    sample_rate: int


def parse_name(name: str):
    """``"7_jackson_32.wav"`` -> ``(7, "jackson", 32)``; DataError for another pattern."""
    m = _NAME.match(Path(name).name)
    if not m:
        raise DataError(f"{name}: not an FSDD file name (expected {{digit}}_{{speaker}}_"
                        "{index}.wav)")
    return int(m.group(1)), m.group(2), int(m.group(3))


def read_wav(path, expected_rate=SAMPLE_RATE):
    """Read one mono WAV file (:func:`mmscratch._safe_io.read_wav`, scipy's values).

    The chunks are walked as RIFF defines them, so metadata chunks that recorders
    and taggers add (``fact``, ``PEAK``, ``bext``, ``id3 ``, ``LIST`` ...) are skipped.

    Returns
    -------
    samples : numpy array (n,) in the file's integer or float dtype, exactly
        ``scipy.io.wavfile.read(path)[1]``.

    Raises
    ------
    DataError
        Naming the file: missing, not a WAV, truncated or with inconsistent sizes,
        no fmt/data chunk, not mono, another sample rate, or without samples.
    """
    rate, data = _safe_read_wav(path)
    if data.ndim != 1:
        raise DataError(f"{path}: expected a mono WAV file, got {data.shape[1]} channels")
    if expected_rate is not None and rate != expected_rate:
        raise DataError(f"{path}: sample rate {rate} Hz, expected {expected_rate} Hz")
    if data.size == 0:
        raise DataError(f"{path}: WAV file has no samples")
    return data


def _to_float(data):
    if data.dtype.kind == "i":
        return data.astype(np.float32) / np.float32(-np.iinfo(data.dtype).min)
    if data.dtype.kind == "u":  # 8-bit WAV is unsigned with 128 as zero
        return (data.astype(np.float32) - 128.0) / 128.0
    return data.astype(np.float32)


def _normalize(x, how):
    if how is None:
        return x
    if how == "peak":
        scale = np.max(np.abs(x))
    elif how == "rms":
        scale = np.sqrt(np.mean(x.astype(np.float64) ** 2))
    else:
        raise ValueError(f"normalize must be 'peak', 'rms' or None, got {how!r}")
    # a floor so that a silent clip stays zeros instead of NaN
    return (x / max(float(scale), 1e-8)).astype(np.float32)


def load_fsdd(data_dir=None, split="official", test_speaker="yweweler", max_len=None,
              normalize="peak"):
    """Load FSDD into padded waveform arrays, with lengths, labels, speakers and names.

    Parameters
    ----------
    data_dir : path, optional
        Data folder (default ``$MMSCRATCH_DATA``, else ``~/.cache/mmscratch``); the
        recordings are in ``fsdd/recordings`` below it.
    split : "official" or "speaker"
        Index 0-4 as test (FSDD's split), or ``test_speaker`` held out.
    test_speaker : str
        The held-out speaker for ``split="speaker"``.
    max_len : int, optional
        Samples per clip after padding/trimming; default: the longest clip.
    normalize : "peak", "rms" or None
        Per clip, divide by the peak |x| or the RMS (after scaling int16 to [-1, 1));
        loudness differs a lot between FSDD speakers.

    Returns
    -------
    FSDD(train, test, sample_rate) with :class:`FSDDSplit` fields ``waveforms``
    (N, max_len) float32, ``lengths``, ``labels``, ``speakers``, ``files``, sorted by
    file name. Arrays are on the host; move them with ``backend.asarray``.

    Raises
    ------
    DataError
        The folder or a file is missing or bad (the message names it).

    Chapter: chapters/03-1-feature-extraction.md.
    """
    if split not in ("official", "speaker"):
        raise ValueError(f"split must be 'official' or 'speaker', got {split!r}")
    max_len = check_count(max_len, "max_len", where="load_fsdd", allow_none=True)
    folder = _data_dir(data_dir) / "fsdd" / "recordings"
    if not folder.is_dir():
        raise DataError(f"{folder}: FSDD recordings folder not found. Put the 3,000 WAV files "
                        "of the Free Spoken Digit Dataset (github.com/Jakobovski/free-spoken-"
                        "digit-dataset, folder recordings/) there, or set MMSCRATCH_DATA.")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav")
    if not paths:
        raise DataError(f"{folder}: no .wav files found")
    meta = [parse_name(p.name) for p in paths]
    clips = [_normalize(_to_float(read_wav(p)), normalize) for p in paths]
    lengths = np.array([c.shape[0] for c in clips], dtype=np.int64)
    L = int(lengths.max()) if max_len is None else max_len
    kept = np.minimum(lengths, L)
    waves = np.zeros((len(clips), L), dtype=np.float32)
    mask = np.arange(L)[None, :] < kept[:, None]
    waves[mask] = np.concatenate([c[:k] for c, k in zip(clips, kept)])
    labels = np.array([m[0] for m in meta], dtype=np.int64)
    speakers = np.array([m[1] for m in meta])
    index = np.array([m[2] for m in meta], dtype=np.int64)
    files = np.array([p.name for p in paths])
    if split == "official":
        is_test = index <= 4
    else:
        if test_speaker not in set(speakers.tolist()):
            raise ValueError(f"test_speaker {test_speaker!r} not found; speakers are "
                             f"{sorted(set(speakers.tolist()))}")
        is_test = speakers == test_speaker

    def part(sel):
        return FSDDSplit(waves[sel], kept[sel], labels[sel], speakers[sel], files[sel])

    return FSDD(part(~is_test), part(is_test), SAMPLE_RATE)
